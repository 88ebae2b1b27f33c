# shellcheck shell=bash disable=SC2034 # sourced by bench/run.sh, which uses CPU_GROUPS
# swift.sh: the Swift phase of `make bench`, sourced by bench/run.sh (it uses run.sh's
# helpers and variables: log, die, put, kv, sql, cpu_start/cpu_stop, stats_begin/stats_end,
# ttc_db, BUILD, BIN, OUT, LOGS, API, API_PORT, TOKEN, ROUNDS, D).
#
# The whole chunked upload flow of a DDS client through OpenStack Swift, against the raw
# Swift PUT rate of the same client code, chunk size and data as its reference:
# - It starts a one-box Swift (scripts/swift.sh: proxy with tempauth, tempurl and slo,
#   account, container and object servers, memcached; state in bench/out/swift), then
#   stops the local-storage settle-api and workers and starts one settle-api and 2 workers
#   with SETTLE_STORAGE=swift on the same Postgres, RabbitMQ and port (the phase runs last;
#   two sets of workers on the same queues would take each other's jobs), and creates a
#   project through it (its container is made in Swift).
# - flow (`loadgen swift-flow`): each client loops create upload -> register each chunk ->
#   PUT it to Swift with the temp URL it got -> complete with the whole-file md5 (ddsclient
#   always sends one, so the worker reads a multi-chunk upload back from Swift once) and
#   Prefer: wait=30 -> consistent, i.e. verified and its SLO manifest written.
# - raw (`loadgen swift-raw`): the same clients PUT the same chunks to the same container
#   with temp URLs signed by the client, and nothing else.
# raw and flow rounds alternate: raw 1, flow 1, raw 2, …, flow ROUNDS, raw ROUNDS+1. After
# each round the object files it wrote are deleted from the throwaway Swift's disk (asking
# Swift to DELETE them would cost about as much as writing them), so the disk does not fill.
#
#   BENCH_SWIFT_CLIENTS   clients of both (default 4: two ddsclients with their default of
#                         one upload worker per core, at most 8, on a 2-core machine)
#   BENCH_SWIFT_CHUNK_MB  chunk size in MiB (default 16; ddsclient's default is 100 MB, too
#                         big for ten-second rounds on this machine)
#   BENCH_SWIFT_CHUNKS    chunks per file (default 4: a multi-chunk file, read back once)

SWIFT_DIR=$OUT/swift
SWIFT_STARTED=0
SWIFT_CLIENTS=${BENCH_SWIFT_CLIENTS:-4}
SWIFT_CHUNK_MB=${BENCH_SWIFT_CHUNK_MB:-16}
SWIFT_CHUNKS=${BENCH_SWIFT_CHUNKS:-4}

# run.sh's cleanup calls this.
swift_bench_stop() {
	[ "$SWIFT_STARTED" = 1 ] && "$TOP/scripts/swift.sh" stop "$SWIFT_DIR" >/dev/null 2>&1 || true
}

# Replaces the local-storage settle-api and workers by ones with the Swift settings of
# $OUT/swift.env.
swift_start_settle() {
	local env
	mapfile -t env <"$OUT/swift.env"
	api_stop
	workers_stop
	start_worker 1 swift-worker1.log "${env[@]}"
	start_worker 2 swift-worker2.log "${env[@]}"
	api_start swift-api.log "${env[@]}"
}

# A project made through the Swift settle-api (its container is created in Swift); prints
# its id once it is consistent.
swift_project() {
	"$PY" - "$API" "$TOKEN" <<'PY'
import sys, time, requests
base, tok = sys.argv[1:3]
h = {"Authorization": tok}
r = requests.post(base + "/api/v1/projects", headers=h, timeout=30,
                  json={"name": "bench-swift", "description": "make bench, Swift phase"})
if r.status_code not in (201, 202):
    sys.exit(f"POST /projects: {r.status_code} {r.text[:300]}")
pid = r.json()["id"]
deadline = time.time() + 60
while time.time() < deadline:
    r = requests.get(f"{base}/api/v1/projects/{pid}", headers=h, timeout=30)
    if r.status_code == 200 and r.json().get("is_consistent"):
        print(pid)
        sys.exit(0)
    time.sleep(0.1)
sys.exit("the Swift project was not consistent after 60 s")
PY
}

# The account path (/v1/AUTH_x) tempauth hands out for the settings of $OUT/swift.env.
swift_account() {
	curl -fsS -D - -o /dev/null -H "X-Auth-User: $(kv "$OUT/swift.env" SETTLE_SWIFT_USER)" \
		-H "X-Auth-Key: $(kv "$OUT/swift.env" SETTLE_SWIFT_KEY)" "$(kv "$OUT/swift.env" SETTLE_SWIFT_AUTH_URL)" |
		tr -d '\r' | sed -n 's|^[Xx]-[Ss]torage-[Uu]rl: [a-z]*://[^/]*||p'
}

# CPU time (ticks) used so far by the Swift proxy, the object server, the other Swift
# processes, the workers and settle-api, on one line.
swift_ticks() {
	local group pid p sum
	for group in proxy object "account container memcached" worker api; do
		sum=0
		for pid in $group; do
			case $pid in
			worker) pid="${WORKER_PIDS[*]}" ;;
			api) pid=$API_PID ;;
			*) pid=$(cat "$SWIFT_DIR/run/$pid.pid") ;;
			esac
			for p in $pid; do sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
		done
		printf '%s ' "$sum"
	done
}

