#!/usr/bin/env bash
# compose.sh: runs docker-compose.yml for real on a Debian machine with no image registry:
# every image is built from a Debian 12 base made here with debootstrap.
#
#   scripts/compose.sh up [PROFILE[,PROFILE]]       build the images, start the stack with
#                                                   the profiles (default, replica, swift,
#                                                   mqcluster: see docker-compose.yml)
#   scripts/compose.sh test                         up, the client flow, down: each profile
#   scripts/compose.sh down                         remove the stack (and its volumes) and
#                                                   stop the dockerd this script started
#
# `up` installs what is missing (apt: docker.io, docker-compose, debootstrap, iptables),
# starts a dockerd of its own unless one answers on the default socket (data under
# $SETTLE_COMPOSE_DIR, default /var/tmp/settle-compose; pid in dockerd.pid there), makes the
# image the Dockerfiles' FROM names (debian:12-slim) with `debootstrap --variant=minbase
# bookworm` from the mirror in /etc/apt/sources.list*, builds stand-ins for postgres:15 and
# rabbitmq:3.10-management from Debian's packages (deploy/compose/postgres, .../rabbitmq),
# then `docker-compose build` and `up -d`, and waits until every service is healthy. The
# images stay in the data directory, so the next run only rebuilds what changed.
# `test` does that for the default stack, the `swift` profile, and the `replica` and
# `mqcluster` profiles together, in turn; runs tests/compose/flow.py from the host against
# each (with `mqcluster`: tests/compose/mqcluster.py checks that the cluster runs 3 nodes and
# every queue is a quorum queue on all three; docker kill of the node leading the job queues,
# a second flow on the two left; the node started again rejoins), then `down`; it always ends
# with nothing of its own running: no containers, no dockerd it started, no iptables chains
# or docker0 bridge that dockerd added. It publishes ports 8080, 8081 and 15672, or a free
# port it names for one that is taken (SETTLE_HTTP_PORT, SETTLE_SWIFT_PORT and
# SETTLE_MQ_ADMIN_PORT, when set, are used as given). Exits non-zero with the reason when
# something (docker itself included) does not work.
# Remove the cache with `scripts/compose.sh down && rm -rf /var/tmp/settle-compose`.
set -euo pipefail

PROG=compose.sh
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$TOP/scripts/lib.sh"
# Debian's docker client and docker-compose, not a newer client in /usr/local/bin.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0

WORK=${SETTLE_COMPOSE_DIR:-/var/tmp/settle-compose}
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-settle}
COMPOSE_FILE_PATH=$TOP/docker-compose.yml
BASE_IMAGE=$(sed -n 's/^FROM \([^ ]*\).*/\1/p' "$TOP/Dockerfile" | head -1)
SUITE=bookworm
HEALTH_TIMEOUT=${SETTLE_COMPOSE_TIMEOUT:-300}
MIN_FREE_KB=$((4 * 1024 * 1024))
# replica and mqcluster share a stack: one start and stop fewer.
PROFILES=(default swift replica,mqcluster)

usage() {
	sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
}

# Prints "phase: N s" for the time since the phase began (T0 set by begin).
begin() {
	T0=$SECONDS
	say "$1"
}
took() { say "$1 took $((SECONDS - T0)) s"; }

compose() {
	docker-compose -f "$COMPOSE_FILE_PATH" "$@"
}

# ---- the machine ---------------------------------------------------------------------

