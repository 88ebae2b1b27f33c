/* replica.c: polls the standbys' and the primary's WAL positions for the lifecycle.
 *
 * One thread, its own connections. Every REPLICA_POLL_MS it reads the primary's position
 * and each standby's replay position. A standby that does not answer is down until it
 * answers again (reconnects use util_backoff). Its lag is how long ago the primary was
 * first seen at a position the standby has not replayed yet: the primary's positions are
 * kept (when they change) for the last REPLICA_SAMPLES changes, so an idle, caught-up
 * standby is never lagging, and one that applies 2 s late lags about 2 s. After each
 * round it resumes the requests waiting for standbys (SUSPEND_STANDBYS: a write's concern
 * ?w=N, a read's catch-up) that are ready or whose time is up; while any waits, it polls the
 * standbys every REPLICA_TICK_MS.
 */
#include "replica.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "suspend.h"

#define REPLICA_POLL_MS 10
#define REPLICA_TICK_MS 1 /* while writes wait for their concern, standbys are polled so often */
#define REPLICA_SAMPLES 1024

struct replica {
	char *url;
	PGconn *conn; /* the poller's */
	struct util_backoff backoff;
	int64_t retry_ms;
	_Atomic uint64_t replay_lsn;
	atomic_bool up;
	_Atomic int64_t lag_ms;
	/* Its own permission_changes counter at its last poll: the changes it has replayed. */
	_Atomic int64_t permission_n;
};

/* A position of the primary and when it was first seen. */
struct replica_sample {
	uint64_t lsn;
	int64_t ms;
};

static struct replica replicas[DB_MAX_REPLICAS];
static int replica_n;
static _Atomic uint64_t primary_lsn;
/* The commit position of the newest change of this process that may have taken access
 * away (replica.h). */
static _Atomic uint64_t permission_lsn;
/* The primary's permission_changes counter at its last poll, -1 before the first. */
static _Atomic int64_t permission_count = -1;
static PGconn *primary;
static struct util_backoff primary_backoff = UTIL_BACKOFF_INIT;
static int64_t primary_retry_ms;
/* Only the poller thread touches the samples. */
static struct replica_sample samples[REPLICA_SAMPLES];
static int sample_next, sample_count;
static pthread_t thread;
static atomic_uint_fast64_t events[REPLICA_EVENTS];
static volatile int stopping;

int
replica_count(void)
{
	return replica_n;
}

const char *
replica_url(int k)
{
	return replicas[k].url;
}

bool
replica_usable(int k, int64_t max_lag_ms)
{
	int64_t lag = atomic_load(&replicas[k].lag_ms);

	return atomic_load(&replicas[k].up) && lag <= cfg.replica_max_lag_ms &&
	       (max_lag_ms < 0 || lag <= max_lag_ms);
}

uint64_t
replica_replay_lsn(int k)
{
	return atomic_load(&replicas[k].replay_lsn);
}

uint64_t
replica_primary_lsn(void)
{
	return atomic_load(&primary_lsn);
}

uint64_t
replica_permission_lsn(void)
{
	return atomic_load(&permission_lsn);
}

bool
replica_permits(int k)
{
	int64_t n = atomic_load(&permission_count);

	return n >= 0 && atomic_load(&replicas[k].permission_n) >= n;
}

void
replica_permission_changed(uint64_t lsn)
{
	uint64_t seen = atomic_load(&permission_lsn);

	while (seen < lsn && !atomic_compare_exchange_weak(&permission_lsn, &seen, lsn))
		;
}

/* Runs unit u, a one-row position query without parameters, on *c as a simple query
 * (connecting to url first when needed, not before *retry_ms). Its result (the caller
 * clears it) when it gave one row with no NULL in its first ncols columns, each of the
 * first nlsn of them a position, stored in lsn[]; else NULL, with *c closed. */
