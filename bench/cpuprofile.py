#!/usr/bin/env python3
"""cpuprofile.py: where the server processes spend their CPU, from their call stacks.

pg_stat_statements times only the executor's run; a flow's Postgres backends spend about as
much again outside it: reading the client's messages, parsing the text statements (BEGIN,
COMMIT), checking and locking a cached generic plan, setting up the plan's nodes
(ExecutorStart), committing. And the per-process CPU of the bench does not say whether a
process's time is its own code's, a library's or the kernel's. This samples the processes'
call stacks with `perf record -g` for a few seconds of load and counts:

  - for the group named pg (Postgres backends), each sample in one stage of a statement's
    life: the outermost stage function on its stack (the executor's start, run, finish or
    end; the plan cache; the parser; commit; reading or sending messages), so that the
    executor a foreign-key check or a SQL function runs inside another stage counts in that
    stage; except planning and the WAL flush, which count as themselves wherever they happen.
    When none of them is on the stack, the portal's own functions and the parameters' input
    functions name the stage; samples with none of these (the main loop's own work, the
    kernel's scheduler, stacks perf could not walk) are "other";
  - for every group, each sample by where it ran (the innermost frame's object: the kernel,
    libc, the program itself, or a library) and, for the kernel's, by the libc call that
    entered it (fsync, send, recv, poll, ...: the innermost frame outside the kernel).

  cpuprofile.py SECONDS OUT GROUP=PID,PID...   records the pids for SECONDS and writes OUT,
      lines `group<TAB>what<TAB>key<TAB>samples` (what: total, stage, where or syscall); exits
      3 when perf is missing or cannot record (the caller reports that instead).
"""
import collections
import os
import shutil
import subprocess
import sys
import tempfile

# The stages of a statement's life, in the order the report shows them.
READ = "read the client's messages"
PARSE = "parse and analyze (text statements)"
PLAN = "planning"
BIND = "bind: the parameters and the portal"
CACHE = "plan cache: check and lock a generic plan"
BEGIN = "begin"
START = "executor start: set up the plan's nodes"
RUN = "executor run"
FINISH = "executor finish: AFTER triggers (foreign-key checks)"
END = "executor end"
COMMIT = "commit (but its WAL flush)"
FLUSH = "WAL flush (at commit)"
ABORT = "abort"
SEND = "send the answers"
OTHER = "other"
ORDER = [READ, PARSE, PLAN, BIND, CACHE, BEGIN, START, RUN, FINISH, END, COMMIT, FLUSH, ABORT,
         SEND, OTHER]

# Outermost wins: a stage's own functions (PostgreSQL 15's symbols).
OUTER = {
    "pq_getbyte": READ, "pq_getmessage": READ, "pq_getbytes": READ, "secure_read": READ,
    "socket_flush": SEND, "internal_flush": SEND, "secure_write": SEND,
    "pg_parse_query": PARSE, "parse_analyze_fixedparams": PARSE,
    "parse_analyze_varparams": PARSE, "pg_analyze_and_rewrite_fixedparams": PARSE,
    "pg_analyze_and_rewrite_varparams": PARSE, "pg_rewrite_query": PARSE,
    "GetCachedPlan": CACHE,
    "standard_ExecutorStart": START, "standard_ExecutorRun": RUN,
    "standard_ExecutorFinish": FINISH, "standard_ExecutorEnd": END,
    "StartTransactionCommand": BEGIN, "CommitTransactionCommand": COMMIT,
    "AbortCurrentTransaction": ABORT,
}
# Innermost wins: counted as themselves wherever they run.
INNER = {"pg_plan_queries": PLAN, "pg_plan_query": PLAN, "XLogFlush": FLUSH}
# When none of the above is on the stack: the portal's own work, and binding the parameters.
FALLBACK = {
    "PortalRun": RUN, "PortalRunMulti": RUN, "FillPortalStore": RUN, "PortalStart": START,
    "PortalDrop": END, "PortalCleanup": END,
    "CreatePortal": BIND, "getTypeInputInfo": BIND, "OidInputFunctionCall": BIND,
    "pg_client_to_server": BIND,
}

# What where() names a program's own code (the rest but the kernel and libc: libraries).
OWN_CODE = ("settle's own code", "postgres", "the Erlang VM", "JIT or anonymous code")


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
    return found or fallback or OTHER


