#!/usr/bin/env bash
# run.sh: Settle's benchmarks (what `make bench` calls after `scripts/deps.sh --bench`).
#
# Builds a release build in build-bench/, starts a fresh private Postgres and RabbitMQ
# (scripts/stack.sh, state in bench/out/stack), settle-api and 2 settle-workers on loopback,
# runs every benchmark beside its reference measured in the same run, and writes
# bench/results.md (also printed). Raw outputs and logs: bench/out/.
# Timings never fail the run: the exit status is non-zero only when something broke.
#
#   BENCH_DURATION  seconds of each timed load phase (default 10)
#   BENCH_JOBS      upload.complete jobs of the job-throughput phase (default 50000)
#   BENCH_CLIENTS   concurrent clients of the upload-flow phase (default 16)
#   BENCH_BIG_MB    size of the integrity and ingest uploads in MiB (default 1024)
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
PG_BIN=/usr/lib/postgresql/15/bin

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

# Samples per-process CPU while the phase named $1 runs: cpu_start NAME ... cpu_stop.
cpu_start() {
	CPU_NAME=$1
	"$PY" "$B/cpushare.py" "api=$API_PID" "worker=$(IFS=,; echo "${WORKER_PIDS[*]}")" "pg=$(kv "$STACK/state" PG_PID)" \
		"mq=$(kv "$STACK/state" RABBIT_PID)" >"$OUT/cpu.$1" &
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
rm -rf "$OUT/stack" "$STORAGE" "$LOGS" "$RES"
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
PGPORT=$(echo "$SETTLE_DATABASE_URL" | sed 's/.*:\([0-9]*\)\/.*/\1/')
AMQP_PORT=${SETTLE_AMQP_URL##*:}
API_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export SETTLE_LISTEN=127.0.0.1:$API_PORT SETTLE_STORAGE_DIR=$STORAGE SETTLE_LOG_LEVEL=info
SETTLE_SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
export SETTLE_SECRET
API=http://127.0.0.1:$API_PORT

"$BUILD/settle" migrate >"$LOGS/migrate.log" 2>&1 || die "settle migrate (see $LOGS/migrate.log)"
"$BUILD/settle" user create bench >"$OUT/keys" 2>>"$LOGS/migrate.log"
"$BUILD/settle" agent create bench >>"$OUT/keys" 2>>"$LOGS/migrate.log"
USER_ID=$(kv "$OUT/keys" SETTLE_USER_ID)

"$BUILD/settle-api" >"$LOGS/api.log" 2>&1 &
API_PID=$!
PIDS+=("$API_PID")
start_worker() {
	"$BUILD/settle-worker" >"$LOGS/worker$1.log" 2>&1 &
	WORKER_PIDS[$1]=$!
	PIDS+=("$!")
}
WORKER_PIDS=()
start_worker 1
start_worker 2
for _ in $(seq 300); do
	curl -fs "$API/readyz" >/dev/null 2>&1 && break
	kill -0 "$API_PID" 2>/dev/null || die "settle-api exited (see $LOGS/api.log)"
	sleep 0.1
done
curl -fs "$API/readyz" >/dev/null || die "settle-api not ready (see $LOGS/api.log)"

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
put pg_settings "fsync=$(sql -c 'SHOW fsync'), synchronous_commit=$(sql -c 'SHOW synchronous_commit') (scripts/stack.sh)"
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

# ---- references: pgbench and openssl ---------------------------------------------------

log "pgbench -i (scale 10) on database pgbench"
"$PG_BIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -qtAX -c "DROP DATABASE IF EXISTS pgbench" -c "CREATE DATABASE pgbench"
pgbench -i -q -s 10 -h 127.0.0.1 -p "$PGPORT" -U postgres pgbench >"$LOGS/pgbench-init.log" 2>&1 || die "pgbench -i"
pgb() { pgbench -n -h 127.0.0.1 -p "$PGPORT" -U postgres -T "$D" "$@" pgbench; }

# pgbench -S runs twice, interleaved with the wrk runs it is the reference of (see below).
pgbench_s() { # ROUND
	log "reference: pgbench -S -c64 -j2 (round $1)"
	cpu_start "pgbench_s$1"
	pgb -S -c 64 -j 2 >"$OUT/pgbench-S$1.txt" 2>&1 || die "pgbench -S"
	cpu_stop
	put "pgbench_s$1_tps" "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$OUT/pgbench-S$1.txt" | head -n1)"
	put "pgbench_s$1_lat_ms" "$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$OUT/pgbench-S$1.txt")"
}

