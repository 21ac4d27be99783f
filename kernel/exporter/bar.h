/* SPDX-License-Identifier: GPL-2.0 */
/*
 * peermap_bar's state, shared by bar.c (device, objects, mmap, peers) and
 * dmabuf.c (objects exported as dma-bufs). Lifetime and lock order: bar.c.
 */
#ifndef _PEERMAP_BAR_H
#define _PEERMAP_BAR_H

#include <linux/fs.h>
#include <linux/genalloc.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>

#include <peermap.h>

#define PMBAR_MIN_BAR	SZ_1M	/* smaller memory BARs are registers */
/*
 * gen_pool uses 0 as "no memory": the pool hands out BAR offsets shifted
 * by one page.
 */
#define PMBAR_POOL_BASE	PAGE_SIZE

struct pmbar_devmem;

struct pmbar_dev {
	struct kref ref;		/* probe, each open file, each object */
	struct pci_dev *pdev;		/* holds a pci_dev reference */
	int bar;
	resource_size_t bar_size;
	void __iomem *kva;		/* the BAR for the CPU (evict, restore) */
	struct gen_pool *pool;		/* BAR offsets + 1 page; own lock */
	struct miscdevice misc;
	/* Protects objs and gone: objects of the device, for removal. */
	spinlock_t objs_lock;
	struct list_head objs;
	bool gone;			/* device removed: no new objects */
	/*
	 * Protects open_files and inode: every file of the device maps
	 * through this inode's address space, so that one
	 * unmap_mapping_range() zaps an object in every process.
	 */
	struct mutex files_lock;
	unsigned int open_files;
	struct inode *inode;		/* igrab()ed while files are open */
	/* Protects devmem: setup, release, its ioctls (devmem.c). */
	struct mutex devmem_lock;
	struct pmbar_devmem *devmem;	/* device memory lent as pages */
	int id;
	char name[24];			/* "peermap-barN" */
};

/* System memory holding an evicted object; referenced by peer pieces. */
struct pmbar_sysmem {
	struct kref ref;		/* the object while evicted; each peer */
	unsigned long npages;
	struct page *pages[];
};

struct pmbar_obj {
	struct kref ref;		/* see the file comment */
	struct pmbar_dev *bdev;		/* holds a device reference */
	u64 offset;			/* in the BAR, page aligned */
	u64 size;			/* page multiple */
	struct list_head node;		/* in bdev->objs */
	bool unplugged;			/* seen by remove(); under objs_lock */
	struct peermap_revocable rv;	/* peer pieces of its VMAs (core) */
	/*
	 * Peer pieces of its dma-buf importers: apart from @rv, as a VMA's
	 * mprotect() revokes @rv only (a dma-buf mapping follows no VMA).
	 */
	struct peermap_revocable rv_dmabuf;
	/*
	 * Serialises where the object lives: the evict/restore ioctls and
	 * dma-buf attach/detach deciding to move it; taken before @lock and
	 * outside any revoke.
	 */
	struct mutex place_lock;
	/*
	 * Protects everything below. Held across a zap and a copy, in the
	 * fault handler and in p2p_map; never across peermap_revoke().
	 */
	struct mutex lock;
	u32 state;			/* PEERMAP_OBJ_* */
	bool moving;			/* evict/restore revoking: peers wait */
	unsigned int revoking;		/* policy changes revoking: no pins */
	u32 policy;			/* PEERMAP_POLICY_* */
	char deny[32];			/* PCI name of a refused client */
	struct pmbar_sysmem *mem;	/* while evicted */
	u64 revokes, evictions;
	u64 last_revoke_ns;		/* duration of the last peermap_revoke() */
	/* dma-buf export (dmabuf.c) */
	unsigned int dmabufs;		/* exported buffers alive */
	unsigned int ram_importers;	/* attachments holding it in RAM */
	unsigned int pins;		/* pinned peer attachments: no move */
	bool auto_evicted;		/* by an importer: restore after it */
	u64 dmabuf_fallbacks;		/* importers that moved it to RAM */
};

/* What a peer piece holds, for p2p_unmap. */
struct pmbar_peer {
	struct pmbar_obj *obj;		/* holds an object reference */
	struct pmbar_sysmem *mem;	/* holds a reference, if fallback */
};

/* Objects of one open file, by handle (BAR offset >> PAGE_SHIFT). */
struct pmbar_file {
	struct pmbar_dev *bdev;		/* holds a device reference */
	struct xarray objs;		/* its lock protects lookup + get */
};

extern const struct vm_operations_struct pmbar_vm_ops;
extern struct peermap_exporter pmbar_exporter;

struct pmbar_obj *pmbar_obj_get(struct pmbar_file *pf, u64 handle);
void pmbar_obj_put(struct pmbar_obj *obj);
void pmbar_sysmem_put(struct pmbar_sysmem *mem);
void pmbar_obj_zap(struct pmbar_obj *obj);
int pmbar_move(struct pmbar_obj *obj, bool evict);
int pmbar_vma_check(struct vm_area_struct *vma, struct pmbar_dev *bdev);
void pmbar_vma_install(struct vm_area_struct *vma, struct pmbar_obj *obj);
int pmbar_obj_answer(struct pmbar_obj *obj, u64 off, u64 len,
		     struct peermap_p2p_req *req, struct peermap_revocable *rv);
void pmbar_obj_revoke(struct pmbar_obj *obj, unsigned int why);

long pmbar_export(struct pmbar_file *pf, void __user *arg);

long pmbar_devmem_ioctl(struct pmbar_file *pf, void __user *arg);
void pmbar_devmem_release(struct pmbar_dev *bdev);
int pmbar_p2p_devmem(struct peermap_devmem *dm, u64 offset, u64 len,
		     struct peermap_p2p_req *req);

#endif /* _PEERMAP_BAR_H */
