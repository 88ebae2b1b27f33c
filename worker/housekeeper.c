/* housekeeper.c: settle-worker's housekeeping thread (see housekeeper.h). */
#include "housekeeper.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "housekeep.h"
#include "log.h"

struct housekeeper {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool stop; /* asked to stop */
	bool done; /* the thread has left its loop */
};

/* One round on *pg, (re)connecting it first: housekeep_reconcile, then housekeep_round. */
static void
housekeeper_round(PGconn **pg)
{
	int n = 0;

	if (*pg != NULL && PQstatus(*pg) != CONNECTION_OK) {
		log_warn("db_reconnect reason=\"connection lost\"");
		PQfinish(*pg);
		*pg = NULL;
	}
	if (*pg == NULL && (*pg = db_connect(cfg.database_url, 1)) == NULL) {
		log_warn("housekeeping_failed reason=\"no database\"");
		return;
	}
	if (housekeep_reconcile(*pg, cfg.reconcile_after, &n) < 0)
		log_warn("reconcile_failed");
	else if (n > 0)
		log_info("reconcile enqueued=%d", n);
	if (housekeep_round(*pg) < 0)
		log_warn("housekeeping_failed");
}

/* The absolute CLOCK_REALTIME time ms from now, for pthread_cond_timedwait. */
static struct timespec
housekeeper_deadline(int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* The thread: a round, then a wait of the interval (cut short by housekeeper_stop). */
static void *
housekeeper_thread(void *arg)
{
	struct housekeeper *h = arg;
	PGconn *pg = NULL;

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		pthread_mutex_unlock(&h->lock);
		housekeeper_round(&pg);
		pthread_mutex_lock(&h->lock);
		struct timespec until = housekeeper_deadline(cfg.housekeeping_interval * 1000);
		while (!h->stop && pthread_cond_timedwait(&h->cv, &h->lock, &until) == 0)
			;
	}
	h->done = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->lock);
	if (pg != NULL)
		PQfinish(pg);
	return NULL;
}

struct housekeeper *
housekeeper_start(void)
{
	struct housekeeper *h = xcalloc(1, sizeof(*h));
	sigset_t all, old;

	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cv, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&h->thread, NULL, housekeeper_thread, h) != 0)
		abort();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return h;
}

void
housekeeper_stop(struct housekeeper *h)
{
	struct timespec until = housekeeper_deadline(HOUSEKEEPER_STOP_MS);
	bool done;

	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_broadcast(&h->cv);
	while (!h->done && pthread_cond_timedwait(&h->cv, &h->lock, &until) == 0)
		;
	done = h->done;
	pthread_mutex_unlock(&h->lock);
	if (!done) {
		log_warn("housekeeping_left reason=\"a round still waits on storage\"");
		pthread_detach(h->thread);
		return; /* the thread still uses h: the process's exit ends both */
	}
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
