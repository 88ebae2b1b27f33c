/* consumer.c: settle-worker's loop. The main thread owns the AMQP connection: it takes
 * deliveries, hands them to SETTLE_WORKER_THREADS job threads (each with its own Postgres
 * connection) and, when a job is finished, acks it (after its COMMIT), re-publishes it
 * through the delay queue, or dead-letters it. A job thread takes the next job and, when
 * its kind is batchable (upload.complete), every other job of that kind waiting in the
 * prefetch window, and runs them as one batch (jobs_run_batch: one statement to load, one
 * to commit); a job with many bytes to read comes back from the batch and runs alone.
 * Housekeeping runs on a thread of its own (housekeeper.c), never on this one. Acks go out after
 * the COMMIT, one `multiple` ack for each run of consecutive delivery tags that are all committed,
 * single acks for the others. It survives restarts of Postgres and RabbitMQ by reconnecting with
 * backoff. */
#include "consumer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "jobs.h"
#include "kinds.h"
#include "log.h"
#include "mq.h"
#include "redeliver.h"
#include "window.h"

#define CONSUMER_HEARTBEAT_S 30
#define CONSUMER_POLL_MS     250
#define CONSUMER_BATCH_MAX   64

/* One delivery on its way through a job thread and back. */
struct item {
	struct mq_delivery d;
	uint64_t gen; /* the AMQP connection it came on: acks go only to that one */
	struct job j;
	const struct job_kind *kind; /* of j, once parsed */
	enum job_result res;
	bool parsed, gave_up, pg_broken;
	bool solo;             /* run alone: it came back from a batch with many bytes to read */
	struct jobs_next then; /* after JOB_RETRY / JOB_UNAVAILABLE: what follows (jobs_next) */
	char *err;
	struct item *next;
};

struct consumer {
	volatile int *stop;
	struct mq *mq;
	uint64_t gen;
	struct util_backoff mq_backoff;
	struct ack_window win; /* of the current connection */
	/* Between the main thread and the job threads. */
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct item *todo, *todo_tail, *done, *done_tail;
	int busy; /* items given to job threads and not yet taken back */
	bool quit;
	int wake[2]; /* job threads write a byte when an item is done */
	pthread_t *threads;
	int nthreads;
};

static const char *const consumer_outcomes[] = {"done", "duplicate", "retry", "invalid",
                                                "unavailable"};

/* Makes sure *pg is a live connection, waiting one backoff step when it cannot be made.
 * A connection the server closed (Postgres restarted) is noticed here, before a job is
 * given to it: PQconsumeInput reads the pending EOF without blocking. */
static bool
consumer_pg_ready(volatile int *stop, PGconn **pg, struct util_backoff *backoff)
{
	if (*pg != NULL && PQstatus(*pg) == CONNECTION_OK && PQconsumeInput(*pg) &&
	    PQstatus(*pg) == CONNECTION_OK)
		return true;
	if (*pg != NULL) {
		log_warn("db_reconnect reason=\"connection lost\"");
		PQfinish(*pg);
	}
	*pg = db_connect(cfg.database_url, 1);
	if (*pg == NULL) {
		util_backoff_sleep(backoff, stop);
		return false;
	}
	util_backoff_reset(backoff);
	return true;
}

static void
consumer_item_free(struct item *it)
{
	mq_delivery_free(&it->d);
	free(it->err);
	free(it);
}

/* Logs a finished item and decides what follows a failed run (jobs_next): after its last
 * attempt, gives it up (records the error on its resource); one that found storage
 * unavailable uses up no attempt, so that an outage of the store fails no upload. batch is
 * the number of jobs it ran with, ms the time they took. */
