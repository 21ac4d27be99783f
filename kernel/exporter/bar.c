// SPDX-License-Identifier: GPL-2.0
/*
 * peermap_bar: reference exporter for any PCI device with a large memory
 * BAR (GPU-like device memory). It binds QEMU's ivshmem-plain by default
 * and any other device through new_id. Per device: a character device
 * /dev/peermap-barN; ioctls create and destroy objects (page-aligned
 * ranges of the BAR); mmap of an object gives a write-combined CPU mapping
 * (one VMA per object); peermap's p2p callbacks give importers its DMA
 * addresses, answered from the object, not from the CPU page tables.
 *
 * Lifetime: an object is referenced by its handle in the fd that created
 * it, by every VMA mapping it, and by every peer mapping of it; its BAR
 * range returns to the allocator when the last reference goes. Objects and
 * open files reference the device state, which outlives a removed device.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/genalloc.h>
#include <linux/idr.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include <peermap.h>

#define PMBAR_MIN_BAR	SZ_1M	/* smaller memory BARs are registers */

struct pmbar_dev {
	struct kref ref;		/* probe, each open file, each object */
	struct pci_dev *pdev;		/* holds a pci_dev reference */
	int bar;
	resource_size_t bar_size;
	struct gen_pool *pool;		/* BAR offsets + 1 page; own lock */
	struct miscdevice misc;
	bool gone;			/* device removed: no new objects */
	int id;
	char name[24];			/* "peermap-barN" */
};

struct pmbar_obj {
	struct kref ref;		/* see the file comment */
	struct pmbar_dev *bdev;		/* holds a device reference */
	u64 offset;			/* in the BAR, page aligned */
	u64 size;			/* page multiple */
};

/* Objects of one open file, by handle (BAR offset >> PAGE_SHIFT). */
struct pmbar_file {
	struct pmbar_dev *bdev;		/* holds a device reference */
	struct xarray objs;		/* its lock protects lookup + get */
};

static DEFINE_IDA(pmbar_ida);
static const struct vm_operations_struct pmbar_vm_ops;

/*
 * gen_pool uses 0 as "no memory": the pool hands out BAR offsets shifted
 * by one page.
 */
#define POOL_BASE	PAGE_SIZE

static void pmbar_dev_release(struct kref *ref)
{
	struct pmbar_dev *bdev = container_of(ref, struct pmbar_dev, ref);

	gen_pool_destroy(bdev->pool);
	ida_free(&pmbar_ida, bdev->id);
	pci_dev_put(bdev->pdev);
	kfree(bdev);
}

static void pmbar_obj_release(struct kref *ref)
{
	struct pmbar_obj *obj = container_of(ref, struct pmbar_obj, ref);
	struct pmbar_dev *bdev = obj->bdev;

	gen_pool_free(bdev->pool, obj->offset + POOL_BASE, obj->size);
	kfree(obj);
	kref_put(&bdev->ref, pmbar_dev_release);
}

static void pmbar_obj_put(struct pmbar_obj *obj)
{
	kref_put(&obj->ref, pmbar_obj_release);
}

static int pmbar_open(struct inode *inode, struct file *file)
{
	struct pmbar_dev *bdev = container_of(file->private_data,
					      struct pmbar_dev, misc);
	struct pmbar_file *pf;

	pf = kzalloc(sizeof(*pf), GFP_KERNEL);
	if (!pf)
		return -ENOMEM;
	kref_get(&bdev->ref);
	pf->bdev = bdev;
	xa_init(&pf->objs);
	file->private_data = pf;
	return 0;
}

static int pmbar_release(struct inode *inode, struct file *file)
{
	struct pmbar_file *pf = file->private_data;
	struct pmbar_obj *obj;
	unsigned long idx;

	xa_for_each(&pf->objs, idx, obj) {
		xa_erase(&pf->objs, idx);
		pmbar_obj_put(obj);
	}
	xa_destroy(&pf->objs);
	kref_put(&pf->bdev->ref, pmbar_dev_release);
	kfree(pf);
	return 0;
}

