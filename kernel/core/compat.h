/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API differences between the kernels peermap builds on (6.1+).
 * Compile probes decide (kernel/conftest/, run by scripts/conftest into
 * pm_conftest.h), never the version number: distributions backport.
 */
#ifndef _PEERMAP_COMPAT_H
#define _PEERMAP_COMPAT_H

#include <linux/dma-mapping.h>
#include <linux/mm.h>

/* Missing? Build with scripts/build-modules: it runs scripts/conftest. */
#include "pm_conftest.h"

/* 6.3 made vm_flags read-only, to be changed through these. */
#ifndef PM_HAVE_VM_FLAGS_SET
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
#ifdef PM_HAVE_GUP_NO_VMAS
#define pm_pin_user_pages_remote(mm, start, n, flags, pages) \
	pin_user_pages_remote(mm, start, n, flags, pages, NULL)
#else
#define pm_pin_user_pages_remote(mm, start, n, flags, pages) \
	pin_user_pages_remote(mm, start, n, flags, pages, NULL, NULL)
#endif

/* 6.2 added FOLL_PCI_P2PDMA; before it, P2PDMA pages cannot be pinned. */
#ifdef PM_HAVE_FOLL_PCI_P2PDMA
#define PM_FOLL_PCI_P2PDMA	FOLL_PCI_P2PDMA
#else
#define PM_FOLL_PCI_P2PDMA	0
#endif

/* 6.10 dropped the source argument of __assign_str() (trace.h). */
#ifdef PM_HAVE_ASSIGN_STR_ONE_ARG
#define pm_assign_str(dst, src)	__assign_str(dst)
#else
#define pm_assign_str(dst, src)	__assign_str(dst, src)
#endif

/*
 * A peer's MMIO (a BAR, no struct page) mapped for a client's DMA:
 * dma_map_phys() with DMA_ATTR_MMIO (6.18), which dma_map_resource() became
 * a wrapper of; before it, dma_map_resource(). No CPU cache to sync.
 */
#ifdef PM_HAVE_DMA_MAP_PHYS_MMIO
#define pm_dma_map_mmio(dev, phys, len, dir) \
	dma_map_phys(dev, phys, len, dir, DMA_ATTR_MMIO | DMA_ATTR_SKIP_CPU_SYNC)
#define pm_dma_unmap_mmio(dev, addr, len, dir) \
	dma_unmap_phys(dev, addr, len, dir, DMA_ATTR_MMIO | DMA_ATTR_SKIP_CPU_SYNC)
#else
#define pm_dma_map_mmio(dev, phys, len, dir) \
	dma_map_resource(dev, phys, len, dir, DMA_ATTR_SKIP_CPU_SYNC)
#define pm_dma_unmap_mmio(dev, addr, len, dir) \
	dma_unmap_resource(dev, addr, len, dir, DMA_ATTR_SKIP_CPU_SYNC)
#endif

/* 7.1 renamed dma-buf's move_notify to invalidate_mappings. */
#ifdef PM_HAVE_DMABUF_INVALIDATE_MAPPINGS
#define PM_DMABUF_INVALIDATE	invalidate_mappings
#else
#define PM_DMABUF_INVALIDATE	move_notify
#endif

/*
 * Device-private memory (devmem.c, the exporter's devmem.c): 6.15 moved a
 * ZONE_DEVICE page's pgmap behind page_pgmap() and dropped
 * get_dev_pagemap()'s cached argument; 6.18 gave zone_device_page_init()
 * the pgmap and an order (and renamed page_free to folio_free).
 */
#if IS_ENABLED(CONFIG_DEVICE_PRIVATE)
#include <linux/memremap.h>

#ifdef PM_HAVE_PAGE_PGMAP
#define pm_page_pgmap(page)	page_pgmap(page)
#else
#define pm_page_pgmap(page)	((page)->pgmap)
#endif
#ifdef PM_HAVE_GET_DEV_PAGEMAP_ONE_ARG
#define pm_get_dev_pagemap(pfn)	get_dev_pagemap(pfn)
#else
#define pm_get_dev_pagemap(pfn)	get_dev_pagemap(pfn, NULL)
#endif
#ifdef PM_HAVE_ZONE_DEVICE_PAGE_INIT_PGMAP
#define pm_zone_device_page_init(page, pgmap) \
	zone_device_page_init(page, pgmap, 0)
#else
#define pm_zone_device_page_init(page, pgmap)	zone_device_page_init(page)
#endif
/*
 * dev_pagemap_ops' free callback, from a function of a struct page:
 * PM_DEFINE_PGMAP_FREE(name, fn) defines @name, PM_PGMAP_FREE_OP(name)
 * initialises the op with it.
 */
#ifdef PM_HAVE_PGMAP_FOLIO_FREE
#define PM_DEFINE_PGMAP_FREE(name, fn) \
	static void name(struct folio *folio) { fn(&folio->page); }
#define PM_PGMAP_FREE_OP(name)	.folio_free = name
#else
#define PM_DEFINE_PGMAP_FREE(name, fn) \
	static void name(struct page *page) { fn(page); }
#define PM_PGMAP_FREE_OP(name)	.page_free = name
#endif
#endif /* CONFIG_DEVICE_PRIVATE */

#endif /* _PEERMAP_COMPAT_H */
