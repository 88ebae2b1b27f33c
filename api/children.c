/* children.c: what lies in a project or folder: children (direct, or every descendant whose
 * name matches), and the project's files with their download URLs. */
#include "children.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "config.h"
#include "db.h"
#include "folders.h"
#include "session.h"
#include "storage_http.h"
#include "views.h"
#include "wait.h"

/* Where the listing starts, for a parameter $1: the project root or a folder. */
#define CHILDREN_AT_PROJECT "project_id = $1 AND parent_id IS NULL"
#define CHILDREN_AT_FOLDER  "parent_id = $1"

/* The live folders below a project or folder (every folder up to `at` live too), as CTE
 * tree(id): the migration's settle_folder_subtree (0011) from the folders at `at`, given as
 * a lateral column (a sub-select as the argument would keep the planner from inlining it). */
#define CHILDREN_TREE(at)                                                                          \
	"tree(id) AS (SELECT s.id FROM (SELECT array_agg(id) FROM folders WHERE " at ") r(roots)," \
	" settle_folder_subtree(r.roots, true) s)"

/* The page of items(kind, id, name) with the columns of views_folder/views_file after the
 * kind, then the number of items (CHILDREN_TOTAL_COL); lim and off are the parameters of
 * LIMIT and OFFSET. */
#define CHILDREN_PAGE(lim, off)                                                                    \
	" SELECT pg.kind, x.*, pg.total FROM (SELECT kind, id, name, count(*) OVER () AS total"    \
	" FROM items ORDER BY kind DESC, name, id LIMIT " lim " OFFSET " off                       \
	") pg CROSS JOIN LATERAL (SELECT " VIEWS_SQL_FOLDER(                                       \
	    "f") ", NULL::text FROM folders f WHERE pg.kind = 'dds-folder' AND f.id = pg.id "      \
	         "UNION ALL"                                                                       \
	         " SELECT " VIEWS_SQL_FILE(                                                        \
	             "f") " FROM files f WHERE pg.kind = 'dds-file' AND"                           \
	                  " f.id = pg.id) x ORDER BY pg.kind DESC, pg.name, pg.id"

/* The CTE items(kind, id, name): direct live children at `at`. */
#define CHILDREN_DIRECT(at)                                                                        \
	"WITH items(kind, id, name) AS (SELECT 'dds-folder', id, name FROM folders WHERE " at      \
	" AND NOT is_deleted UNION ALL SELECT 'dds-file', id, name FROM files WHERE " at           \
	" AND NOT is_deleted)"

/* The CTE items(kind, id, name): every live descendant at `at` whose name matches $2. */
#define CHILDREN_DEEP(at)                                                                          \
	"WITH " CHILDREN_TREE(at) ", items(kind, id, name) AS (SELECT 'dds-folder', id,"           \
	                          " name FROM folders WHERE id IN (SELECT id FROM "                \
	                          "tree) AND name ILIKE $2 ESCAPE '\\'"                            \
	                          " UNION ALL SELECT 'dds-file', id, name FROM files "             \
	                          "WHERE NOT is_deleted AND name ILIKE $2"                         \
	                          " ESCAPE '\\' AND (" at                                          \
	                          " OR parent_id IN (SELECT id FROM tree)))"

/* The column of the total in CHILDREN_PAGE: after the kind, a file's 9 view columns (a
 * folder's 8 and a NULL). */
#define CHILDREN_TOTAL_COL 10