log "reference: pgbench TPC-B -c$CLIENTS -j2"
cpu_start pgbench_b
pgb -c "$CLIENTS" -j 2 >"$OUT/pgbench-B.txt" 2>&1 || die "pgbench TPC-B"
cpu_stop
put pgbench_b_tps "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$OUT/pgbench-B.txt" | head -n1)"
put pgbench_b_clients "$CLIENTS"

log "reference: openssl speed -evp md5 (16384-byte blocks)"
openssl speed -evp md5 -bytes 16384 -seconds 3 >"$OUT/openssl.txt" 2>/dev/null || die "openssl speed"
# Last line: "md5  123456.78k" (1000s of bytes per second).
log "reference: dd 1 GiB into the storage directory with fsync"
dd if=/dev/zero of="$STORAGE/dd.ref" bs=16M count=64 conv=fsync 2>"$OUT/dd.txt" || die "dd"
rm -f "$STORAGE/dd.ref"
put dd_mb_s "$(sed -n 's/.* s, \([0-9.]*\) \([MG]\)B\/s/\1 \2/p' "$OUT/dd.txt" | awk '{printf "%.0f", $2 == "G" ? $1 * 1000 : $1}')"
put md5_mb_s "$(awk '/^md5/ {v=$NF} END {sub(/k$/, "", v); printf "%.0f", v / 1000}' "$OUT/openssl.txt")"

# ---- 1, 2: read path and 404 path ------------------------------------------------------

wrk_run() { # NAME PATH EXPECTED_STATUS
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $TOKEN" "$API$2")
	[ "$code" = "$3" ] || die "$2 answers $code, want $3"
	log "wrk -c64 $2 (expect $3)"
	cpu_start "$1"
	wrk -t2 -c64 -d"${D}s" --latency -s "$B/auth.lua" "$API$2" >"$OUT/wrk-$1.txt" 2>&1 || die "wrk"
	cpu_stop
	"$PY" "$B/report.py" wrk "$OUT/wrk-$1.txt" "$1" >>"$RES"
}
# Two rounds of reference, read path and 404 path, interleaved: on a shared machine a burst of
# someone else's load hits one run, not all; the report takes the best of each.
for round in 1 2; do
	pgbench_s "$round"
	wrk_run "read$round" "/api/v1/files/$FILE_OK/url" 200
	wrk_run "notfound$round" "/api/v1/files/$FILE_PENDING/url" 404
done

# ---- 3: full upload flow ---------------------------------------------------------------

ttc_db() { # NAME PREFIX: the database's own completed_at -> consistent_at percentiles
	sql -F ' ' -c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY x)::numeric, 1),
	    round(percentile_cont(0.95) WITHIN GROUP (ORDER BY x)::numeric, 1),
	    round(percentile_cont(0.99) WITHIN GROUP (ORDER BY x)::numeric, 1), count(*)
	  FROM (SELECT 1000 * extract(epoch FROM consistent_at - completed_at) AS x FROM uploads
	        WHERE name LIKE '$2-%' AND consistent_at IS NOT NULL) t" |
		awk -v n="$1" '{print n "_ttc_db_p50_ms=" $1; print n "_ttc_db_p95_ms=" $2; print n "_ttc_db_p99_ms=" $3; print n "_ttc_db_n=" $4}' >>"$RES"
}
flow_run() { # NAME RATE
	log "upload flow: $CLIENTS clients, rate ${2:-max}"
	cpu_start "$1"
	"$BIN/loadgen" flow 127.0.0.1 "$API_PORT" "$TOKEN" "$PROJECT" "$CLIENTS" "$D" "$2" 1024 "$1" \
		>"$OUT/flow-$1.txt" 2>"$LOGS/loadgen-$1.log" || die "upload flow $1 (see $LOGS/loadgen-$1.log)"
	cpu_stop
	sed "s/^/$1_/" "$OUT/flow-$1.txt" >>"$RES"
	ttc_db "$1" "$1"
	# Where the time goes: complete's commit -> relay's publish (outbox.sent_at) -> worker's
	# commit (consistent_at).
	sql -F ' ' -c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY r)::numeric, 1),
	    round(percentile_cont(0.99) WITHIN GROUP (ORDER BY r)::numeric, 1),
	    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY w)::numeric, 1),
	    round(percentile_cont(0.99) WITHIN GROUP (ORDER BY w)::numeric, 1)
	  FROM (SELECT 1000 * extract(epoch FROM o.sent_at - o.created_at) AS r,
	               1000 * extract(epoch FROM u.consistent_at - o.sent_at) AS w
	        FROM uploads u JOIN outbox o ON o.resource_id = u.id AND o.kind = 'upload.complete'
	        WHERE u.name LIKE '$1-%' AND u.consistent_at IS NOT NULL) t" |
		awk -v n="$1" '{print n "_relay_p50_ms=" $1; print n "_relay_p99_ms=" $2; print n "_worker_p50_ms=" $3; print n "_worker_p99_ms=" $4}' >>"$RES"
}
flow_run peak 0
PEAK=$(kv "$OUT/flow-peak.txt" uploads_per_s)
flow_run half "$(awk -v p="$PEAK" 'BEGIN {printf "%.1f", p / 2}')"

