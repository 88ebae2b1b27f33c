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
#include "trash.h"
#include "uuid.h"
#include "views.h"

/* The kinds of item the trash holds; r->params[0] names one ("dds-folder", "dds-file"). */
enum trashbin_kind { TRASHBIN_FOLDER, TRASHBIN_FILE };

/* Lookups (for ACCESS_SQL) of a folder and a file in the trash by $1. */
#define TRASHBIN_IN_FOLDER                                                                         \
	"SELECT project_id FROM folders t WHERE t.id = $1::uuid AND " TRASH_SQL_IN("t")
#define TRASHBIN_IN_FILE                                                                           \
	"SELECT project_id FROM files t WHERE t.id = $1::uuid AND " TRASH_SQL_IN("t")

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

/* An item of a listing: a folder or a file after its kind. New reference. */
static json_t *
trashbin_item(const PGresult *res, int row, int col)
{
	const char *kind = db_get(res, row, col);

	return strcmp(kind, "dds-file") == 0 ? views_file(res, row, col + 1)
	                                     : views_folder(res, row, col + 1);
}

/* GET /trashbin/{object_kind}/{object_id} (view_project): one statement per kind. */
static const char *const trashbin_get_sql[2] = {
    ACCESS_SQL_GET(TRASHBIN_IN_FOLDER, "folders x", VIEWS_SQL_FOLDER("x")),
    ACCESS_SQL_GET(TRASHBIN_IN_FILE, "files x", VIEWS_SQL_FILE("x")),
};

static void
trashbin_get(struct req *r)
{
	enum trashbin_kind kind;

	if (trashbin_kind(r, &kind) < 0)
		return;
	r->params[0] = r->params[1]; /* access_get reads the id from params[0] */
	if (kind == TRASHBIN_FILE)
		access_get(r, trashbin_get_sql[kind], "file", views_file);
	else
		access_get(r, trashbin_get_sql[kind], "folder", views_folder);
}

/* The CTE items(kind, id, name, deleted_at) of a trash listing, [at a folder][recursive],
 * for $1 (a project or folder id) and $2, the name pattern (NULL: no name_contains; "%%":
 * an empty one, which matches nothing, as in DDS). At a project: the trash roots (the items a
 * DELETE named, wherever they lay), or with recurse every item in the project's trash. At a
 * folder: what was trashed with it and lies directly in it (or, with recurse, anywhere
 * below it: the migration's walk, 0011); nothing at a live folder. */
#define TRASHBIN_NAME                                                                              \
	" AND ($2::text IS NULL OR ($2::text <> '%%' AND t.name ILIKE $2::text ESCAPE '\\'))"
#define TRASHBIN_AT_PROJECT(pred)                                                                  \
	"WITH items(kind, id, name, deleted_at) AS (SELECT 'dds-folder', t.id, t.name,"            \
	" t.deleted_at FROM folders t WHERE t.project_id = $1::uuid AND " pred("t") TRASHBIN_NAME  \
	    " UNION ALL SELECT 'dds-file', t.id, t.name, t.deleted_at FROM"                        \
	    " files t WHERE t.project_id = $1::uuid AND " pred("t") TRASHBIN_NAME ")"
#define TRASHBIN_GROUP                                                                             \
	"grp AS (SELECT COALESCE(g.deleted_with, g.id) AS id FROM folders g WHERE g.id = $1::uuid" \
	" AND " TRASH_SQL_IN("g") ")"
#define TRASHBIN_AT_FOLDER                                                                         \
	"WITH " TRASHBIN_GROUP                                                                     \
	", items(kind, id, name, deleted_at) AS (SELECT 'dds-folder', t.id,"                       \
	" t.name, t.deleted_at FROM folders t, grp WHERE t.parent_id = $1::uuid "                  \
	"AND " TRASH_SQL_IN(                                                                       \
	    "t") " AND t.deleted_with = grp.id" TRASHBIN_NAME                                      \
	         " UNION ALL SELECT 'dds-file', t.id, t.name, t.deleted_at FROM files t, grp"      \
	         " WHERE t.parent_id = $1::uuid AND " TRASH_SQL_IN(                                \
	             "t") " AND t.deleted_with = grp.id" TRASHBIN_NAME ")"