need_packages() {
	local missing=()
	[ -f /etc/debian_version ] && command -v apt-get >/dev/null ||
		die "needs Debian (apt-get): docker and debootstrap come from Debian's archive"
	[ "$(id -u)" -eq 0 ] || die "must run as root (dockerd, debootstrap, iptables)"
	command -v dockerd >/dev/null || missing+=(docker.io)
	[ -x /usr/bin/docker-compose ] || missing+=(docker-compose)
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	command -v iptables >/dev/null || missing+=(iptables)
	[ ${#missing[@]} -eq 0 ] && return 0
	begin "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
		>"$WORK/apt.log" 2>&1 || {
		tail -20 "$WORK/apt.log" >&2
		die "apt-get install ${missing[*]} failed (log: $WORK/apt.log)"
	}
	took "installing"
}

need_disk() {
	local avail
	avail=$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')
	[ "$avail" -ge "$MIN_FREE_KB" ] ||
		die "$WORK has $((avail / 1024)) MB free; the images need about 2 GB, 4 GB asked"
}

# Picks the host ports the stack publishes (exported for docker-compose.yml): the one
# given in the variable, else the default, else a free port, said so.
host_port() {
	local var=$1 default=$2 port
	port=${!var:-}
	if [ -n "$port" ]; then
		port_free "$port" || die "port $port ($var) is in use: the compose stack publishes it"
	elif port_free "$default"; then
		port=$default
	else
		port=$(free_port)
		say "port $default is in use; publishing $port instead ($var)"
	fi
	export "$var=$port"
}

need_ports() {
	host_port SETTLE_HTTP_PORT 8080
	host_port SETTLE_SWIFT_PORT 8081
	host_port SETTLE_MQ_ADMIN_PORT 15672
	API_HOST=http://localhost:$SETTLE_HTTP_PORT
	SWIFT_HOST=http://localhost:$SETTLE_SWIFT_PORT
	export SETTLE_PUBLIC_URL=${SETTLE_PUBLIC_URL:-$API_HOST}
	export SETTLE_SWIFT_URL=${SETTLE_SWIFT_URL:-$SWIFT_HOST}
}

# ---- dockerd ---------------------------------------------------------------------------

# The chains of the filter and nat tables ("table chain" lines).
iptables_chains() {
	local t
	for t in filter nat; do
		iptables -t "$t" -S 2>/dev/null | awk -v t="$t" '$1 == "-N" { print t, $2 }'
	done
}

# Starts a dockerd of our own unless one answers; records what it will change.
engine_up() {
	if docker info >/dev/null 2>&1; then
		say "using the dockerd that already runs"
		return 0
	fi
	if [ -s "$WORK/dockerd.pid" ] && pid_is "$(cat "$WORK/dockerd.pid")" dockerd; then
		die "a dockerd of ours (pid $(cat "$WORK/dockerd.pid")) runs but does not answer"
	fi
	begin "starting dockerd (data in $WORK/docker)"
	{
		iptables_chains
		iptables -S FORWARD | awk '$1 == "-P" { print "policy", $3 }'
		ip link show docker0 >/dev/null 2>&1 && echo "link docker0"
		echo "ip_forward $(cat /proc/sys/net/ipv4/ip_forward)"
	} >"$WORK/before"
	mkdir -p "$WORK/docker" "$WORK/exec"
	setsid dockerd --data-root "$WORK/docker" --exec-root "$WORK/exec" \
		--pidfile "$WORK/dockerd.pid" --storage-driver overlay2 \
		</dev/null >"$WORK/dockerd.log" 2>&1 &
	echo $! >"$WORK/dockerd.ours"
	local i
	for i in $(seq 1 60); do
		docker info >/dev/null 2>&1 && break
		if ! pid_alive "$(cat "$WORK/dockerd.ours")"; then
			tail -15 "$WORK/dockerd.log" >&2
			engine_down
			die "dockerd did not start (log above, $WORK/dockerd.log)"
		fi
		sleep 1
	done
	docker info >/dev/null 2>&1 || {
		tail -15 "$WORK/dockerd.log" >&2
		engine_down
		die "dockerd does not answer after 60 s (log: $WORK/dockerd.log)"
	}
	took "starting dockerd"
}

# Removes the iptables rules and chains, the docker0 bridge and the ip_forward setting that
# our dockerd added (what $WORK/before did not have), and the FORWARD policy it changed.
net_restore() {
	local t chain line added
	[ -f "$WORK/before" ] || return 0
	for t in filter nat; do
		added=$(iptables_chains | grep "^$t " | grep -vxFf <(grep "^$t " "$WORK/before") |
			awk '{ print $2 }' || true)
		[ -n "$added" ] || continue
		# Rules elsewhere that jump to those chains or name docker0, then the chains.
		iptables -t "$t" -S | grep '^-A ' | while read -r line; do
			chain=$(awk '{ print $2 }' <<<"$line")
			grep -qxF "$chain" <<<"$added" && continue
			if grep -qwFf <(echo "$added"; echo docker0) <<<"$line"; then
				eval "iptables -t $t -D ${line#-A }" || true
			fi
		done
		for chain in $added; do iptables -t "$t" -F "$chain" || true; done
		for chain in $added; do iptables -t "$t" -X "$chain" || true; done
	done
	# dockerd sets the FORWARD policy to DROP.
	local policy
	policy=$(sed -n 's/^policy //p' "$WORK/before")
	[ -n "$policy" ] && iptables -P FORWARD "$policy"
	if ! grep -qx "link docker0" "$WORK/before" && ip link show docker0 >/dev/null 2>&1; then
		ip link delete docker0 || true
	fi
	local fwd
	fwd=$(sed -n 's/^ip_forward //p' "$WORK/before")
	[ -n "$fwd" ] && echo "$fwd" >/proc/sys/net/ipv4/ip_forward
	rm -f "$WORK/before"
}

# Stops the dockerd this script started (by its pid), then undoes its network changes.
engine_down() {
	local pid i
	[ -f "$WORK/dockerd.ours" ] || return 0
	pid=$(cat "$WORK/dockerd.ours")
	if pid_is "$pid" dockerd; then
		say "stopping dockerd (pid $pid)"
		kill -TERM "$pid"
		for i in $(seq 1 60); do
			pid_alive "$pid" || break
			sleep 0.5
		done
		pid_alive "$pid" && kill -KILL "$pid"
	fi
	wait "$pid" 2>/dev/null || true
	net_restore
	rm -f "$WORK/dockerd.ours"
}

# ---- images --------------------------------------------------------------------------

# The first URI of the machine's apt sources that serves suite $1 (one-line or deb822).
mirror_for() {
	{
		grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
			sed 's/\[[^]]*\]//' | awk -v s="$1" '$3 == s { print $2 }'
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] || continue
			awk -v s="$1" 'BEGIN { RS = ""; FS = "\n" }
				{ uri = ""; ok = 0
				  for (i = 1; i <= NF; i++) {
				    if ($i ~ /^URIs:/) { split($i, a, " "); uri = a[2] }
				    if ($i ~ /^Suites:/) { n = split($i, b, " "); for (j = 2; j <= n; j++) if (b[j] == s) ok = 1 }
				    if ($i ~ /^Enabled: *no/) ok = -1 }
				  if (ok == 1 && uri != "") print uri }' "$f"
		done
	} | head -1
}

# The Dockerfiles' base image: a minbase debootstrap of bookworm, imported once.
base_image() {
	if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
		say "base image $BASE_IMAGE: cached"
		return 0
	fi
	local mirror security root="$WORK/rootfs"
	mirror=$(mirror_for "$SUITE")
	mirror=${mirror:-http://deb.debian.org/debian}
	security=$(mirror_for "$SUITE-security")
	begin "debootstrap --variant=minbase $SUITE from $mirror"
	# A finished debootstrap (it removes its debootstrap/ directory last) is reused.
	if [ -x "$root/usr/bin/apt-get" ] && [ ! -d "$root/debootstrap" ]; then
		say "reusing the finished debootstrap in $root"
	else
		rm -rf "$root"
		debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$WORK/debootstrap.log" 2>&1 || {
		tail -20 "$WORK/debootstrap.log" >&2
		rm -rf "$root"
		die "debootstrap failed (log: $WORK/debootstrap.log)"
		}
	fi
	# What Docker's own mkimage/debootstrap does: no service starts inside a build, no
	# documentation, no apt caches; and the machine's mirrors, with updates and security.
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
		'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
		>"$root/etc/dpkg/dpkg.cfg.d/excludes"
	{
		printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' \
			"$mirror" "$SUITE" "$SUITE"
		printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
		if [ -n "$security" ]; then
			printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' \
				"$security" "$SUITE"
			printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
		fi
	} >"$root/etc/apt/sources.list.d/debian.sources"
	rm -f "$root/etc/apt/sources.list"
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
		"$root"/var/cache/apt/archives/*.deb "$root"/usr/share/doc/* "$root"/usr/share/man/*
	tar -C "$root" --numeric-owner -c . |
		docker import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
	rm -rf "$root"
	took "base image $BASE_IMAGE"
}

# The images docker-compose.yml uses without building them, made from Debian's packages.
standin_images() {
	local image dir
	for image in "postgres:15 postgres" "rabbitmq:3.10-management rabbitmq"; do
		dir=${image#* }
		image=${image% *}
		begin "image $image (deploy/compose/$dir)"
		docker build -q -t "$image" -f "$TOP/deploy/compose/$dir/Dockerfile" "$TOP" >/dev/null
		took "image $image"
	done
}

# ---- the stack -----------------------------------------------------------------------

# Whether the profile list $1 (comma-separated) has profile $2.
has_profile() { [[ ",$1," == *",$2,"* ]]; }

# Exports the settings of a profile (default, replica, swift or mqcluster), or of several
# (comma-separated: replica,mqcluster).
profile_env() {
	local p
	unset COMPOSE_PROFILES SETTLE_DATABASE_REPLICA_URLS SETTLE_STORAGE SETTLE_SWIFT_KEY \
		SETTLE_SWIFT_TEMP_URL_KEY SETTLE_MQ_NODES SETTLE_AMQP_URLS
	# The api's token secret: kept in $WORK so that tokens survive a new `up`.
	if [ -z "${SETTLE_SECRET:-}" ]; then
		[ -s "$WORK/secret" ] || head -c 18 /dev/urandom | base64 >"$WORK/secret"
		SETTLE_SECRET=$(cat "$WORK/secret")
	fi
	export SETTLE_SECRET
	for p in ${1//,/ }; do
		case "$p" in
		default | replica | swift | mqcluster) ;;
		*) die "unknown profile '$p' (default, replica, swift or mqcluster)" ;;
		esac
		[ "$p" = default ] || export COMPOSE_PROFILES=${COMPOSE_PROFILES:+$COMPOSE_PROFILES,}$p
	done
	if has_profile "$1" replica; then
		export SETTLE_DATABASE_REPLICA_URLS=postgresql://settle:settle@postgres-standby:5432/settle
	fi
	if has_profile "$1" swift; then
		export SETTLE_STORAGE=swift
		SETTLE_SWIFT_KEY=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
		SETTLE_SWIFT_TEMP_URL_KEY=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
		export SETTLE_SWIFT_KEY SETTLE_SWIFT_TEMP_URL_KEY
	fi
	if has_profile "$1" mqcluster; then
		export SETTLE_MQ_NODES=3
		export SETTLE_AMQP_URLS=amqp://settle:settle@rabbitmq:5672,amqp://settle:settle@rabbitmq-2:5672,amqp://settle:settle@rabbitmq-3:5672
	fi
}

# Waits until every container of the stack runs (healthy where it has a healthcheck) and
# the one-shot migrate exited 0.
wait_healthy() {
	local deadline=$((SECONDS + HEALTH_TIMEOUT)) bad id name state health code
	while :; do
		bad=""
		for id in $(compose ps -q); do
			read -r name state health code < <(docker inspect -f \
				'{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}' "$id")
			case "$state/$health/$code" in
			running/healthy/* | running/none/*) ;;
			exited/*/0) [[ "$name" == *migrate* ]] || bad+=" ${name#/}:$state" ;;
			*) bad+=" ${name#/}:$state/$health" ;;
			esac
		done
		[ -z "$bad" ] && return 0
		if [ $SECONDS -ge $deadline ]; then
			compose logs --no-color --tail=40 >&2 || true
			die "not healthy after ${HEALTH_TIMEOUT} s:$bad"
		fi
		sleep 2
	done
}

