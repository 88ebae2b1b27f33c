#!/usr/bin/env bash
# soak.sh: what `make soak` runs once `make build` has built the release build into build/.
# Against those binaries, with the integration harness (private Postgres and RabbitMQ):
#   1. the chaos test (tests/integration/test_chaos.py) for SETTLE_CHAOS_SECONDS (600);
#   2. the soak (tests/integration/test_soak.py): SOAK_MINUTES (10) of steady load without
#      faults; prints RSS and open descriptors of settle-api and each worker every minute
#      and fails if the last minute differs from minute 2 by more than 10 %.
# Exits non-zero if either failed and ends with one summary line. Takes about
# SOAK_MINUTES + SETTLE_CHAOS_SECONDS/60 + 5 minutes.
#
#   scripts/soak.sh [PYTEST ARGS...]
#   SOAK_MINUTES=3 SETTLE_CHAOS_SECONDS=120 scripts/soak.sh    a shorter try
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$TOP" || exit 1

case "${1:-}" in
-h | --help)
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
esac

BIN=${SETTLE_BIN_DIR:-$TOP/build}
if [ ! -x "$BIN/settle-api" ]; then
	echo "soak.sh: $BIN/settle-api is missing: run make build (or make soak)" >&2
	exit 1
fi

export SETTLE_BIN_DIR=$BIN SETTLE_SOAK=1
export SETTLE_CHAOS_SECONDS=${SETTLE_CHAOS_SECONDS:-600} SOAK_MINUTES=${SOAK_MINUTES:-10}
summary=()
failed=0
for t in test_chaos test_soak; do
	echo "== soak.sh: $t" >&2
	if /usr/bin/python3 -m pytest "tests/integration/$t.py" -q "$@"; then
		summary+=("$t ok")
	else
		summary+=("$t FAILED")
		failed=1
	fi
done
IFS=','
if [ "$failed" -eq 0 ]; then
	echo "soak.sh: PASS (${summary[*]})"
	exit 0
fi
echo "soak.sh: FAIL (${summary[*]})"
exit 1
