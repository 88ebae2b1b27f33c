/* ops.c: settle stats, reconcile, dead-letters, message-log drain and relay. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "db.h"
#include "housekeep.h"
#include "inline.h"
#include "job.h"
#include "kinds.h"
#include "log.h"
#include "mq.h"
#include "relay.h"

static volatile int cli_stop;

static void
cli_on_signal(int sig)
{
	(void)sig;
	cli_stop = 1;
}

static struct mq *
cli_mq(void)
{
	char *err = NULL;
	struct mq *mq = mq_connect(cfg.amqp_url, 30, &err);

	if (mq == NULL) {
		fprintf(stderr, "settle: cannot reach RabbitMQ: %s\n", err);
		free(err);
		return NULL;
	}
	if (mq_declare_topology(mq, kinds_names(), &err) < 0) {
		fprintf(stderr, "settle: cannot declare topology: %s\n", err);
		free(err);
		mq_close(mq);
		return NULL;
	}
	return mq;
}

/* Prints "name value" lines: resource states from Postgres (each column of cli_ops_stats by
 * its name), queue depths from RabbitMQ. */
int
cli_stats(PGconn *c, const struct cli_args *a)
{
	PGresult *r = db_exec(c, SQL_CLI_OPS_STATS, NULL);
	const struct sql_unit_def *u = &sql_units[SQL_CLI_OPS_STATS];
	struct mq *mq;
	char *err = NULL;

	(void)a;
	if (r == NULL)
		return 1;
	for (int k = 0; k < u->ncols; k++)
		printf("%s %s\n", u->cols[k], db_get(r, 0, k));
	PQclear(r);
	if (cfg.inline_mode)
		return 0;
	mq = cli_mq();
	if (mq == NULL) {
		printf("queues unreachable\n");
		return 1;
	}
	for (int i = 0; i < kinds_count; i++) {
		char *q = mq_kind_queue(kinds_all[i]->name);
		printf("queue_depth{%s} %lld\n", q, (long long)mq_queue_depth(mq, q, &err));
		free(err);
		err = NULL;
		free(q);
	}
	printf("queue_depth{%s} %lld\n", MQ_DEAD_QUEUE,
	       (long long)mq_queue_depth(mq, MQ_DEAD_QUEUE, &err));
	free(err);
	err = NULL;
	printf("queue_depth{%s} %lld\n", MQ_LOG_QUEUE,
	       (long long)mq_queue_depth(mq, MQ_LOG_QUEUE, &err));
	free(err);
	mq_close(mq);
	return 0;
}

/* Parses a non-negative number of seconds given to option name; 0, or 2 after a message. */
static int
cli_seconds(const char *cmd, const char *name, const char *value, int64_t *out)
{
	if (!util_parse_i64(value, out) || *out < 0) {
		fprintf(stderr, "settle %s: --%s wants seconds, not '%s'\n", cmd, name, value);
		return 2;
	}
	return 0;
}

/* settle reconcile [--older-than S] */
int
cli_reconcile(PGconn *c, const struct cli_args *a)
{
	int64_t older = cfg.reconcile_after;
	int n = 0;

	if (a->opts[0] != NULL && cli_seconds("reconcile", "older-than", a->opts[0], &older) != 0)
		return 2;
	if (housekeep_reconcile(c, older, &n) < 0) {
		fprintf(stderr, "settle reconcile: failed (see log)\n");
		return 1;
	}
	printf("re-enqueued %d\n", n);
	return 0;
}

/* Re-publishes one dead letter to settle.jobs as a fresh first attempt. */
static int
cli_requeue_one(struct mq *mq, const struct mq_delivery *d)
{
	struct job j;
	char *err = NULL, *body;
	int rc;

	if (kinds_parse(d->body, d->len, &j, &err) == NULL) {
		fprintf(stderr, "skipping unreadable message %s: %s\n", d->message_id, err);
		free(err);
		return -1;
	}
	j.attempt = 1;
	body = job_serialize(&j);
	rc = mq_publish_logged(mq, MQ_EXCHANGE, j.kind, j.id, body, strlen(body), 0, &err);
	free(body);
	if (rc < 0) {
		fprintf(stderr, "requeue of %s failed: %s\n", j.id, err);
		free(err);
		return -1;
	}
	printf("requeued %s %s %s\n", j.id, j.kind, j.resource_id);
	return 0;
}

