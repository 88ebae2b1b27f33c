#!/usr/bin/env bash
# stack.sh: a private PostgreSQL (and RabbitMQ unless SETTLE_QUEUE=inline) for development,
# on free loopback ports, with all state under one directory. No docker, no systemd.
#
#   scripts/stack.sh start  [DIR]   start (or reuse) the servers; writes DIR/stack.env
#   scripts/stack.sh stop   [DIR]   stop what `start` started (pids recorded in DIR)
#   scripts/stack.sh status [DIR]   show what runs; exit 0 if everything runs, else 1
#
# DIR defaults to .settle/ at the top of the checkout. `start` reuses the existing data and
# the same ports when they are still free, and creates the `settle` database if missing.
# DIR/stack.env gets SETTLE_DATABASE_URL=… and (with RabbitMQ) SETTLE_AMQP_URL=… lines.
# Postgres runs durable (fsync, full_page_writes, synchronous_commit on) with
# pg_stat_statements loaded.
# With SETTLE_STORAGE=swift, `start` also starts a one-box Swift in DIR/swift (scripts/swift.sh)
# and adds its SETTLE_STORAGE and SETTLE_SWIFT_* settings to DIR/stack.env.
#
# SETTLE_PG_REPLICAS=N also starts N streaming standbys of that Postgres (pg_basebackup,
# one physical replication slot each, max_slot_wal_keep_size bounding what a dead one
# keeps), on free loopback ports; standby K's data directory is DIR/pg-replica-K (a
# symlink), and stack.env gets SETTLE_DATABASE_REPLICA_URLS='url1 url2 …'.
# SETTLE_PG_REPLICA_DELAY_MS=D makes every standby apply the WAL D ms late
# (recovery_min_apply_delay). `stop` stops every standby there is.
#
# SETTLE_MQ_NODES=N (default 1) starts N RabbitMQ nodes clustered (one Erlang cookie and
# epmd port; nodes 2..N in DIR/rabbitmq-K join node 1): stack.env's SETTLE_AMQP_URL lists
# every node's URL, comma-separated. Settle declares every queue as a quorum queue, so the
# cluster replicates each on all nodes. `stop` stops every node there is.
#
# PostgreSQL refuses to run as root: as root, its data directory belongs to `postgres`, and
# when DIR cannot be reached by that user (a checkout under /root), the data lives in
# /var/tmp/settle-pg-<id> with a symlink DIR/pg pointing to it.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
RABBIT_SBIN=${RABBIT_SBIN:-/usr/lib/rabbitmq/lib/rabbitmq_server-3.10.8/sbin}
PROG=stack.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
START_TIMEOUT=${SETTLE_STACK_TIMEOUT:-90}
PG_DURABLE="-c fsync=on -c full_page_writes=on -c synchronous_commit=on"

usage() {
	sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'
}

# ---- helpers ---------------------------------------------------------------------------

is_root() { [ "$(id -u)" -eq 0 ]; }

# Runs a command as the user that owns the Postgres data (postgres when we are root).
as_pg() {
	if is_root; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Reads DIR/state (KEY=VALUE lines written by save_state) into shell variables.
load_state() {
	PG_PORT="" AMQP_PORT="" DIST_PORT="" EPMD_PORT="" RABBIT_NODE="" PG_PID="" RABBIT_PID=""
	if [ -f "$DIR/state" ]; then
		while IFS='=' read -r k v; do
			case "$k" in
			PG_PORT | AMQP_PORT | DIST_PORT | EPMD_PORT | RABBIT_NODE | PG_PID | RABBIT_PID)
				printf -v "$k" '%s' "$v"
				;;
			esac
		done <"$DIR/state"
	fi
	return 0
}

