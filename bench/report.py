#!/usr/bin/python3
"""report.py: helpers of bench/run.sh.

    report.py wrk FILE NAME          wrk --latency output -> NAME_rps=, NAME_p99_ms=, ... lines
    report.py report RESULTS NOTES   results.env (KEY=VALUE lines) -> results.md on stdout

Every round of a timed phase is reported, with its median and its worst (the lowest rate,
the highest latency); a reference is the median of its runs, shown with all of them.
"""
import os
import re
import statistics
import sys

from cpuprofile import ORDER as STAGES, OWN_CODE  # bench/cpuprofile.py's stages and objects

NAN = float("nan")


def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    if not m:
        return NAN
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[m.group(2)]


def wrk(path, name):
    text = open(path).read()
    out = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["rps"] = m.group(1) if m else "nan"
    for p in ("50", "99"):
        m = re.search(rf"^\s+{p}%\s+(\S+)", text, re.M)
        out[f"p{p}_ms"] = f"{ms(m.group(1)):.2f}" if m else "nan"
    m = re.search(r"(\d+) requests in", text)
    out["requests"] = m.group(1) if m else "0"
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non2xx"] = m.group(1) if m else "0"
    m = re.search(r"Socket errors: (.*)", text)
    out["socket_errors"] = m.group(1).strip() if m else "none"
    for k, v in out.items():
        print(f"{name}_{k}={v}")


def load(path):
    r = {}
    for line in open(path):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            r[k] = v
    return r


class Results:
    def __init__(self, r):
        self.r = r
        self.rounds = int(self.num("rounds", 5))

    def get(self, k, default="?"):
        return self.r.get(k, default)

    def num(self, k, default=NAN):
        try:
            return float(self.r[k])
        except (KeyError, ValueError):
            return default

    def series(self, fmt, n=None):
        """Values of fmt.format(i) for i = 1, 2, ... (n of them, or while present)."""
        out, i = [], 1
        while (n is None and fmt.format(i) in self.r) or (n is not None and i <= n):
            out.append(self.num(fmt.format(i)))
            i += 1
        return out


def ok(v):
    return v == v


def med(vals):
    vals = [v for v in vals if ok(v)]
    return statistics.median(vals) if vals else NAN


def worst(vals, higher):
    vals = [v for v in vals if ok(v)]
    if not vals:
        return NAN
    return min(vals) if higher else max(vals)


def f(v, digits=1):
    if not ok(v):
        return "?"
    return f"{v:,.{digits}f}"


def spread(vals):
    """'a / b / c (median m, spread x%)': every run of a reference."""
    good = [v for v in vals if ok(v)]
    if not good:
        return "?"
    m = statistics.median(good)
    sp = (max(good) - min(good)) / m * 100 if m else NAN
    return f"{' / '.join(f(v, 0) for v in vals)} (median {f(m, 0)}, spread {f(sp, 0)}%)"


def cpu_shares(text):
    """A cpu_<phase> value ("api=17% worker=5% pg=49% mq=11% ... (other: beam.smp 14%, ...)")
    as {name: percent of the machine}. The beam.smp of RabbitMQ nodes other than the stack's
    first (the cluster of phase 9) are listed under other: they count as mq here."""
    out = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)%", text)}
    m = re.search(r"\(other: (.*)\)", text)
    for name, v in re.findall(r"([^,]+?) ([\d.]+)%", m.group(1) if m else ""):
        if name.strip() == "beam.smp":
            out["mq"] = out.get("mq", 0.0) + float(v)
    return out


def cpu_ms(R, key, groups=("api", "worker", "pg", "mq")):
    """(mean flows/s, {group: CPU ms per flow}) of load phase key (NaN for a group not sampled)."""
    cores = R.num("cores")
    rates = [v for v in R.series(key + "_r{}_uploads_per_s", R.rounds) if ok(v)]
    sh = cpu_shares(R.get("cpu_" + key, ""))
    rate = statistics.mean(rates) if rates else NAN
    return rate, {k: sh[k] / 100 * cores * 1000 / rate if k in sh and ok(rate) and rate else NAN
                  for k in groups}


def ref_cpu_ms(R, ref, groups):
    """{group: CPU ms per transaction} of each pgbench run of reference ref ("b" TPC-B, "w"
    one-row UPDATE) whose CPU was sampled with every group, in run order."""
    cores, runs = R.num("cores"), []
    for k in range(1, 10):
        tps, sh = R.num(f"ref_pgbench_{ref}_{k}"), cpu_shares(R.get(f"cpu_pgbench_{ref}{k}", ""))
        if ok(tps) and tps and all(g in sh for g in groups):
            runs.append({g: sh[g] / 100 * cores * 1000 / tps for g in groups})
    return runs


def cpu_per_flow(R, c16):
    """Server CPU per flow by process for the load phases, and Postgres's CPU per TPC-B
    transaction beside it (issue 22): a phase's share of the machine (sampled from /proc over
    the phase) × cores / its mean rate."""
    cores = R.num("cores")
    out = ["\n### Server CPU per flow, by process\n",
           f"CPU milliseconds per flow = the process's share of the machine during the phase (the CPU "
           f"section below) × {f(cores, 0)} cores × 1000 / the phase's mean flows/s (its rounds' mean). "
           "RabbitMQ includes every node of phase 9's cluster. The reference: Postgres's CPU per pgbench "
           "TPC-B transaction, each run's share over its tps, the median of the runs.\n",
           "| phase | flows/s (mean) | settle-api | workers | Postgres | RabbitMQ | all four |",
           "|---|---|---|---|---|---|---|"]
    for key, name in (("prefer16", f"3a. Prefer: wait, {c16} clients"), ("poll16", f"3b. polling, {c16} clients"),
                      ("poll4", "3c. polling, 4 clients"), ("mq3poll16", f"9. polling, {c16} clients, 3-node RabbitMQ")):
        rate, ms = cpu_ms(R, key)
        out.append(f"| {name} | {f(rate, 0)} | {f(ms['api'], 2)} | {f(ms['worker'], 2)} | {f(ms['pg'], 2)} | "
                   f"{f(ms['mq'], 2)} | {f(sum(ms.values()), 2)} |")
    runs = [r["pg"] for r in ref_cpu_ms(R, "b", ("pg",))]
    out.append(f"| pgbench TPC-B -c{c16}, Postgres per transaction | – | – | – | "
               f"{' / '.join(f(v, 2) for v in runs) or '?'} (median {f(med(runs), 2)}) | – | – |")
    return out + pg_by_role(R, c16)


