// SPDX-License-Identifier: GPL-2.0
/* get_dev_pagemap() without the cached pgmap argument (6.15) */
#include <linux/memremap.h>

static __maybe_unused struct dev_pagemap *pm_probe(unsigned long pfn)
{
	return get_dev_pagemap(pfn);
}