static void
consumer_finished(PGconn *pg, struct item *it, int batch, int64_t ms)
{
	log_set_id(it->j.id);
	if (it->err != NULL)
		log_info(
		    "job kind=%s resource=%s attempt=%d outcome=%s ms=%lld batch=%d error=\"%s\"",
		    it->j.kind, it->j.resource_id, it->j.attempt, consumer_outcomes[it->res],
		    (long long)ms, batch, it->err);
	else
		log_info("job kind=%s resource=%s attempt=%d outcome=%s ms=%lld batch=%d",
		         it->j.kind, it->j.resource_id, it->j.attempt, consumer_outcomes[it->res],
		         (long long)ms, batch);
	it->pg_broken = PQstatus(pg) != CONNECTION_OK;
	if (it->res == JOB_RETRY || it->res == JOB_UNAVAILABLE)
		it->then =
		    jobs_next(&it->j, it->res, cfg.max_attempts, cfg.retry_base_ms, util_now_ms());
	if (it->then.give_up && !it->pg_broken) {
		if (jobs_give_up(pg, &it->j, it->err ? it->err : "failed") == 0) {
			it->gave_up = true;
			log_warn("job_gave_up kind=%s resource=%s attempt=%d", it->j.kind,
			         it->j.resource_id, it->j.attempt);
		} else {
			it->pg_broken = true; /* try again later, from the queue */
		}
	}
	log_set_id(NULL);
}

/* Fault injection (SETTLE_FAULT_RATE, tests only), in the production path: dies after a
 * COMMIT and before its ack, so that the redelivered jobs must be recognised. The log line
 * names the first committed job (id) and how many committed with it. */
static void
consumer_maybe_crash(const char *id, int committed)
{
	if (committed > 0 && cfg.fault_rate > 0 && util_random() < cfg.fault_rate / 4) {
		log_set_id(id);
		log_warn("injected_crash after=commit before=ack jobs=%d", committed);
		_exit(137);
	}
}

/* Runs one item alone in a job thread. */
static void
consumer_work(PGconn *pg, struct item *it)
{
	int64_t t0 = util_now_ms();

	log_set_id(it->j.id);
	it->res = jobs_run(pg, &it->j, &it->err);
	log_set_id(NULL);
	consumer_maybe_crash(it->j.id, it->res == JOB_DONE);
	consumer_finished(pg, it, 1, util_now_ms() - t0);
}

/* Runs items (jobs of one batchable kind) as one batch. The ones that come back deferred are
 * marked solo and left in *deferred (a list) for the caller to queue again. */
static void
consumer_work_batch(PGconn *pg, struct item **items, int n, struct item **deferred)
{
	struct jobs_item *ji = xcalloc((size_t)n, sizeof(*ji));
	int64_t t0 = util_now_ms(), ms;
	const char *first = NULL;
	int committed = 0;

	for (int i = 0; i < n; i++)
		ji[i].j = &items[i]->j;
	jobs_run_batch(pg, items[0]->kind, ji, n);
	ms = util_now_ms() - t0;
	for (int i = 0; i < n; i++)
		if (ji[i].res == JOB_DONE && !ji[i].deferred && committed++ == 0)
			first = ji[i].j->id;
	consumer_maybe_crash(first, committed);
	for (int i = 0; i < n; i++) {
		struct item *it = items[i];

		it->err = ji[i].err;
		if (ji[i].deferred) {
			it->solo = true;
			it->next = *deferred;
			*deferred = it;
			items[i] = NULL;
			continue;
		}
		it->res = ji[i].res;
		consumer_finished(pg, it, n, ms);
	}
	free(ji);
}

/* True if it may join a batch. */
static bool
consumer_batchable(const struct item *it)
{
	return it->parsed && !it->solo && kind_batchable(it->kind);
}

/* Takes the next work off todo (lock held): the head item and, when it may batch, every
 * other batchable item of its kind queued, up to CONSUMER_BATCH_MAX. Returns how many
 * (>= 1). */
