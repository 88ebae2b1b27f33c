/* views.h: the DDS JSON of projects, folders, files and file versions, shared by the
 * resource handlers. The nested parts (audit, ancestors, current version, hashes) are built
 * by Postgres in the same query (the columns of the views settle_project_view,
 * settle_folder_view, settle_file_view and settle_file_version_view, migration 0017), and
 * the views_* functions turn one result row into the object. */
#ifndef SETTLE_VIEWS_H
#define SETTLE_VIEWS_H

#include <jansson.h>
#include <libpq-fe.h>

/* The one auth provider: Settle's own user directory (API.md "Users, auth providers, roles
 * and project permissions"). */
#define VIEWS_AUTH_PROVIDER_ID         "00000000-0000-4000-8000-000000000002"
#define VIEWS_AUTH_PROVIDER_SERVICE_ID "00000000-0000-4000-8000-000000000003"
#define VIEWS_AUTH_PROVIDER_NAME       "Settle users"

/* SQL: a timestamptz expression as the API's "YYYY-MM-DDTHH:MM:SS.mmmZ" text. */
#define VIEWS_SQL_TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* SQL, one JSON expression: the dds-user of the users row alias u: kind, id, username,
 * first_name and last_name (the first word of full_name and the rest, or null), full_name,
 * email, auth_provider {id, source}, agent (null: rows do not record the agent). */
/* clang-format off */
#define VIEWS_SQL_USER_OBJ(u) \
	"json_build_object('kind', 'dds-user', 'id', " u ".id, 'username', " u ".username," \
	" 'first_name', NULLIF(split_part(" u ".full_name, ' ', 1), '')," \
	" 'last_name', NULLIF(substr(" u ".full_name, NULLIF(strpos(" u ".full_name, ' '), 0) + 1), '')," \
	" 'full_name', " u ".full_name, 'email', " u ".email, 'auth_provider'," \
	" json_build_object('id', '" VIEWS_AUTH_PROVIDER_ID "', 'source', '" VIEWS_AUTH_PROVIDER_NAME "')," \
	" 'agent', NULL)"
/* clang-format on */

/* SQL: the VIEWS_SQL_USER_OBJ of a users.id expression, or null. */
#define VIEWS_SQL_USER(u)                                                                          \
	"(SELECT " VIEWS_SQL_USER_OBJ("vu") " FROM users vu WHERE vu.id = (" u "))"

/* SQL: one "'key', value" pair of the audit object: a timestamp or a user. */
#define VIEWS_SQL_AUDIT_TS(key, x)   "'" key "', " VIEWS_SQL_TS(x)
#define VIEWS_SQL_AUDIT_USER(key, u) "'" key "', " VIEWS_SQL_USER(u)

/* SQL, one column: the audit object as JSON text, from six expressions (any may be NULL
 * typed, e.g. "NULL::timestamptz", "NULL::uuid"). */
/* clang-format off */
#define VIEWS_SQL_AUDIT6(cat, cby, uat, uby, dat, dby)                                             \
	"json_build_object("                                                                       \
	VIEWS_SQL_AUDIT_TS("created_on", cat) ", "                                                 \
	VIEWS_SQL_AUDIT_USER("created_by", cby) ", "                                               \
	VIEWS_SQL_AUDIT_TS("last_updated_on", uat) ", "                                            \
	VIEWS_SQL_AUDIT_USER("last_updated_by", uby) ", "                                          \
	VIEWS_SQL_AUDIT_TS("deleted_on", dat) ", "                                                 \
	VIEWS_SQL_AUDIT_USER("deleted_by", dby) ")::text"
/* clang-format on */

/* SQL, one column: the audit of a row of projects, folders or files (alias t), from its
 * created_at/by, updated_at/by, deleted_at/by columns (deleted_by: migration 0002). */
#define VIEWS_SQL_AUDIT(t)                                                                         \
	VIEWS_SQL_AUDIT6(t ".created_at", t ".created_by", t ".updated_at", t ".updated_by",       \
	                 t ".deleted_at", t ".deleted_by")

