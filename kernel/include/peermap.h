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
#include <linux/mutex.h>
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

struct peermap_mapping;

struct peermap_importer_ops {
	/*
	 * @map is being invalidated for @why (PEERMAP_INVAL_*): stop every
	 * DMA to its segments before returning; they are torn down when it
	 * returns, and peermap_remap() resolves them again. Called with
	 * the mapping's lock held, possibly from an mmu notifier: it may
	 * sleep, but must not allocate memory (GFP_KERNEL) nor take a lock
	 * that is held around such an allocation.
	 */
	void (*invalidate)(struct peermap_mapping *map, unsigned int why);
};

/* Counters of one mapping, read with peermap_mapping_stats(). */
struct peermap_map_stats {
	u64 invalidations;	/* times the segments were torn down */
	u64 remaps;		/* times they were resolved again */
	u64 fallback_bytes;	/* bytes of device memory now in system RAM */
	u32 last_reason;	/* PEERMAP_INVAL_* */
};

/*
 * A user range mapped for one client device. The importer reads the public
 * fields; nsegs and segs only while the mapping is valid (see
 * peermap_mapping_valid()). The rest belongs to the core (mapping.c).
 */
struct peermap_mapping {
	struct device *client;
	unsigned long addr;
	size_t len;
	u32 access;			/* PEERMAP_ACCESS_* */
	u32 flags;			/* PEERMAP_MAP_* */
	void *priv;			/* the importer's */
	unsigned int nsegs;
	struct peermap_segment *segs;	/* cover [addr, addr + len) in order */
};

struct peermap_mapping *peermap_map(struct device *client,
				    struct mm_struct *mm,
				    unsigned long addr, size_t len,
				    u32 access, u32 flags,
				    const struct peermap_importer_ops *ops,
				    void *priv);
int peermap_remap(struct peermap_mapping *map);
bool peermap_mapping_valid(struct peermap_mapping *map);
void peermap_sync_range_for_device(struct peermap_mapping *map, u64 offset,
				   u64 len);
void peermap_sync_range_for_cpu(struct peermap_mapping *map, u64 offset,
				u64 len);
void peermap_sync_for_device(struct peermap_mapping *map);
void peermap_sync_for_cpu(struct peermap_mapping *map);
void peermap_mapping_stats(struct peermap_mapping *map,
			   struct peermap_map_stats *st);
void peermap_unmap(struct peermap_mapping *map);

/* --- exporter side ------------------------------------------------------ */

/*
 * Device memory an exporter may take back (an object): the core lists the
 * live peer pieces of it, so that peermap_revoke() finds every mapping.
 * Embed one per object, set it up with peermap_revocable_init().
 */
struct peermap_revocable {
	spinlock_t lock;		/* protects reqs */
	struct list_head reqs;		/* peermap_p2p_req.rv_node */
	struct mutex revoke_lock;	/* one peermap_revoke() at a time */
};

struct peermap_pieces;
struct peermap_revoke_ops;

/*
 * One exporter VMA piece being mapped for a client. The core fills the "in"
 * fields; the exporter's p2p_map adds segments with peermap_req_add_bar()
 * or peermap_req_add_pages(), attaches the request to the object with
 * peermap_req_attach(), and may keep a pointer in @priv, handed back to its
 * p2p_unmap.
 */
struct peermap_p2p_req {
	struct device *client;		/* in: the importer's device */
	u32 access;			/* in: PEERMAP_ACCESS_* */
	void *priv;			/* out: the exporter's */

	/* private to the core */
	struct peermap_mapping *map;
	const struct peermap_revoke_ops *revoke_ops;	/* reaches map */
	struct peermap_pieces *pieces;	/* what the segments are added to */
	struct peermap_exporter *exp;
	struct list_head node;		/* in pieces->peers */
	struct list_head iovas;		/* struct peermap_iova to undo */
	struct list_head sgts;		/* struct peermap_sgt to undo */
	struct peermap_revocable *rv;	/* attached to, or NULL */
	struct list_head rv_node;	/* in rv->reqs, under rv->lock */
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
	 * return -errno to refuse (-EAGAIN: busy moving the memory, the core
	 * retries). Called with the mmap lock held for read; may sleep.
	 * Answer from the object's state, not the CPU page tables.
	 */
	int (*p2p_map)(struct vm_area_struct *vma, unsigned long start,
		       unsigned long len, struct peermap_p2p_req *req);
	/*
	 * Undo p2p_map after the core tore the DMA addresses down. May run
	 * under the mapping's lock (from an invalidation): must not allocate
	 * nor take a lock held around an allocation or around
	 * peermap_revoke().
	 */
	void (*p2p_unmap)(struct peermap_p2p_req *req);

	/* private to the core */
	struct list_head node;
};

int peermap_register_exporter(struct peermap_exporter *exp);
void peermap_unregister_exporter(struct peermap_exporter *exp);

int peermap_req_add_bar(struct peermap_p2p_req *req, struct pci_dev *provider,
			int bar, u64 offset, u64 len);
int peermap_req_add_pages(struct peermap_p2p_req *req, struct page **pages,
			  u64 offset, u64 len);

void peermap_revocable_init(struct peermap_revocable *rv);
void peermap_req_attach(struct peermap_p2p_req *req,
			struct peermap_revocable *rv);
void peermap_revoke(struct peermap_revocable *rv,
		    unsigned int why);

void peermap_vma_prepare(struct vm_area_struct *vma);
int peermap_mmap_bar(struct vm_area_struct *vma, struct pci_dev *pdev, int bar,
		     u64 offset);

#endif /* _PEERMAP_H */
