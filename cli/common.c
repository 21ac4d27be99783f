// SPDX-License-Identifier: GPL-2.0
/* Helpers shared by the CLI's subcommands, and its error messages. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "peermap.h"

unsigned char pattern(unsigned int seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ seed;

	return (unsigned char)(x >> 29 ^ x >> 7);
}

int print_segments(int edu, const char *what, const void *addr, uint64_t len,
		   unsigned int access, unsigned int max_rows)
{
	struct peermap_seg *segs;
	unsigned int n, i;
	int err;

	err = pm_edu_segments(edu, addr, len, access, &segs, &n);
	if (err)
		return err;
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
	return 0;
}

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

const char *cli_cmd;

int cli_error(int status, int err, const char *fmt, ...)
{
	const char *sep = cli_cmd ? " " : "";
	const char *cmd = cli_cmd ? cli_cmd : "";
	va_list ap;

	fflush(stdout);		/* keep the order when both go to one file */
	fprintf(stderr, "peermap%s%s: ", sep, cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(-err));
	fputc('\n', stderr);
	if (status == PM_EXIT_USAGE)
		fprintf(stderr, "Try 'peermap%s%s --help'.\n", sep, cmd);
	return status;
}

/* "64 MiB", or "4097 bytes" when not a whole number of KiB. */
static const char *size_str(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = 0;

	while (u < 4 && v && !(v & 1023)) {
		v >>= 10;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 " %s", v, unit[u]);
	return buf;
}

int cli_open_error(const char *node, int err)
{
	char module[32], path[PATH_MAX];
	const char *digit = node + strcspn(node, "0123456789");
	size_t i, n = (size_t)(digit - node);

	/* "peermap-bar0" is peermap_bar's node, "peermap" the core's. */
	if (n >= sizeof(module))
		n = sizeof(module) - 1;
	for (i = 0; i < n; i++)
		module[i] = node[i] == '-' ? '_' : node[i];
	module[n] = 0;
	if (err == -ENOENT) {
		snprintf(path, sizeof(path), "%s/module/%s", sysroot(), module);
		if (access(path, F_OK))
			return cli_error(PM_EXIT_FAIL, 0,
					 "no %s/%s: is %s loaded? (modprobe %s / see README)",
					 pm_dev_dir(), node, module, module);
		if (*digit)
			return cli_error(PM_EXIT_FAIL, 0,
					 "no %s/%s: %s is loaded but has no device %s (see peermap devices)",
					 pm_dev_dir(), node, module, digit);
		return cli_error(PM_EXIT_FAIL, 0,
				 "no %s/%s although %s is loaded (PEERMAP_DEV_DIR? devtmpfs?)",
				 pm_dev_dir(), node, module);
	}
	if (err == -EACCES || err == -EPERM)
		return cli_error(PM_EXIT_FAIL, err, "%s/%s (run as root?)",
				 pm_dev_dir(), node);
	return cli_error(PM_EXIT_FAIL, err, "%s/%s", pm_dev_dir(), node);
}

int cli_alloc_error(const struct pm_bar *bar, uint64_t size, int err)
{
	struct peermap_bar_info info = bar->info;
	char a[32], b[32];

	if (err == -E2BIG)
		return cli_error(PM_EXIT_FAIL, 0,
				 "an object of %" PRIu64 " bytes does not fit in %s BAR%u (%s)",
				 size, info.pci_name, info.bar_index,
				 size_str(info.bar_size, a, sizeof(a)));
	if (err == -ENOSPC) {
		/* What is free now, not when the BAR was opened. */
		ioctl(bar->fd, PEERMAP_BAR_IOC_INFO, &info);
		return cli_error(PM_EXIT_FAIL, 0,
				 "no room for an object of %" PRIu64 " bytes in %s BAR%u: %s free of %s",
				 size, info.pci_name, info.bar_index,
				 size_str(info.bar_free, a, sizeof(a)),
				 size_str(info.bar_size, b, sizeof(b)));
	}
	return cli_error(PM_EXIT_FAIL, err, "object of %" PRIu64 " bytes in %s",
			 size, info.pci_name);
}

int cli_dma_error(int err, const struct pm_bar *bar, int edu,
		  const char *fmt, ...)
{
	char what[256], node[32], client[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (err == -EREMOTEIO && bar) {
		snprintf(node, sizeof(node), "peermap-edu%d", edu);
		if (pm_node_pci_name(node, client, sizeof(client)))
			snprintf(client, sizeof(client), "%s", node);
		/* The errno text too: scripts look for it (40-route.t). */
		return cli_error(PM_EXIT_NOROUTE, err,
				 "no peer route from %s to %s (see peermap route %s %s)",
				 bar->info.pci_name, client, bar->info.pci_name,
				 client);
	}
	if (err == -EREMOTEIO)
		return cli_error(PM_EXIT_NOROUTE, err, "%s: no peer route (see peermap topo)",
				 what);
	if (err == -E2BIG)
		return cli_error(PM_EXIT_FAIL, 0,
				 "%s: too large for the importer (a copy is at most %llu MiB, a mapping at most peermap's max_map_bytes)",
				 what, PEERMAP_EDU_COPY_MAX >> 20);
	if (err == -EPERM || err == -EACCES)
		return cli_error(PM_EXIT_FAIL, err,
				 "%s: refused by the exporter's policy or the range's protection",
				 what);
	return cli_error(PM_EXIT_FAIL, err, "%s", what);
}

int cli_getopt(int argc, char **argv, const struct option *lo,
	       const char *usage, int *idx)
{
	const char *arg;
	int c;

	opterr = 0;
	*idx = -1;
	c = getopt_long(argc, argv, ":h", lo, idx);
	arg = argv[optind - 1];
	switch (c) {
	case 'h':
		fputs(usage, stdout);
		exit(PM_EXIT_OK);
	case '?':
		if (strncmp(arg, "--", 2) && optopt)
			cli_error(PM_EXIT_USAGE, 0, "unknown option '-%c'", optopt);
		else
			cli_error(PM_EXIT_USAGE, 0, "unknown option '%s'", arg);
		return '?';
	case ':':
		cli_error(PM_EXIT_USAGE, 0, "%s needs a value", arg);
		return '?';
	default:
		return c;
	}
}
