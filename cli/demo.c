// SPDX-License-Identifier: GPL-2.0
/*
 * peermap demo: the whole path in front of a person. An object in device
 * memory, a pattern written through its CPU mapping, the importer's DMA
 * engine copying it peer to peer into RAM and into a second object, both
 * compared byte for byte, and the segments each side got.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "peermap.h"

#define DEMO_SIZE	(64 * 1024)
#define DEMO_SEED	2026

/* Copy @len bytes from @src to @dst with the engine and compare. */
static int demo_copy(int edu, const char *what, unsigned char *dst,
		     const unsigned char *src, size_t len)
{
	size_t i, bad = 0;
	double t;
	int err;

	t = now();
	err = pm_edu_copy(edu, dst, src, len);
	t = now() - t;
	if (err) {
		printf("   copy to %s failed: %s\n", what, strerror(-err));
		return 1;
	}
	for (i = 0; i < len; i++)
		bad += dst[i] != pattern(DEMO_SEED, i);
	printf("   %zu bytes from A into %s in %.2f s; compared byte for byte: %s\n",
	       len, what, t, bad ? "DIFFERENT" : "identical");
	if (bad)
		printf("   %zu bytes differ\n", bad);
	return bad ? 1 : 0;
}

int cmd_demo(int argc, char **argv)
{
	struct pm_bar bar = { .fd = -1 };
	struct pm_obj a = { 0 }, b = { 0 };
	unsigned char *ram = MAP_FAILED, *p;
	int edu = -1, err, fails = 1;
	size_t i;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: peermap demo\n");
		return 2;
	}
	printf("peermap demo: peer-to-peer DMA through user mappings\n\n");
	err = pm_bar_open(0, &bar);
	if (err) {
		printf("exporter %s/peermap-bar0: %s\n", pm_dev_dir(), strerror(-err));
		goto out;
	}
	edu = pm_edu_open(0);
	if (edu < 0) {
		printf("importer %s/peermap-edu0: %s\n", pm_dev_dir(), strerror(-edu));
		goto out;
	}
	printf("exporter: /dev/peermap-bar0, PCI %s, BAR%u: %" PRIu64
	       " MiB of device memory at bus address %#" PRIx64 "\n",
	       bar.info.pci_name, bar.info.bar_index,
	       (uint64_t)bar.info.bar_size >> 20, (uint64_t)bar.info.bar_bus_addr);
	printf("importer: /dev/peermap-edu0, the edu DMA engine\n\n");

	err = pm_obj_alloc(&bar, DEMO_SIZE, &a);
	if (err) {
		printf("object A: %s\n", strerror(-err));
		goto out;
	}
	printf("1. object A: %d KiB of device memory, BAR offset %#" PRIx64
	       ", mmapped write-combined at %p\n", DEMO_SIZE / 1024,
	       a.mmap_offset, a.cpu);
	p = a.cpu;
	for (i = 0; i < DEMO_SIZE; i++)
		p[i] = pattern(DEMO_SEED, i);
	printf("2. wrote a %d KiB pattern into A through its CPU mapping: %02x %02x %02x %02x ...\n",
	       DEMO_SIZE / 1024, p[0], p[1], p[2], p[3]);

	ram = mmap(NULL, DEMO_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (ram == MAP_FAILED) {
		perror("RAM buffer");
		goto out;
	}
	err = pm_obj_alloc(&bar, DEMO_SIZE, &b);
	if (err) {
		printf("object B: %s\n", strerror(-err));
		goto out;
	}
	memset(ram, 0, DEMO_SIZE);
	memset(b.cpu, 0, DEMO_SIZE);
	printf("3. a %d KiB RAM buffer, and object B at BAR offset %#" PRIx64 "\n\n",
	       DEMO_SIZE / 1024, b.mmap_offset);

	printf("4. what the importer's DMA engine is given (no struct page for A or B):\n");
	print_segments(edu, "object A", a.cpu, DEMO_SIZE, PEERMAP_ACCESS_READ, 4);
	print_segments(edu, "the RAM buffer", ram, DEMO_SIZE, PEERMAP_ACCESS_WRITE, 4);
	print_segments(edu, "object B", b.cpu, DEMO_SIZE, PEERMAP_ACCESS_WRITE, 4);
	printf("\n5. copies with the DMA engine, A -> RAM and A -> B:\n");
	fails = demo_copy(edu, "the RAM buffer", ram, a.cpu, DEMO_SIZE);
	fails += demo_copy(edu, "object B", b.cpu, a.cpu, DEMO_SIZE);
out:
	if (b.cpu)
		pm_obj_free(&b);
	if (a.cpu)
		pm_obj_free(&a);
	if (ram != MAP_FAILED)
		munmap(ram, DEMO_SIZE);
	if (edu >= 0)
		close(edu);
	pm_bar_close(&bar);
	printf("\ndemo: %s\n", fails ? "FAILED" : "OK");
	return fails ? 1 : 0;
}
