/* ops.c: the operational endpoints /healthz, /readyz and /metrics, and DDS's
 * /api/v1/app/status. */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "db.h"
#include "json.h"
#include "replica.h"
#include "router.h"
#include "stats.h"
#include "util.h"

static void
ops_healthz(struct req *r)
{
	http_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void
ops_readyz(struct req *r)
{
	PGconn *c = db_thread_conn();
	PGresult *res = c ? db_exec(c, SQL_OPS_READY, NULL) : NULL;
	json_t *standbys;
	int down;

	if (res == NULL) {
		if (c != NULL)
			db_thread_close();
		http_unavailable(r, "the database is not reachable", HTTP_RETRY_RECONNECT);
		return;
	}
	PQclear(res);
	if (replica_count() == 0) {
		http_json(r, 200, json_pack("{s:s}", "status", "ready"));
		return;
	}
	/* A standby down degrades reads, it does not stop them: still ready. */
	standbys = replica_status(&down);
	http_json(r, 200,
	          json_pack("{s:s,s:o}", "status", down > 0 ? "degraded" : "ready", "standbys",
	                    standbys));
}

/* GET /api/v1/app/status, DDS's health check, public: 200 {"status": "ok", "environment"}
 * when Postgres answers and is migrated (the roles seeded), else 503 with status "error"
 * beside the fields of every error (Retry-After: 1). environment is "development" in
 * inline mode (no RabbitMQ; docs/architecture.md), else "production". Storage and RabbitMQ are not
 * probed: a call anyone may make does not make Settle call out. */
static void
ops_app_status(struct req *r)
{
	const char *environment = cfg.inline_mode ? "development" : "production";
	PGconn *c = db_thread_conn();
	PGresult *res = c ? db_exec(c, SQL_OPS_APP_STATUS, NULL) : NULL;
	bool ok = res != NULL && db_get_bool(res, 0, OPS_APP_STATUS_C_MIGRATED);

	if (res == NULL && c != NULL && db_last_was_connection())
		db_thread_close();
	PQclear(res);
	if (ok) {
		http_json(r, 200,
		          json_pack("{s:s,s:s}", "status", "ok", "environment", environment));
		return;
	}
	http_unavailable_with(
	    r, "the database is not reachable or not migrated", HTTP_RETRY_RECONNECT,
	    json_pack("{s:s,s:s}", "status", "error", "environment", environment));
}

/* Jobs by kind and outcome, from job_runs (every worker's, not only this process's). */
static void
ops_metrics_jobs(FILE *f, PGconn *c)
{
	PGresult *res = db_exec(c, SQL_OPS_METRICS_JOBS, NULL);

	if (res == NULL)
		return;
	fprintf(f, "# HELP settle_jobs_total Jobs run, by kind and outcome.\n"
	           "# TYPE settle_jobs_total counter\n");
	for (int i = 0; i < PQntuples(res); i++)
		fprintf(f, "settle_jobs_total{kind=\"%s\",outcome=\"%s\"} %s\n",
		        PQgetvalue(res, i, OPS_METRICS_JOBS_C_KIND),
		        PQgetvalue(res, i, OPS_METRICS_JOBS_C_OUTCOME),
		        PQgetvalue(res, i, OPS_METRICS_JOBS_C_RUNS));
	PQclear(res);
}

/* The bounds, in seconds, of the time-to-consistency histogram: the columns within_10ms ..
 * within_5s of unit ops_metrics_ttc, in order. */
static const char *const ops_ttc_bounds[] = {"0.01", "0.025", "0.05", "0.1",
                                             "0.25", "0.5",   "1",    "5"};
_Static_assert(ARRAY_LEN(ops_ttc_bounds) ==
                   OPS_METRICS_TTC_C_WITHIN_5S - OPS_METRICS_TTC_C_WITHIN_10MS + 1,
               "a bound for each within_* column of ops_metrics_ttc");

/* Time from complete to consistent of every verified upload, as a histogram. */
static void
ops_metrics_ttc(FILE *f, PGconn *c)
{
	PGresult *res = db_exec(c, SQL_OPS_METRICS_TTC, NULL);

	if (res == NULL)
		return;
	fprintf(f, "# HELP settle_time_to_consistency_seconds Upload complete to consistent.\n"
	           "# TYPE settle_time_to_consistency_seconds histogram\n");
	for (size_t i = 0; i < ARRAY_LEN(ops_ttc_bounds); i++)
		fprintf(f, "settle_time_to_consistency_seconds_bucket{le=\"%s\"} %s\n",
		        ops_ttc_bounds[i],
		        PQgetvalue(res, 0, OPS_METRICS_TTC_C_WITHIN_10MS + (int)i));
	fprintf(f,
	        "settle_time_to_consistency_seconds_bucket{le=\"+Inf\"} %s\n"
	        "settle_time_to_consistency_seconds_sum %s\n"
	        "settle_time_to_consistency_seconds_count %s\n",
	        PQgetvalue(res, 0, OPS_METRICS_TTC_C_TOTAL),
	        PQgetvalue(res, 0, OPS_METRICS_TTC_C_SUM_SECONDS),
	        PQgetvalue(res, 0, OPS_METRICS_TTC_C_TOTAL));
	PQclear(res);
}

static void
ops_metrics(struct req *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct MHD_Response *resp;
	PGconn *c = db_thread_conn();

	stats_write(f);
	if (replica_count() > 0)
		replica_metrics(f);
	if (c != NULL) {
		ops_metrics_jobs(f, c);
		ops_metrics_ttc(f, c);
	}
	fclose(f);
	resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
	http_raw(r, 200, resp);
}

const struct route ops_routes[] = {
    {.method = "GET",
     .pattern = "/healthz",
     .flags = ROUTE_NODB,
     .name = "healthz",
     .handle = ops_healthz},
    {.method = "GET",
     .pattern = "/readyz",
     .flags = ROUTE_NODB,
     .name = "readyz",
     .handle = ops_readyz},
    {.method = "GET",
     .pattern = "/metrics",
     .flags = ROUTE_NODB,
     .name = "metrics",
     .handle = ops_metrics},
    {.method = "GET",
     .pattern = "/api/v1/app/status",
     .flags = ROUTE_NODB,
     .name = "app.status",
     .handle = ops_app_status},
    {.method = NULL},
};
