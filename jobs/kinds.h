/* kinds.h: the table of every job kind, and its one lookup. */
#ifndef SETTLE_KINDS_H
#define SETTLE_KINDS_H

#include <stddef.h>

#include "kind.h"

/* Every job kind, once (the queues, the workers, SETTLE_WORKERS_EXCEPT, reconcile and the
 * dispatcher all iterate it), and how many. */
extern const struct job_kind *const kinds_all[];
extern const int kinds_count;

/* The kind named name, or NULL when none is (NULL is none). Static. */
const struct job_kind *kinds_find(const char *name);

/* The names of every kind, in kinds_all's order, NULL-terminated (what mq_declare_topology
 * declares queues for). Static. */
const char *const *kinds_names(void);

/* Parses a job message (job_parse) whose kind must be one of kinds_all: the kind, or NULL
 * with *err (caller frees) and *j zeroed. */
const struct job_kind *kinds_parse(const char *body, size_t len, struct job *j, char **err);

#endif
