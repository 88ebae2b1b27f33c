#!/usr/bin/env python3
"""unit_cpu.py: the Postgres backend's CPU per call of SQL statements, one client at a time.

pg_stat_statements times only a statement's executor run; setting up a generic plan's nodes
(ExecutorStart), the foreign-key checks' own plans and the protocol are not in it, and the
bench's CPU per flow moves by tens of percent with the machine. This runs each statement
under pgbench with one client, as Settle runs it (prepared, plan_cache_mode =
force_generic_plan), inside BEGIN ... ROLLBACK so that the same parameters serve every call,
and reads the backend's CPU from /proc (Postgres on this machine). Variants alternate, round
after round, and every round is printed: compare the medians, and the spread beside them.

  unit_cpu.py URL POSTMASTER_PID ROUNDS SECONDS NAME=SOURCE ... -- NAME=VALUE ...

SOURCE is sql/FILE.sql:UNIT (a unit of sql/, its $N becoming :pN) or a file of one statement
written with :pN. After --, the values of the parameters: p1=..., p2=... (`uuid` for a new
random uuid per run). The tables a call writes are vacuumed before each run: the rolled-back
rows would otherwise pile up in the indexes the next calls probe.
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VACUUM = "VACUUM uploads, chunks, fingerprints, outbox, files, file_versions, job_runs"


def unit_sql(source):
    """The statement of SOURCE with :pN parameters, on one line."""
    if ":" in source and source.split(":", 1)[0].endswith(".sql"):
        path, unit = source.split(":", 1)
        lines, on = [], False
        for line in open(os.path.join(TOP, path)):
            if line.startswith("-- unit: "):
                on = line[9:].strip() == unit
            elif on and not line.startswith("--"):
                lines.append(line.strip())
        if not lines:
            sys.exit(f"unit_cpu.py: no unit {unit} in {path}")
        text = " ".join(x for x in lines if x)
    else:
        text = " ".join(x.strip() for x in open(source) if x.strip())
    return re.sub(r"\$(\d+)", r":p\1", text.rstrip(";"))


def backend_cpu(pm, stop, out):
    """Polls the newest child of the postmaster (pgbench's backend) for its utime+stime."""
    tick = os.sysconf("SC_CLK_TCK")
    time.sleep(0.3)
    kids = subprocess.run(["pgrep", "-n", "-P", str(pm)], capture_output=True, text=True)
    pid = kids.stdout.strip()
    while not stop.is_set() and pid:
        try:
            f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            out[0] = (int(f[11]) + int(f[12])) / tick
        except (OSError, IndexError):
            break
        time.sleep(0.05)


def run(url, pm, seconds, script, values):
    subprocess.run(["psql", "-X", "-q", url, "-c", VACUUM], capture_output=True)
    time.sleep(0.3)
    args = ["pgbench", "-n", "-M", "prepared", "-c", "1", "-T", str(seconds), "-f", script]
    for k, v in values.items():
        args += ["-D", f"{k}={uuid.uuid4() if v == 'uuid' else v}"]
    env = dict(os.environ, PGOPTIONS="-c plan_cache_mode=force_generic_plan")
    stop, cpu = threading.Event(), [0.0]
    t = threading.Thread(target=backend_cpu, args=(pm, stop, cpu))
    t.start()
    r = subprocess.run(args + [url], capture_output=True, text=True, env=env)
    stop.set()
    t.join()
    m = re.search(r"number of transactions actually processed: (\d+)", r.stdout)
    if r.returncode != 0 or m is None or "ERROR" in r.stderr:
        sys.exit(f"unit_cpu.py: pgbench failed: {r.stderr[-2000:]}")
    return cpu[0] * 1e6 / int(m.group(1))


def main():
    if "--" not in sys.argv or len(sys.argv) < 7:
        sys.exit(__doc__)
    cut = sys.argv.index("--")
    url, pm, rounds, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    variants = dict(a.split("=", 1) for a in sys.argv[5:cut])
    values = dict(a.split("=", 1) for a in sys.argv[cut + 1:])
    tmp = tempfile.mkdtemp(prefix="unit_cpu.")
    scripts = {}
    for name, source in variants.items():
        scripts[name] = os.path.join(tmp, name + ".sql")
        with open(scripts[name], "w") as f:
            f.write("BEGIN;\n" + unit_sql(source) + ";\nROLLBACK;\n")
    base = os.path.join(tmp, "base.sql")
    with open(base, "w") as f:
        f.write("BEGIN;\nROLLBACK;\n")
    per = {name: [] for name in ["BEGIN; ROLLBACK"] + list(variants)}
    for _ in range(rounds):
        per["BEGIN; ROLLBACK"].append(run(url, pm, seconds, base, values))
        for name in variants:
            per[name].append(run(url, pm, seconds, scripts[name], values))
    print("backend CPU µs per call (BEGIN; statement; ROLLBACK), one client, generic plans")
    for name, xs in per.items():
        print(f"{name}: median {statistics.median(xs):.0f}, rounds "
              + " / ".join(f"{x:.0f}" for x in xs))


if __name__ == "__main__":
    main()
