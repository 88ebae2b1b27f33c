/* watchdog.c: one thread that closes the connections whose request comes in too slowly. */
#include "watchdog.h"

#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"

/* One connection, from libmicrohttpd's STARTED notification to its CLOSED one. The socket is
 * closed only after CLOSED returns: while an entry is in the list (under the lock), its fd
 * is that connection's. */
struct watchdog_conn {
	struct watchdog_conn *prev, *next;
	int fd;
	enum watchdog_phase phase;
	bool closing;        /* shut down already: libmicrohttpd closes it next */
	int64_t since_ms;    /* HEADERS: the first byte came; BODY: the headers were complete */
	uint64_t base_bytes; /* IDLE: bytes the socket had received when the phase began */
	uint64_t body_bytes; /* BODY: bytes of body so far */
};

static pthread_mutex_t watchdog_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watchdog_cond;
static struct watchdog_conn *watchdog_head;
static pthread_t watchdog_thread;
static bool watchdog_running, watchdog_stopping;
static int64_t watchdog_header_ms, watchdog_min_rate;

/* Bytes the kernel has received on the TCP socket fd since it opened, read ones or not. */
static bool
watchdog_received(int fd, uint64_t *out)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received))
		return false;
	*out = ti.tcpi_bytes_received;
	return true;
}

/* True when bytes that came on fd wait unread: the request waits for its HTTP thread (busy
 * with another connection's handler), not for its client. */
static bool
watchdog_unread(int fd)
{
	int n = 0;

	return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

/* Moves w to phase at now (under the lock). An idle connection notes what its socket has
 * received, so that the scan sees the first byte of the next request; where the kernel
 * cannot tell, the next request is timed from now. Bytes of a pipelined request that came
 * before the one in progress ended are in that count: if nothing follows them, such a
 * request is left to the idle timeout, like a connection that sends nothing. */
static void
watchdog_enter(struct watchdog_conn *w, enum watchdog_phase phase, int64_t now)
{
	w->phase = phase;
	w->since_ms = now;
	w->body_bytes = 0;
	if (phase == WATCHDOG_IDLE && !watchdog_received(w->fd, &w->base_bytes))
		w->phase = WATCHDOG_HEADERS;
}

void
watchdog_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                enum MHD_ConnectionNotificationCode code)
{
	struct watchdog_conn *w = *socket_context;

	(void)cls;
	pthread_mutex_lock(&watchdog_lock);
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		w = xcalloc(1, sizeof(*w));
		w->fd =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD)->connect_fd;
		/* Idle since no byte: what came with the connection is its first request's. */
		w->phase = WATCHDOG_IDLE;
		w->next = watchdog_head;
		if (watchdog_head != NULL)
			watchdog_head->prev = w;
		watchdog_head = w;
		*socket_context = w;
	} else if (w != NULL) {
		if (w->prev != NULL)
			w->prev->next = w->next;
		else
			watchdog_head = w->next;
		if (w->next != NULL)
			w->next->prev = w->prev;
		free(w);
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&watchdog_lock);
}

static struct watchdog_conn *
watchdog_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info != NULL ? info->socket_context : NULL;
}

void
watchdog_set(struct MHD_Connection *conn, enum watchdog_phase phase)
{
	struct watchdog_conn *w = watchdog_of(conn);

	if (w == NULL)
		return;
	pthread_mutex_lock(&watchdog_lock);
	watchdog_enter(w, phase, util_now_ms());
	pthread_mutex_unlock(&watchdog_lock);
}

void
watchdog_body(struct MHD_Connection *conn, size_t n)
{
	struct watchdog_conn *w = watchdog_of(conn);

	if (w == NULL)
		return;
	pthread_mutex_lock(&watchdog_lock);
	w->body_bytes += n;
	pthread_mutex_unlock(&watchdog_lock);
}

/* Why w must be closed at now, or NULL (under the lock). A body gets the header timeout as
 * grace, and one more second for every body_min_rate bytes it sent. A request is cut only
 * while the server has read everything that came: bytes waiting unread are the server's
 * delay (its thread is busy), not the client's. */
static const char *
watchdog_check(struct watchdog_conn *w, int64_t now)
{
	uint64_t bytes;

	switch (w->phase) {
	case WATCHDOG_IDLE:
		if (!watchdog_received(w->fd, &bytes) || bytes > w->base_bytes) {
			w->phase = WATCHDOG_HEADERS;
			w->since_ms = now;
		}
		return NULL;
	case WATCHDOG_HEADERS:
		return now - w->since_ms > watchdog_header_ms && !watchdog_unread(w->fd)
		           ? "header_timeout"
		           : NULL;
	case WATCHDOG_BODY:
		if (watchdog_min_rate == 0)
			return NULL;
		return now - w->since_ms >
		                   watchdog_header_ms + (int64_t)(w->body_bytes * 1000 /
		                                                  (uint64_t)watchdog_min_rate) &&
		               !watchdog_unread(w->fd)
		           ? "body_too_slow"
		           : NULL;
	case WATCHDOG_HANDLER:
		break;
	}
	return NULL;
}

/* Shuts down the socket of every connection that overstays (under the lock): libmicrohttpd
 * sees the end of its stream and closes the connection. */
static void
watchdog_scan(void)
{
	int64_t now = util_now_ms();

	for (struct watchdog_conn *w = watchdog_head; w != NULL; w = w->next) {
		const char *why = w->closing ? NULL : watchdog_check(w, now);
		if (why == NULL)
			continue;
		w->closing = true;
		if (shutdown(w->fd, SHUT_RDWR) < 0 && errno != ENOTCONN)
			log_warn("watchdog_shutdown_failed fd=%d error=%d", w->fd, errno);
		log_info("connection_closed reason=%s ms=%lld body_bytes=%llu", why,
		         (long long)(now - w->since_ms), (unsigned long long)w->body_bytes);
	}
}

static void *
watchdog_main(void *arg)
{
	struct timespec ts;

	(void)arg;
	pthread_mutex_lock(&watchdog_lock);
	while (!watchdog_stopping) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		(void)pthread_cond_timedwait(&watchdog_cond, &watchdog_lock, &ts);
		if (!watchdog_stopping)
			watchdog_scan();
	}
	pthread_mutex_unlock(&watchdog_lock);
	return NULL;
}

int
watchdog_start(int64_t header_timeout, int64_t body_min_rate)
{
	pthread_condattr_t attr;

	watchdog_header_ms = header_timeout * 1000;
	watchdog_min_rate = body_min_rate;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&watchdog_cond, &attr);
	pthread_condattr_destroy(&attr);
	watchdog_stopping = false;
	if (pthread_create(&watchdog_thread, NULL, watchdog_main, NULL) != 0) {
		pthread_cond_destroy(&watchdog_cond);
		return -1;
	}
	watchdog_running = true;
	return 0;
}

void
watchdog_stop(void)
{
	if (!watchdog_running)
		return;
	pthread_mutex_lock(&watchdog_lock);
	watchdog_stopping = true;
	pthread_cond_signal(&watchdog_cond);
	pthread_mutex_unlock(&watchdog_lock);
	pthread_join(watchdog_thread, NULL);
	pthread_cond_destroy(&watchdog_cond);
	watchdog_running = false;
}
