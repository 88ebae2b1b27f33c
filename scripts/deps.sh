#!/usr/bin/env bash
# deps.sh: installs the Debian packages Settle needs to build, run and test, and only the
# ones that are missing. Silent when nothing is missing.
#
#   scripts/deps.sh            build, run and test dependencies
#   scripts/deps.sh --bench    also wrk, postgresql-contrib (pgbench), linux-perf (Postgres's
#                              CPU by stage: bench/cpuprofile.py) and what --swift adds
#                              (`make bench` has a Swift phase)
#   scripts/deps.sh --swift    also OpenStack Swift and memcached (scripts/swift.sh); implied
#                              by SETTLE_STORAGE=swift
#   scripts/deps.sh --test     what `make test` needs: what --swift adds, and docker-compose
#                              (validates docker-compose.yml; no container engine)
#
# Installing postgresql or rabbitmq-server may start their system services on a machine
# with an init system; Settle never uses them: scripts/stack.sh and the tests run private
# servers on free loopback ports under their own node names.
set -euo pipefail

# The python3-* after clang-format are what the real ddsclient (tests/integration/
# test_ddsclient.py) imports.
packages=(build-essential cmake pkg-config libmicrohttpd-dev librabbitmq-dev libpq-dev
	libjansson-dev libssl-dev libcurl4-openssl-dev libcmocka-dev postgresql rabbitmq-server
	python3-pytest python3-requests python3-psycopg2 python3-pika clang clang-format
	python3-yaml python3-tz python3-future python3-six python3-tenacity python3-tabulate)

swift=0
[ "${SETTLE_STORAGE:-}" = "swift" ] && swift=1
for arg in "$@"; do
	case "$arg" in
	--bench)
		packages+=(wrk postgresql-contrib linux-perf)
		swift=1
		;;
	--swift) swift=1 ;;
	--test)
		packages+=(docker-compose)
		swift=1
		;;
	-h | --help)
		sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "deps.sh: unknown argument '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done

# The servers scripts/swift.sh runs; their packages' services are never started by Settle.
[ "$swift" = 1 ] && packages+=(swift swift-proxy swift-account swift-container swift-object memcached)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = "installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		echo "deps.sh: missing packages (${missing[*]}) and not root; install them as root" >&2
		exit 1
	fi
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	"${missing[@]}"
