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

/* A file_versions row alias v joined with its uploads row alias u. */
#define VIEWS_FILE_VERSION_NCOLS 6

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
