// SPDX-License-Identifier: GPL-2.0
/*
 * peermap_edu: reference importer driving QEMU's edu DMA engine on user
 * ranges. /dev/peermap-eduN copies between two user ranges, each device
 * memory of any peermap exporter or ordinary RAM, mapped through peermap:
 * the engine reads the source into its 4 KiB buffer and writes it out to
 * the destination, chunk by chunk, with the DMA addresses peermap gave.
 *
 * The engine's registers and its QEMU limits: edu_hw.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <peermap.h>

#include "edu_hw.h"

#define EDU_DMA_TIMEOUT_MS	5000

struct pmedu_dev {
	struct kref ref;		/* probe, each open file */
	struct pci_dev *pdev;		/* holds a pci_dev reference */
	/*
	 * Serialises use of the engine and its buffer, and protects @regs,
	 * which remove() clears: NULL means the device is gone.
	 */
	struct mutex lock;
	void __iomem *regs;
	struct miscdevice misc;
	int id;
	char name[24];			/* "peermap-eduN" */
	u64 copies, bytes, chunks;	/* statistics, under @lock */
};

static DEFINE_IDA(pmedu_ida);

static void pmedu_release_dev(struct kref *ref)
{
	struct pmedu_dev *edev = container_of(ref, struct pmedu_dev, ref);

	ida_free(&pmedu_ida, edev->id);
	pci_dev_put(edev->pdev);
	kfree(edev);
}

/* One engine transfer, polled to completion (the DMA is in flight). */
static int edu_xfer(struct pmedu_dev *edev, u64 src, u64 dst, u32 len,
		    bool to_ram)
{
	int ret = edu_hw_xfer(edev->regs, src, dst, len, to_ram,
			      EDU_DMA_TIMEOUT_MS);

	if (ret == -ETIMEDOUT)
		dev_err(&edev->pdev->dev, "DMA of %u bytes did not complete in %d ms\n",
			len, EDU_DMA_TIMEOUT_MS);
	return ret;
}

/* Walk both segment vectors in step, one engine round trip per chunk. */
static int pmedu_run(struct pmedu_dev *edev, struct peermap_mapping *src,
		     struct peermap_mapping *dst)
{
	unsigned int si = 0, di = 0;
	u64 soff = 0, doff = 0, left = src->len;
	u32 n;
	int ret;

	while (left) {
		n = min3((u64)EDU_XFER_MAX, src->segs[si].len - soff,
			 dst->segs[di].len - doff);
		ret = edu_xfer(edev, src->segs[si].addr + soff, EDU_BUF, n, false);
		if (!ret)
			ret = edu_xfer(edev, EDU_BUF, dst->segs[di].addr + doff, n,
				       true);
		if (ret)
			return ret;
		edev->chunks++;
		left -= n;
		soff += n;
		doff += n;
		if (soff == src->segs[si].len) {
			si++;
			soff = 0;
		}
		if (doff == dst->segs[di].len) {
			di++;
			doff = 0;
		}
		/* Between chunks no DMA is in flight: safe to stop. */
		if (left && fatal_signal_pending(current))
			return -EINTR;
	}
	return 0;
}

static long pmedu_copy(struct pmedu_dev *edev, void __user *arg)
{
	struct peermap_mapping *src, *dst;
	struct peermap_edu_copy req;
	u64 send, dend;
	long ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags || req.reserved || !req.len)
		return -EINVAL;
	if (req.len > PEERMAP_EDU_COPY_MAX)
		return -E2BIG;
	if (check_add_overflow(req.src, req.len, &send) ||
	    check_add_overflow(req.dst, req.len, &dend))
		return -EOVERFLOW;
	if (req.src < dend && req.dst < send)
		return -EINVAL;		/* overlapping ranges */
	if (!READ_ONCE(edev->regs))
		return -ENODEV;		/* removed; rechecked under the lock */

	src = peermap_map_user(&edev->pdev->dev, current->mm, req.src, req.len,
			       PEERMAP_ACCESS_READ);
	if (IS_ERR(src))
		return PTR_ERR(src);
	dst = peermap_map_user(&edev->pdev->dev, current->mm, req.dst, req.len,
			       PEERMAP_ACCESS_WRITE);
	if (IS_ERR(dst)) {
		ret = PTR_ERR(dst);
		goto out_unmap_src;
	}

	ret = mutex_lock_killable(&edev->lock);
	if (ret)
		goto out_unmap_dst;
	if (!edev->regs) {
		ret = -ENODEV;
	} else {
		ret = pmedu_run(edev, src, dst);
		edev->copies++;
		if (!ret)
			edev->bytes += req.len;
	}
	mutex_unlock(&edev->lock);

out_unmap_dst:
	peermap_unmap(dst);
out_unmap_src:
	peermap_unmap(src);
	return ret;
}