#define TRASHBIN_BELOW_FOLDER                                                                      \
	"WITH " TRASHBIN_GROUP ", sub AS (SELECT s.id FROM"                                        \
	" settle_folder_subtree(ARRAY[$1::uuid], false) s), items(kind, id, name, deleted_at) AS"  \
	" (SELECT 'dds-folder', t.id, t.name, t.deleted_at FROM folders t, grp WHERE t.id IN"      \
	" (SELECT id FROM sub) AND t.id <> $1::uuid AND " TRASH_SQL_IN(                            \
	    "t") " AND t.deleted_with = grp.id" TRASHBIN_NAME                                      \
	         " UNION ALL SELECT 'dds-file', t.id, t.name, t.deleted_at FROM files t, grp"      \
	         " WHERE t.parent_id IN (SELECT id FROM sub) AND " TRASH_SQL_IN(                   \
	             "t") " AND t.deleted_with = grp.id" TRASHBIN_NAME ")"

/* The page of items, most recently deleted first ($3 LIMIT, $4 OFFSET), with the columns of
 * views_folder/views_file after the kind, then the number of items (TRASHBIN_TOTAL_COL). */
#define TRASHBIN_PAGE                                                                              \
	" SELECT pg.kind, x.*, pg.total FROM (SELECT kind, id, name, deleted_at, count(*) OVER ()" \
	" AS total FROM items ORDER BY deleted_at DESC, id LIMIT $3 OFFSET $4) pg CROSS JOIN"      \
	" LATERAL (SELECT " VIEWS_SQL_FOLDER(                                                      \
	    "f") ", NULL::text FROM folders f WHERE pg.kind ="                                     \
	         " 'dds-folder' AND f.id = pg.id UNION ALL SELECT " VIEWS_SQL_FILE(                \
	             "f") " FROM files f WHERE pg.kind = 'dds-file' AND f.id = pg.id) x"           \
	                  " ORDER BY pg.deleted_at DESC, pg.id"
#define TRASHBIN_TOTAL_COL 10
#define TRASHBIN_COUNT     " SELECT count(*) FROM items"

/* Page and count statements, [0 project, 1 folder][recursive]. */
static const char *const trashbin_page_sql[2][2] = {
    {TRASHBIN_AT_PROJECT(TRASH_SQL_ROOT) TRASHBIN_PAGE,
     TRASHBIN_AT_PROJECT(TRASH_SQL_IN) TRASHBIN_PAGE},
    {TRASHBIN_AT_FOLDER TRASHBIN_PAGE, TRASHBIN_BELOW_FOLDER TRASHBIN_PAGE},
};
static const char *const trashbin_count_sql[2][2] = {
    {TRASHBIN_AT_PROJECT(TRASH_SQL_ROOT) TRASHBIN_COUNT,
     TRASHBIN_AT_PROJECT(TRASH_SQL_IN) TRASHBIN_COUNT},
    {TRASHBIN_AT_FOLDER TRASHBIN_COUNT, TRASHBIN_BELOW_FOLDER TRASHBIN_COUNT},
};

/* "%text%" for ILIKE with \, % and _ escaped ("%%" for ""). Caller frees. */
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
	const char *q[] = {root, pattern, lim, off};
	if ((res = db_exec(r->db, trashbin_page_sql[at_folder][deep], 4, q)) == NULL)
		http_db_error(r);
	else
		http_answer_page_n(r, res, TRASHBIN_TOTAL_COL, trashbin_item,
		                   trashbin_count_sql[at_folder][deep], 2, q, page, per_page);
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
	int rc = access_check(r,
	                      ACCESS_SQL_CHECK("SELECT project_id FROM folders WHERE id = $1::uuid"
	                                       " AND purged_at IS NULL"),
	                      r->params[0], ACCESS_VIEW, "folder", &p);

	if (rc == 1)
		trashbin_list(r, r->params[0], 1);
}

