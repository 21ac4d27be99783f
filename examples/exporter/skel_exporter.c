// SPDX-License-Identifier: GPL-2.0
/*
 * skel_exporter: the smallest peermap exporter, to copy and grow into the
 * driver of a device that owns memory (a GPU's VRAM, an NVMe CMB, any
 * large memory BAR). It shows the contract with peermap.ko, nothing more:
 *
 * - register with the core: the vm_operations_struct of its VMAs is how
 *   the core recognises them in an importer's user range;
 * - mmap: one object per VMA, here simply the BAR range the mmap offset
 *   and length name (a real exporter allocates objects and finds them by
 *   the offset: kernel/exporter/bar.c). The CPU mapping is filled by a
 *   fault handler, so that it can be zapped;
 * - p2p_map / p2p_unmap: answer an importer with the BAR's DMA addresses
 *   for its device, from the driver's own state, never from page tables;
 * - revocation: before the memory changes hands (here: peer access turned
 *   off by an ioctl, or the device unbound), peermap_revoke() makes every
 *   importer stop its DMA and drop the addresses.
 *
 * Which device: a pci_driver with no ID table, bound by the administrator
 * through driver_override (README.md, "On your machine"). It binds no
 * device by itself, so loading it is harmless, and it binds exactly the
 * device named: new_id would take every device with that vendor:device.
 * As a real driver, it gets probe() and remove(), which a module parameter
 * naming a device (and poking it without binding it) would not: remove()
 * is where the exporter must take its memory back.
 *
 * Locking: skexp_dev.lock; the order is mmap lock (fault, p2p_map), then
 * skexp_dev.lock, then the core's locks (its mmu notifiers, reached from a
 * zap). It is never held around peermap_revoke().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/io.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include <peermap.h>

#include "skel_exporter.h"

static int bar = 2;
module_param(bar, int, 0444);
MODULE_PARM_DESC(bar, "the memory BAR to export (default 2: ivshmem-plain's, an NVMe CMB's)");

/**
 * struct skexp_dev - one bound PCI device and its exported BAR
 * @ref: references: probe (until remove), each open file, each peer piece.
 *	A VMA holds its file, so it holds the device through it.
 * @pdev: the device, with a reference.
 * @bar: the exported BAR.
 * @size: its length.
 * @rv: the live peer pieces of the device's memory, for peermap_revoke().
 *	One for the whole device, as this exporter only ever takes all of
 *	its memory back at once; one that moves single objects embeds one
 *	per object.
 * @lock: protects @gone, @peer_access, @nfiles and @inode. Held in the
 *	fault handler and p2p_map, around the zap; never around
 *	peermap_revoke().
 * @gone: the device is unbound: no mmap, fault or peer map any more.
 * @peer_access: peers may map the memory.
 * @nfiles: open files.
 * @inode: while files are open, the inode whose address space every file
 *	maps through, so one unmap_mapping_range() zaps every process.
 * @misc: /dev/skel_exporterN.
 * @id: N.
 * @name: "skel_exporterN".
 */
struct skexp_dev {
	struct kref ref;
	struct pci_dev *pdev;
	int bar;
	resource_size_t size;
	struct peermap_revocable rv;
	struct mutex lock;		/* gone, peer_access, nfiles, inode */
	bool gone;
	bool peer_access;
	unsigned int nfiles;
	struct inode *inode;
	struct miscdevice misc;
	int id;
	char name[24];
};

static DEFINE_IDA(skexp_ida);

/**
 * skexp_release() - free a device's state when its last reference goes
 * @ref: &skexp_dev.ref
 *
 * Context: any, also the core's mapping lock (the last peer piece's
 * p2p_unmap): frees only.
 */
static void skexp_release(struct kref *ref)
{
	struct skexp_dev *sd = container_of(ref, struct skexp_dev, ref);

	ida_free(&skexp_ida, sd->id);
	pci_dev_put(sd->pdev);
	kfree(sd);
}

/**
 * skexp_put() - drop a reference on a device's state
 * @sd: the device
 */
static void skexp_put(struct skexp_dev *sd)
{
	kref_put(&sd->ref, skexp_release);
}

