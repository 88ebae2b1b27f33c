/* test_config.c: the configuration table: defaults, validation, messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "storage.h"

static const char *const vars[] = {
    "SETTLE_THREADS",        "SETTLE_QUEUE",
    "SETTLE_LISTEN",         "SETTLE_FAULT_RATE",
    "SETTLE_PUBLIC_URL",     "SETTLE_RELAY",
    "SETTLE_LOG_LEVEL",      "SETTLE_WORKERS_EXCEPT",
    "SETTLE_MIN_CHUNK_SIZE", "SETTLE_MAX_CHUNK_SIZE",
    "SETTLE_STORAGE",        "SETTLE_SWIFT_URL",
    "SETTLE_SWIFT_AUTH_URL", "SETTLE_SWIFT_USER",
    "SETTLE_SWIFT_KEY",      "SETTLE_SWIFT_TEMP_URL_KEY",
};

static int
clear_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	return 0;
}

static void
test_defaults(void **state)
{
	char *err = NULL;

	(void)state;
	assert_int_equal(config_load(&err), 0);
	assert_null(err);
	assert_int_equal(cfg.threads, 4);
	assert_string_equal(cfg.queue, "rabbitmq");
	assert_false(cfg.inline_mode);
	assert_string_equal(cfg.listen_host, "127.0.0.1");
	assert_int_equal(cfg.listen_port, 8080);
	assert_string_equal(cfg.public_url, "http://127.0.0.1:8080");
	assert_true(cfg.relay);
}

/* config_load, then the check of the storage settings (storage_configure): 0 or -1. */
static int
load_all(char **err)
{
	if (config_load(err) < 0)
		return -1;
	return storage_configure(err) < 0 ? -1 : 0;
}

/* Each bad value is refused with a message that names the variable. */
static void
test_bad_values(void **state)
{
	static const char *const bad[][2] = {
	    {"SETTLE_THREADS", "zero"},      {"SETTLE_THREADS", "0"},
	    {"SETTLE_THREADS", "4x"},        {"SETTLE_THREADS", "99999999999999999999"},
	    {"SETTLE_QUEUE", "kafka"},       {"SETTLE_LISTEN", "8080"},
	    {"SETTLE_LISTEN", "host:99999"}, {"SETTLE_FAULT_RATE", "1.5"},
	    {"SETTLE_FAULT_RATE", "abc"},    {"SETTLE_PUBLIC_URL", "ftp://x"},
	    {"SETTLE_RELAY", "maybe"},       {"SETTLE_LOG_LEVEL", "loud"},
	    {"SETTLE_MIN_CHUNK_SIZE", "10"}, {"SETTLE_STORAGE", "s3"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *err = NULL;
		clear_env(NULL);
		setenv(bad[i][0], bad[i][1], 1);
		if (strcmp(bad[i][0], "SETTLE_MIN_CHUNK_SIZE") == 0)
			setenv("SETTLE_MAX_CHUNK_SIZE", "5", 1);
		assert_int_equal(load_all(&err), -1);
		assert_non_null(err);
		assert_non_null(strstr(err, bad[i][0]));
		free(err);
	}
	clear_env(NULL);
}

static void
test_values(void **state)
{
	char *err = NULL;

	(void)state;
	setenv("SETTLE_QUEUE", "inline", 1);
	setenv("SETTLE_LISTEN", "0.0.0.0:9000", 1);
	setenv("SETTLE_PUBLIC_URL", "https://data.example.org/", 1);
	setenv("SETTLE_FAULT_RATE", "0.25", 1);
	setenv("SETTLE_WORKERS_EXCEPT", "upload.complete, resource.delete", 1);
	assert_int_equal(config_load(&err), 0);
	assert_true(cfg.inline_mode);
	assert_int_equal(cfg.listen_port, 9000);
	assert_string_equal(cfg.public_url, "https://data.example.org");
	assert_true(cfg.fault_rate > 0.24 && cfg.fault_rate < 0.26);
	assert_true(config_kind_excluded("upload.complete"));
	assert_true(config_kind_excluded("resource.delete"));
	assert_false(config_kind_excluded("project.initialize"));
	assert_false(config_kind_excluded("upload"));
}

/* SETTLE_STORAGE=swift needs every SETTLE_SWIFT_* setting: the message names the one
 * missing or wrong. An unknown provider is refused with the names of every one. */
static void
test_swift(void **state)
{
	static const char *const good[][2] = {
	    {"SETTLE_SWIFT_URL", "http://swift.example.org:8080/"},
	    {"SETTLE_SWIFT_AUTH_URL", "http://swift.example.org:8080/auth/v1.0"},
	    {"SETTLE_SWIFT_USER", "settle:settle"},
	    {"SETTLE_SWIFT_KEY", "secret"},
	    {"SETTLE_SWIFT_TEMP_URL_KEY", "tempkey"},
	};
	char *err = NULL;

	(void)state;
	for (size_t skip = 0; skip <= 5; skip++) {
		clear_env(NULL);
		setenv("SETTLE_STORAGE", "swift", 1);
		for (size_t i = 0; i < 5; i++)
			if (i != skip)
				setenv(good[i][0], good[i][1], 1);
		if (skip == 5) {
			assert_int_equal(load_all(&err), 0);
			break;
		}
		assert_int_equal(load_all(&err), -1);
		assert_non_null(strstr(err, good[skip][0]));
		free(err);
		err = NULL;
	}
	assert_string_equal(storage_name(), "swift");
	assert_string_equal(cfg.swift_url, "http://swift.example.org:8080");
	setenv("SETTLE_SWIFT_URL", "swift.example.org", 1);
	assert_int_equal(load_all(&err), -1);
	assert_non_null(strstr(err, "SETTLE_SWIFT_URL"));
	free(err);
	err = NULL;
	clear_env(NULL);
	setenv("SETTLE_STORAGE", "s3", 1);
	assert_int_equal(load_all(&err), -1);
	assert_non_null(strstr(err, "SETTLE_STORAGE=\"s3\": want local or swift"));
	free(err);
	err = NULL;
	clear_env(NULL);
	assert_int_equal(load_all(&err), 0);
	assert_string_equal(storage_name(), "local");
}

/* The Markdown of docs/configuration.md: one row per variable with its default and bounds,
 * and the end marker last. */
static void
test_markdown(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	assert_non_null(out);
	config_markdown(out);
	assert_int_equal(fclose(out), 0);
	assert_non_null(strstr(text, "\n| `SETTLE_THREADS` | `4` | 1 to 256 | HTTP threads"));
	assert_non_null(strstr(text, "\n| `SETTLE_SECRET` | (empty) | | key that signs"));
	assert_non_null(strstr(text, "\n| `SETTLE_FAULT_RATE` | `0` | 0 to 1 | test only"));
	assert_non_null(
	    strstr(text, "\n| `SETTLE_MAX_UPLOAD_SIZE` | `1099511627776` | 0 or more |"));
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		char *row = NULL;
		assert_true(asprintf(&row, "\n| `%s` | ", vars[i]) > 0);
		assert_non_null(strstr(text, row));
		free(row);
	}
	assert_true(len > strlen(CONFIG_MARKDOWN_END) + 1);
	assert_string_equal(text + len - strlen(CONFIG_MARKDOWN_END) - 1, CONFIG_MARKDOWN_END "\n");
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_defaults, clear_env),
	    cmocka_unit_test_setup(test_bad_values, clear_env),
	    cmocka_unit_test_setup(test_values, clear_env),
	    cmocka_unit_test_setup(test_swift, clear_env),
	    cmocka_unit_test(test_markdown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
