/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * peermap user ABI: the ioctls of the reference exporter (/dev/peermap-barN)
 * and of the reference importer (/dev/peermap-eduN). Shared by the kernel
 * modules, libpeermap and the tests. docs/api.md documents every errno.
 */
#ifndef _UAPI_PEERMAP_PEERMAP_H
#define _UAPI_PEERMAP_PEERMAP_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define PEERMAP_IOC_MAGIC	0xb7

/* One piece of a mapping, as the importer's device sees it. */
struct peermap_seg {
	__u64 addr;		/* DMA address for the importer's device */
	__u64 len;		/* bytes */
	__u32 flags;		/* PEERMAP_SEG_* */
	__u32 reserved;		/* zero */
};

#define PEERMAP_SEG_PEER	(1U << 0)	/* device memory; else RAM */
#define PEERMAP_SEG_WRITE	(1U << 1)	/* the importer may write it */
#define PEERMAP_SEG_IOVA	(1U << 2)	/* translated by an IOMMU */
/* System RAM standing in for evicted device memory (exporter fallback). */
#define PEERMAP_SEG_FALLBACK	(1U << 3)
/*
 * From a dma-buf window (PEERMAP_IOC_DMABUF_MAP): the address the dma-buf's
 * exporter gave the importer's device; device memory or RAM, its business.
 */
#define PEERMAP_SEG_DMABUF	(1U << 4)

/* Access the importer's device needs to a range. */
#define PEERMAP_ACCESS_READ	(1U << 0)	/* device reads the memory */
#define PEERMAP_ACCESS_WRITE	(1U << 1)	/* device writes the memory */

/* How a mapping holds the RAM parts of its range. */
#define PEERMAP_MAP_PINNED	0		/* long-term pin (default) */
/* No pin: faulted in, and invalidated when the pages change. */
#define PEERMAP_MAP_ONDEMAND	(1U << 0)

/* Why a mapping was invalidated (the importer's callback, counters). */
#define PEERMAP_INVAL_NONE	0	/* not invalidated yet */
#define PEERMAP_INVAL_REVOKE	1	/* the exporter revoked (policy, move) */
#define PEERMAP_INVAL_REMOVE	2	/* the exporter's device went away */
#define PEERMAP_INVAL_UNMAP	3	/* munmap or mremap of the range */
#define PEERMAP_INVAL_PROTECT	4	/* mprotect of the range */
#define PEERMAP_INVAL_CHANGE	5	/* pages changed (COW, migration) */
#define PEERMAP_INVAL_EXIT	6	/* the address space was torn down */
#define PEERMAP_INVAL_ROUTE	7	/* a route setting changed (deny, trust) */

/* --- core: /dev/peermap ------------------------------------------------ */

#define PEERMAP_PATH_NONE		0	/* no peer route */
#define PEERMAP_PATH_SWITCH		1	/* below a common bridge, bus address */
#define PEERMAP_PATH_HOST_BRIDGE	2	/* through the root complex */

#define PEERMAP_ROUTE_IOVA	(1U << 0)	/* the client gets an IOVA */
#define PEERMAP_ROUTE_CACHED	(1U << 1)	/* answered from the cache */

/* How client reaches provider's memory, and why. */
struct peermap_route_query {
	char provider[32];	/* in: PCI name, "dddd:bb:dd.f" or "bb:dd.f" */
	char client[32];	/* in: PCI name */
	__u32 path;		/* out: PEERMAP_PATH_* */
	__u32 distance;		/* out: hops from each device to where they meet */
	__u32 flags;		/* out: PEERMAP_ROUTE_* */
	__u32 reserved;		/* in: zero */
	char reason[256];	/* out: one line */
	char steps[1024];	/* out: the decision, one step per line */
};

#define PEERMAP_IOC_ROUTE	_IOWR(PEERMAP_IOC_MAGIC, 0x80, struct peermap_route_query)

