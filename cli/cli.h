/* SPDX-License-Identifier: GPL-2.0 */
/* peermap CLI: one file per group of subcommands, dispatched by main.c. */
#ifndef PEERMAP_CLI_H
#define PEERMAP_CLI_H

#include <stdint.h>

#include <peermap/version.h>	/* PEERMAP_VERSION, the modules' too */

/* Exit statuses of every subcommand (peermap --help, docs/cli.md). */
enum {
	PM_EXIT_OK = 0,		/* done */
	PM_EXIT_FAIL = 1,	/* the operation failed (or a copy differed) */
	PM_EXIT_USAGE = 2,	/* bad command line: nothing was done */
	PM_EXIT_NOROUTE = 3,	/* no peer route for the pair (route, copy, segments) */
};

int cmd_devices(int argc, char **argv);
int cmd_alloc(int argc, char **argv);
int cmd_copy(int argc, char **argv);
int cmd_segments(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_topo(int argc, char **argv);
int cmd_route(int argc, char **argv);
int cmd_bind(int argc, char **argv);
int cmd_unbind(int argc, char **argv);

struct pm_pci_dev;
/* "exporter", "importer" or "-" (devices.c). */
const char *device_role(const struct pm_pci_dev *d);
/* The sysfs root: PEERMAP_SYSFS or /sys. */
const char *sysroot(void);

/* The test pattern: byte @i of a buffer filled with @seed. */
unsigned char pattern(unsigned int seed, uint64_t i);
/*
 * Print the segments /dev/peermap-edu fd @edu gets for a range; with
 * @max_rows, at most that many rows (the last segment always shown).
 * Returns 0, or a negative errno with nothing printed.
 */
int print_segments(int edu, const char *what, const void *addr, uint64_t len,
		   unsigned int access, unsigned int max_rows);
/* CLOCK_MONOTONIC in seconds. */
double now(void);

/*
 * Errors (common.c). cli_error() is the one place that prints them:
 * "peermap CMD: MESSAGE[: strerror(-err)]" on stderr, and for
 * PM_EXIT_USAGE a pointer at "peermap CMD --help"; it returns @status.
 * The cli_*_error() below explain the errno of one kind of call, then
 * call it.
 */
extern const char *cli_cmd;	/* "copy"; NULL before dispatch (main.c) */
int cli_error(int status, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Opening /dev/NODE ("peermap", "peermap-bar0") failed with @err. */
int cli_open_error(const char *node, int err);
struct pm_bar;
/* Creating an object of @size bytes in @bar failed with @err. */
int cli_alloc_error(const struct pm_bar *bar, uint64_t size, int err);
/*
 * The importer /dev/peermap-eduN (@edu) failed a map or copy with @err;
 * @bar is the exporter involved, or NULL. EREMOTEIO (no peer route) names
 * both PCI devices and gives PM_EXIT_NOROUTE.
 */
int cli_dma_error(int err, const struct pm_bar *bar, int edu,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

struct option;
/*
 * getopt_long() for the subcommands: -h and --help (@lo maps "help" to
 * 'h') print @usage on stdout and exit 0; an unknown option or a missing
 * value is reported (PM_EXIT_USAGE) and gives '?'. Otherwise as
 * getopt_long(); *@idx is the long option's index, or -1.
 */
int cli_getopt(int argc, char **argv, const struct option *lo,
	       const char *usage, int *idx);

#endif
