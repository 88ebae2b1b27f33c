# lib.sh: helpers that stack.sh and swift.sh share (sourced, not run). The sourcing script
# sets PROG (its name, for messages) first.

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

die() {
	echo "$PROG: $*" >&2
	exit 1
}
say() { echo "$PROG: $*" >&2; }

# Prints a free loopback TCP port (bound to port 0 by the kernel, then released).
free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# True if port can be bound on 127.0.0.1 right now (with SO_REUSEADDR, like the servers).
port_free() {
	[ -n "${1:-}" ] || return 1
	"$PY" -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

# True if something accepts TCP connections on 127.0.0.1:port.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Alive and not a zombie (an init that does not reap leaves stopped servers as zombies).
pid_alive() {
	local stat
	[ -n "${1:-}" ] && stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# True if pid is alive and its command line contains pattern.
pid_is() {
	pid_alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}
