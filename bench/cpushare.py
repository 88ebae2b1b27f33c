#!/usr/bin/python3
"""cpushare.py: where the machine's CPU went during one benchmark phase. Samples /proc every
0.25 s until SIGTERM/SIGINT, then prints one line of KEY=VALUE: each group's share of the
whole machine (100% = every core busy), `irq` (hard and soft interrupts: loopback TCP), `steal`,
`other` (processes that are none of ours, e.g. other users of a shared machine) and `idle`.
The group `pg` is split as well, by each process's title (pg_backend: the connections'
backends, pg_autovacuum, pg_walwriter, pg_bgwriter: checkpointer and background writer,
pg_rest: the postmaster and the others), after the other groups and outside their sum.

    cpushare.py GROUP=PID[,PID...] ...   a group is those processes and their descendants;
                                         wrk, pgbench, loadgen and mqrate count as `client`"""
import os
import signal
import sys
import time

CLIENTS = {"wrk", "pgbench", "loadgen", "mqrate"}
ROOTS = {}  # pid -> group
for arg in sys.argv[1:]:
    g, pids = arg.split("=", 1)
    for p in pids.split(","):
        if p:
            ROOTS[p] = g
GIVEN = set(ROOTS)  # the pids named on the command line (the postmaster, not its children)
NAMES = [arg.split("=", 1)[0] for arg in sys.argv[1:]] + ["client"]
TICK = os.sysconf("SC_CLK_TCK")
first = {}   # pid -> (group, ticks at first sight)
last = {}    # pid -> ticks at last sight
stop = False
comms = {}  # pid -> command name
pgrole = {}  # pid of the pg group -> its role (pg_title's class)
PG_ROLES = ("pg_backend", "pg_autovacuum", "pg_walwriter", "pg_bgwriter", "pg_rest")


def pg_title(pid):
    """The class of a Postgres process by the title it sets (ps display): None while it has
    set none yet (a backend right after its fork)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            t = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None
    if not t.startswith("postgres: "):
        return "pg_rest" if pid in GIVEN else None  # the postmaster keeps its argv
    t = t[len("postgres: "):]
    for prefix, role in (("autovacuum", "pg_autovacuum"), ("walwriter", "pg_walwriter"),
                         ("checkpointer", "pg_bgwriter"), ("background writer", "pg_bgwriter")):
        if t.startswith(prefix):
            return role
    if t.startswith(("logical replication", "stats", "archiver", "walsender", "walreceiver",
                     "startup", "parallel worker")):
        return "pg_rest"
    return "pg_backend"  # "user database host(port) state"


def machine():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]), v[3] + v[4], v[5] + v[6], v[7]  # total, idle+iowait, irq+softirq, steal


def sample(initial):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        fields = s[s.rindex(")") + 2:].split()
        ticks = int(fields[11]) + int(fields[12])
        if pid not in first:
            g = ROOTS.get(pid) or ROOTS.get(fields[1]) or ("client" if comm in CLIENTS else "other")
            if fields[1] in ROOTS and pid not in ROOTS:
                ROOTS[pid] = ROOTS[fields[1]]  # a child (e.g. a Postgres backend)
            first[pid] = (g, ticks if initial else 0)
            comms[pid] = comm
        if first[pid][0] == "pg" and pgrole.get(pid) is None:
            pgrole[pid] = pg_title(pid)
        last[pid] = ticks


def on_signal(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)
me = str(os.getpid())
t0, i0, q0, s0 = machine()
sample(True)
while not stop:
    time.sleep(0.25)
    sample(False)
t1, i1, q1, s1 = machine()
total = max(t1 - t0, 1)
share = {}
for pid, (g, start) in first.items():
    if pid == me:
        continue
    share[g] = share.get(g, 0) + last[pid] - start
out = {g: 100.0 * share.get(g, 0) / total for g in NAMES}
out["irq"] = 100.0 * (q1 - q0) / total  # loopback TCP runs largely in softirq
out["steal"] = 100.0 * (s1 - s0) / total
out["other"] = max(0.0, 100.0 * (total - (i1 - i0)) / total - sum(out.values()))
out["idle"] = 100.0 * (i1 - i0) / total
pgshare = dict.fromkeys(PG_ROLES, 0)
for pid, (g, start) in first.items():
    if g == "pg":
        pgshare[pgrole.get(pid) or "pg_rest"] += last[pid] - start
top = {}
for pid, (g, start) in first.items():
    if g == "other" and pid != me:
        top[comms[pid]] = top.get(comms[pid], 0) + last[pid] - start
top = sorted(top.items(), key=lambda kv: -kv[1])[:3]
print(" ".join(f"{k}={v:.0f}%" for k, v in out.items()) + " " +
      " ".join(f"{k}={100.0 * v / total:.1f}%" for k, v in pgshare.items()) + " (other: " +
      ", ".join(f"{c} {100.0 * t / total:.0f}%" for c, t in top if t > 0) + ")")
