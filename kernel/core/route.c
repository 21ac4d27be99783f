// SPDX-License-Identifier: GPL-2.0
/*
 * Routes between a provider (the PCI device whose memory is mapped) and a
 * client (the device that DMAs). This first version knows two things:
 * whether the client's DMA is translated by an IOMMU (then the peer BAR is
 * reached through an IOVA from dma_map_resource()), and where the two
 * devices meet in the PCIe tree (a switch, or the root complex). ACS,
 * host-bridge allow lists and administrator overrides come with the route
 * engine; the interface stays.
 */
#include <linux/iommu.h>
#include <linux/pci.h>

#include "internal.h"

const char *peermap_path_name(enum peermap_path path)
{
	switch (path) {
	case PEERMAP_PATH_SWITCH:
		return "switch";
	case PEERMAP_PATH_HOST_BRIDGE:
		return "host-bridge";
	default:
		return "none";
	}
}

/**
 * peermap_client_translated() - does an IOMMU translate this device's DMA?
 * @client: the DMA-ing device
 *
 * Context: any, does not sleep.
 * Return: true if the device sits in a paging IOMMU domain (DMA addresses
 * are IOVAs), false for no IOMMU or an identity (passthrough) domain.
 */
bool peermap_client_translated(struct device *client)
{
	struct iommu_domain *dom = iommu_get_domain_for_dev(client);

	return dom && (dom->type & __IOMMU_DOMAIN_PAGING);
}

/* Bridges from @dev up to the root bus, @dev's own upstream bridge first. */
static int upstream_depth(struct pci_dev *dev)
{
	int n = 0;

	for (dev = pci_upstream_bridge(dev); dev; dev = pci_upstream_bridge(dev))
		n++;
	return n;
}

/**
 * peermap_route_get() - how @client reaches @provider's memory
 * @provider: the PCI device that owns the memory
 * @client: the DMA-ing device
 * @route: the answer, with a reason a person can read
 *
 * Context: may sleep (none of the current rules do, later ones may).
 */
void peermap_route_get(struct pci_dev *provider, struct device *client,
		       struct peermap_route *route)
{
	struct pci_dev *cpdev, *a, *b;
	int da, db;

	memset(route, 0, sizeof(*route));
	route->iova = peermap_client_translated(client);
	if (!dev_is_pci(client)) {
		route->path = PEERMAP_PATH_HOST_BRIDGE;
		snprintf(route->reason, sizeof(route->reason),
			 "client %s is not a PCI device: through the host bridge%s",
			 dev_name(client), route->iova ? " by IOVA" : "");
		return;
	}
	cpdev = to_pci_dev(client);
	if (cpdev == provider) {
		route->path = PEERMAP_PATH_SWITCH;
		snprintf(route->reason, sizeof(route->reason),
			 "%s reaches its own BAR", pci_name(provider));
		return;
	}
	/* Walk both up to the same depth, then together to where they meet. */
	a = provider;
	b = cpdev;
	da = upstream_depth(a);
	db = upstream_depth(b);
	route->distance = 0;
	while (da > db) {
		a = pci_upstream_bridge(a);
		da--;
		route->distance++;
	}
	while (db > da) {
		b = pci_upstream_bridge(b);
		db--;
		route->distance++;
	}
	while (a && b && a->bus != b->bus) {
		a = pci_upstream_bridge(a);
		b = pci_upstream_bridge(b);
		route->distance += 2;
	}
	if (a && b && a->bus->self && pci_pcie_type(a->bus->self) !=
	    PCI_EXP_TYPE_ROOT_PORT && pci_domain_nr(a->bus) ==
	    pci_domain_nr(b->bus)) {
		route->path = PEERMAP_PATH_SWITCH;
		snprintf(route->reason, sizeof(route->reason),
			 "common switch port %s%s", pci_name(a->bus->self),
			 route->iova ? "; client DMA translated: by IOVA" : "");
	} else {
		route->path = PEERMAP_PATH_HOST_BRIDGE;
		snprintf(route->reason, sizeof(route->reason),
			 "no common switch: through the host bridge%s",
			 route->iova ? " by IOVA" : " by bus address");
	}
}
