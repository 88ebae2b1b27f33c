/* consumer.c: settle-worker's loop. Consumes the job queues with manual acks, runs each job
 * in one transaction (jobs_run) and acks only after COMMIT; re-publishes transient failures
 * through the delay queue, dead-letters the rest, and survives restarts of Postgres and
 * RabbitMQ by reconnecting with backoff. */
#include "consumer.h"

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
#define CONSUMER_POLL_MS            500
#define CONSUMER_BACKOFF_MIN_MS     100
#define CONSUMER_BACKOFF_MAX_MS     5000
#define CONSUMER_RECONCILE_EVERY_MS 60000

struct consumer {
	volatile int *stop;
	struct mq *mq;
	PGconn *pg;
	int64_t mq_backoff_ms;
	int64_t pg_backoff_ms;
	int64_t next_reconcile_ms;
};

static const char *const consumer_outcomes[] = {"done", "duplicate", "retry", "invalid"};

/* Sleeps *backoff_ms (interruptible by stop) and doubles it up to the cap. */
static void
consumer_backoff(struct consumer *k, int64_t *backoff_ms)
{
	util_sleep_ms(*backoff_ms, k->stop);
	*backoff_ms *= 2;
	if (*backoff_ms > CONSUMER_BACKOFF_MAX_MS)
		*backoff_ms = CONSUMER_BACKOFF_MAX_MS;
}

/* Makes sure k->pg is a live connection; on failure waits a backoff step. True if ready. */
static bool
consumer_pg_ready(struct consumer *k)
{
	if (k->pg != NULL && PQstatus(k->pg) == CONNECTION_OK)
		return true;
	if (k->pg != NULL) {
		log_warn("db_reconnect reason=\"connection lost\"");
		PQfinish(k->pg);
	}
	k->pg = db_connect(cfg.database_url, 1);
	if (k->pg == NULL) {
		consumer_backoff(k, &k->pg_backoff_ms);
		return false;
	}
	k->pg_backoff_ms = CONSUMER_BACKOFF_MIN_MS;
	log_info("db_connected");
	return true;
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
	log_info("mq_connected queues=%d prefetch=%lld", queues, (long long)cfg.worker_prefetch);
	return 0;
}

/* Makes sure k->mq is connected and consuming; on failure waits a backoff step (exponential,
 * capped at 5 s). True if ready. */
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
	consumer_backoff(k, &k->mq_backoff_ms);
	return false;
}

/* Drops the AMQP connection after an error; unacked deliveries go back to their queues. */
static void
consumer_mq_drop(struct consumer *k, const char *why)
{
	log_warn("mq_connection_lost error=\"%s\"", why != NULL ? why : "unknown");
	mq_close(k->mq);
	k->mq = NULL;
}

/* Runs jobs_reconcile at start and then every minute. */
static void
consumer_reconcile(struct consumer *k)
{
	int n = 0;

	if (util_now_ms() < k->next_reconcile_ms)
		return;
	k->next_reconcile_ms = util_now_ms() + CONSUMER_RECONCILE_EVERY_MS;
	if (jobs_reconcile(k->pg, cfg.reconcile_after, &n) < 0)
		log_warn("reconcile_failed");
	else if (n > 0)
		log_info("reconcile enqueued=%d", n);
}

/* Publishes body to settle.dead (confirmed) and acks the delivery. 0, -1 on AMQP error. */
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
	log_warn("dead_lettered routing_key=%s reason=\"%s\"",
	         d->routing_key != NULL ? d->routing_key : "", reason != NULL ? reason : "");
	if (mq_ack(k->mq, d->tag, false) < 0)
		goto out;
	rc = 0;
out:
	if (err != NULL)
		log_warn("mq_publish_failed exchange=%s error=\"%s\"", MQ_DEAD_EXCHANGE, err);
	free(err);
	return rc;
}

/* Publishes j with attempt+1 to the delay queue (expiration = backoff) and, once confirmed,
 * acks the delivery. The message id stays the same. 0, -1 on AMQP error. */
