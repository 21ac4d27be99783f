// SPDX-License-Identifier: GPL-2.0
/* peermap: command line front end. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	{ "bind", cmd_bind, "BDF [DRIVER] [--force] give a PCI device to peermap_bar (or DRIVER)" },
	{ "unbind", cmd_unbind, "BDF [--force]        give it back to its own driver" },
	{ "demo", cmd_demo, "                       peer-to-peer copies from device memory, explained" },
};

static void usage(void)
{
	size_t i;

	printf("usage: peermap COMMAND [ARGS]   (peermap COMMAND --help for more)\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("  %s %s\n", cmds[i].name, cmds[i].help);
	printf("  --help | --version          this text | \"peermap VERSION\" and the loaded modules'\n"
	       "environment: PEERMAP_SYSFS (default /sys), PEERMAP_DEV_DIR (default /dev)\n"
	       "exit status: 0 success, 1 operation failed, 2 usage error (nothing done),\n"
	       "             3 no peer route (route, copy, segments)\n");
}

/*
 * "peermap VERSION", then "module NAME VERSION" for each peermap module
 * loaded, with a warning on stderr for each one of another version (or of
 * none: built before modules had one). Returns PM_EXIT_OK.
 */
static int print_version(void)
{
	static const char *const modules[] = { "peermap", "peermap_bar", "peermap_edu" };
	char path[PATH_MAX], v[64] = "";
	size_t i;
	FILE *f;

	printf("peermap %s\n", PEERMAP_VERSION);
	for (i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
		snprintf(path, sizeof(path), "%s/module/%s", sysroot(), modules[i]);
		if (access(path, F_OK))
			continue;	/* not loaded */
		snprintf(path, sizeof(path), "%s/module/%s/version", sysroot(),
			 modules[i]);
		f = fopen(path, "r");
		if (!f || !fgets(v, sizeof(v), f))
			v[0] = 0;
		if (f)
			fclose(f);
		v[strcspn(v, "\n")] = 0;
		printf("module %s %s\n", modules[i], *v ? v : "(no version)");
		if (!*v)
			cli_error(PM_EXIT_OK, 0,
				  "warning: the loaded module %s reports no version, this peermap is %s: load the modules of the same build",
				  modules[i], PEERMAP_VERSION);
		else if (strcmp(v, PEERMAP_VERSION))
			cli_error(PM_EXIT_OK, 0,
				  "warning: the loaded module %s is version %s, this peermap is %s: load the modules of the same build",
				  modules[i], v, PEERMAP_VERSION);
	}
	return PM_EXIT_OK;
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		return cli_error(PM_EXIT_USAGE, 0, "no command");
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		usage();
		return PM_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version"))
		return print_version();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[1], cmds[i].name)) {
			cli_cmd = cmds[i].name;
			return cmds[i].fn(argc - 1, argv + 1);
		}
	}
	if (argv[1][0] == '-')
		return cli_error(PM_EXIT_USAGE, 0, "unknown option '%s'", argv[1]);
	return cli_error(PM_EXIT_USAGE, 0, "unknown command '%s'", argv[1]);
}
