// SPDX-License-Identifier: GPL-2.0
/* dma_map_phys() and dma_unmap_phys() with DMA_ATTR_MMIO: peer MMIO (6.18) */
#include <linux/dma-mapping.h>

static dma_addr_t __maybe_unused pm_probe(struct device *dev, phys_addr_t phys)
{
	dma_addr_t addr = dma_map_phys(dev, phys, 1, DMA_BIDIRECTIONAL,
				       DMA_ATTR_MMIO | DMA_ATTR_SKIP_CPU_SYNC);

	dma_unmap_phys(dev, addr, 1, DMA_BIDIRECTIONAL,
		       DMA_ATTR_MMIO | DMA_ATTR_SKIP_CPU_SYNC);
	return addr;
}
