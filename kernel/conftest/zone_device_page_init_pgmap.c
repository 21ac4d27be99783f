// SPDX-License-Identifier: GPL-2.0
/* zone_device_page_init() given the pgmap and an order (6.18) */
#include <linux/memremap.h>

static void __maybe_unused pm_probe(struct page *page, struct dev_pagemap *pgmap)
{
	zone_device_page_init(page, pgmap, 0);
}
