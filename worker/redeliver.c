/* redeliver.c: what settle-worker does with a delivery that did not end in a COMMIT: publish
 * it to settle.dead, or again through a delay queue, and then ack it. */
#include "redeliver.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

int
redeliver_dead(struct mq *mq, const struct mq_delivery *d, const char *reason)
{
	char *err = NULL;
	int rc = -1;
	const char *key =
	    d->routing_key != NULL && d->routing_key[0] != '\0' ? d->routing_key : "unknown";

	if (mq_publish(mq, MQ_DEAD_EXCHANGE, key, d->message_id != NULL ? d->message_id : "",
	               d->body, d->len, 0, &err) < 0)
		goto out;
	log_warn("dead_lettered routing_key=%s reason=\"%s\"", key, reason != NULL ? reason : "");
	if (mq_ack(mq, d->tag, false) < 0)
		goto out;
	rc = 0;
out:
	if (err != NULL)
		log_warn("mq_publish_failed exchange=%s error=\"%s\"", MQ_DEAD_EXCHANGE, err);
	free(err);
	return rc;
}

int
redeliver_retry(struct mq *mq, const struct mq_delivery *d, const struct job *j,
                const struct jobs_next *n)
{
	struct job next = *j;
	char *err = NULL, *body, *queue;
	int64_t delay;
	int rc = -1;

	next.attempt = n->attempt;
	body = job_serialize(&next);
	delay = jobs_backoff_ms(n->step);
	queue = mq_retry_queue(j->kind, n->step);
	if (mq_publish_logged(mq, "", queue, j->id, body, strlen(body), delay, &err) < 0) {
		log_warn("mq_publish_failed queue=%s error=\"%s\"", queue,
		         err != NULL ? err : "unknown");
		goto out;
	}
	log_info("job_retry_scheduled kind=%s resource=%s attempt=%d delay_ms=%lld", j->kind,
	         j->resource_id, next.attempt, (long long)delay);
	if (mq_ack(mq, d->tag, false) < 0)
		goto out;
	rc = 0;
out:
	free(err);
	free(queue);
	free(body);
	return rc;
}
