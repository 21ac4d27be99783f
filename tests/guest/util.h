/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the in-guest test programs: byte patterns that say
 * where every byte came from, and anonymous memory to copy into.
 */
#ifndef PEERMAP_GUEST_UTIL_H
#define PEERMAP_GUEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "peermap.h"

#define PAGE	4096UL
#define FILLER	0xa5

static inline unsigned char pat(unsigned int seed, uint64_t i)
{
	return (unsigned char)((i * 131 + seed * 7 + (i >> 12)) ^ seed);
}

static inline void fill(void *p, size_t n, unsigned int seed)
{
	unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		c[i] = pat(seed, i);
}

/* Bytes of [p, p + n) that differ from the pattern of @seed. */
static inline size_t differ(const void *p, size_t n, unsigned int seed)
{
	const unsigned char *c = p;
	size_t i, bad = 0;

	for (i = 0; i < n; i++)
		bad += c[i] != pat(seed, i);
	return bad;
}

static inline size_t not_filler(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i, bad = 0;

	for (i = 0; i < n; i++)
		bad += c[i] != FILLER;
	return bad;
}

/* Private anonymous memory, populated. */
static inline void *ram(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* An address range with nothing mapped: reserved PROT_NONE. */
static inline void *reserve(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Engine round trips of the importer @fd so far. */
static inline uint64_t edu_chunks(int fd)
{
	struct peermap_edu_stats st = { 0 };

	pm_edu_stats(fd, &st);
	return st.chunks;
}

/* Wait (20 s at most) until the importer @fd made @target round trips. */
static inline void edu_wait_chunks(int fd, uint64_t target)
{
	int i;

	for (i = 0; i < 20000 && edu_chunks(fd) < target; i++)
		usleep(1000);
}

/* A copy run by a thread: pthread_create(&t, NULL, edu_copy_thread, &job). */
struct edu_copy_job {
	int fd;			/* the importer */
	void *dst;
	const void *src;
	size_t len;
	int err;		/* its answer */
};

static inline void *edu_copy_thread(void *arg)
{
	struct edu_copy_job *j = arg;

	j->err = pm_edu_copy(j->fd, j->dst, j->src, j->len);
	return NULL;
}

/*
 * dma-buf windows alive in the whole system: lines of debugfs
 * peermap/windows, or -1 without debugfs.
 */
static inline int pm_windows_alive(void)
{
	FILE *f = fopen("/sys/kernel/debug/peermap/windows", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

/*
 * A window is released by a work item, a second after its last importer
 * at the latest: wait up to 5 s for @want windows alive; how many are.
 */
static inline int pm_windows_alive_settled(int want)
{
	int i, n = pm_windows_alive();

	for (i = 0; i < 500 && n != want; i++) {
		usleep(10000);
		n = pm_windows_alive();
	}
	return n;
}

/* Write @s into the file @path (sysfs, debugfs); 0 or -errno. */
static inline int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		err = -errno;
	close(fd);
	return err;
}

#endif
