#!/usr/bin/env bash
# swift.sh: a one-box OpenStack Swift (Debian's swift packages) for development and tests:
# memcached, a proxy with tempauth, tempurl and slo, and account, container and object
# servers, one replica, everything on loopback, all state under one directory.
#
#   scripts/swift.sh start  DIR   start (or reuse) the servers; prints the SETTLE_* settings
#   scripts/swift.sh stop   DIR   stop what `start` started (by the pids recorded in DIR)
#   scripts/swift.sh status DIR   show what runs; exit 0 if everything runs, else 1
#   scripts/swift.sh env    DIR   print the SETTLE_* settings of DIR
#   scripts/swift.sh run    DIR   start, then stay in the foreground until a server exits
#                                 (exit 1) or SIGTERM/SIGINT stops them all (exit 0): the
#                                 command of a container (deploy/swift/Dockerfile)
#
# The ports are chosen once and kept in DIR/state: the rings (built with swift-ring-builder
# in DIR) embed them. The tempauth user and key and the temp-URL key are made once too.
# Swift reads /etc/swift/swift.conf from that fixed path: it is written (with a random hash
# suffix) only when absent, and never overwritten. The servers run as the user running this
# script (mount_check off, data in DIR/srv). Logs: DIR/log/.
#
# For a container (each read at every start, over what DIR/state says; the rings do not
# embed the proxy's port):
#   SWIFT_BIND_IP       address the proxy listens on (default 127.0.0.1; the other servers
#                       and memcached always listen on 127.0.0.1)
#   SWIFT_PROXY_PORT    the proxy's port
#   SWIFT_USER_KEY      the key of tempauth user settle:settle
#   SWIFT_TEMP_URL_KEY  the account's temp-URL key
set -euo pipefail

PROG=swift.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
START_TIMEOUT=${SETTLE_STACK_TIMEOUT:-90}
SERVERS=(account container object proxy)

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# ---- state: ports and keys, chosen once ------------------------------------------------

load_state() {
	local k v
	[ -f "$DIR/state" ] || return 0
	while IFS='=' read -r k v; do
		case "$k" in
		MEMCACHED_PORT | ACCOUNT_PORT | CONTAINER_PORT | OBJECT_PORT | PROXY_PORT | SWIFT_KEY | TEMP_URL_KEY)
			printf -v "$k" '%s' "$v"
			;;
		esac
	done <"$DIR/state"
	PROXY_PORT=${SWIFT_PROXY_PORT:-${PROXY_PORT:-}}
	SWIFT_KEY=${SWIFT_USER_KEY:-${SWIFT_KEY:-}}
	TEMP_URL_KEY=${SWIFT_TEMP_URL_KEY:-${TEMP_URL_KEY:-}}
}

make_state() {
	local k
	for k in MEMCACHED_PORT ACCOUNT_PORT CONTAINER_PORT OBJECT_PORT PROXY_PORT; do
		printf -v "$k" '%s' "$(free_port)"
	done
	SWIFT_KEY=$(random_hex 16)
	TEMP_URL_KEY=$(random_hex 32)
	(
		umask 077
		for k in MEMCACHED_PORT ACCOUNT_PORT CONTAINER_PORT OBJECT_PORT PROXY_PORT SWIFT_KEY TEMP_URL_KEY; do
			echo "$k=${!k}"
		done >"$DIR/state.tmp"
	)
	mv -f "$DIR/state.tmp" "$DIR/state"
}

# ---- configuration ---------------------------------------------------------------------

swift_conf() {
	[ -f /etc/swift/swift.conf ] && return 0
	[ "$(id -u)" -eq 0 ] || die "/etc/swift/swift.conf is missing and only root can write it"
	mkdir -p /etc/swift
	printf '[swift-hash]\nswift_hash_path_suffix = %s\n\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n' \
		"$(random_hex 16)" >/etc/swift/swift.conf.tmp
	mv -n /etc/swift/swift.conf.tmp /etc/swift/swift.conf
	rm -f /etc/swift/swift.conf.tmp
	say "wrote /etc/swift/swift.conf"
}

# The [DEFAULT] section every server shares; $1 is its port, $2 its address (127.0.0.1).
conf_default() {
	cat <<EOF
[DEFAULT]
bind_ip = ${2:-127.0.0.1}
bind_port = $1
workers = 0
user = $(id -un)
swift_dir = $DIR
devices = $DIR/srv
mount_check = false
recon_cache_path = $DIR/cache
log_name = settle-swift
EOF
}

