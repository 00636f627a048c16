/*
 * In-guest disk benchmark for tests/bench/blk.sh, built static so it runs
 * in the busybox initramfs: sequential read and write in 1 MiB blocks and
 * 4 KiB random reads from several threads, all with O_DIRECT so the guest's
 * page cache is out of the picture.
 *   blkbench DEVICE seqwrite|seqread|randread MIB SECONDS
 * Prints one line: "<mode> <MB/s or IOPS>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SEQ_BLOCK (1 << 20)
#define RAND_BLOCK 4096
#define THREADS 4

static const char *dev;
static long long span;		/* bytes of the device in use */
static double seconds;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int open_dev(int flags)
{
	int fd = open(dev, flags | O_DIRECT);

	if (fd < 0) {
		perror(dev);
		exit(1);
	}
	return fd;
}

static void sequential(int write_mode)
{
	int fd = open_dev(write_mode ? O_WRONLY : O_RDONLY);
	void *buf;
	long long done = 0;
	double start = now();

	if (posix_memalign(&buf, 4096, SEQ_BLOCK))
		exit(1);
	memset(buf, 0x5a, SEQ_BLOCK);
	while (now() - start < seconds) {
		off_t off = (off_t)(done % span);
		ssize_t n = write_mode ? pwrite(fd, buf, SEQ_BLOCK, off) : pread(fd, buf, SEQ_BLOCK, off);

		if (n != SEQ_BLOCK) {
			perror("seq");
			exit(1);
		}
		done += n;
	}
	if (write_mode)
		fdatasync(fd);
	printf("%s %.1f\n", write_mode ? "seqwrite" : "seqread", done / (now() - start) / 1e6);
}

static void *random_reader(void *arg)
{
	int fd = open_dev(O_RDONLY);
	unsigned seed = (unsigned)(uintptr_t)arg;
	long long *count = malloc(sizeof(*count));
	void *buf;
	double start = now();

	if (!count || posix_memalign(&buf, 4096, RAND_BLOCK))
		exit(1);
	*count = 0;
	while (now() - start < seconds) {
		off_t off = (off_t)(rand_r(&seed) % (span / RAND_BLOCK)) * RAND_BLOCK;

		if (pread(fd, buf, RAND_BLOCK, off) != RAND_BLOCK) {
			perror("randread");
			exit(1);
		}
		(*count)++;
	}
	return count;
}

static void random_read(void)
{
	pthread_t t[THREADS];
	long long total = 0;
	double start = now();

	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, random_reader, (void *)(i + 1));
	for (int i = 0; i < THREADS; i++) {
		long long *c;

		pthread_join(t[i], (void **)&c);
		total += *c;
	}
	printf("randread %.0f\n", total / (now() - start));
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: blkbench DEVICE seqwrite|seqread|randread MIB SECONDS\n");
		return 2;
	}
	dev = argv[1];
	span = atoll(argv[3]) << 20;
	seconds = atof(argv[4]);
	if (!strcmp(argv[2], "randread"))
		random_read();
	else
		sequential(!strcmp(argv[2], "seqwrite"));
	return 0;
}
