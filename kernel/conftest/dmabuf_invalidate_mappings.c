// SPDX-License-Identifier: GPL-2.0
/* 7.1 renamed dma-buf's move_notify to invalidate_mappings. */
#include <linux/dma-buf.h>

static void pm_probe_inval(struct dma_buf_attachment *attach)
{
}

static const struct dma_buf_attach_ops pm_probe_ops __maybe_unused = {
	.invalidate_mappings = pm_probe_inval,
};

static void __maybe_unused pm_probe(struct dma_buf *dmabuf)
{
	dma_buf_invalidate_mappings(dmabuf);
}
