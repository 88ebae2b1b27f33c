/* router.h: the route tables of settle-api and matching a request to its route. */
#ifndef SETTLE_ROUTER_H
#define SETTLE_ROUTER_H

#include <microhttpd.h>

#include "http.h"

/* Each resource file exports its routes, ended by an entry with method NULL. */
extern const struct route auth_routes[];
extern const struct route projects_routes[];
extern const struct route folders_routes[];
extern const struct route uploads_routes[];
extern const struct route uploads_chunks_routes[];
extern const struct route uploads_complete_routes[];
extern const struct route files_routes[];
extern const struct route storage_http_routes[];
extern const struct route ops_routes[];
extern const struct route users_routes[];
extern const struct route permissions_routes[];
extern const struct route moves_routes[];
extern const struct route versions_routes[];
extern const struct route providers_routes[];
extern const struct route agents_routes[];
extern const struct route activities_routes[];
extern const struct route relations_routes[];
extern const struct route provenance_search_routes[];
extern const struct route trashbin_routes[];

/* Finds the route for method and path, filling r->params. NULL if none; *path_known is
 * set when the path exists for another method. */
const struct route *router_match(const char *method, const char *path, struct req *r,
                                 bool *path_known);

/* Checks that every parameter of every route has a type ("/:id:uuid"); -1 with *bad the
 * first pattern that has not (settle-api refuses to start then). */
int router_check(const char **bad) MUSTCHECK;

/* Routes a new request (conn, method and path set): checks the framing of its body, finds
 * its route (404, 405 otherwise) and checks its parameters' types (404) and the body length
 * it announces (router_too_large). Answers r when any fails. Returns the buffer r->params
 * point into (the caller frees it), or NULL when there is none. */
char *router_route(struct req *r);
/* 413: the body is over HTTP_MAX_BODY. */
void router_too_large(struct req *r);
/* A request id for the logs, shaped like a UUID (36 characters and a NUL). */
void router_request_id(char out[37]);

/* libmicrohttpd URI log callback (cls unused): refuses a request target over
 * HTTP_MAX_TARGET bytes or with over HTTP_MAX_QUERY_PARAMS query parameters before
 * libmicrohttpd parses its parameters, by answering 400 on the socket itself and shutting
 * it down. Returns NULL (no request state yet). */
void *router_uri(void *cls, const char *uri, struct MHD_Connection *conn);
#endif
