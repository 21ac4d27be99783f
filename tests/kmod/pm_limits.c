// SPDX-License-Identifier: GPL-2.0
/*
 * pm_limits: test-only client with small DMA segment limits. It lends a
 * real PCI device (the edu engine, whose driver must be idle meanwhile)
 * other limits for one peermap_map(), so that tests can check that
 * segments respect dma_get_max_seg_size() and dma_get_seg_boundary() for
 * device memory and RAM alike. Never part of the product.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/uaccess.h>

#include <peermap.h>

#include "pm_client.h"
#include "pm_limits.h"

/* Serialises the borrowing of a device's limits. */
static DEFINE_MUTEX(pm_limits_lock);

/* Nothing DMAs through these mappings: nothing to stop. */
static void pm_limits_invalidate(struct peermap_mapping *map, unsigned int why)
{
}

static const struct peermap_importer_ops pm_limits_ops = {
	.invalidate = pm_limits_invalidate,
};

static int pm_limits_copy_out(struct peermap_mapping *map,
			      struct pm_limits_map *req)
{
	struct peermap_seg __user *out = u64_to_user_ptr(req->segs);
	struct peermap_seg s = { 0 };
	unsigned int i;

	for (i = 0; i < map->nsegs && i < req->nsegs; i++) {
		s.addr = map->segs[i].addr;
		s.len = map->segs[i].len;
		s.flags = map->segs[i].flags;
		if (copy_to_user(&out[i], &s, sizeof(s)))
			return -EFAULT;
	}
	req->nsegs = map->nsegs;
	return 0;
}

static long pm_limits_map_ioctl(void __user *arg)
{
	unsigned long old_boundary;
	struct peermap_mapping *map;
	struct pm_limits_map req;
	unsigned int old_max;
	struct pci_dev *pdev;
	long ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.max_seg < PAGE_SIZE || req.boundary < PAGE_SIZE - 1)
		return -EINVAL;
	pdev = pm_client_get(req.client, sizeof(req.client));
	if (IS_ERR(pdev))
		return PTR_ERR(pdev);

	mutex_lock(&pm_limits_lock);
	old_max = dma_get_max_seg_size(&pdev->dev);
	old_boundary = dma_get_seg_boundary(&pdev->dev);
	dma_set_max_seg_size(&pdev->dev, req.max_seg);
	dma_set_seg_boundary(&pdev->dev, req.boundary);
	map = peermap_map(&pdev->dev, current->mm, req.addr, req.len,
			  PEERMAP_ACCESS_READ, PEERMAP_MAP_PINNED,
			  &pm_limits_ops, NULL);
	ret = PTR_ERR_OR_ZERO(map);
	if (!ret) {
		ret = pm_limits_copy_out(map, &req);
		peermap_unmap(map);
	}
	dma_set_max_seg_size(&pdev->dev, old_max);
	dma_set_seg_boundary(&pdev->dev, old_boundary);
	mutex_unlock(&pm_limits_lock);
	pci_dev_put(pdev);
	if (!ret && copy_to_user(arg, &req, sizeof(req)))
		ret = -EFAULT;
	return ret;
}

static long pm_limits_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	if (cmd == PM_LIMITS_IOC_MAP)
		return pm_limits_map_ioctl((void __user *)arg);
	return -ENOTTY;
}

static const struct file_operations pm_limits_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = pm_limits_ioctl,
};

static struct miscdevice pm_limits_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pm-limits",
	.fops = &pm_limits_fops,
	.mode = 0600,
};

module_misc_device(pm_limits_misc);

MODULE_DESCRIPTION("peermap test-only: a client with small DMA segment limits");
MODULE_LICENSE("GPL");