# ---- 4: job throughput -----------------------------------------------------------------

log "jobs: preloading $JOBS tiny completed uploads (rows, chunk files, files)"
MD5=$(printf 'settle-bench-job' | md5sum | cut -d' ' -f1)
sql -v pid="$PROJECT" -v uid="$USER_ID" -v c="$CONTAINER" -v md5="$MD5" -v n="$JOBS" <<'SQL'
BEGIN;
CREATE TEMP TABLE j AS SELECT gen_random_uuid() AS id, gen_random_uuid() AS fid, g FROM generate_series(1, :n) g;
INSERT INTO uploads (id, project_id, name, size, chunked, etag, storage_container, completed_at,
                     completed_hash_value, completed_hash_algorithm, created_by)
  SELECT id, :'pid', 'job-' || g, 16, true, md5(id::text), :'c', now(), :'md5', 'md5', :'uid' FROM j;
INSERT INTO chunks (upload_id, number, size, hash_value, hash_algorithm, stored_size, stored_md5, stored_at)
  SELECT id, 1, 16, :'md5', 'md5', 16, :'md5', now() FROM j;
INSERT INTO fingerprints (id, upload_id, algorithm, value) SELECT gen_random_uuid(), id, 'md5', :'md5' FROM j;
INSERT INTO files (id, project_id, name, created_by) SELECT fid, :'pid', 'job-' || g, :'uid' FROM j;
INSERT INTO file_versions (id, file_id, version, upload_id, created_by) SELECT gen_random_uuid(), fid, 1, id, :'uid' FROM j;
COMMIT;
SQL
sql -c "SELECT id FROM uploads WHERE name LIKE 'job-%'" >"$OUT/job-ids"
"$PY" - "$STORAGE/$CONTAINER" "$OUT/job-ids" <<'PY' || die "writing chunk files"
import os, sys
root, ids = sys.argv[1], open(sys.argv[2]).read().split()
for i in ids:
    os.mkdir(os.path.join(root, i))
    with open(os.path.join(root, i, "1"), "wb") as f:
        f.write(b"settle-bench-job")
PY
sql -c "VACUUM ANALYZE" 2>/dev/null || true
log "jobs: $JOBS outbox rows in one transaction; relay on, 2 workers drain"
cpu_start jobs
T0=$(sql -c "BEGIN; INSERT INTO outbox (id, kind, resource_id) SELECT gen_random_uuid(), 'upload.complete', id FROM uploads WHERE name LIKE 'job-%'; NOTIFY settle_outbox; SELECT extract(epoch FROM now()); COMMIT;")
DEADLINE=$(($(date +%s) + 300))
while :; do
	LEFT=$(sql -c "SELECT count(*) FROM uploads WHERE name LIKE 'job-%' AND NOT is_consistent")
	[ "$LEFT" = 0 ] && break
	[ "$(date +%s)" -gt "$DEADLINE" ] && die "jobs: $LEFT of $JOBS not consistent after 300 s"
	sleep 0.2
done
cpu_stop
sql -F ' ' -c "SELECT count(*), extract(epoch FROM max(consistent_at)) - $T0,
    extract(epoch FROM max(consistent_at) - min(consistent_at)),
    count(*) FILTER (WHERE error_at IS NOT NULL) FROM uploads WHERE name LIKE 'job-%'" >"$OUT/jobs.txt"
