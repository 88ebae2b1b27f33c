/* provenance.c: what the provenance handlers share (provenance.h): provenance objects with
 * their storage providers, the one-object reads and soft deletes, and reading {kind, id}
 * references from a body. The calls are in activities.c, relations.c and
 * provenance_search.c. */
#include "provenance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "uuid.h"
#include "views.h"

/* Makes the storage provider's name at upload.storage_provider of every dds-file-version in
 * obj its object (views_upload_provider), at any depth. Changes obj in place (borrowed). */
static void
provenance_providers(json_t *obj)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_array(obj)) {
		json_array_foreach(obj, i, v) provenance_providers(v);
		return;
	}
	if (!json_is_object(obj))
		return;
	v = json_object_get(obj, "kind");
	if (json_is_string(v) && strcmp(json_string_value(v), "dds-file-version") == 0)
		views_upload_provider(json_object_get(obj, "upload"));
	json_object_foreach(obj, key, v)
	{
		if (strcmp(key, "upload") != 0)
			provenance_providers(v);
	}
}

json_t *
provenance_obj(const PGresult *res, int row, int col)
{
	json_t *o = views_json_col(res, row, col);

	provenance_providers(o);
	return o;
}

void
provenance_get(struct req *r, enum sql_unit u, const char *what)
{
	const char *q[] = {r->params[0], r->user_id};
	PGresult *res = db_exec(r->db, u, q);

	if (res == NULL)
		http_db_error(r);
	else if (!db_get_bool(res, 0, PROVENANCE_GET_FOUND))
		http_not_found(r, what);
	else if (!db_get_bool(res, 0, PROVENANCE_GET_SEES))
		http_forbidden(r);
	else
		http_json(r, 200, provenance_obj(res, 0, PROVENANCE_GET_OBJ));
	PQclear(res);
}

void
provenance_soft_delete(struct req *r, enum sql_unit u, const char *what)
{
	const char *q[] = {r->params[0], r->user_id};
	PGresult *res = db_exec(r->db, u, q);

	if (res == NULL)
		http_db_error(r);
	else if (!db_get_bool(res, 0, PROVENANCE_DEL_FOUND))
		http_not_found(r, what);
	else if (!db_get_bool(res, 0, PROVENANCE_DEL_OWNER))
		http_forbidden(r);
	else
		http_raw(r, 204,
		         MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT));
	PQclear(res);
}

/* The string at key of obj (nested in a body at field, named `name` in errors, e.g.
 * "entity[id]"): 1 with *out borrowed, 0 when absent or null, -1 after answering 400. */
static int
provenance_str(struct req *r, json_t *obj, const char *key, const char *name, const char **out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		http_invalid(r, name, "must be a string");
		return -1;
	}
	*out = json_string_value(v);
	return 1;
}

int
provenance_ref(struct req *r, json_t *body, const char *field, const char *const *kinds,
               const char *what, const char **id)
{
	json_t *o;
	const char *kind = NULL;
	char name[64];
	int rc = http_field_obj(r, body, field, &o);

	if (rc < 0)
		return 0;
	if (rc == 0) {
		http_invalid(r, field,
		             kinds != NULL ? "is required: {\"kind\", \"id\"}"
		                           : "is required: {\"id\"}");
		return 0;
	}
	if (kinds != NULL) {
		snprintf(name, sizeof(name), "%s[kind]", field);
		if (provenance_str(r, o, "kind", name, &kind) < 0)
			return 0;
		if (kind == NULL || (strcmp(kind, kinds[0]) != 0 && strcmp(kind, kinds[1]) != 0)) {
			char *msg = xasprintf("must be %s or %s", kinds[0], kinds[1]);
			http_invalid(r, name, msg);
			free(msg);
			return 0;
		}
	}
	snprintf(name, sizeof(name), "%s[id]", field);
	rc = provenance_str(r, o, "id", name, id);
	if (rc < 0)
		return 0;
	if (rc == 0) {
		http_invalid(r, name, "is required");
		return 0;
	}
	if (!uuid_valid(*id)) {
		http_not_found(r, what);
		return 0;
	}
	return 1;
}

int
provenance_node_verdict(struct req *r, const PGresult *res, const char *kind)
{
	if (res == NULL)
		http_db_error(r);
	else if (!db_get_bool(res, 0, PROVENANCE_GET_FOUND))
		http_not_found(r, strcmp(kind, "dds-activity") == 0 ? "activity" : "file version");
	else if (!db_get_bool(res, 0, PROVENANCE_GET_SEES))
		http_forbidden(r);
	else
		return 1;
	return 0;
}

const char *const provenance_node_kinds[] = {"dds-activity", "dds-file-version", NULL};

bool
provenance_node_kind(const char *kind)
{
	return strcmp(kind, provenance_node_kinds[0]) == 0 ||
	       strcmp(kind, provenance_node_kinds[1]) == 0;
}