static int
consumer_take(struct consumer *k, struct item **out)
{
	struct item **pp = &k->todo, *last = NULL;
	int n = 0;

	while (*pp != NULL && n < CONSUMER_BATCH_MAX) {
		struct item *it = *pp;
		if (n == 0 || (consumer_batchable(out[0]) && consumer_batchable(it) &&
		               it->kind == out[0]->kind)) {
			*pp = it->next;
			it->next = NULL;
			out[n++] = it;
			if (n == 1 && !consumer_batchable(it))
				break;
		} else {
			last = it;
			pp = &it->next;
		}
	}
	while (*pp != NULL) { /* find the tail again */
		last = *pp;
		pp = &last->next;
	}
	k->todo_tail = last;
	return n;
}

/* Hands finished items back to the main thread and puts deferred ones at the head of todo
 * (lock held). */
static void
consumer_give_back(struct consumer *k, struct item **items, int n, struct item *deferred)
{
	for (int i = 0; i < n; i++) {
		if (items[i] == NULL)
			continue;
		if (k->done_tail != NULL)
			k->done_tail->next = items[i];
		else
			k->done = items[i];
		k->done_tail = items[i];
	}
	while (deferred != NULL) {
		struct item *it = deferred;
		deferred = it->next;
		it->next = k->todo;
		k->todo = it;
		if (k->todo_tail == NULL)
			k->todo_tail = it;
		pthread_cond_signal(&k->cv);
	}
	if (write(k->wake[1], "x", 1) < 0 && errno != EAGAIN)
		log_warn("consumer_wake_failed");
}

/* Runs what a job thread took: one job, or a batch. */
static void
consumer_run_items(PGconn *pg, struct item **items, int n, struct item **deferred)
{
	if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
		for (int i = 0; i < n; i++) {
			items[i]->res = JOB_RETRY;
			items[i]->pg_broken = true;
		}
	} else if (!items[0]->parsed) {
		items[0]->res = JOB_INVALID;
	} else if (consumer_batchable(items[0])) {
		consumer_work_batch(pg, items, n, deferred);
	} else {
		consumer_work(pg, items[0]);
	}
}

/* A job thread: takes work, runs it on its own Postgres connection, hands it back. */
static void *
consumer_thread(void *arg)
{
	struct consumer *k = arg;
	PGconn *pg = NULL;
	struct util_backoff backoff = UTIL_BACKOFF_INIT;
	struct item *items[CONSUMER_BATCH_MAX], *deferred;
	int n;

	pthread_mutex_lock(&k->lock);
	for (;;) {
		while (k->todo == NULL && !k->quit)
			pthread_cond_wait(&k->cv, &k->lock);
		if (k->quit)
			break;
		n = consumer_take(k, items);
		pthread_mutex_unlock(&k->lock);

		deferred = NULL;
		while (!consumer_pg_ready(NULL, &pg, &backoff) && !*k->stop)
			;
		consumer_run_items(pg, items, n, &deferred);

		pthread_mutex_lock(&k->lock);
		consumer_give_back(k, items, n, deferred);
	}
	pthread_mutex_unlock(&k->lock);
	if (pg != NULL)
		PQfinish(pg);
	return NULL;
}

/* Connects to RabbitMQ, declares the topology and consumes every queue not excluded.
 * 0, or -1 with *err (caller frees). */
static int
consumer_mq_open(struct consumer *k, char **err)
{
	int queues = 0;

	k->mq = mq_connect(cfg.amqp_url, CONSUMER_HEARTBEAT_S, err);
	if (k->mq == NULL || mq_declare_topology(k->mq, kinds_names(), err) < 0)
		return -1;
	for (int i = 0; i < kinds_count; i++) {
		if (config_kind_excluded(kinds_all[i]->name))
			continue;
		char *queue = mq_kind_queue(kinds_all[i]->name);
		int rc = mq_consume(k->mq, queue, (int)cfg.worker_prefetch, err);
		free(queue);
		if (rc < 0)
			return -1;
		queues++;
	}
	k->gen++;
	log_info("mq_connected queues=%d prefetch=%lld threads=%d", queues,
	         (long long)cfg.worker_prefetch, k->nthreads);
	return 0;
}

