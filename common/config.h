/* config.h: every setting, read once from the environment into `cfg`. */
#ifndef SETTLE_CONFIG_H
#define SETTLE_CONFIG_H

#include <stdio.h>

#include "util.h"

struct settle_config {
	char *database_url;
	char *database_replica_urls; /* whitespace-separated libpq URLs of standbys */
	int64_t session_wait_ms;
	int64_t write_concern_timeout_ms;
	int64_t replica_max_lag_ms;
	char *amqp_url; /* one or more URLs, comma-separated (mq_connect) */
	char *queue;    /* "rabbitmq" or "inline" */
	bool inline_mode;
	char *listen; /* host:port */
	char *listen_host;
	int listen_port;
	char *public_url; /* scheme://host:port, no trailing slash */
	char *storage;    /* the name of a storage provider (storage.c) */
	char *storage_dir;
	char *swift_url;      /* the Swift proxy as clients reach it, no trailing slash */
	char *swift_auth_url; /* tempauth (v1) */
	char *swift_user;
	char *swift_key;
	char *swift_temp_url_key;
	char *secret;
	int64_t threads;
	int64_t max_connections;
	int64_t max_connections_per_ip; /* 0: no limit */
	int64_t header_timeout;         /* seconds */
	int64_t body_min_rate;          /* bytes a second, 0: none */
	int64_t connection_timeout;
	int64_t worker_prefetch;
	int64_t worker_threads;
	char *workers_except; /* comma separated job kinds */
	int64_t max_attempts;
	int64_t retry_base_ms;
	int64_t reconcile_after;       /* seconds a resource may stay pending before reconcile */
	int64_t housekeeping_interval; /* seconds between a worker's housekeeping rounds */
	int64_t upload_ttl;            /* seconds an incomplete upload may stay inactive */
	int64_t trash_ttl;             /* seconds a trashed folder or file stays in the trash */
	int64_t token_ttl;
	int64_t url_ttl;
	int64_t max_wait;
	int64_t max_upload_size;
	int64_t min_chunk_size;
	int64_t max_chunk_size;
	double fault_rate;
	int64_t fault_delete_ms; /* tests only: each upload delete waits this long first */
	bool relay;
	char *log_level;
};

extern struct settle_config cfg;

/* Reads every variable from the environment, applies defaults and validates.
 * Returns 0, or -1 with *err set to a message the caller frees. */
int config_load(char **err) MUSTCHECK;
/* Prints the table of variables, defaults and help to out. */
void config_usage(FILE *out, const char *program);
/* The last line of config_markdown's text: what follows it in docs/configuration.md is
 * written by hand. */
#define CONFIG_MARKDOWN_END "<!-- End of the generated part: what follows is written by hand. -->"
/* Prints the table as the generated part of docs/configuration.md (Markdown) to out. */
void config_markdown(FILE *out);
/* Handles the common argv of every binary: --help prints usage and exits 0, --help-markdown
 * prints config_markdown and exits 0; then loads config and exits 2 with a message on a bad
 * value. */
void config_init(int argc, char **argv, const char *program);
/* True if the job kind is listed in SETTLE_WORKERS_EXCEPT. */
bool config_kind_excluded(const char *kind);

#endif
