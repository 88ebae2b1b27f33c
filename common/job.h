/* job.h: the job message carried by the outbox and RabbitMQ. */
#ifndef SETTLE_JOB_H
#define SETTLE_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct job {
	char id[37];
	char kind[48];
	char resource_id[37];
	int attempt;
	int64_t enqueued_at; /* epoch ms */
};

/* Parses a message body {"id","kind","resource_id","attempt","enqueued_at"} (enqueued_at an
 * ISO 8601 string or epoch ms). Validates ids as UUIDs and kind as a word of letters, digits,
 * '.' and '_' (whether it is a known kind is for jobs/kinds.h: kinds_parse). 0 or -1 with
 * *err (caller frees). */
int job_parse(const char *body, size_t len, struct job *j, char **err) MUSTCHECK;
/* Serialises j into a new JSON string the caller frees. */
char *job_serialize(const struct job *j);

#endif
