/* provenance.h: what the provenance handlers share (activities.c, relations.c,
 * provenance_search.c; docs/api.md "Provenance"): provenance.c's reads, deletes and body
 * parsing. Their statements are the units of sql/activities.sql, relations.sql and
 * provenance_search.sql; the SQL rules of who sees what, of DDS's direction of a relation
 * and the JSON of activities, file versions and relations are migration 0020's functions.
 * Everything is answered at once from Postgres (migration 0013); no job runs. Each call is
 * one statement. */
#ifndef SETTLE_PROVENANCE_H
#define SETTLE_PROVENANCE_H

#include <jansson.h>
#include <libpq-fe.h>

#include "http.h"

/* The first columns of the units that provenance_get and provenance_node_verdict read:
 * found, seen by the caller, the object (JSON text; provenance_get only). Each caller
 * checks that its unit's columns are these (_Static_assert). */
enum { PROVENANCE_GET_FOUND, PROVENANCE_GET_SEES, PROVENANCE_GET_OBJ };

/* Whether column a of one unit and column b of another (or a PROVENANCE_* column) are the
 * same column, for _Static_assert (each unit's columns are an enum type of their own). */
#define PROVENANCE_COL_EQ(a, b) ((int)(a) == (int)(b))

/* The columns of the units that provenance_soft_delete runs: found (and not deleted), the
 * caller created it. */
enum { PROVENANCE_DEL_FOUND, PROVENANCE_DEL_OWNER };

/* A JSON-text column of a provenance object, its file versions' storage providers made
 * objects. New reference. */
json_t *provenance_obj(const PGresult *res, int row, int col);

/* Answers 200 with the object of the one-row read unit u ($1 id, $2 caller; columns
 * PROVENANCE_GET_*), or 404 for `what`, or 403. */
void provenance_get(struct req *r, enum sql_unit u, const char *what);

/* Marks the row r->params[0] deleted with unit u ($1 id, $2 caller; columns
 * PROVENANCE_DEL_*) when the caller created it, in one statement: 204, or 404 for `what`,
 * or 403. */
void provenance_soft_delete(struct req *r, enum sql_unit u, const char *what);

/* Reads {kind, id} at field of body into *id (a UUID; anything else names nothing, 404 for
 * `what`); kinds lists the kinds accepted (two, NULL-ended), or is NULL when kind is not
 * read. 1, or 0 after answering. */
int provenance_ref(struct req *r, json_t *body, const char *field, const char *const *kinds,
                   const char *what, const char **id) MUSTCHECK;

/* Reads the PROVENANCE_GET_FOUND and _SEES columns of a node of kind in row 0 of res (NULL:
 * the statement failed): 1 when it exists and the caller sees it, else 0 after answering
 * 404, 403 or a database error. */
int provenance_node_verdict(struct req *r, const PGresult *res, const char *kind) MUSTCHECK;

/* The kinds of provenance nodes. */
extern const char *const provenance_node_kinds[];

/* True when kind is one of provenance_node_kinds. */
bool provenance_node_kind(const char *kind);

#endif