/* SQL, one column: the ancestors [{kind,id,name}] as JSON text: the project, then the
 * folders from the top down to folder (a folders.id expression; NULL: only the project),
 * walked by the migration's settle_folder_ancestors (0011). */
#define VIEWS_SQL_ANCESTORS(project, folder)                                                       \
	"(SELECT json_agg(vx.o ORDER BY vx.depth DESC NULLS FIRST) FROM ("                         \
	"SELECT json_build_object('kind', 'dds-project', 'id', vp.id, 'name', vp.name) AS o,"      \
	" NULL::integer AS depth FROM projects vp WHERE vp.id = (" project ") UNION ALL"           \
	" SELECT json_build_object('kind', 'dds-folder', 'id', va.id, 'name', va.name), va.depth"  \
	" FROM settle_folder_ancestors(" folder ") va) vx)::text"

/* SQL, one boolean: whether Settle verified the fingerprints row alias h of the uploads row
 * alias u: it is the whole-file hash given at complete and the worker's integrity check
 * found the stored bytes to match (consistent, no error). Any other hash is only reported
 * (docs/api.md "Reported and verified hashes"). */
#define VIEWS_SQL_HASH_VERIFIED(h, u)                                                              \
	"(" u ".is_consistent AND " u ".error_at IS NULL AND " h ".algorithm = " u                 \
	".completed_hash_algorithm AND lower(" h ".value) = lower(" u ".completed_hash_value))"

/* SQL, one JSON expression: the hash {algorithm, value, verified} of the fingerprints row
 * alias h of the uploads row alias u. */
#define VIEWS_SQL_HASH_OBJ(h, u)                                                                   \
	"json_build_object('algorithm', " h ".algorithm, 'value', " h                              \
	".value, 'verified', " VIEWS_SQL_HASH_VERIFIED(h, u) ")"

/* SQL, one JSON expression: the hashes [{algorithm, value, verified}] of the uploads row
 * alias u. */
#define VIEWS_SQL_HASHES(u)                                                                        \
	"COALESCE((SELECT json_agg(" VIEWS_SQL_HASH_OBJ(                                           \
	    "vh", u) " ORDER BY vh.algorithm)"                                                     \
	             " FROM fingerprints vh WHERE vh.upload_id = " u ".id), '[]'::json)"

/* SQL, one JSON expression: {id, size, hashes, storage_provider} of an uploads row alias,
 * storage_provider being the provider's name: views_file and views_file_version make it
 * the provider's object. */
#define VIEWS_SQL_UPLOAD_BRIEF(u)                                                                  \
	"json_build_object('id', " u ".id, 'size', " u                                             \
	".size, 'hashes', " VIEWS_SQL_HASHES(u) ", 'storage_provider', " u ".storage_provider)"

/* SQL, one column: the current version {id, version, label, upload {…}} of a files.id
 * expression (its highest live version) as JSON text, or NULL. */
#define VIEWS_SQL_CURRENT_VERSION(file)                                                            \
	"(SELECT json_build_object('id', vv.id, 'version', vv.version, 'label', vv.label,"         \
	" 'upload', " VIEWS_SQL_UPLOAD_BRIEF(                                                      \
	    "vu2") ")::text FROM file_versions vv JOIN uploads"                                    \
	           " vu2 ON vu2.id = vv.upload_id WHERE vv.file_id = (" file                       \
	           ") AND NOT vv.is_deleted"                                                       \
	           " ORDER BY vv.version DESC LIMIT 1)"

/* SQL, one boolean: whether the file_versions row alias v is its file's current version
 * (as VIEWS_SQL_CURRENT_VERSION: no live version is higher). The current version can be
 * neither deleted nor promoted. */
#define VIEWS_SQL_IS_CURRENT(v)                                                                    \
	"NOT EXISTS (SELECT 1 FROM file_versions vc WHERE vc.file_id = " v ".file_id"              \
	" AND vc.version > " v ".version AND NOT vc.is_deleted)"

