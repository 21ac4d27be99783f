/* SPDX-License-Identifier: GPL-2.0 */
/*
 * peermap in-kernel API, for exporters (drivers that own device memory and
 * mmap it, one VMA per object) and importers (drivers whose device DMAs to
 * user ranges). docs/api.md has the rules and a minimal example of each.
 */
#ifndef _PEERMAP_H
#define _PEERMAP_H

#include <linux/dma-direction.h>
#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/memremap.h>
#include <linux/pci.h>
#include <linux/sizes.h>
#include <linux/types.h>
#include <uapi/peermap/peermap.h>

/* --- importer side ------------------------------------------------------ */

/**
 * struct peermap_segment - one piece of a mapping, as the client's DMA sees it
 *
 * Segments that continue each other with the same flags are merged, within
 * the client's dma_get_max_seg_size() and dma_get_seg_boundary().
 */
struct peermap_segment {
	/** @addr: for the client's DMA: a bus address, an IOVA, or RAM's. */
	dma_addr_t addr;
	/** @len: bytes. */
	u64 len;
	/**
	 * @flags: PEERMAP_SEG_* from the uapi header: PEER (device memory,
	 * else RAM), WRITE (the client may write it), IOVA (translated by
	 * an IOMMU), FALLBACK (system memory standing in for device memory).
	 */
	u32 flags;
};

struct peermap_mapping;

/**
 * struct peermap_importer_ops - an importer's callbacks, given to peermap_map()
 */
struct peermap_importer_ops {
	/**
	 * @invalidate: @map is being invalidated for @why
	 * (PEERMAP_INVAL_*): stop every DMA to its segments before
	 * returning; they are torn down when it returns, and
	 * peermap_remap() resolves them again. Called with the mapping's
	 * lock held, possibly from an mmu notifier: it may sleep, but must
	 * not allocate memory (GFP_KERNEL) nor take a lock that is held
	 * around such an allocation. Required.
	 */
	void (*invalidate)(struct peermap_mapping *map, unsigned int why);
	/**
	 * @stop: optional: tell the device to stop using @map's segments
	 * (post the stop, ring the doorbell) and return without waiting for
	 * it; @invalidate follows and waits. peermap_revoke() calls @stop
	 * for every mapping it takes down before it calls the first
	 * @invalidate, so devices that need time to stop drain together:
	 * the revoke lasts as long as the slowest of them, not their sum.
	 * The mapping is no longer valid from @stop on, and
	 * peermap_remap() waits until the revoke has called @invalidate
	 * (so a device's drain must not wait for a remap). Called with the
	 * mapping's lock held; must not sleep.
	 */
	void (*stop)(struct peermap_mapping *map, unsigned int why);
};

/**
 * struct peermap_map_stats - counters of one mapping
 *
 * Read with peermap_mapping_stats(), a snapshot taken under the mapping's
 * lock.
 */
struct peermap_map_stats {
	/** @invalidations: times the segments were torn down. */
	u64 invalidations;
	/** @remaps: times they were resolved again after the first. */
	u64 remaps;
	/**
	 * @fallback_bytes: bytes of device memory the installed segments
	 * give as system RAM (PEERMAP_SEG_FALLBACK); 0 while invalid.
	 */
	u64 fallback_bytes;
	/** @last_reason: PEERMAP_INVAL_* of the last invalidation. */
	u32 last_reason;
	/**
	 * @reused: pieces (an exporter's piece, a chunk of RAM) the last
	 * resolution kept from the one before: what the invalidation did
	 * not touch is not resolved again.
	 */
	u32 reused;
	/** @rebuilt_bytes: bytes the last resolution did resolve. */
	u64 rebuilt_bytes;
	/**
	 * @devmem_bytes: bytes of the installed segments that are
	 * device-private pages of a peermap exporter (struct peermap_devmem)
	 * in an on-demand range, mapped peer to peer; 0 while invalid.
	 */
	u64 devmem_bytes;
	/**
	 * @migrated_bytes: bytes of device-private memory that resolving
	 * this mapping made the kernel migrate back to RAM, since it was
	 * made: pages of a driver peermap does not know, pages whose
	 * exporter refused the client, read-only (COW) pages asked for
	 * writing, and every device-private page of a pinned range
	 * (device-private pages cannot be pinned).
	 */
	u64 migrated_bytes;
};