static long pmedu_segments(struct pmedu_dev *edev, void __user *arg)
{
	struct peermap_edu_segments req;
	struct peermap_seg __user *useg;
	struct peermap_mapping *map;
	struct peermap_seg seg;
	unsigned int i;
	long ret = 0;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	map = peermap_map_user(&edev->pdev->dev, current->mm, req.addr,
			       req.len, req.access);
	if (IS_ERR(map))
		return PTR_ERR(map);
	useg = u64_to_user_ptr(req.segs);
	for (i = 0; i < map->nsegs && i < req.nsegs; i++) {
		seg = (struct peermap_seg) {
			.addr = map->segs[i].addr,
			.len = map->segs[i].len,
			.flags = map->segs[i].flags,
		};
		if (copy_to_user(&useg[i], &seg, sizeof(seg))) {
			ret = -EFAULT;
			break;
		}
	}
	req.nsegs = map->nsegs;
	peermap_unmap(map);
	if (!ret && copy_to_user(arg, &req, sizeof(req)))
		ret = -EFAULT;
	return ret;
}

static int pmedu_open(struct inode *inode, struct file *file)
{
	struct pmedu_dev *edev = container_of(file->private_data,
					      struct pmedu_dev, misc);

	kref_get(&edev->ref);
	file->private_data = edev;
	return 0;
}

static int pmedu_release(struct inode *inode, struct file *file)
{
	struct pmedu_dev *edev = file->private_data;

	kref_put(&edev->ref, pmedu_release_dev);
	return 0;
}

static long pmedu_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct pmedu_dev *edev = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case PEERMAP_EDU_IOC_COPY:
		return pmedu_copy(edev, uarg);
	case PEERMAP_EDU_IOC_SEGMENTS:
		return pmedu_segments(edev, uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations pmedu_fops = {
	.owner = THIS_MODULE,
	.open = pmedu_open,
	.release = pmedu_release,
	.unlocked_ioctl = pmedu_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static int pmedu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct pmedu_dev *edev;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret) {
		dev_err(&pdev->dev, "no 64-bit DMA: %d\n", ret);
		return ret;
	}
	/*
	 * The engine takes segments of any length (copies split them per
	 * transfer). Returns void since 6.12's backports, int before: ignored.
	 */
	dma_set_max_seg_size(&pdev->dev, UINT_MAX);
	ret = pci_request_region(pdev, 0, KBUILD_MODNAME);
	if (ret)
		return ret;

	edev = kzalloc(sizeof(*edev), GFP_KERNEL);
	if (!edev) {
		ret = -ENOMEM;
		goto err_release;
	}
	kref_init(&edev->ref);
	mutex_init(&edev->lock);
	edev->pdev = pci_dev_get(pdev);
	edev->id = ida_alloc(&pmedu_ida, GFP_KERNEL);
	if (edev->id < 0) {
		ret = edev->id;
		pci_dev_put(pdev);
		kfree(edev);
		goto err_release;
	}
	edev->regs = pci_iomap(pdev, 0, 0);
	if (!edev->regs) {
		ret = -ENOMEM;
		goto err_put;
	}
	pci_set_master(pdev);

	snprintf(edev->name, sizeof(edev->name), "peermap-edu%d", edev->id);
	edev->misc.minor = MISC_DYNAMIC_MINOR;
	edev->misc.name = edev->name;
	edev->misc.fops = &pmedu_fops;
	edev->misc.parent = &pdev->dev;
	edev->misc.mode = 0666;
	ret = misc_register(&edev->misc);
	if (ret)
		goto err_unmap;
	pci_set_drvdata(pdev, edev);
	dev_info(&pdev->dev, "/dev/%s: edu DMA engine, id %#x\n", edev->name,
		 readl(edev->regs + EDU_REG_ID));
	return 0;

err_unmap:
	pci_clear_master(pdev);
	pci_iounmap(pdev, edev->regs);
err_put:
	kref_put(&edev->ref, pmedu_release_dev);
err_release:
	pci_release_region(pdev, 0);
	return ret;
}

static void pmedu_remove(struct pci_dev *pdev)
{
	struct pmedu_dev *edev = pci_get_drvdata(pdev);

	misc_deregister(&edev->misc);
	/* Waits for a copy in progress: after this no DMA is started. */
	mutex_lock(&edev->lock);
	pci_clear_master(pdev);
	pci_iounmap(pdev, edev->regs);
	edev->regs = NULL;
	mutex_unlock(&edev->lock);
	pci_release_region(pdev, 0);
	kref_put(&edev->ref, pmedu_release_dev);
}

static const struct pci_device_id pmedu_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR, EDU_DEVICE) },	/* QEMU edu */
	{ }
};
MODULE_DEVICE_TABLE(pci, pmedu_ids);

static struct pci_driver pmedu_driver = {
	.name = KBUILD_MODNAME,
	.id_table = pmedu_ids,
	.probe = pmedu_probe,
	.remove = pmedu_remove,
};
module_pci_driver(pmedu_driver);

MODULE_DESCRIPTION("peermap reference importer: QEMU edu DMA engine");
MODULE_LICENSE("GPL");
