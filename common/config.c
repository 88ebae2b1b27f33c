/* config.c: the table of every setting, read from the environment once at start. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

struct settle_config cfg;

enum config_type { CFG_STRING, CFG_INT, CFG_DOUBLE, CFG_BOOL };

struct config_key {
	const char *name;
	enum config_type type;
	void *var;
	const char *def;
	int64_t min, max; /* for CFG_INT */
	const char *help;
};

#define MIB "1048576"

static char *relay_str;
static char *amqp_urls;

static const struct config_key keys[] = {
    {"SETTLE_DATABASE_URL", CFG_STRING, &cfg.database_url,
     "postgresql://postgres@127.0.0.1:5432/settle", 0, 0, "libpq connection URL"},
    {"SETTLE_DATABASE_REPLICA_URLS", CFG_STRING, &cfg.database_replica_urls, "", 0, 0,
     "whitespace-separated libpq URLs of streaming standbys that serve reads (empty: none; "
     "docs/operating.md \"Standbys and replicas\"); SETTLE_PG_REPLICAS=N make run fills it in"},
    {"SETTLE_SESSION_WAIT_MS", CFG_INT, &cfg.session_wait_ms, "20", 0, 60000,
     "ms a read waits for a standby to reach its SESSION position before it goes to the primary"},
    {"SETTLE_WRITE_CONCERN_TIMEOUT_MS", CFG_INT, &cfg.write_concern_timeout_ms, "10000", 1, 3600000,
     "ms a write with ?w=N waits for N-1 standbys before answering 504"},
    {"SETTLE_REPLICA_MAX_LAG_MS", CFG_INT, &cfg.replica_max_lag_ms, "30000", 1, 86400000,
     "ms a standby may stay behind the primary before reads skip it"},
    {"SETTLE_AMQP_URL", CFG_STRING, &cfg.amqp_url, "amqp://guest:guest@127.0.0.1:5672", 0, 0,
     "RabbitMQ URL (no trailing slash); several, comma-separated, for the nodes of a cluster: "
     "on a lost connection the next is tried (docs/operating.md \"RabbitMQ cluster\"); "
     "SETTLE_MQ_NODES=N make run fills them in"},
    {"SETTLE_AMQP_URLS", CFG_STRING, &amqp_urls, "", 0, 0,
     "comma-separated RabbitMQ URLs of a cluster's nodes; when set, replaces SETTLE_AMQP_URL"},
    {"SETTLE_QUEUE", CFG_STRING, &cfg.queue, "rabbitmq", 0, 0,
     "rabbitmq, or inline to run jobs inside settle-api without RabbitMQ (for development only)"},
    {"SETTLE_LISTEN", CFG_STRING, &cfg.listen, "127.0.0.1:8080", 0, 0,
     "host:port settle-api listens on"},
    {"SETTLE_PUBLIC_URL", CFG_STRING, &cfg.public_url, "", 0, 0,
     "scheme://host:port clients reach the API at, the host of signed URLs (empty: "
     "http://SETTLE_LISTEN)"},
    {"SETTLE_STORAGE", CFG_STRING, &cfg.storage, "local", 0, 0,
     "storage provider, by name (GET /storage_providers lists them): local (a directory, "
     "SETTLE_STORAGE_DIR, bytes through settle-api) or swift (OpenStack Swift, SETTLE_SWIFT_*, "
     "bytes straight between clients and Swift; docs/operating.md \"Storage on OpenStack "
     "Swift\")"},
    {"SETTLE_STORAGE_DIR", CFG_STRING, &cfg.storage_dir, ".settle/storage", 0, 0,
     "root directory of the local storage provider"},
    {"SETTLE_SWIFT_URL", CFG_STRING, &cfg.swift_url, "", 0, 0,
     "swift (required): the Swift proxy as clients reach it (http:// or https://host:port); "
     "temp URLs are made for it"},
    {"SETTLE_SWIFT_AUTH_URL", CFG_STRING, &cfg.swift_auth_url, "", 0, 0,
     "swift (required): the tempauth (v1) URL as Settle reaches it, e.g. "
     "http://host:port/auth/v1.0"},
    {"SETTLE_SWIFT_USER", CFG_STRING, &cfg.swift_user, "", 0, 0,
     "swift (required): the user (account:user) Settle authenticates as"},
    {"SETTLE_SWIFT_KEY", CFG_STRING, &cfg.swift_key, "", 0, 0, "swift (required): that user's key"},
    {"SETTLE_SWIFT_TEMP_URL_KEY", CFG_STRING, &cfg.swift_temp_url_key, "", 0, 0,
     "swift (required): the account's temp-URL key that signs chunk and download URLs"},
    {"SETTLE_SECRET", CFG_STRING, &cfg.secret, "", 0, 0,
     "key that signs tokens, SESSION cookies and storage URLs; settle-api requires 16+ "
     "characters"},
    {"SETTLE_THREADS", CFG_INT, &cfg.threads, "4", 1, 256,
     "HTTP threads of settle-api (each with its own Postgres connection)"},
    {"SETTLE_MAX_CONNECTIONS", CFG_INT, &cfg.max_connections, "1024", 1, 100000,
     "most HTTP connections settle-api holds at once; it raises its soft limit of open files "
     "to 2 per connection (plus a few), or refuses to start when the hard limit is lower"},
    {"SETTLE_MAX_CONNECTIONS_PER_IP", CFG_INT, &cfg.max_connections_per_ip, "64", 0, 100000,
     "most HTTP connections from one client address; must be below SETTLE_MAX_CONNECTIONS / "
     "SETTLE_THREADS (libmicrohttpd gives each HTTP thread an equal share of the "
     "connections, and one address must not fill a share); 0: no limit, for deployments "
     "behind a load balancer or proxy, where every client has the balancer's address "
     "(limit per client there)"},
    {"SETTLE_HEADER_TIMEOUT", CFG_INT, &cfg.header_timeout, "10", 1, 3600,
     "seconds a request's headers may take, from its first byte (each request of a keep-alive "
     "connection anew); the connection is closed after that. Also the grace of its body"},
    {"SETTLE_BODY_MIN_RATE", CFG_INT, &cfg.body_min_rate, "1024", 0, 1000000000,
     "bytes a second a request body must average: a body is closed once it is "
     "SETTLE_HEADER_TIMEOUT seconds plus one second per SETTLE_BODY_MIN_RATE bytes received "
     "old, counted from its headers' end (0: no floor)"},
    {"SETTLE_CONNECTION_TIMEOUT", CFG_INT, &cfg.connection_timeout, "60", 1, 3600,
     "seconds an idle HTTP connection is kept"},
    {"SETTLE_WORKER_PREFETCH", CFG_INT, &cfg.worker_prefetch, "64", 1, 65535,
     "unacked messages a worker holds per queue (the most a batch can hold)"},
    {"SETTLE_WORKER_THREADS", CFG_INT, &cfg.worker_threads, "4", 1, 64,
     "jobs a worker runs at once (threads, each with its own Postgres connection)"},
    {"SETTLE_WORKERS_EXCEPT", CFG_STRING, &cfg.workers_except, "", 0, 0,
     "comma-separated job kinds this worker does not run"},
    {"SETTLE_MAX_ATTEMPTS", CFG_INT, &cfg.max_attempts, "5", 1, 100,
     "attempts of a job before it goes to settle.dead and its resource gets error_on; a run "
     "that finds storage unavailable uses up none (such a job is retried without limit)"},
    {"SETTLE_RETRY_BASE_MS", CFG_INT, &cfg.retry_base_ms, "1000", 1, 3600000,
     "first retry delay; doubles with each attempt (with jitter)"},
    {"SETTLE_RECONCILE_AFTER", CFG_INT, &cfg.reconcile_after, "300", 1, 86400 * 30,
     "seconds a resource may stay pending before reconcile re-enqueues it"},
    {"SETTLE_HOUSEKEEPING_INTERVAL", CFG_INT, &cfg.housekeeping_interval, "60", 1, 86400,
     "seconds between a worker's housekeeping rounds (reconcile, expired uploads, old "
     "Idempotency-Keys, old trash)"},
    {"SETTLE_UPLOAD_TTL", CFG_INT, &cfg.upload_ttl, "604800", 1, 86400 * 3650,
     "seconds an upload not completed may go without activity (creation, chunk registration, "
     "storage PUT) before a worker purges its bytes (default: 7 days)"},
    {"SETTLE_TRASH_TTL", CFG_INT, &cfg.trash_ttl, "2592000", 1, 86400 * 3650,
     "seconds a deleted folder or file stays in the trash bin before a worker purges it and "
     "its bytes (default: 30 days; up to 10 years; docs/api.md \"Trash bin\")"},
    {"SETTLE_TOKEN_TTL", CFG_INT, &cfg.token_ttl, "7200", 60, 86400 * 30,
     "seconds an API token lives"},
    {"SETTLE_URL_TTL", CFG_INT, &cfg.url_ttl, "3600", 10, 86400 * 7,
     "seconds a signed storage URL lives"},
    {"SETTLE_MAX_WAIT", CFG_INT, &cfg.max_wait, "30", 0, 600,
     "cap in seconds of the Prefer: wait=N header"},
    {"SETTLE_MAX_UPLOAD_SIZE", CFG_INT, &cfg.max_upload_size, "1099511627776", 0, INT64_MAX,
     "largest upload in bytes (default: 1 TiB)"},
    {"SETTLE_MIN_CHUNK_SIZE", CFG_INT, &cfg.min_chunk_size, "1", 0, INT64_MAX,
     "smallest chunk in bytes clients are told to send (X-MIN-CHUNK-UPLOAD-SIZE), at most "
     "SETTLE_MAX_CHUNK_SIZE; an upload takes chunk numbers up to "
     "ceil(size / SETTLE_MIN_CHUNK_SIZE) (API.md \"Limits on input\")"},
    {"SETTLE_MAX_CHUNK_SIZE", CFG_INT, &cfg.max_chunk_size, "5368709120", 1, INT64_MAX,
     "largest chunk in bytes (X-MAX-CHUNK-UPLOAD-SIZE; default: 5 GiB)"},
    {"SETTLE_FAULT_DELETE_MS", CFG_INT, &cfg.fault_delete_ms, "0", 0, 3600000,
     "tests only: ms each delete of an upload's stored bytes waits before it runs (a slow "
     "store)"},
    {"SETTLE_FAULT_RATE", CFG_DOUBLE, &cfg.fault_rate, "0", 0, 0,
     "test only: share (0 to 1) of writes (authenticated requests other than GET) and jobs "
     "that fail on purpose"},
    {"SETTLE_RELAY", CFG_STRING, &relay_str, "on", 0, 0,
     "on: settle-api runs the outbox relay; off: it does not (run `settle relay`)"},
    {"SETTLE_LOG_LEVEL", CFG_STRING, &cfg.log_level, "info", 0, 0, "debug, info, warn or error"},
};

