/* storage_local.c: the local-directory storage provider.
 *
 * Layout: <root>/<container>/<upload_id>/<number>. A chunk is written by
 * storage_local_write.c to a temporary file ".<number>.<random>.tmp" in its upload
 * directory, then renamed into place, so a reader sees either the old chunk or the whole new
 * one. Container and upload names are checked (see
 * storage_local_name_ok) and every path is resolved relative to a directory descriptor without
 * following symbolic links, so no name can reach outside the root.
 */
#include "storage_local.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "sign.h"

#define STORAGE_NAME_MAX    128
#define STORAGE_DIR_FLAGS   (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define STORAGE_RMDIR_TRIES 5

static char *storage_local_root;

/* A container or upload name: 1..128 of [A-Za-z0-9_.-], not starting with '.' (which also
 * rules out "." and ".." and the temporary files). */
static bool
storage_local_name_ok(const char *s)
{
	size_t n;

	if (s == NULL || s[0] == '\0' || s[0] == '.')
		return false;
	for (n = 0; s[n] != '\0'; n++) {
		char c = s[n];
		if (n >= STORAGE_NAME_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

/* 0 when the provider is initialised and container is a valid name; else -1 + *err. */
static int
storage_local_check_container(const char *container, char **err)
{
	if (storage_local_root == NULL) {
		util_set_err(err, "storage not initialised");
		return -1;
	}
	if (!storage_local_name_ok(container)) {
		util_set_err(err, "invalid storage container name");
		return -1;
	}
	return 0;
}

/* As storage_local_check_container, and upload_id a valid name and number not negative. */
int
storage_local_check_chunk(const char *container, const char *upload_id, int number, char **err)
{
	if (storage_local_check_container(container, err) < 0)
		return -1;
	if (!storage_local_name_ok(upload_id)) {
		util_set_err(err, "invalid storage upload name");
		return -1;
	}
	if (number < 0) {
		util_set_err(err, "invalid chunk number %d", number);
		return -1;
	}
	return 0;
}

/* fsync of a directory; 0 or -1 with errno. */
int
storage_local_fsync_dir(int dirfd)
{
	if (fsync(dirfd) == 0 || errno == EINVAL) /* EINVAL: file system without dir fsync */
		return 0;
	return -1;
}

/*
 * Opens (with mkdir first when create is true) directory name inside parent. Returns a
 * descriptor or -1 with errno. A new directory is made durable by an fsync of parent.
 */
static int
storage_local_open_dir(int parent, const char *name, bool create)
{
	if (create) {
		if (mkdirat(parent, name, 0755) == 0) {
			if (storage_local_fsync_dir(parent) < 0)
				return -1;
		} else if (errno != EEXIST) {
			return -1;
		}
	}
	return openat(parent, name, STORAGE_DIR_FLAGS);
}

/*
 * Sets the root directory of the local provider, creating it and its parents if missing
 * (mode 0755). Call once at start. 0, or -1 with *err set (the caller frees it).
 */
int
storage_local_init(const char *root, char **err)
{
	char *path = NULL;
	struct stat st;
	int rc = -1;

	if (root == NULL || root[0] == '\0') {
		util_set_err(err, "storage root is empty");
		goto out;
	}
	path = xstrdup(root);
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			util_set_err(err, "mkdir %s: %s", path, strerror(errno));
			goto out;
		}
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		util_set_err(err, "mkdir %s: %s", path, strerror(errno));
		goto out;
	}
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		util_set_err(err, "storage root %s is not a directory", path);
		goto out;
	}
	free(storage_local_root);
	storage_local_root = path;
	path = NULL;
	rc = 0;
out:
	free(path);
	return rc;
}

