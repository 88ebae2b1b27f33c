#!/usr/bin/env bash
# run.sh: Settle's benchmarks (what `make bench` calls after `scripts/deps.sh --bench`).
#
# Builds a release build in build-bench/, starts a fresh private Postgres (durable: fsync,
# full_page_writes, synchronous_commit on) and RabbitMQ (scripts/stack.sh, state in
# bench/out/stack), settle-api and 2 settle-workers on loopback, runs every benchmark beside
# its references measured in the same run, and writes bench/results.md (also printed). The
# last phase (bench/swift.sh) starts a one-box Swift and runs settle-api and the workers on
# it instead. Raw outputs and logs: bench/out/ (statements-<phase>.txt: the top statements
# per flow).
# Timings never fail the run: the exit status is non-zero only when something broke.
#
# Every timed load phase runs BENCH_ROUNDS consecutive rounds of BENCH_DURATION and the
# report shows every round, the median and the worst. Each reference (pgbench -S, pgbench
# TPC-B, openssl md5, dd with fsync, mqrate) runs at least 3 times, interleaved with the
# figures it is the reference of; ratios use its median. For each load phase the report
# gives Postgres transactions and statements per flow (pg_stat_database, pg_stat_statements).
#
#   BENCH_DURATION  seconds of each round of a timed phase, and of each pgbench (default 10)
#   BENCH_ROUNDS    rounds of each timed phase (default 5)
#   BENCH_JOBS      upload.complete jobs of each job-throughput round (default 50000)
#   BENCH_JOB_ROUNDS  rounds of the job-throughput phase (default 1: a durable drain of 50,000
#                   jobs takes minutes; 2 or more show its spread)
#   BENCH_CLIENTS   clients of the Prefer: wait and the first polling flow phase (default 16)
#   BENCH_BIG_MB    size of the integrity and ingest uploads and of dd in MiB (default 1024;
#                   3 rounds)
#   BENCH_PHASES    the phases to run, of: read (read and 404 paths), replicas (one streaming
#                   standby: bench/replicas.sh), flows, jobs, big (integrity and ingest),
#                   swift (bench/swift.sh), mqcluster (the polling flow again on a 3-node
#                   RabbitMQ cluster: nodes 2 and 3 join the stack's node, which is then
#                   a cluster until the end of the run); default all of them. For development: a partial
#                   run's report shows "?" for what did not run.
#   BENCH_SWIFT_*   the Swift phase's clients, chunk size and chunks per file: bench/swift.sh
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=$TOP/bench
OUT=$B/out
BUILD=$TOP/build-bench
BIN=$OUT/bin
LOGS=$OUT/logs
STACK=$OUT/stack
STORAGE=$OUT/storage
RES=$OUT/results.env
PY=/usr/bin/python3
D=${BENCH_DURATION:-10}
JOBS=${BENCH_JOBS:-50000}
CLIENTS=${BENCH_CLIENTS:-16}
BIG_MB=${BENCH_BIG_MB:-1024}
ROUNDS=${BENCH_ROUNDS:-5}
JOB_ROUNDS=${BENCH_JOB_ROUNDS:-1}
BIG_ROUNDS=3
MQ_N=$((JOBS < 20000 ? JOBS : 20000)) # messages of each mqrate reference run
PG_BIN=/usr/lib/postgresql/15/bin
PHASES=" ${BENCH_PHASES:-read replicas flows jobs big swift mqcluster} "
# The stack starts without standbys; the replicas phase adds one and takes it away.
unset SETTLE_PG_REPLICAS SETTLE_PG_REPLICA_DELAY_MS SETTLE_DATABASE_REPLICA_URLS

log() { echo "bench: $(date +%T) $*" >&2; }
die() {
	log "FAILED: $*"
	exit 1
}

# ---- cleanup: everything started here is stopped by pid ----------------------------------