static int
config_set(const struct config_key *k, const char *v, char **err)
{
	char *end;

	switch (k->type) {
	case CFG_STRING:
		free(*(char **)k->var);
		*(char **)k->var = xstrdup(v);
		return 0;
	case CFG_INT: {
		int64_t n;
		if (!util_parse_i64(v, &n) || n < k->min || n > k->max) {
			*err = xasprintf("%s=\"%s\": want a whole number from %lld to %lld",
			                 k->name, v, (long long)k->min, (long long)k->max);
			return -1;
		}
		*(int64_t *)k->var = n;
		return 0;
	}
	case CFG_DOUBLE: {
		double d = strtod(v, &end);
		if (*v == '\0' || *end != '\0' || !(d >= 0.0 && d <= 1.0)) {
			*err = xasprintf("%s=\"%s\": want a number from 0 to 1", k->name, v);
			return -1;
		}
		*(double *)k->var = d;
		return 0;
	}
	case CFG_BOOL:
		break;
	}
	*err = xasprintf("%s: unknown type", k->name);
	return -1;
}

/* Splits cfg.listen into host and port. */
static int
config_check_listen(char **err)
{
	const char *colon = strrchr(cfg.listen, ':');
	int64_t port;

	if (colon == NULL || colon == cfg.listen || !util_parse_i64(colon + 1, &port) || port < 0 ||
	    port > 65535) {
		*err = xasprintf("SETTLE_LISTEN=\"%s\": want host:port, e.g. 127.0.0.1:8080",
		                 cfg.listen);
		return -1;
	}
	free(cfg.listen_host);
	cfg.listen_host = xstrndup(cfg.listen, (size_t)(colon - cfg.listen));
	cfg.listen_port = (int)port;
	return 0;
}

