/* test_storage.c: the local-directory storage provider, in a private temporary root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "migrate.h"
#include "storage.h"
#include "storage_local.h"
#include "storage_local_write.h"
#include "util.h"

#define TEST_CONTAINER "0b6f1c1e-6a55-4c52-9a3c-1d2e3f405060"
#define TEST_UPLOAD    "7c9e6679-7425-40de-944b-e07fc1f90ae7"

static char test_tmp[] = "/tmp/settle-test-storage-XXXXXX";
static char *test_root;

static int
test_storage_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
test_storage_setup(void **state)
{
	char *err = NULL;

	if (mkdtemp(test_tmp) == NULL)
		return -1;
	test_root = xasprintf("%s/nested/root", test_tmp); /* parents made by storage_init */
	if (storage_local_init(test_root, &err) < 0) {
		fprintf(stderr, "storage_init: %s\n", err);
		free(err);
		return -1;
	}
	return 0;
}

static int
test_storage_teardown(void **state)
{
	int rc = nftw(test_tmp, test_storage_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(test_root);
	return rc;
}

/* Entries of root/rel other than . and .., or -1 if it cannot be opened. */
static int
test_storage_count(const char *rel)
{
	char *path = xasprintf("%s/%s", test_root, rel);
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	free(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

static bool
test_storage_exists(const char *rel)
{
	struct stat st;
	char *path = xasprintf("%s/%s", test_root, rel);
	bool ok = lstat(path, &st) == 0;

	free(path);
	return ok;
}

/* Writes one chunk from the given pieces and commits it; checks for success. */
static void
test_storage_put(const char *container, const char *upload, int number, unsigned algs,
                 const char *const *pieces, int64_t *size,
                 char digests[HASH_ALG_COUNT][HASH_HEX_MAX])
{
	char *err = NULL;
	struct storage_local_writer *w =
	    storage_local_write_open(container, upload, number, algs, &err);

	if (w == NULL)
		fail_msg("storage_write_open: %s", err);
	for (; *pieces != NULL; pieces++) {
		if (storage_local_write(w, *pieces, strlen(*pieces), &err) < 0)
			fail_msg("storage_write: %s", err);
	}
	if (storage_local_write_commit(w, size, digests, &err) < 0)
		fail_msg("storage_write_commit: %s", err);
	assert_null(err);
}

/* Reads a whole chunk back as a string the caller frees. */
static char *
test_storage_get(const char *container, const char *upload, int number)
{
	char *err = NULL, *buf;
	int64_t size = -1;
	int fd = storage_local_read_open(container, upload, number, &size, &err);
	ssize_t n;

	if (fd < 0)
		fail_msg("storage_read_open: %s", err);
	buf = xmalloc((size_t)size + 1);
	n = read(fd, buf, (size_t)size + 1);
	assert_int_equal(n, size);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static void
test_storage_container_create(void **state)
{
	char *err = NULL;

	assert_int_equal(storage_local_container_create(TEST_CONTAINER, &err), 0);
	assert_int_equal(storage_local_container_create(TEST_CONTAINER, &err), 0); /* idempotent */
	assert_null(err);
	assert_int_equal(test_storage_count(TEST_CONTAINER), 0);
}

static void
test_storage_write_commit_read(void **state)
{
	static const char *const pieces[] = {"ab", "", "c", NULL};
	char digests[HASH_ALG_COUNT][HASH_HEX_MAX];
	int64_t size = -1;
	char *data;

	assert_int_equal(storage_local_container_create(TEST_CONTAINER, NULL), 0);
	test_storage_put(TEST_CONTAINER, TEST_UPLOAD, 1, 1u << HASH_SHA256, pieces, &size, digests);
	assert_int_equal(size, 3);
	assert_string_equal(digests[HASH_MD5], "900150983cd24fb0d6963f7d28e17f72");
	assert_string_equal(digests[HASH_SHA1], "");
	assert_string_equal(digests[HASH_SHA256],
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	data = test_storage_get(TEST_CONTAINER, TEST_UPLOAD, 1);
	assert_string_equal(data, "abc");
	free(data);
	/* only the chunk is left in the upload directory: no temporary file */
	assert_int_equal(test_storage_count(TEST_CONTAINER "/" TEST_UPLOAD), 1);
	assert_true(test_storage_exists(TEST_CONTAINER "/" TEST_UPLOAD "/1"));
}

static void
test_storage_empty_and_replace(void **state)
{
	static const char *const none[] = {NULL};
	static const char *const first[] = {"first version", NULL};
	static const char *const second[] = {"2nd", NULL};
	char digests[HASH_ALG_COUNT][HASH_HEX_MAX];
	int64_t size = -1;
	char *data;

	assert_int_equal(storage_local_container_create(TEST_CONTAINER, NULL), 0);
	test_storage_put(TEST_CONTAINER, TEST_UPLOAD, 7, 0, none, &size, digests);
	assert_int_equal(size, 0);
	assert_string_equal(digests[HASH_MD5], "d41d8cd98f00b204e9800998ecf8427e");

	test_storage_put(TEST_CONTAINER, TEST_UPLOAD, 2, 7, first, &size, digests);
	assert_int_equal(size, 13);
	test_storage_put(TEST_CONTAINER, TEST_UPLOAD, 2, 1u << HASH_SHA1, second, &size, digests);
	assert_int_equal(size, 3);
	data = test_storage_get(TEST_CONTAINER, TEST_UPLOAD, 2);
	assert_string_equal(data, "2nd");
	free(data);
}

static void
test_storage_large_chunk(void **state)
{
	enum { PIECE = 65536 + 17, COUNT = 70 }; /* over 4 blocks, not block-aligned */
	char digests[HASH_ALG_COUNT][HASH_HEX_MAX], one[HASH_HEX_MAX];
	char *buf = xmalloc(PIECE), *err = NULL;
	struct hash_set *h = hash_set_new(1u << HASH_SHA256);
	char all[HASH_ALG_COUNT][HASH_HEX_MAX];
	struct storage_local_writer *w;
	int64_t size = -1, rsize = -1;
	int fd;

	assert_int_equal(storage_local_container_create(TEST_CONTAINER, NULL), 0);
	w = storage_local_write_open(TEST_CONTAINER, "big", 1, 1u << HASH_SHA256, &err);
	assert_non_null(w);
	for (int i = 0; i < COUNT; i++) {
		memset(buf, 'a' + i % 26, PIECE);
		assert_int_equal(storage_local_write(w, buf, PIECE, &err), 0);
		hash_set_update(h, buf, PIECE);
	}
	assert_int_equal(storage_local_write_commit(w, &size, digests, &err), 0);
	hash_set_final(h, all);
	assert_int_equal(size, (int64_t)PIECE * COUNT);
	assert_string_equal(digests[HASH_SHA256], all[HASH_SHA256]);
	fd = storage_local_read_open(TEST_CONTAINER, "big", 1, &rsize, &err);
	assert_true(fd >= 0);
	assert_int_equal(rsize, size);
	/* The bytes on disk, in order (blocks go through a writer thread). */
	struct hash_set *disk = hash_set_new(1u << HASH_SHA256);
	char ondisk[HASH_ALG_COUNT][HASH_HEX_MAX];
	ssize_t n;
	while ((n = read(fd, buf, PIECE)) > 0)
		hash_set_update(disk, buf, (size_t)n);
	hash_set_final(disk, ondisk);
	assert_string_equal(ondisk[HASH_SHA256], all[HASH_SHA256]);
	close(fd);
	hash_hex(HASH_MD5, "", 0, one);
	assert_string_not_equal(digests[HASH_MD5], one);
	free(buf);
}

static void
test_storage_abort_leaves_nothing(void **state)
{
	char *err = NULL;
	struct storage_local_writer *w;

	assert_int_equal(storage_local_container_create(TEST_CONTAINER, NULL), 0);
	w = storage_local_write_open(TEST_CONTAINER, "aborted", 1, 7, &err);
	assert_non_null(w);
	assert_int_equal(test_storage_count(TEST_CONTAINER "/aborted"), 1); /* the temp file */
	assert_int_equal(storage_local_write(w, "partial", 7, &err), 0);
	storage_local_write_abort(w);
	assert_int_equal(test_storage_count(TEST_CONTAINER "/aborted"), 0);
	assert_false(test_storage_exists(TEST_CONTAINER "/aborted/1"));
	storage_local_write_abort(NULL);

	/* aborted after several blocks (the writer thread is running): nothing left */
	w = storage_local_write_open(TEST_CONTAINER, "aborted", 1, 7, &err);
	assert_non_null(w);
	char *block = xcalloc(1, 3 * 1024 * 1024 + 5);
	assert_int_equal(storage_local_write(w, block, 3 * 1024 * 1024 + 5, &err), 0);
	storage_local_write_abort(w);
	free(block);
	assert_int_equal(test_storage_count(TEST_CONTAINER "/aborted"), 0);

	/* two writers of one chunk at once: distinct temporary files */
	struct storage_local_writer *a =
	    storage_local_write_open(TEST_CONTAINER, "aborted", 1, 0, &err);
	struct storage_local_writer *b =
	    storage_local_write_open(TEST_CONTAINER, "aborted", 1, 0, &err);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(test_storage_count(TEST_CONTAINER "/aborted"), 2);
	storage_local_write_abort(a);
	storage_local_write_abort(b);
	assert_int_equal(test_storage_count(TEST_CONTAINER "/aborted"), 0);
}

static void
test_storage_read_missing(void **state)
{
	char *err = NULL;
	int64_t size = -1;

	assert_int_equal(storage_local_container_create(TEST_CONTAINER, NULL), 0);
	errno = 0;
	assert_int_equal(storage_local_read_open(TEST_CONTAINER, TEST_UPLOAD, 99, &size, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(err);
	assert_non_null(strstr(err, "missing"));
	free(err);
	err = NULL;
	assert_int_equal(storage_local_read_open("no-such-container", "u", 1, &size, &err), -1);
	assert_int_equal(errno, ENOENT);
	free(err);
}

static void
test_storage_missing_container(void **state)
{
	char *err = NULL;
	struct storage_local_writer *w = storage_local_write_open("never-created", "u", 1, 0, &err);

	assert_null(w);
	assert_non_null(err);
	assert_non_null(strstr(err, "missing"));
	free(err);
	assert_false(test_storage_exists("never-created"));
}

static void
test_storage_path_escape_rejected(void **state)
{
	static const char *const bad[] = {
	    "",
	    ".",
	    "..",
	    "../x",
	    "a/b",
	    "/etc",
	    "a/../..",
	    ".hidden",
	    "a\\b",
	    "a b",
	    "a\nb",
	    "\xc3\xa9",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	int64_t size;
	char *err;

	assert_int_equal(storage_local_container_create(TEST_CONTAINER, NULL), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *b = bad[i];
		err = NULL;
		assert_int_equal(storage_local_container_create(b, &err), -1);
		assert_non_null(err);
		free(err);
		err = NULL;
		assert_int_equal(storage_local_container_delete(b, &err), -1);
		free(err);
		err = NULL;
		assert_null(storage_local_write_open(b, TEST_UPLOAD, 1, 0, &err));
		free(err);
		err = NULL;
		assert_null(storage_local_write_open(TEST_CONTAINER, b, 1, 0, &err));
		assert_non_null(err);
		free(err);
		err = NULL;
		assert_int_equal(storage_local_read_open(TEST_CONTAINER, b, 1, &size, &err), -1);
		free(err);
		err = NULL;
		assert_int_equal(storage_local_read_open(b, TEST_UPLOAD, 1, &size, &err), -1);
		free(err);
		err = NULL;
		assert_int_equal(storage_local_upload_delete(TEST_CONTAINER, b, NULL, 0, &err), -1);
		free(err);
		err = NULL;
		assert_int_equal(storage_local_upload_delete(b, TEST_UPLOAD, NULL, 0, &err), -1);
		free(err);
	}
	assert_null(storage_local_write_open(NULL, TEST_UPLOAD, 1, 0, NULL));
	assert_null(storage_local_write_open(TEST_CONTAINER, NULL, 1, 0, NULL));
	assert_null(storage_local_write_open(TEST_CONTAINER, TEST_UPLOAD, -1, 0, NULL));
	/* the root's parent holds nothing but the root */
	char *parent = xasprintf("%s/nested", test_tmp);
	DIR *d = opendir(parent);
	struct dirent *de;
	int n = 0;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	free(parent);
	assert_int_equal(n, 1);
}

static void
test_storage_upload_delete(void **state)
{
	static const char *const data[] = {"x", NULL};
	char digests[HASH_ALG_COUNT][HASH_HEX_MAX];
	int64_t size;
	char *err = NULL;
	struct storage_local_writer *pending;

	assert_int_equal(storage_local_container_create(TEST_CONTAINER, NULL), 0);
	test_storage_put(TEST_CONTAINER, "gone", 1, 0, data, &size, digests);
	test_storage_put(TEST_CONTAINER, "gone", 2, 0, data, &size, digests);
	test_storage_put(TEST_CONTAINER, "kept", 1, 0, data, &size, digests);
	pending = storage_local_write_open(TEST_CONTAINER, "gone", 3, 0, &err);
	assert_non_null(pending);
	storage_local_write_abort(pending);

	assert_int_equal(storage_local_upload_delete(TEST_CONTAINER, "gone", NULL, 0, &err), 0);
	assert_false(test_storage_exists(TEST_CONTAINER "/gone"));
	assert_true(test_storage_exists(TEST_CONTAINER "/kept/1"));
	assert_int_equal(storage_local_upload_delete(TEST_CONTAINER, "gone", NULL, 0, &err),
	                 0); /* again */
	assert_int_equal(storage_local_upload_delete("no-such-container", "gone", NULL, 0, &err),
	                 0);
	assert_null(err);
}

/* What a writer killed mid-chunk leaves goes; the chunks stay. */
static void
test_storage_upload_tidy(void **state)
{
	static const char *const data[] = {"z", NULL};
	char digests[HASH_ALG_COUNT][HASH_HEX_MAX];
	int64_t size;
	char *err = NULL;
	char *orphan = xasprintf("%s/%s/tidy/.2.0123456789abcdef.tmp", test_root, TEST_CONTAINER);
	FILE *f;

	assert_int_equal(storage_local_container_create(TEST_CONTAINER, NULL), 0);
	test_storage_put(TEST_CONTAINER, "tidy", 1, 0, data, &size, digests);
	f = fopen(orphan, "w");
	assert_non_null(f);
	fclose(f);

	assert_int_equal(storage_local_upload_tidy(TEST_CONTAINER, "tidy", &err), 1);
	assert_false(test_storage_exists(TEST_CONTAINER "/tidy/.2.0123456789abcdef.tmp"));
	assert_true(test_storage_exists(TEST_CONTAINER "/tidy/1"));
	assert_int_equal(storage_local_upload_tidy(TEST_CONTAINER, "tidy", &err), 0);
	assert_int_equal(storage_local_upload_tidy(TEST_CONTAINER, "never-stored", &err), 0);
	assert_int_equal(storage_local_upload_tidy("no-such-container", "tidy", &err), 0);
	assert_null(err);
	assert_int_equal(storage_local_upload_tidy(TEST_CONTAINER, "../tidy", &err), -1);
	assert_non_null(err);
	free(err);
	free(orphan);
}

static void
test_storage_container_delete(void **state)
{
	static const char *const data[] = {"y", NULL};
	char digests[HASH_ALG_COUNT][HASH_HEX_MAX];
	int64_t size;
	char *err = NULL;

	assert_int_equal(storage_local_container_create("doomed", &err), 0);
	test_storage_put("doomed", "u1", 1, 0, data, &size, digests);
	test_storage_put("doomed", "u1", 2, 0, data, &size, digests);
	test_storage_put("doomed", "u2", 1, 0, data, &size, digests);
	assert_int_equal(storage_local_container_delete("doomed", &err), 0);
	assert_false(test_storage_exists("doomed"));
	assert_int_equal(storage_local_container_delete("doomed", &err), 0); /* missing is fine */
	assert_null(err);
	assert_true(test_storage_exists(TEST_CONTAINER));
}

static void
test_storage_symlinks_not_followed(void **state)
{
	char *outside = xasprintf("%s/outside", test_tmp);
	char *secret = xasprintf("%s/outside/1", test_tmp);
	char *link = xasprintf("%s/linked/evil", test_root);
	char *err = NULL;
	int64_t size;
	FILE *f;

	assert_int_equal(mkdir(outside, 0755), 0);
	f = fopen(secret, "w");
	assert_non_null(f);
	fputs("secret", f);
	fclose(f);
	assert_int_equal(storage_local_container_create("linked", NULL), 0);
	assert_int_equal(symlink(outside, link), 0);

	assert_null(storage_local_write_open("linked", "evil", 2, 0, &err));
	free(err);
	err = NULL;
	assert_int_equal(storage_local_read_open("linked", "evil", 1, &size, &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(storage_local_container_delete("linked", &err), 0);
	assert_null(err);
	assert_false(test_storage_exists("linked"));
	assert_int_equal(access(secret, F_OK), 0); /* the link went, not what it points to */
	free(outside);
	free(secret);
	free(link);
}

/* The table of providers, and the check that an upload's provider is the configured one. */
static void
test_storage_providers(void **state)
{
	const struct storage_info *local = storage_info("local"), *swift = storage_info("swift");
	char *err = NULL;

	assert_non_null(local);
	assert_non_null(swift);
	assert_string_equal(local->id, "00000000-0000-4000-8000-000000000001");
	assert_string_equal(swift->name, "swift");
	assert_string_not_equal(swift->id, local->id);
	assert_null(storage_info("s3"));
	assert_null(storage_info(NULL));

	cfg.storage = "local";
	cfg.storage_dir = test_root;
	assert_int_equal(storage_init(&err), 0);
	assert_string_equal(storage_name(), "local");
	assert_true(storage_holds("local", &err));
	assert_null(err);
	assert_false(storage_holds("swift", &err));
	assert_non_null(err);
	assert_non_null(strstr(err, "storage provider swift"));
	assert_non_null(strstr(err, "uses local"));
	free(err);
	err = NULL;
	assert_false(storage_holds(NULL, &err));
	free(err);
}

/* The constraint on uploads.storage_provider (the last migration that sets one) accepts
 * exactly the names of the providers' list, in its order: a provider added to storage.c
 * needs a migration that lets uploads record it. */
static void
test_storage_providers_constraint(void **state)
{
	static const char key[] = "storage_provider IN (";
	const char *in = NULL;
	size_t i = 0;

	(void)state;
	for (int m = 0; m < migration_count; m++) {
		const char *at = strstr(migrations[m].sql, key);
		if (at != NULL)
			in = at + strlen(key);
	}
	assert_non_null(in);
	for (; *in != ')'; i++) {
		const struct storage_info *p = storage_info_at(i);
		const char *end;

		while (*in == ' ' || *in == ',')
			in++;
		assert_int_equal(*in, '\'');
		end = strchr(in + 1, '\'');
		assert_non_null(end);
		assert_non_null(p);
		print_message("constraint name %.*s\n", (int)(end - in - 1), in + 1);
		assert_int_equal(strlen(p->name), (size_t)(end - in - 1));
		assert_memory_equal(p->name, in + 1, strlen(p->name));
		in = end + 1;
		while (*in == ' ')
			in++;
	}
	assert_null(storage_info_at(i));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_storage_container_create),
	    cmocka_unit_test(test_storage_write_commit_read),
	    cmocka_unit_test(test_storage_empty_and_replace),
	    cmocka_unit_test(test_storage_large_chunk),
	    cmocka_unit_test(test_storage_abort_leaves_nothing),
	    cmocka_unit_test(test_storage_read_missing),
	    cmocka_unit_test(test_storage_missing_container),
	    cmocka_unit_test(test_storage_path_escape_rejected),
	    cmocka_unit_test(test_storage_providers_constraint),
	    cmocka_unit_test(test_storage_upload_delete),
	    cmocka_unit_test(test_storage_upload_tidy),
	    cmocka_unit_test(test_storage_container_delete),
	    cmocka_unit_test(test_storage_symlinks_not_followed),
	    cmocka_unit_test(test_storage_providers),
	};
	return cmocka_run_group_tests(tests, test_storage_setup, test_storage_teardown);
}
