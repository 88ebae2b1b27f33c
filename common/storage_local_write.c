/* storage_local_write.c: a chunk written into the local provider's directory. It goes to a
 * temporary file ".<number>.<random>.tmp" in its upload directory (O_CREAT|O_EXCL), hashed as
 * it streams, then fsync'd, renamed into place and the directory fsync'd, so a reader sees
 * either the old chunk or the whole new one. */
#include "storage_local_write.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage_local.h"

struct storage_local_writer {
	int dirfd;             /* the upload directory */
	int fd;                /* the temporary file */
	char tmp[64];          /* its name in dirfd */
	char final[16];        /* the chunk's name in dirfd */
	char *where;           /* "container/upload_id/number", for messages */
	struct hash_set *hash; /* digests of what was written */
	int64_t size;
	bool failed;        /* a write failed: commit refuses */
	unsigned char *buf; /* bytes not yet written: writes and hashing go in big blocks */
	size_t buf_len;
	int64_t written;  /* bytes handed to the kernel */
	int64_t flushing; /* bytes whose write-back was started */
	/* The disk side of a body larger than one block: a thread writes one block while
	 * the caller receives and hashes the next (md5 and write() then overlap). */
	bool threaded;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	unsigned char *spare;   /* the other block */
	unsigned char *pending; /* the block handed to the thread, until it is written */
	size_t pending_len;
	bool quit;
	int write_errno; /* the thread's failure, 0 if none */
};

/* Every this many bytes the writer asks the kernel to start writing back, so that the
 * fsync at commit finds little left to do. */
#define STORAGE_WRITEBACK_STEP (8 * 1024 * 1024)

/* Bytes a writer gathers before one write() and one hash update: libmicrohttpd hands a body
 * over in pieces of a few KiB, and a syscall per piece costs more than the hashing. */
#define STORAGE_WRITE_BLOCK (1024 * 1024)

/* Creates w's temporary file ".<number>.<16 hex>.tmp" with O_EXCL in w->dirfd and sets
 * w->fd and w->tmp; w->tmp stays empty unless this call created the file. 0 or -1 + *err. */
static int
storage_local_create_temp(struct storage_local_writer *w, char **err)
{
	unsigned char rnd[8];
	char hex[17];

	for (int tries = 0; tries < 8; tries++) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			util_set_err(err, "create %s: RAND_bytes failed", w->where);
			return -1;
		}
		util_hex(rnd, sizeof(rnd), hex);
		snprintf(w->tmp, sizeof(w->tmp), ".%s.%s.tmp", w->final, hex);
		w->fd = openat(w->dirfd, w->tmp,
		               O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (w->fd >= 0)
			return 0;
		w->tmp[0] = '\0';
		if (errno != EEXIST) {
			util_set_err(err, "create temporary file for %s: %s", w->where,
			             strerror(errno));
			return -1;
		}
	}
	util_set_err(err, "create %s: no free temporary name", w->where);
	return -1;
}

/*
 * Starts writing chunk `number` of an upload in an existing container: bytes go to a new
 * temporary file and through the digests of algs (bit mask of 1 << enum hash_alg; md5 is
 * always added). Returns a writer the caller ends with storage_local_write_commit or
 * storage_local_write_abort, or NULL with *err set.
 */
struct storage_local_writer *
storage_local_write_open(const char *container, const char *upload_id, int number, unsigned algs,
                         char **err)
{
	struct storage_local_writer *w = NULL;
	int dirfd = -1;

	if (storage_local_check_chunk(container, upload_id, number, err) < 0)
		goto fail;
	if ((dirfd = storage_local_open_upload_dir(container, upload_id, true, err)) < 0)
		goto fail;
	w = xcalloc(1, sizeof(*w));
	w->dirfd = dirfd;
	w->fd = -1;
	w->where = xasprintf("%s/%s/%d", container, upload_id, number);
	snprintf(w->final, sizeof(w->final), "%d", number);
	if (storage_local_create_temp(w, err) < 0)
		goto fail;
	w->hash = hash_set_new(algs | (1u << HASH_MD5));
	return w;
fail:
	if (w != NULL)
		storage_local_write_abort(w);
	else if (dirfd >= 0)
		close(dirfd);
	return NULL;
}

/* Writes len bytes at the end of the file and starts their write-back now and then.
 * Returns 0 or an errno. Called by one thread at a time (the writer thread or, with no
 * thread, the caller). */
static int
storage_local_write_block(struct storage_local_writer *w, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t k = write(w->fd, p, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? errno : EIO;
		p += k;
		len -= (size_t)k;
		w->written += k;
	}
	if (w->written - w->flushing >= STORAGE_WRITEBACK_STEP) {
		/* Advisory: an error here shows up again, and is handled, at fsync. */
		(void)sync_file_range(w->fd, w->flushing, w->written - w->flushing,
		                      SYNC_FILE_RANGE_WRITE);
		w->flushing = w->written;
	}
	return 0;
}

/* The writer thread: writes each block handed over until told to quit. */
static void *
storage_local_writer_main(void *arg)
{
	struct storage_local_writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->pending == NULL && !w->quit)
			pthread_cond_wait(&w->cv, &w->lock);
		if (w->pending == NULL)
			break;
		unsigned char *p = w->pending;
		size_t len = w->pending_len;
		pthread_mutex_unlock(&w->lock);
		int e = w->write_errno == 0 ? storage_local_write_block(w, p, len) : 0;
		pthread_mutex_lock(&w->lock);
		if (e != 0)
			w->write_errno = e;
		w->pending = NULL;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Waits until the writer thread has written what it was given; its errno or 0. */
