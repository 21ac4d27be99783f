// SPDX-License-Identifier: GPL-2.0
/*
 * skel_importer: the smallest peermap importer, to copy into the driver of
 * a device that does DMA (a NIC, an NVMe controller, a DMA engine) so that
 * it can DMA to any user range: RAM, or another device's memory mmapped by
 * a peermap exporter, or both. It shows the contract with peermap.ko:
 *
 * - peermap_map() a user range for its struct device (here from a misc
 *   device's ioctl; a real driver does it where it registers memory);
 * - walk the segments into the device's descriptors, under the lock the
 *   invalidate callback takes, while peermap_mapping_valid();
 * - the invalidate callback: stop the DMA before returning, because the
 *   addresses are torn down when it returns;
 * - peermap_remap() before the next use, peermap_unmap() at the end; and
 *   no mapping outlives the device (remove()).
 *
 * The "engine" here is a flag and a descriptor table handed back to user
 * space; where a real driver touches its hardware, a comment says so.
 *
 * Which device: a pci_driver with no ID table, bound by the administrator
 * through driver_override (README.md), as the skeleton exporter is; your
 * driver has its own ID table and calls peermap_map() for its own device.
 *
 * Locking: skimp_dev.lock, then (inside the core) the mapping's lock, then
 * skimp_dev.dma_lock: the callback runs under the mapping's lock and takes
 * dma_lock, so dma_lock is never held around peermap_map(),
 * peermap_remap(), peermap_unmap() or an allocation.
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
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <peermap.h>

#include "skel_importer.h"

/**
 * struct skimp_dev - one bound PCI device: the importer's DMA device
 * @ref: references: probe (until remove), each open file.
 * @pdev: the device, with a reference.
 * @lock: protects @map, @owner and @gone; held around peermap_map(),
 *	peermap_remap() and peermap_unmap(), so they never race. Never
 *	taken by the invalidate callback.
 * @map: the mapping, or NULL.
 * @owner: the file that made @map (compared, not held).
 * @gone: the device is unbound: no new mapping.
 * @dma_lock: protects the engine: @running, @invalidations, @last_why.
 *	Held while the engine is loaded from the segments and (in a real
 *	driver) while it may use them; taken by the invalidate callback.
 *	Never held around an allocation.
 * @running: the engine runs on @map's segments.
 * @invalidations: invalidate callbacks since @map was made.
 * @last_why: PEERMAP_INVAL_* of the last one.
 * @misc: /dev/skel_importerN.
 * @id: N.
 * @name: "skel_importerN".
 */
struct skimp_dev {
	struct kref ref;
	struct pci_dev *pdev;
	struct mutex lock;		/* map, owner, gone */
	struct peermap_mapping *map;
	struct file *owner;
	bool gone;
	struct mutex dma_lock;		/* running, invalidations, last_why */
	bool running;
	u64 invalidations;
	u32 last_why;
	struct miscdevice misc;
	int id;
	char name[24];
};

static DEFINE_IDA(skimp_ida);

/**
 * skimp_release() - free a device's state when its last reference goes
 * @ref: &skimp_dev.ref
 */
static void skimp_release(struct kref *ref)
{
	struct skimp_dev *idev = container_of(ref, struct skimp_dev, ref);

	ida_free(&skimp_ida, idev->id);
	pci_dev_put(idev->pdev);
	kfree(idev);
}

/**
 * skimp_invalidate() - peermap takes the mapping's addresses away
 * @map: the mapping; map->priv is the device
 * @why: PEERMAP_INVAL_*: revoked by its exporter, device removed, munmap...
 *
 * Stop every DMA to the segments before returning: they are torn down
 * (IOVAs unmapped, the exporter told) as soon as this returns. Taking
 * dma_lock waits for whoever is loading or using them.
 *
 * Context: under the mapping's lock, maybe from an mmu notifier (also in
 * reclaim): may sleep, must not allocate nor take a lock held around an
 * allocation.
 */
static void skimp_invalidate(struct peermap_mapping *map, unsigned int why)
{
	struct skimp_dev *idev = map->priv;

	mutex_lock(&idev->dma_lock);
	/*
	 * Real hardware: stop the engine and wait until it is idle; if it
	 * wrote RAM, peermap_sync_range_for_cpu() the bytes it wrote.
	 */
	idev->running = false;
	idev->invalidations++;
	idev->last_why = why;
	mutex_unlock(&idev->dma_lock);
}

static const struct peermap_importer_ops skimp_ops = {
	.invalidate = skimp_invalidate,
};

/**
 * skimp_map() - map a user range of the calling process for the device
 * @idev: the device
 * @file: the caller's file, which will own the mapping
 * @uarg: struct skel_importer_map
 *
 * Context: may sleep.
 * Return: 0, -EFAULT, -ENODEV (device gone), -EBUSY (a mapping exists),
 * or peermap_map()'s error.
 */