/* Count and page statements for [at folder][recursive]. */
static const char *const children_count_sql[2][2] = {
    {CHILDREN_DIRECT(CHILDREN_AT_PROJECT) " SELECT count(*) FROM items",
     CHILDREN_DEEP(CHILDREN_AT_PROJECT) " SELECT count(*) FROM items"},
    {CHILDREN_DIRECT(CHILDREN_AT_FOLDER) " SELECT count(*) FROM items",
     CHILDREN_DEEP(CHILDREN_AT_FOLDER) " SELECT count(*) FROM items"},
};
static const char *const children_page_sql[2][2] = {
    {CHILDREN_DIRECT(CHILDREN_AT_PROJECT) CHILDREN_PAGE("$2", "$3"),
     CHILDREN_DEEP(CHILDREN_AT_PROJECT) CHILDREN_PAGE("$3", "$4")},
    {CHILDREN_DIRECT(CHILDREN_AT_FOLDER) CHILDREN_PAGE("$2", "$3"),
     CHILDREN_DEEP(CHILDREN_AT_FOLDER) CHILDREN_PAGE("$3", "$4")},
};

/* "%text%" for ILIKE with \, % and _ escaped. Caller frees. */
static char *
children_pattern(const char *s)
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

/* An item of a children page: a folder or a file after its kind. New reference. */
static json_t *
children_item(const PGresult *res, int row, int col)
{
	const char *kind = db_get(res, row, col);

	return strcmp(kind, "dds-file") == 0 ? views_file(res, row, col + 1)
	                                     : views_folder(res, row, col + 1);
}

/* Lists the children of root (a project id, or a folder id when at_folder). */
static void
children_list(struct req *r, const char *root, int at_folder)
{
	const char *contains = http_query(r, "name_contains");
	int deep = contains != NULL;
	char *pattern = deep ? children_pattern(contains) : NULL;
	char lim[24], off[24];
	PGresult *res;
	int64_t page, per_page;

	if (http_paging_args(r, &page, &per_page, lim, off) < 0)
		goto out;
	if (deep && !http_utf8(contains)) {
		http_invalid(r, "name_contains", "must be UTF-8 text");
		goto out;
	}
	const char *q[] = {root, deep ? pattern : lim, deep ? lim : off, off};
	if ((res = db_exec(r->db, children_page_sql[at_folder][deep], 3 + deep, q)) == NULL)
		http_db_error(r);
	else
		http_answer_page_n(r, res, CHILDREN_TOTAL_COL, children_item,
		                   children_count_sql[at_folder][deep], 1 + deep, q, page,
		                   per_page);
out:
	free(pattern);
}

void
children_project(struct req *r)
{
	struct access_project p;

	if (access_project(r, r->params[0], ACCESS_VIEW, &p) == 1)
		children_list(r, p.id, 0);
}

void
children_folder(struct req *r)
{
	struct access_project p;

	if (folders_access(r, r->params[0], ACCESS_VIEW, &p) == 1)
		children_list(r, r->params[0], 1);
}

/* The live files of project $1 with their current upload, as CTE lf(id, name, project_id,
 * parent_id, created_at, upload_id): files at the root or under live folders only. */
#define CHILDREN_LIVE_FILES                                                                        \
	"WITH " CHILDREN_TREE(                                                                     \
	    CHILDREN_AT_PROJECT) ", lf AS (SELECT f.id, f.name,"                                   \
	                         " f.project_id, f.parent_id, f.created_at, cv.upload_id FROM "    \
	                         "files f CROSS JOIN LATERAL"                                      \
	                         " (SELECT v.upload_id FROM file_versions v WHERE v.file_id = "    \
	                         "f.id AND NOT v.is_deleted"                                       \
	                         " ORDER BY v.version DESC LIMIT 1) cv WHERE f.project_id = $1 "   \
	                         "AND NOT f.is_deleted AND"                                        \
	                         " (f.parent_id IS NULL OR f.parent_id IN (SELECT id FROM tree)))"

/* Counts the project's live files and those whose upload is not consistent yet, and tells
 * whether the caller may download them. Returns 0 with *total, *pending and *download set,
 * -1 on a database error (nothing answered). */