PIDS=()
CPU_PID=""
STACK_STARTED=0
cleanup() {
	local rc=$? pid
	trap '' INT TERM
	[ -n "$CPU_PID" ] && kill "$CPU_PID" 2>/dev/null || true
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	swift_bench_stop
	[ "$STACK_STARTED" = 1 ] && "$TOP/scripts/stack.sh" stop "$STACK" >/dev/null 2>&1 || true
	rm -rf "$STORAGE"
	[ "$rc" = 0 ] || log "exit $rc (logs in $LOGS)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

put() { echo "$1=$2" >>"$RES"; }           # records one result
kv() { sed -n "s/^$2=//p" "$1" | head -n1; } # KEY=VALUE lookup in a file
sql() { "$PG_BIN/psql" "$SETTLE_DATABASE_URL" -v ON_ERROR_STOP=1 -qtAX "$@"; }
phase() { [[ "$PHASES" == *" $1 "* ]]; } # whether BENCH_PHASES names phase $1
# shellcheck source=bench/swift.sh
. "$B/swift.sh" # the last phase; defines functions only

# Samples per-process CPU while the phase named $1 runs: cpu_start NAME ... cpu_stop.
# CPU_GROUPS: more NAME=PID,... groups (a phase's own servers: a standby, Swift).
CPU_GROUPS=()
cpu_start() {
	CPU_NAME=$1
	"$PY" "$B/cpushare.py" "api=$API_PID" "worker=$(IFS=,; echo "${WORKER_PIDS[*]}")" "pg=$(kv "$STACK/state" PG_PID)" \
		"mq=$(kv "$STACK/state" RABBIT_PID)" "${CPU_GROUPS[@]}" >"$OUT/cpu.$1" &
	CPU_PID=$!
}
cpu_stop() {
	kill "$CPU_PID" 2>/dev/null || true
	wait "$CPU_PID" 2>/dev/null || true
	CPU_PID=""
	put "cpu_$CPU_NAME" "$(cat "$OUT/cpu.$CPU_NAME")"
}

# ---- build -----------------------------------------------------------------------------

T_START=$(date +%s)
# A previous run killed before its cleanup may have left its servers up: stop them (by the
# pids stack.sh recorded) before the state goes.
[ -f "$STACK/state" ] && "$TOP/scripts/stack.sh" stop "$STACK" >/dev/null 2>&1 || true
rm -rf "$OUT/stack" "$STORAGE" "$LOGS" "$RES" "$OUT"/cpuprofile-*.tsv
mkdir -p "$OUT" "$BIN" "$LOGS" "$STORAGE"
log "release build in $BUILD"
for attempt in 1 2 3 4; do
	if cmake -S "$TOP" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSETTLE_TESTS=OFF \
		>"$LOGS/build.log" 2>&1 && cmake --build "$BUILD" -j2 >>"$LOGS/build.log" 2>&1; then
		break
	fi
	[ "$attempt" = 4 ] && { tail -20 "$LOGS/build.log" >&2; die "build failed"; }
	log "build failed (attempt $attempt; others may be mid-change); retrying in 20 s"
	sleep 20
done
cc -O2 -Wall -Wextra -o "$BIN/loadgen" "$B/loadgen.c" -lcrypto -lpthread
cc -O2 -Wall -Wextra -o "$BIN/mqrate" "$B/mqrate.c" -lrabbitmq

# ---- stack, API, workers ---------------------------------------------------------------

log "starting private Postgres and RabbitMQ"
STACK_STARTED=1
"$TOP/scripts/stack.sh" start "$STACK" >"$LOGS/stack.log" 2>&1 || { cat "$LOGS/stack.log" >&2; die "stack"; }
set -a
# shellcheck disable=SC1091
. "$STACK/stack.env"
set +a
PGPORT=$(kv "$STACK/state" PG_PORT)
# psql and pgbench reach Postgres as Settle does (scripts/stack.sh pg_url: its Unix socket,
# when it has one), so that the references pay the same transport as the flows.
PGHOST=$(sql -c "SELECT coalesce(host(inet_server_addr()), current_setting('unix_socket_directories'))")
AMQP_PORT=${SETTLE_AMQP_URL##*:}
API_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export SETTLE_LISTEN=127.0.0.1:$API_PORT SETTLE_STORAGE_DIR=$STORAGE SETTLE_LOG_LEVEL=info
# Every load generator connection comes from 127.0.0.1, as from a load balancer.
export SETTLE_MAX_CONNECTIONS_PER_IP=${SETTLE_MAX_CONNECTIONS_PER_IP:-0}
SETTLE_SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
export SETTLE_SECRET
API=http://127.0.0.1:$API_PORT

"$BUILD/settle" migrate >"$LOGS/migrate.log" 2>&1 || die "settle migrate (see $LOGS/migrate.log)"
"$BUILD/settle" user create bench >"$OUT/keys" 2>>"$LOGS/migrate.log"
"$BUILD/settle" agent create bench >>"$OUT/keys" 2>>"$LOGS/migrate.log"
USER_ID=$(kv "$OUT/keys" SETTLE_USER_ID)

api_start() { # LOG [VAR=VALUE ...]: starts settle-api (with those settings) and waits until ready
	env "${@:2}" "$BUILD/settle-api" >"$LOGS/$1" 2>&1 &
	API_PID=$!
	PIDS+=("$API_PID")
	for _ in $(seq 300); do
		curl -fs "$API/readyz" >/dev/null 2>&1 && return 0
		kill -0 "$API_PID" 2>/dev/null || die "settle-api exited (see $LOGS/$1)"
		sleep 0.1
	done
	die "settle-api not ready (see $LOGS/$1)"
}
api_stop() { # SIGTERM: it finishes the requests in hand and exits
	local p keep=()
	kill -TERM "$API_PID" 2>/dev/null || true
	wait "$API_PID" 2>/dev/null || true
	for p in "${PIDS[@]}"; do [ "$p" = "$API_PID" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}
start_worker() { # K LOG [VAR=VALUE ...]: starts settle-worker K (with those settings)
	env "${@:3}" "$BUILD/settle-worker" >"$LOGS/$2" 2>&1 &
	WORKER_PIDS[$1]=$!
	PIDS+=("$!")
}
workers_stop() { # SIGTERM: they finish and ack the jobs in hand and exit
	local p keep=()
	for p in "${WORKER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${WORKER_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do [[ " ${WORKER_PIDS[*]} " == *" $p "* ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
	WORKER_PIDS=()
}
WORKER_PIDS=()
start_worker 1 worker1.log
start_worker 2 worker2.log
api_start api.log

log "setup: token, project, files"
"$PY" "$B/setup.py" "$API" "$(kv "$OUT/keys" SETTLE_AGENT_KEY)" "$(kv "$OUT/keys" SETTLE_USER_KEY)" \
	>"$OUT/setup.env" || die "setup.py"
TOKEN=$(kv "$OUT/setup.env" TOKEN)
PROJECT=$(kv "$OUT/setup.env" PROJECT)
FILE_OK=$(kv "$OUT/setup.env" FILE_OK)
FILE_PENDING=$(kv "$OUT/setup.env" FILE_PENDING)
sql -c "UPDATE uploads SET is_consistent = false, consistent_at = NULL WHERE id = '$(kv "$OUT/setup.env" PENDING_UPLOAD)'"
CONTAINER=$(sql -c "SELECT storage_container FROM projects WHERE id = '$PROJECT'")
export SETTLE_TOKEN=$TOKEN

# ---- machine facts ---------------------------------------------------------------------

put cores "$(nproc)"
put machine_cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
put mem "$(free -m | awk '/^Mem:/ {print $2 " MiB"}')"
put kernel "$(uname -r)"
put postgres "$(sql -c 'SHOW server_version')"
put rabbitmq "$(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null)"
put erlang "$(dpkg-query -W -f='${Version}' erlang-base 2>/dev/null)"
for p in libmicrohttpd-dev librabbitmq-dev libpq-dev libjansson-dev libssl-dev wrk postgresql-contrib; do
	put "pkg_$p" "$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null)"
done
put compiler "$(cc --version | head -n1)"
put git "$(git -C "$TOP" rev-parse --short HEAD)$(git -C "$TOP" diff --quiet HEAD -- api common worker cli migrations 2>/dev/null || echo '+local changes')"
put duration "$D"
put big_mb "$BIG_MB"
put api_threads "${SETTLE_THREADS:-4}"
put worker_threads "${SETTLE_WORKER_THREADS:-4}"

put rounds "$ROUNDS"
put job_rounds "$JOB_ROUNDS"
put big_rounds "$BIG_ROUNDS"
put clients "$CLIENTS"
put mq_messages "$MQ_N"

# ---- what every benchmark ran with ------------------------------------------------------

# shellcheck disable=SC2016
put pg_settings "$(sql -F ' ' -c "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings
  WHERE name IN ('fsync', 'full_page_writes', 'synchronous_commit', 'wal_sync_method', 'shared_buffers',
                 'max_connections', 'shared_preload_libraries', 'wal_level')")"
[ "$(sql -c 'SHOW fsync')" = on ] || log "warning: Postgres runs with fsync off"

# ---- measuring helpers: transactions and statements per flow ----------------------------
#
# Counted in the settle database only: xact_commit + xact_rollback from pg_stat_database
# and the calls of pg_stat_statements (reset when a phase starts). Both are read from the
# postgres database, so reading them adds nothing to what they count. A backend flushes its
# transaction counters to pg_stat_database at most once a second while busy and up to 10 s
# after it goes idle (PGSTAT_IDLE_INTERVAL), so a phase's counts are read FLUSH_S after its
# load stopped; the reference that follows a phase runs in that time.

FLUSH_S=12
pg() { "$PG_BIN/psql" -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtAX "$@"; }
sql -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
pg -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
SETTLE_OID=$(pg -c "SELECT oid FROM pg_database WHERE datname = 'settle'")
xacts() { pg -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'settle'"; }
stmts() { pg -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE dbid = $SETTLE_OID"; }
# Postgres's execution time (ms, wall time inside the executor: CPU and the waits for locks
# and I/O) and WAL bytes of the settle database's statements since the reset, "MS BYTES".
pgcost() {
	pg -F ' ' -c "SELECT round(coalesce(sum(total_exec_time + total_plan_time), 0)::numeric, 1),
	    coalesce(sum(wal_bytes), 0) FROM pg_stat_statements WHERE dbid = $SETTLE_OID"
}

# What one `sql` call (a psql connection to settle) adds to the transaction count: the
# job-drain phase polls the database and takes its own calls off.
X0=$(xacts)
for _ in 1 2 3 4 5; do sql -c "SELECT 1" >/dev/null; done
sleep 1
OWN_XACTS_PER_CALL=$(awk -v d="$(($(xacts) - X0))" 'BEGIN {printf "%.0f", d / 5}')
put own_xacts_per_psql "$OWN_XACTS_PER_CALL"

# The WAL a phase's load wrote, by record type (pg_waldump --stats=record, report.py's table):
# from stats_begin to phase_end, so the reference that runs after a phase is not in it. A
# physical slot holds that WAL until stats_end has read it, so that a checkpoint meanwhile
# cannot recycle it (all it changes: a segment or two is created then instead of recycled).
WAL_SLOT=bench_phase_wal
wal_begin() { # each stats_begin has its stats_end, which drops the slot
	pg -c "SELECT pg_create_physical_replication_slot('$WAL_SLOT', true)" >/dev/null
	STATS_LSN0=$(pg -c "SELECT pg_current_wal_insert_lsn()")
}
wal_end() { STATS_LSN1=$(pg -c "SELECT pg_current_wal_insert_lsn()"); }
wal_read() { # writes $OUT/walrec-NAME.txt (none when the phase wrote no WAL) and frees the slot
	if [ "$(pg -c "SELECT '$STATS_LSN1'::pg_lsn > '$STATS_LSN0'::pg_lsn")" = t ]; then
		"$PG_BIN/pg_waldump" --stats=record -p "$STACK/pg/data/pg_wal" -s "$STATS_LSN0" \
			-e "$STATS_LSN1" >"$OUT/walrec-$STATS_NAME.txt" 2>"$LOGS/waldump-$STATS_NAME.log" ||
			log "$STATS_NAME: pg_waldump failed (see $LOGS/waldump-$STATS_NAME.log)"
	fi
	pg -c "SELECT pg_drop_replication_slot('$WAL_SLOT')" >/dev/null
}

stats_begin() { # NAME
	sleep 1 # the psql backends that ran just before flush their counters as they exit
	STATS_NAME=$1
	STATS_OWN=0 # sql calls made inside the window
	STATS_X0=$(xacts)
	pg -c "SELECT pg_stat_statements_reset()" >/dev/null
	wal_begin
}
phase_end() {
	PHASE_END=$SECONDS
	wal_end
}
stats_end() { # FLOWS: waits for the flush, records the counts and the top statements
	local w=$((PHASE_END + FLUSH_S - SECONDS)) x s
	if ((w > 0)); then sleep "$w"; fi
	x=$(($(xacts) - STATS_X0 - STATS_OWN * OWN_XACTS_PER_CALL))
	s=$(($(stmts) - STATS_OWN))
	read -r pg_ms wal_b <<<"$(pgcost)"
	wal_read
	put "${STATS_NAME}_flows" "$1"
	put "${STATS_NAME}_xacts" "$x"
	put "${STATS_NAME}_stmts" "$s"
	put "${STATS_NAME}_pg_ms" "$pg_ms"
	put "${STATS_NAME}_wal_bytes" "$wal_b"
	# Where the time goes: the statements by total time, per flow (report.py's table).
	pg -F $'\t' -c "SELECT round(calls::numeric / greatest($1, 1), 3),
	    round(((total_exec_time + total_plan_time) / greatest($1, 1))::numeric, 4),
	    round(wal_bytes / greatest($1, 1), 0), round(rows::numeric / greatest($1, 1), 2),
	    round(shared_blks_hit::numeric / greatest($1, 1), 1),
	    round(shared_blks_dirtied::numeric / greatest($1, 1), 2),
	    left(regexp_replace(query, '\s+', ' ', 'g'), 150)
	  FROM pg_stat_statements WHERE dbid = $SETTLE_OID
	  ORDER BY total_exec_time + total_plan_time DESC LIMIT 15" >"$OUT/stmtcost-$STATS_NAME.tsv"
	log "$STATS_NAME: $1 flows, $(awk -v x="$x" -v s="$s" -v n="$1" \
		'BEGIN {n = n > 0 ? n : 1; printf "%.2f transactions and %.2f statements per flow", x / n, s / n}')"
	{
		printf '# %s: %s flows, %s transactions, %s statements in the settle database\n' \
			"$STATS_NAME" "$1" "$x" "$s"
		printf '# calls/flow\tcalls\tmean_ms\tquery\n'
		pg -F $'\t' -c "SELECT round(calls::numeric / greatest($1, 1), 3), calls,
		    round((total_exec_time / calls)::numeric, 3), regexp_replace(query, '\s+', ' ', 'g')
		  FROM pg_stat_statements WHERE dbid = $SETTLE_OID ORDER BY calls DESC LIMIT 40"
	} >"$OUT/statements-$STATS_NAME.txt"
}

# When a job was published: the relay's message_log row (logged_at, the moment the relay
# published it; written once the broker confirmed it) once
# outbox rows are deleted on publish; outbox.sent_at (set in the relay's claiming
# transaction, before the publish) while that column exists.
HAS_SENT_AT=$(sql -c "SELECT count(*) FROM information_schema.columns
  WHERE table_schema = 'public' AND table_name = 'outbox' AND column_name = 'sent_at'")
if [ "$HAS_SENT_AT" = 1 ]; then
	put published_from "outbox.sent_at (the relay's claiming transaction, before the publish and its confirm)"
else
	put published_from "message_log.logged_at (when the relay published the job; the broker confirmed it before its row was retired)"
fi
# SQL of (resource_id, published) for the upload.complete jobs of the uploads in CTE u.
published_sql() {
	if [ "$HAS_SENT_AT" = 1 ]; then
		echo "SELECT o.resource_id, min(o.sent_at) AS at FROM outbox o JOIN u ON u.id = o.resource_id
		      WHERE o.kind = 'upload.complete' AND o.sent_at IS NOT NULL GROUP BY 1"
	else
		echo "SELECT u.id AS resource_id, min(m.logged_at) AS at FROM message_log m
		      JOIN u ON m.routing_key = 'upload.complete' AND m.payload->>'resource_id' = u.id::text
		      GROUP BY 1"
	fi
}

# Server-side time to consistency of the uploads named PREFIX-…: completed_at (the
# transaction of complete, which also writes the outbox row) -> published -> consistent_at.
ttc_db() { # KEY PREFIX
	sql -F ' ' <<SQL | awk -v k="$1" '{
		split("n n_published ttc_p50 ttc_p95 ttc_p99 ttc_max relay_p50 relay_p95 relay_p99 relay_max work_p50 work_p95 work_p99 work_max", f, " ")
		for (i = 1; i <= 14; i++) print k "_" f[i] (i > 2 ? "_ms" : "") "=" $i }' >>"$RES"
WITH u AS MATERIALIZED (SELECT id, completed_at, consistent_at FROM uploads
                        WHERE name LIKE '$2-%' AND completed_at IS NOT NULL AND consistent_at IS NOT NULL),
     p AS ($(published_sql)),
     t AS (SELECT 1000 * extract(epoch FROM u.consistent_at - u.completed_at) AS ttc,
                  1000 * extract(epoch FROM p.at - u.completed_at) AS relay,
                  1000 * extract(epoch FROM u.consistent_at - p.at) AS work
           FROM u LEFT JOIN p ON p.resource_id = u.id)
SELECT count(*), count(relay),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ttc)::numeric, 1),
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ttc)::numeric, 1),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ttc)::numeric, 1),
       round(max(ttc)::numeric, 1),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY relay)::numeric, 1),
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY relay)::numeric, 1),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY relay)::numeric, 1),
       round(max(relay)::numeric, 1),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY work)::numeric, 1),
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY work)::numeric, 1),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY work)::numeric, 1),
       round(max(work)::numeric, 1)
