/* trashbin.c: the trash bin of DDS v1 (docs/api.md "Trash bin"): what a DELETE of a folder or
 * file moved there, its listings, and restore and purge of an item. The item's folder or
 * file rows stay where they were (is_deleted, migration 0015); the resource.delete job moves
 * what lay below a trashed folder to the trash with it, and purges the bytes of what leaves
 * the trash for good. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "db.h"
#include "folders.h"
#include "resource_delete.h"
#include "router.h"
#include "uuid.h"
#include "views.h"

/* The kinds of item the trash holds; r->params[0] names one ("dds-folder", "dds-file"). */
enum trashbin_kind { TRASHBIN_FOLDER, TRASHBIN_FILE };

/* Reads the kind of r->params[0] into *kind: 0, or -1 after answering 404 (DDS: "object
 * kind not supported"). */
static int
trashbin_kind(struct req *r, enum trashbin_kind *kind)
{
	if (strcmp(r->params[0], "dds-folder") == 0)
		*kind = TRASHBIN_FOLDER;
	else if (strcmp(r->params[0], "dds-file") == 0)
		*kind = TRASHBIN_FILE;
	else {
		http_error(r, 404, "not_found", "object kind not supported by the trash bin",
		           "use dds-folder or dds-file");
		return -1;
	}
	return 0;
}

/* The units of sql/trashbin.sql that do one thing for a folder and for a file, or for each
 * kind of listing, select the same columns: the code reads them all by the names of one. And
 * their columns are where the shared helpers read them: access_get the verdict, then the
 * item at ACCESS_VERDICT_NCOLS; http_commit_result the item from column 0. */
