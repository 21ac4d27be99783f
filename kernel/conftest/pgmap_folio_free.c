// SPDX-License-Identifier: GPL-2.0
/* dev_pagemap_ops.folio_free, which replaced page_free (6.18) */
#include <linux/memremap.h>

static void pm_free(struct folio *folio)
{
}

static const struct dev_pagemap_ops pm_ops __maybe_unused = {
	.folio_free = pm_free,
};