static long skimp_map(struct skimp_dev *idev, struct file *file,
		      void __user *uarg)
{
	struct skel_importer_map req;
	struct peermap_mapping *map;
	long ret = 0;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	mutex_lock(&idev->lock);
	if (idev->gone) {
		ret = -ENODEV;
	} else if (idev->map) {
		ret = -EBUSY;
	} else {
		/* Before: the callback may run as soon as the mapping exists. */
		mutex_lock(&idev->dma_lock);
		idev->invalidations = 0;
		idev->last_why = PEERMAP_INVAL_NONE;
		mutex_unlock(&idev->dma_lock);
		/* access and flags are checked by the core (-EINVAL). */
		map = peermap_map(&idev->pdev->dev, current->mm, req.addr,
				  req.len, req.access, req.flags, &skimp_ops, idev);
		if (IS_ERR(map)) {
			ret = PTR_ERR(map);
		} else {
			idev->map = map;
			idev->owner = file;
		}
	}
	mutex_unlock(&idev->lock);
	return ret;
}

/**
 * skimp_load() - load the engine's descriptors from the segments, start it
 * @idev: the device, dma_lock held, its mapping valid
 * @st: the descriptor table, for the caller
 *
 * Context: dma_lock held: the callback is held off, the segments stay.
 * Return: 0, or -E2BIG if there are more segments than descriptors.
 */
static int skimp_load(struct skimp_dev *idev, struct skel_importer_start *st)
{
	struct peermap_mapping *map = idev->map;
	unsigned int i;

	if (map->nsegs > SKEL_IMPORTER_MAX_DESC)
		return -E2BIG;
	for (i = 0; i < map->nsegs; i++) {
		st->desc[i].addr = map->segs[i].addr;
		st->desc[i].len = map->segs[i].len;
		st->desc[i].flags = map->segs[i].flags;
	}
	st->ndesc = map->nsegs;
	/* CPU writes to RAM in the range reach the device before it reads. */
	peermap_sync_for_device(map);
	/* Real hardware: write the descriptors, ring the doorbell. */
	idev->running = true;
	return 0;
}

/**
 * skimp_start() - resolve the file's mapping if needed, start the engine
 * @idev: the device
 * @file: the caller's file
 * @uarg: struct skel_importer_start, filled
 *
 * An invalidation may come between peermap_remap() and taking dma_lock:
 * then the mapping is no longer valid, and it is resolved again.
 *
 * Context: may sleep.
 * Return: 0, -ENODEV (device gone), -ENOENT (no mapping of this file),
 * -E2BIG, -EINTR (fatal signal), -EFAULT, or peermap_remap()'s error.
 */
static long skimp_start(struct skimp_dev *idev, struct file *file,
			void __user *uarg)
{
	struct skel_importer_start st = {};
	long ret = -EAGAIN;

	mutex_lock(&idev->lock);
	if (idev->gone)
		ret = -ENODEV;
	else if (!idev->map || idev->owner != file)
		ret = -ENOENT;
	while (ret == -EAGAIN) {
		ret = peermap_remap(idev->map);	/* no-op while valid */
		if (ret)
			break;
		mutex_lock(&idev->dma_lock);
		if (peermap_mapping_valid(idev->map))
			ret = skimp_load(idev, &st);
		else if (fatal_signal_pending(current))
			ret = -EINTR;
		else
			ret = -EAGAIN;	/* invalidated meanwhile: again */
		mutex_unlock(&idev->dma_lock);
	}
	mutex_unlock(&idev->lock);
	if (!ret && copy_to_user(uarg, &st, sizeof(st)))
		ret = -EFAULT;
	return ret;
}

/**
 * skimp_unmap_locked() - stop the engine and end the mapping
 * @idev: the device, lock held, with a mapping
 *
 * peermap_unmap() calls no callback: the driver stops its DMA first.
 */
static void skimp_unmap_locked(struct skimp_dev *idev)
{
	mutex_lock(&idev->dma_lock);
	idev->running = false;	/* real hardware: stop, wait for idle */
	mutex_unlock(&idev->dma_lock);
	peermap_unmap(idev->map);
	idev->map = NULL;
	idev->owner = NULL;
}

/**
 * skimp_unmap() - SKEL_IMPORTER_IOC_UNMAP
 * @idev: the device
 * @file: the caller's file
 *
 * Return: 0, or -ENOENT if this file has no mapping.
 */
static long skimp_unmap(struct skimp_dev *idev, struct file *file)
{
	long ret = -ENOENT;

	mutex_lock(&idev->lock);
	if (idev->map && idev->owner == file) {
		skimp_unmap_locked(idev);
		ret = 0;
	}
	mutex_unlock(&idev->lock);
	return ret;
}