/* Makes sure k->mq is connected and consuming; on failure waits a backoff step. */
static bool
consumer_mq_ready(struct consumer *k)
{
	char *err = NULL;

	if (k->mq != NULL)
		return true;
	if (consumer_mq_open(k, &err) == 0) {
		util_backoff_reset(&k->mq_backoff);
		return true;
	}
	log_warn("mq_connect_failed error=\"%s\"", err != NULL ? err : "unknown");
	free(err);
	mq_close(k->mq);
	k->mq = NULL;
	util_backoff_sleep(&k->mq_backoff, k->stop);
	return false;
}

/* Drops the AMQP connection after an error; unacked deliveries go back to their queues,
 * and items not started yet are dropped with it. */
static void
consumer_mq_drop(struct consumer *k, const char *why)
{
	struct item *it;

	log_warn("mq_connection_lost error=\"%s\"", why != NULL ? why : "unknown");
	mq_close(k->mq);
	k->mq = NULL;
	k->win.n = 0;
	pthread_mutex_lock(&k->lock);
	while ((it = k->todo) != NULL) {
		k->todo = it->next;
		k->busy--;
		consumer_item_free(it);
	}
	k->todo_tail = NULL;
	pthread_mutex_unlock(&k->lock);
}

/* Settles a finished item on the connection it came from: marked for the ack after COMMIT
 * (window_ack sends it); requeue when the database went away (not an attempt);
 * retry later; dead-letter. 0, -1 on AMQP error. */
static int
consumer_settle(struct consumer *k, struct item *it)
{
	int at = it->gen == k->gen && k->mq != NULL ? window_find(&k->win, it->d.tag) : -1;
	int rc;

	if (at < 0)
		return 0; /* its connection is gone: the broker has requeued it already */
	if (it->res == JOB_DONE || it->res == JOB_DUPLICATE) {
		k->win.ready[at] = true;
		return 0;
	}
	window_cut(&k->win, at, 1);
	log_set_id(it->parsed ? it->j.id : it->d.message_id);
	if (it->res == JOB_INVALID) {
		rc = redeliver_dead(k->mq, &it->d, it->err);
	} else if (it->pg_broken) {
		log_warn("job_requeued reason=\"database connection lost\"");
		rc = mq_reject(k->mq, it->d.tag, true);
	} else if (it->gave_up) {
		rc = redeliver_dead(k->mq, &it->d, it->err);
	} else {
		rc = redeliver_retry(k->mq, &it->d, &it->j, &it->then);
	}
	log_set_id(NULL);
	return rc;
}

