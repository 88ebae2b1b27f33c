#!/usr/bin/env bash
# entrypoint.sh: the command of the Swift image (deploy/swift/Dockerfile): scripts/swift.sh
# run in the foreground, state in SWIFT_DIR (default /srv/swift, the volume). The keys come
# from the environment so that Settle's SETTLE_SWIFT_KEY and SETTLE_SWIFT_TEMP_URL_KEY
# match them (docker-compose.yml passes the same variables to both).
set -euo pipefail
for v in SWIFT_USER_KEY SWIFT_TEMP_URL_KEY; do
	if [ -z "${!v:-}" ]; then
		echo "settle-swift: $v is not set (docker compose: set SETTLE_SWIFT_KEY and SETTLE_SWIFT_TEMP_URL_KEY)" >&2
		exit 1
	fi
done
SWIFT_SH=${SWIFT_SH:-/usr/local/lib/settle/swift.sh}
exec "$SWIFT_SH" run "${SWIFT_DIR:-/srv/swift}"