save_state() {
	local tmp="$DIR/state.tmp"
	if [ "$RABBIT_K" != 1 ]; then # an extra node of the cluster: its own state file
		printf 'AMQP_PORT=%s\nDIST_PORT=%s\nRABBIT_NODE=%s\nRABBIT_PID=%s\n' "$AMQP_PORT" \
			"$DIST_PORT" "$RABBIT_NODE" "$RABBIT_PID" >"$RDIR/node.state.tmp"
		mv -f "$RDIR/node.state.tmp" "$RDIR/node.state"
		return 0
	fi
	{
		echo "PG_PORT=$PG_PORT"
		echo "PG_PID=$PG_PID"
		echo "AMQP_PORT=$AMQP_PORT"
		echo "DIST_PORT=$DIST_PORT"
		echo "EPMD_PORT=$EPMD_PORT"
		echo "RABBIT_NODE=$RABBIT_NODE"
		echo "RABBIT_PID=$RABBIT_PID"
	} >"$tmp"
	mv -f "$tmp" "$DIR/state"
}

# Sets PGROOT: a directory the Postgres user can write (DIR/pg or its symlinked target).
pg_root() {
	local link="$DIR/pg" target id
	if [ -L "$link" ]; then
		target=$(readlink "$link")
		mkdir -p "$target"
		is_root && chown postgres:postgres "$target"
		chmod 700 "$target"
		PGROOT=$target
		return 0
	fi
	mkdir -p "$link"
	if ! is_root; then
		PGROOT=$(cd "$link" && pwd -P)
		return 0
	fi
	chown postgres:postgres "$link"
	chmod 700 "$link"
	if runuser -u postgres -- test -w "$link" -a -x "$link"; then
		PGROOT=$(cd "$link" && pwd -P)
		return 0
	fi
	# The postgres user cannot reach DIR (e.g. under /root): keep the data elsewhere.
	rmdir "$link" 2>/dev/null || die "$link exists but user postgres cannot reach it"
	id=$(printf '%s' "$DIR" | cksum | cut -d' ' -f1)
	target="/var/tmp/settle-pg-$id"
	mkdir -p "$target"
	chown postgres:postgres "$target"
	chmod 700 "$target"
	ln -s "$target" "$link"
	PGROOT=$target
	say "postgres cannot reach $DIR; its data is in $target (symlink $link)"
}

# ---- PostgreSQL ------------------------------------------------------------------------

pg_running() {
	[ -n "$PG_PID" ] && pid_is "$PG_PID" "postgres" && [ -f "$PGROOT/data/postmaster.pid" ] &&
		[ "$(head -n1 "$PGROOT/data/postmaster.pid" 2>/dev/null)" = "$PG_PID" ]
}

