// SPDX-License-Identifier: GPL-2.0
/*
 * Device memory that exporters lend to processes as MEMORY_DEVICE_PRIVATE
 * pages (struct peermap_devmem), HMM style: a GPU driver migrates pieces
 * of an ordinary malloc()ed range into its memory, so one VMA holds a
 * random mix of RAM and device pages.
 *
 * Upstream's hmm_range_fault() migrates another driver's device-private
 * pages back to RAM before a device may touch them. Every peermap
 * exporter's pages share one pgmap owner (peermap_devmem_owner()), which
 * mapping.c hands hmm_range_fault(): those pages are reported, not
 * migrated, and mapping.c asks their exporter for their DMA address for
 * the client here (a bus address or an IOVA of the BAR, by the route
 * engine, as for an object). Owner lookup: a reported page's pgmap, found
 * with a reference by get_dev_pagemap(), is ours if its owner is, and the
 * struct peermap_devmem around it says which exporter and BAR. The
 * reference keeps the pages (memunmap_pages() waits for it) until the
 * piece is torn down; a page that migrates tears it down first, through
 * the mapping's mmu notifier.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ioport.h>
#include <linux/memory_hotplug.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>

#include "compat.h"
#include "exporter.h"
#include "internal.h"

/* Its address is the pgmap owner of every peermap exporter's pages. */
static char pm_devmem_owner;

/**
 * peermap_devmem_owner() - the pgmap owner of peermap's device-private pages
 *
 * The same for every peermap exporter, so that one hmm_range_fault()
 * reports them all. An exporter's migrate_vma_setup() with
 * MIGRATE_VMA_SELECT_DEVICE_PRIVATE and this owner therefore collects
 * other exporters' pages too: migrate back one page (migrate_to_ram), or
 * skip the collected pages whose pgmap is not its own (leave their dst
 * 0), or use migrate_device_range() on its own pfns. Likewise, an
 * exporter mirroring its own memory with hmm_range_fault() sees every
 * peermap exporter's pages as its own and must check the pgmap, and one
 * that skips invalidations with its own owner skips other exporters'
 * migrations. hmm_range_fault() users that are not peermap see these
 * pages as another driver's.
 * Return: the owner token.
 */
void *peermap_devmem_owner(void)
{
	return &pm_devmem_owner;
}
EXPORT_SYMBOL_GPL(peermap_devmem_owner);

/**
 * peermap_devmem_offset() - where a device-private page is in its devmem
 * @dm: from peermap_devmem_add()
 * @page: one of its pages
 *
 * Return: the byte offset of @page from @dm's first page (add @dm->offset
 * for the BAR offset).
 */
u64 peermap_devmem_offset(struct peermap_devmem *dm, struct page *page)
{
	return (u64)(page_to_pfn(page) - PHYS_PFN(dm->pgmap.range.start))
		<< PAGE_SHIFT;
}
EXPORT_SYMBOL_GPL(peermap_devmem_offset);

/**
 * peermap_devmem_page() - the device-private page at an offset of a devmem
 * @dm: from peermap_devmem_add()
 * @offset: bytes from its first page, below @dm->size
 *
 * Return: the struct page.
 */
struct page *peermap_devmem_page(struct peermap_devmem *dm, u64 offset)
{
	return pfn_to_page(PHYS_PFN(dm->pgmap.range.start + offset));
}
EXPORT_SYMBOL_GPL(peermap_devmem_page);

#if IS_ENABLED(CONFIG_DEVICE_PRIVATE)

/**
 * peermap_devmem_add() - lend part of a BAR to processes as device-private pages
 * @dm: filled as struct peermap_devmem says
 *
 * Numbers @dm->size bytes of pages in a free physical range (they are not
 * CPU addressable: a CPU touch calls @dm->pgmap.ops->migrate_to_ram) and
 * gives them struct pages, 64 bytes per page. From now on peermap maps
 * them peer to peer where on-demand ranges hold them.
 * Context: process context, may sleep.
 * Return: 0, -EINVAL (a field out of range, no migrate_to_ram), -ERANGE
 * or -ENOMEM (no free physical range, no memory for the struct pages).
 */
