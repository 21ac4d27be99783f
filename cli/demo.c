// SPDX-License-Identifier: GPL-2.0
/*
 * peermap demo: the whole path in front of a person. An object in device
 * memory, a pattern written through its CPU mapping, the importer's DMA
 * engine copying it peer to peer into RAM and into a second object, both
 * compared byte for byte, and the segments each side got.
 */
#include <errno.h>
#include <getopt.h>
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

/*
 * Copy @len bytes from @src (in @bar) to @dst with the engine and compare.
 * Returns an exit status.
 */
static int demo_copy(int edu, const struct pm_bar *bar, const char *what,
		     unsigned char *dst, const unsigned char *src, size_t len)
{
	size_t i, bad = 0;
	double t;
	int err;

	t = now();
	err = pm_edu_copy(edu, dst, src, len);
	t = now() - t;
	if (err) {
		return cli_dma_error(err, bar, 0, "copy to %s", what);
	}
	for (i = 0; i < len; i++)
		bad += dst[i] != pattern(DEMO_SEED, i);
	printf("   %zu bytes from A into %s in %.2f s; compared byte for byte: %s\n",
	       len, what, t, bad ? "DIFFERENT" : "identical");
	if (bad)
		printf("   %zu bytes differ\n", bad);
	return bad ? PM_EXIT_FAIL : PM_EXIT_OK;
}

static const char demo_usage[] =
	"usage: peermap demo\n"
	"The whole path, narrated (what `make demo` shows): an object in\n"
	"/dev/peermap-bar0's device memory written through its CPU mapping,\n"
	"the segments /dev/peermap-edu0's DMA engine gets, and copies peer to\n"
	"peer into RAM and into a second object, compared byte for byte.\n"
	"Ends with 'demo: OK' (status 0) or 'demo: FAILED'.\n";

int cmd_demo(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct pm_bar bar = { .fd = -1 };
	struct pm_obj a = { 0 }, b = { 0 };
	unsigned char *ram = MAP_FAILED, *p;
	int edu = -1, err, idx, fails = PM_EXIT_FAIL;
	size_t i;

	if (cli_getopt(argc, argv, lo, demo_usage, &idx) != -1)
		return PM_EXIT_USAGE;
	if (optind < argc)
		return cli_error(PM_EXIT_USAGE, 0, "unexpected argument '%s'",
				 argv[optind]);
	printf("peermap demo: peer-to-peer DMA through user mappings\n\n");
	err = pm_bar_open(0, &bar);
	if (err) {
		fails = cli_open_error("peermap-bar0", err);
		goto out;
	}
	edu = pm_edu_open(0);
	if (edu < 0) {
		fails = cli_open_error("peermap-edu0", edu);
		goto out;
	}
	printf("exporter: /dev/peermap-bar0, PCI %s, BAR%u: %" PRIu64
	       " MiB of device memory at bus address %#" PRIx64 "\n",
	       bar.info.pci_name, bar.info.bar_index,
	       (uint64_t)bar.info.bar_size >> 20, (uint64_t)bar.info.bar_bus_addr);
	printf("importer: /dev/peermap-edu0, the edu DMA engine\n\n");

	err = pm_obj_alloc(&bar, DEMO_SIZE, &a);
	if (err) {
		fails = cli_alloc_error(&bar, DEMO_SIZE, err);
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
		fails = cli_error(PM_EXIT_FAIL, -errno, "RAM buffer");
		goto out;
	}
	err = pm_obj_alloc(&bar, DEMO_SIZE, &b);
	if (err) {
		fails = cli_alloc_error(&bar, DEMO_SIZE, err);
		goto out;
	}
	memset(ram, 0, DEMO_SIZE);
	memset(b.cpu, 0, DEMO_SIZE);
	printf("3. a %d KiB RAM buffer, and object B at BAR offset %#" PRIx64 "\n\n",
	       DEMO_SIZE / 1024, b.mmap_offset);

	printf("4. what the importer's DMA engine is given (no struct page for A or B):\n");
	err = print_segments(edu, "object A", a.cpu, DEMO_SIZE, PEERMAP_ACCESS_READ, 4);
	if (!err)
		err = print_segments(edu, "the RAM buffer", ram, DEMO_SIZE,
				     PEERMAP_ACCESS_WRITE, 4);
	if (!err)
		err = print_segments(edu, "object B", b.cpu, DEMO_SIZE,
				     PEERMAP_ACCESS_WRITE, 4);
	if (err) {
		fails = cli_dma_error(err, &bar, 0, "segments");
		goto out;
	}
	printf("\n5. copies with the DMA engine, A -> RAM and A -> B:\n");
	fails = demo_copy(edu, &bar, "the RAM buffer", ram, a.cpu, DEMO_SIZE);
	err = demo_copy(edu, &bar, "object B", b.cpu, a.cpu, DEMO_SIZE);
	if (!fails)
		fails = err;
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
	return fails;
}
