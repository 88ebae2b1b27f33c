/* upload_complete.h: the upload.complete job (upload_complete.c, upload_commit.c): the
 * integrity check of API.md. */
#ifndef SETTLE_UPLOAD_COMPLETE_H
#define SETTLE_UPLOAD_COMPLETE_H

#include "kind.h"

#define JOB_UPLOAD_COMPLETE "upload.complete"

/* Batchable: check loads the uploads and chunks of n jobs in one statement and verifies
 * them, reading at most read_max stored bytes a job (more: the job is deferred), with no
 * row locks held while bytes are read; commit records every verdict in one statement. */
extern const struct job_kind upload_complete_kind;

#endif