static int
config_check(char **err)
{
	enum log_level lvl;

	if (strcmp(cfg.queue, "rabbitmq") != 0 && strcmp(cfg.queue, "inline") != 0) {
		*err = xasprintf("SETTLE_QUEUE=\"%s\": want rabbitmq or inline", cfg.queue);
		return -1;
	}
	cfg.inline_mode = strcmp(cfg.queue, "inline") == 0;
	if (amqp_urls[0] != '\0') {
		free(cfg.amqp_url);
		cfg.amqp_url = xstrdup(amqp_urls);
	}
	if (!cfg.inline_mode && strspn(cfg.amqp_url, ", \t\n") == strlen(cfg.amqp_url)) {
		*err = xasprintf("SETTLE_AMQP_URL names no RabbitMQ URL");
		return -1;
	}
	if (strcmp(relay_str, "on") != 0 && strcmp(relay_str, "off") != 0) {
		*err = xasprintf("SETTLE_RELAY=\"%s\": want on or off", relay_str);
		return -1;
	}
	cfg.relay = strcmp(relay_str, "on") == 0;
	if (!log_parse_level(cfg.log_level, &lvl)) {
		*err = xasprintf("SETTLE_LOG_LEVEL=\"%s\": want debug, info, warn or error",
		                 cfg.log_level);
		return -1;
	}
	log_min_level = lvl;
	if (config_check_listen(err) < 0)
		return -1;
	if (cfg.public_url[0] == '\0') {
		free(cfg.public_url);
		cfg.public_url = xasprintf("http://%s", cfg.listen);
	} else if (strncmp(cfg.public_url, "http://", 7) != 0 &&
	           strncmp(cfg.public_url, "https://", 8) != 0) {
		*err = xasprintf("SETTLE_PUBLIC_URL=\"%s\": want http://host:port or https://…",
		                 cfg.public_url);
		return -1;
	}
	size_t n = strlen(cfg.public_url);
	while (n > 0 && cfg.public_url[n - 1] == '/')
		cfg.public_url[--n] = '\0';
	if (cfg.min_chunk_size > cfg.max_chunk_size) {
		*err = xasprintf("SETTLE_MIN_CHUNK_SIZE is larger than SETTLE_MAX_CHUNK_SIZE");
		return -1;
	}
	/* libmicrohttpd gives each of its SETTLE_THREADS threads an equal share of the
	 * connections, and a thread whose share is full closes what it accepts: one address
	 * must not be able to fill a share. */
	if (cfg.max_connections_per_ip >= cfg.max_connections / cfg.threads) {
		*err = xasprintf(
		    "SETTLE_MAX_CONNECTIONS_PER_IP=%lld: want less than SETTLE_MAX_CONNECTIONS / "
		    "SETTLE_THREADS = %lld / %lld (so that one address cannot fill a thread's "
		    "share of the connections), or 0 for no limit",
		    (long long)cfg.max_connections_per_ip, (long long)cfg.max_connections,
		    (long long)cfg.threads);
		return -1;
	}
	if (cfg.database_url[0] == '\0') {
		*err = xasprintf("SETTLE_DATABASE_URL is empty");
		return -1;
	}
	return 0;
}

