/* views.c: DDS JSON objects from the rows of the settle_*_view columns (migration 0017). */
#include "views.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "http.h"
#include "names.h"
#include "storage.h"

json_t *
views_json_col(const PGresult *res, int row, int col)
{
	const char *s = db_get(res, row, col);
	json_t *v;

	if (s == NULL)
		return json_null();
	v = json_loads(s, JSON_DECODE_ANY, NULL);
	return v != NULL ? v : json_null();
}

/* Replaces the string at obj[key] (if any) with its safe form when it differs. */
static void
views_safe_name(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	char *safe = json_is_string(v) ? names_safe(json_string_value(v)) : NULL;

	if (safe != NULL)
		json_object_set_new(obj, key, json_string(safe));
	free(safe);
}

void
views_safe_names(json_t *obj)
{
	json_t *a = json_object_get(obj, "ancestors"), *each;
	size_t i;

	views_safe_name(obj, "name");
	views_safe_name(json_object_get(obj, "project"), "name");
	json_array_foreach(a, i, each) views_safe_name(each, "name");
}

/* {"kind": "dds-project"|"dds-folder", "id"}: the folder when parent_id is not NULL,
 * else the project. New reference. */
static json_t *
views_parent(const char *project_id, const char *parent_id)
{
	if (parent_id != NULL && *parent_id != '\0')
		return json_pack("{s:s,s:s}", "kind", "dds-folder", "id", parent_id);
	return json_pack("{s:s,s:s}", "kind", "dds-project", "id", project_id);
}

json_t *
views_storage_provider(const char *name)
{
	const struct storage_info *p = storage_info(name);

	if (p == NULL)
		return json_null();
	return json_pack("{s:s,s:s,s:s}", "id", p->id, "name", p->name, "description",
	                 p->description);
}

void
views_upload_provider(json_t *upload)
{
	json_t *name = json_object_get(upload, "storage_provider");

	if (json_is_string(name))
		json_object_set_new(upload, "storage_provider",
		                    views_storage_provider(json_string_value(name)));
}

json_t *
views_project(const PGresult *res, int row, int col)
{
	json_t *p =
	    json_pack("{s:s,s:s,s:o,s:o,s:o,s:b,s:b,s:o}", "kind", "dds-project", "id",
	              db_get(res, row, col), "name", http_jstr(db_get(res, row, col + 1)), "slug",
	              http_jstr(db_get(res, row, col + 6)), "description",
	              http_jstr(db_get(res, row, col + 2)), "is_deleted",
	              db_get_bool(res, row, col + 3), "is_consistent",
	              db_get_bool(res, row, col + 4), "audit", views_json_col(res, row, col + 5));

	views_safe_names(p);
	return p;
}

/* The members folders and files share, with kind. */
static json_t *
views_node(const PGresult *res, int row, int col, const char *kind)
{
	const char *project_id = db_get(res, row, col + 2);
	json_t *ancestors = views_json_col(res, row, col + 6), *node;

	if (!json_is_array(ancestors)) {
		json_decref(ancestors);
		ancestors = json_array();
	}
	node = json_pack("{s:s,s:s,s:o,s:o,s:b,s:o,s:{s:s,s:o},s:o}", "kind", kind, "id",
	                 db_get(res, row, col), "name", http_jstr(db_get(res, row, col + 1)),
	                 "parent", views_parent(project_id, db_get(res, row, col + 3)),
	                 "is_deleted", db_get_bool(res, row, col + 4), "audit",
	                 views_json_col(res, row, col + 5), "project", "id", project_id, "name",
	                 http_jstr(db_get(res, row, col + 7)), "ancestors", ancestors);
	views_safe_names(node);
	return node;
}

json_t *
views_folder(const PGresult *res, int row, int col)
{
	return views_node(res, row, col, "dds-folder");
}

json_t *
views_file(const PGresult *res, int row, int col)
{
	json_t *file = views_node(res, row, col, "dds-file");

	json_t *cv = views_json_col(res, row, col + 8);

	views_upload_provider(json_object_get(cv, "upload"));
	json_object_set_new(file, "current_version", cv);
	return file;
}

json_t *
views_file_version(const PGresult *res, int row, int col)
{
	json_t *upload = views_json_col(res, row, col + 4);

	views_upload_provider(upload);
	return json_pack(
	    "{s:s,s:s,s:I,s:o,s:b,s:o,s:{s:s}}", "kind", "dds-file-version", "id",
	    db_get(res, row, col), "version", (json_int_t)db_get_i64(res, row, col + 1), "label",
	    http_jstr(db_get(res, row, col + 2)), "is_deleted", db_get_bool(res, row, col + 3),
	    "upload", upload, "file", "id", db_get(res, row, col + 5));
}
