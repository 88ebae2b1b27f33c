/* relay_mq.c: the relay's RabbitMQ sink: publishes a batch at a time, with publisher
 * confirms. */
#include "relay.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mq.h"

#define RELAY_HEARTBEAT_S 30
#define RELAY_CONFIRM_MS  30000

struct relay_mq {
	char *url;
	const char *const *kinds; /* whose queues the topology declares */
	struct mq *mq;
};

static void
relay_mq_drop(struct relay_mq *m)
{
	mq_close(m->mq);
	m->mq = NULL;
}

/* Publishes without waiting; relay_mq_flush collects the confirms of the whole batch. */
static int
relay_mq_deliver(void *arg, const struct job *j, const char *body, struct relay_retry *retry)
{
	struct relay_mq *m = arg;
	char *err = NULL;

	(void)retry;
	if (m->mq == NULL)
		return -1;
	if (mq_publish_nowait(m->mq, MQ_EXCHANGE, j->kind, j->id, body, strlen(body), 0, &err) <
	    0) {
		log_warn("relay_publish_failed kind=%s error=\"%s\"", j->kind, err);
		relay_mq_drop(m);
		free(err);
		return -1;
	}
	return 0;
}

/* Waits for the confirms of everything published since the last flush, or until wake_fd
 * is readable (1). 0, 1 or -1. */
static int
relay_mq_flush(void *arg, int wake_fd)
{
	struct relay_mq *m = arg;
	char *err = NULL;
	int rc;

	if (m->mq == NULL)
		return -1;
	rc = mq_wait_confirms_or(m->mq, RELAY_CONFIRM_MS, wake_fd, &err);
	if (rc >= 0)
		return rc;
	log_warn("relay_confirm_failed error=\"%s\"", err);
	free(err);
	relay_mq_drop(m);
	return -1;
}

static int
relay_mq_keepalive(void *arg)
{
	struct relay_mq *m = arg;
	char *err = NULL;

	if (m->mq == NULL || mq_keepalive(m->mq, &err) == 0)
		return 0;
	log_warn("relay_mq_lost error=\"%s\"", err);
	free(err);
	relay_mq_drop(m);
	return -1;
}

static int
relay_mq_reset(void *arg)
{
	struct relay_mq *m = arg;
	char *err = NULL;

	relay_mq_drop(m);
	m->mq = mq_connect(m->url, RELAY_HEARTBEAT_S, &err);
	if (m->mq == NULL || mq_declare_topology(m->mq, m->kinds, &err) < 0) {
		log_warn("relay_mq_connect_failed error=\"%s\"", err);
		relay_mq_drop(m);
		free(err);
		return -1;
	}
	log_info("relay_mq_connected");
	return 0;
}

static void
relay_mq_free(void *arg)
{
	struct relay_mq *m = arg;

	relay_mq_drop(m);
	free(m->url);
	free(m);
}

/*
 * A sink publishing each job to settle.jobs (routing key = kind, message id = job id),
 * a batch at a time, with publisher confirms. It starts disconnected: reset() connects and
 * declares the topology, so RabbitMQ being down only delays delivery. The sink owns a copy
 * of url; kinds is static.
 */
struct relay_sink
relay_mq_sink(const char *url, const char *const *kinds)
{
	struct relay_mq *m = xcalloc(1, sizeof(*m));

	m->url = xstrdup(url);
	m->kinds = kinds;
	return (struct relay_sink){.deliver = relay_mq_deliver,
	                           .flush = relay_mq_flush,
	                           .keepalive = relay_mq_keepalive,
	                           .reset = relay_mq_reset,
	                           .free = relay_mq_free,
	                           .arg = m};
}