/**
 * struct peermap_mapping - a user range mapped for one client device
 *
 * From peermap_map(), ended by peermap_unmap(). The importer reads these
 * fields and writes none; @nsegs and @segs only while the mapping is
 * valid (see peermap_mapping_valid()). The core's own state of a mapping
 * wraps this one (mapping.c).
 */
struct peermap_mapping {
	/** @client: the importer's device; DMA addresses are for it. */
	struct device *client;
	/** @addr: start of the user range, any byte alignment. */
	unsigned long addr;
	/** @len: bytes of the range. */
	size_t len;
	/** @access: PEERMAP_ACCESS_* the device may do. */
	u32 access;
	/** @flags: PEERMAP_MAP_*: how RAM is held (pinned or on demand). */
	u32 flags;
	/** @priv: the importer's, as given to peermap_map(). */
	void *priv;
	/** @nsegs: entries in @segs. */
	unsigned int nsegs;
	/**
	 * @segs: the segments, covering [@addr, @addr + @len) in order;
	 * not to be used while invalid (NULL once torn down). Protected by
	 * the mapping's lock: read while valid and holding off the
	 * invalidate callback.
	 */
	struct peermap_segment *segs;
	/**
	 * @changed_offset: during the invalidate and stop callbacks: the
	 * first byte, from @addr, of what this invalidation takes down (the
	 * pieces around what changed: a whole RAM chunk, a whole exporter
	 * piece). The whole mapping is invalid all the same; the rest
	 * usually keeps its DMA addresses through peermap_remap(), but an
	 * importer re-reads every segment after it.
	 */
	u64 changed_offset;
	/** @changed_len: with @changed_offset: how many bytes. */
	u64 changed_len;
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

/**
 * struct peermap_revocable - device memory an exporter may take back
 *
 * One per object, embedded in it and set up with peermap_revocable_init():
 * the core lists the live peer pieces of the object, so that
 * peermap_revoke() finds every mapping. The exporter touches no field.
 */
struct peermap_revocable {
	/** @lock: protects @reqs; a leaf. */
	spinlock_t lock;
	/**
	 * @reqs: the attached requests (&peermap_p2p_req.rv_node), from
	 * peermap_req_attach() until their piece is torn down.
	 */
	struct list_head reqs;
	/**
	 * @revoke_lock: one peermap_revoke() of the object at a time; taken
	 * with no exporter lock held, outside each mapping's lock.
	 */
	struct mutex revoke_lock;
};

struct peermap_devmem;
struct peermap_pieces;
struct peermap_revoke_ops;

/**
 * struct peermap_p2p_req - one exporter VMA piece being mapped for a client
 *
 * The core fills @client and @access; the exporter's p2p_map adds segments
 * with peermap_req_add_bar() or peermap_req_add_pages(), attaches the
 * request to the object with peermap_req_attach(), and may keep a pointer
 * in @priv, handed back to its p2p_unmap. The fields after @priv are the
 * core's: the exporter neither reads nor writes them.
 */
struct peermap_p2p_req {
	/** @client: in: the importer's device. */
	struct device *client;
	/** @access: in: PEERMAP_ACCESS_* the importer asks for. */
	u32 access;
	/**
	 * @priv: out: the exporter's, for its p2p_unmap; in: its
	 * &peermap_exporter.priv_size bytes, if it asked for them.
	 */
	void *priv;

