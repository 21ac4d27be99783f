/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * User ABI of the skeleton exporter (examples/exporter/skel_exporter.c):
 * /dev/skel_exporterN, one per bound PCI device.
 *
 * mmap(len, offset) maps bytes [offset, offset + len) of the exported BAR
 * (MAP_SHARED, offset page aligned): that range is one object, one VMA.
 *
 * The ioctl magic and numbers are peermap's (0xb7), from a range its own
 * drivers leave free; a driver of yours takes its own magic
 * (Documentation/userspace-api/ioctl/ioctl-number.rst).
 */
#ifndef _UAPI_SKEL_EXPORTER_H
#define _UAPI_SKEL_EXPORTER_H

#include <linux/ioctl.h>

/*
 * Argument 1: peers may map this device's memory (the default); 0: they
 * may not (their maps fail with EPERM). Either way every peer mapping of
 * the device is revoked first, so importers follow the new state.
 */
#define SKEL_EXPORTER_IOC_PEER_ACCESS	_IO(0xb7, 0x60)

#endif /* _UAPI_SKEL_EXPORTER_H */
