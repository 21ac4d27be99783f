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

/* Access the importer's device needs to a range. */
#define PEERMAP_ACCESS_READ	(1U << 0)	/* device reads the memory */
#define PEERMAP_ACCESS_WRITE	(1U << 1)	/* device writes the memory */

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

#define PEERMAP_BAR_IOC_INFO	_IOR(PEERMAP_IOC_MAGIC, 0x00, struct peermap_bar_info)
#define PEERMAP_BAR_IOC_ALLOC	_IOWR(PEERMAP_IOC_MAGIC, 0x01, struct peermap_bar_alloc)
#define PEERMAP_BAR_IOC_FREE	_IOW(PEERMAP_IOC_MAGIC, 0x02, struct peermap_bar_free)

/* --- importer: /dev/peermap-eduN -------------------------------------- */

/* Copy len bytes from src to dst (user addresses) with the DMA engine. */
struct peermap_edu_copy {
	__u64 src;		/* in */
	__u64 dst;		/* in */
	__u64 len;		/* in: 1..PEERMAP_EDU_COPY_MAX */
	__u32 flags;		/* in: zero */
	__u32 reserved;		/* in: zero */
};

#define PEERMAP_EDU_COPY_MAX	(64ULL << 20)

/* Map [addr, addr + len) for the DMA engine, report the segments, unmap. */
struct peermap_edu_segments {
	__u64 addr;		/* in */
	__u64 len;		/* in */
	__u32 access;		/* in: PEERMAP_ACCESS_* */
	__u32 nsegs;		/* in: room in segs; out: segments needed */
	__u64 segs;		/* in: pointer to struct peermap_seg[nsegs] */
};

#define PEERMAP_EDU_IOC_COPY	 _IOW(PEERMAP_IOC_MAGIC, 0x40, struct peermap_edu_copy)
#define PEERMAP_EDU_IOC_SEGMENTS _IOWR(PEERMAP_IOC_MAGIC, 0x41, struct peermap_edu_segments)

#endif /* _UAPI_PEERMAP_PEERMAP_H */
