#!/usr/bin/env bash
# test.sh: builds with ASan+UBSan into build-test/ and runs every test (what `make test`
# calls): the cmocka unit tests through ctest, then the pytest integration tests against
# private Postgres and RabbitMQ servers, the API tests once more through a standby
# (SETTLE_TEST_STANDBY=1), the fuzz harnesses, and last the compose stack for real
# (scripts/compose.sh test). With CI=true warnings are errors. Exits
# non-zero if anything failed and ends with one summary line.
#
#   scripts/test.sh [PYTEST ARGS...]    e.g. scripts/test.sh -k migrate -x
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$TOP"
BUILD=build-test

case "${1:-}" in
-h | --help)
	sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
esac

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

summary=()
failed=0

# Runs a named step, recording "name ok" or "name FAILED".
step() {
	local name=$1 rc=0
	shift
	echo "== test.sh: $name" >&2
	"$@" || rc=$?
	if [ "$rc" -eq 0 ]; then
		summary+=("$name ok")
	else
		summary+=("$name FAILED (exit $rc)")
		failed=1
	fi
	return "$rc"
}

finish() {
	local IFS=','
	if [ "$failed" -eq 0 ]; then
		echo "test.sh: PASS (${summary[*]})"
		exit 0
	fi
	echo "test.sh: FAIL (${summary[*]})"
	exit 1
}

cmake_args=(-DSETTLE_SANITIZE=ON -DSETTLE_TESTS=ON)
[ "${CI:-}" = "true" ] && cmake_args+=(-DSETTLE_WERROR=ON)

build() {
	cmake -S "$TOP" -B "$TOP/$BUILD" "${cmake_args[@]}" >/dev/null &&
		cmake --build "$TOP/$BUILD" -j"$(nproc)"
}
step build build || finish

unit() {
	(cd "$TOP/$BUILD" && ctest --output-on-failure -j"$(nproc)")
}
step unit unit

integration() {
	local rc=0
	SETTLE_BIN_DIR="$TOP/$BUILD" /usr/bin/python3 -m pytest tests/integration -q "$@" || rc=$?
	if [ "$rc" -eq 5 ]; then
		echo "test.sh: pytest collected no tests" >&2
	fi
	return "$rc"
}
step integration integration "$@"

# The API suite once more through the consistency sessions: every settle-api also reads
# from a (non-delayed) standby and the clients keep the SESSION cookie (conftest.py). No
# test selected by the arguments here is no failure. The slow tests (a 1 GiB body) add
# nothing to the routing.
standby() {
	local rc=0
	SETTLE_TEST_STANDBY=1 SETTLE_BIN_DIR="$TOP/$BUILD" /usr/bin/python3 -m pytest \
		tests/integration/test_api_*.py -q -m "not slow" "$@" || rc=$?
	[ "$rc" -eq 5 ] && rc=0
	return "$rc"
}
step standby standby "$@"

# libFuzzer harnesses (fuzz/), a few seconds each, when clang is there to build them.
fuzz() {
	local t dir
	CC=clang cmake -S "$TOP" -B "$TOP/build-fuzz" -DSETTLE_FUZZ=ON -DSETTLE_SANITIZE=ON \
		-DSETTLE_TESTS=OFF >/dev/null &&
		cmake --build "$TOP/build-fuzz" -j"$(nproc)" --target \
			$(cd "$TOP/fuzz" && ls fuzz_*.c | sed 's/\.c$//') >/dev/null || return 1
	for t in "$TOP"/fuzz/fuzz_*.c; do
		t=$(basename "$t" .c)
		dir=$(mktemp -d)
		cp "$TOP/fuzz/corpus/${t#fuzz_}"/* "$dir"/ 2>/dev/null
		if ! "$TOP/build-fuzz/$t" -max_total_time="${FUZZ_SECONDS:-10}" "$dir" \
			>"$dir.log" 2>&1; then
			cat "$dir.log" >&2
			rm -rf "$dir" "$dir.log"
			return 1
		fi
		echo "$t: $(grep -E '^Done' "$dir.log")"
		rm -rf "$dir" "$dir.log"
	done
}
if command -v clang >/dev/null 2>&1; then
	step fuzz fuzz
fi

# Last: docker-compose.yml for real (scripts/compose.sh test, on ports 8080, 8081 and 15672
# or free ones where those are taken: the images, the stack with each profile, the client
# flow, then nothing left running). It fails with the reason where docker cannot run.
step compose "$TOP/scripts/compose.sh" test

finish
