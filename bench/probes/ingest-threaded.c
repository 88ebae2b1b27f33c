/* md5 in the main thread, write()+sync_file_range in a writer thread, double-buffered 1 MiB. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#define BLK (1 << 20)
static double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}
static unsigned char buf[2][BLK];
static sem_t full[2], empty[2];
static int fd, srange;
static void *
writer(void *a)
{
	(void)a;
	off_t off = 0;
	for (int i = 0; i < 1024; i++) {
		int k = i & 1;
		sem_wait(&full[k]);
		if (write(fd, buf[k], BLK) != BLK)
			exit(1);
		if (srange && i % 16 == 15)
			sync_file_range(fd, off, 16 * BLK, SYNC_FILE_RANGE_WRITE);
		off += BLK;
		sem_post(&empty[k]);
	}
	return NULL;
}
int
main(int argc, char **argv)
{
	srange = atoi(argv[2]);
	unsigned char *src = malloc(BLK);
	for (int i = 0; i < BLK; i++)
		src[i] = rand();
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	for (int k = 0; k < 2; k++) {
		sem_init(&full[k], 0, 0);
		sem_init(&empty[k], 0, 1);
	}
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_md5(), NULL);
	pthread_t th;
	double t0 = now();
	pthread_create(&th, NULL, writer, NULL);
	for (int i = 0; i < 1024; i++) {
		int k = i & 1;
		sem_wait(&empty[k]);
		memcpy(buf[k], src, BLK); /* the recv copy */
		EVP_DigestUpdate(c, buf[k], BLK);
		sem_post(&full[k]);
	}
	pthread_join(th, NULL);
	double t1 = now();
	fsync(fd);
	double t2 = now();
	close(fd);
	unlink(argv[1]);
	printf("threaded writer, sync_file_range=%d: loop %.2fs, fsync %.2fs, total %.0f MB/s\n",
	       srange, t1 - t0, t2 - t1, 1073.7 / (t2 - t0));
}