/* A project's slug, as DDS makes it: the name in lower case, each run of other characters
 * than letters and digits one '_', none at either end; "_" when nothing is left. */
/* clang-format off */
#define VIEWS_SQL_SLUG(p) \
	"COALESCE(NULLIF(trim(BOTH '_' FROM regexp_replace(lower(" p ".name), '[^a-z0-9]+', '_'," \
	" 'g')), ''), '_')"
/* clang-format on */

/* Column lists for SELECT: a project's 7 columns, a folder's 8, a file's 9, a version's
 * VIEWS_FILE_VERSION_NCOLS (the views_* functions read them in this order). */
#define VIEWS_SQL_PROJECT(p)                                                                       \
	p ".id, " p ".name, " p ".description, " p ".is_deleted, " p                               \
	  ".is_consistent, " VIEWS_SQL_AUDIT(p) ", " VIEWS_SQL_SLUG(p)

/* The folder's columns, then its project's name. */
#define VIEWS_SQL_FOLDER(f)                                                                        \
	f ".id, " f ".name, " f ".project_id, " f ".parent_id, " f                                 \
	  ".is_deleted, " VIEWS_SQL_AUDIT(f) ", " VIEWS_SQL_ANCESTORS(                             \
	      f ".project_id",                                                                     \
	      f ".parent_id") ", (SELECT vp.name FROM projects vp WHERE vp.id = " f ".project_id)"

/* Same first 8 columns as a folder, then the current version. */
#define VIEWS_SQL_FILE(f) VIEWS_SQL_FOLDER(f) ", " VIEWS_SQL_CURRENT_VERSION(f ".id")

/* A file_versions row alias v joined with its uploads row alias u. */
#define VIEWS_FILE_VERSION_NCOLS 6
#define VIEWS_SQL_FILE_VERSION(v, u)                                                               \
	v ".id, " v ".version, " v ".label, " v                                                    \
	  ".is_deleted, " VIEWS_SQL_UPLOAD_BRIEF(u) "::text, " v ".file_id"

/* Parses a JSON-text column: new reference, JSON null for SQL NULL or bad text. */
json_t *views_json_col(const PGresult *res, int row, int col);

/* {"id","name","description"} of the storage provider named name (an upload's
 * uploads.storage_provider); JSON null for an unknown name. New reference. */
json_t *views_storage_provider(const char *name);

/* Replaces the provider's name at upload.storage_provider (settle_upload_brief) with
 * its object; leaves anything else (a JSON null upload) alone. Changes upload in place
 * (borrowed). */
void views_upload_provider(json_t *upload);

/* Serves the names of obj (a project, folder, file, upload, project permission or item of
 * GET /projects/{id}/files) in their safe form (names_safe, docs/api.md "Names"): its "name",
 * its "project"'s and each of its "ancestors"' that a row stored before the name rule
 * holds; a name that follows the rule is served as it is. Changes obj in place (borrowed). */
void views_safe_names(json_t *obj);

/* The objects of one row of res. Each reads consecutive columns that start at col (the
 * unit's <UNIT>_C_ID): a unit selects the columns of the view named below, in the view's
 * order and under its names. New references. */

/* The columns of settle_project_view: id, name, description, is_deleted, is_consistent,
 * audit, slug. */
json_t *views_project(const PGresult *res, int row, int col);
/* The columns of settle_folder_view: id, name, project_id, parent_id, is_deleted, audit,
 * ancestors, project_name. */
json_t *views_folder(const PGresult *res, int row, int col);
/* The columns of settle_file_view: those of settle_folder_view, then current_version. */
json_t *views_file(const PGresult *res, int row, int col);
/* The columns of settle_file_version_view: id, version, label, is_deleted, upload,
 * file_id. */
json_t *views_file_version(const PGresult *res, int row, int col);

#endif
