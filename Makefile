# Thin wrapper: the work is in scripts/.
.PHONY: all build run test compose-test soak bench deps clean format check-format docs

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

# The compose stack alone (also the last stage of `make test`).
compose-test:
	@scripts/compose.sh test

soak: build
	@scripts/soak.sh

bench:
	@scripts/deps.sh --bench
	@bench/run.sh

# docs/configuration.md's table, from the one in common/config.c (ctest config_doc checks it).
docs: build
	@scripts/config-doc.sh write build/settle-api docs/configuration.md

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-test build-fuzz
