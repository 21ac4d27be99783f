// SPDX-License-Identifier: GPL-2.0
/* Helpers shared by the CLI's subcommands. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "peermap.h"

unsigned char pattern(unsigned int seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ seed;

	return (unsigned char)(x >> 29 ^ x >> 7);
}

void print_segments(int edu, const char *what, const void *addr, uint64_t len,
		    unsigned int access, unsigned int max_rows)
{
	struct peermap_seg *segs;
	unsigned int n, i;
	int err;

	err = pm_edu_segments(edu, addr, len, access, &segs, &n);
	if (err) {
		printf("segments of %s: error: %s\n", what, strerror(-err));
		return;
	}
	printf("segments of %s (%" PRIu64 " bytes at %p, %s): %u\n", what, len,
	       addr, access & PEERMAP_ACCESS_WRITE ? "device writes" :
	       "device reads", n);
	printf("  %4s  %-18s  %12s  %s\n", "#", "DMA ADDRESS", "LENGTH", "KIND");
	for (i = 0; i < n; i++) {
		if (max_rows && i == max_rows - 1 && n > max_rows) {
			printf("  %4s  (%u more)\n", "...", n - i - 1);
			i = n - 1;
		}
		printf("  %4u  0x%016" PRIx64 "  %12" PRIu64 "  %s %s %s%s\n", i,
		       (uint64_t)segs[i].addr, (uint64_t)segs[i].len,
		       segs[i].flags & PEERMAP_SEG_PEER ? "peer" : "ram ",
		       segs[i].flags & PEERMAP_SEG_IOVA ? "iova" : "bus ",
		       segs[i].flags & PEERMAP_SEG_WRITE ? "rw" : "ro",
		       segs[i].flags & PEERMAP_SEG_FALLBACK ?
		       "  fallback: device memory evicted to RAM" : "");
	}
	free(segs);
}

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
