#!/usr/bin/python3
"""cpushare.py: where the machine's CPU went during one benchmark phase. Samples /proc every
0.25 s until SIGTERM/SIGINT, then prints one line of KEY=VALUE: each group's share of the
whole machine (100% = every core busy), `irq` (hard and soft interrupts: loopback TCP), `steal`,
`other` (processes that are none of ours, e.g. other users of a shared machine) and `idle`.

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
NAMES = [arg.split("=", 1)[0] for arg in sys.argv[1:]] + ["client"]
TICK = os.sysconf("SC_CLK_TCK")
first = {}   # pid -> (group, ticks at first sight)
last = {}    # pid -> ticks at last sight
stop = False
comms = {}  # pid -> command name


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
top = {}
for pid, (g, start) in first.items():
    if g == "other" and pid != me:
        top[comms[pid]] = top.get(comms[pid], 0) + last[pid] - start
top = sorted(top.items(), key=lambda kv: -kv[1])[:3]
print(" ".join(f"{k}={v:.0f}%" for k, v in out.items()) + " (other: " +
      ", ".join(f"{c} {100.0 * t / total:.0f}%" for c, t in top if t > 0) + ")")