#define TRASHBIN_SAME(a, b) ((int)(a) == (int)(b))
#define TRASHBIN_SAME_PAGE(u)                                                                      \
	(TRASHBIN_SAME(u##_C_KIND, TRASHBIN_PAGE_ROOTS_C_KIND) &&                                  \
	 TRASHBIN_SAME(u##_C_ID, TRASHBIN_PAGE_ROOTS_C_ID) &&                                      \
	 TRASHBIN_SAME(u##_C_TOTAL, TRASHBIN_PAGE_ROOTS_C_TOTAL) &&                                \
	 TRASHBIN_SAME(u##_NCOLS, TRASHBIN_PAGE_ROOTS_NCOLS))
_Static_assert(TRASHBIN_SAME_PAGE(TRASHBIN_PAGE_PROJECT) &&
                   TRASHBIN_SAME_PAGE(TRASHBIN_PAGE_FOLDER) &&
                   TRASHBIN_SAME_PAGE(TRASHBIN_PAGE_BELOW),
               "the trash listings' page units differ in their columns");
_Static_assert(TRASHBIN_SAME(TRASHBIN_PURGE_FILE_C_FOUND, TRASHBIN_PURGE_FOLDER_C_FOUND) &&
                   TRASHBIN_SAME(TRASHBIN_LOCK_FILE_C_PARENT, TRASHBIN_LOCK_FOLDER_C_PARENT) &&
                   TRASHBIN_SAME(TRASHBIN_LOCK_FILE_C_GRP, TRASHBIN_LOCK_FOLDER_C_GRP) &&
                   TRASHBIN_SAME(TRASHBIN_TARGET_FILE_C_LIVE, TRASHBIN_TARGET_FOLDER_C_LIVE) &&
                   TRASHBIN_SAME(TRASHBIN_TARGET_FILE_C_TAKEN, TRASHBIN_TARGET_FOLDER_C_TAKEN),
               "a trash bin unit for files differs in its columns from the one for folders");
_Static_assert(TRASHBIN_GET_FOLDER_C_FOUND == 0 && TRASHBIN_GET_FILE_C_FOUND == 0 &&
                   TRASHBIN_GET_FOLDER_C_ID == ACCESS_VERDICT_NCOLS &&
                   TRASHBIN_GET_FILE_C_ID == ACCESS_VERDICT_NCOLS &&
                   TRASHBIN_RESTORE_FOLDER_C_ID == 0 && TRASHBIN_RESTORE_FILE_C_ID == 0,
               "a trash bin unit's columns are not where a shared helper reads them");

/* An item of a listing: a folder or a file after its kind. New reference. */
static json_t *
trashbin_item(const PGresult *res, int row, int col)
{
	const char *kind = db_get(res, row, TRASHBIN_PAGE_ROOTS_C_KIND);

	(void)col;
	return strcmp(kind, "dds-file") == 0 ? views_file(res, row, TRASHBIN_PAGE_ROOTS_C_ID)
	                                     : views_folder(res, row, TRASHBIN_PAGE_ROOTS_C_ID);
}

/* GET /trashbin/{object_kind}/{object_id} (view_project): one statement per kind. */
static void
trashbin_get(struct req *r)
{
	enum trashbin_kind kind;

	if (trashbin_kind(r, &kind) < 0)
		return;
	r->params[0] = r->params[1]; /* access_get reads the id from params[0] */
	if (kind == TRASHBIN_FILE)
		access_get(r, SQL_TRASHBIN_GET_FILE, "file", views_file);
	else
		access_get(r, SQL_TRASHBIN_GET_FOLDER, "folder", views_folder);
}

/* The page and count units of a listing at a project or (at_folder) a folder, recursive
 * (deep) or not: sql/trashbin.sql. */
static void
trashbin_list_units(int at_folder, bool deep, enum sql_unit *page, enum sql_unit *count)
{
	if (!at_folder) {
		*page = deep ? SQL_TRASHBIN_PAGE_PROJECT : SQL_TRASHBIN_PAGE_ROOTS;
		*count = deep ? SQL_TRASHBIN_COUNT_PROJECT : SQL_TRASHBIN_COUNT_ROOTS;
	} else {
		*page = deep ? SQL_TRASHBIN_PAGE_BELOW : SQL_TRASHBIN_PAGE_FOLDER;
		*count = deep ? SQL_TRASHBIN_COUNT_BELOW : SQL_TRASHBIN_COUNT_FOLDER;
	}
}

/* "%text%" for ILIKE with \, % and _ escaped ("%%" for ""): the pattern of
 * settle_name_contains (migration 0022). Caller frees. */
static char *
trashbin_pattern(const char *s)
{
	char *out = xmalloc(2 * strlen(s) + 3), *o = out;

	*o++ = '%';
	for (; *s; s++) {
		if (*s == '\\' || *s == '%' || *s == '_')
			*o++ = '\\';
		*o++ = *s;
	}
	*o++ = '%';
	*o = '\0';
	return out;
}

/* Reads ?recurse= (DDS: a Boolean): 0 with *on, or -1 after answering 400. */
static int
trashbin_recurse(struct req *r, bool *on)
{
	const char *v = http_query(r, "recurse");

	*on = false;
	if (v == NULL || strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
		return 0;
	if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0) {
		*on = true;
		return 0;
	}
	http_invalid(r, "recurse", "must be true or false");
	return -1;
}

/* Lists the trash at root (a project id, or a folder id when at_folder), paged. */
static void
trashbin_list(struct req *r, const char *root, int at_folder)
{
	const char *contains = http_query(r, "name_contains");
	char *pattern = NULL;
	enum sql_unit page_unit, count_unit;
	char lim[24], off[24];
	int64_t page, per_page;
	bool deep;
	PGresult *res;

	if (http_paging_args(r, &page, &per_page, lim, off) < 0 || trashbin_recurse(r, &deep) < 0)
		return;
	if (contains != NULL && !http_utf8(contains)) {
		http_invalid(r, "name_contains", "must be UTF-8 text");
		return;
	}
	if (contains != NULL)
		pattern = trashbin_pattern(contains);
	trashbin_list_units(at_folder, deep, &page_unit, &count_unit);
	const char *q[] = {root, pattern, lim, off};
	if ((res = db_exec(r->db, page_unit, q)) == NULL)
		http_db_error(r);
	else
		http_answer_page_n(r, res, TRASHBIN_PAGE_ROOTS_C_TOTAL, trashbin_item, count_unit,
		                   q, page, per_page);
	free(pattern);
}

/* GET /trashbin/projects/{id}/children?name_contains=&recurse= (view_project). */
static void
trashbin_project_children(struct req *r)
{
	struct access_project p;

	if (access_project(r, r->params[0], ACCESS_VIEW, &p) == 1)
		trashbin_list(r, p.id, 0);
}

/* GET /trashbin/folders/{id}/children?name_contains=&recurse= (view_project): any folder
 * not purged, live or in the trash. */
static void
trashbin_folder_children(struct req *r)
{
	struct access_project p;
	int rc =
	    access_check(r, SQL_TRASHBIN_FOLDER_ACCESS, r->params[0], ACCESS_VIEW, "folder", &p);

	if (rc == 1)
		trashbin_list(r, r->params[0], 1);
}

/* PUT /trashbin/{kind}/{id}/purge (delete_file): 204, in one statement (trashbin_purge_folder
 * or _file); the bytes go with the item's resource.delete job. */
static void
trashbin_purge(struct req *r)
{
	enum trashbin_kind kind;
	char mid[UUID_STR_LEN];
	PGresult *res;

	if (trashbin_kind(r, &kind) < 0)
		return;
	uuid_generate(mid);
	const char *q[] = {r->params[1], r->user_id, mid, JOB_RESOURCE_DELETE};
	res = db_exec(
	    r->db, kind == TRASHBIN_FILE ? SQL_TRASHBIN_PURGE_FILE : SQL_TRASHBIN_PURGE_FOLDER, q);
	if (res == NULL)
		http_db_error(r);
	else if (access_verdict(r, res, TRASHBIN_PURGE_FOLDER_C_FOUND,
	                        kind == TRASHBIN_FILE ? "file" : "folder") == 1)
		http_raw(r, 204,
		         MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT));
	PQclear(res);
}

/* What a restore asks for and finds. */
struct trashbin_restore {
	enum trashbin_kind kind;
	const char *id;      /* the item */
	bool to_folder;      /* the target is a folder (else the project root) */
	const char *parent;  /* the target folder, or the project id */
	char old_parent[37]; /* the item's parent folder, "" at the project root */
	char group[37];      /* the trash root it was trashed with */
	struct access_project p;
};

/* In the open transaction: locks the item and reads its old parent and group into t. 1, 0
 * after answering 404 (purged meanwhile), -1 after answering a database error. */
static int
trashbin_lock(struct req *r, struct trashbin_restore *t)
{
	const char *q[] = {t->id};
	PGresult *res = db_exec(
	    r->db, t->kind == TRASHBIN_FILE ? SQL_TRASHBIN_LOCK_FILE : SQL_TRASHBIN_LOCK_FOLDER, q);
	int rc = 1;

	if (res == NULL) {
		http_db_error(r);
		return -1;
	}
	if (PQntuples(res) == 0) {
		http_not_found(r, t->kind == TRASHBIN_FILE ? "file" : "folder");
		rc = 0;
	} else {
		snprintf(t->old_parent, sizeof(t->old_parent), "%s",
		         db_get(res, 0, TRASHBIN_LOCK_FOLDER_C_PARENT));
		snprintf(t->group, sizeof(t->group), "%s",
		         db_get(res, 0, TRASHBIN_LOCK_FOLDER_C_GRP));
	}
	PQclear(res);
	return rc;
}

/* In the open transaction: 1 when t's target is a live folder of the item's project, or
 * that project's root, with no live item of the same name in it; else 0 after answering
 * 404 (DDS: the parent does not exist or is itself in the trash bin) or 409; -1 after
 * answering a database error. */
static int
trashbin_target_ok(struct req *r, const struct trashbin_restore *t)
{
	const char *folder = t->to_folder ? t->parent : NULL;
	const char *q[] = {folder, t->p.id, t->id};
	PGresult *res;
	int rc = 0;

	if (!t->to_folder && strcasecmp(t->parent, t->p.id) != 0) {
		http_error(r, 404, "not_found", "the parent project is not the item's project",
		           "an item can be restored only into its own project");
		return 0;
	}
	res = db_exec(
	    r->db, t->kind == TRASHBIN_FILE ? SQL_TRASHBIN_TARGET_FILE : SQL_TRASHBIN_TARGET_FOLDER,
	    q);
	if (res == NULL) {
		http_db_error(r);
		return -1;
	}
	if (!db_get_bool(res, 0, TRASHBIN_TARGET_FOLDER_C_LIVE))
		http_error(
		    r, 404, "not_found",
		    "the parent does not exist, is in another project, or is in the trash bin",
		    "restore the parent first, or give another one");
	else if (db_get_bool(res, 0, TRASHBIN_TARGET_FOLDER_C_TAKEN))
		http_error(r, 409, "conflict", "an item of the same name lives in the parent",
		           "rename or move that item, or restore into another parent");
	else
		rc = 1;
	PQclear(res);
	return rc;
}

/* Reads the optional body {"parent": {"kind", "id"}} into t (else the old parent): 0, or
 * -1 after answering 400/404. */
static int
trashbin_read_target(struct req *r, json_t *body, struct trashbin_restore *t)
{
	int rc = folders_read_parent(r, body, false, &t->to_folder, &t->parent);

	if (rc < 0)
		return -1;
	if (rc == 0) {
		t->to_folder = t->old_parent[0] != '\0';
		t->parent = t->to_folder ? t->old_parent : t->p.id;
	}
	return 0;
}

/* Checks and restores in one transaction, then answers 200 with the item. */
static void
trashbin_restore_run(struct req *r, json_t *body, struct trashbin_restore *t)
{
	const char *what = t->kind == TRASHBIN_FILE ? "file" : "folder";
	int rc;

	if (db_begin(r->db) < 0)
		goto fail;
	rc = access_check(
	    r, t->kind == TRASHBIN_FILE ? SQL_TRASHBIN_ACCESS_FILE : SQL_TRASHBIN_ACCESS_FOLDER,
	    t->id, ACCESS_DELETE, what, &t->p);
	if (rc == 1)
		rc = trashbin_lock(r, t);
	if (rc == 1)
		rc = trashbin_read_target(r, body, t) < 0 ? 0 : 1;
	if (rc == 1)
		rc = trashbin_target_ok(r, t);
	if (rc == 1 && t->kind == TRASHBIN_FOLDER)
		rc = folders_depth_ok(r, t->to_folder ? t->parent : NULL, t->id, false);
	if (rc != 1)
		goto answered;
	const char *q[] = {t->id, t->group, t->to_folder ? t->parent : NULL, r->user_id};
	if (t->kind == TRASHBIN_FILE)
		http_commit_result(r, 200, db_exec(r->db, SQL_TRASHBIN_RESTORE_FILE, q), what,
		                   views_file);
	else
		http_commit_result(r, 200, db_exec(r->db, SQL_TRASHBIN_RESTORE_FOLDER, q), what,
		                   views_folder);
	return;
fail:
	http_db_error(r);
answered:
	db_rollback(r->db);
}

/* PUT /trashbin/{kind}/{id}/restore {"parent"?: {"kind", "id"}} (delete_file): 200 with
 * the item, live again in its old parent or the given one. */
static void
trashbin_restore(struct req *r)
{
	struct trashbin_restore t = {.id = r->params[1]};
	json_t *body;

	if (trashbin_kind(r, &t.kind) < 0)
		return;
	if ((body = http_body_object(r)) == NULL)
		return;
	trashbin_restore_run(r, body, &t);
	json_decref(body);
}

const struct route trashbin_routes[] = {
    {.method = "GET",
     .pattern = "/api/v1/trashbin/projects/:id:uuid/children",
     .flags = ROUTE_AUTH,
     .name = "trashbin.project_children",
     .handle = trashbin_project_children},
    {.method = "GET",
     .pattern = "/api/v1/trashbin/folders/:id:uuid/children",
     .flags = ROUTE_AUTH,
     .name = "trashbin.folder_children",
     .handle = trashbin_folder_children},
    {.method = "GET",
     .pattern = "/api/v1/trashbin/:object_kind:text/:object_id:uuid",
     .flags = ROUTE_AUTH,
     .name = "trashbin.get",
     .handle = trashbin_get},
    {.method = "PUT",
     .pattern = "/api/v1/trashbin/:object_kind:text/:object_id:uuid/restore",
     .flags = ROUTE_AUTH,
     .name = "trashbin.restore",
     .handle = trashbin_restore},
    {.method = "PUT",
     .pattern = "/api/v1/trashbin/:object_kind:text/:object_id:uuid/purge",
     .flags = ROUTE_AUTH | ROUTE_JOBS,
     .name = "trashbin.purge",
     .handle = trashbin_purge},
    {.method = NULL},
};