up() {
	local profile=${1:-default}
	profile_env "$profile"
	need_ports
	begin "docker-compose build (profile $profile)"
	compose build -q
	took "docker-compose build"
	begin "docker-compose up -d (profile $profile)"
	# docker-compose 1.29 gives up on a dependency that is unhealthy for a moment (a slow
	# first start on a busy machine): wait, then ask again.
	local try
	for try in 1 2 3; do
		compose up -d && break
		[ "$try" -lt 3 ] || die "docker-compose up -d failed 3 times"
		wait_healthy
	done
	wait_healthy
	took "up and healthy"
}

# Runs `settle CMD create NAME` in the api container; prints the value of its KEY line.
make_key() {
	compose exec -T api settle "$1" create "compose-$1-$RANDOM" | sed -n "s/^$2=//p"
}

# Scalar result of a query run with psql inside a service's container.
sql() {
	local service=$1
	shift
	compose exec -T "$service" psql -X -h "$@" -U settle -d settle -tA
}

# The mqcluster profile after its first flow: tests/compose/mqcluster.py checks the cluster
# (3 nodes, Settle's queues quorum queues on all three); docker kill of the node leading
# settle.upload.complete; a second flow (user key $1, agent key $2) served by the two left;
# the node started again must rejoin (the queues' members on it online again).
check_mq_failover() {
	local leader service
	leader=$(/usr/bin/python3 "$TOP/tests/compose/mqcluster.py" 30) ||
		die "the RabbitMQ cluster is not as it should be"
	service=${leader#rabbit@}
	begin "docker kill $service (node $leader leads settle.upload.complete), then a flow"
	docker kill "$(compose ps -q "$service")" >/dev/null
	SETTLE_USER_KEY=$1 SETTLE_AGENT_KEY=$2 \
		/usr/bin/python3 "$TOP/tests/compose/flow.py" "$API_HOST/api/v1" ||
		die "the flow failed after the kill of $service"
	took "flow with $service killed"
	begin "docker-compose start $service: it rejoins"
	compose start "$service" >/dev/null 2>&1
	leader=$(/usr/bin/python3 "$TOP/tests/compose/mqcluster.py" 120) ||
		die "$service did not rejoin the cluster"
	took "$service back in the cluster (settle.upload.complete now led by $leader)"
}

check_profile() {
	local profile=$1 user_key agent_key host
	[ "$(sql postgres /var/run/postgresql -c 'SHOW fsync')" = on ] ||
		die "the compose Postgres runs with fsync off"
	user_key=$(make_key user SETTLE_USER_KEY)
	agent_key=$(make_key agent SETTLE_AGENT_KEY)
	[ -n "$user_key" ] && [ -n "$agent_key" ] || die "settle user/agent create gave no key"
	host=$API_HOST
	has_profile "$profile" swift && host=$SWIFT_HOST
	begin "flow (profile $profile)"
	SETTLE_USER_KEY=$user_key SETTLE_AGENT_KEY=$agent_key SETTLE_FLOW_STORAGE_HOST=$host \
		/usr/bin/python3 "$TOP/tests/compose/flow.py" "$API_HOST/api/v1" ||
		die "the flow failed on profile $profile"
	if has_profile "$profile" replica; then
		[ "$(sql postgres-standby 127.0.0.1 -c 'SELECT pg_is_in_recovery()')" = t ] ||
			die "postgres-standby is not a standby"
		[ "$(sql postgres-standby 127.0.0.1 -c 'SELECT count(*) > 0 FROM projects')" = t ] ||
			die "postgres-standby has not replayed the flow's project"
		say "postgres-standby streams (in recovery, has the project)"
	fi
	took "flow (profile $profile)"
	if has_profile "$profile" mqcluster; then
		check_mq_failover "$user_key" "$agent_key"
	fi
}

stack_down() {
	docker info >/dev/null 2>&1 || return 0
	SETTLE_SECRET=${SETTLE_SECRET:-down-only} COMPOSE_PROFILES=replica,swift,mqcluster \
		compose --profile replica --profile swift --profile mqcluster \
		down -v --remove-orphans --timeout 30 \
		>/dev/null 2>&1 || compose down -v --remove-orphans --timeout 30 || true
}

down() {
	stack_down
	engine_down
}

prepare() {
	mkdir -p "$WORK"
	need_packages
	need_disk
	engine_up
	base_image
	standin_images
}

cmd_test() {
	local start=$SECONDS profile
	trap 'rc=$?; trap - EXIT; say "cleaning up"; down; exit $rc' EXIT
	prepare
	for profile in "${PROFILES[@]}"; do
		up "$profile"
		check_profile "$profile"
		begin "docker-compose down -v (profile $profile)"
		stack_down
		took "down"
	done
	down
	trap - EXIT
	say "PASS: profiles ${PROFILES[*]} in $((SECONDS - start)) s; $(du -sh "$WORK" | cut -f1) in $WORK"
}

case "${1:-}" in
up)
	prepare
	up "${2:-default}"
	say "up: $API_HOST/api/v1 (project $COMPOSE_PROJECT_NAME; stop with: $0 down)"
	;;
test) cmd_test ;;
down)
	mkdir -p "$WORK"
	down
	;;
-h | --help | help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
