/* SPDX-License-Identifier: GPL-2.0 */
/* peermap CLI: one file per group of subcommands, dispatched by main.c. */
#ifndef PEERMAP_CLI_H
#define PEERMAP_CLI_H

int cmd_devices(int argc, char **argv);
int cmd_alloc(int argc, char **argv);
int cmd_copy(int argc, char **argv);
int cmd_segments(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_topo(int argc, char **argv);
int cmd_route(int argc, char **argv);

struct pm_pci_dev;
/* "exporter", "importer" or "-" (devices.c). */
const char *device_role(const struct pm_pci_dev *d);
/* The sysfs root: PEERMAP_SYSFS or /sys. */
const char *sysroot(void);

#include <stdint.h>

/* The test pattern: byte @i of a buffer filled with @seed. */
unsigned char pattern(unsigned int seed, uint64_t i);
/*
 * Print the segments /dev/peermap-edu fd @edu gets for a range; with
 * @max_rows, at most that many rows (the last segment always shown).
 */
void print_segments(int edu, const char *what, const void *addr, uint64_t len,
		    unsigned int access, unsigned int max_rows);
/* CLOCK_MONOTONIC in seconds. */
double now(void);

#endif
