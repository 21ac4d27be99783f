/* SPDX-License-Identifier: GPL-2.0 */
/* Shared between the core's files; not for exporters or importers. */
#ifndef _PEERMAP_INTERNAL_H
#define _PEERMAP_INTERNAL_H

#include <peermap.h>

enum peermap_path {
	PEERMAP_PATH_NONE,
	PEERMAP_PATH_SWITCH,		/* by bus address, below a switch */
	PEERMAP_PATH_HOST_BRIDGE,	/* through the root complex */
};

#define PEERMAP_REASON_LEN	160

struct peermap_route {
	enum peermap_path path;
	int distance;			/* bridges between the two devices */
	bool iova;			/* client DMA translated: use an IOVA */
	char reason[PEERMAP_REASON_LEN];
};

/* route.c */
bool peermap_client_translated(struct device *client);
void peermap_route_get(struct pci_dev *provider, struct device *client,
		       struct peermap_route *route);
const char *peermap_path_name(enum peermap_path path);

/* exporter.c */
struct peermap_exporter *peermap_exporter_get(struct vm_area_struct *vma);
void peermap_exporter_put(struct peermap_exporter *exp);
void peermap_req_release(struct peermap_p2p_req *req);

/* mapping.c */
int peermap_map_append(struct peermap_mapping *map, dma_addr_t addr, u64 len,
		       u32 flags);

/* Direction of a DMA mapping for an access. */
static inline enum dma_data_direction peermap_dir(u32 access)
{
	if ((access & PEERMAP_ACCESS_READ) && (access & PEERMAP_ACCESS_WRITE))
		return DMA_BIDIRECTIONAL;
	return access & PEERMAP_ACCESS_WRITE ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
}

#endif /* _PEERMAP_INTERNAL_H */