/* PUT /trashbin/{kind}/{id}/purge in one statement, [kind]: checks that the caller ($2) may
 * delete files in the item's project, purges the item ($1) if it is in the trash
 * (TRASH_SQL_PURGE), queues its resource.delete job ($3 message id, $4 kind), and answers
 * the verdict. An item purged already is found and left as it is. */
/* clang-format off */
#define TRASHBIN_PURGE(table) \
	"WITH acc AS (" ACCESS_SQL("SELECT project_id FROM " table " WHERE id = $1::uuid" \
	" AND is_deleted", ACCESS_LIT(ACCESS_DELETE)) "), " \
	"pur AS (" TRASH_SQL_PURGE(table, "SELECT $1::uuid FROM acc WHERE acc.member" \
	" AND NOT acc.is_deleted") "), " \
	OUTBOX_SQL_CTE("$3::uuid", "$4::text", "pur.id", "pur") \
	" SELECT acc.id IS NOT NULL, acc.member, acc.is_deleted, true" \
	" FROM (VALUES (1)) one LEFT JOIN acc ON true"
/* clang-format on */
static const char *const trashbin_purge_sql[2] = {TRASHBIN_PURGE("folders"),
                                                  TRASHBIN_PURGE("files")};

/* PUT /trashbin/{kind}/{id}/purge (delete_file): 204; the bytes go with the item's
 * resource.delete job. */
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
	if ((res = db_exec(r->db, trashbin_purge_sql[kind], 4, q)) == NULL)
		http_db_error(r);
	else if (access_verdict(r, res, 0, kind == TRASHBIN_FILE ? "file" : "folder") == 1)
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

/* The item's lock, [kind]: its parent and trash group, under a row lock, so that a
 * resource.delete job still trashing what lies below it has committed first and the
 * restore's next statement sees all of it. */
static const char *const trashbin_lock_sql[2] = {
    "SELECT COALESCE(t.parent_id::text, '') AS parent, COALESCE(t.deleted_with, t.id)::text"
    " AS grp FROM folders t WHERE t.id = $1::uuid AND " TRASH_SQL_IN("t") " FOR UPDATE",
    "SELECT COALESCE(t.parent_id::text, '') AS parent, COALESCE(t.deleted_with, t.id)::text"
    " AS grp FROM files t WHERE t.id = $1::uuid AND " TRASH_SQL_IN("t") " FOR UPDATE",
};

/* The access check of a restore, [kind]: the caller ($2) may delete files in the item's
 * project (DDS: destroy; every role that may also creates files); the project row is
 * locked, as for moves, so that no move or other restore changes the target meanwhile. */
static const char *const trashbin_access_sql[2] = {
    ACCESS_SQL_CHECK(TRASHBIN_IN_FOLDER) " FOR UPDATE OF p",
    ACCESS_SQL_CHECK(TRASHBIN_IN_FILE) " FOR UPDATE OF p",
};

/* In the open transaction: locks the item and reads its old parent and group into t. 1, 0
 * after answering 404 (purged meanwhile), -1 after answering a database error. */
static int
trashbin_lock(struct req *r, struct trashbin_restore *t)
{
	const char *q[] = {t->id};
	PGresult *res = db_exec(r->db, trashbin_lock_sql[t->kind], 1, q);
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
		         db_get(res, 0, PQfnumber(res, "parent")));
		snprintf(t->group, sizeof(t->group), "%s", db_get(res, 0, PQfnumber(res, "grp")));
	}
	PQclear(res);
	return rc;
}

/* Whether the target folder $1 exists in project $2 with every folder up to the root live,
 * and whether an item named like the restored one ($3, [kind]) lives in the target ($1, or
 * the root of project $2 when $1 is NULL). */