static long pmbar_info(struct pmbar_file *pf, void __user *arg)
{
	struct pmbar_dev *bdev = pf->bdev;
	struct peermap_bar_info info = {
		.bar_size = bdev->bar_size,
		.bar_free = gen_pool_avail(bdev->pool),
		.bar_bus_addr = pci_bus_address(bdev->pdev, bdev->bar),
		.bar_index = bdev->bar,
	};

	strscpy(info.pci_name, pci_name(bdev->pdev), sizeof(info.pci_name));
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long pmbar_alloc(struct pmbar_file *pf, void __user *arg)
{
	struct pmbar_dev *bdev = pf->bdev;
	struct peermap_bar_alloc req;
	struct pmbar_obj *obj;
	unsigned long addr;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags || req.reserved)
		return -EINVAL;
	if (READ_ONCE(bdev->gone))
		return -ENODEV;
	if (!req.size || req.size > bdev->bar_size) {
		dev_info_ratelimited(&bdev->pdev->dev, "object of %llu bytes: must be 1..%llu\n",
				     req.size, (u64)bdev->bar_size);
		return req.size ? -E2BIG : -EINVAL;
	}
	obj = kzalloc(sizeof(*obj), GFP_KERNEL);
	if (!obj)
		return -ENOMEM;
	kref_init(&obj->ref);
	obj->size = PAGE_ALIGN(req.size);
	addr = gen_pool_alloc(bdev->pool, obj->size);
	if (!addr) {
		dev_info_ratelimited(&bdev->pdev->dev, "BAR%d full: %llu bytes asked, %zu free (fragmented or in use)\n",
				     bdev->bar, obj->size, gen_pool_avail(bdev->pool));
		kfree(obj);
		return -ENOSPC;
	}
	obj->offset = addr - POOL_BASE;
	kref_get(&bdev->ref);
	obj->bdev = bdev;

	req.handle = obj->offset >> PAGE_SHIFT;
	req.mmap_offset = obj->offset;
	req.alloc_size = obj->size;
	ret = xa_insert(&pf->objs, req.handle, obj, GFP_KERNEL);
	if (ret) {
		pmbar_obj_put(obj);
		return ret;
	}
	if (copy_to_user(arg, &req, sizeof(req))) {
		/*
		 * Another thread may have freed the handle (and the BAR range
		 * been reused under it) meanwhile: drop only our own entry.
		 */
		if (xa_cmpxchg(&pf->objs, req.handle, obj, NULL, 0) == obj)
			pmbar_obj_put(obj);
		return -EFAULT;
	}
	return 0;
}

static long pmbar_free(struct pmbar_file *pf, void __user *arg)
{
	struct peermap_bar_free req;
	struct pmbar_obj *obj;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.handle > ULONG_MAX)
		return -ENOENT;
	obj = xa_erase(&pf->objs, req.handle);
	if (!obj)
		return -ENOENT;
	pmbar_obj_put(obj);	/* mappings keep it alive until unmapped */
	return 0;
}

static long pmbar_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct pmbar_file *pf = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case PEERMAP_BAR_IOC_INFO:
		return pmbar_info(pf, uarg);
	case PEERMAP_BAR_IOC_ALLOC:
		return pmbar_alloc(pf, uarg);
	case PEERMAP_BAR_IOC_FREE:
		return pmbar_free(pf, uarg);
	default:
		return -ENOTTY;
	}
}

static int pmbar_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct pmbar_file *pf = file->private_data;
	struct pmbar_dev *bdev = pf->bdev;
	struct pmbar_obj *obj;
	int ret;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;		/* device memory cannot be private */
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (READ_ONCE(bdev->gone))
		return -ENODEV;
	xa_lock(&pf->objs);
	obj = xa_load(&pf->objs, vma->vm_pgoff);
	if (obj)
		kref_get(&obj->ref);
	xa_unlock(&pf->objs);
	if (!obj)
		return -ENOENT;
	if (vma->vm_end - vma->vm_start != obj->size) {
		ret = -EINVAL;		/* one VMA maps one whole object */
		goto err_put;
	}
	ret = peermap_mmap_bar(vma, bdev->pdev, bdev->bar, obj->offset);
	if (ret)
		goto err_put;
	vma->vm_private_data = obj;	/* the VMA's reference */
	vma->vm_ops = &pmbar_vm_ops;
	return 0;

err_put:
	pmbar_obj_put(obj);
	return ret;
}

/* A VMA split or fork copies vm_private_data: each copy holds a ref. */
static void pmbar_vm_open(struct vm_area_struct *vma)
{
	struct pmbar_obj *obj = vma->vm_private_data;

	kref_get(&obj->ref);
}

static void pmbar_vm_close(struct vm_area_struct *vma)
{
	pmbar_obj_put(vma->vm_private_data);
}

static const struct vm_operations_struct pmbar_vm_ops = {
	.open = pmbar_vm_open,
	.close = pmbar_vm_close,
};

static int pmbar_p2p_map(struct vm_area_struct *vma, unsigned long start,
			 unsigned long len, struct peermap_p2p_req *req)
{
	struct pmbar_obj *obj = vma->vm_private_data;
	struct pmbar_dev *bdev = obj->bdev;
	u64 off;
	int ret;

	/* A split VMA starts further into the object: vm_pgoff says where. */
	off = ((u64)vma->vm_pgoff << PAGE_SHIFT) - obj->offset +
	      (start - vma->vm_start);
	if (off >= obj->size || len > obj->size - off)
		return -EINVAL;
	ret = peermap_req_add_bar(req, bdev->pdev, bdev->bar,
				  obj->offset + off, len);
	if (ret)
		return ret;
	kref_get(&obj->ref);
	req->priv = obj;
	return 0;
}