/**
 * skexp_fault() - fill the CPU mapping of an object, one page per fault
 * @vmf: the fault
 *
 * The BAR page, write-combined (peermap_vma_prepare() set the protection,
 * probe reserved the memory type); SIGBUS once the device is gone.
 *
 * Context: the mmap lock is held.
 * Return: VM_FAULT_NOPAGE, VM_FAULT_SIGBUS, or vmf_insert_pfn_prot()'s.
 */
static vm_fault_t skexp_fault(struct vm_fault *vmf)
{
	struct skexp_dev *sd = vmf->vma->vm_private_data;
	unsigned long pfn;
	vm_fault_t ret = VM_FAULT_SIGBUS;

	/* vmf->pgoff is the page's offset in the BAR: mmap made it so. */
	pfn = (pci_resource_start(sd->pdev, sd->bar) >> PAGE_SHIFT) + vmf->pgoff;
	mutex_lock(&sd->lock);
	if (!sd->gone)
		ret = vmf_insert_pfn_prot(vmf->vma, vmf->address & PAGE_MASK,
					  pfn, vmf->vma->vm_page_prot);
	mutex_unlock(&sd->lock);
	return ret;
}

/*
 * The exporter's identity for the core. No open/close: the VMA's file
 * holds the device (skexp_open()), in copies made by fork and splits too.
 */
static const struct vm_operations_struct skexp_vm_ops = {
	.fault = skexp_fault,
};

/**
 * skexp_p2p_map() - give an importer the DMA addresses of an object's range
 * @vma: a VMA of this exporter
 * @start: first byte asked, inside @vma
 * @len: bytes asked, inside @vma
 * @req: the request: req->client is the importer's device
 *
 * Answered from the driver's state: the VMA's offset in the BAR (vm_pgoff,
 * right for a split VMA too) and the device's. The request is attached
 * under the lock that orders it against skexp_peer_access() and
 * skexp_remove(), so a revoke that follows a state change finds it.
 *
 * Context: the mmap lock is held for read; may sleep.
 * Return: 0, -ENODEV (device gone), -EPERM (peer access off), or
 * peermap_req_add_bar()'s error (-EREMOTEIO: no route to the client).
 */
static int skexp_p2p_map(struct vm_area_struct *vma, unsigned long start,
			 unsigned long len, struct peermap_p2p_req *req)
{
	struct skexp_dev *sd = vma->vm_private_data;
	u64 off = ((u64)vma->vm_pgoff << PAGE_SHIFT) + (start - vma->vm_start);
	int ret;

	mutex_lock(&sd->lock);
	if (sd->gone) {
		ret = -ENODEV;
	} else if (!sd->peer_access) {
		dev_info_ratelimited(&sd->pdev->dev, "peer access is off: %s refused\n",
				     dev_name(req->client));
		ret = -EPERM;
	} else {
		ret = peermap_req_add_bar(req, sd->pdev, sd->bar, off, len);
	}
	if (!ret) {
		peermap_req_attach(req, &sd->rv);
		kref_get(&sd->ref);	/* the piece's; p2p_unmap drops it */
		req->priv = sd;
	}
	mutex_unlock(&sd->lock);
	return ret;
}

/**
 * skexp_p2p_unmap() - the core tore a peer piece's DMA addresses down
 * @req: the request skexp_p2p_map() answered
 *
 * The memory is no longer used by that importer. Drop what p2p_map took.
 *
 * Context: may run under the core's mapping lock (an invalidation): no
 * allocation, no lock held around one or around peermap_revoke().
 */
static void skexp_p2p_unmap(struct peermap_p2p_req *req)
{
	skexp_put(req->priv);
}

static struct peermap_exporter skexp_exporter = {
	.name = KBUILD_MODNAME,
	.owner = THIS_MODULE,
	.vm_ops = &skexp_vm_ops,
	.p2p_map = skexp_p2p_map,
	.p2p_unmap = skexp_p2p_unmap,
};

/**
 * skexp_open() - open /dev/skel_exporterN
 * @inode: the device node's inode
 * @file: the new file
 *
 * Every file maps through the address space of the first one's inode
 * (held until the last file closes), so that removal zaps them all.
 *
 * Return: 0.
 */