/* settle dead-letters list|requeue: list leaves the messages where they are (they return
 * to the queue when the connection closes); requeue publishes each again, then acks it. */
static int
cli_dead_letters(bool requeue)
{
	struct mq_delivery d;
	struct mq *mq;
	char *err = NULL;
	int64_t depth;
	int n = 0, failed = 0;

	if ((mq = cli_mq()) == NULL)
		return 1;
	depth = mq_queue_depth(mq, MQ_DEAD_QUEUE, &err);
	free(err);
	err = NULL;
	for (int64_t i = 0; i < depth && mq_get(mq, MQ_DEAD_QUEUE, &d, &err) == 1; i++) {
		if (!requeue) {
			printf("%s %s %s\n", d.message_id, d.routing_key, d.body);
		} else if (cli_requeue_one(mq, &d) == 0) {
			if (mq_ack(mq, d.tag, false) < 0)
				failed++;
		} else {
			failed++;
		}
		n++;
		mq_delivery_free(&d);
	}
	free(err);
	mq_close(mq);
	printf("%s %d dead letter%s\n", requeue ? "requeued" : "listed", n - failed,
	       n - failed == 1 ? "" : "s");
	return failed ? 1 : 0;
}

int
cli_dead_letters_list(PGconn *c, const struct cli_args *a)
{
	(void)c, (void)a;
	return cli_dead_letters(false);
}

int
cli_dead_letters_requeue(PGconn *c, const struct cli_args *a)
{
	(void)c, (void)a;
	return cli_dead_letters(true);
}

/* Stores one logged message; the caller commits. */
static int
cli_log_insert(PGconn *c, const struct mq_delivery *d)
{
	const char *params[3] = {d->message_id, d->routing_key, d->body};
	return db_cmd(c, SQL_CLI_OPS_LOG_INSERT, params);
}

/* settle message-log drain --duration S: moves settle.message_log into the message_log
 * table, a batch per transaction, acking a batch only after its COMMIT. */
int
cli_message_log_drain(PGconn *c, const struct cli_args *a)
{
	int64_t duration, end, n = 0;
	struct mq_delivery d;
	struct mq *mq;
	char *err = NULL;
	int got = 0, batch = 0, rc = 1;
	uint64_t last_tag = 0;

	if (cli_seconds("message-log drain", "duration", a->opts[0], &duration) != 0)
		return 2;
	if ((mq = cli_mq()) == NULL)
		return 1;
	signal(SIGINT, cli_on_signal);
	signal(SIGTERM, cli_on_signal);
	if (mq_consume(mq, MQ_LOG_QUEUE, 500, &err) < 0 || db_begin(c) < 0)
		goto out;
	end = util_now_ms() + duration * 1000;
	while (!cli_stop && util_now_ms() < end) {
		got = mq_next(mq, 200, &d, &err);
		if (got < 0)
			goto out;
		if (got == 1) {
			if (cli_log_insert(c, &d) < 0) {
				mq_delivery_free(&d);
				goto out;
			}
			last_tag = d.tag;
			mq_delivery_free(&d);
			batch++;
		}
		if (batch > 0 && (batch >= 500 || got == 0)) {
			if (db_commit(c) < 0 || mq_ack(mq, last_tag, true) < 0 || db_begin(c) < 0)
				goto out;
			n += batch;
			batch = 0;
		}
	}
	if (batch > 0 && (db_commit(c) < 0 || mq_ack(mq, last_tag, true) < 0))
		goto out;
	n += batch;
	batch = 0;
	rc = 0;
out:
	if (batch > 0 || rc != 0)
		db_rollback(c);
	if (err != NULL)
		fprintf(stderr, "settle message-log: %s\n", err);
	free(err);
	mq_close(mq);
	printf("drained %lld message%s\n", (long long)n, n == 1 ? "" : "s");
	return rc;
}

/* settle relay: the outbox relay alone, until SIGTERM/SIGINT. */
int
cli_relay(PGconn *c, const struct cli_args *a)
{
	struct relay_sink sink =
	    cfg.inline_mode ? inline_sink() : relay_mq_sink(cfg.amqp_url, kinds_names());

	(void)c, (void)a;
	signal(SIGINT, cli_on_signal);
	signal(SIGTERM, cli_on_signal);
	log_info("relay_start queue=%s", cfg.queue);
	relay_run(cfg.database_url, sink, cfg.inline_mode ? 1000 : 5000, &cli_stop);
	log_info("relay_stop");
	return 0;
}
