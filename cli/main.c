// SPDX-License-Identifier: GPL-2.0
/* peermap: command line front end. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "devices", cmd_devices, "[--all]             exporters and importers, bridges above each" },
	{ "alloc", cmd_alloc, "SIZE [--bar N] [--hold SEC]  create an object in device memory" },
	{ "copy", cmd_copy, "[options]              copy with the importer's DMA engine, verified" },
	{ "segments", cmd_segments, "[options]          the DMA segments the importer gets for a range" },
	{ "topo", cmd_topo, "[--json|--dot]         routes between every exporter and importer" },
	{ "route", cmd_route, "PROVIDER CLIENT       how CLIENT reaches PROVIDER's memory, step by step" },
	{ "demo", cmd_demo, "                       peer-to-peer copies from device memory, explained" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: peermap COMMAND [ARGS]   (peermap COMMAND --help for more)\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "environment: PEERMAP_SYSFS (default /sys), PEERMAP_DEV_DIR (default /dev)\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "peermap: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
