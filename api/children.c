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

/* The page and count units of children_list for [at folder][recursive]. */
static const enum sql_unit children_page_units[2][2] = {
    {SQL_CHILDREN_PROJECT, SQL_CHILDREN_PROJECT_DEEP},
    {SQL_CHILDREN_FOLDER, SQL_CHILDREN_FOLDER_DEEP},
};
static const enum sql_unit children_count_units[2][2] = {
    {SQL_CHILDREN_PROJECT_COUNT, SQL_CHILDREN_PROJECT_DEEP_COUNT},
    {SQL_CHILDREN_FOLDER_COUNT, SQL_CHILDREN_FOLDER_DEEP_COUNT},
};
/* The four pages return the same columns: they are read by the names of children_project's. */
_Static_assert(HTTP_SAME_COLUMN(CHILDREN_PROJECT_DEEP_C_TOTAL, CHILDREN_PROJECT_C_TOTAL) &&
                   HTTP_SAME_COLUMN(CHILDREN_FOLDER_C_TOTAL, CHILDREN_PROJECT_C_TOTAL) &&
                   HTTP_SAME_COLUMN(CHILDREN_FOLDER_DEEP_C_TOTAL, CHILDREN_PROJECT_C_TOTAL) &&
                   HTTP_SAME_COLUMN(CHILDREN_PROJECT_DEEP_C_ID, CHILDREN_PROJECT_C_ID) &&
                   HTTP_SAME_COLUMN(CHILDREN_FOLDER_C_ID, CHILDREN_PROJECT_C_ID) &&
                   HTTP_SAME_COLUMN(CHILDREN_FOLDER_DEEP_C_ID, CHILDREN_PROJECT_C_ID),
               "the columns of the four pages");

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

/* An item of a children page (the row of res; col: 0, as http_answer_page_n gives it): a
 * folder or a file, by its kind. New reference. */
static json_t *
children_item(const PGresult *res, int row, int col)
{
	const char *kind = db_get(res, row, col + CHILDREN_PROJECT_C_KIND);

	return strcmp(kind, "dds-file") == 0 ? views_file(res, row, col + CHILDREN_PROJECT_C_ID)
	                                     : views_folder(res, row, col + CHILDREN_PROJECT_C_ID);
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
	if ((res = db_exec(r->db, children_page_units[at_folder][deep], q)) == NULL)
		http_db_error(r);
	else
		http_answer_page_n(r, res, CHILDREN_PROJECT_C_TOTAL, children_item,
		                   children_count_units[at_folder][deep], q, page, per_page);
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

/* Counts the project's live files and those whose upload is not consistent yet, and tells
 * whether the caller may download them. Returns 0 with *total, *pending and *download set,
 * -1 on a database error (nothing answered). */
static int
children_files_count(struct req *r, const char *project, int64_t *total, int64_t *pending,
                     bool *download)
{
	const char *q[] = {project, r->user_id};
	PGresult *res = db_exec(r->db, SQL_CHILDREN_FILES_COUNT, q);

	if (res == NULL)
		return -1;
	*total = db_get_i64(res, 0, CHILDREN_FILES_COUNT_C_TOTAL);
	*pending = db_get_i64(res, 0, CHILDREN_FILES_COUNT_C_PENDING);
	*download = db_get_bool(res, 0, CHILDREN_FILES_COUNT_C_DOWNLOAD);
	PQclear(res);
	return 0;
}

/* One item of GET /projects/{id}/files from a row of children_files, with its file_url
 * (carrying position lsn) when download, else null. New reference. */
static json_t *
children_file_item(const PGresult *res, int i, bool download, uint64_t lsn)
{
	json_t *url =
	    download ? storage_http_url("GET", db_get(res, i, CHILDREN_FILES_C_STORAGE_CONTAINER),
	                                db_get(res, i, CHILDREN_FILES_C_UPLOAD_ID), 0, lsn)
	             : NULL;
	json_t *item =
	    json_pack("{s:s,s:s,s:I,s:o,s:o,s:o}", "id", db_get(res, i, CHILDREN_FILES_C_ID),
	              "name", db_get(res, i, CHILDREN_FILES_C_NAME), "size",
	              (json_int_t)db_get_i64(res, i, CHILDREN_FILES_C_SIZE), "hashes",
	              views_json_col(res, i, CHILDREN_FILES_C_HASHES), "ancestors",
	              views_json_col(res, i, CHILDREN_FILES_C_ANCESTORS), "file_url",
	              url != NULL ? url : json_null());

	views_safe_names(item);
	return item;
}

/* Whether the configured storage provider holds every file of the page res (a result of
 * children_files) when the caller may download them (a file_url each); else false after
 * answering 503 (storage_http_holds). */
static bool
children_files_held(struct req *r, const PGresult *res, bool download)
{
	for (int i = 0; download && i < PQntuples(res); i++)
		if (!storage_http_holds(r, db_get(res, i, CHILDREN_FILES_C_STORAGE_PROVIDER), 503))
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
	res = db_exec(r->db, SQL_CHILDREN_FILES, q);
	if (res == NULL)
		goto fail;
	if (!children_files_held(r, res, download)) {
		PQclear(res);
		return;
	}
	results = json_array();
	if (PQntuples(res) > 0)
		session_saw(r, db_get(res, 0, CHILDREN_FILES_C_POSITION));
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