pg_start() {
	pg_root
	if pg_running; then
		say "postgres already running (pid $PG_PID, port $PG_PORT)"
		if [ "$("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAXc \
			'SHOW fsync' 2>/dev/null || true)" != "on" ]; then
			say "warning: it was started without fsync; 'stack.sh stop' and start again to run durable"
		fi
		return 0
	fi
	if [ ! -f "$PGROOT/data/PG_VERSION" ]; then
		rm -rf "$PGROOT/data"
		as_pg "$PG_BIN/initdb" -D "$PGROOT/data" -A trust --nosync -U postgres -E UTF8 \
			>"$PGROOT/initdb.log" 2>&1 || {
			cat "$PGROOT/initdb.log" >&2
			die "initdb failed"
		}
	fi
	if ! port_free "$PG_PORT"; then
		[ -n "$PG_PORT" ] && say "port $PG_PORT is taken; postgres moves to a new port"
		PG_PORT=$(free_port)
	fi
	local sock="$PGROOT/sock"
	mkdir -p "$sock"
	is_root && chown postgres:postgres "$sock"
	# A Unix socket path is limited to 107 bytes; without room, TCP only.
	[ ${#sock} -le 80 ] || sock=""
	# Durable, as in production: every commit reaches the disk before it is acknowledged.
	# pg_stat_statements is loaded so that `make bench` can count statements per request.
	# Autovacuum looks at each database every 2 s instead of every minute: the outbox and
	# uploads churn with every upload, and a minute of their dead tuples cut the upload rate
	# by a third before vacuum ran (bench/notes.md).
	as_pg "$PG_BIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/postgres.log" -w -t "$START_TIMEOUT" \
		-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories='$sock' $PG_DURABLE -c shared_preload_libraries=pg_stat_statements -c max_connections=200 -c autovacuum_naptime=2s" \
		start >/dev/null 9>&- || {
		tail -n 20 "$PGROOT/postgres.log" >&2 || true
		die "postgres did not start (log: $PGROOT/postgres.log)"
	}
	PG_PID=$(head -n1 "$PGROOT/data/postmaster.pid")
	save_state
	say "postgres started (pid $PG_PID, port $PG_PORT)"
}

pg_create_db() {
	local exists
	exists=$("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'settle'")
	if [ "$exists" != "1" ]; then
		"$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres settle
	fi
}

pg_stop() {
	pg_root
	if ! pg_running; then
		PG_PID=""
		return 0
	fi
	as_pg "$PG_BIN/pg_ctl" -D "$PGROOT/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
	if pid_alive "$PG_PID"; then
		kill -TERM "$PG_PID" 2>/dev/null || true
		sleep 2
		pid_alive "$PG_PID" && kill -KILL "$PG_PID" 2>/dev/null || true
	fi
	say "postgres stopped (pid $PG_PID)"
	PG_PID=""
}

# ---- PostgreSQL standbys (SETTLE_PG_REPLICAS) --------------------------------------------

# WAL a replication slot may hold for a standby that stopped reading it.
PG_SLOT_KEEP=${SETTLE_PG_SLOT_KEEP:-1GB}

replica_count() {
	local n=${SETTLE_PG_REPLICAS:-0} d=${SETTLE_PG_REPLICA_DELAY_MS:-0}
	[[ "$n" =~ ^[0-9]+$ ]] && ((n <= 16)) || die "SETTLE_PG_REPLICAS must be 0 to 16, not '$n'"
	[[ "$d" =~ ^[0-9]+$ ]] || die "SETTLE_PG_REPLICA_DELAY_MS must be a number, not '$d'"
	echo "$n"
}

# The data directory of standby $1 (reachable by the Postgres user) and its link in DIR.
replica_data() { echo "$PGROOT/replica-$1"; }
replica_link() { echo "$DIR/pg-replica-$1"; }

# The pid of standby $1's postmaster when it runs, else nothing.
replica_pid() {
	local pidfile pid
	pidfile="$(replica_data "$1")/postmaster.pid"
	pid=$(head -n1 "$pidfile" 2>/dev/null) || return 0
	pid_is "$pid" "postgres" && echo "$pid"
	return 0
}

# The port standby $1 listens on (4th line of postmaster.pid).
replica_port() { sed -n 4p "$(replica_data "$1")/postmaster.pid" 2>/dev/null; }

pg_sql() {
	"$PG_BIN/psql" -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
		-tAqc "$1"
}

# Makes standby $1's slot on the primary and copies the primary into its data directory.
replica_create() {
	local k=$1 data slot="settle_replica_$1"
	data=$(replica_data "$k")
	pg_sql "SELECT pg_create_physical_replication_slot('$slot', true)
		WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '$slot')" \
		>/dev/null || die "cannot create replication slot $slot"
	rm -rf "$data"
	as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U postgres -D "$data" \
		-X stream -S "$slot" -R --no-sync --checkpoint=fast >"$PGROOT/replica-$k.basebackup.log" 2>&1 || {
		cat "$PGROOT/replica-$k.basebackup.log" >&2
		die "pg_basebackup of standby $k failed"
	}
	chmod 700 "$data"
}