static PGresult *
replica_poll_one(PGconn **c, const char *url, enum sql_unit u, struct util_backoff *b,
                 int64_t *retry_ms, int ncols, uint64_t *lsn, int nlsn)
{
	PGresult *r;
	bool ok;

	if (*c == NULL) {
		if (util_now_ms() < *retry_ms)
			return NULL;
		*c = db_open(url);
	}
	r = PQstatus(*c) == CONNECTION_OK ? PQexec(*c, sql_units[u].sql) : NULL;
	ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) >= ncols;
	for (int i = 0; ok && i < ncols; i++)
		ok = !PQgetisnull(r, 0, i) &&
		     (i >= nlsn || db_parse_lsn(PQgetvalue(r, 0, i), &lsn[i]));
	if (ok) {
		util_backoff_reset(b);
		return r;
	}
	PQclear(r);
	PQfinish(*c);
	*c = NULL;
	*retry_ms = util_now_ms() + util_backoff_next(b);
	return NULL;
}

/* How long ago the primary was first seen beyond lsn (0: never, the standby is caught up). */
static int64_t
replica_lag_ms(uint64_t lsn, int64_t now)
{
	for (int i = 0; i < sample_count; i++) {
		const struct replica_sample *s =
		    &samples[(sample_next - sample_count + i + REPLICA_SAMPLES) % REPLICA_SAMPLES];
		if (s->lsn > lsn)
			return now - s->ms;
	}
	return 0;
}

/* The polls (sql/replica.sql) run on connections of their own, not prepared: the primary's
 * position and permission_changes counter (migration 0010); a standby's replay position and
 * its own copy of the counter. The position columns come first, before changes. */
static void
replica_poll_primary(int64_t now)
{
	uint64_t lsn[REPLICA_PRIMARY_C_CHANGES];
	PGresult *res = replica_poll_one(&primary, cfg.database_url, SQL_REPLICA_PRIMARY,
	                                 &primary_backoff, &primary_retry_ms, REPLICA_PRIMARY_NCOLS,
	                                 lsn, REPLICA_PRIMARY_C_CHANGES);
	int64_t n;

	if (res == NULL)
		return;
	n = db_get_i64(res, 0, REPLICA_PRIMARY_C_CHANGES);
	PQclear(res);
	if (atomic_exchange(&permission_count, n) != n)
		log_debug("permissions_changed n=%lld", (long long)n);
	atomic_store(&primary_lsn, lsn[REPLICA_PRIMARY_C_LSN]);
	if (sample_count > 0 &&
	    samples[(sample_next + REPLICA_SAMPLES - 1) % REPLICA_SAMPLES].lsn >=
	        lsn[REPLICA_PRIMARY_C_LSN])
		return;
	samples[sample_next] = (struct replica_sample){lsn[REPLICA_PRIMARY_C_LSN], now};
	sample_next = (sample_next + 1) % REPLICA_SAMPLES;
	if (sample_count < REPLICA_SAMPLES)
		sample_count++;
}

static void
replica_poll_standby(struct replica *s, int k, int64_t now)
{
	uint64_t lsn;
	bool was_up = atomic_load(&s->up);
	PGresult *res =
	    replica_poll_one(&s->conn, s->url, SQL_REPLICA_STANDBY, &s->backoff, &s->retry_ms,
	                     REPLICA_STANDBY_NCOLS, &lsn, REPLICA_STANDBY_C_CHANGES);

	if (res == NULL) {
		atomic_store(&s->up, false);
		if (was_up)
			log_warn("standby_down standby=%d", k + 1);
		return;
	}
	atomic_store(&s->permission_n, db_get_i64(res, 0, REPLICA_STANDBY_C_CHANGES));
	PQclear(res);
	atomic_store(&s->replay_lsn, lsn);
	atomic_store(&s->lag_ms, replica_lag_ms(lsn, now));
	atomic_store(&s->up, true);
	if (!was_up)
		log_info("standby_up standby=%d", k + 1);
}

int
replica_replayed(uint64_t lsn)
{
	int n = 0;

	for (int k = 0; k < replica_n; k++)
		n += replica_usable(k, -1) && replica_replay_lsn(k) >= lsn;
	return n;
}

/* Every REPLICA_POLL_MS a round of every position; while requests wait for standbys
 * (SUSPEND_STANDBYS: write concern, standby catch-up), the standbys' every REPLICA_TICK_MS,
 * so that a w=2 write waits for its standby's replay, not for the next round. */
