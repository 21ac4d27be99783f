// SPDX-License-Identifier: GPL-2.0
/* peermap devices: what can export and import, and where it sits. */
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

int cmd_devices(int argc, char **argv)
{
	struct pm_pci_dev *devs;
	int all, n, i;

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
	return 0;
}
