// SPDX-License-Identifier: GPL-2.0
/* FOLL_PCI_P2PDMA: GUP may pin PCI P2PDMA pages (6.2) */
#include <linux/mm.h>

static unsigned int __maybe_unused pm_probe(void)
{
	return FOLL_PCI_P2PDMA;
}
