/* SPDX-License-Identifier: GPL-2.0 */
/*
 * peermap in-kernel API, for exporters (drivers that own device memory and
 * mmap it, one VMA per object) and importers (drivers whose device DMAs to
 * user ranges). docs/api.md has the rules and a minimal example of each.
 */
#ifndef _PEERMAP_H
#define _PEERMAP_H

#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/pci.h>
#include <linux/types.h>
#include <uapi/peermap/peermap.h>

/* --- importer side ------------------------------------------------------ */

/* One piece of a mapping: PEERMAP_SEG_* flags from the uapi header. */
struct peermap_segment {
	dma_addr_t addr;
	u64 len;
	u32 flags;
};

/*
 * A user range mapped for one client device. The importer reads the public
 * fields; the rest belongs to the core. segs[] covers [addr, addr + len)
 * exactly, in order, with contiguous pieces of equal flags merged.
 */
struct peermap_mapping {
	struct device *client;
	unsigned long addr;
	size_t len;
	u32 access;
	unsigned int nsegs;
	struct peermap_segment *segs;

	/* private to the core */
	unsigned int segs_cap;
	u64 mapped;			/* sum of segs[].len */
	struct list_head ram;		/* struct peermap_ram_piece */
	struct list_head peers;		/* struct peermap_p2p_req */
};

struct peermap_mapping *peermap_map_user(struct device *client,
					 struct mm_struct *mm,
					 unsigned long addr, size_t len,
					 u32 access);
void peermap_unmap(struct peermap_mapping *map);

/* --- exporter side ------------------------------------------------------ */

/*
 * One exporter VMA piece being mapped for a client. The core fills the "in"
 * fields; the exporter's p2p_map adds segments with peermap_req_add_bar()
 * and may keep a pointer in @priv, handed back to its p2p_unmap.
 */
struct peermap_p2p_req {
	struct device *client;		/* in: the importer's device */
	u32 access;			/* in: PEERMAP_ACCESS_* */
	void *priv;			/* out: the exporter's */

	/* private to the core */
	struct peermap_mapping *map;
	struct peermap_exporter *exp;
	struct list_head node;		/* in map->peers */
	struct list_head iovas;		/* struct peermap_iova to undo */
	bool live;			/* p2p_map succeeded: p2p_unmap owed */
};

struct peermap_exporter {
	const char *name;
	struct module *owner;
	/* VMAs with these vm_ops belong to this exporter */
	const struct vm_operations_struct *vm_ops;
	/*
	 * Resolve [start, start + len) of @vma, which lies inside the VMA,
	 * for req->client: add segments covering it in order and return 0, or
	 * return -errno to refuse. Called with the mmap lock held for read;
	 * may sleep. Answer from the object's state, not the CPU page tables.
	 */
	int (*p2p_map)(struct vm_area_struct *vma, unsigned long start,
		       unsigned long len, struct peermap_p2p_req *req);
	/* Undo p2p_map after the core tore the DMA addresses down. */
	void (*p2p_unmap)(struct peermap_p2p_req *req);

	/* private to the core */
	struct list_head node;
};

int peermap_register_exporter(struct peermap_exporter *exp);
void peermap_unregister_exporter(struct peermap_exporter *exp);

int peermap_req_add_bar(struct peermap_p2p_req *req, struct pci_dev *provider,
			int bar, u64 offset, u64 len);
int peermap_mmap_bar(struct vm_area_struct *vma, struct pci_dev *pdev, int bar,
		     u64 offset);

#endif /* _PEERMAP_H */