FROM t
SQL
}

# ---- references ------------------------------------------------------------------------
#
# Each is taken several times, interleaved with the figures it is the reference of; the
# report shows every run and takes the median.

put t_setup_s $(($(date +%s) - T_START)); T_SECTION=$SECONDS # build, stack, setup
log "pgbench -i (scale 10) on database pgbench"
pg -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS pgbench" -c "CREATE DATABASE pgbench"
pgbench -i -q -s 10 -h "$PGHOST" -p "$PGPORT" -U postgres pgbench >"$LOGS/pgbench-init.log" 2>&1 || die "pgbench -i"
pgb() { pgbench -n -h "$PGHOST" -p "$PGPORT" -U postgres -T "$D" "$@" pgbench; }
tps() { sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$1" | head -n1; }

N_S=0 N_B=0 N_W=0 N_MD5=0 N_DD=0 N_MQ=0
pgbench_s() { # select-only, 64 clients: the reference of the read and 404 paths
	N_S=$((N_S + 1))
	log "reference: pgbench -S -c64 -j2 (run $N_S)"
	cpu_start "pgbench_s$N_S"
	pgb -S -c 64 -j 2 >"$OUT/pgbench-S$N_S.txt" 2>&1 || die "pgbench -S"
	cpu_stop
	put "ref_pgbench_s_$N_S" "$(tps "$OUT/pgbench-S$N_S.txt")"
}
# Where the processes' CPU goes (bench/cpuprofile.py, perf). profile_start NAME SECONDS
# GROUP=PIDS... samples, from a second on, into $OUT/cpuprofile-NAME.tsv (a group pg=WHERE
# names the backends that pg_stat_activity's WHERE picks); profile_wait waits.
PROFILE_PID=""
profile_start() {
	if ! command -v perf >/dev/null; then
		log "perf is missing: no CPU profile (scripts/deps.sh --bench installs linux-perf)"
		return 0
	fi
	local name=$1 seconds=$2
	shift 2
	(
		sleep 1
		groups=()
		for g in "$@"; do
			case "$g" in
			pg=*) g="pg=$(pg -c "SELECT string_agg(pid::text, ',') FROM pg_stat_activity
			                     WHERE ${g#pg=} AND pid <> pg_backend_pid()")" ;;
			esac
			groups+=("$g")
		done
		"$PY" "$B/cpuprofile.py" "$seconds" "$OUT/cpuprofile-$name.tsv" "${groups[@]}" 2>>"$LOGS/cpuprofile.log" ||
			echo "cpuprofile $name: perf could not record (see above)" >>"$LOGS/cpuprofile.log"
	) &
	PROFILE_PID=$!
}
profile_wait() {
	if [ -n "$PROFILE_PID" ]; then wait "$PROFILE_PID" || true; fi
	PROFILE_PID=""
}
pgbench_b() { # TPC-B at CLIENTS clients: the reference of the upload flows and the jobs
	N_B=$((N_B + 1))
	log "reference: pgbench TPC-B -c$CLIENTS -j2 (run $N_B)"
	cpu_start "pgbench_b$N_B"
	pgb -c "$CLIENTS" -j 2 >"$OUT/pgbench-B$N_B.txt" 2>&1 || die "pgbench TPC-B"
	cpu_stop
	put "ref_pgbench_b_$N_B" "$(tps "$OUT/pgbench-B$N_B.txt")"
}
pgbench_w() { # one-row UPDATE per transaction at CLIENTS clients: the floor of a durable write
	N_W=$((N_W + 1))
	printf '%s\n' '\set aid random(1, 100000 * :scale)' \
		'UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;' >"$OUT/pgbench-w.sql"
	log "reference: pgbench one-row UPDATE -c$CLIENTS -j2 (run $N_W)"
	cpu_start "pgbench_w$N_W"
	pgb -c "$CLIENTS" -j 2 -f "$OUT/pgbench-w.sql" >"$OUT/pgbench-W$N_W.txt" 2>&1 || die "pgbench one-row UPDATE"
	cpu_stop
	put "ref_pgbench_w_$N_W" "$(tps "$OUT/pgbench-W$N_W.txt")"
}
md5_ref() { # openssl speed: the reference of verification and ingest
	N_MD5=$((N_MD5 + 1))
	log "reference: openssl speed -evp md5, 16384-byte blocks, 3 s (run $N_MD5)"
	openssl speed -evp md5 -bytes 16384 -seconds 3 >"$OUT/openssl$N_MD5.txt" 2>/dev/null || die "openssl speed"
	# Last line: "md5  123456.78k" (1000s of bytes per second).
	put "ref_md5_$N_MD5" "$(awk '/^md5/ {v=$NF} END {sub(/k$/, "", v); printf "%.0f", v / 1000}' "$OUT/openssl$N_MD5.txt")"
}
dd_ref() { # the disk with fsync: the reference of ingest
	N_DD=$((N_DD + 1))
	log "reference: dd ${BIG_MB} MiB into the storage directory with fsync (run $N_DD)"
	dd if=/dev/zero of="$STORAGE/dd.ref" bs=16M count=$((BIG_MB / 16)) conv=fsync 2>"$OUT/dd$N_DD.txt" || die "dd"
	rm -f "$STORAGE/dd.ref"
	put "ref_dd_$N_DD" "$(sed -n 's/.* s, \([0-9.]*\) \([MG]\)B\/s/\1 \2/p' "$OUT/dd$N_DD.txt" |
		awk '{printf "%.0f", $2 == "G" ? $1 * 1000 : $1}')"
}
mq_ref() { # bare rabbitmq-c, with and without the message-log copy: the reference of the jobs
	N_MQ=$((N_MQ + 1))
	log "reference: mqrate, $MQ_N messages, plain and fanout (run $N_MQ)"
	cpu_start "mqrate$N_MQ"
	"$BIN/mqrate" 127.0.0.1 "$AMQP_PORT" "$MQ_N" >"$OUT/mqrate$N_MQ.txt" 2>>"$LOGS/mqrate.log" || die "mqrate"
	"$BIN/mqrate" 127.0.0.1 "$AMQP_PORT" "$MQ_N" fanout >"$OUT/mqrate-fanout$N_MQ.txt" 2>>"$LOGS/mqrate.log" ||
		die "mqrate fanout"
	cpu_stop
	put "ref_mq_$N_MQ" "$(kv "$OUT/mqrate$N_MQ.txt" combined_per_s)"
	put "ref_mqf_$N_MQ" "$(kv "$OUT/mqrate-fanout$N_MQ.txt" combined_per_s)"
	sed "s/^/mq${N_MQ}_/" "$OUT/mqrate$N_MQ.txt" >>"$RES"
	sed "s/^/mqf${N_MQ}_/" "$OUT/mqrate-fanout$N_MQ.txt" >>"$RES"
}

