# Thin wrapper: the work is in scripts/.
.PHONY: all build run test soak bench deps clean format check-format

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSETTLE_TESTS=OFF >/dev/null
	@cmake --build build -j$$(nproc)

run: build
	@scripts/run.sh

test:
	@scripts/deps.sh --test
	@scripts/test.sh

soak: build
	@scripts/soak.sh

bench:
	@scripts/deps.sh --bench
	@bench/run.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-test build-fuzz