# Starts standby $1 (made on first use), reusing its last port when still free.
replica_start() {
	local k=$1 data port pid
	data=$(replica_data "$k")
	ln -sfn "$data" "$(replica_link "$k")"
	pid=$(replica_pid "$k")
	if [ -n "$pid" ]; then
		say "standby $k already running (pid $pid, port $(replica_port "$k"))"
		return 0
	fi
	[ -f "$data/PG_VERSION" ] || replica_create "$k"
	port=$(cat "$PGROOT/replica-$k.port" 2>/dev/null || true)
	port_free "$port" || port=$(free_port)
	echo "$port" >"$PGROOT/replica-$k.port"
	rm -f "$data/postmaster.pid"
	as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$PGROOT/replica-$k.log" -w -t "$START_TIMEOUT" \
		-o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='' -c hot_standby=on -c hot_standby_feedback=on -c recovery_min_apply_delay=${SETTLE_PG_REPLICA_DELAY_MS:-0}ms -c max_connections=200" \
		start >/dev/null 9>&- || {
		tail -n 20 "$PGROOT/replica-$k.log" >&2 || true
		die "standby $k did not start (log: $PGROOT/replica-$k.log)"
	}
	say "standby $k started (pid $(replica_pid "$k"), port $port, delay ${SETTLE_PG_REPLICA_DELAY_MS:-0} ms)"
}

# Standby $1 stops; its data and slot stay for the next start.
replica_stop() {
	local k=$1 pid data
	data=$(replica_data "$k")
	pid=$(replica_pid "$k")
	[ -n "$pid" ] || return 0
	as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
	if pid_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	say "standby $k stopped (pid $pid)"
}

# The numbers of the standbys that have a link in DIR.
replica_list() {
	local l
	for l in "$DIR"/pg-replica-*; do
		[ -L "$l" ] && echo "${l##*-}"
	done | sort -n
}

# Starts standbys 1..N and stops any beyond N, so that what runs is what stack.env says.
replicas_start() {
	local n k
	n=$(replica_count)
	for k in $(replica_list); do
		((k > n)) && replica_stop "$k"
	done
	((n > 0)) || return 0
	pg_sql "ALTER SYSTEM SET max_slot_wal_keep_size = '$PG_SLOT_KEEP'" >/dev/null &&
		pg_sql "SELECT pg_reload_conf()" >/dev/null || die "cannot set max_slot_wal_keep_size"
	for ((k = 1; k <= n; k++)); do
		replica_start "$k"
	done
}

replicas_stop() {
	local k
	for k in $(replica_list); do
		replica_stop "$k"
	done
}

# The URLs of the running standbys 1..N, space-separated.
replica_urls() {
	local n k urls=""
	n=$(replica_count)
	for ((k = 1; k <= n; k++)); do
		[ -n "$(replica_pid "$k")" ] &&
			urls+="${urls:+ }postgresql://postgres@127.0.0.1:$(replica_port "$k")/settle"
	done
	echo "$urls"
}

# ---- RabbitMQ --------------------------------------------------------------------------

# The node the rabbit_* functions work on: node 1 in DIR/rabbitmq (its ports in DIR/state),
# or node K >= 2 of a cluster (rabbit_select K, in a subshell).
RABBIT_K=1
RDIR=""

# Makes node K (>= 2) current: its directory and its own state file; EPMD_PORT is shared.
rabbit_select() {
	local k v
	RABBIT_K=$1
	RDIR="$DIR/rabbitmq-$1"
	AMQP_PORT="" DIST_PORT="" RABBIT_NODE="" RABBIT_PID=""
	if [ -f "$RDIR/node.state" ]; then
		while IFS='=' read -r k v; do
			case "$k" in
			AMQP_PORT | DIST_PORT | RABBIT_NODE | RABBIT_PID) printf -v "$k" '%s' "$v" ;;
			esac
		done <"$RDIR/node.state"
	fi
}

# The extra nodes there are (2..), from their directories.
rabbit_extra_nodes() {
	local d
	for d in "$DIR"/rabbitmq-[0-9]*; do
		[ -d "$d" ] && echo "${d##*-}"
	done | sort -n
}