int
config_load(char **err)
{
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		const char *v = getenv(keys[i].name);
		if (config_set(&keys[i], v != NULL ? v : keys[i].def, err) < 0)
			return -1;
	}
	return config_check(err);
}

void
config_usage(FILE *out, const char *program)
{
	fprintf(out, "usage: %s\n\nConfiguration comes from the environment:\n\n", program);
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		fprintf(out, "  %-30s %s\n  %-30s default: %s\n", keys[i].name, keys[i].help, "",
		        keys[i].def[0] ? keys[i].def : "(empty)");
}

/* Prints s with the characters that would end a Markdown table cell escaped. */
static void
config_markdown_cell(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '|' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
}

void
config_markdown(FILE *out)
{
	fputs("# Configuration\n\n"
	      "<!-- Generated by `settle-api --help-markdown` from the table in common/config.c: "
	      "edit the\ntable there and run `make docs`; a test (ctest config_doc) fails while "
	      "this part differs. -->\n\n"
	      "Every binary (settle-api, settle-worker, settle) reads these variables from the "
	      "environment\nonce at start, checks each against its bounds, and stops with a "
	      "message naming the variable\n(exit 2) on a bad value; `settle-api --help` prints "
	      "the same table.\n\n"
	      "| variable | default | bounds | meaning |\n|---|---|---|---|\n",
	      out);
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		const struct config_key *k = &keys[i];
		fprintf(out, "| `%s` | ", k->name);
		if (k->def[0] != '\0')
			fprintf(out, "`%s`", k->def);
		else
			fputs("(empty)", out);
		if (k->type == CFG_INT && k->max == INT64_MAX)
			fprintf(out, " | %lld or more | ", (long long)k->min);
		else if (k->type == CFG_INT)
			fprintf(out, " | %lld to %lld | ", (long long)k->min, (long long)k->max);
		else if (k->type == CFG_DOUBLE)
			fputs(" | 0 to 1 | ", out);
		else
			fputs(" | | ", out);
		config_markdown_cell(out, k->help);
		fputs(" |\n", out);
	}
	fputs("\n" CONFIG_MARKDOWN_END "\n", out);
}

void
config_init(int argc, char **argv, const char *program)
{
	char *err = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			config_usage(stdout, program);
			exit(0);
		}
		if (strcmp(argv[i], "--help-markdown") == 0) {
			config_markdown(stdout);
			exit(0);
		}
	}
	log_set_program(program);
	if (config_load(&err) < 0) {
		fprintf(stderr, "%s: configuration error: %s\n", program, err);
		free(err);
		exit(2);
	}
}

bool
config_kind_excluded(const char *kind)
{
	size_t n = strlen(kind);
	const char *p = cfg.workers_except;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len > 0 && *p == ' ')
			p++, len--;
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len == n && strncmp(p, kind, n) == 0)
			return true;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}
