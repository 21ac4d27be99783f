/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Test-only ABI of pm_limits.ko (/dev/pm-limits), shared with the guest
 * tests (tests/guest/harden_test.c). Never part of the product.
 */
#ifndef _PM_LIMITS_H
#define _PM_LIMITS_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * Map [addr, addr + len) of the caller with peermap_map() for the client
 * device while its DMA segment limits are @max_seg bytes and @boundary
 * (a segment may not cross a multiple of boundary + 1), report the
 * segments, unmap, and put the client's own limits back.
 */
struct pm_limits_map {
	__u64 addr;		/* in */
	__u64 len;		/* in */
	__u64 boundary;		/* in: segment boundary mask, e.g. 0xffff */
	__u32 max_seg;		/* in: bytes, >= 4096 */
	__u32 nsegs;		/* in: room in segs; out: segments made */
	__u64 segs;		/* in: pointer to struct peermap_seg[nsegs] */
	char client[32];	/* in: the client's PCI name */
};

#define PM_LIMITS_IOC_MAP	_IOWR(0xb8, 0x10, struct pm_limits_map)

#endif /* _PM_LIMITS_H */
