/* outbox.c: writes job rows in the caller's transaction. */
#include "outbox.h"

#include "db.h"
#include "uuid.h"

int
outbox_insert(PGconn *c, const char *kind, const char *resource_id)
{
	char id[UUID_STR_LEN];
	const char *params[3] = {id, kind, resource_id};

	uuid_generate(id);
	return db_cmd(c, SQL_OUTBOX_INSERT, params);
}