# ---- 1, 2: read path and 404 path: pgbench -S, read ×ROUNDS, pgbench -S, 404 ×ROUNDS, pgbench -S

wrk_round() { # NAME K PATH EXPECTED_STATUS [HEADER]: round K of phase NAME; HEADER is sent too
	local code h=${5:-}
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $TOKEN" ${h:+-H "$h"} "$API$3")
	[ "$code" = "$4" ] || die "$3 answers $code, want $4"
	log "$1 round $2/$ROUNDS: wrk -c64 $3 (expect $4)"
	wrk -t2 -c64 -d"${D}s" --latency -s "$B/auth.lua" ${h:+-H "$h"} "$API$3" >"$OUT/wrk-$1-r$2.txt" 2>&1 || die "wrk"
	"$PY" "$B/report.py" wrk "$OUT/wrk-$1-r$2.txt" "$1_r$2" >>"$RES"
}
wrk_phase() { # NAME PATH EXPECTED_STATUS
	local k n=0
	stats_begin "$1"
	cpu_start "$1"
	for ((k = 1; k <= ROUNDS; k++)); do
		wrk_round "$1" "$k" "$2" "$3"
		n=$((n + $(kv "$RES" "$1_r${k}_requests")))
	done
	phase_end
	cpu_stop
	PHASE_FLOWS=$n
}
if phase read; then
	pgbench_s
	wrk_phase read "/api/v1/files/$FILE_OK/url" 200
	pgbench_s
	stats_end "$PHASE_FLOWS"
	wrk_phase notfound "/api/v1/files/$FILE_PENDING/url" 404
	pgbench_s
	stats_end "$PHASE_FLOWS"
