#!/bin/bash
# entrypoint.sh of the postgres:15 stand-in (deploy/compose/postgres/Dockerfile). Run as
# root it gives $PGDATA to the postgres user and runs itself again as that user. When the
# command is `postgres` (or starts with an option) and $PGDATA holds no cluster yet, it
# makes one: superuser POSTGRES_USER (default postgres) with password POSTGRES_PASSWORD
# (scram-sha-256 from other hosts, trust on the local socket), database POSTGRES_DB
# (default the user's name), listening on every address; POSTGRES_INITDB_ARGS go to initdb.
# Then it execs the command.
set -euo pipefail

if [ "${1:0:1}" = "-" ]; then
	set -- postgres "$@"
fi
if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA"
	chown postgres:postgres "$PGDATA"
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups bash "${BASH_SOURCE[0]}" "$@"
fi
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
	user=${POSTGRES_USER:-postgres}
	db=${POSTGRES_DB:-$user}
	if [ -z "${POSTGRES_PASSWORD:-}" ]; then
		echo "postgres entrypoint: POSTGRES_PASSWORD is not set" >&2
		exit 1
	fi
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options
	initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust \
		--auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-}
	rm -f "$pwfile"
	echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
	echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
	if [ "$db" != postgres ]; then
		# Through stdin: psql interpolates :"db" there, not in -c.
		echo 'CREATE DATABASE :"db"' |
			psql -X -q -v ON_ERROR_STOP=1 -U "$user" -d postgres -v db="$db"
	fi
	pg_ctl -D "$PGDATA" -m fast -w stop
	echo "postgres entrypoint: cluster made (user $user, database $db)" >&2
fi
exec "$@"
