"""bench/cpuprofile.py's reading of perf's call stacks: which stage of a statement's life a
Postgres sample counts in, and where each process's samples ran. No server: the stacks are
written here as `perf script -F comm,pid,ip,sym,dso` prints them. And bench/report.py's
reading of `pg_waldump --stats=record`, as PostgreSQL 15's pg_waldump prints it."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import cpuprofile  # noqa: E402
import report  # noqa: E402


def sample(comm, pid, *frames):
    """One sample as perf script prints it: frames innermost first, as (symbol, object)."""
    lines = [f"{comm} {pid} "]
    lines += [f"\t    {0x1000 + i:x} {sym} ({dso})" for i, (sym, dso) in enumerate(frames)]
    return "\n".join(lines) + "\n\n"


PG = "/usr/lib/postgresql/15/bin/postgres"
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
KERNEL = "[kernel.kallsyms]"


def test_the_outermost_stage_counts_but_planning_and_the_wal_flush_count_as_themselves():
    # A foreign-key check's executor inside ExecutorFinish counts as "executor finish".
    ri = [("_bt_compare", PG), ("standard_ExecutorRun", PG), ("RI_FKey_check", PG),
          ("standard_ExecutorFinish", PG), ("PortalRun", PG), ("PostgresMain", PG)]
    assert cpuprofile.stage([s for s, _ in ri]) == \
        "executor finish: AFTER triggers (foreign-key checks)"
    # Planning inside the plan cache's check counts as planning.
    plan = ["make_one_rel", "pg_plan_query", "pg_plan_queries", "GetCachedPlan", "PostgresMain"]
    assert cpuprofile.stage(plan) == "planning"
    # The WAL flush inside commit counts as itself.
    assert cpuprofile.stage(["XLogFlush", "RecordTransactionCommit",
                             "CommitTransactionCommand", "PostgresMain"]) == "WAL flush (at commit)"
    # Only the portal's own function on the stack: its fallback; nothing known: other.
    assert cpuprofile.stage(["[unknown]", "PortalRun", "PostgresMain"]) == "executor run"
    assert cpuprofile.stage(["AllocSetAlloc", "[unknown]", "PostgresMain"]) == "other"


def test_samples_are_counted_by_group_stage_object_and_the_call_that_entered_the_kernel():
    text = (sample("postgres", 11, ("ExecInitNode", PG), ("standard_ExecutorStart", PG),
                   ("PostgresMain", PG))
            + sample("postgres", 11, ("iowrite16", KERNEL), ("blk_mq_run_hw_queue", KERNEL),
                     ("fdatasync", LIBC), ("XLogFlush", PG), ("CommitTransactionCommand", PG))
            + sample("MHD-worker", 22, ("tcp_sendmsg", KERNEL), ("__send", LIBC),
                     ("[unknown]", "/usr/lib/x86_64-linux-gnu/libpq.so.5.15"),
                     ("db_exec_plain", "/opt/settle/settle-api"))
            + sample("MHD-worker", 22, ("json_dumps", "/usr/lib/x86_64-linux-gnu/libjansson.so.4"))
            + sample("other", 99, ("main", "/bin/other")))
    got = cpuprofile.count(text, {"11": "pg", "22": "api"})
    assert got[("pg", "total", "")] == 2
    assert got[("pg", "stage", "executor start: set up the plan's nodes")] == 1
    assert got[("pg", "stage", "WAL flush (at commit)")] == 1
    assert got[("pg", "where", "postgres")] == 1 and got[("pg", "where", "kernel")] == 1
    assert got[("pg", "syscall", "fdatasync")] == 1
    assert got[("api", "total", "")] == 2
    assert got[("api", "syscall", "send")] == 1
    assert got[("api", "where", "jansson")] == 1
    assert not any(k[0] == "other" or k[1] == "stage" and k[0] == "api" for k in got)


def test_libc_names_and_objects():
    assert [cpuprofile.libc_name(s) for s in
            ("__libc_recv", "__GI___libc_write", "__send", "sem_post@GLIBC_2.2.5", "fsync",
             "[unknown]", "")] == ["recv", "write", "send", "sem_post", "fsync", "?", "?"]
    assert cpuprofile.where("([kernel.kallsyms])") == "kernel"
    assert cpuprofile.where("([vdso])") == "libc"
    assert cpuprofile.where("(/usr/lib/erlang/erts-12.2.1/bin/beam.smp)") == "the Erlang VM"
    assert cpuprofile.where("(//anon)") == "JIT or anonymous code"
    assert cpuprofile.where("(/usr/lib/x86_64-linux-gnu/libcrypto.so.3)") == "OpenSSL"
    assert cpuprofile.where("(/somewhere/libfoo.so)") == "other"


WALDUMP = """WAL statistics between 0/4BE6060 and 0/4E00288:
Type                                           N      (%)          Record size      (%)             FPI size      (%)        Combined size      (%)
----                                           -      ---          -----------      ---             --------      ---        -------------      ---
Transaction/COMMIT                           836 (  3.42)                29260 (  1.35)                    0 (  0.00)                29260 (  1.34)
Heap/LOCK                                   1770 (  7.24)                95580 (  4.42)                16384 ( 50.00)               111964 (  5.14)
Btree/INSERT_LEAF                           4527 ( 18.53)               342768 ( 15.86)                16384 ( 50.00)               359152 ( 16.48)
Heap2/VISIBLE                                  0 (  0.00)                    0 (  0.00)                    0 (  0.00)                    0 (  0.00)
                                        --------                      --------                      --------                      --------
Total                                       7133                        467608 [93.43%]                 32768 [6.57%]                500376 [100%]
"""


def test_wal_records_are_read_by_type_with_the_total():
    rows, total = report.wal_records(WALDUMP)
    assert rows == [("Transaction/COMMIT", 836, 29260, 0), ("Heap/LOCK", 1770, 95580, 16384),
                    ("Btree/INSERT_LEAF", 4527, 342768, 16384), ("Heap2/VISIBLE", 0, 0, 0)]
    assert total == ("Total", 7133, 467608, 32768)
    assert report.wal_records("pg_waldump: error: could not find file")[1] is None


def test_wal_table_per_flow_by_bytes(tmp_path):
    (tmp_path / "walrec-poll16.txt").write_text(WALDUMP)
    out = report.walrecords(str(tmp_path), "poll16", "3b", 100)
    rows = [line for line in out if line.startswith("| ") and not line.startswith("| record")]
    # By bytes a flow (record and full-page images), the types under 0.05 a flow left out.
    assert [r.split(" | ")[0] for r in rows] == ["| Btree/INSERT_LEAF", "| Heap/LOCK",
                                                  "| Transaction/COMMIT", "| all"]
    assert rows[0] == "| Btree/INSERT_LEAF | an index entry (B-tree) | 45.27 | 3,428 | 164 |"
    assert rows[-1] == "| all | | 71.33 | 4,676 | 328 |"
    assert "did not read" in report.walrecords(str(tmp_path), "poll4", "3c", 100)[0]
    assert "did not read" in report.walrecords(str(tmp_path), "poll16", "3b", float("nan"))[0]