write_configs() {
	local s port
	for s in account container object; do
		port="${s^^}_PORT"
		{
			conf_default "${!port}"
			printf '\n[pipeline:main]\npipeline = %s-server\n\n[app:%s-server]\nuse = egg:swift#%s\n' \
				"$s" "$s" "$s"
		} >"$DIR/$s-server.conf"
	done
	# tempauth user settle:settle (an .admin of account AUTH_settle, so it may set the
	# account's temp-URL key). The storage URL it hands out is the proxy as the caller
	# reached it ($HOST/v1/AUTH_settle), so it also works from another container.
	{
		conf_default "$PROXY_PORT" "${SWIFT_BIND_IP:-127.0.0.1}"
		cat <<EOF

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats tempurl tempauth copy slo dlo versioned_writes proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
# One replica: a node the proxy error-limits has no other to stand in for it, so the
# default 60 s of suppression after errors would only stretch an outage past its end.
error_suppression_interval = 2

[filter:tempauth]
use = egg:swift#tempauth
user_settle_settle = $SWIFT_KEY .admin

[filter:tempurl]
use = egg:swift#tempurl
methods = GET HEAD PUT POST DELETE
allowed_digests = sha256 sha512

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

[filter:copy]
use = egg:swift#copy

[filter:versioned_writes]
use = egg:swift#versioned_writes

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MEMCACHED_PORT

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats
EOF
	} >"$DIR/proxy-server.conf"
}

# One device d1 in each ring, one replica, on the ports in DIR/state.
build_rings() {
	local s port
	for s in account container object; do
		[ -f "$DIR/$s.ring.gz" ] && continue
		port="${s^^}_PORT"
		rm -f "$DIR/$s.builder"
		swift-ring-builder "$DIR/$s.builder" create 8 1 1 >/dev/null
		swift-ring-builder "$DIR/$s.builder" add "r1z1-127.0.0.1:${!port}/d1" 1 >/dev/null
		# Exit 1 is a warning (balance), 2 an error.
		swift-ring-builder "$DIR/$s.builder" rebalance >/dev/null || [ $? -eq 1 ] ||
			die "swift-ring-builder rebalance of the $s ring failed"
	done
}

# ---- processes -------------------------------------------------------------------------

# The pid recorded for $1 if that process still runs what we started.
running_pid() {
	local pid
	pid=$(cat "$DIR/run/$1.pid" 2>/dev/null) || return 1
	pid_is "$pid" "$2" && echo "$pid"
}

spawn() {
	local name=$1
	shift
	(exec setsid "$@" >>"$DIR/log/$name.log" 2>&1 </dev/null 9>&-) &
	echo $! >"$DIR/run/$name.pid"
}

start_memcached() {
	running_pid memcached "memcached" >/dev/null && return 0
	port_open "$MEMCACHED_PORT" && die "port $MEMCACHED_PORT (memcached) is taken (ports: $DIR/state)"
	spawn memcached memcached -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -m 64 -u "$(id -un)"
}

start_server() {
	local s=$1 port="${1^^}_PORT"
	running_pid "$s" "$DIR/$s-server.conf" >/dev/null && return 0
	port_open "${!port}" && die "port ${!port} ($s server) is taken (ports: $DIR/state)"
	spawn "$s" "swift-$s-server" "$DIR/$s-server.conf" -v
}

wait_ready() {
	local s port i
	for s in memcached "${SERVERS[@]}"; do
		port="${s^^}_PORT"
		for ((i = 0; i < START_TIMEOUT * 10; i++)); do
			port_open "${!port}" && break
			pid_alive "$(cat "$DIR/run/$s.pid")" || {
				tail -n 20 "$DIR/log/$s.log" >&2 || true
				die "$s exited during start (log: $DIR/log/$s.log)"
			}
			sleep 0.1
		done
		port_open "${!port}" || die "$s did not open port ${!port} in ${START_TIMEOUT}s"
	done
}