/* clang-format off */
#define TRASHBIN_TARGET(table) \
	"SELECT ($1::uuid IS NULL OR EXISTS (SELECT 1 FROM folders f WHERE f.id = $1::uuid" \
	" AND f.project_id = $2::uuid AND NOT EXISTS (SELECT 1 FROM settle_folder_ancestors($1::uuid)" \
	" up WHERE up.is_deleted))) AS live, (SELECT i.name FROM " table " i WHERE i.id = $3::uuid)" \
	" IN (SELECT name FROM folders WHERE project_id = $2::uuid AND parent_id IS NOT DISTINCT" \
	" FROM $1::uuid AND NOT is_deleted UNION ALL SELECT name FROM files WHERE project_id =" \
	" $2::uuid AND parent_id IS NOT DISTINCT FROM $1::uuid AND NOT is_deleted) AS taken"
/* clang-format on */
static const char *const trashbin_target_sql[2] = {TRASHBIN_TARGET("folders"),
                                                   TRASHBIN_TARGET("files")};

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
	if ((res = db_exec(r->db, trashbin_target_sql[t->kind], 3, q)) == NULL) {
		http_db_error(r);
		return -1;
	}
	if (!db_get_bool(res, 0, PQfnumber(res, "live")))
		http_error(
		    r, 404, "not_found",
		    "the parent does not exist, is in another project, or is in the trash bin",
		    "restore the parent first, or give another one");
	else if (db_get_bool(res, 0, PQfnumber(res, "taken")))
		http_error(r, 409, "conflict", "an item of the same name lives in the parent",
		           "rename or move that item, or restore into another parent");
	else
		rc = 1;
	PQclear(res);
	return rc;
}

/* The restore of item $1 of trash group $2 into parent folder $3 (NULL: the project root)
 * by user $4, [kind], in one statement: the item and what was trashed with it below it (one
 * walk down, settle_folder_subtree of 0011) leave the trash; answers the item's view. */
/* clang-format off */
#define TRASHBIN_LIVE_AGAIN \
	"is_deleted = false, deleted_with = NULL, deleted_at = NULL, deleted_by = NULL"
static const char *const trashbin_restore_sql[2] = {
	"WITH sub AS (SELECT s.id FROM settle_folder_subtree(ARRAY[$1::uuid], false) s), "
	"fo AS (UPDATE folders t SET " TRASHBIN_LIVE_AGAIN " WHERE t.id IN (SELECT id FROM sub)"
	" AND t.id <> $1::uuid AND " TRASH_SQL_IN("t") " AND t.deleted_with = $2::uuid), "
	"fi AS (UPDATE files t SET " TRASHBIN_LIVE_AGAIN " WHERE t.parent_id IN (SELECT id FROM sub)"
	" AND " TRASH_SQL_IN("t") " AND t.deleted_with = $2::uuid) "
	"UPDATE folders f SET " TRASHBIN_LIVE_AGAIN ", parent_id = $3::uuid, updated_at = now(),"
	" updated_by = $4::uuid WHERE f.id = $1::uuid AND COALESCE(f.deleted_with, f.id) = $2::uuid"
	" RETURNING " VIEWS_SQL_FOLDER("f"),
	"UPDATE files f SET " TRASHBIN_LIVE_AGAIN ", parent_id = $3::uuid, updated_at = now(),"
	" updated_by = $4::uuid WHERE f.id = $1::uuid AND COALESCE(f.deleted_with, f.id) = $2::uuid"
	" RETURNING " VIEWS_SQL_FILE("f"),
};
/* clang-format on */

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
	rc = access_check(r, trashbin_access_sql[t->kind], t->id, ACCESS_DELETE, what, &t->p);
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
	http_commit_result(r, 200, db_exec(r->db, trashbin_restore_sql[t->kind], 4, q), what,
	                   t->kind == TRASHBIN_FILE ? views_file : views_folder);
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