PG_ROLES = (("pg_backend", "backends"), ("pg_autovacuum", "autovacuum"), ("pg_walwriter", "WAL writer"),
            ("pg_bgwriter", "checkpointer and background writer"), ("pg_rest", "postmaster and the rest"))


def pg_by_role(R, c16):
    """Postgres's CPU per flow split by its processes' titles (cpushare.py's pg_* shares), and
    per TPC-B transaction (the median run): where the time outside the executor goes."""
    roles = tuple(k for k, _ in PG_ROLES)
    rows = []
    for key, name in (("poll16", f"3b. polling, {c16} clients, per flow"), ("poll4", "3c. polling, 4 clients, per flow")):
        rate, ms = cpu_ms(R, key, roles)
        if ok(ms["pg_backend"]):
            rows.append((name, ms))
    for ref, name in (("b", f"pgbench TPC-B -c{c16}"), ("w", f"pgbench one-row UPDATE -c{c16}")):
        runs = ref_cpu_ms(R, ref, roles)
        if runs:
            runs.sort(key=lambda d: sum(d.values()))
            rows.append((f"{name}, per transaction (the median of {len(runs)} runs)", runs[len(runs) // 2]))
    if not rows:
        return []
    return ["\nPostgres's CPU milliseconds split by process (each process's title: backends serve the "
            "connections; the background processes write WAL and pages and vacuum):\n",
            "| | " + " | ".join(n for _, n in PG_ROLES) + " | all |", "|---" * (len(PG_ROLES) + 2) + "|"] + \
        [f"| {name} | " + " | ".join(f(ms[k], 2) for k, _ in PG_ROLES) + f" | {f(sum(ms.values()), 2)} |"
         for name, ms in rows]


def replicas(R, pgs):
    """Section 7 (bench/replicas.sh): one streaming standby; nothing when it did not run."""
    n = R.rounds
    if "read_standby_r1_rps" not in R.r:
        return []
    rpgs = med(pgs)
    base = med(R.series("read_r{}_rps", n))
    out = ["\n## 7. One streaming standby: read routing and write concern\n",
           "One standby of the same Postgres (scripts/stack.sh `SETTLE_PG_REPLICAS=1`: pg_basebackup of "
           f"{R.get('repl_basebackup_mb')} MB, a physical replication slot, streaming, no apply delay), "
           "settle-api restarted with `SETTLE_DATABASE_REPLICA_URLS`. **The standby runs on the same "
           f"{R.get('cores')} cores** as the primary, the API and the load generators: it adds no CPU, so "
           "these figures show what the routing and the write concern cost, not a scale-out; on a machine "
           "of its own, the reads it serves would leave the primary's CPU to the writes. Reads are the "
           "read path of 1 (wrk -c64, same URL); in 7a each request sends the `SESSION` cookie of a real "
           "answer (that of a `POST /folders`, so the position of a commit): the client that keeps its "
           "cookie and must read its own writes, the case the routing exists for (`Cache-Control: "
           "max-stale` routes the same way without the cookie's check). In 7b the standby is configured "
           "and requests carry no cookie, so the primary serves them: against 1, the cost of the routing "
           "itself (a cookie signed per answer, the poller's position queries every 10 ms). Rounds of 7a and "
           "7b alternate. Served by: settle-api's `settle_reads_total` over the rounds.\n",
           "| reads | each round, req/s | median | worst | p99 ms, median (worst) | vs pgbench -S "
           f"(median {f(rpgs, 0)}) | vs no standby | served by primary / standby |",
           "|---|---|---|---|---|---|---|---|"]
    for key, what in (("read", "1. no standby"), ("read_standby", "7a. 1 standby, `SESSION` cookie"),
                      ("read_routed", "7b. 1 standby, no cookie")):
        rps, p99 = R.series(key + "_r{}_rps", n), R.series(key + "_r{}_p99_ms", n)
        served = ("primary (no standby configured)" if key == "read" else " / ".join(
            f"{sum(R.series(key + '_r{}_served_' + db, n)):.0f}" for db in ("primary", "standby")))
        out.append(f"| {what} | {' / '.join(f(v, 0) for v in rps)} | {f(med(rps), 0)} | "
                   f"{f(worst(rps, True), 0)} | {f(med(p99), 2)} ({f(worst(p99, False), 2)}) | "
                   f"{f(med(rps) / rpgs if rpgs else NAN, 2)} | {f(med(rps) / base if base else NAN, 2)} | "
                   f"{served} |")
    conns = R.get("repl_write_conns")
    out += ["", f"Writes: `POST /folders` (one statement) under one folder, wrk -c{conns} (a few clients, "
            "so that latency, not queueing, shows), rounds of `?w=1` and `?w=2` alternating. 7c is the "
            "same write before the standby existed. `w=2` answers once the standby has replayed the "
            "commit, as seen by settle-api's poller (which polls the standby every 1 ms while a write waits).\n",
            "| writes | req/s each round | p50 ms each round | p50 median | p99 ms each round | p99 median "
            "| p99 worst | p50 / p99 vs 7c | non-2xx |", "|---|---|---|---|---|---|---|---|---|"]
    ref50 = med(R.series("write_ref_r{}_p50_ms", n))
    ref99 = med(R.series("write_ref_r{}_p99_ms", n))
    for key, what in (("write_ref", "7c. no standby"), ("write_w1", "7d. 1 standby, `?w=1`"),
                      ("write_w2", "7e. 1 standby, `?w=2`")):
        rps = R.series(key + "_r{}_rps", n)
        p50, p99 = R.series(key + "_r{}_p50_ms", n), R.series(key + "_r{}_p99_ms", n)
        bad = sum(R.num(f"{key}_r{k}_non2xx", 0) for k in range(1, n + 1))
        out.append(f"| {what} | {' / '.join(f(v, 0) for v in rps)} | {' / '.join(f(v, 2) for v in p50)} | "
                   f"{f(med(p50), 2)} | {' / '.join(f(v, 2) for v in p99)} | {f(med(p99), 2)} | "
                   f"{f(worst(p99, False), 2)} | {f(med(p50) / ref50 if ref50 else NAN, 2)} / "
                   f"{f(med(p99) / ref99 if ref99 else NAN, 2)} | {bad:.0f} |")
    out.append(f"\nWrite concern over 7d and 7e: {R.get('write_concern_concern_waits')} waits, "
               f"{R.get('write_concern_concern_timeouts')} timeouts. Reads with the cookie that waited for "
               f"the standby: {sum(R.series('read_standby_r{}_session_waits', n)):.0f}, of which went to the "
               f"primary: {sum(R.series('read_standby_r{}_session_fallbacks', n)):.0f}.\n")
    out.append("Postgres transactions and statements per request on the **primary's** `settle` database "
               "(as in the table above; the standby's own work is not counted; with a standby, they include "
               "settle-api's poller, which asks the primary its position every 10 ms; "
               "`bench/out/statements-<phase>.txt`):\n")
    out.append("| phase | requests | transactions per request | statements per request |")
    out.append("|---|---|---|---|")
    for key, what in (("read", "1. reads, no standby"), ("read_replica", "7a + 7b. reads, with and without cookie"),
                      ("write_ref", "7c. writes, no standby"),
                      ("write_concern", "7d + 7e. writes, w=1 and w=2")):
        fl = R.num(key + "_flows")
        out.append(f"| {what} | {R.get(key + '_flows')} | {f(R.num(key + '_xacts') / fl if fl else NAN, 2)} | "
                   f"{f(R.num(key + '_stmts') / fl if fl else NAN, 2)} |")
    return out


def stmtcost(outdir, key, name):
    """The table of where Postgres's time goes per flow in phase key (bench/out/stmtcost-KEY.tsv,
    written by run.sh's stats_end): its 15 statements with the most time."""
    path = os.path.join(outdir, f"stmtcost-{key}.tsv")
    if not os.path.exists(path):
        return [f"\n(No statement costs for {name}: the phase did not run.)\n"]
    out = [f"\n### Where Postgres's time goes per flow: {name}\n",
           "The 15 statements of the phase with the most time (pg_stat_statements; per flow: calls, "
           "ms in the executor (planning is not counted: pg_stat_statements.track_planning is off), WAL bytes, rows, shared blocks hit and dirtied; the query as "
           "Postgres normalized it, cut at 150 characters).\n",
           "| calls | ms | WAL bytes | rows | blocks hit | dirtied | statement |", "|---|---|---|---|---|---|---|"]
    for line in open(path):
        cols = line.rstrip("\n").split("\t")
        if len(cols) == 7:
            q = cols[6].replace("|", "\\|")
            out.append(f"| {' | '.join(cols[:6])} | `{q}` |")
    return out


# What the WAL record types a flow writes most stand for (pg_waldump's rmgr/type names).
WAL_RECORDS = {
    "Btree/INSERT_LEAF": "an index entry (B-tree)",
    "Btree/INSERT_POST": "an index entry into a deduplicated posting list",
    "Btree/SPLIT_L": "an index page split", "Btree/SPLIT_R": "an index page split",
    "Btree/INSERT_UPPER": "an index page split's entry in its parent",
    "Btree/DELETE": "index entries of dead rows removed", "Btree/DEDUP": "an index page deduplicated",
    "Heap2/LOCK_UPDATED": "a row locked in a version updated since",
    "Heap/INSERT": "a new row", "Heap/INSERT+INIT": "a new row on a new page",
    "Heap/UPDATE": "a row updated with new index entries (not HOT)",
    "Heap/HOT_UPDATE": "a row updated without index entries (HOT)",
    "Heap/LOCK": "a row locked: a foreign-key check (FOR KEY SHARE) or FOR UPDATE",
    "Heap/HEAP_CONFIRM": "an INSERT ... ON CONFLICT's row confirmed",
    "Heap/DELETE": "a row deleted",
    "MultiXact/CREATE_ID": "a row locked by two transactions at once (a multixact)",
    "Transaction/COMMIT": "a commit",
    "Gin/INSERT": "message_log's payload index (GIN)",
    "Gin/UPDATE_META_PAGE": "message_log's payload index (GIN): its pending list",
    "Heap2/PRUNE": "a page pruned of dead rows", "Heap2/VACUUM": "vacuum",
    "Heap2/VISIBLE": "vacuum: a page all visible", "Btree/VACUUM": "vacuum of an index page",
    "Heap/INPLACE": "a catalog row updated in place (vacuum's and analyze's statistics)",
    "XLOG/FPI_FOR_HINT": "a full page image for a hint bit (checksums or wal_log_hints)",
}
WAL_RE = re.compile(r"^(\S+)\s+(\d+)\s+\(\s*[\d.]+\)\s+(\d+)\s+\(\s*[\d.]+\)\s+(\d+)\s+\(\s*[\d.]+\)"
                    r"\s+(\d+)\s+\(\s*[\d.]+\)\s*$")
WAL_TOTAL_RE = re.compile(r"^Total\s+(\d+)\s+(\d+)\s+\[[\d.]+%\]\s+(\d+)\s+\[[\d.]+%\]\s+(\d+)")


def wal_records(text):
    """pg_waldump --stats=record's lines -> ([(type, records, record bytes, FPI bytes)], total),
    total the same 4-tuple with type "Total" (None when the text has no total line)."""
    rows, total = [], None
    for line in (line.strip() for line in text.splitlines()):
        if m := WAL_RE.match(line):
            rows.append((m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))))
        elif m := WAL_TOTAL_RE.match(line):
            total = ("Total", int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return rows, total


def walrecords(outdir, key, name, flows):
    """The table of the WAL a flow writes in phase key, by record type (bench/out/walrec-KEY.txt,
    pg_waldump --stats=record over the phase's load, written by run.sh's stats_end)."""
    path = os.path.join(outdir, f"walrec-{key}.txt")
    rows, total = wal_records(open(path).read()) if os.path.exists(path) else ([], None)
    if total is None or not ok(flows) or flows <= 0:
        return [f"\n(No WAL records for {name}: pg_waldump did not read the phase's WAL.)\n"]
    out = [f"\n### The WAL of a flow, by record type: {name}\n",
           "All the WAL Postgres wrote while the phase's rounds ran (pg_waldump --stats=record from the "
           "phase's first round to the end of its last; the whole cluster, so autovacuum's records count), "
           "per flow: records, their bytes, and the bytes of full-page images (the first change of a page "
           "after a checkpoint, as full_page_writes=on wants). The types of at least 0.05 records a flow, "
           "by bytes.\n",
           "| record type | what it is | records | bytes | full-page image bytes |", "|---|---|---|---|---|"]
    for t, n, rec, fpi in sorted(rows, key=lambda r: r[2] + r[3], reverse=True):
        if n / flows >= 0.05:
            out.append(f"| {t} | {WAL_RECORDS.get(t, '')} | {f(n / flows, 2)} | {f(rec / flows, 0)} | "
                       f"{f(fpi / flows, 0)} |")
    _, n, rec, fpi = total
    out.append(f"| all | | {f(n / flows, 2)} | {f(rec / flows, 0)} | {f(fpi / flows, 0)} |")
    return out


def load_profile(outdir, name):
    """bench/cpuprofile.py's counts for run NAME: {group: {what: {key: samples}}}, or None."""
    path = os.path.join(outdir, f"cpuprofile-{name}.tsv")
    if not os.path.exists(path):
        return None
    out = {}
    for line in open(path):
        cols = line.rstrip("\n").split("\t")
        if len(cols) == 4 and cols[3].isdigit():
            out.setdefault(cols[0], {}).setdefault(cols[1], {})[cols[2]] = int(cols[3])
    return out or None


def cpuprofile(R, outdir, c16):
    """Where the processes' CPU goes in 3b (bench/cpuprofile.py, perf, one more round of it):
    Postgres's backends by the stage of a statement's life beside a TPC-B run's, then each
    process by where its code ran (the kernel, by the libc call that entered it; libc; its
    own code; the libraries). ms = a share × the process's CPU per flow (or per TPC-B
    transaction) from the tables above."""
    flow, tpcb = load_profile(outdir, "poll16"), load_profile(outdir, "tpcb")
    if flow is None or "pg" not in flow:
        return ["\n(No CPU profile: perf did not sample the 3b phase; see bench/out/logs/cpuprofile.log.)\n"]
    pg = flow["pg"]
    ftotal = pg["total"][""]
    flow_ms = cpu_ms(R, "poll16", ("pg_backend",))[1]["pg_backend"]
    tpcb_ms = med([r["pg_backend"] for r in ref_cpu_ms(R, "b", ("pg_backend",))])
    tstage = tpcb["pg"]["stage"] if tpcb and "pg" in tpcb else {}
    ttotal = tpcb["pg"]["total"][""] if tstage else 0
    out = [f"\n### Where Postgres's backends' CPU goes, by stage: 3b. polling, {c16} clients, beside TPC-B\n",
           "pg_stat_statements times only the executor's run. Here each of the backends' CPU samples "
           "(`perf record -g`, 499 Hz, in one more round of 3b and one more TPC-B run after the phase, each "
           "under perf and counted in no other figure) is put in "
           "the stage of a statement's life on its call stack (bench/cpuprofile.py): the outermost one, so "
           "that a foreign-key check's executor counts in \"executor finish\", but planning and the WAL "
           "flush wherever they happen. ms = the share × the backends' CPU per flow (the table above) or per "
           "TPC-B transaction (the median of its runs).\n",
           f"| stage | 3b share ({ftotal} samples) | 3b ms per flow | TPC-B share "
           f"({f'{ttotal} samples' if ttotal else 'not sampled: see bench/out/logs/cpuprofile.log'}) | "
           "TPC-B ms per transaction |", "|---|---|---|---|---|"]
    for k in STAGES:
        share = pg["stage"].get(k, 0) / ftotal
        t = tstage.get(k, 0) / ttotal if ttotal else NAN
        out.append(f"| {k} | {f(100 * share, 1)}% | {f(share * flow_ms, 2)} | "
                   f"{f(100 * t, 1) + '%' if ttotal else '?'} | {f(t * tpcb_ms, 3)} |")
    ms = cpu_ms(R, "poll16")[1]
    out += [f"\n### Where each process's CPU goes: 3b. polling, {c16} clients\n",
            "The same samples by where the code ran: the innermost frame's object (the kernel; libc; the "
            "program's own code; a library), and the kernel's share by the libc call that entered it (the "
            "innermost frame outside the kernel: a system call, or the function a page fault or an interrupt "
            "came in). ms = the share × the process's CPU per flow (the table above; Postgres: all its "
            "processes there, its backends here).\n",
            "| process | samples | kernel | kernel, by the call that entered it | libc | the program's own code "
            "| libraries |", "|---|---|---|---|---|---|---|"]
    names = (("api", "settle-api"), ("worker", "workers"), ("pg", "Postgres's backends"), ("mq", "RabbitMQ"))
    for group, name in names:
        if group not in flow:
            continue
        g = flow[group]
        total = g["total"][""]
        per = flow_ms if group == "pg" else ms[group]
        where = g.get("where", {})
        cell = lambda n: f"{f(100 * n / total, 0)}% ({f(n / total * per, 2)} ms)"
        calls = sorted(g.get("syscall", {}).items(), key=lambda kv: -kv[1])
        top = ", ".join(f"{k} {f(100 * n / total, 0)}%" for k, n in calls[:5])
        own = sum(where.get(k, 0) for k in OWN_CODE)
        libs = [(k, n) for k, n in where.items() if k not in ("kernel", "libc") + OWN_CODE]
        libtext = ", ".join(f"{k} {f(100 * n / total, 0)}%" for k, n in sorted(libs, key=lambda kv: -kv[1]))
        out.append(f"| {name} | {total} | {cell(where.get('kernel', 0))} | {top or '–'} | "
                   f"{cell(where.get('libc', 0))} | {cell(own)} | {libtext or '–'} |")
    return out


def report(results, notes):
    R = Results(load(results))
    n = R.rounds
    rows = []

    def judge(value, target, higher):
        if target is None:
            return "–", "–"
        tgt = f"≥ {target:g}" if higher else f"≤ {target:g}"
        if not ok(value):
            return tgt, "?"
        return tgt, ("yes" if (value >= target if higher else value <= target) else "**no**")

    def row_ratio(what, rounds, unit, ref_name, refs, target, digits=0, higher=True):
        """A figure against a reference: judged on median / median reference. higher: a rate
        (the worst round is the lowest); else a latency (the worst is the highest)."""
        m, w, rm = med(rounds), worst(rounds, higher), med(refs)
        ratio = m / rm if ok(rm) and rm else NAN
        tgt, met = judge(ratio, target, higher)
        rows.append(f"| {what} | {' / '.join(f(v, digits) for v in rounds)}{unit} | {f(m, digits)} | "
                    f"{f(w, digits)} | {ref_name}: {f(rm, 0)} ({len([x for x in refs if ok(x)])} runs) | "
                    f"{f(ratio, 2)} (worst {f(w / rm if ok(rm) and rm else NAN, 2)}) | {tgt} | {met} |")

    def row_limit(what, rounds, unit, limit, higher=False, digits=1, every=True):
        """A figure against a fixed limit: judged on the worst round when every is set."""
        m, w = med(rounds), worst(rounds, higher)
        tgt, met = judge(w if every else m, limit, higher)
        rows.append(f"| {what} | {' / '.join(f(v, digits) for v in rounds)}{unit} | {f(m, digits)} | "
                    f"{f(w, digits)} | – | – | {tgt}{' every round' if every and limit is not None else ''} | {met} |")

    refs = {k: R.series("ref_" + k + "_{}") for k in ("pgbench_s", "pgbench_b", "md5", "dd", "mq", "mqf")}
    pgs, pgb = refs["pgbench_s"], refs["pgbench_b"]

    def per(phase, what):
        fl = R.num(f"{phase}_flows")
        return R.num(f"{phase}_{what}") / fl if ok(fl) and fl else NAN

    row_ratio("1. read path `GET /files/{id}/url`, wrk -c64, req/s", R.series("read_r{}_rps", n), "",
              "pgbench -S -c64", pgs, 0.6)
    row_limit("1. read path p99 latency, ms", R.series("read_r{}_p99_ms", n), "", None, digits=2)
    row_ratio("2. 404 path (not consistent), wrk -c64, req/s", R.series("notfound_r{}_rps", n), "",
              "pgbench -S -c64", pgs, 0.6)
    row_limit("2. 404 path p99 latency, ms", R.series("notfound_r{}_p99_ms", n), "", None, digits=2)
    c16 = R.get("clients")
    row_ratio(f"3a. upload flow, chunked, `Prefer: wait`, {c16} clients, flows/s",
              R.series("prefer16_r{}_uploads_per_s", n), "", f"pgbench TPC-B -c{c16}", pgb, None)
    row_limit("3a. its complete→consistent p99 (server), ms", R.series("prefer16_r{}_ttc_p99_ms", n), "", None)
    row_ratio(f"3b. polling client flow, {c16} clients, flows/s", R.series("poll16_r{}_uploads_per_s", n), "",
              f"pgbench TPC-B -c{c16}", pgb, 0.3)
    row_limit(f"3b. its complete→consistent p99 (server), ms", R.series("poll16_r{}_ttc_p99_ms", n), "", 30)
    rows.append(f"| 3b. its Postgres transactions per flow | {f(per('poll16', 'xacts'), 2)} (whole phase) | – | – | "
                f"– | – | ≤ 8 | {judge(per('poll16', 'xacts'), 8, False)[1]} |")
    _, cpu16 = cpu_ms(R, "poll16")
    rows.append(f"| 3b. its server CPU per flow (settle-api, workers, Postgres, RabbitMQ), ms | "
                f"{f(sum(cpu16.values()), 2)} (whole phase) | – | – | – | – | ≤ 5 | "
                f"{judge(sum(cpu16.values()), 5, False)[1]} |")
    rows.append(f"| 3b. its Postgres CPU per flow, ms | {f(cpu16['pg'], 2)} (whole phase) | – | – | – | – | "
                f"≤ 2.5 | {judge(cpu16['pg'], 2.5, False)[1]} |")
    row_ratio("3c. polling client flow, 4 clients, flows/s", R.series("poll4_r{}_uploads_per_s", n), "",
              f"pgbench TPC-B -c{c16}", pgb, None)
    row_limit("3c. its complete→consistent p99 (server), ms", R.series("poll4_r{}_ttc_p99_ms", n), "", 20)
    row_ratio(f"9. polling client flow, {c16} clients, 3-node RabbitMQ cluster, flows/s",
              R.series("mq3poll16_r{}_uploads_per_s", n), "", "3b. single node flows/s",
              R.series("poll16_r{}_uploads_per_s", n), None, digits=1)
    row_ratio("9. its complete→consistent p99 (server) against the single node's, ms",
              R.series("mq3poll16_r{}_ttc_p99_ms", n), "", "3b. single node p99 ms",
              R.series("poll16_r{}_ttc_p99_ms", n), None, digits=1, higher=False)
    jr = int(R.num("job_rounds", 1))
    row_ratio(f"4. job throughput, {R.get('jobs1_n')} upload.complete jobs a round, relay + 2 workers, jobs/s",
              R.series("jobs{}_per_s", jr), "", f"pgbench TPC-B -c{c16}", pgb, 1.0)
    row_ratio("4. job throughput vs bare RabbitMQ", R.series("jobs{}_per_s", jr), "",
              "mqrate publish+consume msg/s", refs["mq"], None)
    row_ratio("4. job throughput vs RabbitMQ with the message-log copy", R.series("jobs{}_per_s", jr), "",
              "mqrate fanout msg/s", refs["mqf"], None)
    br = int(R.num("big_rounds", 3))
    row_ratio(f"5. integrity verification, {R.get('big_mb')} MiB in 16 MiB chunks, MB/s",
              R.series("verify{}_mb_s", br), "", "openssl md5 MB/s", refs["md5"], 0.9)
    row_ratio(f"6. ingest: one storage PUT of {R.get('big_mb')} MiB, MB/s", R.series("ingest{}_mb_s", br), "",
              "openssl md5 MB/s", refs["md5"], 0.7)
    row_ratio("6. ingest vs the disk", R.series("ingest{}_mb_s", br), "", "dd + fsync MB/s", refs["dd"], None)
    row_limit("6. settle-api peak RSS during the PUT (VmHWM), MiB",
              [v / 1024 for v in R.series("ingest{}_api_hwm_kb", br)], "", 64)
    sw = (f"{R.get('swift_clients')} clients, {R.get('swift_chunks')} × {R.get('swift_chunk_mb')} MiB "
          "files")
    row_ratio(f"8. Swift: whole chunked upload flow (chunk URLs, PUTs, complete, verified), {sw}, MB/s",
              R.series("swift_flow_r{}_mb_per_s", n), "", "raw Swift PUTs, same client and data, MB/s",
              R.series("swift_raw_r{}_mb_per_s"), 0.8)
    row_limit("8. its files/s", R.series("swift_flow_r{}_files_per_s", n), "", None, higher=True, digits=2)
    row_limit("8. its complete→consistent p99 (server), ms", R.series("swift_flow_r{}_ttc_p99_ms", n), "", None)

    out = []
    out.append("# Settle benchmark results\n")
    out.append(f"Written by `make bench` (bench/run.sh) in {R.get('run_seconds')} s (build and setup "
               f"{R.get('t_setup_s')} s, pgbench -i with read and 404 paths {R.get('t_read_s')} s, standby "
               f"{R.get('t_replicas_s')} s, upload flows "
               f"{R.get('t_flows_s')} s, jobs {R.get('t_jobs_s')} s, integrity and ingest {R.get('t_big_s')} s, "
               f"Swift {R.get('t_swift_s')} s), "
               f"Settle commit {R.get('git')}.\n")
    short = [f"{name}={R.get(key)}" for name, key, default in
             (("BENCH_DURATION", "duration", "10"), ("BENCH_ROUNDS", "rounds", "5"),
              ("BENCH_JOBS", "jobs1_n", "50000"), ("BENCH_JOB_ROUNDS", "job_rounds", "1"),
              ("BENCH_BIG_MB", "big_mb", "1024"), ("BENCH_CLIENTS", "clients", "16"))
             if R.get(key) != default]
    if short:
        out.append(f"**Not a default run** ({', '.join(short)}): do not compare its figures with a default "
                   "run's.\n")
    out.append(f"**Settings of every benchmark and reference below** (one Postgres serves Settle and "
               f"pgbench): Postgres {R.get('pg_settings')}; started by scripts/stack.sh. Release build, "
               f"everything on loopback, settle-api with SETTLE_THREADS={R.get('api_threads')}, 2 "
               f"settle-workers with SETTLE_WORKER_THREADS={R.get('worker_threads')}, RabbitMQ "
               f"{R.get('rabbitmq')} (quorum queues, publisher confirms).\n")
    out.append(f"Each timed phase ran {n} consecutive rounds of {R.get('duration')} s; every round is shown, "
               "with the median and the worst (lowest rate, highest latency). References ran several times, "
               "interleaved with their figures (reference, figure, reference, …); a ratio is the median "
               "figure over the median reference, and the worst round's ratio is beside it. A rate target "
               "is judged on the median ratio; a latency target on the worst round (it must hold in every "
               "round). Transactions and statements per flow cover a whole phase. MB = 10^6 bytes. "
               "Timings never fail the run.\n")
    out.append("| benchmark | each round | median | worst | reference (median) | ratio | target | met |")
    out.append("|---|---|---|---|---|---|---|---|")
    out += rows

    # ---- transactions and statements per flow
    out.append("\n## Postgres transactions and statements per flow\n")
    out.append("In the `settle` database only, over all the rounds of a phase: transactions = "
               "xact_commit + xact_rollback from pg_stat_database (read 12 s after the load stopped, "
               "once every backend has flushed its counters), statements = the sum of `calls` in "
               "pg_stat_statements (reset when the phase starts; BEGIN and COMMIT count). A flow is one "
               "request for the read and 404 paths, one whole upload flow for 3a–3c (every call of it, "
               "the relay and the worker included), one job for 4. The top statements by calls per flow "
               "are in `bench/out/statements-<phase>.txt`.\n")
    out.append("Postgres ms per flow is the statements' time in the executor from pg_stat_statements "
               "(planning not counted: track_planning is off, as by default): CPU plus waits for locks "
               "and I/O; WAL "
               "bytes likewise. pgbench TPC-B's own figures are in the references above.\n")
    out.append("| phase | flows | transactions | per flow | statements | per flow | Postgres ms per flow "
               "| WAL bytes per flow |")
    out.append("|---|---|---|---|---|---|---|---|")
    phases = [("read", "read path"), ("notfound", "404 path"), ("prefer16", f"3a. Prefer: wait, {c16} clients"),
              ("poll16", f"3b. polling, {c16} clients"), ("poll4", "3c. polling, 4 clients"),
              ("mq3poll16", f"9. polling, {c16} clients, 3-node RabbitMQ")]
    phases += [(f"jobs{k}", f"4. jobs round {k}") for k in range(1, jr + 1)]
    phases += [("swift", "8. Swift flow (a flow: one file of several chunks)")]
    for key, name in phases:
        out.append(f"| {name} | {R.get(key + '_flows')} | {R.get(key + '_xacts')} | {f(per(key, 'xacts'), 2)} | "
                   f"{R.get(key + '_stmts')} | {f(per(key, 'stmts'), 2)} | {f(per(key, 'pg_ms'), 2)} | "
                   f"{f(per(key, 'wal_bytes'), 0)} |")
    out += cpu_per_flow(R, c16)
    out += cpuprofile(R, os.path.dirname(results), c16)
    out += stmtcost(os.path.dirname(results), "poll16", f"3b. polling, {c16} clients")
    out += walrecords(os.path.dirname(results), "poll16", f"3b. polling, {c16} clients",
                      R.num("poll16_flows"))

    # ---- time to consistency, per round
    out.append("\n## Upload flows, every round\n")
    out.append("Server-side time to consistency from the database's own timestamps: `uploads.completed_at` "
               "(the transaction of `complete`, which also writes the outbox row) → published → "
               f"`uploads.consistent_at`. Published is {R.get('published_from')}. Client-side: from sending "
               "`complete` to seeing the consistent answer (Prefer: wait) or the first 200 of "
               "`GET /files/{id}/url` (polling every 10 ms). All times in ms.\n")
    for key, name in phases[2:6]:
        out.append(f"**{name}** ({R.get(key + '_r1_wait_mode')}):\n")
        out.append("| round | flows/s | flows | TTC p50 | p95 | p99 | max | outbox→published p50 | p95 | p99 | max "
                   "| published→consistent p50 | p95 | p99 | max | client p50 | client p99 | polls/flow |")
        out.append("|---" * 18 + "|")
        cols = ["uploads_per_s", "n", "ttc_p50_ms", "ttc_p95_ms", "ttc_p99_ms", "ttc_max_ms", "relay_p50_ms",
                "relay_p95_ms", "relay_p99_ms", "relay_max_ms", "work_p50_ms", "work_p95_ms", "work_p99_ms",
                "work_max_ms", "ttc_client_p50_ms", "ttc_client_p99_ms", "url_polls_per_flow"]
        table = [[R.num(f"{key}_r{k}_{c}") for c in cols] for k in range(1, n + 1)]
        def cell(c, v):
            if c == "url_polls_per_flow" and not ok(v):
                return "–"  # Prefer: wait does not poll
            return f(v, 0 if c == "n" else (2 if c == "url_polls_per_flow" else 1))

        for k, vals in enumerate(table, 1):
            out.append(f"| {k} | " + " | ".join(cell(c, v) for c, v in zip(cols, vals)) + " |")
        for label, fn in (("median", lambda c, vs: med(vs)),
                          ("worst", lambda c, vs: worst(vs, c in ("uploads_per_s", "n")))):
            out.append(f"| {label} | " + " | ".join(
                cell(c, fn(c, [t[i] for t in table])) for i, c in enumerate(cols)) + " |")
        fails = sum(R.num(f"{key}_r{k}_failed", 0) for k in range(1, n + 1))
        unpub = sum(R.num(f"{key}_r{k}_n", 0) - R.num(f"{key}_r{k}_n_published", 0) for k in range(1, n + 1))
        out.append(f"\nFailed flows: {fails:.0f}. Uploads with no publish record: {unpub:.0f}.\n")

    # ---- other details
    out.append("## Other details\n")
    for k in range(1, jr + 1):
        out.append(f"- **jobs round {k}**: {R.get(f'jobs{k}_n')} jobs ({R.get(f'jobs{k}_errors')} integrity errors) "
                   f"consistent {f(R.num(f'jobs{k}_total_s'), 1)} s after the outbox commit "
                   f"({R.get(f'jobs{k}_per_s')}/s); relay published the last at "
                   f"{R.get(f'jobs{k}_relay_per_s')}/s; workers' first→last consistent_at "
                   f"{R.get(f'jobs{k}_worker_per_s')}/s")
    for k in range(1, br + 1):
        out.append(f"- **integrity round {k}**: worker job log ms={R.get(f'verify{k}_job_ms')}, database "
                   f"completed_at→consistent_at {R.get(f'verify{k}_db_ms')} ms; its chunk PUTs ran at "
                   f"{R.get(f'verify{k}_chunked_put_mb_s')} MB/s")
        out.append(f"- **ingest round {k}**: {R.get(f'ingest{k}_mb_s')} MB/s; settle-api VmHWM before "
                   f"{f(R.num(f'ingest{k}_api_hwm_before_kb') / 1024)} MiB, reset, during the PUT "
                   f"{f(R.num(f'ingest{k}_api_hwm_kb') / 1024)} MiB")
    for k in range(1, n + 1):
        out.append(f"- **Swift flow round {k}**: {R.get(f'swift_flow_r{k}_files')} files, "
                   f"{R.get(f'swift_flow_r{k}_failed')} failed, TTC p50 {R.get(f'swift_flow_r{k}_ttc_p50_ms')} "
                   f"ms (server); CPU ms per MB stored: {R.get(f'swift_flow_r{k}_cpu_ms_per_mb')}. Raw round {k} "
                   f"before it: {R.get(f'swift_raw_r{k}_files')} files, {R.get(f'swift_raw_r{k}_mb_per_s')} MB/s; "
                   f"CPU ms per MB: {R.get(f'swift_raw_r{k}_cpu_ms_per_mb')}")
    for key, name in phases[:2]:
        out.append(f"- **{name}** rounds: " + "; ".join(
            f"{R.get(f'{key}_r{k}_requests')} requests, p50 {R.get(f'{key}_r{k}_p50_ms')} ms, "
            f"p99 {R.get(f'{key}_r{k}_p99_ms')} ms, non-2xx {R.get(f'{key}_r{k}_non2xx')}, "
            f"socket errors {R.get(f'{key}_r{k}_socket_errors')}" for k in range(1, n + 1)))

    out += replicas(R, pgs)

    out.append("\n## References, every run\n")
    out.append(f"- pgbench -S -c64 -j2, {R.get('duration')} s, scale 10 (tps): {spread(pgs)}")
    out.append(f"- pgbench TPC-B -c{c16} -j2, {R.get('duration')} s, scale 10 (tps): {spread(pgb)}")
    out.append(f"- openssl speed -evp md5, 16 KiB blocks, 3 s (MB/s): {spread(refs['md5'])}")
    out.append(f"- dd {R.get('big_mb')} MiB in 16 MiB blocks with fsync, into the storage directory (MB/s): "
               f"{spread(refs['dd'])}")
    out.append(f"- mqrate, {R.get('mq_messages')} messages, publish with confirms + consume and ack (msg/s): "
               f"{spread(refs['mq'])}")
    out.append(f"- mqrate fanout (a second quorum queue gets a copy, like settle.message_log) (msg/s): "
               f"{spread(refs['mqf'])}")
    out.append(f"- raw Swift PUTs, {sw}, {R.get('duration')} s (MB/s): "
               f"{spread(R.series('swift_raw_r{}_mb_per_s'))}")

    out.append("\n## CPU during each phase\n")
    out.append("Share of the whole machine (100% = every core busy), from /proc, by process: "
               "api = settle-api, worker = settle-workers, pg = Postgres, standby = its standby (7), mq = RabbitMQ, "
               "swift-proxy, swift-object, swift-other (account and container servers, memcached; 8), "
               "client = wrk/pgbench/loadgen/mqrate, other = not ours. A load phase is sampled over all its "
               "rounds; the Swift phase round by round.\n")
    out += [f"- {k[4:]}: {v}" for k, v in R.r.items() if k.startswith("cpu_")]

    out.append("\n## Load generators\n")
    out.append(
        "- Read and 404 paths: wrk (2 threads, 64 keep-alive connections, `bench/auth.lua` sets "
        "`Authorization`).\n"
        "- Upload flows, integrity and ingest: `bench/loadgen.c`, a C client on plain sockets with HTTP/1.1 "
        "keep-alive, one thread and connection per client (no Python: it would spend a core of a 2-core "
        "machine on the client side). 3a (`loadgen flow`): each client loops create upload → register "
        "chunk → storage PUT (1 KiB) → complete with `Prefer: wait=30` (the API answers when the upload "
        "is consistent). 3b and 3c (`loadgen poll`): each client loops the non-chunked DDS flow, "
        "create upload (`chunked: false`, 4096 bytes, md5) → storage PUT of 4 KiB to its `signed_url` → "
        "complete (no Prefer) → `POST /files` → `GET /files/{id}/url`, again every 10 ms while it "
        "answers 404 `resource_not_consistent`, until 200. Clients go as fast as they can.\n"
        "- Jobs: rows inserted straight into Postgres, chunk files written to the storage directory, then "
        "all the outbox rows of a round in one transaction (with NOTIFY), the API's relay on, 2 workers. "
        "Reference `bench/mqrate.c`: rabbitmq-c, persistent messages to a quorum queue, confirms per batch "
        "of 200 (the relay's batch), consume with prefetch 16 and one ack each (the worker's default).\n"
        "- Swift (bench/swift.sh, phase 8): a one-box Swift (scripts/swift.sh, Swift "
        f"{R.get('swift_version')}: proxy, account, container and object servers with `workers = 0`, one "
        "replica, memcached), settle-api and 2 workers restarted with `SETTLE_STORAGE=swift`. `loadgen "
        "swift-flow`: each client loops create upload → for each chunk, register it and PUT it to the Swift "
        "temp URL it got → complete with the whole-file md5 (as ddsclient does: the worker reads a "
        "multi-chunk upload back from Swift once) and `Prefer: wait=30` → verified. `loadgen swift-raw`, "
        "the reference: the same client code, chunk size and data, only the PUTs, to the same container "
        "with temp URLs it signs itself. Raw and flow rounds alternate (raw 1, flow 1, …, raw N+1). A "
        "client's rate is its files over its own time to the end of its last file; the clients' rates "
        "are added.")

    out.append("\n## Machine\n")
    facts = [("cores", "cores"), ("CPU", "machine_cpu"), ("memory", "mem"), ("kernel", "kernel"),
             ("PostgreSQL", "postgres"), ("Postgres settings", "pg_settings"), ("RabbitMQ", "rabbitmq"),
             ("Erlang", "erlang"), ("libmicrohttpd", "pkg_libmicrohttpd-dev"),
             ("rabbitmq-c", "pkg_librabbitmq-dev"), ("libpq", "pkg_libpq-dev"),
             ("jansson", "pkg_libjansson-dev"), ("OpenSSL", "pkg_libssl-dev"), ("wrk", "pkg_wrk"),
             ("pgbench (postgresql-contrib)", "pkg_postgresql-contrib"), ("compiler", "compiler"),
             ("Settle commit", "git")]
    out += [f"- {k}: {R.get(v)}" for k, v in facts]
    try:
        text = open(notes).read().strip()
    except OSError:
        text = ""
    if text:
        out.append("\n" + text)
    print("\n".join(out))


if __name__ == "__main__":
    if sys.argv[1] == "wrk":
        wrk(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