# Sets the account's temp-URL key (tempauth's .admin may), creating the account.
set_temp_url_key() {
	"$PY" - "http://127.0.0.1:$PROXY_PORT" "$SWIFT_KEY" "$TEMP_URL_KEY" <<'EOF'
import sys, time, urllib.request
base, key, tkey = sys.argv[1:]
for attempt in range(50):
    try:
        r = urllib.request.urlopen(urllib.request.Request(
            base + "/auth/v1.0", headers={"X-Auth-User": "settle:settle", "X-Auth-Key": key}),
            timeout=10)
        tok, url = r.headers["X-Auth-Token"], r.headers["X-Storage-Url"]
        urllib.request.urlopen(urllib.request.Request(
            url, method="POST", headers={"X-Auth-Token": tok,
                                         "X-Account-Meta-Temp-URL-Key": tkey}), timeout=10)
        sys.exit(0)
    except Exception as e:
        err = e
        time.sleep(0.2)
sys.exit(f"swift.sh: could not set the temp-URL key: {err}")
EOF
}

print_env() {
	cat <<EOF
SETTLE_STORAGE=swift
SETTLE_SWIFT_URL=http://127.0.0.1:$PROXY_PORT
SETTLE_SWIFT_AUTH_URL=http://127.0.0.1:$PROXY_PORT/auth/v1.0
SETTLE_SWIFT_USER=settle:settle
SETTLE_SWIFT_KEY=$SWIFT_KEY
SETTLE_SWIFT_TEMP_URL_KEY=$TEMP_URL_KEY
EOF
}

cmd_start() {
	local s
	if ! command -v swift-proxy-server >/dev/null || ! command -v memcached >/dev/null; then
		die "Swift is not installed: run scripts/deps.sh --swift"
	fi
	swift_conf
	[ -f "$DIR/state" ] || make_state
	load_state
	mkdir -p "$DIR/srv/d1" "$DIR/cache" "$DIR/log" "$DIR/run"
	write_configs
	build_rings
	start_memcached
	for s in "${SERVERS[@]}"; do start_server "$s"; done
	wait_ready
	set_temp_url_key
	say "swift running (proxy http://127.0.0.1:$PROXY_PORT, data $DIR/srv)"
	print_env
}

stop_one() {
	local name=$1 pid i
	pid=$(running_pid "$name" "$2") || {
		rm -f "$DIR/run/$name.pid"
		return 0
	}
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		pid_alive "$pid" || break
		sleep 0.1
	done
	pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
	rm -f "$DIR/run/$name.pid"
}

cmd_stop() {
	local s
	for s in proxy object container account; do stop_one "$s" "$DIR/$s-server.conf"; done
	stop_one memcached memcached
}

cmd_status() {
	local s ok=0 pat
	for s in memcached "${SERVERS[@]}"; do
		pat="$DIR/$s-server.conf"
		[ "$s" = memcached ] && pat=memcached
		if running_pid "$s" "$pat" >/dev/null; then
			echo "$s: running (pid $(cat "$DIR/run/$s.pid"))"
		else
			echo "$s: stopped"
			ok=1
		fi
	done
	return $ok
}

# In the foreground until a server exits (1) or SIGTERM/SIGINT (0); stops them all.
cmd_run() {
	local s pid
	trap 'cmd_stop; exit 0' TERM INT
	cmd_start
	flock -u 9 # `stop` and `status` from another shell may take the lock
	while :; do
		for s in memcached "${SERVERS[@]}"; do
			pid=$(cat "$DIR/run/$s.pid" 2>/dev/null) || pid=""
			pid_alive "$pid" && continue
			say "$s exited (log: $DIR/log/$s.log); stopping the others"
			tail -n 20 "$DIR/log/$s.log" >&2 || true
			cmd_stop
			exit 1
		done
		sleep 5 &
		wait $! || true
	done
}

cmd_env() {
	[ -f "$DIR/state" ] || die "no Swift in $DIR"
	print_env
}

main() {
	local cmd=${1:-}
	case "$cmd" in
	start | stop | status | env | run) ;;
	-h | --help | help)
		sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
	[ -n "${2:-}" ] || die "usage: swift.sh $cmd DIR"
	mkdir -p "$2"
	DIR=$(cd "$2" && pwd)
	exec 9>"$DIR/swift.lock"
	flock -w 120 9 || die "another swift.sh holds $DIR/swift.lock"
	load_state
	"cmd_$cmd"
}

main "$@"