	/**
	 * @owner: core: what this piece is part of (a peermap mapping, a
	 * dma-buf attachment's mapping), for @revoke_ops.
	 */
	void *owner;
	/**
	 * @revoke_ops: core: how peermap_revoke() reaches @owner, set by
	 * whoever made the request (mapping.c, dmabuf.c), so exporter.c
	 * never calls them (kernel/core/exporter.h).
	 */
	const struct peermap_revoke_ops *revoke_ops;
	/**
	 * @pieces: core: the resolution p2p_map adds segments to; NULL once
	 * installed.
	 */
	struct peermap_pieces *pieces;
	/** @exp: core: the exporter, whose module the request holds. */
	struct peermap_exporter *exp;
	/** @node: core: in the resolution's list of peer pieces. */
	struct list_head node;
	/**
	 * @iovas: core: the IOVAs of peer MMIO (pm_dma_map_mmio()) the piece
	 * uses, each shared with every piece mapping the same bytes for the
	 * same client, unmapped with the last.
	 */
	struct list_head iovas;
	/** @sgts: core: DMA-mapped fallback pages to undo. */
	struct list_head sgts;
	/** @rv: core: the object it is attached to, or NULL. */
	struct peermap_revocable *rv;
	/** @rv_node: core: in @rv's list, under its lock. */
	struct list_head rv_node;
	/**
	 * @start: core: the user address the piece begins at (mapping.c;
	 * 0 for a dma-buf attachment's).
	 */
	unsigned long start;
	/** @end: core: where it ends. */
	unsigned long end;
	/** @live: core: p2p_map succeeded, so p2p_unmap is owed. */
	bool live;
	/**
	 * @pgmap: core: device-private pages' pgmap it maps (a reference,
	 * get_dev_pagemap()), for a piece of struct peermap_devmem; NULL
	 * for the others.
	 */
	struct dev_pagemap *pgmap;
	/**
	 * @stoppable: core: its owner's importer can be told to stop
	 * without waiting (&peermap_revoke_ops.stop does something).
	 */
	bool stoppable;
};

/**
 * struct peermap_exporter - a driver that owns device memory and mmaps it
 *
 * Filled in by the exporter and given to peermap_register_exporter(); the
 * exporter keeps it (static or in its module's data) until
 * peermap_unregister_exporter().
 */
struct peermap_exporter {
	/** @name: for log lines and the tracepoints. */
	const char *name;
	/** @owner: THIS_MODULE; each peer piece holds a reference on it. */
	struct module *owner;
	/** @vm_ops: VMAs with these vm_ops belong to this exporter. */
	const struct vm_operations_struct *vm_ops;
	/**
	 * @priv_size: bytes the core allocates, zeroed and 8-byte aligned,
	 * with each request and hands p2p_map in &peermap_p2p_req.priv, so
	 * that the exporter's record of a piece costs no allocation of its
	 * own; freed with the request, after p2p_unmap. 0: the exporter
	 * sets priv itself.
	 */
	size_t priv_size;
	/**
	 * @p2p_map: resolve [start, start + len) of @vma, which lies inside
	 * the VMA, for req->client: add segments covering it in order and
	 * return 0, or return -errno to refuse (-EAGAIN: busy moving the
	 * memory, the core retries). Called with the mmap lock held for
	 * read; may sleep. Answer from the object's state, not the CPU page
	 * tables. The answer stands until the exporter revokes it
	 * (peermap_revoke()): a remap after an invalidation that did not
	 * reach this piece does not ask again.
	 */
	int (*p2p_map)(struct vm_area_struct *vma, unsigned long start,
		       unsigned long len, struct peermap_p2p_req *req);
	/**
	 * @p2p_unmap: undo p2p_map after the core tore the DMA addresses
	 * down. May run under the mapping's lock (from an invalidation):
	 * must not allocate nor take a lock held around an allocation or
	 * around peermap_revoke().
	 */
	void (*p2p_unmap)(struct peermap_p2p_req *req);
	/**
	 * @p2p_devmem: optional, for exporters that lend device memory as
	 * device-private pages (struct peermap_devmem): answer the bytes
	 * [@offset, @offset + @len) of @dm (from its first page; the pages
	 * a process's range holds, contiguous in @dm) for req->client, with
	 * peermap_req_add_bar(), or refuse with -errno: the core then
	 * migrates those pages back to RAM (migrate_to_ram), as upstream
	 * does for every device-private page; -EAGAIN: the core retries.
	 * A route that is none (-EREMOTEIO) migrates them back too.
	 * Without it, the core answers with @dm's BAR itself. Called with
	 * the mmap lock held for read, as @p2p_map: must not take a lock
	 * that is held around taking the mmap lock; may sleep. No
	 * p2p_unmap follows: the core
	 * holds @dm's pgmap until the piece is torn down, and a page that
	 * migrates tears it down first (mmu notifier).
	 */
	int (*p2p_devmem)(struct peermap_devmem *dm, u64 offset, u64 len,
			  struct peermap_p2p_req *req);

