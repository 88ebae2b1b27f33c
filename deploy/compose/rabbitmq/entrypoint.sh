#!/bin/bash
# entrypoint.sh of the rabbitmq:3.10-management stand-in (deploy/compose/rabbitmq/
# Dockerfile). For the command `rabbitmq-server` (run as root) it writes the broker's
# configuration from RABBITMQ_DEFAULT_USER and RABBITMQ_DEFAULT_PASS (default guest/guest)
# and RABBITMQ_DEFAULT_VHOST (default /), lets that user connect from anywhere, writes
# RABBITMQ_ERLANG_COOKIE (when set) to the cookie file the node and its CLI tools read (the
# nodes of a cluster share it), and runs the broker in the foreground as the rabbitmq user.
# Files in /etc/rabbitmq/conf.d/ add to the configuration (as in the official image), e.g.
# deploy/compose/rabbitmq-cluster.conf. Any other command is exec'd as is.
set -euo pipefail

if [ "$1" = rabbitmq-server ] && [ "$(id -u)" = 0 ]; then
	for v in RABBITMQ_DEFAULT_USER RABBITMQ_DEFAULT_PASS RABBITMQ_DEFAULT_VHOST; do
		if [[ "${!v:-}" =~ [[:space:]] ]]; then
			echo "rabbitmq entrypoint: $v must not contain white space" >&2
			exit 1
		fi
	done
	cat >/etc/rabbitmq/rabbitmq.conf <<CONF
default_user = ${RABBITMQ_DEFAULT_USER:-guest}
default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}
default_vhost = ${RABBITMQ_DEFAULT_VHOST:-/}
loopback_users = none
listeners.tcp.default = 5672
management.tcp.port = 15672
CONF
	if [ -n "${RABBITMQ_ERLANG_COOKIE:-}" ]; then
		(umask 077 && printf '%s' "$RABBITMQ_ERLANG_COOKIE" >/var/lib/rabbitmq/.erlang.cookie)
	fi
	chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
	cd /var/lib/rabbitmq
	exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
		env HOME=/var/lib/rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
fi
exec "$@"
