// SPDX-License-Identifier: GPL-2.0
/* peermap devices: what can export and import, and where it sits. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pci.h"

/* Roles by bound driver first (new_id binds any device), then by ID. */
const char *device_role(const struct pm_pci_dev *d)
{
	if (!strcmp(d->driver, "peermap_bar"))
		return "exporter";
	if (!strcmp(d->driver, "peermap_edu"))
		return "importer";
	if (d->vendor == 0x1af4 && d->device == 0x1110)
		return "exporter";
	if (d->vendor == 0x1234 && d->device == 0x11e8)
		return "importer";
	return "-";
}

const char *sysroot(void)
{
	const char *s = getenv("PEERMAP_SYSFS");

	return s && *s ? s : "/sys";
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

static const char devices_usage[] =
	"usage: peermap devices [--all]\n"
	"Lists the exporters (peermap_bar's devices, or ivshmem) and importers\n"
	"(peermap_edu's, or edu): PCI name, IDs, driver, device node and the\n"
	"bridges above each, from the root. --all: every PCI device.\n"
	"Reads sysfs only ($PEERMAP_SYSFS, default /sys): works without the modules.\n";

int cmd_devices(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct pm_pci_dev *devs;
	int all = 0, n, i, c, idx;

	while ((c = cli_getopt(argc, argv, lo, devices_usage, &idx)) != -1) {
		if (c != 'a')
			return PM_EXIT_USAGE;
		all = 1;
	}
	if (optind < argc)
		return cli_error(PM_EXIT_USAGE, 0, "unexpected argument '%s'",
				 argv[optind]);
	n = pm_pci_scan(sysroot(), &devs);
	if (n < 0)
		return cli_error(PM_EXIT_FAIL, n, "reading %s/bus/pci", sysroot());
	printf("%-8s  %-12s  %-9s  %-12s  %-14s  %s\n", "ROLE", "DEVICE", "ID",
	       "DRIVER", "NODE", "PATH (bridges from the root)");
	for (i = 0; i < n; i++) {
		const char *role = device_role(&devs[i]);

		if (!all && !strcmp(role, "-"))
			continue;
		printf("%-8s  %-12s  %04x:%04x  %-12s  %-14s  ", role,
		       devs[i].name, devs[i].vendor, devs[i].device,
		       devs[i].driver[0] ? devs[i].driver : "-",
		       devs[i].node[0] ? devs[i].node : "-");
		print_path(&devs[i]);
		putchar('\n');
	}
	free(devs);
	return PM_EXIT_OK;
}
