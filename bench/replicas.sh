# shellcheck shell=bash
# replicas.sh: the replicas phase of bench/run.sh (sourced by it: uses its helpers, its
# stack, settle-api and token). What one streaming standby changes, each figure beside its
# reference from the same run:
#
#   read path GET /files/{id}/url, wrk -c64 as in the read phase, reference pgbench -S -c64
#   (interleaved):
#     read          no standby: the read phase's rounds (run here when BENCH_PHASES omits read)
#     read_standby  one standby, every request with the SESSION cookie of a real answer (that
#                   of a write): the standby has replayed its position, so it serves them
#     read_routed   one standby configured, no cookie: the primary serves them; against read,
#                   the cost of the routing itself (signing a cookie per answer, the poller)
#                   (rounds of read_standby and read_routed alternate: the machine's drift
#                   does not fall on one of them)
#   a small write, POST /folders (one statement), wrk -c$REPL_WRITE_CONNS, p50 and p99 per round:
#     write_ref     no standby (before it starts): the reference
#     write_w1      one standby, ?w=1: answers after the primary's COMMIT
#     write_w2      one standby, ?w=2: answers once the standby has replayed it (rounds of
#                   w=1 and w=2 alternate)
#
# The standby is scripts/stack.sh's own (SETTLE_PG_REPLICAS=1: pg_basebackup, a physical
# replication slot; not delayed), and settle-api restarts with SETTLE_DATABASE_REPLICA_URLS.
# /metrics gives, per phase, the reads the primary and the standby served and the write
# concern waits and timeouts. Afterwards settle-api runs without standbys again and the
# standby, its slot and its data are gone, so the later phases run as before. On one
# machine the standby shares its cores with everything else: this shows what routing and
# write concern cost, not a scale-out.

REPL_WRITE_CONNS=4 # clients of the write rounds: a few, so that latency, not queueing, shows
REPL_FILE_URL=""   # the read path's URL

# The value of metric $1 (its full name with labels) of settle-api, or nothing.
repl_metric() {
	curl -fs "$API/metrics" | awk -v k="$1" '$1 == k {print $2; exit}'
}
REPL_COUNTERS=('settle_reads_total{served="primary"}' 'settle_reads_total{served="standby"}'
	settle_session_waits_total settle_session_fallbacks_total settle_write_concern_waits_total
	settle_write_concern_timeouts_total)
REPL_KEYS=(served_primary served_standby session_waits session_fallbacks concern_waits concern_timeouts)
repl_routing_begin() {
	local i
	REPL_C0=()
	for i in "${!REPL_COUNTERS[@]}"; do REPL_C0[i]=$(repl_metric "${REPL_COUNTERS[i]}"); done
}
repl_routing_end() { # NAME: records how the counters moved during phase NAME
	local i v
	for i in "${!REPL_COUNTERS[@]}"; do
		v=$(repl_metric "${REPL_COUNTERS[i]}")
		put "$1_${REPL_KEYS[i]}" $((${v:-0} - ${REPL_C0[i]:-0}))
	done
}

# One round of the write: NAME K W (?w=W; none when W is empty).
repl_write_round() {
	local url="$API/api/v1/folders${3:+?w=$3}"
	log "$1 round $2/$ROUNDS: wrk -c$REPL_WRITE_CONNS POST /folders${3:+?w=$3}"
	BENCH_PARENT=$REPL_PARENT wrk -t1 -c"$REPL_WRITE_CONNS" -d"${D}s" --latency -s "$B/folder.lua" "$url" \
		>"$OUT/wrk-$1-r$2.txt" 2>&1 || die "wrk $1"
	"$PY" "$B/report.py" wrk "$OUT/wrk-$1-r$2.txt" "$1_r$2" >>"$RES"
	[ "$(kv "$RES" "$1_r$2_non2xx")" = 0 ] || log "warning: $1 round $2: $(kv "$RES" "$1_r$2_non2xx") answers not 2xx"
	REPL_WRITES=$((REPL_WRITES + $(kv "$RES" "$1_r$2_requests")))
}

# POST /folders with curl: prints the answer's headers; dies unless it is 201.
repl_post_folder() { # PARENT_KIND PARENT_ID [QUERY]
	local h
	h=$(curl -s -D - -o "$OUT/folder.json" -H "Authorization: $TOKEN" -H 'Content-Type: application/json' \
		-d "{\"name\": \"bench-replicas\", \"parent\": {\"kind\": \"$1\", \"id\": \"$2\"}}" \
		"$API/api/v1/folders${3:-}")
	[[ "$h" == "HTTP/1.1 201"* ]] || die "POST /folders${3:-} answers $(head -n1 <<<"$h")"
	echo "$h"
}

