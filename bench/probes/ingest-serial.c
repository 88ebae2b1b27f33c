#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
static double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}
int
main(int argc, char **argv)
{
	size_t blk = 1 << 20;
	int md = atoi(argv[2]);
	unsigned char *b = malloc(blk);
	for (size_t i = 0; i < blk; i++)
		b[i] = rand();
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_md5(), NULL);
	double t0 = now(), tw = 0;
	for (int i = 0; i < 1024; i++) {
		if (md)
			EVP_DigestUpdate(c, b, blk);
		double a = now();
		if (write(fd, b, blk) != (ssize_t)blk)
			return 1;
		tw += now() - a;
	}
	double t1 = now();
	fsync(fd);
	double t2 = now();
	close(fd);
	unlink(argv[1]);
	printf("md5=%d: write %.0f MB/s (write calls %.2fs), loop %.2fs, fsync %.2fs, total %.0f "
	       "MB/s\n",
	       md, 1073.7 / tw, tw, t1 - t0, t2 - t1, 1073.7 / (t2 - t0));
}
