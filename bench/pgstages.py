#!/usr/bin/env python3
"""pgstages.py: where Postgres's backends spend their CPU, by the stage of a statement's life.

pg_stat_statements times only the executor's run (ExecutorRun and ExecutorFinish); a flow's
backends spend about as much again outside it: reading the client's messages, parsing the
text statements (BEGIN, COMMIT), checking and locking a cached generic plan, setting up the
plan's nodes (ExecutorStart), committing. This samples the backends' call stacks with
`perf record -g` for a few seconds of load and puts each sample in one stage:

  - the outermost stage function on its stack (the executor's start, run, finish or end;
    the plan cache; the parser; commit; reading or sending messages), so that the executor
    a foreign-key check or a SQL function runs inside another stage counts in that stage;
  - except planning and the WAL flush, which count as themselves wherever they happen.

When none of them is on the stack, the portal's own functions and the parameters' input
functions name the stage; samples with none of these (the main loop's own work, the
kernel's scheduler, stacks perf could not walk) are "other".

  pgstages.py SECONDS OUT PID...   records the pids (Postgres backends) for SECONDS and
                                   writes OUT: one line `stage<TAB>samples` per stage, the
                                   first `total<TAB>samples`; exits 3 when perf is missing or
                                   cannot record (the caller reports that instead).
"""
import collections
import os
import shutil
import subprocess
import sys
import tempfile

# Outermost wins: a stage's own functions (PostgreSQL 15's symbols).
OUTER = {
    "pq_getbyte": "read the client's messages",
    "pq_getmessage": "read the client's messages",
    "pq_getbytes": "read the client's messages",
    "secure_read": "read the client's messages",
    "socket_flush": "send the answers",
    "internal_flush": "send the answers",
    "secure_write": "send the answers",
    "pg_parse_query": "parse and analyze (text statements)",
    "parse_analyze_fixedparams": "parse and analyze (text statements)",
    "parse_analyze_varparams": "parse and analyze (text statements)",
    "pg_analyze_and_rewrite_fixedparams": "parse and analyze (text statements)",
    "pg_analyze_and_rewrite_varparams": "parse and analyze (text statements)",
    "pg_rewrite_query": "parse and analyze (text statements)",
    "GetCachedPlan": "plan cache: check and lock a generic plan",
    "standard_ExecutorStart": "executor start: set up the plan's nodes",
    "standard_ExecutorRun": "executor run",
    "standard_ExecutorFinish": "executor finish: AFTER triggers (foreign-key checks)",
    "standard_ExecutorEnd": "executor end",
    "StartTransactionCommand": "begin",
    "CommitTransactionCommand": "commit (but its WAL flush)",
    "AbortCurrentTransaction": "abort",
}
# Innermost wins: counted as themselves wherever they run.
INNER = {
    "pg_plan_queries": "planning",
    "pg_plan_query": "planning",
    "XLogFlush": "WAL flush (at commit)",
}
# When none of the above is on the stack: the portal's own work, and binding the parameters.
FALLBACK = {
    "PortalRun": "executor run",
    "PortalRunMulti": "executor run",
    "FillPortalStore": "executor run",
    "PortalStart": "executor start: set up the plan's nodes",
    "PortalDrop": "executor end",
    "PortalCleanup": "executor end",
    "CreatePortal": "bind: the parameters and the portal",
    "getTypeInputInfo": "bind: the parameters and the portal",
    "OidInputFunctionCall": "bind: the parameters and the portal",
    "pg_client_to_server": "bind: the parameters and the portal",
}
ORDER = ["read the client's messages", "parse and analyze (text statements)", "planning",
         "bind: the parameters and the portal",
         "plan cache: check and lock a generic plan", "begin",
         "executor start: set up the plan's nodes", "executor run",
         "executor finish: AFTER triggers (foreign-key checks)", "executor end",
         "commit (but its WAL flush)", "WAL flush (at commit)", "abort", "send the answers",
         "other"]


def stage(frames):
    """The stage of one sample, frames from the innermost out."""
    found = fallback = None
    for sym in reversed(frames):  # outermost first
        if sym in INNER:
            found = INNER[sym]
        elif found is None and sym in OUTER:
            found = OUTER[sym]
        elif fallback is None and sym in FALLBACK:
            fallback = FALLBACK[sym]
    return found or fallback or "other"


def count(script_output):
    """Samples per stage from `perf script -F comm,ip,sym` text: a line with the command
    starts a sample, its frames follow indented (address, then symbol), innermost first."""
    stages = collections.Counter()
    frames = None
    for line in script_output.splitlines():
        if line[:1] not in ("", " ", "\t"):
            if frames is not None:
                stages[stage(frames)] += 1
            frames = []
        elif frames is not None and line.strip():
            parts = line.split(None, 1)
            frames.append(parts[1].split("+", 1)[0].strip() if len(parts) > 1 else "")
    if frames is not None:
        stages[stage(frames)] += 1
    return stages


def main(argv):
    if len(argv) < 4:
        sys.stderr.write("usage: pgstages.py SECONDS OUT PID...\n")
        return 2
    seconds, out, pids = argv[1], argv[2], argv[3:]
    perf = shutil.which("perf")
    if perf is None:
        return 3
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "perf.data")
        rec = subprocess.run([perf, "record", "-F", "499", "-g", "-o", data,
                              "-p", ",".join(pids), "--", "sleep", seconds],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if rec.returncode != 0 or not os.path.exists(data):
            sys.stderr.write(f"perf record exited {rec.returncode} (pids {' '.join(pids)}):\n"
                             f"{rec.stderr}")
            if not os.path.exists(data):
                return 3
        scr = subprocess.run([perf, "script", "-i", data, "-F", "comm,ip,sym"], capture_output=True,
                             text=True)
        if scr.returncode != 0:
            sys.stderr.write(scr.stderr)
            return 3
    stages = count(scr.stdout)
    with open(out, "w") as f:
        f.write(f"total\t{sum(stages.values())}\n")
        for name in ORDER:
            f.write(f"{name}\t{stages.get(name, 0)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