/*
 * A dma-buf made a window: a VMA of peermap's in the caller's address space
 * that every peermap importer resolves through a peer2peer attachment of
 * the dma-buf (docs/dmabuf.md, "Import"). The window holds the dma-buf:
 * closing its fd (or /dev/peermap) does not end it; munmap() or exit does.
 */
struct peermap_dmabuf_map {
	__s32 fd;		/* in: the dma-buf */
	__u32 prot;		/* in: PROT_READ, or PROT_READ | PROT_WRITE */
	__u64 offset;		/* in: first byte in the dma-buf, page aligned */
	__u64 len;		/* in: bytes, rounded up to whole pages */
	__u64 addr;		/* in: a hint (or where, WINDOW_FIXED); out: where */
	__u32 flags;		/* in: PEERMAP_WINDOW_FIXED, _NOCPU; out: + _CPU, _WRITE */
	__u32 reserved;		/* in: zero */
};

#define PEERMAP_WINDOW_FIXED	(1U << 0)	/* at addr, replacing what is there */
#define PEERMAP_WINDOW_NOCPU	(1U << 1)	/* CPU loads and stores get SIGBUS */
#define PEERMAP_WINDOW_CPU	(1U << 8)	/* out: the CPU reaches the buffer */
#define PEERMAP_WINDOW_WRITE	(1U << 9)	/* out: the dma-buf may be written */

/* What a window is and what happened to it. */
struct peermap_dmabuf_info {
	__u64 addr;		/* in: an address inside a window */
	__u64 vma_start;	/* out: the window's VMA holding addr */
	__u64 vma_end;
	__u64 offset;		/* out: byte of the dma-buf at vma_start */
	__u64 size;		/* out: bytes of the dma-buf */
	__u32 flags;		/* out: PEERMAP_WINDOW_CPU, _WRITE */
	__u32 attachments;	/* out: client devices attached (one each) */
	__u64 maps;		/* out: attachment mappings made */
	__u64 revokes;		/* out: the exporter's invalidations */
	__u64 refusals;		/* out: attach or map refused by the exporter */
	__u64 pieces;		/* out: importer mapping pieces holding it now */
	__u64 cpu_refused;	/* out: CPU accesses answered with SIGBUS */
	char exporter[32];	/* out: the dma-buf's exporter (exp_name) */
};

#define PEERMAP_IOC_DMABUF_MAP	_IOWR(PEERMAP_IOC_MAGIC, 0x81, struct peermap_dmabuf_map)
#define PEERMAP_IOC_DMABUF_INFO	_IOWR(PEERMAP_IOC_MAGIC, 0x82, struct peermap_dmabuf_info)

/* --- exporter: /dev/peermap-barN -------------------------------------- */

struct peermap_bar_info {
	__u64 bar_size;		/* out: bytes of device memory */
	__u64 bar_free;		/* out: bytes not allocated */
	__u64 bar_bus_addr;	/* out: bus address of the BAR */
	__u32 bar_index;	/* out: which BAR */
	__u32 reserved;
	char pci_name[32];	/* out: "dddd:bb:dd.f" */
};

struct peermap_bar_alloc {
	__u64 size;		/* in: bytes, > 0; rounded up to pages */
	__u32 flags;		/* in: zero */
	__u32 reserved;		/* in: zero */
	__u64 handle;		/* out: names the object in this fd */
	__u64 mmap_offset;	/* out: offset to mmap the object with */
	__u64 alloc_size;	/* out: size after rounding */
};

struct peermap_bar_free {
	__u64 handle;		/* in */
};

/*
 * What an object allows. Changing it revokes the object's peer mappings
 * (importers resolve them again under the new policy).
 */
struct peermap_bar_policy {
	__u64 handle;		/* in */
	__u32 flags;		/* in: PEERMAP_POLICY_* */
	__u32 reserved;		/* in: zero */
	char deny[32];		/* in: PCI name of a client refused, or "" */
};

#define PEERMAP_POLICY_PEER_RO	(1U << 0)	/* peers may only read */
#define PEERMAP_POLICY_NO_CPU	(1U << 1)	/* CPU access off: SIGBUS */
/* dma-buf importers that cannot take device memory are refused
 * (EREMOTEIO) instead of moving the object to system memory
 */
