/* ops.c: the operational endpoints /healthz, /readyz and /metrics. */
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "router.h"
#include "stats.h"

static void
ops_healthz(struct req *r)
{
	http_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void
ops_readyz(struct req *r)
{
	PGconn *c = db_thread_conn();
	PGresult *res = c ? db_exec(c, "SELECT 1", 0, NULL) : NULL;

	if (res == NULL) {
		if (c != NULL)
			db_thread_close();
		http_error(r, 503, "service_unavailable", "the database is not reachable",
		           "retry later");
		http_header(r, "Retry-After", "1");
		return;
	}
	PQclear(res);
	http_json(r, 200, json_pack("{s:s}", "status", "ready"));
}

static void
ops_metrics(struct req *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct MHD_Response *resp;

	stats_write(f);
	fclose(f);
	resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
	http_raw(r, 200, resp);
}

const struct route ops_routes[] = {
    {"GET", "/healthz", ROUTE_NODB, "healthz", ops_healthz, NULL, NULL, NULL},
    {"GET", "/readyz", ROUTE_NODB, "readyz", ops_readyz, NULL, NULL, NULL},
    {"GET", "/metrics", ROUTE_NODB, "metrics", ops_metrics, NULL, NULL, NULL},
    {NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
