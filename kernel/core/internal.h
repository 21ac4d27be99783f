/* SPDX-License-Identifier: GPL-2.0 */
/* Shared between the core's files; not for exporters or importers. */
#ifndef _PEERMAP_INTERNAL_H
#define _PEERMAP_INTERNAL_H

#include <linux/dma-direction.h>
#include <linux/scatterlist.h>
#include <peermap.h>

#include "route_rules.h"

struct dentry;
struct seq_file;

/* route.c */
bool peermap_client_translated(struct device *client);
/* The map path: the verdict only, no text. */
int peermap_route_get(struct pci_dev *provider, struct device *client,
		      struct pm_rt_verdict *v);
void peermap_route_refused(struct pci_dev *provider, struct device *client,
			   const struct pm_rt_verdict *v);
/* For /dev/peermap: with the reason and steps, built for the answer. */
int peermap_route_explain(struct pci_dev *provider, struct pci_dev *client,
			  struct pm_rt_result *res, bool *cached, bool insert);
void peermap_route_flush(void);
int peermap_route_show(struct seq_file *m);
int peermap_route_init(void);
void peermap_route_exit(void);

/* settings.c */
int peermap_parse_pci_name(const char *s, u32 *key);
bool peermap_host_trusted(u16 vendor, u16 device);
enum pm_rt_override peermap_pair_override(struct pci_dev *a, struct pci_dev *b);
void peermap_settings_exit(void);

/* ctl.c: /dev/peermap and debugfs */
int peermap_ctl_init(struct dentry *debugfs);
void peermap_ctl_exit(void);

/* exporter.c */
struct peermap_exporter *peermap_exporter_get(struct vm_area_struct *vma);
void peermap_exporter_put(struct peermap_exporter *exp);
void peermap_req_release(struct peermap_p2p_req *req);
void peermap_req_sync(struct peermap_p2p_req *req, u64 at, u64 len,
		      bool for_device);

/*
 * What one resolution of a mapping's range holds: the segment vector and
 * what to undo. Built without locks, then installed in the mapping under
 * its lock (mapping.c).
 */
struct peermap_pieces {
	struct peermap_segment *segs;
	unsigned int nsegs, cap;
	u64 max_seg;			/* the client's dma_get_max_seg_size() */
	u64 seg_mask;			/* the client's dma_get_seg_boundary() */
	u64 mapped;			/* sum of segs[].len */
	u64 fallback;			/* bytes in PEERMAP_SEG_FALLBACK segments */
	struct list_head ram;		/* struct peermap_ram_piece */
	struct list_head peers;		/* struct peermap_p2p_req */
};

/*
 * Pages DMA-mapped for a client, streaming, with DMA_ATTR_SKIP_CPU_SYNC:
 * RAM of a user range, or an exporter's fallback pages. Ranges of several
 * mappings may overlap (two registrations of one buffer), which streaming
 * DMA allows only when the importer syncs (peermap_sync_for_device/cpu()).
 */
struct peermap_dma_pages {
	struct sg_table sgt;
	enum dma_data_direction dir;
	u64 at;				/* first byte's offset in the mapping */
	u64 len;			/* bytes */
	bool translated;		/* by an IOMMU: sync page by page */
	bool need_sync;			/* dma_need_sync() of some segment */
	bool mapped;			/* dma_map_sgtable() succeeded */
};

/*
 * Allocations whose size a user's request sets: charged to the user's
 * memory cgroup, and no allocation-failure splat (a user asking for too
 * much is not a kernel bug; the caller returns -ENOMEM).
 */
#define PEERMAP_GFP_USER	(GFP_KERNEL_ACCOUNT | __GFP_NOWARN)

/* mapping.c */
int peermap_pieces_append(struct peermap_pieces *p, dma_addr_t addr, u64 len,
			  u32 flags);
int peermap_dma_pages_map(struct peermap_dma_pages *dp, struct device *client,
			  u32 access, u32 flags, struct peermap_pieces *p,
			  struct page **pages, unsigned long offset, u64 len);
void peermap_dma_pages_sync(struct peermap_dma_pages *dp,
			    struct device *client, u64 at, u64 len,
			    bool for_device);
void peermap_dma_pages_unmap(struct peermap_dma_pages *dp,
			     struct device *client);
void peermap_req_detach(struct peermap_p2p_req *req);
void peermap_routes_changed(void);

/* Direction of a DMA mapping for an access. */
static inline enum dma_data_direction peermap_dir(u32 access)
{
	if ((access & PEERMAP_ACCESS_READ) && (access & PEERMAP_ACCESS_WRITE))
		return DMA_BIDIRECTIONAL;
	return access & PEERMAP_ACCESS_WRITE ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
}

#endif /* _PEERMAP_INTERNAL_H */