#define PEERMAP_POLICY_NO_FALLBACK (1U << 2)

/* Evict an object to system memory, or restore it into the BAR. */
struct peermap_bar_move {
	__u64 handle;		/* in */
	__u32 flags;		/* in: zero */
	__u32 reserved;		/* in: zero */
};

/* An object's state. */
struct peermap_bar_obj_info {
	__u64 handle;		/* in */
	__u64 size;		/* out */
	__u64 bar_offset;	/* out: where it lives (or will) in the BAR */
	__u32 state;		/* out: PEERMAP_OBJ_* */
	__u32 policy;		/* out: PEERMAP_POLICY_* */
	__u32 peers;		/* out: live peer pieces */
	__u32 dmabufs;		/* out: exported dma-bufs alive */
	__u64 revokes;		/* out: times its peers were revoked */
	__u64 evictions;	/* out: times it was evicted */
	/* out: the last revoke, until every importer stopped and its
	 * addresses were torn down
	 */
	__u64 last_revoke_ns;
	/* out: dma-buf importers that cannot take device memory (not
	 * peer2peer, no route, or not revocable) attached now: they hold
	 * it in system memory
	 */
	__u32 ram_importers;
	__u32 pins;		/* out: dma-buf importers pinning it in the BAR */
	__u64 dmabuf_fallbacks;	/* out: times such an importer moved it out */
};

/*
 * An object, or a page-aligned slice of it, as a dma-buf (the ioctl
 * returns its fd, O_CLOEXEC). The object lives while the buffer does.
 */
struct peermap_bar_export {
	__u64 handle;		/* in: the object */
	__u64 offset;		/* in: first byte, page aligned */
	__u64 size;		/* in: bytes, a page multiple; 0: to the end */
	__u32 flags;		/* in: PEERMAP_EXPORT_* */
	__u32 reserved;		/* in: zero */
};

#define PEERMAP_EXPORT_WRITE	(1U << 0)	/* importers may write it */

#define PEERMAP_OBJ_RESIDENT	0	/* in device memory */
#define PEERMAP_OBJ_EVICTED	1	/* in system memory (fallback) */
#define PEERMAP_OBJ_GONE	2	/* its device was removed */

/*
 * Device memory lent to processes (HMM): part of the BAR becomes
 * device-private pages (MEMORY_DEVICE_PRIVATE) that hold pages of the
 * caller's ordinary anonymous memory, as a GPU driver's do. MIGRATE moves
 * chosen pages of a range into it (their bytes are copied into the BAR);
 * a CPU touch of such a page moves it back (migrate_to_ram); EVICT moves
 * every page back. peermap maps these pages peer to peer in on-demand
 * ranges. Every op answers the counters.
 */
struct peermap_bar_devmem {
	__u32 op;		/* in: PEERMAP_DEVMEM_* */
	__u32 flags;		/* in: SETUP: PEERMAP_DEVMEM_FOREIGN */
	__u64 size;		/* in: SETUP: bytes, a multiple of 2 MiB */
	__u64 addr;		/* in: MIGRATE: start, page aligned */
	__u64 len;		/* in: MIGRATE: bytes, a page multiple */
	/* in: MIGRATE: bitmap, a bit per page of the range (1: move it), or 0: all */
	__u64 mask;
	char deny[32];		/* in: SETUP, POLICY: PCI name of a client refused */
	__u64 pages;		/* out: device pages */
	__u64 used;		/* out: pages holding a process's data */
	__u64 migrated_in;	/* out: pages moved in (MIGRATE) */
	__u64 migrated_out;	/* out: pages moved back by a CPU touch */
	__u64 evicted;		/* out: pages moved back by EVICT */
	__u64 done;		/* out: MIGRATE, EVICT: pages this call moved */
	__u64 struct_page_bytes; /* out: RAM its struct pages cost */
	__u64 bar_offset;	/* out: where it is in the BAR */
};

