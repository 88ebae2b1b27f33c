-- wrk script: POST /folders, each a new folder under the folder BENCH_PARENT, with the API
-- token of SETTLE_TOKEN (bench/replicas.sh: a small write, one statement).
wrk.method = "POST"
wrk.headers["Authorization"] = os.getenv("SETTLE_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name": "w", "parent": {"kind": "dds-folder", "id": "' .. os.getenv("BENCH_PARENT") .. '"}}'