/**
 * skimp_status() - SKEL_IMPORTER_IOC_STATUS: the engine and the callbacks
 * @idev: the device
 * @uarg: struct skel_importer_status, filled
 *
 * Return: 0 or -EFAULT.
 */
static long skimp_status(struct skimp_dev *idev, void __user *uarg)
{
	struct skel_importer_status st = {};

	mutex_lock(&idev->dma_lock);
	st.running = idev->running;
	st.invalidations = idev->invalidations;
	st.last_why = idev->last_why;
	mutex_unlock(&idev->dma_lock);
	return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
}

/**
 * skimp_ioctl() - the device's ioctls (skel_importer.h)
 * @file: an open /dev/skel_importerN
 * @cmd: SKEL_IMPORTER_IOC_*
 * @arg: its argument
 *
 * Return: the ioctl's answer, or -ENOTTY for an unknown one.
 */
static long skimp_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct skimp_dev *idev = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case SKEL_IMPORTER_IOC_MAP:
		return skimp_map(idev, file, uarg);
	case SKEL_IMPORTER_IOC_START:
		return skimp_start(idev, file, uarg);
	case SKEL_IMPORTER_IOC_STATUS:
		return skimp_status(idev, uarg);
	case SKEL_IMPORTER_IOC_UNMAP:
		return skimp_unmap(idev, file);
	default:
		return -ENOTTY;
	}
}

/**
 * skimp_open() - open /dev/skel_importerN
 * @inode: the device node's inode
 * @file: the new file
 *
 * Return: 0.
 */
static int skimp_open(struct inode *inode, struct file *file)
{
	struct skimp_dev *idev = container_of(file->private_data,
					      struct skimp_dev, misc);

	kref_get(&idev->ref);
	file->private_data = idev;
	return 0;
}

/**
 * skimp_close() - the last reference to an open file went: its mapping ends
 * @inode: the device node's inode
 * @file: the file
 *
 * Return: 0.
 */
static int skimp_close(struct inode *inode, struct file *file)
{
	struct skimp_dev *idev = file->private_data;

	skimp_unmap(idev, file);
	kref_put(&idev->ref, skimp_release);
	return 0;
}

static const struct file_operations skimp_fops = {
	.owner = THIS_MODULE,
	.open = skimp_open,
	.release = skimp_close,
	.unlocked_ioctl = skimp_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

/**
 * skimp_probe() - take a device the administrator bound to this driver
 * @pdev: the device
 * @id: pci_device_id_any: matched through driver_override
 *
 * Context: may sleep.
 * Return: 0 or -errno.
 */
static int skimp_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct skimp_dev *idev;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	/* What the device can address; segments are made to fit it. */
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	pci_set_master(pdev);

	idev = kzalloc(sizeof(*idev), GFP_KERNEL);
	if (!idev)
		return -ENOMEM;
	idev->id = ida_alloc(&skimp_ida, GFP_KERNEL);
	if (idev->id < 0) {
		ret = idev->id;
		kfree(idev);
		return ret;
	}
	kref_init(&idev->ref);
	idev->pdev = pci_dev_get(pdev);
	mutex_init(&idev->lock);
	mutex_init(&idev->dma_lock);
	snprintf(idev->name, sizeof(idev->name), "skel_importer%d", idev->id);
	idev->misc.minor = MISC_DYNAMIC_MINOR;
	idev->misc.name = idev->name;
	idev->misc.fops = &skimp_fops;
	idev->misc.parent = &pdev->dev;
	idev->misc.mode = 0600;	/* descriptors hold bus addresses */
	ret = misc_register(&idev->misc);
	if (ret) {
		kref_put(&idev->ref, skimp_release);
		return ret;
	}
	pci_set_drvdata(pdev, idev);
	dev_info(&pdev->dev, "/dev/%s\n", idev->name);
	return 0;
}

/**
 * skimp_remove() - the device goes: end its mapping first
 * @pdev: the device
 *
 * No mapping may outlive the device (its DMA addresses, its IOMMU domain
 * go with it): the engine is stopped and the mapping ended here; the
 * file that made it sees -ENODEV from then on.
 *
 * Context: may sleep.
 */
static void skimp_remove(struct pci_dev *pdev)
{
	struct skimp_dev *idev = pci_get_drvdata(pdev);

	misc_deregister(&idev->misc);
	mutex_lock(&idev->lock);
	idev->gone = true;
	if (idev->map)
		skimp_unmap_locked(idev);
	mutex_unlock(&idev->lock);
	kref_put(&idev->ref, skimp_release);
}

/* No IDs: it binds only the devices an administrator names. */
static struct pci_driver skimp_driver = {
	.name = KBUILD_MODNAME,
	.probe = skimp_probe,
	.remove = skimp_remove,
};
module_pci_driver(skimp_driver);

MODULE_DESCRIPTION("peermap skeleton importer: DMA to user ranges through peermap_map()");
MODULE_LICENSE("GPL");
