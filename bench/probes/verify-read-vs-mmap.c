#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
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
	int mode = atoi(argv[1]);
	size_t blk = 1 << 20;
	unsigned char *buf = malloc(blk);
	double t0 = now();
	long long tot = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_md5(), NULL);
	for (int i = 2; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY);
		struct stat st;
		fstat(fd, &st);
		if (mode == 0) {
			ssize_t n;
			while ((n = read(fd, buf, blk)) > 0) {
				EVP_DigestUpdate(c, buf, n);
				tot += n;
			}
		} else {
			unsigned char *p =
			    mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
			madvise(p, st.st_size, MADV_SEQUENTIAL);
			for (off_t o = 0; o < st.st_size; o += blk) {
				size_t n = st.st_size - o < blk ? st.st_size - o : blk;
				EVP_DigestUpdate(c, p + o, n);
			}
			tot += st.st_size;
			munmap(p, st.st_size);
		}
		close(fd);
	}
	unsigned char md[16];
	unsigned l;
	EVP_DigestFinal_ex(c, md, &l);
	double t = now() - t0;
	printf("%s: %.0f MB/s (%.3f s)\n", mode ? "mmap" : "read 1MiB", tot / 1e6 / t, t);
}
