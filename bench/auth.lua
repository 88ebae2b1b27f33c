-- wrk script: every request carries the API token from the SETTLE_TOKEN environment variable.
wrk.headers["Authorization"] = os.getenv("SETTLE_TOKEN")
