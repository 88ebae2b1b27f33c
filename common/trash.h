/* trash.h: the SQL of the trash bin (docs/api.md "Trash bin", migration 0015) that settle-api
 * and the workers share: what is in the trash, and how an item leaves it for good. */
#ifndef SETTLE_TRASH_H
#define SETTLE_TRASH_H

/* SQL, one boolean: the folders or files row alias t is in the trash (deleted, not yet
 * purged). */
#define TRASH_SQL_IN(t) "(" t ".is_deleted AND " t ".purged_at IS NULL)"

/* SQL, one boolean: the row alias t is a trash root, the item a DELETE named (not one
 * trashed with a folder above it). */
#define TRASH_SQL_ROOT(t) "(" TRASH_SQL_IN(t) " AND " t ".deleted_with IS NULL)"

/* SQL of a data-modifying statement (or CTE body) that purges the items of table (folders
 * or files) whose ids `ids` (a sub-select) selects, those of them in the trash: sets
 * purged_at and returns their id. The resource.delete job queued for each then purges
 * what was trashed with it and the bytes (jobs/resource_delete.c): the one way out
 * of the trash. */
#define TRASH_SQL_PURGE(table, ids)                                                                \
	"UPDATE " table " tp SET purged_at = now() WHERE tp.id IN (" ids                           \
	") AND " TRASH_SQL_IN("tp") " RETURNING tp.id"

#endif
