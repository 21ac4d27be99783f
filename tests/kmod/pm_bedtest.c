// SPDX-License-Identifier: GPL-2.0
/*
 * pm_bedtest: proves the QEMU test bed can do peer-to-peer DMA.
 *
 * Test-only code, independent of peermap (it shares only the edu register
 * header, kernel/importer/edu_hw.h): it drives QEMU's edu DMA engine
 * to copy a pattern from the ivshmem-plain BAR2 into edu's internal buffer
 * and back to another offset of BAR2. The peer address the edu device uses
 * comes from dma_map_resource(): the BAR's bus address when edu's DMA is not
 * translated, an IOVA when an IOMMU translates it.
 *
 * Reading /sys/kernel/debug/pm_bedtest/p2p runs the test and prints one
 * line of key=value pairs; "result=ok" means the data arrived intact.
 * The devices must not be bound to another driver while the test runs.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/dma-mapping.h>
#include <linux/io.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/random.h>
#include <linux/seq_file.h>

#include "edu_hw.h"

#define IVSHMEM_VENDOR		0x1af4
#define IVSHMEM_DEVICE		0x1110
#define IVSHMEM_BAR		2

#define SRC_OFF			0x0
#define DST_OFF			0x10000
#define GUARD			64
#define WINDOW			(DST_OFF + 2 * PAGE_SIZE)

static unsigned int xfer_len = 2048;
module_param(xfer_len, uint, 0644);
MODULE_PARM_DESC(xfer_len, "bytes to copy, 1..4095 (default 2048)");

/* Serialises test runs: they share the devices and the edu buffer. */
static DEFINE_MUTEX(bedtest_lock);
static struct dentry *bedtest_dir;

static u8 pattern_byte(u32 seed, size_t i)
{
	return (u8)((seed >> (i & 3) * 8) ^ (i * 131) ^ (i >> 8));
}

static int bedtest_run(struct seq_file *m, struct pci_dev *edu,
		       struct pci_dev *shm)
{
	resource_size_t phys = pci_resource_start(shm, IVSHMEM_BAR);
	pci_bus_addr_t bus = pci_bus_address(shm, IVSHMEM_BAR);
	u32 len = xfer_len, seed = get_random_u32();
	unsigned int bad = 0, guard_bad = 0;
	void __iomem *regs, *bar;
	dma_addr_t dma;
	size_t i;
	int ret;

	if (!len || len > EDU_XFER_MAX) {
		seq_printf(m, "result=fail reason=xfer_len %u not in 1..%u\n",
			   len, EDU_XFER_MAX);
		return -EINVAL;
	}
	if (pci_resource_len(shm, IVSHMEM_BAR) < WINDOW) {
		seq_puts(m, "result=fail reason=ivshmem BAR2 too small\n");
		return -ENOSPC;
	}
	ret = dma_set_mask_and_coherent(&edu->dev, DMA_BIT_MASK(64));
	if (ret) {
		seq_printf(m, "result=fail reason=dma mask %d\n", ret);
		return ret;
	}
	regs = pci_iomap(edu, 0, 0);
	if (!regs) {
		ret = -ENOMEM;
		goto out;
	}
	bar = pci_iomap_range(shm, IVSHMEM_BAR, 0, WINDOW);
	if (!bar) {
		ret = -ENOMEM;
		goto err_unmap_regs;
	}
	dma = dma_map_resource(&edu->dev, phys, WINDOW, DMA_BIDIRECTIONAL, 0);
	if (dma_mapping_error(&edu->dev, dma)) {
		ret = -EIO;
		goto err_unmap_bar;
	}

	for (i = 0; i < len; i++)
		iowrite8(pattern_byte(seed, i), bar + SRC_OFF + i);
	for (i = 0; i < len + GUARD; i++)
		iowrite8(0xa5, bar + DST_OFF + i);

	pci_set_master(edu);
	ret = edu_hw_xfer(regs, dma + SRC_OFF, EDU_BUF, len, false, 5000);
	if (!ret)
		ret = edu_hw_xfer(regs, EDU_BUF, dma + DST_OFF, len, true, 5000);
	pci_clear_master(edu);
	if (ret)
		goto err_unmap_dma;

	for (i = 0; i < len; i++)
		bad += ioread8(bar + DST_OFF + i) != pattern_byte(seed, i);
	for (i = len; i < len + GUARD; i++)
		guard_bad += ioread8(bar + DST_OFF + i) != 0xa5;
	if (bad || guard_bad)
		ret = -EIO;

err_unmap_dma:
	dma_unmap_resource(&edu->dev, dma, WINDOW, DMA_BIDIRECTIONAL, 0);
err_unmap_bar:
	pci_iounmap(shm, bar);
err_unmap_regs:
	pci_iounmap(edu, regs);
out:
	seq_printf(m, "result=%s err=%d len=%u bar_phys=%pa bus=%pa dma=%pad addr=%s iommu=%s mismatches=%u guard_mismatches=%u edu=%s ivshmem=%s\n",
		   ret ? "fail" : "ok", ret, len, &phys, &bus, &dma,
		   dma == bus ? "bus" : "iova",
		   device_iommu_mapped(&edu->dev) ? "yes" : "no", bad,
		   guard_bad, pci_name(edu), pci_name(shm));
	return ret;
}

static int bedtest_p2p_show(struct seq_file *m, void *unused)
{
	struct pci_dev *edu, *shm;
	int ret;

	edu = pci_get_device(EDU_VENDOR, EDU_DEVICE, NULL);
	shm = pci_get_device(IVSHMEM_VENDOR, IVSHMEM_DEVICE, NULL);
	if (!edu || !shm) {
		seq_printf(m, "result=fail reason=missing device edu=%s ivshmem=%s\n",
			   edu ? pci_name(edu) : "none",
			   shm ? pci_name(shm) : "none");
		ret = 0;	/* the line above is the answer */
		goto out_put;
	}
	ret = pci_enable_device(edu);
	if (ret)
		goto out_put;
	ret = pci_enable_device_mem(shm);
	if (ret)
		goto err_disable_edu;

	mutex_lock(&bedtest_lock);
	bedtest_run(m, edu, shm);
	mutex_unlock(&bedtest_lock);
	ret = 0;

	pci_disable_device(shm);
err_disable_edu:
	pci_disable_device(edu);
out_put:
	pci_dev_put(shm);
	pci_dev_put(edu);
	return ret;
}
DEFINE_SHOW_ATTRIBUTE(bedtest_p2p);

static int __init bedtest_init(void)
{
	bedtest_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("p2p", 0400, bedtest_dir, NULL, &bedtest_p2p_fops);
	return 0;
}

static void __exit bedtest_exit(void)
{
	debugfs_remove(bedtest_dir);
}

module_init(bedtest_init);
module_exit(bedtest_exit);

MODULE_DESCRIPTION("peermap test bed check: edu DMA into an ivshmem BAR");
MODULE_LICENSE("GPL");
