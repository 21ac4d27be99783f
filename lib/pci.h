/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PCI devices as sysfs shows them: addresses, IDs and the bridges above.
 * Every function takes the sysfs root ("/sys" on a real system) so that
 * tests can point it at a synthetic tree.
 */
#ifndef PEERMAP_LIB_PCI_H
#define PEERMAP_LIB_PCI_H

#include <stddef.h>

#define PM_PCI_NAME_LEN		16	/* "dddd:bb:dd.f" + NUL, rounded */
#define PM_PCI_MAX_DEPTH	16	/* bridges between a device and root */

struct pm_pci_addr {
	unsigned int domain, bus, dev, fn;
};

struct pm_pci_bridge {
	char name[PM_PCI_NAME_LEN];
	unsigned int vendor, device;
};

struct pm_pci_dev {
	char name[PM_PCI_NAME_LEN];	/* canonical dddd:bb:dd.f */
	unsigned int vendor, device, class_code;
	char driver[64];		/* bound driver, "" if none */
	char node[32];			/* its misc device ("peermap-bar0"), or "" */
	char root[PM_PCI_NAME_LEN];	/* its root bus: "pci0000:00" */
	int depth;			/* bridges above, root port first */
	struct pm_pci_bridge up[PM_PCI_MAX_DEPTH];
};

/*
 * Parse "dddd:bb:dd.f" or "bb:dd.f" (domain 0), hex, with range checks.
 * Returns 0 or -EINVAL.
 */
int pm_pci_parse(const char *s, struct pm_pci_addr *addr);
/* Canonical name of @addr into @buf (PM_PCI_NAME_LEN bytes). */
void pm_pci_format(const struct pm_pci_addr *addr, char *buf);

/*
 * Read one device: IDs, driver and the bridges above it.
 * Returns 0, -EINVAL for a bad name, -ENOENT if absent, -E2BIG if deeper
 * than PM_PCI_MAX_DEPTH, or another -errno from sysfs.
 */
int pm_pci_read(const char *sysroot, const char *name, struct pm_pci_dev *dev);

/*
 * All PCI devices, sorted by name, in a malloc'ed array the caller frees.
 * Returns the count or -errno.
 */
int pm_pci_scan(const char *sysroot, struct pm_pci_dev **devs);

/*
 * Number of bridges two devices share above them (0: only the host bridge,
 * or different host bridges). Devices in different domains share none.
 */
int pm_pci_common_depth(const struct pm_pci_dev *a, const struct pm_pci_dev *b);

#endif