	/**
	 * @node: core: in the list of exporters, changed under its mutex
	 * and read under RCU.
	 */
	struct list_head node;
};

/**
 * struct peermap_devmem - device memory lent to processes as their pages
 *
 * Part of a BAR that an exporter turns into MEMORY_DEVICE_PRIVATE pages
 * (HMM): it migrates pages of a process's ordinary anonymous memory into
 * it (migrate_vma_*), and a CPU touch migrates one back (migrate_to_ram),
 * as a GPU driver does. peermap maps such pages of an on-demand range
 * peer to peer, at their BAR address, where upstream's hmm_range_fault()
 * would migrate them back to RAM. The exporter fills the fields before
 * @pgmap's owner and calls peermap_devmem_add(); the core sets the rest.
 * Its struct pages cost 64 bytes per 4 KiB page (1/64 of @size).
 */
struct peermap_devmem {
	/**
	 * @pgmap: in: @pgmap.ops (page_free or folio_free, migrate_to_ram);
	 * core: type, range and owner (peermap_devmem_owner(), shared by
	 * every peermap exporter: hmm_range_fault() reports them all).
	 */
	struct dev_pagemap pgmap;
	/** @exp: in: the registered exporter; its p2p_devmem answers. */
	struct peermap_exporter *exp;
	/** @provider: in: the PCI device whose BAR holds the memory. */
	struct pci_dev *provider;
	/** @bar: in: its BAR index. */
	int bar;
	/** @offset: in: byte offset of the first page in the BAR. */
	u64 offset;
	/** @size: in: bytes, a multiple of PEERMAP_DEVMEM_ALIGN. */
	u64 size;
	/** @res: core: the physical range the pages are numbered in. */
	struct resource *res;
};

/* struct page granularity of memory hotplug (a subsection). */
#define PEERMAP_DEVMEM_ALIGN	SZ_2M

int peermap_devmem_add(struct peermap_devmem *dm);
void peermap_devmem_remove(struct peermap_devmem *dm);
void *peermap_devmem_owner(void);
u64 peermap_devmem_offset(struct peermap_devmem *dm, struct page *page);
struct page *peermap_devmem_page(struct peermap_devmem *dm, u64 offset);

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

/* --- dma-buf export ----------------------------------------------------- */

struct dma_buf;
struct dma_buf_attachment;
struct sg_table;

/**
 * struct peermap_dmabuf_source - what a dma-buf attachment's mapping maps
 *
 * Filled by the exporter in its map_dma_buf for peermap_dmabuf_map().
 */
struct peermap_dmabuf_source {
	/** @exp: the registered exporter answering. */
	struct peermap_exporter *exp;
	/**
	 * @answer: resolve [@offset, @offset + @len) of the object for
	 * req->client, as &peermap_exporter.p2p_map does for a VMA piece:
	 * add segments in order, attach the request to the object if the
	 * importer may be revoked, return 0 or -errno (-EAGAIN: moving).
	 * &peermap_exporter.p2p_unmap undoes it.
	 */
	int (*answer)(void *priv, u64 offset, u64 len,
		      struct peermap_p2p_req *req);
	/** @priv: the exporter's, for @answer (its object, its attachment). */
	void *priv;
	/** @offset: first byte of the buffer in the object. */
	u64 offset;
	/** @len: bytes of the buffer. */
	u64 len;
	/**
	 * @access: PEERMAP_ACCESS_* importers may have; a mapping asked for
	 * more (a direction) gets this much.
	 */
	u32 access;
};

struct sg_table *peermap_dmabuf_map(struct dma_buf_attachment *attach,
				    enum dma_data_direction dir,
				    const struct peermap_dmabuf_source *src);
void peermap_dmabuf_unmap(struct sg_table *sgt);
int peermap_dmabuf_can_peer(struct dma_buf_attachment *attach,
			    struct pci_dev *provider);
bool peermap_dmabuf_revocable(struct dma_buf_attachment *attach);

#endif /* _PEERMAP_H */