static int
storage_local_open_root(char **err)
{
	int fd = open(storage_local_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		util_set_err(err, "open storage root %s: %s", storage_local_root, strerror(errno));
	return fd;
}

/* Creates the directory of a container; existing is fine. 0, or -1 with *err set. */
int
storage_local_container_create(const char *container, char **err)
{
	int root = -1, fd = -1, rc = -1;

	if (storage_local_check_container(container, err) < 0)
		goto out;
	if ((root = storage_local_open_root(err)) < 0)
		goto out;
	if ((fd = storage_local_open_dir(root, container, true)) < 0) {
		util_set_err(err, "create container %s: %s", container, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (root >= 0)
		close(root);
	return rc;
}

/*
 * Removes directory name inside parent and everything in it, without following symbolic
 * links; depth bounds the recursion. Missing is fine. 0 or -1 with errno.
 */
static int
storage_local_remove_tree(int parent, const char *name, int depth)
{
	DIR *dir = NULL;
	struct dirent *de;
	int fd = -1, rc = -1, saved;

	for (int tries = 0; tries < STORAGE_RMDIR_TRIES; tries++) {
		fd = openat(parent, name, STORAGE_DIR_FLAGS);
		if (fd < 0) {
			if (errno == ENOENT)
				rc = 0;
			else if (errno == ENOTDIR || errno == ELOOP)
				rc = unlinkat(parent, name, 0);
			goto out;
		}
		if ((dir = fdopendir(fd)) == NULL)
			goto out;
		fd = -1; /* owned by dir now */
		while ((de = readdir(dir)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (unlinkat(dirfd(dir), de->d_name, 0) == 0 || errno == ENOENT)
				continue;
			if ((errno != EISDIR && errno != EPERM) || depth <= 0 ||
			    storage_local_remove_tree(dirfd(dir), de->d_name, depth - 1) < 0)
				goto out;
		}
		closedir(dir);
		dir = NULL;
		if (unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT) {
			rc = storage_local_fsync_dir(parent);
			goto out;
		}
		if (errno != ENOTEMPTY && errno != EEXIST)
			goto out;
		/* a writer added a file meanwhile: go again */
	}
out:
	saved = errno;
	if (dir != NULL)
		closedir(dir);
	if (fd >= 0)
		close(fd);
	errno = saved;
	return rc;
}

/* Removes a container and everything in it; a missing one is fine. 0, or -1 with *err. */
int
storage_local_container_delete(const char *container, char **err)
{
	int root = -1, rc = -1;

	if (storage_local_check_container(container, err) < 0)
		goto out;
	if ((root = storage_local_open_root(err)) < 0)
		goto out;
	if (storage_local_remove_tree(root, container, 2) < 0) {
		util_set_err(err, "delete container %s: %s", container, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (root >= 0)
		close(root);
	return rc;
}

/*
 * Opens the directory of an upload in an existing container, creating it first when create
 * is true. Returns a descriptor or -1 with errno set and, when err is not NULL, *err.
 */
int
storage_local_open_upload_dir(const char *container, const char *upload_id, bool create, char **err)
{
	int root = -1, cfd = -1, fd = -1, saved;

	if ((root = storage_local_open_root(err)) < 0)
		goto out;
	if ((cfd = storage_local_open_dir(root, container, false)) < 0) {
		if (errno == ENOENT)
			util_set_err(err, "storage container %s missing", container);
		else
			util_set_err(err, "open container %s: %s", container, strerror(errno));
		goto out;
	}
	if ((fd = storage_local_open_dir(cfd, upload_id, create)) < 0)
		util_set_err(err, "open %s/%s: %s", container, upload_id, strerror(errno));
out:
	saved = errno;
	if (cfd >= 0)
		close(cfd);
	if (root >= 0)
		close(root);
	errno = saved;
	return fd;
}

/*
 * Opens chunk `number` of an upload for reading. Returns a descriptor the caller closes, with
 * *size set to the chunk's length, or -1 with *err set; a missing chunk (or upload or
 * container) is reported as "... missing" with errno left at ENOENT.
 */
int
storage_local_read_open(const char *container, const char *upload_id, int number, int64_t *size,
                        char **err)
{
	char name[16];
	struct stat st;
	int dirfd = -1, fd = -1;

	if (storage_local_check_chunk(container, upload_id, number, err) < 0)
		goto out;
	snprintf(name, sizeof(name), "%d", number);
	if ((dirfd = storage_local_open_upload_dir(container, upload_id, false, NULL)) >= 0)
		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			util_set_err(err, "chunk %s/%s/%d missing", container, upload_id, number);
		else
			util_set_err(err, "open chunk %s/%s/%d: %s", container, upload_id, number,
			             strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		fd = -1;
		errno = EINVAL;
		util_set_err(err, "chunk %s/%s/%d is not a regular file", container, upload_id,
		             number);
		goto out;
	}
	*size = (int64_t)st.st_size;
out:
	if (dirfd >= 0)
		close(dirfd);
	return fd;
}

/* Deletes every chunk of an upload (and its directory); a missing one is fine. A directory
 * lists every file it holds, so numbers are not needed. 0, or -1 with *err set. */
int
storage_local_upload_delete(const char *container, const char *upload_id, const int *numbers, int n,
                            char **err)
{
	int root = -1, cfd = -1, rc = -1;

	(void)numbers;
	(void)n;
	if (storage_local_check_chunk(container, upload_id, 0, err) < 0)
		goto out;
	if ((root = storage_local_open_root(err)) < 0)
		goto out;
	if ((cfd = openat(root, container, STORAGE_DIR_FLAGS)) < 0) {
		if (errno == ENOENT)
			rc = 0;
		else
			util_set_err(err, "open container %s: %s", container, strerror(errno));
		goto out;
	}
	if (storage_local_remove_tree(cfd, upload_id, 1) < 0) {
		util_set_err(err, "delete %s/%s: %s", container, upload_id, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (cfd >= 0)
		close(cfd);
	if (root >= 0)
		close(root);
	return rc;
}

/* A writer's temporary file: ".<number>.<random>.tmp" (see storage_local_create_temp). */
static bool
storage_local_is_temp(const char *name)
{
	size_t len = strlen(name);

	return name[0] == '.' && len > 5 && strcmp(name + len - 4, ".tmp") == 0;
}

int
storage_local_upload_tidy(const char *container, const char *upload_id, char **err)
{
	DIR *dir = NULL;
	struct dirent *de;
	int fd, n = 0, rc = -1;

	if (storage_local_check_chunk(container, upload_id, 0, err) < 0)
		goto out;
	if ((fd = storage_local_open_upload_dir(container, upload_id, false, NULL)) < 0) {
		if (errno == ENOENT)
			rc = 0; /* no chunk was ever stored */
		else
			util_set_err(err, "open %s/%s: %s", container, upload_id, strerror(errno));
		goto out;
	}
	if ((dir = fdopendir(fd)) == NULL) {
		util_set_err(err, "open %s/%s: %s", container, upload_id, strerror(errno));
		close(fd);
		goto out;
	}
	while ((de = readdir(dir)) != NULL) {
		if (!storage_local_is_temp(de->d_name))
			continue;
		if (unlinkat(dirfd(dir), de->d_name, 0) < 0 && errno != ENOENT) {
			util_set_err(err, "delete %s/%s/%s: %s", container, upload_id, de->d_name,
			             strerror(errno));
			goto out;
		}
		n++;
	}
	rc = n;
out:
	if (dir != NULL)
		closedir(dir);
	return rc;
}

/* The local provider's URLs are settle-api's own storage routes (api/storage_http.c),
 * signed with SETTLE_SECRET: /storage/<upload>/<number> (PUT), /storage/<upload> (GET);
 * with a position lsn (not 0), the URL carries it, signed (sign_url). */
char *
storage_local_url(const char *method, const char *container, const char *upload_id, int number,
                  int64_t expires, uint64_t lsn, const char **host)
{
	char *path = number > 0 ? xasprintf("/storage/%s/%d", upload_id, number)
	                        : xasprintf("/storage/%s", upload_id);
	char *url = sign_url(method, path, expires, lsn);

	free(path);
	*host = cfg.public_url;
	return url;
}

/* The size of a stored chunk; its md5 is in the database (settle-api computed it while
 * storing the bytes), so none here. */
int
storage_local_chunk_facts(const char *container, const char *upload_id, int number,
                          struct storage_facts *out, char **err)
{
	int fd = storage_local_read_open(container, upload_id, number, &out->size, err);

	if (fd < 0)
		return -1;
	out->md5[0] = '\0';
	close(fd);
	return 0;
}

#define STORAGE_LOCAL_BLOCK (1024 * 1024)

int
storage_local_chunk_read(const char *container, const char *upload_id, int number,
                         storage_sink sink, void *ctx, char **err)
{
	int64_t size;
	int fd = storage_local_read_open(container, upload_id, number, &size, err);
	unsigned char *buf = NULL;
	int rc = -1;

	if (fd < 0)
		return -1;
	buf = xmalloc(STORAGE_LOCAL_BLOCK);
	for (;;) {
		ssize_t n = read(fd, buf, STORAGE_LOCAL_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			util_set_err(err, "reading chunk %s/%s/%d: %s", container, upload_id,
			             number, strerror(errno));
			errno = EIO;
			goto out;
		}
		if (n == 0)
			break;
		if (sink(ctx, buf, (size_t)n) < 0)
			goto out;
	}
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* settle-api's download route reads the chunks themselves: nothing to make. */
int
storage_local_finalize(const char *container, const char *upload_id, const int64_t *sizes,
                       int nchunks, char **err)
{
	return 0;
}

/* storage_provider.init: the root directory is SETTLE_STORAGE_DIR. */
static int
storage_local_start(char **err)
{
	return storage_local_init(cfg.storage_dir, err);
}

const struct storage_provider storage_local_provider = {
    .info = {"00000000-0000-4000-8000-000000000001", "local", "local directory storage", INT64_MAX},
    .init = storage_local_start,
    .container_create = storage_local_container_create,
    .container_delete = storage_local_container_delete,
    .url = storage_local_url,
    .chunk_facts = storage_local_chunk_facts,
    .chunk_read = storage_local_chunk_read,
    .finalize = storage_local_finalize,
    .upload_delete = storage_local_upload_delete,
    .upload_tidy = storage_local_upload_tidy,
    .seal = NULL, /* settle-api refuses chunk PUTs once the upload is completed */
};
