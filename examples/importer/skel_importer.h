/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * User ABI of the skeleton importer (examples/importer/skel_importer.c):
 * /dev/skel_importerN (root only: it shows DMA addresses), one per bound
 * PCI device. One mapping of a user range per device at a time, owned by
 * the file that made it (closing it unmaps).
 *
 * The ioctl magic and numbers are peermap's (0xb7), from a range its own
 * drivers leave free; a driver of yours takes its own magic.
 */
#ifndef _UAPI_SKEL_IMPORTER_H
#define _UAPI_SKEL_IMPORTER_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Entries in the skeleton engine's descriptor table. */
#define SKEL_IMPORTER_MAX_DESC	16

/**
 * struct skel_importer_map - SKEL_IMPORTER_IOC_MAP: map a user range
 * @addr: start, any byte alignment
 * @len: bytes
 * @access: PEERMAP_ACCESS_READ and/or _WRITE: what the device may do
 * @flags: PEERMAP_MAP_PINNED (0) or PEERMAP_MAP_ONDEMAND: how RAM is held
 */
struct skel_importer_map {
	__u64 addr;
	__u64 len;
	__u32 access;
	__u32 flags;
};

/**
 * struct skel_importer_desc - one DMA descriptor: one peermap segment
 * @addr: DMA address for the device
 * @len: bytes
 * @flags: PEERMAP_SEG_* (PEER, WRITE, IOVA, FALLBACK)
 * @reserved: 0
 */
struct skel_importer_desc {
	__u64 addr;
	__u64 len;
	__u32 flags;
	__u32 reserved;
};

/**
 * struct skel_importer_start - SKEL_IMPORTER_IOC_START: start the engine
 * @ndesc: out: descriptors loaded
 * @reserved: 0
 * @desc: out: the descriptor table the engine runs on
 */
struct skel_importer_start {
	__u32 ndesc;
	__u32 reserved;
	struct skel_importer_desc desc[SKEL_IMPORTER_MAX_DESC];
};

/**
 * struct skel_importer_status - SKEL_IMPORTER_IOC_STATUS
 * @running: the engine runs on the mapping's segments
 * @last_why: PEERMAP_INVAL_* of the last invalidate callback, 0 if none
 * @invalidations: invalidate callbacks since the mapping was made
 */
struct skel_importer_status {
	__u32 running;
	__u32 last_why;
	__u64 invalidations;
};

/* EBUSY: one exists; ENODEV: device gone; peermap_map()'s errors. */
#define SKEL_IMPORTER_IOC_MAP	_IOW(0xb7, 0x68, struct skel_importer_map)
/*
 * Resolve the mapping again if it was invalidated, load its segments into
 * the engine and start it. ENODEV: this device is gone (its mapping was
 * ended); ENOENT: this file has no mapping; E2BIG: more segments than
 * descriptors; peermap_remap()'s errors (an exporter's refusal: EPERM,
 * ENODEV; EFAULT once the range is unmapped).
 */
#define SKEL_IMPORTER_IOC_START	_IOR(0xb7, 0x69, struct skel_importer_start)
#define SKEL_IMPORTER_IOC_STATUS _IOR(0xb7, 0x6a, struct skel_importer_status)
/* Stop the engine and unmap. ENOENT: this file has no mapping. */
#define SKEL_IMPORTER_IOC_UNMAP	_IO(0xb7, 0x6b)

#endif /* _UAPI_SKEL_IMPORTER_H */
