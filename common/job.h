/* job.h: the job message carried by the outbox and RabbitMQ. */
#ifndef SETTLE_JOB_H
#define SETTLE_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define JOB_PROJECT_INITIALIZE "project.initialize"
#define JOB_UPLOAD_COMPLETE    "upload.complete"
#define JOB_RESOURCE_DELETE    "resource.delete"

/* Every job kind, once: the queues, the workers and the validation all iterate this. */
extern const char *const job_kinds[];
extern const int job_kind_count;

struct job {
	char id[37];
	char kind[48];
	char resource_id[37];
	int attempt;
	int64_t enqueued_at; /* epoch ms */
};

/* Parses a message body {"id","kind","resource_id","attempt","enqueued_at"} (enqueued_at an
 * ISO 8601 string or epoch ms). Validates ids as UUIDs and kind as a known kind.
 * 0 or -1 with *err (caller frees). */
int job_parse(const char *body, size_t len, struct job *j, char **err) MUSTCHECK;
/* Serialises j into a new JSON string the caller frees. */
char *job_serialize(const struct job *j);
/* True if kind is one of job_kinds. */
bool job_kind_valid(const char *kind);

#endif