fi
put t_read_s $((SECONDS - T_SECTION)); T_SECTION=$SECONDS

# ---- 7: one streaming standby: read path and write concern (bench/replicas.sh) ------------

# shellcheck source=bench/replicas.sh
. "$B/replicas.sh"
if phase replicas; then replicas_phase; fi

# ---- 3: upload flows: TPC-B, Prefer: wait ×ROUNDS, TPC-B, polling 16 ×ROUNDS, TPC-B, polling 4 ×ROUNDS

flow_phase() { # NAME MODE CLIENTS: MODE flow (chunked, Prefer: wait) or poll (non-chunked, polling)
	local k n=0 args
	stats_begin "$1"
	cpu_start "$1"
	for ((k = 1; k <= ROUNDS; k++)); do
		log "$1 round $k/$ROUNDS: loadgen $2, $3 clients, ${D} s"
		if [ "$2" = flow ]; then
			args=(flow 127.0.0.1 "$API_PORT" "$TOKEN" "$PROJECT" "$3" "$D" 0 1024 "$1r$k")
		else
			args=(poll 127.0.0.1 "$API_PORT" "$TOKEN" "$PROJECT" "$3" "$D" "$1r$k")
		fi
		"$BIN/loadgen" "${args[@]}" >"$OUT/flow-$1-r$k.txt" 2>"$LOGS/loadgen-$1-r$k.log" ||
			die "$1 round $k (see $LOGS/loadgen-$1-r$k.log)"
		sed "s/^/$1_r${k}_/" "$OUT/flow-$1-r$k.txt" >>"$RES"
		n=$((n + $(kv "$OUT/flow-$1-r$k.txt" flows_run)))
	done
	phase_end
	cpu_stop
	PHASE_FLOWS=$n
	put "$1_mode" "$2"
	put "$1_clients" "$3"
}
# One more round of 3b and one more TPC-B run, each under perf (profile_start), counted in no
# figure: perf's sampling costs the processes a few percent, which the rounds and references
# the report shows must not pay. The report puts the profile's shares beside the phase's own
# CPU per flow.
flow_profile() {
	local t=$((D > 3 ? D - 2 : 1))
	log "profile: one more round of poll16 and one more TPC-B run under perf, counted in no figure"
	profile_start poll16 "$t" "pg=datname = 'settle' AND backend_type = 'client backend'" \
		"api=$API_PID" "worker=$(IFS=,; echo "${WORKER_PIDS[*]}")" "mq=$(kv "$STACK/state" RABBIT_PID)"
	"$BIN/loadgen" poll 127.0.0.1 "$API_PORT" "$TOKEN" "$PROJECT" "$CLIENTS" "$D" profile \
		>"$OUT/flow-profile.txt" 2>"$LOGS/loadgen-profile.log" || die "profile round (see $LOGS/loadgen-profile.log)"
	profile_wait
	profile_start tpcb "$t" "pg=datname = 'pgbench' AND backend_type = 'client backend'"
	pgb -c "$CLIENTS" -j 2 >"$OUT/pgbench-profile.txt" 2>&1 || die "pgbench TPC-B (profile)"
	profile_wait
}
flow_ttc() { # NAME: the database's times of each round, after the phase's counts are read
	local k
	for ((k = 1; k <= ROUNDS; k++)); do ttc_db "$1_r$k" "$1r$k"; done
	log "$1: flows/s $(for ((k = 1; k <= ROUNDS; k++)); do printf '%s ' "$(kv "$RES" "$1_r${k}_uploads_per_s")"; done)"
	log "$1: server-side complete->consistent p99 ms $(for ((k = 1; k <= ROUNDS; k++)); do
		printf '%s ' "$(kv "$RES" "$1_r${k}_ttc_p99_ms")"
	done)"
}
put t_replicas_s $((SECONDS - T_SECTION)); T_SECTION=$SECONDS
if phase flows; then
	pgbench_b
	flow_phase prefer16 flow "$CLIENTS"
	pgbench_b
	stats_end "$PHASE_FLOWS"
	flow_ttc prefer16
	flow_phase poll16 poll "$CLIENTS"
	pgbench_b
	pgbench_w
	stats_end "$PHASE_FLOWS"
	flow_ttc poll16
	flow_profile
	flow_phase poll4 poll 4
	pgbench_b
	pgbench_w
	stats_end "$PHASE_FLOWS"
	flow_ttc poll4
