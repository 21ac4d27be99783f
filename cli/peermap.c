// SPDX-License-Identifier: GPL-2.0
/* peermap: command line front end. One function per subcommand. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci.h"

/* Devices the project knows how to use, by PCI ID, and what they are. */
static const struct {
	unsigned int vendor, device;
	const char *role, *what;
} known[] = {
	{ 0x1af4, 0x1110, "exporter", "ivshmem-plain BAR memory" },
	{ 0x1234, 0x11e8, "importer", "edu DMA engine" },
};

static const char *sysroot(void)
{
	const char *s = getenv("PEERMAP_SYSFS");

	return s && *s ? s : "/sys";
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: peermap COMMAND [ARGS]\n"
		"commands:\n"
		"  devices [--all]   PCI exporters and importers, with the bridges above\n"
		"  help              this text\n"
		"environment: PEERMAP_SYSFS overrides the sysfs root (default /sys)\n");
}

static void print_path(const struct pm_pci_dev *d)
{
	int i;

	if (!d->depth) {
		fputs("root", stdout);
		return;
	}
	for (i = 0; i < d->depth; i++)
		printf("%s%s[%04x:%04x]", i ? ">" : "", d->up[i].name,
		       d->up[i].vendor, d->up[i].device);
}

static int cmd_devices(int argc, char **argv)
{
	struct pm_pci_dev *devs;
	int all = 0, n, i;
	size_t k;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--all"))) {
		fprintf(stderr, "usage: peermap devices [--all]\n");
		return 2;
	}
	all = argc == 2;
	n = pm_pci_scan(sysroot(), &devs);
	if (n < 0) {
		fprintf(stderr, "peermap: reading %s/bus/pci: %s\n", sysroot(),
			strerror(-n));
		return 1;
	}
	printf("%-8s  %-12s  %-9s  %-10s  %s\n", "ROLE", "DEVICE", "ID",
	       "DRIVER", "PATH (bridges from the root)");
	for (i = 0; i < n; i++) {
		const char *role = "-";

		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (known[k].vendor == devs[i].vendor &&
			    known[k].device == devs[i].device)
				role = known[k].role;
		if (!all && !strcmp(role, "-"))
			continue;
		printf("%-8s  %-12s  %04x:%04x  %-10s  ", role, devs[i].name,
		       devs[i].vendor, devs[i].device,
		       devs[i].driver[0] ? devs[i].driver : "-");
		print_path(&devs[i]);
		putchar('\n');
	}
	free(devs);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "devices"))
		return cmd_devices(argc - 1, argv + 1);
	fprintf(stderr, "peermap: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