sql -F ' ' -c "SELECT extract(epoch FROM max(sent_at)) - $T0 FROM outbox o JOIN uploads u ON u.id = o.resource_id WHERE u.name LIKE 'job-%'" >>"$OUT/jobs.txt"
read -r JN JTOTAL JSPAN JERR JRELAY < <(tr '\n' ' ' <"$OUT/jobs.txt"; echo) || die "jobs.txt"
put jobs_n "$JN"
put jobs_errors "$JERR"
put jobs_per_s "$(awk -v n="$JN" -v t="$JTOTAL" 'BEGIN {printf "%.0f", n / t}')"
put jobs_worker_per_s "$(awk -v n="$JN" -v t="$JSPAN" 'BEGIN {printf "%.0f", n / t}')"
put jobs_relay_per_s "$(awk -v n="$JN" -v t="$JRELAY" 'BEGIN {printf "%.0f", n / t}')"
put jobs_total_s "$JTOTAL"
log "reference: mqrate ($JOBS messages)"
cpu_start mqrate
"$BIN/mqrate" 127.0.0.1 "$AMQP_PORT" "$JOBS" >"$OUT/mqrate.txt" 2>"$LOGS/mqrate.log" || die "mqrate"
cpu_stop
sed 's/^/mq_/' "$OUT/mqrate.txt" >>"$RES"
log "reference: mqrate fanout ($JOBS messages, each also to an unconsumed second quorum queue)"
cpu_start mqrate_fanout
"$BIN/mqrate" 127.0.0.1 "$AMQP_PORT" "$JOBS" fanout >"$OUT/mqrate-fanout.txt" 2>>"$LOGS/mqrate.log" || die "mqrate fanout"
cpu_stop
sed 's/^/mqf_/' "$OUT/mqrate-fanout.txt" >>"$RES"

# ---- 5: integrity verification (BIG_MB in 16 MiB chunks) --------------------------------

log "integrity: ${BIG_MB} MiB upload in 16 MiB chunks"
"$BIN/loadgen" big 127.0.0.1 "$API_PORT" "$TOKEN" "$PROJECT" $((BIG_MB / 16)) $((16 << 20)) big-verify \
	>"$OUT/big-verify.txt" 2>"$LOGS/loadgen-big.log" || die "big upload (see $LOGS/loadgen-big.log)"
BIG_ID=$(kv "$OUT/big-verify.txt" upload_id)
JOB_MS=$(cat "$LOGS"/worker*.log | grep "kind=upload.complete resource=$BIG_ID" | sed -n 's/.* ms=\([0-9]*\).*/\1/p' | tail -n1)
DB_MS=$(sql -c "SELECT round(1000 * extract(epoch FROM consistent_at - completed_at)) FROM uploads WHERE id = '$BIG_ID'")
put verify_job_ms "$JOB_MS"
put verify_db_ms "$DB_MS"
put verify_mb_s "$(awk -v b=$((BIG_MB << 20)) -v ms="${JOB_MS:-$DB_MS}" 'BEGIN {printf "%.0f", b / 1e6 / (ms / 1000)}')"
put chunked_put_mb_s "$(kv "$OUT/big-verify.txt" put_mb_per_s)"

# ---- 6: ingest (one storage PUT of BIG_MB) -----------------------------------------------

put api_hwm_before_ingest_kb "$(awk '/VmHWM/ {print $2}' /proc/$API_PID/status)"
echo 5 >"/proc/$API_PID/clear_refs" 2>/dev/null || true # resets VmHWM to the current RSS
log "ingest: one storage PUT of ${BIG_MB} MiB"
cpu_start ingest
"$BIN/loadgen" big 127.0.0.1 "$API_PORT" "$TOKEN" "$PROJECT" 1 $((BIG_MB << 20)) big-ingest \
	>"$OUT/big-ingest.txt" 2>>"$LOGS/loadgen-big.log" || die "ingest upload (see $LOGS/loadgen-big.log)"
cpu_stop
put ingest_mb_s "$(kv "$OUT/big-ingest.txt" put_mb_per_s)"
put api_hwm_ingest_kb "$(awk '/VmHWM/ {print $2}' /proc/$API_PID/status)"

# ---- report ------------------------------------------------------------------------------

put run_seconds $(($(date +%s) - T_START))
"$PY" "$B/report.py" report "$RES" "$B/notes.md" >"$B/results.md"
cat "$B/results.md"
log "done in $(($(date +%s) - T_START)) s; results in bench/results.md"
