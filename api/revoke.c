/* revoke.c: the per-process cache of disabled and once-disabled users and software agents. */
#include "revoke.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "uuid.h"

/* After a failed refresh the next request tries again this much later. */
#define REVOKE_RETRY_MS 250

struct revoke_entry {
	char id[UUID_STR_LEN];
	bool agent; /* a software agent; else a user */
	bool disabled;
	int64_t valid_after_ms; /* tokens issued at or before this are dead */
};

/* The cache: a sorted array read under the rwlock, replaced whole by a refresh. One
 * refresh at a time (refresh_lock); revoke_due_ms says when the next one is due. */
static pthread_rwlock_t revoke_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct revoke_entry *revoke_entries;
static size_t revoke_count;
static atomic_bool revoke_loaded;
static pthread_mutex_t revoke_refresh_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int_fast64_t revoke_due_ms = INT64_MIN;

static int
revoke_compare(const void *a, const void *b)
{
	const struct revoke_entry *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c != 0 ? c : (int)x->agent - (int)y->agent;
}

/* Loads the rows of unit revoke_load (sql/revoke.sql) into a new sorted array (*out, caller
 * frees). 0 or -1. */
static int
revoke_load(PGconn *c, struct revoke_entry **out, size_t *n)
{
	char ttl[24];
	const char *params[] = {ttl};
	PGresult *res;
	struct revoke_entry *e;

	snprintf(ttl, sizeof(ttl), "%lld", (long long)cfg.token_ttl);
	res = db_exec(c, SQL_REVOKE_LOAD, params);
	if (res == NULL)
		return -1;
	*n = (size_t)PQntuples(res);
	e = xcalloc(*n + 1, sizeof(*e));
	for (size_t i = 0; i < *n; i++) {
		snprintf(e[i].id, sizeof(e[i].id), "%s", db_get(res, (int)i, REVOKE_LOAD_C_ID));
		e[i].agent = db_get_bool(res, (int)i, REVOKE_LOAD_C_AGENT);
		e[i].disabled = db_get_bool(res, (int)i, REVOKE_LOAD_C_DISABLED);
		e[i].valid_after_ms = db_get_i64(res, (int)i, REVOKE_LOAD_C_VALID_AFTER_MS);
	}
	PQclear(res);
	qsort(e, *n, sizeof(*e), revoke_compare);
	*out = e;
	return 0;
}

/* Replaces the cache when a refresh is due and no other thread is refreshing it. Until
 * the first load succeeded, every thread waits for its turn to try. */
static void
revoke_refresh(int64_t now)
{
	struct revoke_entry *fresh = NULL, *old;
	size_t n = 0;
	PGconn *c;

	if (atomic_load(&revoke_loaded) ? pthread_mutex_trylock(&revoke_refresh_lock) != 0
	                                : pthread_mutex_lock(&revoke_refresh_lock) != 0)
		return;
	if (atomic_load(&revoke_due_ms) > now) { /* another thread just did it */
		pthread_mutex_unlock(&revoke_refresh_lock);
		return;
	}
	c = db_thread_conn();
	if (c == NULL || revoke_load(c, &fresh, &n) < 0) {
		log_warn("revoke_refresh_failed");
		atomic_store(&revoke_due_ms, now + REVOKE_RETRY_MS);
		pthread_mutex_unlock(&revoke_refresh_lock);
		return;
	}
	pthread_rwlock_wrlock(&revoke_lock);
	old = revoke_entries;
	revoke_entries = fresh;
	revoke_count = n;
	atomic_store(&revoke_loaded, true);
	pthread_rwlock_unlock(&revoke_lock);
	free(old);
	log_debug("revoke_refreshed entries=%zu", n);
	atomic_store(&revoke_due_ms, now + REVOKE_REFRESH_MS);
	pthread_mutex_unlock(&revoke_refresh_lock);
}

/* The verdict of one entry (user or agent) on a token issued at issued_ms. Call with the
 * read lock held. */
static enum revoke_verdict
revoke_lookup(const char *id, bool agent, int64_t issued_ms)
{
	struct revoke_entry key = {.agent = agent}, *e;

	snprintf(key.id, sizeof(key.id), "%s", id);
	e = bsearch(&key, revoke_entries, revoke_count, sizeof(key), revoke_compare);
	if (e == NULL)
		return REVOKE_OK;
	if (e->disabled)
		return agent ? REVOKE_AGENT_DISABLED : REVOKE_USER_DISABLED;
	return issued_ms <= e->valid_after_ms ? REVOKE_ISSUED_BEFORE : REVOKE_OK;
}

/*
 * The verdict on a token that sign_token_read accepted: REVOKE_OK unless its user or agent
 * is disabled, or was disabled at or after the moment the token was issued. Refreshes the
 * cache first when it is due (see revoke.h). REVOKE_UNKNOWN when the cache was never
 * loaded: the database was unreachable since this process started.
 */
enum revoke_verdict
revoke_check(const struct sign_token *t)
{
	int64_t now = util_now_ms();
	enum revoke_verdict v;

	if (now >= atomic_load(&revoke_due_ms))
		revoke_refresh(now);
	pthread_rwlock_rdlock(&revoke_lock);
	if (!atomic_load(&revoke_loaded))
		v = REVOKE_UNKNOWN;
	else if ((v = revoke_lookup(t->user_id, false, t->issued_ms)) == REVOKE_OK)
		v = revoke_lookup(t->agent_id, true, t->issued_ms);
	pthread_rwlock_unlock(&revoke_lock);
	return v;
}