static int skexp_open(struct inode *inode, struct file *file)
{
	struct skexp_dev *sd = container_of(file->private_data,
					    struct skexp_dev, misc);

	kref_get(&sd->ref);
	file->private_data = sd;
	mutex_lock(&sd->lock);
	if (sd->nfiles++ == 0)
		sd->inode = igrab(inode);
	file->f_mapping = sd->inode->i_mapping;
	mutex_unlock(&sd->lock);
	return 0;
}

/**
 * skexp_close() - the last reference to an open file went
 * @inode: the device node's inode
 * @file: the file
 *
 * Return: 0.
 */
static int skexp_close(struct inode *inode, struct file *file)
{
	struct skexp_dev *sd = file->private_data;

	mutex_lock(&sd->lock);
	if (--sd->nfiles == 0) {
		iput(sd->inode);
		sd->inode = NULL;
	}
	mutex_unlock(&sd->lock);
	skexp_put(sd);
	return 0;
}

/**
 * skexp_mmap() - map one object: BAR bytes [offset, offset + length)
 * @file: an open /dev/skel_exporterN
 * @vma: the new VMA; vm_pgoff is the object's offset in the BAR, in pages
 *
 * Only prepared here (peermap_vma_prepare(): VM_IO | VM_PFNMAP, no exec,
 * write-combined); skexp_fault() fills it.
 *
 * Context: the mmap lock is held for write.
 * Return: 0, -EINVAL (private mapping, range outside the BAR), -EPERM
 * (executable), -ENODEV (device gone).
 */
static int skexp_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct skexp_dev *sd = file->private_data;
	unsigned long pages = sd->size >> PAGE_SHIFT;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;	/* a private copy of device memory is none */
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (vma->vm_pgoff >= pages || vma_pages(vma) > pages - vma->vm_pgoff)
		return -EINVAL;
	if (READ_ONCE(sd->gone))	/* a hint: the fault handler decides */
		return -ENODEV;
	peermap_vma_prepare(vma);
	vma->vm_ops = &skexp_vm_ops;
	vma->vm_private_data = sd;
	return 0;
}

/**
 * skexp_peer_access() - turn peer access on or off
 * @sd: the device
 * @on: 1 on, 0 off
 *
 * The exporter changes its state first, then revokes: every importer
 * stops its DMA and loses its addresses before this returns, and maps
 * again under the new state (or is refused).
 *
 * Context: may sleep; no lock of this driver held.
 * Return: 0, or -EINVAL for another @on.
 */
static long skexp_peer_access(struct skexp_dev *sd, unsigned long on)
{
	if (on > 1)
		return -EINVAL;
	mutex_lock(&sd->lock);
	sd->peer_access = on;
	mutex_unlock(&sd->lock);
	peermap_revoke(&sd->rv, PEERMAP_INVAL_REVOKE);
	return 0;
}

/**
 * skexp_ioctl() - the device's ioctls (skel_exporter.h)
 * @file: an open /dev/skel_exporterN
 * @cmd: SKEL_EXPORTER_IOC_*
 * @arg: its argument
 *
 * Return: the ioctl's answer, or -ENOTTY for an unknown one.
 */
static long skexp_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	if (cmd == SKEL_EXPORTER_IOC_PEER_ACCESS)
		return skexp_peer_access(file->private_data, arg);
	return -ENOTTY;
}

static const struct file_operations skexp_fops = {
	.owner = THIS_MODULE,
	.open = skexp_open,
	.release = skexp_close,
	.unlocked_ioctl = skexp_ioctl,
	.compat_ioctl = skexp_ioctl,	/* its argument is a number */
	.mmap = skexp_mmap,
};

/**
 * skexp_probe() - take a device the administrator bound to this driver
 * @pdev: the device
 * @id: pci_device_id_any: matched through driver_override
 *
 * Context: may sleep.
 * Return: 0, or -errno (with a log line when the BAR does not fit).
 */
