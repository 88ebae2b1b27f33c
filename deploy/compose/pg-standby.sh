#!/bin/bash
# pg-standby.sh: the entrypoint of docker-compose.yml's postgres-standby (profile "replica"),
# run as user postgres in the postgres:15 image.
#
# On its first start ($PGDATA has no PG_VERSION) it makes its physical replication slot on
# the primary and copies the primary with pg_basebackup -R (so that it starts as a standby
# streaming from that slot) into $PGDATA.new, renamed to $PGDATA once complete: a copy cut
# short starts over. Then it runs postgres as a hot standby (its arguments are passed on:
# max_connections and the like must be at least the primary's, or the standby stops);
# later starts go on streaming from the slot. The primary's max_slot_wal_keep_size bounds
# what the slot keeps while the standby is away.
#
# The primary and the role come from libpq's variables (PGHOST, PGPORT, PGUSER, PGPASSWORD):
# the role needs REPLICATION and a `replication` line in the primary's pg_hba.conf
# (deploy/compose/pg_hba.conf). SETTLE_STANDBY_SLOT names the slot (default
# settle_standby_1; one per standby).
set -euo pipefail

slot=${SETTLE_STANDBY_SLOT:-settle_standby_1}
if ! [[ "$slot" =~ ^[a-z0-9_]{1,63}$ ]]; then
	echo "pg-standby: SETTLE_STANDBY_SLOT must be 1 to 63 of a-z, 0-9 and _, not '$slot'" >&2
	exit 2
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	until pg_isready -q -d postgres; do
		echo "pg-standby: waiting for the primary ${PGHOST:-}" >&2
		sleep 1
	done
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SELECT pg_create_physical_replication_slot('$slot', true)
		WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '$slot')" >/dev/null
	rm -rf "$PGDATA.new"
	echo "pg-standby: copying the primary (pg_basebackup, slot $slot)" >&2
	pg_basebackup -D "$PGDATA.new" -X stream -S "$slot" -R --checkpoint=fast
	rm -rf "$PGDATA"
	mv "$PGDATA.new" "$PGDATA"
fi
exec postgres -c hot_standby=on -c hot_standby_feedback=on "$@"