static void *
replica_thread(void *arg)
{
	int64_t next_round = 0;

	(void)arg;
	while (!stopping) {
		int64_t now = util_now_ms();
		bool round = now >= next_round, waiting = suspend_any(SUSPEND_STANDBYS);
		if (round) {
			replica_poll_primary(now);
			next_round = now + REPLICA_POLL_MS;
		}
		if (round || waiting) {
			for (int k = 0; k < replica_n; k++)
				replica_poll_standby(&replicas[k], k, now);
			(void)suspend_sweep(SUSPEND_STANDBYS);
		}
		util_sleep_ms(REPLICA_TICK_MS, &stopping);
	}
	for (int k = 0; k < replica_n; k++)
		PQfinish(replicas[k].conn);
	PQfinish(primary);
	return NULL;
}

/* Splits the whitespace-separated URLs into replicas[]. */
static int
replica_parse(const char *list)
{
	const char *p = list;

	while (*p != '\0') {
		size_t len;
		while (isspace((unsigned char)*p))
			p++;
		len = strcspn(p, " \t\n\r");
		if (len == 0)
			break;
		if (replica_n == DB_MAX_REPLICAS) {
			log_error("replica_config_failed error=\"more than %d standbys\"",
			          DB_MAX_REPLICAS);
			return -1;
		}
		replicas[replica_n].url = xstrndup(p, len);
		replicas[replica_n].backoff = (struct util_backoff)UTIL_BACKOFF_INIT;
		replica_n++;
		p += len;
	}
	return 0;
}

int
replica_start(void)
{
	if (replica_parse(cfg.database_replica_urls) < 0)
		return -1;
	if (replica_n == 0)
		return 0;
	if (pthread_create(&thread, NULL, replica_thread, NULL) != 0) {
		log_error("replica_start_failed error=\"pthread_create\"");
		replica_n = 0;
		return -1;
	}
	log_info("replicas standbys=%d", replica_n);
	return 0;
}

void
replica_stop(void)
{
	if (replica_n == 0)
		return;
	stopping = 1;
	pthread_join(thread, NULL);
}

void
replica_note(enum replica_event e)
{
	atomic_fetch_add(&events[e], 1);
}

/* Bytes standby k's replay position is behind the primary's. */
static uint64_t
replica_lag_bytes(int k)
{
	uint64_t p = replica_primary_lsn(), s = replica_replay_lsn(k);

	return p > s ? p - s : 0;
}

void
replica_metrics(FILE *f)
{
	static const char *const names[REPLICA_EVENTS] = {"settle_reads_total{served=\"primary\"}",
	                                                  "settle_reads_total{served=\"standby\"}",
	                                                  "settle_session_waits_total",
	                                                  "settle_session_fallbacks_total",
	                                                  "settle_write_concern_waits_total",
	                                                  "settle_write_concern_timeouts_total"};

	fprintf(f, "# HELP settle_reads_total Reads by the database that served them.\n"
	           "# TYPE settle_reads_total counter\n");
	for (int e = 0; e < REPLICA_EVENTS; e++)
		fprintf(f, "%s %llu\n", names[e], (unsigned long long)atomic_load(&events[e]));
	fprintf(f, "# HELP settle_standby_up Whether the standby answered its last poll.\n"
	           "# TYPE settle_standby_up gauge\n"
	           "# HELP settle_standby_replay_lag_bytes WAL the standby has not replayed.\n"
	           "# TYPE settle_standby_replay_lag_bytes gauge\n");
	for (int k = 0; k < replica_n; k++)
		fprintf(f,
		        "settle_standby_up{standby=\"%d\"} %d\n"
		        "settle_standby_replay_lag_bytes{standby=\"%d\"} %llu\n",
		        k + 1, atomic_load(&replicas[k].up) ? 1 : 0, k + 1,
		        (unsigned long long)replica_lag_bytes(k));
}

json_t *
replica_status(int *down)
{
	json_t *list = json_array();

	*down = 0;
	for (int k = 0; k < replica_n; k++) {
		bool up = atomic_load(&replicas[k].up);
		*down += !up;
		json_array_append_new(list,
		                      json_pack("{s:i,s:b,s:I}", "standby", k + 1, "up", up,
		                                "lag_bytes", (json_int_t)replica_lag_bytes(k)));
	}
	return list;
}