int peermap_devmem_add(struct peermap_devmem *dm)
{
	struct pci_dev *pdev = dm->provider;
	struct resource *res;
	resource_size_t len;
	void *addr;

	if (!dm->exp || !pdev || dm->bar < 0 || dm->bar >= PCI_STD_NUM_BARS ||
	    !dm->pgmap.ops || !dm->pgmap.ops->migrate_to_ram)
		return -EINVAL;
	len = pci_resource_len(pdev, dm->bar);
	if (!dm->size || !IS_ALIGNED(dm->size, PEERMAP_DEVMEM_ALIGN) ||
	    !PAGE_ALIGNED(dm->offset) || dm->offset >= len ||
	    dm->size > len - dm->offset)
		return -EINVAL;

	res = request_free_mem_region(&iomem_resource, dm->size,
				      "peermap device-private");
	if (IS_ERR(res))
		return PTR_ERR(res);
	dm->pgmap.type = MEMORY_DEVICE_PRIVATE;
	dm->pgmap.range.start = res->start;
	dm->pgmap.range.end = res->end;
	dm->pgmap.nr_range = 1;
	dm->pgmap.owner = &pm_devmem_owner;
	addr = memremap_pages(&dm->pgmap, dev_to_node(&pdev->dev));
	if (IS_ERR(addr)) {
		release_mem_region(res->start, resource_size(res));
		return PTR_ERR(addr);
	}
	dm->res = res;
	pci_info(pdev, "BAR%d +%#llx: %llu MiB lent as device-private pages %#llx-%#llx (struct pages: %llu KiB of RAM)\n",
		 dm->bar, dm->offset, dm->size >> 20, (u64)res->start,
		 (u64)res->end, (dm->size >> PAGE_SHIFT) * sizeof(struct page) >> 10);
	return 0;
}
EXPORT_SYMBOL_GPL(peermap_devmem_add);

/**
 * peermap_devmem_remove() - take back what peermap_devmem_add() lent
 * @dm: from peermap_devmem_add()
 *
 * The exporter first migrates every page back to RAM (migrate_device_range()
 * and friends), which tears down every peer piece of them; this then waits
 * for the pages and for pieces still being resolved to let go.
 * Context: process context, sleeps.
 */
void peermap_devmem_remove(struct peermap_devmem *dm)
{
	memunmap_pages(&dm->pgmap);
	release_mem_region(dm->pgmap.range.start, range_len(&dm->pgmap.range));
	dm->res = NULL;
}
EXPORT_SYMBOL_GPL(peermap_devmem_remove);

/**
 * peermap_devmem_maybe() - may a pfn hmm_range_fault() reported be device memory?
 * @pfn: the pfn
 *
 * Return: false for ordinary (online) memory, whose pages stay.
 */
bool peermap_devmem_maybe(unsigned long pfn)
{
	return !pfn_to_online_page(pfn);
}

/**
 * peermap_devmem_get() - the devmem of a pfn hmm_range_fault() reported
 * @pfn: the pfn
 * @pgmap: out: the reference that keeps its pages, for put_dev_pagemap()
 *
 * Decided from the pfn, not its struct page: the page may be freed, and
 * its memmap with it (the exporter taking its memory back), until the
 * reference is held.
 * Return: the devmem; NULL for ordinary memory or another driver's
 * ZONE_DEVICE memory; ERR_PTR(-EAGAIN) if its pages are being taken back
 * (they will have migrated when the caller tries again).
 */
struct peermap_devmem *peermap_devmem_get(unsigned long pfn,
					  struct dev_pagemap **pgmap)
{
	struct dev_pagemap *pg;

	if (!peermap_devmem_maybe(pfn))
		return NULL;
	pg = pm_get_dev_pagemap(pfn);
	if (!pg)
		return ERR_PTR(-EAGAIN);
	if (pg->type != MEMORY_DEVICE_PRIVATE || pg->owner != &pm_devmem_owner) {
		put_dev_pagemap(pg);
		return NULL;
	}
	*pgmap = pg;
	return container_of(pg, struct peermap_devmem, pgmap);
}

#else /* !CONFIG_DEVICE_PRIVATE */

int peermap_devmem_add(struct peermap_devmem *dm)
{
	return -EOPNOTSUPP;
}
EXPORT_SYMBOL_GPL(peermap_devmem_add);

void peermap_devmem_remove(struct peermap_devmem *dm)
{
}
EXPORT_SYMBOL_GPL(peermap_devmem_remove);

bool peermap_devmem_maybe(unsigned long pfn)
{
	return false;
}

struct peermap_devmem *peermap_devmem_get(unsigned long pfn,
					  struct dev_pagemap **pgmap)
{
	return NULL;
}

#endif /* CONFIG_DEVICE_PRIVATE */

/**
 * peermap_devmem_answer() - a devmem's bytes for a request's client
 * @req: a request whose @pgmap is @dm's
 * @dm: the devmem
 * @offset: bytes from its first page
 * @len: bytes, contiguous in @dm
 *
 * Its exporter's p2p_devmem answers (and may refuse); without one, the
 * BAR itself, through the route engine.
 * Return: 0, or -errno (-EAGAIN: try again).
 */
int peermap_devmem_answer(struct peermap_p2p_req *req,
			  struct peermap_devmem *dm, u64 offset, u64 len)
{
	if (offset >= dm->size || len > dm->size - offset)
		return -EINVAL;
	if (dm->exp->p2p_devmem)
		return dm->exp->p2p_devmem(dm, offset, len, req);
	return peermap_req_add_bar(req, dm->provider, dm->bar,
				   dm->offset + offset, len);
}