#define PEERMAP_DEVMEM_SETUP	1	/* lend size bytes of the BAR */
#define PEERMAP_DEVMEM_MIGRATE	2	/* move pages of [addr, addr + len) in */
#define PEERMAP_DEVMEM_EVICT	3	/* move every page back to RAM */
#define PEERMAP_DEVMEM_INFO	4	/* the counters only */
#define PEERMAP_DEVMEM_POLICY	5	/* set deny ("" for none) */
#define PEERMAP_DEVMEM_RELEASE	6	/* evict, then give the BAR range back */
/*
 * SETUP: the pages get an owner of their own, not peermap's, as another
 * driver's would: peermap migrates them back to RAM as upstream does.
 */
#define PEERMAP_DEVMEM_FOREIGN	(1U << 0)

#define PEERMAP_BAR_IOC_INFO	_IOR(PEERMAP_IOC_MAGIC, 0x00, struct peermap_bar_info)
#define PEERMAP_BAR_IOC_ALLOC	_IOWR(PEERMAP_IOC_MAGIC, 0x01, struct peermap_bar_alloc)
#define PEERMAP_BAR_IOC_FREE	_IOW(PEERMAP_IOC_MAGIC, 0x02, struct peermap_bar_free)
#define PEERMAP_BAR_IOC_POLICY	_IOW(PEERMAP_IOC_MAGIC, 0x03, struct peermap_bar_policy)
#define PEERMAP_BAR_IOC_EVICT	_IOW(PEERMAP_IOC_MAGIC, 0x04, struct peermap_bar_move)
#define PEERMAP_BAR_IOC_RESTORE	_IOW(PEERMAP_IOC_MAGIC, 0x05, struct peermap_bar_move)
#define PEERMAP_BAR_IOC_OBJ_INFO _IOWR(PEERMAP_IOC_MAGIC, 0x06, struct peermap_bar_obj_info)
#define PEERMAP_BAR_IOC_EXPORT	_IOW(PEERMAP_IOC_MAGIC, 0x07, struct peermap_bar_export)
#define PEERMAP_BAR_IOC_DEVMEM	_IOWR(PEERMAP_IOC_MAGIC, 0x08, struct peermap_bar_devmem)

/* --- importer: /dev/peermap-eduN -------------------------------------- */

/*
 * Copy len bytes from src to dst (user addresses) with the DMA engine. A
 * side inside a registered range (PEERMAP_EDU_IOC_REGISTER) of this file
 * uses that mapping; any other side is mapped for this copy only, with
 * flags saying how RAM is held. An invalidation during the copy is
 * handled inside it: the side is resolved again and the copy goes on.
 */
struct peermap_edu_copy {
	/* in: user address, or PEERMAP_EDU_DMABUF_SIDE() with SRC_DMABUF */
	__u64 src;
	/* in: user address, or PEERMAP_EDU_DMABUF_SIDE() with DST_DMABUF */
	__u64 dst;
	__u64 len;		/* in: 1..PEERMAP_EDU_COPY_MAX */
	/* in: PEERMAP_MAP_ONDEMAND, PEERMAP_EDU_SRC_DMABUF, _DST_DMABUF */
	__u32 flags;
	__u32 reserved;		/* in: zero */
};

#define PEERMAP_EDU_COPY_MAX	(64ULL << 20)

/*
 * A copy side, or a registration, that is a dma-buf rather than a user
 * range: its address field is PEERMAP_EDU_DMABUF_SIDE(fd, offset), the
 * buffer's fd in the high 32 bits and the byte offset in it (below
 * 4 GiB) in the low 32. The engine imports the buffer as a dynamic
 * peer2peer importer: an exporter moving it stops the engine first, the
 * copy maps it again and goes on. A registration of a dma-buf serves the
 * copies whose side is the same buffer, inside its [offset, offset + len).
 */
