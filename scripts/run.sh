#!/usr/bin/env bash
# run.sh: runs Settle locally in the foreground (what `make run` calls after building).
#
# Starts the private stack in .settle/ (scripts/stack.sh), keeps a secret in .settle/secret,
# migrates, creates a demo user and agent once (keys in .settle/keys), then runs settle-api
# and SETTLE_WORKERS (default 1) settle-worker processes, each supervised: restarted when it
# exits (backoff 1 s doubling to 30 s, back to 1 s after a minute up), with the reason
# logged. Once the API is ready it writes .settle/env and .settle/ddsclient.yml and prints
# how to call it. Only Ctrl-C or SIGTERM stops everything this script started.
# Logs: .settle/logs/; pids of the running processes: .settle/run/*.pid.
#
#   SETTLE_LISTEN   default 127.0.0.1:8080, or a free port when 8080 is taken
#   SETTLE_QUEUE    rabbitmq (default) or inline (no RabbitMQ, no worker)
#   SETTLE_WORKERS  number of workers (default 1)
#   SETTLE_BIN_DIR  where the binaries are (default build/)
#   SETTLE_RUN_DIR  where the state is (default .settle/ at the top of the checkout)
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${SETTLE_RUN_DIR:-$TOP/.settle}
BIN=${SETTLE_BIN_DIR:-$TOP/build}
case "$BIN" in /*) ;; *) BIN=$TOP/$BIN ;; esac
LOGS=$STATE/logs
PIDS=$STATE/run
QUEUE=${SETTLE_QUEUE:-rabbitmq}
WORKERS=${SETTLE_WORKERS:-1}

PROG=run.sh
# shellcheck source=scripts/lib.sh
. "$TOP/scripts/lib.sh" # PY, die, say, port_free

case "${1:-}" in
-h | --help)
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
esac
case "$QUEUE" in rabbitmq | inline) ;; *) die "SETTLE_QUEUE must be rabbitmq or inline, not '$QUEUE'" ;; esac
[[ "$WORKERS" =~ ^[0-9]+$ ]] || die "SETTLE_WORKERS must be a number, not '$WORKERS'"
for b in settle settle-api settle-worker; do
	[ -x "$BIN/$b" ] || die "$BIN/$b is missing: run 'make build' first"
done

mkdir -p "$STATE" "$LOGS" "$PIDS"
rm -f "$PIDS"/*.pid

# ---- cleanup: everything we start is recorded here and stopped by pid -------------------

API_SUPERVISOR=""
SUPERVISOR_PIDS=()
STACK_STARTED=0
STOPPING=0

# Waits up to $2 tenths of a second for pid $1 to exit; true if it did.
wait_gone() {
	local i
	for ((i = 0; i < $2; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$1" 2>/dev/null
}

stop_pid() {
	local pid=$1 name=$2
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_gone "$pid" 150; then
		say "$name (pid $pid) did not stop in 15s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# Stops supervisor $1 of $2 (it passes SIGTERM on and waits for its child), then makes sure
# that child is gone too.
stop_supervisor() {
	local child
	child=$(cat "$PIDS/$2.pid" 2>/dev/null) || child=""
	stop_pid "$1" "supervisor of $2"
	if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
		stop_pid "$child" "$2"
	fi
}

cleanup() {
	local i
	[ "$STOPPING" = 1 ] && return 0
	STOPPING=1
	trap '' INT TERM
	say "stopping"
	for ((i = 0; i < ${#SUPERVISOR_PIDS[@]}; i++)); do
		stop_supervisor "${SUPERVISOR_PIDS[$i]}" "worker-$((i + 1))"
	done
	[ -n "$API_SUPERVISOR" ] && stop_supervisor "$API_SUPERVISOR" api
	rm -f "$PIDS"/*.pid
	if [ "$STACK_STARTED" = 1 ]; then
		"$TOP/scripts/stack.sh" stop "$STATE" || true
	fi
	say "stopped"
}

trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap 'cleanup' EXIT

# ---- stack, secret, schema, keys -------------------------------------------------------

if ! SETTLE_QUEUE=$QUEUE "$TOP/scripts/stack.sh" status "$STATE" >/dev/null 2>&1; then
	STACK_STARTED=1
fi
SETTLE_QUEUE=$QUEUE "$TOP/scripts/stack.sh" start "$STATE" >/dev/null
set -a
# shellcheck disable=SC1091
. "$STATE/stack.env"
set +a

if [ ! -s "$STATE/secret" ]; then
	(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/secret")
fi
export SETTLE_SECRET
SETTLE_SECRET=$(cat "$STATE/secret")
export SETTLE_QUEUE=$QUEUE
export SETTLE_STORAGE_DIR=${SETTLE_STORAGE_DIR:-$STATE/storage}
mkdir -p "$SETTLE_STORAGE_DIR"

if [ -z "${SETTLE_LISTEN:-}" ]; then
	if port_free 8080; then
		SETTLE_LISTEN=127.0.0.1:8080
	else
		port=$(free_port)
		say "port 8080 is taken; using $port"
		SETTLE_LISTEN=127.0.0.1:$port
	fi
fi
export SETTLE_LISTEN
PORT=${SETTLE_LISTEN##*:}
HOST=${SETTLE_LISTEN%:*}
[ "$HOST" = "0.0.0.0" ] && HOST=127.0.0.1
export SETTLE_PUBLIC_URL=${SETTLE_PUBLIC_URL:-http://$HOST:$PORT}
BASE=http://$HOST:$PORT

"$BIN/settle" migrate >>"$LOGS/migrate.log" 2>&1 || {
	tail -n 20 "$LOGS/migrate.log" >&2
	die "settle migrate failed (log: $LOGS/migrate.log)"
}

make_keys() {
	local out
	out=$("$BIN/settle" user create demo 2>>"$LOGS/cli.log") || die "settle user create failed"
	out+=$'\n'$("$BIN/settle" agent create demo-agent 2>>"$LOGS/cli.log") ||
		die "settle agent create failed"
	(umask 077 && printf '%s\n' "$out" | grep -E '^SETTLE_(USER|AGENT)_(ID|KEY)=' >"$STATE/keys")
}
[ -s "$STATE/keys" ] || make_keys
load_keys() {
	SETTLE_USER_KEY=$(sed -n 's/^SETTLE_USER_KEY=//p' "$STATE/keys")
	SETTLE_AGENT_KEY=$(sed -n 's/^SETTLE_AGENT_KEY=//p' "$STATE/keys")
	[ -n "$SETTLE_USER_KEY" ] && [ -n "$SETTLE_AGENT_KEY" ]
}
load_keys || {
	make_keys
	load_keys || die "no keys in the output of settle user/agent create (see $STATE/keys)"
}

# ---- processes -------------------------------------------------------------------------

# Describes exit status $1 of a child: "exit N" or "signal NAME".
exit_reason() {
	if (($1 > 128)); then
		echo "signal $(kill -l "$(($1 - 128))" 2>/dev/null || echo "$(($1 - 128))")"
	else
		echo "exit $1"
	fi
}

# Runs "$BIN/$1" as $2 (its log is $LOGS/$2.log, its pid in $PIDS/$2.pid) and restarts it
# whenever it exits, logging why (backoff 1 s doubling to 30 s, back to 1 s once it ran a
# minute), until this supervisor gets SIGTERM, which it passes on and waits for.
supervise() {
	local bin=$1 name=$2 child="" stop=0 backoff=1 started rc sleeper
	trap 'stop=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM
	trap '' INT
	while [ "$stop" = 0 ]; do
		started=$SECONDS
		# In a session of its own: Ctrl-C in the terminal reaches run.sh only, which then
		# stops everything in order (the child would otherwise stop on SIGINT too, and look
		# like a crash to restart).
		setsid "$BIN/$bin" >>"$LOGS/$name.log" 2>&1 </dev/null &
		child=$!
		echo "$child" >"$PIDS/$name.pid"
		rc=0
		wait "$child" || rc=$?
		# wait returns early when the trap runs; wait for the child itself.
		while kill -0 "$child" 2>/dev/null; do
			rc=0
			wait "$child" || rc=$?
		done
		rm -f "$PIDS/$name.pid"
		[ "$stop" = 1 ] && break
		((SECONDS - started >= 60)) && backoff=1
		echo "run.sh: $name (pid $child) ended with $(exit_reason "$rc") after" \
			"$((SECONDS - started))s; restarting in ${backoff}s (log: $LOGS/$name.log)" >&2
		child=""
		sleep "$backoff" &
		sleeper=$!
		wait "$sleeper" || true
		kill "$sleeper" 2>/dev/null || true # SIGTERM cut the wait short
		backoff=$((backoff * 2 > 30 ? 30 : backoff * 2))
	done
	exit 0
}

# The pid of the running $1 (from its supervisor), or nothing.
current_pid() {
	local pid
	pid=$(cat "$PIDS/$1.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

supervise settle-api api &
API_SUPERVISOR=$!

if [ "$QUEUE" != "inline" ]; then
	for ((i = 1; i <= WORKERS; i++)); do
		supervise settle-worker "worker-$i" &
		SUPERVISOR_PIDS+=($!)
	done
fi

http_status() {
	"$PY" - "$@" <<'EOF'
import json, sys, urllib.request, urllib.error
url = sys.argv[1]
data = sys.argv[2].encode() if len(sys.argv) > 2 else None
req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=5) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print(0)
EOF
}

# The first settle-api must become ready: one that exits now has a problem a restart will
# not cure (a taken port, a bad setting), so stop instead of restarting it forever.
first_api=""
for ((i = 0; i < 50; i++)); do
	first_api=$(current_pid api) && break
	sleep 0.1
done
[ -n "$first_api" ] || die "settle-api did not start (log: $LOGS/api.log)"
ready=0
for ((i = 0; i < 600; i++)); do
	kill -0 "$first_api" 2>/dev/null || {
		tail -n 30 "$LOGS/api.log" >&2
		die "settle-api exited during start (log: $LOGS/api.log)"
	}
	if [ "$(http_status "$BASE/readyz")" = 200 ]; then
		ready=1
		break
	fi
	sleep 0.1
done
[ "$ready" = 1 ] || die "settle-api did not become ready in 60s (log: $LOGS/api.log)"

# Keys kept from an earlier database are useless: make new ones.
token_body() { printf '{"agent_key":"%s","user_key":"%s"}' "$SETTLE_AGENT_KEY" "$SETTLE_USER_KEY"; }
if [ "$(http_status "$BASE/api/v1/software_agents/api_token" "$(token_body)")" != 201 ]; then
	say "the keys in $STATE/keys are not known to this database; creating new ones"
	make_keys
	load_keys || die "no keys in the output of settle user/agent create"
fi

umask 077
cat >"$STATE/env" <<EOF
SETTLE_URL=$BASE/api/v1
SETTLE_AGENT_KEY=$SETTLE_AGENT_KEY
SETTLE_USER_KEY=$SETTLE_USER_KEY
EOF
cat >"$STATE/ddsclient.yml" <<EOF
url: $BASE/api/v1
agent_key: $SETTLE_AGENT_KEY
user_key: $SETTLE_USER_KEY
EOF

workers_note="$WORKERS worker(s)"
[ "$QUEUE" = inline ] && workers_note="inline jobs, no RabbitMQ"
cat <<EOF

Settle is running at $BASE/api/v1 ($workers_note; logs in $LOGS)

  SETTLE_AGENT_KEY=$SETTLE_AGENT_KEY
  SETTLE_USER_KEY=$SETTLE_USER_KEY
  (also in $STATE/env and, for ddsclient, $STATE/ddsclient.yml)

  TOKEN=\$(curl -s -X POST $BASE/api/v1/software_agents/api_token \\
      -H 'Content-Type: application/json' \\
      -d '$(token_body)' | sed 's/.*"api_token": *"\\([^"]*\\)".*/\\1/')
  curl -s -X POST -H "Authorization: \$TOKEN" -H 'Content-Type: application/json' \\
      -d '{"name":"demo","description":"my first project"}' $BASE/api/v1/projects

Press Ctrl-C to stop.
EOF

# Foreground: the supervisors keep the processes running; only the traps (Ctrl-C, SIGTERM)
# stop everything. A supervisor itself never exits on its own.
rc=0
while kill -0 "$API_SUPERVISOR" 2>/dev/null; do
	wait "$API_SUPERVISOR" || rc=$?
done
if [ "$STOPPING" = 0 ]; then
	say "the settle-api supervisor exited with $rc"
	exit 1
fi
