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
	if (db_cmd(c, "INSERT INTO outbox(id, kind, resource_id) VALUES ($1, $2, $3)", 3, params) <
	    0)
		return -1;
	return db_cmd(c, "NOTIFY settle_outbox", 0, NULL);
}
