/* lifecycle.h: the life of a request of settle-api, as a table of phases run in order
 * (lifecycle.c): authenticate, signed URL, session, database choice, stream begin (once the
 * headers are read), then fault injection, idempotency, handler, relay wake, fault after
 * commit, session position, write concern and answer (once the body is). Each phase is a
 * function of one signature; it goes on, answers early (the answer phase comes next), or
 * suspends the request (suspend.h) and runs again when the request resumes. */
#ifndef SETTLE_LIFECYCLE_H
#define SETTLE_LIFECYCLE_H

#include <microhttpd.h>

#include "http.h"

/* Moves r to state to: the one place r->state changes. A move the lifecycle does not know
 * (e.g. answering a suspended request) is a bug: it is logged and the process aborts. */
void lifecycle_change(struct req *r, enum req_state to);

/* Tells the lifecycle that the handler's transaction queued job kind (a static string) with
 * message id for resource_id into the outbox. Once it committed and the answer is 2xx, the
 * relay wake phase hands the job to this process's relay (relay_hand), which publishes it
 * without claiming its row; a request that queued jobs without telling only wakes the relay
 * (relay_wake), which claims them. One job a request (a later call replaces it). */
void lifecycle_job(struct req *r, const char *id, const char *kind, const char *resource_id);

/* libmicrohttpd access handler (cls unused): runs the phases as the request arrives. */
enum MHD_Result lifecycle_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_size, void **con_cls);
/* libmicrohttpd completion callback: counts and frees the request. */
void lifecycle_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe);

#endif
