/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel API differences between the kernels peermap builds on (6.1+). */
#ifndef _PEERMAP_COMPAT_H
#define _PEERMAP_COMPAT_H

#include <linux/mm.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

static inline void vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}
#endif

/* 6.5 dropped the vmas argument of the GUP calls. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#define pm_pin_user_pages_remote(mm, start, n, flags, pages) \
	pin_user_pages_remote(mm, start, n, flags, pages, NULL, NULL)
#else
#define pm_pin_user_pages_remote(mm, start, n, flags, pages) \
	pin_user_pages_remote(mm, start, n, flags, pages, NULL)
#endif

/* 6.2 added FOLL_PCI_P2PDMA; before it, P2PDMA pages cannot be pinned. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
#define PM_FOLL_PCI_P2PDMA	0
#else
#define PM_FOLL_PCI_P2PDMA	FOLL_PCI_P2PDMA
#endif

/* 6.10 dropped the source argument of __assign_str() (trace.h). */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 10, 0)
#define pm_assign_str(dst, src)	__assign_str(dst, src)
#else
#define pm_assign_str(dst, src)	__assign_str(dst)
#endif

#endif /* _PEERMAP_COMPAT_H */