fi

# ---- 4: job throughput: mqrate, jobs, mqrate, (jobs, mqrate, …), TPC-B ----------------------

put t_flows_s $((SECONDS - T_SECTION)); T_SECTION=$SECONDS
jobs_preload() { # the uploads, chunk files and files of every jobs round
	log "jobs: preloading $JOB_ROUNDS × $JOBS tiny completed uploads (rows, chunk files, files)"
	MD5=$(printf 'settle-bench-job' | md5sum | cut -d' ' -f1)
	sql -v pid="$PROJECT" -v uid="$USER_ID" -v c="$CONTAINER" -v md5="$MD5" -v n="$JOBS" -v rounds="$JOB_ROUNDS" <<'SQL'
BEGIN;
CREATE TEMP TABLE j AS SELECT gen_random_uuid() AS id, gen_random_uuid() AS fid, r, g
  FROM generate_series(1, :rounds) r, generate_series(1, :n) g;
INSERT INTO uploads (id, project_id, name, size, chunked, etag, storage_container, completed_at,
                     completed_hash_value, completed_hash_algorithm, created_by)
  SELECT id, :'pid', 'job' || r || '-' || g, 16, true, md5(id::text), :'c', now(), :'md5', 'md5', :'uid' FROM j;
INSERT INTO chunks (upload_id, number, size, hash_value, hash_algorithm, stored_size, stored_md5, stored_at)
  SELECT id, 1, 16, :'md5', 'md5', 16, :'md5', now() FROM j;
INSERT INTO fingerprints (id, upload_id, algorithm, value) SELECT gen_random_uuid(), id, 'md5', :'md5' FROM j;
INSERT INTO files (id, project_id, name, created_by) SELECT fid, :'pid', 'job' || r || '-' || g, :'uid' FROM j;
INSERT INTO file_versions (id, file_id, version, upload_id, created_by) SELECT gen_random_uuid(), fid, 1, id, :'uid' FROM j;
COMMIT;
SQL
	sql -c "SELECT id FROM uploads WHERE name LIKE 'job%'" >"$OUT/job-ids"
	"$PY" - "$STORAGE/$CONTAINER" "$OUT/job-ids" <<'PY' || die "writing chunk files"
import os, sys
root, ids = sys.argv[1], open(sys.argv[2]).read().split()
for i in ids:
    os.mkdir(os.path.join(root, i))
    with open(os.path.join(root, i, "1"), "wb") as f:
        f.write(b"settle-bench-job")
PY
	sql -c "VACUUM ANALYZE" 2>/dev/null || true
}