/* Takes back every finished item and settles it. */
static void
consumer_collect(struct consumer *k)
{
	struct item *list, *it;
	char buf[64];

	while (read(k->wake[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&k->lock);
	list = k->done;
	k->done = k->done_tail = NULL;
	pthread_mutex_unlock(&k->lock);
	while ((it = list) != NULL) {
		list = it->next;
		if (consumer_settle(k, it) < 0 && k->mq != NULL)
			consumer_mq_drop(k, "ack, reject or publish failed");
		pthread_mutex_lock(&k->lock);
		k->busy--;
		pthread_mutex_unlock(&k->lock);
		consumer_item_free(it);
	}
	if (k->mq != NULL && window_ack(&k->win, k->mq) < 0)
		consumer_mq_drop(k, "ack failed");
}

/* Parses a delivery and hands it to the job threads. Takes d. */
static void
consumer_give(struct consumer *k, struct mq_delivery *d)
{
	struct item *it = xcalloc(1, sizeof(*it));

	it->d = *d;
	it->gen = k->gen;
	it->kind = kinds_parse(it->d.body, it->d.len, &it->j, &it->err);
	it->parsed = it->kind != NULL;
	window_add(&k->win, it->d.tag);
	pthread_mutex_lock(&k->lock);
	if (k->todo_tail != NULL)
		k->todo_tail->next = it;
	else
		k->todo = it;
	k->todo_tail = it;
	k->busy++;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->lock);
}

/* Takes what RabbitMQ has sent (without blocking), then waits for more input or for a job
 * thread to finish something. */
static void
consumer_step(struct consumer *k)
{
	struct mq_delivery d;
	char *err = NULL;
	int rc;

	while (!*k->stop && (rc = mq_next(k->mq, 0, &d, &err)) == 1)
		consumer_give(k, &d);
	if (!*k->stop && rc < 0) {
		consumer_mq_drop(k, err);
		goto out;
	}
	if (*k->stop && mq_keepalive(k->mq, &err) < 0) {
		consumer_mq_drop(k, err);
		goto out;
	}
	if (!mq_has_input(k->mq)) {
		struct pollfd fds[2] = {{mq_fd(k->mq), POLLIN, 0}, {k->wake[0], POLLIN, 0}};
		poll(fds, 2, CONSUMER_POLL_MS);
	}
	consumer_collect(k);
out:
	free(err);
}

/* Runs the job threads with signals blocked: the main thread handles them. */
static int
consumer_start_threads(struct consumer *k)
{
	sigset_t all, old;

	if (pipe2(k->wake, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cv, NULL);
	k->nthreads = (int)cfg.worker_threads;
	k->threads = xcalloc((size_t)k->nthreads, sizeof(pthread_t));
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (int i = 0; i < k->nthreads; i++)
		if (pthread_create(&k->threads[i], NULL, consumer_thread, k) != 0)
			abort();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

/* Lets the jobs in flight finish and settles them, then ends the threads. */
static void
consumer_finish(struct consumer *k)
{
	struct item *it;
	int busy;

	pthread_mutex_lock(&k->lock);
	while ((it = k->todo) != NULL) { /* not started: they return to the queue */
		k->todo = it->next;
		k->busy--;
		consumer_item_free(it);
	}
	k->todo_tail = NULL;
	pthread_mutex_unlock(&k->lock);
	do {
		consumer_collect(k);
		pthread_mutex_lock(&k->lock);
		busy = k->busy;
		pthread_mutex_unlock(&k->lock);
		if (busy > 0) {
			struct pollfd fd = {k->wake[0], POLLIN, 0};
			poll(&fd, 1, CONSUMER_POLL_MS);
			if (k->mq != NULL) {
				char *err = NULL;
				if (mq_keepalive(k->mq, &err) < 0)
					consumer_mq_drop(k, err);
				free(err);
			}
		}
	} while (busy > 0);
	pthread_mutex_lock(&k->lock);
	k->quit = true;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->lock);
	for (int i = 0; i < k->nthreads; i++)
		pthread_join(k->threads[i], NULL);
	free(k->threads);
	close(k->wake[0]);
	close(k->wake[1]);
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->lock);
}

/* The worker loop (see consumer.h). */
int
consumer_run(volatile int *stop)
{
	struct consumer k = {
	    .stop = stop,
	    .mq_backoff = UTIL_BACKOFF_INIT,
	};
	int kinds = 0;

	for (int i = 0; i < kinds_count; i++)
		kinds += config_kind_excluded(kinds_all[i]->name) ? 0 : 1;
	if (kinds == 0) {
		log_error("no_job_kinds reason=\"SETTLE_WORKERS_EXCEPT excludes every kind\"");
		return -1;
	}
	if (consumer_start_threads(&k) < 0)
		return -1;
	while (!*stop) {
		if (!consumer_mq_ready(&k))
			continue;
		consumer_step(&k);
	}
	log_info("stopping reason=signal");
	consumer_finish(&k);
	mq_close(k.mq);
	window_free(&k.win);
	return 0;
}
