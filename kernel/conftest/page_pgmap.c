// SPDX-License-Identifier: GPL-2.0
/* page_pgmap(): a ZONE_DEVICE page's pgmap, no longer page->pgmap (6.15) */
#include <linux/mm.h>
#include <linux/memremap.h>

static __maybe_unused struct dev_pagemap *pm_probe(struct page *page)
{
	return page_pgmap(page);
}
