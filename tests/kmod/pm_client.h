/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The test modules' importer device, named by its PCI name in an ioctl
 * (char client[32], "DDDD:BB:SS.F"). Test-only.
 */
#ifndef _PM_CLIENT_H
#define _PM_CLIENT_H

#include <linux/err.h>
#include <linux/pci.h>
#include <linux/string.h>

/* The PCI device named by @name (@size bytes), referenced, or ERR_PTR. */
static inline struct pci_dev *pm_client_get(const char *name, size_t size)
{
	unsigned int d, b, s, f;
	struct pci_dev *pdev;

	if (!memchr(name, 0, size) ||
	    sscanf(name, "%x:%x:%x.%x", &d, &b, &s, &f) != 4)
		return ERR_PTR(-EINVAL);
	pdev = pci_get_domain_bus_and_slot(d, b, PCI_DEVFN(s, f));
	return pdev ?: ERR_PTR(-ENODEV);
}

#endif /* _PM_CLIENT_H */
