/* consumer.c: settle-worker's loop. The main thread owns the AMQP connection: it takes
 * deliveries, hands them to SETTLE_WORKER_THREADS job threads (each with its own Postgres
 * connection, running each job in one transaction with jobs_run) and, when a job is
 * finished, acks it (after its COMMIT), re-publishes it through the delay queue, or
 * dead-letters it. It survives restarts of Postgres and RabbitMQ by reconnecting with
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
#include "job.h"
#include "jobs.h"
#include "log.h"
#include "mq.h"

#define CONSUMER_HEARTBEAT_S        30
#define CONSUMER_POLL_MS            250
#define CONSUMER_BACKOFF_MIN_MS     100
#define CONSUMER_BACKOFF_MAX_MS     5000
#define CONSUMER_RECONCILE_EVERY_MS 60000

/* One delivery on its way through a job thread and back. */
struct item {
	struct mq_delivery d;
	uint64_t gen; /* the AMQP connection it came on: acks go only to that one */
	struct job j;
	enum job_result res;
	bool parsed, gave_up, pg_broken;
	char *err;
	struct item *next;
};

struct consumer {
	volatile int *stop;
	struct mq *mq;
	uint64_t gen;
	PGconn *pg; /* the main thread's, for reconcile */
	int64_t mq_backoff_ms;
	int64_t next_reconcile_ms;
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

static const char *const consumer_outcomes[] = {"done", "duplicate", "retry", "invalid"};

/* Sleeps *backoff_ms (interruptible by stop) and doubles it up to the cap. */
static void
consumer_backoff(volatile int *stop, int64_t *backoff_ms)
{
	util_sleep_ms(*backoff_ms, stop);
	*backoff_ms *= 2;
	if (*backoff_ms > CONSUMER_BACKOFF_MAX_MS)
		*backoff_ms = CONSUMER_BACKOFF_MAX_MS;
}

/* Makes sure *pg is a live connection, waiting one backoff step when it cannot be made. */
static bool
consumer_pg_ready(volatile int *stop, PGconn **pg, int64_t *backoff_ms)
{
	if (*pg != NULL && PQstatus(*pg) == CONNECTION_OK)
		return true;
	if (*pg != NULL) {
		log_warn("db_reconnect reason=\"connection lost\"");
		PQfinish(*pg);
	}
	*pg = db_connect(cfg.database_url, 1);
	if (*pg == NULL) {
		consumer_backoff(stop, backoff_ms);
		return false;
	}
	*backoff_ms = CONSUMER_BACKOFF_MIN_MS;
	return true;
}

static void
consumer_item_free(struct item *it)
{
	mq_delivery_free(&it->d);
	free(it->err);
	free(it);
}

/* Runs one item in a job thread: parse, run, and give up after the last attempt. */
static void
consumer_work(PGconn *pg, struct item *it)
{
	log_set_id(it->d.message_id);
	if (job_parse(it->d.body, it->d.len, &it->j, &it->err) < 0) {
		it->res = JOB_INVALID;
		goto out;
	}
	it->parsed = true;
	log_set_id(it->j.id);
	int64_t t0 = util_now_ms();
	it->res = jobs_run(pg, &it->j, &it->err);
	log_info("job kind=%s resource=%s attempt=%d outcome=%s ms=%lld%s%s%s", it->j.kind,
	         it->j.resource_id, it->j.attempt, consumer_outcomes[it->res],
	         (long long)(util_now_ms() - t0), it->err ? " error=\"" : "",
	         it->err ? it->err : "", it->err ? "\"" : "");
	if (it->res == JOB_DONE && cfg.fault_rate > 0 && util_random() < cfg.fault_rate / 4) {
		log_warn("injected_crash after=commit before=ack");
		_exit(137);
	}
	it->pg_broken = PQstatus(pg) != CONNECTION_OK;
	if (it->res == JOB_RETRY && !it->pg_broken && it->j.attempt >= cfg.max_attempts) {
		if (jobs_give_up(pg, &it->j, it->err ? it->err : "failed") == 0) {
			it->gave_up = true;
			log_warn("job_gave_up kind=%s resource=%s attempt=%d", it->j.kind,
			         it->j.resource_id, it->j.attempt);
		} else {
			it->pg_broken = true; /* try again later, from the queue */
		}
	}
out:
	log_set_id(NULL);
}

/* A job thread: takes items, runs them on its own Postgres connection, hands them back. */
static void *
consumer_thread(void *arg)
{
	struct consumer *k = arg;
	PGconn *pg = NULL;
	int64_t backoff = CONSUMER_BACKOFF_MIN_MS;
	struct item *it;

	pthread_mutex_lock(&k->lock);
	for (;;) {
		while (k->todo == NULL && !k->quit)
			pthread_cond_wait(&k->cv, &k->lock);
		if (k->quit)
			break;
		it = k->todo;
		k->todo = it->next;
		if (k->todo == NULL)
			k->todo_tail = NULL;
		pthread_mutex_unlock(&k->lock);

		it->next = NULL;
		while (!consumer_pg_ready(NULL, &pg, &backoff) && !*k->stop)
			;
		if (pg != NULL && PQstatus(pg) == CONNECTION_OK) {
			consumer_work(pg, it);
		} else {
			it->res = JOB_RETRY;
			it->pg_broken = true;
		}

		pthread_mutex_lock(&k->lock);
		if (k->done_tail != NULL)
			k->done_tail->next = it;
		else
			k->done = it;
		k->done_tail = it;
		if (write(k->wake[1], "x", 1) < 0 && errno != EAGAIN)
			log_warn("consumer_wake_failed");
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
	if (k->mq == NULL || mq_declare_topology(k->mq, err) < 0)
		return -1;
	for (int i = 0; i < mq_kind_count; i++) {
		if (config_kind_excluded(mq_kinds[i]))
			continue;
		char *queue = xasprintf("settle.%s", mq_kinds[i]);
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
		k->mq_backoff_ms = CONSUMER_BACKOFF_MIN_MS;
		return true;
	}
	log_warn("mq_connect_failed error=\"%s\" retry_ms=%lld", err != NULL ? err : "unknown",
	         (long long)k->mq_backoff_ms);
	free(err);
	mq_close(k->mq);
	k->mq = NULL;
	consumer_backoff(k->stop, &k->mq_backoff_ms);
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
	pthread_mutex_lock(&k->lock);
	while ((it = k->todo) != NULL) {
		k->todo = it->next;
		k->busy--;
		consumer_item_free(it);
	}
	k->todo_tail = NULL;
	pthread_mutex_unlock(&k->lock);
}

/* Runs jobs_reconcile at start and then every minute, on the main thread's connection. */
static void
consumer_reconcile(struct consumer *k)
{
	int64_t backoff = CONSUMER_BACKOFF_MIN_MS;
	int n = 0;

	if (util_now_ms() < k->next_reconcile_ms)
		return;
	k->next_reconcile_ms = util_now_ms() + CONSUMER_RECONCILE_EVERY_MS;
	if (!consumer_pg_ready(NULL, &k->pg, &backoff) ||
	    jobs_reconcile(k->pg, cfg.reconcile_after, &n) < 0 || jobs_housekeep(k->pg) < 0)
		log_warn("reconcile_failed");
	else if (n > 0)
		log_info("reconcile enqueued=%d", n);
}

/* Publishes the delivery to settle.dead (confirmed), then acks it. 0, -1 on AMQP error. */
static int
consumer_dead_ack(struct consumer *k, const struct mq_delivery *d, const char *reason)
{
	char *err = NULL;
	int rc = -1;
	const char *key =
	    d->routing_key != NULL && d->routing_key[0] != '\0' ? d->routing_key : "unknown";

	if (mq_publish(k->mq, MQ_DEAD_EXCHANGE, key, d->message_id != NULL ? d->message_id : "",
	               d->body, d->len, 0, &err) < 0)
		goto out;
	log_warn("dead_lettered routing_key=%s reason=\"%s\"", key, reason != NULL ? reason : "");
	if (mq_ack(k->mq, d->tag, false) < 0)
		goto out;
	rc = 0;
out:
	if (err != NULL)
		log_warn("mq_publish_failed exchange=%s error=\"%s\"", MQ_DEAD_EXCHANGE, err);
	free(err);
	return rc;
}

/* Publishes j with attempt+1 to its delay queue (expiration = backoff) and, once confirmed,
 * acks the delivery. The message id stays the same. 0, -1 on AMQP error. */
static int
consumer_retry_ack(struct consumer *k, const struct mq_delivery *d, const struct job *j)
{
	struct job next = *j;
	char *err = NULL, *body, *queue;
	int64_t delay;
	int rc = -1;

	next.attempt = j->attempt + 1;
	body = job_serialize(&next);
	delay = jobs_backoff_ms(next.attempt);
	queue = mq_retry_queue(j->kind, next.attempt);
	if (mq_publish(k->mq, "", queue, j->id, body, strlen(body), delay, &err) < 0) {
		log_warn("mq_publish_failed queue=%s error=\"%s\"", queue,
		         err != NULL ? err : "unknown");
		goto out;
	}
	log_info("job_retry_scheduled kind=%s resource=%s attempt=%d delay_ms=%lld", j->kind,
	         j->resource_id, next.attempt, (long long)delay);
	if (mq_ack(k->mq, d->tag, false) < 0)
		goto out;
	rc = 0;
out:
	free(err);
	free(queue);
	free(body);
	return rc;
}

/* Settles a finished item on the connection it came from: ack after COMMIT; requeue when
 * the database went away (not an attempt); retry later; dead-letter. 0, -1 on AMQP error. */
static int
consumer_settle(struct consumer *k, struct item *it)
{
	if (it->gen != k->gen || k->mq == NULL)
		return 0; /* its connection is gone: the broker has requeued it already */
	log_set_id(it->parsed ? it->j.id : it->d.message_id);
	int rc;
	if (it->res == JOB_DONE || it->res == JOB_DUPLICATE) {
		rc = mq_ack(k->mq, it->d.tag, false);
	} else if (it->res == JOB_INVALID) {
		rc = consumer_dead_ack(k, &it->d, it->err);
	} else if (it->pg_broken) {
		log_warn("job_requeued reason=\"database connection lost\"");
		rc = mq_reject(k->mq, it->d.tag, true);
	} else if (it->gave_up) {
		rc = consumer_dead_ack(k, &it->d, it->err);
	} else {
		rc = consumer_retry_ack(k, &it->d, &it->j);
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
}

/* Hands a delivery to the job threads. Takes d. */
static void
consumer_give(struct consumer *k, struct mq_delivery *d)
{
	struct item *it = xcalloc(1, sizeof(*it));

	it->d = *d;
	it->gen = k->gen;
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
	    .mq_backoff_ms = CONSUMER_BACKOFF_MIN_MS,
	};
	int kinds = 0;

	for (int i = 0; i < mq_kind_count; i++)
		kinds += config_kind_excluded(mq_kinds[i]) ? 0 : 1;
	if (kinds == 0) {
		log_error("no_job_kinds reason=\"SETTLE_WORKERS_EXCEPT excludes every kind\"");
		return -1;
	}
	if (consumer_start_threads(&k) < 0)
		return -1;
	while (!*stop) {
		if (!consumer_mq_ready(&k))
			continue;
		consumer_reconcile(&k);
		consumer_step(&k);
	}
	log_info("stopping reason=signal");
	consumer_finish(&k);
	mq_close(k.mq);
	if (k.pg != NULL)
		PQfinish(k.pg);
	return 0;
}