def where(dso):
    """The object a frame ran in, by the name perf gives it."""
    full = dso.strip("()")
    base = os.path.basename(full)
    if full.startswith("[kernel") or full.startswith("[vdso"):
        return "kernel" if full.startswith("[kernel") else "libc"
    for prefix, name in (("libc.so", "libc"), ("libm.so", "libc"), ("ld-linux", "libc"),
                         ("libpq.so", "libpq"), ("libjansson", "jansson"),
                         ("libcrypto", "OpenSSL"), ("libssl", "OpenSSL"),
                         ("libmicrohttpd", "libmicrohttpd"), ("librabbitmq", "librabbitmq"),
                         ("libcurl", "libcurl"), ("postgres", "postgres"),
                         ("settle", "settle's own code"), ("beam", "the Erlang VM"),
                         ("perf-", "JIT or anonymous code"), ("memfd:", "JIT or anonymous code"),
                         ("[anon", "JIT or anonymous code"), ("//anon", "JIT or anonymous code"),
                         ("[JIT", "JIT or anonymous code")):
        if base.startswith(prefix) or full.startswith(prefix):
            return name
    return "other"


def libc_name(sym):
    """A libc entry point as a reader knows it: __libc_recv, __GI___libc_write, __send and
    sem_post@GLIBC_2.2.5 become recv, write, send and sem_post; "?" when unknown."""
    if not sym or sym == "[unknown]":
        return "?"
    sym = sym.split("@", 1)[0]
    for prefix in ("__GI___libc_", "__GI___", "__libc_", "__"):
        if sym.startswith(prefix):
            return sym[len(prefix):]
    return sym


def samples(script_output):
    """(pid, frames) per sample of `perf script -F comm,pid,ip,sym,dso` text: a line with the
    command and pid starts a sample, its frames (address, symbol, object) follow indented,
    innermost first; each frame as (symbol, object)."""
    pid, frames = None, None
    for line in script_output.splitlines():
        if line[:1] not in ("", " ", "\t"):
            if frames is not None:
                yield pid, frames
            fields = line.split()
            pid, frames = (fields[-1] if fields else ""), []
        elif frames is not None and line.strip():
            parts = line.split(None, 1)
            rest = parts[1] if len(parts) > 1 else ""
            sym, _, dso = rest.rpartition(" (")
            frames.append((sym.split("+", 1)[0].strip(), "(" + dso))
    if frames is not None:
        yield pid, frames


def count(script_output, groups):
    """{(group, what, key): samples} over the samples of the pids in groups ({pid: group})."""
    out = collections.Counter()
    for pid, frames in samples(script_output):
        group = groups.get(pid)
        if group is None or not frames:
            continue
        out[(group, "total", "")] += 1
        if group == "pg":
            out[(group, "stage", stage([sym for sym, _ in frames]))] += 1
        inner = where(frames[0][1])
        out[(group, "where", inner)] += 1
        if inner == "kernel":
            user = next((sym for sym, dso in frames if where(dso) != "kernel"), "")
            out[(group, "syscall", libc_name(user))] += 1
    return out


def main(argv):
    if len(argv) < 4:
        sys.stderr.write("usage: cpuprofile.py SECONDS OUT GROUP=PID,PID...\n")
        return 2
    seconds, out = argv[1], argv[2]
    groups = {}
    for arg in argv[3:]:
        name, _, pids = arg.partition("=")
        groups.update((p, name) for p in pids.split(",") if p)
    perf = shutil.which("perf")
    if perf is None or not groups:
        return 3
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "perf.data")
        rec = subprocess.run([perf, "record", "-F", "499", "-g", "-o", data,
                              "-p", ",".join(groups), "--", "sleep", seconds],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if rec.returncode != 0 or not os.path.exists(data):
            sys.stderr.write(f"perf record exited {rec.returncode} (pids {' '.join(groups)}):\n"
                             f"{rec.stderr}")
            if not os.path.exists(data):
                return 3
        scr = subprocess.run([perf, "script", "-i", data, "-F", "comm,pid,ip,sym,dso"],
                             capture_output=True, text=True)
        if scr.returncode != 0:
            sys.stderr.write(scr.stderr)
            return 3
    counts = count(scr.stdout, groups)
    with open(out, "w") as f:
        for (group, what, key), n in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[1])):
            f.write(f"{group}\t{what}\t{key}\t{n}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