#define PEERMAP_EDU_SRC_DMABUF	(1U << 8)	/* copy: src is a dma-buf */
#define PEERMAP_EDU_DST_DMABUF	(1U << 9)	/* copy: dst is a dma-buf */
#define PEERMAP_EDU_REG_DMABUF	(1U << 8)	/* register: addr is a dma-buf */
#define PEERMAP_EDU_DMABUF_SIDE(fd, offset) \
	(((__u64)(__u32)(fd) << 32) | (__u32)(offset))

/*
 * Map [addr, addr + len) for the DMA engine, report the segments, unmap.
 * access may add PEERMAP_EDU_SEGS_ONDEMAND: RAM on demand (not pinned),
 * where device-private pages are mapped peer to peer.
 */
#define PEERMAP_EDU_SEGS_ONDEMAND	(1U << 8)
struct peermap_edu_segments {
	__u64 addr;		/* in */
	__u64 len;		/* in */
	__u32 access;		/* in: PEERMAP_ACCESS_* */
	__u32 nsegs;		/* in: room in segs; out: segments needed */
	__u64 segs;		/* in: pointer to struct peermap_seg[nsegs] */
};

/*
 * Keep [addr, addr + len) mapped for the engine until unregistered or the
 * file is closed (like an RDMA memory registration). Copies inside it use
 * it; it is invalidated and resolved again as its memory changes.
 */
struct peermap_edu_register {
	/* in: user address, or PEERMAP_EDU_DMABUF_SIDE() with REG_DMABUF */
	__u64 addr;
	__u64 len;		/* in */
	__u32 access;		/* in: PEERMAP_ACCESS_* */
	/* in: 0, PEERMAP_MAP_ONDEMAND (a user range) or PEERMAP_EDU_REG_DMABUF */
	__u32 flags;
	__u64 id;		/* out: names it in this file, > 0 */
};

struct peermap_edu_unregister {
	__u64 id;		/* in */
};

/* A registration's state and counters. */
struct peermap_edu_reg_info {
	__u64 id;		/* in */
	__u64 invalidations;	/* out: times its segments were torn down */
	__u64 remaps;		/* out: times they were resolved again */
	__u64 fallback_bytes;	/* out: bytes now in system RAM, not device memory */
	__u32 last_reason;	/* out: PEERMAP_INVAL_* */
	__u32 valid;		/* out: 1 while its segments are live */
	__u32 nsegs;		/* out: segments while valid */
	__u32 reused;		/* out: pieces kept by the last re-map */
	/* out: bytes now mapped peer to peer from device-private pages */
	__u64 devmem_bytes;
	/* out: device-private bytes mapping it migrated back to RAM */
	__u64 migrated_bytes;
};

/* Counters of one engine since its driver was bound. */
struct peermap_edu_stats {
	__u64 copies;		/* copies run */
	__u64 bytes;		/* bytes copied */
	__u64 chunks;		/* engine round trips */
	__u64 invalidations;	/* invalidate callbacks taken */
	__u64 remaps;		/* sides resolved again inside a copy */
};

#define PEERMAP_EDU_IOC_COPY	 _IOW(PEERMAP_IOC_MAGIC, 0x40, struct peermap_edu_copy)
#define PEERMAP_EDU_IOC_SEGMENTS _IOWR(PEERMAP_IOC_MAGIC, 0x41, struct peermap_edu_segments)
#define PEERMAP_EDU_IOC_REGISTER _IOWR(PEERMAP_IOC_MAGIC, 0x42, struct peermap_edu_register)
#define PEERMAP_EDU_IOC_UNREGISTER _IOW(PEERMAP_IOC_MAGIC, 0x43, struct peermap_edu_unregister)
#define PEERMAP_EDU_IOC_REG_INFO _IOWR(PEERMAP_IOC_MAGIC, 0x44, struct peermap_edu_reg_info)
#define PEERMAP_EDU_IOC_STATS	 _IOR(PEERMAP_IOC_MAGIC, 0x45, struct peermap_edu_stats)

#endif /* _UAPI_PEERMAP_PEERMAP_H */