jobs_round() { # K: all outbox rows of round K in one transaction; relay on, 2 workers drain
	local k=$1 t0 left deadline total span relay n err
	log "jobs round $k/$JOB_ROUNDS: $JOBS outbox rows in one transaction; relay on, 2 workers drain"
	stats_begin "jobs$k"
	cpu_start "jobs$k"
	t0=$(sql -c "BEGIN; INSERT INTO outbox (id, kind, resource_id) SELECT gen_random_uuid(), 'upload.complete', id
	  FROM uploads WHERE name LIKE 'job$k-%'; NOTIFY settle_outbox; SELECT extract(epoch FROM now()); COMMIT;")
	STATS_OWN=1 # that call's connection
	deadline=$((SECONDS + 600))
	while :; do
		sleep 0.5
		left=$(sql -c "SELECT count(*) FROM uploads WHERE name LIKE 'job$k-%' AND NOT is_consistent")
		STATS_OWN=$((STATS_OWN + 1))
		[ "$left" = 0 ] && break
		[ "$SECONDS" -gt "$deadline" ] && die "jobs: $left of $JOBS not consistent after 600 s"
	done
	phase_end
	cpu_stop
	mq_ref # also the wait for the transaction counters
	stats_end "$JOBS"
	read -r n total span err < <(sql -F ' ' -c "SELECT count(*), extract(epoch FROM max(consistent_at)) - $t0,
	    extract(epoch FROM max(consistent_at) - min(consistent_at)), count(*) FILTER (WHERE error_at IS NOT NULL)
	  FROM uploads WHERE name LIKE 'job$k-%'") || die "jobs round $k: no result"
	# When the relay had published the last job of the round.
	relay=$(sql <<SQL
WITH u AS MATERIALIZED (SELECT id FROM uploads WHERE name LIKE 'job$k-%'), p AS ($(published_sql))
SELECT extract(epoch FROM max(at)) - $t0 FROM p
SQL
	)
	put "jobs${k}_n" "$n"
	put "jobs${k}_errors" "$err"
	put "jobs${k}_total_s" "$total"
	put "jobs${k}_per_s" "$(awk -v n="$n" -v t="$total" 'BEGIN {printf "%.0f", n / t}')"
	put "jobs${k}_worker_per_s" "$(awk -v n="$n" -v t="$span" 'BEGIN {printf "%.0f", n / t}')"
	put "jobs${k}_relay_per_s" "$(awk -v n="$n" -v t="$relay" 'BEGIN {printf "%.0f", (t > 0 ? n / t : 0)}')"
}
if phase jobs; then
	jobs_preload
	mq_ref
	for ((k = 1; k <= JOB_ROUNDS; k++)); do jobs_round "$k"; done
	while ((N_MQ < 3)); do mq_ref; done # at least 3 runs of every reference
	pgbench_b
fi

# ---- 5, 6: integrity verification and ingest: md5, dd, verify, ingest, md5, dd, … ---------

big_round() { # K
	local k=$1 id job_ms db_ms
	log "integrity round $k/$BIG_ROUNDS: ${BIG_MB} MiB upload in 16 MiB chunks"
	"$BIN/loadgen" big 127.0.0.1 "$API_PORT" "$TOKEN" "$PROJECT" $((BIG_MB / 16)) $((16 << 20)) "big-verify$k" \
		>"$OUT/big-verify$k.txt" 2>>"$LOGS/loadgen-big.log" || die "big upload (see $LOGS/loadgen-big.log)"
	id=$(kv "$OUT/big-verify$k.txt" upload_id)
	job_ms=$(cat "$LOGS"/worker*.log | grep "kind=upload.complete resource=$id" | sed -n 's/.* ms=\([0-9]*\).*/\1/p' | tail -n1)
	db_ms=$(sql -c "SELECT round(1000 * extract(epoch FROM consistent_at - completed_at)) FROM uploads WHERE id = '$id'")
	rm -rf "${STORAGE:?}/$CONTAINER/$id"
	put "verify${k}_job_ms" "$job_ms"
	put "verify${k}_db_ms" "$db_ms"
	put "verify${k}_mb_s" "$(awk -v b=$((BIG_MB << 20)) -v ms="${job_ms:-$db_ms}" 'BEGIN {printf "%.0f", b / 1e6 / (ms / 1000)}')"
	put "verify${k}_chunked_put_mb_s" "$(kv "$OUT/big-verify$k.txt" put_mb_per_s)"

	put "ingest${k}_api_hwm_before_kb" "$(awk '/VmHWM/ {print $2}' "/proc/$API_PID/status")"
	echo 5 >"/proc/$API_PID/clear_refs" 2>/dev/null || true # resets VmHWM to the current RSS
	log "ingest round $k/$BIG_ROUNDS: one storage PUT of ${BIG_MB} MiB"
	cpu_start "ingest$k"
	"$BIN/loadgen" big 127.0.0.1 "$API_PORT" "$TOKEN" "$PROJECT" 1 $((BIG_MB << 20)) "big-ingest$k" \
		>"$OUT/big-ingest$k.txt" 2>>"$LOGS/loadgen-big.log" || die "ingest upload (see $LOGS/loadgen-big.log)"
	cpu_stop
	rm -rf "${STORAGE:?}/$CONTAINER/$(kv "$OUT/big-ingest$k.txt" upload_id)"
	put "ingest${k}_mb_s" "$(kv "$OUT/big-ingest$k.txt" put_mb_per_s)"
	put "ingest${k}_api_hwm_kb" "$(awk '/VmHWM/ {print $2}' "/proc/$API_PID/status")"
}
put t_jobs_s $((SECONDS - T_SECTION)); T_SECTION=$SECONDS
if phase big; then
	for ((k = 1; k <= BIG_ROUNDS; k++)); do
		md5_ref
		dd_ref
		big_round "$k"
	done
	md5_ref
	dd_ref
fi

# ---- report ------------------------------------------------------------------------------

# ---- 8: the chunked upload flow through Swift vs raw Swift PUTs (bench/swift.sh) ----------

put t_big_s $((SECONDS - T_SECTION)); T_SECTION=$SECONDS
if phase swift; then swift_bench; fi
put t_swift_s $((SECONDS - T_SECTION)); T_SECTION=$SECONDS

# ---- 9: the polling flow on a 3-node RabbitMQ cluster (after everything else: it stays one) --

if phase mqcluster; then
	log "mqcluster: two more RabbitMQ nodes join the stack's (SETTLE_MQ_NODES=3), queues grown"
	api_stop
	workers_stop
	SETTLE_MQ_NODES=3 "$TOP/scripts/stack.sh" start "$STACK" >>"$LOGS/stack.log" 2>&1 ||
		{ tail -20 "$LOGS/stack.log" >&2; die "stack with 3 RabbitMQ nodes"; }
	SETTLE_AMQP_URL=$(kv "$STACK/stack.env" SETTLE_AMQP_URL)
	export SETTLE_AMQP_URL
	put mq_cluster_urls "$(echo "$SETTLE_AMQP_URL" | tr ',' ' ')"
	start_worker 1 mq3-worker1.log
	start_worker 2 mq3-worker2.log
	api_start mq3-api.log
	flow_phase mq3poll16 poll "$CLIENTS"
	pgbench_b
	stats_end "$PHASE_FLOWS"
	flow_ttc mq3poll16
fi
put t_mqcluster_s $((SECONDS - T_SECTION))
put run_seconds $(($(date +%s) - T_START))
"$PY" "$B/report.py" report "$RES" "$B/notes.md" >"$B/results.md"
cat "$B/results.md"
log "done in $(($(date +%s) - T_START)) s; results in bench/results.md"
