/* stats.c: in-process counters, a fixed table under one mutex. */
#include "stats.h"

#include <pthread.h>
#include <string.h>

#include "relay.h"
#include "util.h"

#define STATS_MAX 128

static const double buckets_ms[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000};
#define NBUCKETS ARRAY_LEN(buckets_ms)

struct stats_row {
	const char *name; /* route names are static strings */
	int status;
	uint64_t count;
	uint64_t hist[NBUCKETS];
	double sum_ms;
};

static struct stats_row rows[STATS_MAX];
static int nrows;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void
stats_request(const char *name, int status, int64_t ms)
{
	struct stats_row *row = NULL;

	pthread_mutex_lock(&lock);
	for (int i = 0; i < nrows; i++) {
		if (rows[i].status == status && strcmp(rows[i].name, name) == 0) {
			row = &rows[i];
			break;
		}
	}
	if (row == NULL && nrows < STATS_MAX) {
		row = &rows[nrows++];
		row->name = name;
		row->status = status;
	}
	if (row != NULL) {
		row->count++;
		row->sum_ms += (double)ms;
		for (size_t b = 0; b < NBUCKETS; b++)
			if ((double)ms <= buckets_ms[b])
				row->hist[b]++;
	}
	pthread_mutex_unlock(&lock);
}

void
stats_write(FILE *out)
{
	pthread_mutex_lock(&lock);
	fprintf(out, "# HELP settle_http_requests_total HTTP requests by route and status.\n"
	             "# TYPE settle_http_requests_total counter\n");
	for (int i = 0; i < nrows; i++)
		fprintf(out, "settle_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
		        rows[i].name, rows[i].status, (unsigned long long)rows[i].count);
	fprintf(out, "# HELP settle_http_request_duration_seconds Latency by route and status.\n"
	             "# TYPE settle_http_request_duration_seconds histogram\n");
	for (int i = 0; i < nrows; i++) {
		for (size_t b = 0; b < NBUCKETS; b++)
			fprintf(out,
			        "settle_http_request_duration_seconds_bucket{route=\"%s\",status="
			        "\"%d\","
			        "le=\"%g\"} %llu\n",
			        rows[i].name, rows[i].status, buckets_ms[b] / 1000.0,
			        (unsigned long long)rows[i].hist[b]);
		fprintf(
		    out,
		    "settle_http_request_duration_seconds_bucket{route=\"%s\",status=\"%d\","
		    "le=\"+Inf\"} %llu\n"
		    "settle_http_request_duration_seconds_sum{route=\"%s\",status=\"%d\"} %g\n"
		    "settle_http_request_duration_seconds_count{route=\"%s\",status=\"%d\"} %llu\n",
		    rows[i].name, rows[i].status, (unsigned long long)rows[i].count, rows[i].name,
		    rows[i].status, rows[i].sum_ms / 1000.0, rows[i].name, rows[i].status,
		    (unsigned long long)rows[i].count);
	}
	pthread_mutex_unlock(&lock);
	fprintf(out,
	        "# HELP settle_outbox_backlog Outbox rows not yet published.\n"
	        "# TYPE settle_outbox_backlog gauge\nsettle_outbox_backlog %lld\n",
	        (long long)relay_backlog());
	fprintf(out, "# HELP settle_relay_published_total Jobs the relay published, by how it "
	             "took them: claimed from the outbox, or handed over by the request that "
	             "wrote them.\n# TYPE settle_relay_published_total counter\n");
	for (int v = 0; v < RELAY_VIA_COUNT; v++)
		fprintf(out, "settle_relay_published_total{via=\"%s\"} %lld\n",
		        relay_via_name((enum relay_via)v),
		        (long long)relay_published((enum relay_via)v));
}

int64_t
stats_retry_after(void)
{
	/* About a thousand jobs a second drain; never promise less than a second. */
	int64_t s = 1 + relay_backlog() / 1000;
	return s > 60 ? 60 : s;
}
