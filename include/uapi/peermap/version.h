/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * peermap's version, the one place it is written: the modules report it
 * (MODULE_VERSION, /sys/module/peermap/version) and `peermap --version`
 * prints it and compares it with the loaded modules'.
 */
#ifndef _UAPI_PEERMAP_VERSION_H
#define _UAPI_PEERMAP_VERSION_H

#define PEERMAP_VERSION "0.2"

#endif /* _UAPI_PEERMAP_VERSION_H */