rabbit_env() {
	local r="$RDIR"
	export RABBITMQ_NODENAME="$RABBIT_NODE"
	export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
	export RABBITMQ_NODE_PORT="$AMQP_PORT"
	export RABBITMQ_DIST_PORT="$DIST_PORT"
	export RABBITMQ_MNESIA_BASE="$r/mnesia"
	export RABBITMQ_LOG_BASE="$r/log"
	export RABBITMQ_CONFIG_FILE="$r/rabbitmq"
	export RABBITMQ_ENABLED_PLUGINS_FILE="$r/enabled_plugins"
	export RABBITMQ_CONF_ENV_FILE="$r/rabbitmq-env.conf"
	export RABBITMQ_PID_FILE="$r/rabbit.pid"
	export HOME="$r/home"
	export ERL_EPMD_ADDRESS=127.0.0.1
	export ERL_EPMD_PORT="$EPMD_PORT"
	# rabbitmqctl's own distribution port: a private one, not the shared 35672-35682.
	RABBITMQ_CTL_DIST_PORT_MIN=$(free_port)
	export RABBITMQ_CTL_DIST_PORT_MIN RABBITMQ_CTL_DIST_PORT_MAX=$RABBITMQ_CTL_DIST_PORT_MIN
	# Erlang distribution on loopback only (the node's and rabbitmqctl's). Schedulers do not
	# busy-wait when idle (RabbitMQ's runtime tuning guide: +sbwt none): on a small machine
	# shared with Postgres and the workers, spinning schedulers take CPU they need.
	export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none"
	export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

rabbit_running() {
	[ -n "$RABBIT_PID" ] && pid_is "$RABBIT_PID" "beam" &&
		pid_is "$RABBIT_PID" "-home $RDIR/home "
}

rabbit_start() {
	local r="$RDIR" i
	if rabbit_running; then
		say "rabbitmq already running (pid $RABBIT_PID, port $AMQP_PORT)"
		return 0
	fi
	if [ -z "$RABBIT_NODE" ]; then
		RABBIT_NODE="settle$(printf '%s' "$DIR" | cksum | cut -d' ' -f1)-$$"
		[ "$RABBIT_K" = 1 ] || RABBIT_NODE+="-n$RABBIT_K"
		RABBIT_NODE+="@localhost"
	fi
	port_free "$AMQP_PORT" || AMQP_PORT=$(free_port)
	port_free "$DIST_PORT" && [ "$DIST_PORT" != "$AMQP_PORT" ] || DIST_PORT=$(free_port)
	# The extra nodes of a cluster use node 1's epmd, which runs by now.
	[ "$RABBIT_K" != 1 ] || port_free "$EPMD_PORT" && [ "$EPMD_PORT" != "$AMQP_PORT" ] &&
		[ "$EPMD_PORT" != "$DIST_PORT" ] || EPMD_PORT=$(free_port)
	mkdir -p "$r/mnesia" "$r/log" "$r/home"
	chmod 700 "$r/home"
	if [ "$RABBIT_K" != 1 ]; then # a cluster's nodes share node 1's Erlang cookie
		install -m 400 "$DIR/rabbitmq/home/.erlang.cookie" "$r/home/.erlang.cookie"
	fi
	printf 'loopback_users = none\nlisteners.tcp.default = 127.0.0.1:%s\n' "$AMQP_PORT" \
		>"$r/rabbitmq.conf"
	echo '[].' >"$r/enabled_plugins"
	: >"$r/rabbitmq-env.conf"
	rm -f "$r/rabbit.pid"
	save_state
	(
		rabbit_env
		cd "$r"
		exec setsid "$RABBIT_SBIN/rabbitmq-server" >>"$r/server.log" 2>&1 </dev/null 9>&-
	) &
	local launcher=$!
	for ((i = 0; i < START_TIMEOUT * 4; i++)); do
		port_open "$AMQP_PORT" && break
		if ! pid_alive "$launcher"; then
			tail -n 30 "$r/server.log" >&2 || true
			die "rabbitmq exited during start (log: $r/server.log, $r/log)"
		fi
		sleep 0.25
	done
	port_open "$AMQP_PORT" || die "rabbitmq did not open port $AMQP_PORT in ${START_TIMEOUT}s"
	(rabbit_env && timeout "$START_TIMEOUT" "$RABBIT_SBIN/rabbitmqctl" -q -n "$RABBIT_NODE" \
		await_startup >/dev/null) || die "rabbitmq did not finish booting (log: $r/log)"
	RABBIT_PID=$(cat "$r/rabbit.pid" 2>/dev/null || true)
	pid_alive "$RABBIT_PID" || die "rabbitmq pid file $r/rabbit.pid is missing"
	save_state
	if [ "$RABBIT_K" != 1 ] && [ ! -f "$r/joined" ]; then # it remembers its cluster after
		(rabbit_env && for c in stop_app "join_cluster $1" start_app; do
			# shellcheck disable=SC2086
			timeout "$START_TIMEOUT" "$RABBIT_SBIN/rabbitmqctl" -q -n "$RABBIT_NODE" $c \
				>/dev/null || exit 1
		done) || die "rabbitmq node $RABBIT_K could not join $1 (log: $r/log)"
		# Quorum queues declared before this node joined get a member on it too.
		(rabbit_env && timeout "$START_TIMEOUT" "$RABBIT_SBIN/rabbitmq-queues" -q -n "$RABBIT_NODE" \
			grow "$RABBIT_NODE" all >/dev/null) || die "rabbitmq-queues grow on node $RABBIT_K failed"
		touch "$r/joined"
	fi
	say "rabbitmq started (pid $RABBIT_PID, port $AMQP_PORT, node $RABBIT_NODE)"
}

rabbit_stop() {
	local i
	if ! rabbit_running; then
		RABBIT_PID=""
		return 0
	fi
	(rabbit_env && timeout 60 "$RABBIT_SBIN/rabbitmqctl" -q -n "$RABBIT_NODE" stop \
		"$RDIR/rabbit.pid" >/dev/null 2>&1) || true
	if pid_alive "$RABBIT_PID"; then
		kill -TERM "$RABBIT_PID" 2>/dev/null || true
		for ((i = 0; i < 40; i++)); do
			pid_alive "$RABBIT_PID" || break
			sleep 0.25
		done
		pid_alive "$RABBIT_PID" && kill -KILL "$RABBIT_PID" 2>/dev/null || true
	fi
	# The epmd on our private port was started by our nodes; nobody else uses that port.
	# Node 1 stops last (cmd_stop), so it takes the cluster's epmd with it.
	[ "$RABBIT_K" != 1 ] || (rabbit_env && epmd -kill >/dev/null 2>&1) || true
	say "rabbitmq stopped (pid $RABBIT_PID)"
	RABBIT_PID=""
}

# ---- commands --------------------------------------------------------------------------

# ",url" for every running extra node of the cluster.
rabbit_extra_urls() {
	local k
	for k in $(rabbit_extra_nodes); do
		(rabbit_select "$k" && rabbit_running && printf ',amqp://guest:guest@127.0.0.1:%s' "$AMQP_PORT") || true
	done
}

# Settle's URL of the primary (after pg_start): its Unix socket when it has one, the
# directory percent-encoded as the URL's host (so that a shell sourcing stack.env sees no
# special character), else 127.0.0.1. Settle runs on this host; the socket spares it and
# Postgres the kernel's TCP path (docs/configuration.md).
pg_url() {
	if [ -S "$PGROOT/sock/.s.PGSQL.$PG_PORT" ]; then
		echo "postgresql://postgres@$("$PY" -c 'import sys, urllib.parse
print(urllib.parse.quote(sys.argv[1], safe=""))' "$PGROOT/sock"):$PG_PORT/settle"
	else
		echo "postgresql://postgres@127.0.0.1:$PG_PORT/settle"
	fi
}

write_env() {
	local urls
	{
		echo "SETTLE_DATABASE_URL=$(pg_url)"
		if rabbit_running; then
			echo "SETTLE_AMQP_URL=amqp://guest:guest@127.0.0.1:$AMQP_PORT$(rabbit_extra_urls)"
		fi
		urls=$(replica_urls)
		[ -z "$urls" ] || echo "SETTLE_DATABASE_REPLICA_URLS='$urls'"
		if [ "${SETTLE_STORAGE:-local}" = "swift" ]; then
			"$TOP/scripts/swift.sh" env "$DIR/swift"
		fi
	} >"$DIR/stack.env.tmp"
	mv -f "$DIR/stack.env.tmp" "$DIR/stack.env"
}

cmd_start() {
	local k nodes=${SETTLE_MQ_NODES:-1}
	[[ "$nodes" =~ ^[1-9]$ ]] || die "SETTLE_MQ_NODES must be 1 to 9, not '$nodes'"
	replica_count >/dev/null
	pg_start
	pg_create_db
	replicas_start
	if [ "${SETTLE_QUEUE:-rabbitmq}" != "inline" ]; then
		rabbit_start
		local first=$RABBIT_NODE
		for ((k = 2; k <= nodes; k++)); do
			(rabbit_select "$k" && rabbit_start "$first")
		done
	fi
	if [ "${SETTLE_STORAGE:-local}" = "swift" ]; then
		"$TOP/scripts/swift.sh" start "$DIR/swift" >/dev/null
	fi
	write_env
	cat "$DIR/stack.env"
}

cmd_stop() {
	local k
	if [ -f "$DIR/swift/state" ]; then
		"$TOP/scripts/swift.sh" stop "$DIR/swift"
	fi
	for k in $(rabbit_extra_nodes); do
		(rabbit_select "$k" && rabbit_stop)
	done
	rabbit_stop
	pg_root
	replicas_stop
	pg_stop
	save_state
	rm -f "$DIR/stack.env"
}

cmd_status() {
	local ok=0 k
	pg_root
	if pg_running; then
		echo "postgres: running (pid $PG_PID, port $PG_PORT, data $PGROOT/data)"
	else
		echo "postgres: stopped"
		ok=1
	fi
	for k in $(replica_list); do
		if [ -n "$(replica_pid "$k")" ]; then
			echo "standby $k: running (pid $(replica_pid "$k"), port $(replica_port "$k"))"
		else
			echo "standby $k: stopped"
		fi
	done
	if rabbit_running; then
		echo "rabbitmq: running (pid $RABBIT_PID, port $AMQP_PORT, node $RABBIT_NODE)"
	elif [ "${SETTLE_QUEUE:-rabbitmq}" = "inline" ]; then
		echo "rabbitmq: stopped (not needed: SETTLE_QUEUE=inline)"
	else
		echo "rabbitmq: stopped"
		ok=1
	fi
	for k in $(rabbit_extra_nodes); do
		if (rabbit_select "$k" && rabbit_running); then
			(rabbit_select "$k" && echo "rabbitmq node $k: running (pid $RABBIT_PID, port $AMQP_PORT, node $RABBIT_NODE)")
		else
			echo "rabbitmq node $k: stopped"
			ok=1
		fi
	done
	if [ "${SETTLE_STORAGE:-local}" = "swift" ]; then
		"$TOP/scripts/swift.sh" status "$DIR/swift" | sed 's/^/swift /' || ok=1
	fi
	return $ok
}

main() {
	local cmd=${1:-}
	case "$cmd" in
	start | stop | status) ;;
	-h | --help | help)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
	TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	DIR=${2:-$TOP/.settle}
	mkdir -p "$DIR"
	DIR=$(cd "$DIR" && pwd)
	# One stack.sh at a time per DIR.
	exec 9>"$DIR/stack.lock"
	flock -w 120 9 || die "another stack.sh holds $DIR/stack.lock"
	load_state
	RDIR="$DIR/rabbitmq"
	"cmd_$cmd"
}

main "$@"