static int
storage_local_writer_idle(struct storage_local_writer *w)
{
	int e;

	pthread_mutex_lock(&w->lock);
	while (w->pending != NULL)
		pthread_cond_wait(&w->cv, &w->lock);
	e = w->write_errno;
	pthread_mutex_unlock(&w->lock);
	return e;
}

/* Stops and joins the writer thread, if any. */
static void
storage_local_writer_stop(struct storage_local_writer *w)
{
	if (!w->threaded)
		return;
	pthread_mutex_lock(&w->lock);
	w->quit = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->lock);
	w->threaded = false;
}

/* Hashes the gathered block and writes it: through the writer thread (started with the
 * first full block of a body) or, for the last block of a small body, directly. 0, or -1
 * with *err set (the writer is failed). */
static int
storage_local_flush(struct storage_local_writer *w, bool last, char **err)
{
	int e = 0;

	hash_set_update(w->hash, w->buf, w->buf_len);
	if (!w->threaded && !last) {
		pthread_mutex_init(&w->lock, NULL);
		pthread_cond_init(&w->cv, NULL);
		if (pthread_create(&w->thread, NULL, storage_local_writer_main, w) != 0)
			abort();
		w->threaded = true;
	}
	if (w->threaded) {
		if ((e = storage_local_writer_idle(w)) == 0) {
			unsigned char *given = w->buf;
			pthread_mutex_lock(&w->lock);
			w->pending = given;
			w->pending_len = w->buf_len;
			pthread_cond_broadcast(&w->cv);
			pthread_mutex_unlock(&w->lock);
			if (w->spare == NULL)
				w->spare = xmalloc(STORAGE_WRITE_BLOCK);
			w->buf = w->spare; /* free: the thread finished with it */
			w->spare = given;
		}
	} else {
		e = storage_local_write_block(w, w->buf, w->buf_len);
	}
	w->buf_len = 0;
	if (e == 0 && last && w->threaded)
		e = storage_local_writer_idle(w);
	if (e != 0) {
		w->failed = true;
		util_set_err(err, "write %s: %s", w->where, strerror(e));
		return -1;
	}
	return 0;
}

/* Appends n bytes to the chunk and its digests (gathered into blocks of
 * STORAGE_WRITE_BLOCK). 0, or -1 with *err set; after a failure the writer can only be
 * aborted (commit refuses). */
int
storage_local_write(struct storage_local_writer *w, const void *data, size_t n, char **err)
{
	const unsigned char *p = data;

	if (w->failed) {
		util_set_err(err, "write %s: an earlier write failed", w->where);
		return -1;
	}
	if (w->buf == NULL)
		w->buf = xmalloc(STORAGE_WRITE_BLOCK);
	while (n > 0) {
		size_t take = STORAGE_WRITE_BLOCK - w->buf_len;
		if (take > n)
			take = n;
		memcpy(w->buf + w->buf_len, p, take);
		w->buf_len += take;
		w->size += (int64_t)take;
		p += take;
		n -= take;
		if (w->buf_len == STORAGE_WRITE_BLOCK && storage_local_flush(w, false, err) < 0)
			return -1;
	}
	return 0;
}

/*
 * Makes the chunk durable and visible: fsync, atomic rename over any previous chunk of that
 * number, fsync of the directory. Fills *size and digests (hex of each requested algorithm,
 * "" for the others). Frees w either way. 0, or -1 with *err set and nothing left behind.
 */
int
storage_local_write_commit(struct storage_local_writer *w, int64_t *size,
                           char digests[HASH_ALG_COUNT][HASH_HEX_MAX], char **err)
{
	int rc = -1, fd;

	if (w->failed) {
		util_set_err(err, "commit %s: an earlier write failed", w->where);
		goto out;
	}
	if ((w->buf_len > 0 || w->threaded) && storage_local_flush(w, true, err) < 0)
		goto out;
	storage_local_writer_stop(w);
	if (fsync(w->fd) < 0) {
		util_set_err(err, "fsync %s: %s", w->where, strerror(errno));
		goto out;
	}
	fd = w->fd;
	w->fd = -1;
	if (close(fd) < 0) {
		util_set_err(err, "close %s: %s", w->where, strerror(errno));
		goto out;
	}
	if (renameat(w->dirfd, w->tmp, w->dirfd, w->final) < 0) {
		util_set_err(err, "rename %s: %s", w->where, strerror(errno));
		goto out;
	}
	w->tmp[0] = '\0'; /* nothing left to clean up */
	if (storage_local_fsync_dir(w->dirfd) < 0) {
		util_set_err(err, "fsync directory of %s: %s", w->where, strerror(errno));
		goto out;
	}
	*size = w->size;
	hash_set_final(w->hash, digests);
	w->hash = NULL;
	rc = 0;
out:
	storage_local_write_abort(w);
	return rc;
}

/* Discards the temporary file (if still there) and frees w. NULL is fine. */
void
storage_local_write_abort(struct storage_local_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp[0] != '\0')
		unlinkat(w->dirfd, w->tmp, 0);
	close(w->dirfd);
	storage_local_writer_stop(w);
	hash_set_free(w->hash);
	free(w->buf);
	free(w->spare);
	free(w->where);
	free(w);
}