static int
consumer_retry_ack(struct consumer *k, const struct mq_delivery *d, const struct job *j)
{
	struct job next = *j;
	char *err = NULL, *body, *queue;
	int rc = -1;

	next.attempt = j->attempt + 1;
	body = job_serialize(&next);
	int64_t delay = jobs_backoff_ms(next.attempt);
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

/* Gives the Postgres connection up after it broke mid-job: the delivery goes back to the
 * queue unchanged (it does not count as an attempt). 0, -1 on AMQP error. */
static int
consumer_requeue(struct consumer *k, const struct mq_delivery *d)
{
	log_warn("job_requeued reason=\"database connection lost\"");
	PQfinish(k->pg);
	k->pg = NULL;
	return mq_reject(k->mq, d->tag, true) < 0 ? -1 : 0;
}

/* Handles a JOB_RETRY outcome: requeue (database gone), retry later, or give up and
 * dead-letter after the last attempt. 0, -1 on AMQP error. */
static int
consumer_on_retry(struct consumer *k, const struct mq_delivery *d, const struct job *j,
                  const char *why)
{
	if (PQstatus(k->pg) != CONNECTION_OK)
		return consumer_requeue(k, d);
	if (j->attempt < cfg.max_attempts)
		return consumer_retry_ack(k, d, j);
	if (jobs_give_up(k->pg, j, why) < 0)
		return consumer_requeue(k, d);
	log_warn("job_gave_up kind=%s resource=%s attempt=%d", j->kind, j->resource_id, j->attempt);
	return consumer_dead_ack(k, d, why);
}

/* The connection a long job keeps alive through consumer_tick, and when it last did. */
static struct mq *consumer_tick_mq;
static int64_t consumer_tick_ms;

/* Called by long jobs (once per MiB hashed): every few seconds lets rabbitmq-c send its
 * heartbeat and read what came in, so that a job of minutes does not lose the connection
 * (and with it the delivery). A failure here shows up again at the ack. */
static void
consumer_tick(void)
{
	char *err = NULL;

	if (consumer_tick_mq == NULL || util_now_ms() - consumer_tick_ms < 5000)
		return;
	consumer_tick_ms = util_now_ms();
	if (mq_keepalive(consumer_tick_mq, &err) < 0)
		log_warn("mq_keepalive_failed error=\"%s\"", err != NULL ? err : "unknown");
	free(err);
}

/* Runs one delivery to its end: parse, run, then ack / retry / dead-letter. Sets the log id
 * to the message id meanwhile. 0, or -1 when the AMQP connection must be re-made. */
static int
consumer_handle(struct consumer *k, const struct mq_delivery *d)
{
	struct job j;
	char *err = NULL;
	int rc = -1;

	log_set_id(d->message_id);
	if (job_parse(d->body, d->len, &j, &err) < 0) {
		log_warn("job_malformed routing_key=%s error=\"%s\"",
		         d->routing_key != NULL ? d->routing_key : "", err != NULL ? err : "");
		rc = consumer_dead_ack(k, d, err);
		goto out;
	}
	log_set_id(j.id);
	int64_t t0 = util_now_ms();
	consumer_tick_mq = k->mq;
	consumer_tick_ms = t0;
	enum job_result res = jobs_run(k->pg, &j, &err);
	consumer_tick_mq = NULL;
	log_info("job kind=%s resource=%s attempt=%d outcome=%s ms=%lld%s%s%s", j.kind,
	         j.resource_id, j.attempt, consumer_outcomes[res], (long long)(util_now_ms() - t0),
	         err != NULL ? " error=\"" : "", err != NULL ? err : "", err != NULL ? "\"" : "");
	if (res == JOB_DONE && cfg.fault_rate > 0 && util_random() < cfg.fault_rate / 4) {
		log_warn("injected_crash after=commit before=ack");
		_exit(137);
	}
	if (res == JOB_DONE || res == JOB_DUPLICATE)
		rc = mq_ack(k->mq, d->tag, false);
	else if (res == JOB_RETRY)
		rc = consumer_on_retry(k, d, &j, err);
	else
		rc = consumer_dead_ack(k, d, err);
out:
	free(err);
	log_set_id(NULL);
	return rc;
}

/* Waits for one delivery and handles it. */
static void
consumer_step(struct consumer *k)
{
	struct mq_delivery d;
	char *err = NULL;
	int rc = mq_next(k->mq, CONSUMER_POLL_MS, &d, &err);

	if (rc < 0) {
		consumer_mq_drop(k, err);
		goto out;
	}
	if (rc == 0)
		goto out;
	if (consumer_handle(k, &d) < 0)
		consumer_mq_drop(k, "ack, reject or publish failed");
	mq_delivery_free(&d);
out:
	free(err);
}

/* The worker loop (see consumer.h). */
int
consumer_run(volatile int *stop)
{
	struct consumer k = {
	    .stop = stop,
	    .mq_backoff_ms = CONSUMER_BACKOFF_MIN_MS,
	    .pg_backoff_ms = CONSUMER_BACKOFF_MIN_MS,
	};
	int kinds = 0;

	for (int i = 0; i < mq_kind_count; i++)
		kinds += config_kind_excluded(mq_kinds[i]) ? 0 : 1;
	if (kinds == 0) {
		log_error("no_job_kinds reason=\"SETTLE_WORKERS_EXCEPT excludes every kind\"");
		return -1;
	}
	jobs_set_tick(consumer_tick);
	while (!*stop) {
		if (!consumer_pg_ready(&k) || !consumer_mq_ready(&k))
			continue;
		consumer_reconcile(&k);
		consumer_step(&k);
	}
	log_info("stopping reason=signal");
	mq_close(k.mq);
	if (k.pg != NULL)
		PQfinish(k.pg);
	return 0;
}
