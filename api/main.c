/* main.c: settle-api: the HTTP server, and the outbox relay thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "inline.h"
#include "kinds.h"
#include "lifecycle.h"
#include "log.h"
#include "relay.h"
#include "replica.h"
#include "router.h"
#include "sign.h"
#include "storage.h"
#include "suspend.h"
#include "wait.h"
#include "watchdog.h"

static volatile sig_atomic_t stop_signals;

static void
main_on_signal(int sig)
{
	(void)sig;
	if (++stop_signals > 1)
		_exit(1); /* a second SIGTERM: exit at once */
}

static void
main_block(int how)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(how, &set, NULL);
}

static void
main_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = main_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Threads started from here on inherit a mask without them: only main gets them. */
	main_block(SIG_BLOCK);
}

/* libmicrohttpd's error messages go through log_write, which escapes what they quote of a
 * request (its URL among them). */
static void __attribute__((format(printf, 2, 0)))
main_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_warn("libmicrohttpd message=\"%s\"", msg);
}

static struct MHD_Daemon *
main_start_http(void)
{
	struct sockaddr_in addr;

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)cfg.listen_port);
	if (inet_pton(AF_INET, cfg.listen_host, &addr.sin_addr) != 1) {
		log_error("listen_bad_host host=%s", cfg.listen_host);
		return NULL;
	}
	return MHD_start_daemon(
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME |
	        MHD_USE_ERROR_LOG,
	    (uint16_t)cfg.listen_port, NULL, NULL, lifecycle_access, NULL, MHD_OPTION_SOCK_ADDR,
	    &addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg.threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg.connection_timeout,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg.max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg.max_connections_per_ip,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
	    /* The default 32 KiB of connection memory: libmicrohttpd clears it for every
	     * request, so more costs the read path more than it saves storage bodies. */
	    MHD_OPTION_NOTIFY_COMPLETED, lifecycle_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
	    watchdog_notify, NULL, MHD_OPTION_EXTERNAL_LOGGER, main_mhd_log, NULL,
	    MHD_OPTION_URI_LOG_CALLBACK, router_uri, NULL, MHD_OPTION_END);
}

/* Raises the soft limit on open files to what SETTLE_MAX_CONNECTIONS needs: a socket and a
 * storage file for each connection, and some for threads, Postgres and the logs. Returns 0,
 * or -1 with a message when the hard limit is lower. */
static int
main_raise_nofile(void)
{
	rlim_t need = (rlim_t)cfg.max_connections * 2 + (rlim_t)cfg.threads * 4 + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		fprintf(stderr, "settle-api: getrlimit: %s\n", strerror(errno));
		return -1;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		fprintf(
		    stderr,
		    "settle-api: configuration error: SETTLE_MAX_CONNECTIONS=%lld needs %llu open "
		    "files, but the hard limit (ulimit -Hn) is %llu: raise it (LimitNOFILE= in "
		    "systemd, ulimits in compose) or lower SETTLE_MAX_CONNECTIONS\n",
		    (long long)cfg.max_connections, (unsigned long long)need,
		    (unsigned long long)rl.rlim_max);
		return -1;
	}
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		fprintf(stderr, "settle-api: setrlimit(RLIMIT_NOFILE, %llu): %s\n",
		        (unsigned long long)need, strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	struct relay *relay = NULL;
	const char *bad;
	int rc;

	config_init(argc, argv, "settle-api");
	if (strlen(cfg.secret) < 16) {
		fprintf(stderr, "settle-api: configuration error: SETTLE_SECRET must be set to at "
		                "least 16 characters\n");
		return 2;
	}
	if (router_check(&bad) < 0) {
		fprintf(stderr, "settle-api: route %s has a parameter without a type\n", bad);
		return 2;
	}
	if (main_raise_nofile() < 0)
		return 2;
	main_signals();
	sign_set_key(cfg.secret);
	if ((rc = storage_start("settle-api")) != 0)
		return rc;
	if (replica_start() < 0)
		return 2;
	if (db_units_start(cfg.database_url) < 0)
		return 2;
	if (replica_count() > 0)
		db_want_commit_lsn(); /* the SESSION cookie of a write carries its COMMIT's */
	d = main_start_http();
	if (d == NULL) {
		log_error("listen_failed listen=%s error=\"%s\"", cfg.listen, strerror(errno));
		return 1;
	}
	if (watchdog_start(cfg.header_timeout, cfg.body_min_rate) < 0)
		log_error("watchdog_start_failed");
	if (wait_start(cfg.database_url) < 0)
		log_error("wait_start_failed");
	if (cfg.relay || cfg.inline_mode) {
		struct relay_sink sink =
		    cfg.inline_mode ? inline_sink() : relay_mq_sink(cfg.amqp_url, kinds_names());
		relay = relay_start(cfg.database_url, sink, 1000);
		if (relay == NULL)
			log_error("relay_start_failed");
	}
	log_info("listening url=%s/api/v1 queue=%s threads=%lld relay=%s", cfg.public_url,
	         cfg.queue, (long long)cfg.threads, relay ? "on" : "off");
	sigset_t none;
	sigemptyset(&none);
	while (stop_signals == 0)
		sigsuspend(&none);
	main_block(SIG_UNBLOCK); /* a second signal now exits at once */
	log_info("stopping");
	MHD_quiesce_daemon(d);
	suspend_stop(); /* suspended requests answer now: libmicrohttpd cannot stop with them */
	wait_stop();
	replica_stop();
	MHD_stop_daemon(d);
	watchdog_stop();
	relay_stop(relay);
	log_info("stopped");
	return 0;
}
