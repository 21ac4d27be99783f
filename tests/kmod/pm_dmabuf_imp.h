/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Test-only ABI of pm_dmabuf_imp.ko (/dev/pm-dmabuf-imp): a dma-buf
 * importer that does what the RDMA core does for a dmabuf memory region
 * (drivers/infiniband/core/umem_dmabuf.c), for a PCI device given by name,
 * since no RDMA device with dmabuf MRs exists in QEMU. Shared with the
 * guest test (tests/guest/dmabuf_test.c). Never part of the product.
 */
#ifndef _PM_DMABUF_IMP_H
#define _PM_DMABUF_IMP_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* How to attach, as an RDMA driver would (or a DRM PRIME importer). */
#define PM_IMP_DYNAMIC	0	/* ib_umem_dmabuf_get(): peer2peer, move_notify */
#define PM_IMP_PINNED	1	/* ib_umem_dmabuf_get_pinned(): peer2peer, pin */
#define PM_IMP_STATIC	2	/* dma_buf_attach(): no peer2peer, no notify */
#define PM_IMP_NO_P2P	3	/* dynamic, move_notify, not peer2peer */

#define PM_IMP_MAX_SEGS	16

struct pm_imp_attach {
	__s32 fd;		/* in: the dma-buf */
	__u32 mode;		/* in: PM_IMP_* */
	char client[32];	/* in: the importing device's PCI name */
	__u32 id;		/* out: names the attachment in this file */
	__u32 reserved;
};

/* Map (if not mapped) under the reservation lock, as a page fault would. */
struct pm_imp_map {
	__u32 id;		/* in */
	__u32 nsegs;		/* out: DMA segments */
	__u64 len;		/* out: their bytes */
	__u64 addr[PM_IMP_MAX_SEGS];	/* out: the first segments */
	__u64 seg_len[PM_IMP_MAX_SEGS];
};

struct pm_imp_status {
	__u32 id;		/* in */
	__u32 mapped;		/* out: holds a mapping now */
	__u64 invalidations;	/* out: move_notify calls seen */
	__u64 maps;		/* out: mappings made */
	/*
	 * out: this kernel pins the buffer for every mapping, dynamic
	 * importers too (before 7.1 without CONFIG_DMABUF_MOVE_NOTIFY, as
	 * Debian builds it): the exporter cannot move it while mapped
	 */
	__u32 pin_on_map;
	__u32 reserved;
};

#define PM_IMP_IOC_ATTACH	_IOWR(0xb9, 0x01, struct pm_imp_attach)
#define PM_IMP_IOC_MAP		_IOWR(0xb9, 0x02, struct pm_imp_map)
#define PM_IMP_IOC_UNMAP	_IOW(0xb9, 0x03, __u32)
#define PM_IMP_IOC_STATUS	_IOWR(0xb9, 0x04, struct pm_imp_status)
#define PM_IMP_IOC_DETACH	_IOW(0xb9, 0x05, __u32)

#endif /* _PM_DMABUF_IMP_H */