static void pmbar_p2p_unmap(struct peermap_p2p_req *req)
{
	pmbar_obj_put(req->priv);
}

static struct peermap_exporter pmbar_exporter = {
	.name = "peermap_bar",
	.owner = THIS_MODULE,
	.vm_ops = &pmbar_vm_ops,
	.p2p_map = pmbar_p2p_map,
	.p2p_unmap = pmbar_p2p_unmap,
};

static const struct file_operations pmbar_fops = {
	.owner = THIS_MODULE,
	.open = pmbar_open,
	.release = pmbar_release,
	.unlocked_ioctl = pmbar_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = pmbar_mmap,
};

/* The largest memory BAR of at least PMBAR_MIN_BAR, or -ENODEV. */
static int pmbar_pick_bar(struct pci_dev *pdev)
{
	resource_size_t best = 0;
	int i, bar = -ENODEV;

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		if (!(pci_resource_flags(pdev, i) & IORESOURCE_MEM))
			continue;
		if (pci_resource_len(pdev, i) > best) {
			best = pci_resource_len(pdev, i);
			bar = i;
		}
	}
	return best >= PMBAR_MIN_BAR ? bar : -ENODEV;
}

static int pmbar_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct pmbar_dev *bdev;
	int ret, bar;

	bar = pmbar_pick_bar(pdev);
	if (bar < 0) {
		dev_err(&pdev->dev, "no memory BAR of at least %u bytes\n",
			PMBAR_MIN_BAR);
		return bar;
	}
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pci_request_region(pdev, bar, KBUILD_MODNAME);
	if (ret)
		return ret;

	bdev = kzalloc(sizeof(*bdev), GFP_KERNEL);
	if (!bdev) {
		pci_release_region(pdev, bar);
		return -ENOMEM;
	}
	kref_init(&bdev->ref);
	bdev->pdev = pci_dev_get(pdev);
	bdev->bar = bar;
	bdev->bar_size = pci_resource_len(pdev, bar);
	bdev->id = ida_alloc(&pmbar_ida, GFP_KERNEL);
	if (bdev->id < 0) {
		ret = bdev->id;
		pci_dev_put(pdev);
		kfree(bdev);
		pci_release_region(pdev, bar);
		return ret;
	}
	bdev->pool = gen_pool_create(PAGE_SHIFT, dev_to_node(&pdev->dev));
	if (!bdev->pool) {
		ret = -ENOMEM;
		goto err_put;
	}
	ret = gen_pool_add(bdev->pool, POOL_BASE, bdev->bar_size,
			   dev_to_node(&pdev->dev));
	if (ret)
		goto err_put;

	snprintf(bdev->name, sizeof(bdev->name), "peermap-bar%d", bdev->id);
	bdev->misc.minor = MISC_DYNAMIC_MINOR;
	bdev->misc.name = bdev->name;
	bdev->misc.fops = &pmbar_fops;
	bdev->misc.parent = &pdev->dev;
	bdev->misc.mode = 0600;
	ret = misc_register(&bdev->misc);
	if (ret)
		goto err_put;
	pci_set_drvdata(pdev, bdev);
	dev_info(&pdev->dev, "/dev/%s: BAR%d, %llu MiB at bus address %#llx\n",
		 bdev->name, bar, (u64)bdev->bar_size >> 20,
		 (u64)pci_bus_address(pdev, bar));
	return 0;

err_put:
	kref_put(&bdev->ref, pmbar_dev_release);
	pci_release_region(pdev, bar);
	return ret;
}

static void pmbar_remove(struct pci_dev *pdev)
{
	struct pmbar_dev *bdev = pci_get_drvdata(pdev);

	misc_deregister(&bdev->misc);
	WRITE_ONCE(bdev->gone, true);
	pci_release_region(pdev, bdev->bar);
	kref_put(&bdev->ref, pmbar_dev_release);
}

static const struct pci_device_id pmbar_ids[] = {
	{ PCI_DEVICE(0x1af4, 0x1110) },	/* QEMU ivshmem-plain */
	{ }
};
MODULE_DEVICE_TABLE(pci, pmbar_ids);

static struct pci_driver pmbar_driver = {
	.name = KBUILD_MODNAME,
	.id_table = pmbar_ids,
	.probe = pmbar_probe,
	.remove = pmbar_remove,
};

static int __init pmbar_init(void)
{
	int ret;

	ret = peermap_register_exporter(&pmbar_exporter);
	if (ret)
		return ret;
	ret = pci_register_driver(&pmbar_driver);
	if (ret)
		peermap_unregister_exporter(&pmbar_exporter);
	return ret;
}

static void __exit pmbar_exit(void)
{
	pci_unregister_driver(&pmbar_driver);
	peermap_unregister_exporter(&pmbar_exporter);
}

module_init(pmbar_init);
module_exit(pmbar_exit);

MODULE_DESCRIPTION("peermap reference exporter: objects in a PCI memory BAR");
MODULE_LICENSE("GPL");
