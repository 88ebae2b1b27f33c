/* router.h: the route table and the libmicrohttpd callbacks of settle-api. */
#ifndef SETTLE_ROUTER_H
#define SETTLE_ROUTER_H

#include <microhttpd.h>

#include "http.h"

/* Each resource file exports its routes, ended by an entry with method NULL. */
extern const struct route auth_routes[];
extern const struct route projects_routes[];
extern const struct route folders_routes[];
extern const struct route uploads_routes[];
extern const struct route files_routes[];
extern const struct route storage_http_routes[];
extern const struct route ops_routes[];
extern const struct route users_routes[];
extern const struct route permissions_routes[];
extern const struct route moves_routes[];
extern const struct route versions_routes[];
extern const struct route providers_routes[];
extern const struct route agents_routes[];
extern const struct route provenance_routes[];
extern const struct route trashbin_routes[];

/* Finds the route for method and path, filling r->params. NULL if none; *path_known is
 * set when the path exists for another method. */
const struct route *router_match(const char *method, const char *path, struct req *r,
                                 bool *path_known);

/* Checks that every parameter of every route has a type ("/:id:uuid"); -1 with *bad the
 * first pattern that has not (settle-api refuses to start then). */
int router_check(const char **bad) MUSTCHECK;

/* libmicrohttpd access handler (cls unused). */
enum MHD_Result router_access(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_size, void **con_cls);
/* libmicrohttpd URI log callback (cls unused): refuses a request target over
 * HTTP_MAX_TARGET bytes or with over HTTP_MAX_QUERY_PARAMS query parameters before
 * libmicrohttpd parses its parameters, by answering 400 on the socket itself and shutting
 * it down. Returns NULL (no request state yet). */
void *router_uri(void *cls, const char *uri, struct MHD_Connection *conn);
/* libmicrohttpd completion callback: frees the request. */
void router_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe);

#endif