repl_standby_up() {
	log "replicas: one streaming standby (scripts/stack.sh, SETTLE_PG_REPLICAS=1, no delay)"
	SETTLE_PG_REPLICAS=1 "$TOP/scripts/stack.sh" start "$STACK" >>"$LOGS/stack.log" 2>&1 ||
		die "standby (see $LOGS/stack.log)"
	# shellcheck disable=SC1091
	REPL_URLS=$(. "$STACK/stack.env" && echo "${SETTLE_DATABASE_REPLICA_URLS:-}")
	[ -n "$REPL_URLS" ] || die "no standby in $STACK/stack.env"
	CPU_GROUPS=("standby=$(head -n1 "$STACK/pg-replica-1/postmaster.pid")")
	put repl_basebackup_mb "$(du -sm "$STACK/pg-replica-1/" | cut -f1)"
	api_stop
	api_start api-replicas.log SETTLE_DATABASE_REPLICA_URLS="$REPL_URLS"
	for _ in $(seq 300); do
		[ "$(repl_metric 'settle_standby_up{standby="1"}')" = 1 ] && return 0
		sleep 0.1
	done
	die "settle-api does not see the standby (see $LOGS/api-replicas.log)"
}

# settle-api without standbys again; the standby stops, its slot and data go.
repl_standby_down() {
	local link=$STACK/pg-replica-1 left
	api_stop
	api_start api-after-replicas.log
	# shellcheck disable=SC2034 # read by cpu_start in run.sh
	CPU_GROUPS=()
	SETTLE_PG_REPLICAS=0 "$TOP/scripts/stack.sh" start "$STACK" >>"$LOGS/stack.log" 2>&1 ||
		die "stopping the standby (see $LOGS/stack.log)"
	for _ in $(seq 100); do # its walsender may take a moment to go
		pg -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
		  WHERE slot_name LIKE 'settle_replica_%' AND NOT active" >/dev/null
		left=$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'settle_replica_%'")
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	[ "$left" = 0 ] || die "the standby's replication slot stays"
	rm -rf "$(readlink -f "$link")" "$link"
}

# The read path with the standby, rounds alternating: with the cookie (the standby serves
# them), without (the primary), in one stats window; the counters of /metrics per kind.
repl_reads() {
	local cookie k n=0 kind
	cookie=$(repl_post_folder dds-folder "$REPL_PARENT" | sed -n 's/^Set-Cookie: \(SESSION=[^;]*\).*/\1/p')
	[ -n "$cookie" ] || die "no SESSION cookie in the answer of POST /folders"
	stats_begin read_replica
	cpu_start read_replica
	for ((k = 1; k <= ROUNDS; k++)); do
		for kind in read_standby read_routed; do
			repl_routing_begin
			if [ "$kind" = read_standby ]; then
				wrk_round "$kind" "$k" "$REPL_FILE_URL" 200 "Cookie: $cookie"
			else
				wrk_round "$kind" "$k" "$REPL_FILE_URL" 200
			fi
			repl_routing_end "${kind}_r$k"
			n=$((n + $(kv "$RES" "${kind}_r${k}_requests")))
		done
	done
	phase_end
	cpu_stop
	PHASE_FLOWS=$n
	[ "$(kv "$RES" read_standby_r1_served_standby)" -gt 0 ] || die "the standby served no read with the cookie"
}

repl_writes() { # NAME KIND...: ROUNDS rounds of each KIND (ref, w1, w2), alternating, in one stats window
	local name=$1 k w
	shift
	REPL_WRITES=0
	stats_begin "$name"
	cpu_start "$name"
	repl_routing_begin
	for ((k = 1; k <= ROUNDS; k++)); do
		for w in "$@"; do repl_write_round "write_$w" "$k" "$(sed -n 's/^w//p' <<<"$w")"; done
	done
	phase_end
	repl_routing_end "$name"
	cpu_stop
	PHASE_FLOWS=$REPL_WRITES
}

replicas_phase() {
	REPL_FILE_URL="/api/v1/files/$FILE_OK/url"
	if ! phase read; then # the figure without standby
		pgbench_s
		wrk_phase read "$REPL_FILE_URL" 200
		pgbench_s
		stats_end "$PHASE_FLOWS"
	fi
	repl_post_folder dds-project "$PROJECT" >/dev/null
	REPL_PARENT=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$OUT/folder.json")
	put repl_write_conns "$REPL_WRITE_CONNS"
	repl_writes write_ref ref
	pgbench_s
	stats_end "$PHASE_FLOWS"
	repl_standby_up
	repl_post_folder dds-folder "$REPL_PARENT" '?w=2' >/dev/null
	pgbench_s
	repl_reads
	pgbench_s
	stats_end "$PHASE_FLOWS"
	repl_writes write_concern w1 w2
	pgbench_s
	stats_end "$PHASE_FLOWS"
	repl_standby_down
}
