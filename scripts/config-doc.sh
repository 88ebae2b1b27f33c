#!/usr/bin/env bash
# config-doc.sh: the generated part of docs/configuration.md (`make docs`, ctest config_doc).
#
#   scripts/config-doc.sh check SETTLE_API FILE   exit 1 (with a diff) unless FILE begins with
#                                                 what `SETTLE_API --help-markdown` prints
#   scripts/config-doc.sh write SETTLE_API FILE   replace that part of FILE, keeping what
#                                                 follows its end marker (written by hand)
#
# The generated text ends with its marker line (CONFIG_MARKDOWN_END in common/config.h).
set -euo pipefail

[ $# -eq 3 ] && { [ "$1" = check ] || [ "$1" = write ]; } ||
	{ echo "usage: $0 check|write SETTLE_API FILE" >&2; exit 2; }
MODE=$1 API=$2 FILE=$3
GEN=$(mktemp)
trap 'rm -f "$GEN" "$GEN.new"' EXIT
"$API" --help-markdown >"$GEN"
MARKER=$(tail -n 1 "$GEN")

if [ "$MODE" = check ]; then
	if ! head -n "$(wc -l <"$GEN")" "$FILE" | diff -u "$GEN" - >&2; then
		echo "config-doc.sh: $FILE differs from the table in common/config.c: run make docs" >&2
		exit 1
	fi
	exit 0
fi
cp "$GEN" "$GEN.new"
[ -f "$FILE" ] && awk -v m="$MARKER" 'found { print } $0 == m { found = 1 }' "$FILE" >>"$GEN.new"
mv "$GEN.new" "$FILE"