static int skexp_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct skexp_dev *sd;
	int ret;

	if (bar < 0 || bar >= PCI_STD_NUM_BARS ||
	    !(pci_resource_flags(pdev, bar) & IORESOURCE_MEM) ||
	    pci_resource_len(pdev, bar) < PAGE_SIZE) {
		dev_err(&pdev->dev, "BAR%d is no memory BAR: load %s with bar=N\n",
			bar, KBUILD_MODNAME);
		return -ENODEV;
	}
	sd = kzalloc(sizeof(*sd), GFP_KERNEL);
	if (!sd)
		return -ENOMEM;
	sd->id = ida_alloc(&skexp_ida, GFP_KERNEL);
	if (sd->id < 0) {
		ret = sd->id;
		kfree(sd);
		return ret;
	}
	/* From here on, skexp_put() undoes the state. */
	kref_init(&sd->ref);
	sd->pdev = pci_dev_get(pdev);
	sd->bar = bar;
	sd->size = pci_resource_len(pdev, bar);
	sd->peer_access = true;
	peermap_revocable_init(&sd->rv);
	mutex_init(&sd->lock);

	ret = pcim_enable_device(pdev);
	if (ret)
		goto err_put;
	ret = pci_request_region(pdev, bar, KBUILD_MODNAME);
	if (ret)
		goto err_put;
	/* The CPU maps it write-combined: reserve that memory type. */
	ret = arch_io_reserve_memtype_wc(pci_resource_start(pdev, bar), sd->size);
	if (ret)
		goto err_release_region;

	snprintf(sd->name, sizeof(sd->name), "skel_exporter%d", sd->id);
	sd->misc.minor = MISC_DYNAMIC_MINOR;
	sd->misc.name = sd->name;
	sd->misc.fops = &skexp_fops;
	sd->misc.parent = &pdev->dev;
	sd->misc.mode = 0600;
	ret = misc_register(&sd->misc);
	if (ret)
		goto err_free_memtype;
	pci_set_drvdata(pdev, sd);
	dev_info(&pdev->dev, "/dev/%s: BAR%d, %llu KiB\n", sd->name, bar,
		 (u64)sd->size >> 10);
	return 0;

err_free_memtype:
	arch_io_free_memtype_wc(pci_resource_start(pdev, bar), sd->size);
err_release_region:
	pci_release_region(pdev, bar);
err_put:
	skexp_put(sd);
	return ret;
}

/**
 * skexp_remove() - the device goes (unbind, hot-unplug, rmmod)
 * @pdev: the device
 *
 * Take the memory back before letting the BAR go: mark the device gone
 * (no new mmap, fault or peer map), revoke every peer (they stop their DMA
 * before peermap_revoke() returns), zap every CPU mapping (the next access
 * is SIGBUS). Open files and VMAs keep the state, not the BAR.
 *
 * Context: may sleep.
 */
static void skexp_remove(struct pci_dev *pdev)
{
	struct skexp_dev *sd = pci_get_drvdata(pdev);

	misc_deregister(&sd->misc);
	mutex_lock(&sd->lock);
	sd->gone = true;
	mutex_unlock(&sd->lock);
	peermap_revoke(&sd->rv, PEERMAP_INVAL_REMOVE);
	mutex_lock(&sd->lock);
	if (sd->inode)
		unmap_mapping_range(sd->inode->i_mapping, 0, 0, 1);
	mutex_unlock(&sd->lock);
	arch_io_free_memtype_wc(pci_resource_start(pdev, sd->bar), sd->size);
	pci_release_region(pdev, sd->bar);
	skexp_put(sd);
}

/* No IDs: it binds only the devices an administrator names (see above). */
static struct pci_driver skexp_driver = {
	.name = KBUILD_MODNAME,
	.probe = skexp_probe,
	.remove = skexp_remove,
};

/**
 * skexp_init() - register with peermap, then as a PCI driver
 *
 * In this order, so that no VMA exists before the core knows its vm_ops.
 *
 * Return: 0 or -errno.
 */
static int __init skexp_init(void)
{
	int ret = peermap_register_exporter(&skexp_exporter);

	if (ret)
		return ret;
	ret = pci_register_driver(&skexp_driver);
	if (ret)
		peermap_unregister_exporter(&skexp_exporter);
	return ret;
}

/**
 * skexp_exit() - unbind every device (remove()), then leave peermap
 *
 * Peer pieces hold this module, so it cannot go while one is mapped.
 */
static void __exit skexp_exit(void)
{
	pci_unregister_driver(&skexp_driver);
	peermap_unregister_exporter(&skexp_exporter);
}

module_init(skexp_init);
module_exit(skexp_exit);

MODULE_DESCRIPTION("peermap skeleton exporter: a PCI memory BAR, one object per VMA");
MODULE_LICENSE("GPL");