# CPU milliseconds per MB stored of each group, from two swift_ticks lines and the bytes.
swift_cpu_per_mb() { # BEFORE AFTER BYTES
	awk -v a="$1" -v b="$2" -v bytes="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		split(a, x, " "); split(b, y, " "); split("proxy object other worker api", n, " ")
		for (i = 1; i <= 5; i++) {
			v = bytes > 0 ? (y[i] - x[i]) * 1000 / hz / (bytes / 1e6) : 0
			printf "%s%s=%.2f", sep, n[i], v
			sep = " "
		} }'
}

# One round: MODE (raw or flow) K. Records swift_MODE_rK_*, its CPU share and its CPU time
# per MB stored.
swift_round() {
	local mode=$1 k=$2 args t0 bytes
	log "swift $mode round $k: $SWIFT_CLIENTS clients, ${SWIFT_CHUNKS} × ${SWIFT_CHUNK_MB} MiB files, ${D} s"
	if [ "$mode" = raw ]; then
		args=(swift-raw "$(kv "$OUT/swift.env" SETTLE_SWIFT_URL)" "$SWIFT_ACCOUNT" "$SWIFT_CONTAINER"
			"$(kv "$OUT/swift.env" SETTLE_SWIFT_TEMP_URL_KEY)")
	else
		args=(swift-flow 127.0.0.1 "$API_PORT" "$TOKEN" "$SWIFT_PROJECT")
	fi
	args+=("$SWIFT_CLIENTS" "$D" "$SWIFT_CHUNKS" $((SWIFT_CHUNK_MB << 20)) "swift$mode$k")
	cpu_start "swift_${mode}$k"
	t0=$(swift_ticks)
	"$BIN/loadgen" "${args[@]}" >"$OUT/swift-$mode-r$k.txt" 2>"$LOGS/loadgen-swift-$mode-r$k.log" ||
		die "swift $mode round $k (see $LOGS/loadgen-swift-$mode-r$k.log)"
	cpu_stop
	sed "s/^/swift_${mode}_r${k}_/" "$OUT/swift-$mode-r$k.txt" >>"$RES"
	bytes=$(($(kv "$OUT/swift-$mode-r$k.txt" files) * SWIFT_CHUNKS * (SWIFT_CHUNK_MB << 20)))
	put "swift_${mode}_r${k}_cpu_ms_per_mb" "$(swift_cpu_per_mb "$t0" "$(swift_ticks)" "$bytes")"
	log "swift $mode round $k: $(kv "$OUT/swift-$mode-r$k.txt" mb_per_s) MB/s, $(kv "$OUT/swift-$mode-r$k.txt" files_per_s) files/s"
	find "$SWIFT_DIR/srv" -name '*.data' -delete
}

swift_bench() {
	local k n=0 pids
	log "swift: starting a one-box Swift in $SWIFT_DIR"
	"$TOP/scripts/swift.sh" stop "$SWIFT_DIR" >/dev/null 2>&1 || true
	rm -rf "$SWIFT_DIR"
	SWIFT_STARTED=1
	"$TOP/scripts/swift.sh" start "$SWIFT_DIR" >"$OUT/swift.env" 2>"$LOGS/swift.log" ||
		{ cat "$LOGS/swift.log" >&2; die "scripts/swift.sh start"; }
	log "swift: restarting settle-api and the workers with SETTLE_STORAGE=swift"
	swift_start_settle
	SWIFT_PROJECT=$(swift_project) || die "swift: project"
	SWIFT_CONTAINER=$(sql -c "SELECT storage_container FROM projects WHERE id = '$SWIFT_PROJECT'")
	SWIFT_ACCOUNT=$(swift_account)
	[ -n "$SWIFT_ACCOUNT" ] || die "swift: no storage URL from tempauth"
	pids=$(cat "$SWIFT_DIR/run/account.pid"),$(cat "$SWIFT_DIR/run/container.pid"),$(cat "$SWIFT_DIR/run/memcached.pid")
	CPU_GROUPS=("swift-proxy=$(cat "$SWIFT_DIR/run/proxy.pid")" "swift-object=$(cat "$SWIFT_DIR/run/object.pid")"
		"swift-other=$pids")
	put swift_version "$(dpkg-query -W -f='${Version}' swift-proxy 2>/dev/null)"
	put swift_clients "$SWIFT_CLIENTS"
	put swift_chunk_mb "$SWIFT_CHUNK_MB"
	put swift_chunks "$SWIFT_CHUNKS"

	stats_begin swift
	for ((k = 1; k <= ROUNDS; k++)); do
		swift_round raw "$k"
		swift_round flow "$k"
		n=$((n + $(kv "$OUT/swift-flow-r$k.txt" files)))
	done
	phase_end
	swift_round raw $((ROUNDS + 1))
	CPU_GROUPS=()
	stats_end "$n"
	for ((k = 1; k <= ROUNDS; k++)); do ttc_db "swift_flow_r$k" "swiftflow$k"; done
}