static int
children_files_count(struct req *r, const char *project, int64_t *total, int64_t *pending,
                     bool *download)
{
	const char *q[] = {project, r->user_id};
	PGresult *res =
	    db_exec(r->db,
	            CHILDREN_LIVE_FILES
	            " SELECT count(*), count(*) FILTER (WHERE NOT u.is_consistent), "
	            "(SELECT " ACCESS_SQL_CAN(
	                "p", "$2::uuid",
	                ACCESS_LIT(ACCESS_DOWNLOAD)) " FROM projects p WHERE p.id = $1) FROM lf"
	                                             " JOIN uploads u ON u.id = lf.upload_id",
	            2, q);

	if (res == NULL)
		return -1;
	*total = db_get_i64(res, 0, 0);
	*pending = db_get_i64(res, 0, 1);
	*download = db_get_bool(res, 0, 2);
	PQclear(res);
	return 0;
}

/* One item of GET /projects/{id}/files from a row of the page query, with its file_url
 * (carrying position lsn) when download, else null. New reference. */
static json_t *
children_file_item(const PGresult *res, int i, bool download, uint64_t lsn)
{
	json_t *url =
	    download ? storage_http_url("GET", db_get(res, i, 6), db_get(res, i, 5), 0, lsn) : NULL;
	json_t *item = json_pack(
	    "{s:s,s:s,s:I,s:o,s:o,s:o}", "id", db_get(res, i, 0), "name", db_get(res, i, 1), "size",
	    (json_int_t)db_get_i64(res, i, 2), "hashes", views_json_col(res, i, 3), "ancestors",
	    views_json_col(res, i, 4), "file_url", url != NULL ? url : json_null());

	views_safe_names(item);
	return item;
}

/* Whether the configured storage provider holds every file of the page res (its provider
 * in column 8) when the caller may download them (a file_url each); else false after
 * answering 503 (storage_http_holds). */
static bool
children_files_held(struct req *r, const PGresult *res, bool download)
{
	for (int i = 0; download && i < PQntuples(res); i++)
		if (!storage_http_holds(r, db_get(res, i, 8), 503))
			return false;
	return true;
}

void
children_project_files(struct req *r)
{
	struct access_project p;
	int64_t page, per_page, total, pending;
	bool download;
	char lim[24], off[24];
	PGresult *res = NULL;
	json_t *results;

	if (access_project(r, r->params[0], ACCESS_VIEW, &p) != 1 ||
	    http_paging_args(r, &page, &per_page, lim, off) < 0)
		return;
	if (children_files_count(r, p.id, &total, &pending, &download) < 0)
		goto fail;
	if (pending > 0) {
		/* Every job that makes an upload consistent also notifies its project's id. */
		if (!wait_for(r, p.id, children_project_files))
			http_not_consistent(r);
		return;
	}
	const char *q[] = {p.id, lim, off};
	res = db_exec(
	    r->db,
	    CHILDREN_LIVE_FILES
	    " SELECT lf.id, lf.name, u.size, " VIEWS_SQL_HASHES("u") "::text, " VIEWS_SQL_ANCESTORS(
	        "lf.project_id", "lf.parent_id") ", u.id, "
	                                         "u.storage_container,"
	                                         " " SESSION_SQL_POSITION ", u.storage_provider"
	                                         " FROM lf"
	                                         " JOIN uploads u ON u.id = "
	                                         "lf.upload_id ORDER BY "
	                                         "lf.created_at, lf.id"
	                                         " LIMIT $2 OFFSET $3",
	    3, q);
	if (res == NULL)
		goto fail;
	if (!children_files_held(r, res, download)) {
		PQclear(res);
		return;
	}
	results = json_array();
	if (PQntuples(res) > 0)
		session_saw(r, db_get(res, 0, 7));
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(results,
		                      children_file_item(res, i, download, r->session_lsn));
	PQclear(res);
	http_paging_headers(r, page, per_page, total);
	http_json(r, 200, json_pack("{s:o}", "results", results));
	return;
fail:
	http_db_error(r);
}
