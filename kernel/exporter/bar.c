// SPDX-License-Identifier: GPL-2.0
/*
 * peermap_bar: reference exporter for any PCI device with a large memory
 * BAR (GPU-like device memory). It binds QEMU's ivshmem-plain by default
 * and any other device through new_id. Per device: a character device
 * /dev/peermap-barN; ioctls create and destroy objects (page-aligned
 * ranges of the BAR); mmap of an object gives a write-combined CPU mapping
 * (one VMA per object, filled by its fault handler); peermap's p2p
 * callbacks give importers its DMA addresses, answered from the object,
 * not from the CPU page tables.
 *
 * The exporter stays in control of each object: a policy (deny a client,
 * read-only for peers, CPU access off), eviction to system memory and
 * restore (importers are revoked first, CPU mappings zapped, the next
 * fault or peer map lands on the new place: fallback segments while
 * evicted), and device removal revokes and zaps everything.
 *
 * Lifetime: an object is referenced by its handle in the fd that created
 * it, by every VMA mapping it, and by every peer mapping of it; its BAR
 * range returns to the allocator when the last reference goes. Objects and
 * open files reference the device state, which outlives a removed device.
 *
 * Lock order: mmap lock (fault, p2p_map), then pmbar_obj.lock, then
 * pmbar_dev.files_lock (zap), then the core's mapping locks (the zap's mmu
 * notifiers; peermap_revoke() is called without obj.lock). objs_lock is a
 * leaf.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/genalloc.h>
#include <linux/idr.h>
#include <linux/kref.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include <peermap.h>
#include <uapi/peermap/version.h>

#include "bar.h"

static DEFINE_IDA(pmbar_ida);

static void pmbar_dev_release(struct kref *ref)
{
	struct pmbar_dev *bdev = container_of(ref, struct pmbar_dev, ref);

	gen_pool_destroy(bdev->pool);
	ida_free(&pmbar_ida, bdev->id);
	pci_dev_put(bdev->pdev);
	kfree(bdev);
}

static void pmbar_sysmem_release(struct kref *ref)
{
	struct pmbar_sysmem *mem = container_of(ref, struct pmbar_sysmem, ref);
	unsigned long i;

	for (i = 0; i < mem->npages; i++)
		if (mem->pages[i])
			__free_page(mem->pages[i]);
	kvfree(mem);
}

void pmbar_sysmem_put(struct pmbar_sysmem *mem)
{
	if (mem)
		kref_put(&mem->ref, pmbar_sysmem_release);
}

static struct pmbar_sysmem *pmbar_sysmem_alloc(u64 size)
{
	unsigned long i, n = size >> PAGE_SHIFT;
	struct pmbar_sysmem *mem;

	mem = kvzalloc(struct_size(mem, pages, n), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!mem)
		return NULL;
	kref_init(&mem->ref);
	mem->npages = n;
	for (i = 0; i < n; i++) {
		mem->pages[i] = alloc_page(GFP_HIGHUSER);
		if (!mem->pages[i]) {
			pmbar_sysmem_put(mem);
			return NULL;
		}
	}
	return mem;
}

/*
 * May run from a peer piece's teardown under the core's mapping lock:
 * frees, takes only leaf locks.
 */
static void pmbar_obj_release(struct kref *ref)
{
	struct pmbar_obj *obj = container_of(ref, struct pmbar_obj, ref);
	struct pmbar_dev *bdev = obj->bdev;

	spin_lock(&bdev->objs_lock);
	list_del(&obj->node);
	spin_unlock(&bdev->objs_lock);
	gen_pool_free(bdev->pool, obj->offset + PMBAR_POOL_BASE, obj->size);
	pmbar_sysmem_put(obj->mem);
	kfree(obj);
	kref_put(&bdev->ref, pmbar_dev_release);
}

void pmbar_obj_put(struct pmbar_obj *obj)
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
	mutex_lock(&bdev->files_lock);
	if (!bdev->open_files++)
		bdev->inode = igrab(inode);
	file->f_mapping = bdev->inode->i_mapping;
	mutex_unlock(&bdev->files_lock);
	return 0;
}

/* Zap every CPU mapping of @obj; the next access faults. */
void pmbar_obj_zap(struct pmbar_obj *obj)
{
	struct pmbar_dev *bdev = obj->bdev;

	mutex_lock(&bdev->files_lock);
	if (bdev->inode)	/* no open file: no VMA either */
		unmap_mapping_range(bdev->inode->i_mapping, obj->offset,
				    obj->size, 1);
	mutex_unlock(&bdev->files_lock);
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
	mutex_lock(&pf->bdev->files_lock);
	if (!--pf->bdev->open_files) {
		iput(pf->bdev->inode);
		pf->bdev->inode = NULL;
	}
	mutex_unlock(&pf->bdev->files_lock);
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
	obj = kzalloc(sizeof(*obj), GFP_KERNEL_ACCOUNT);
	if (!obj)
		return -ENOMEM;
	kref_init(&obj->ref);
	mutex_init(&obj->lock);
	mutex_init(&obj->place_lock);
	peermap_revocable_init(&obj->rv);
	peermap_revocable_init(&obj->rv_dmabuf);
	obj->state = PEERMAP_OBJ_RESIDENT;
	obj->size = PAGE_ALIGN(req.size);
	addr = gen_pool_alloc(bdev->pool, obj->size);
	if (!addr) {
		dev_info_ratelimited(&bdev->pdev->dev, "BAR%d full: %llu bytes asked, %zu free (fragmented or in use)\n",
				     bdev->bar, obj->size, gen_pool_avail(bdev->pool));
		kfree(obj);
		return -ENOSPC;
	}
	obj->offset = addr - PMBAR_POOL_BASE;
	kref_get(&bdev->ref);
	obj->bdev = bdev;
	spin_lock(&bdev->objs_lock);
	list_add_tail(&obj->node, &bdev->objs);
	ret = bdev->gone ? -ENODEV : 0;
	spin_unlock(&bdev->objs_lock);
	if (ret) {
		pmbar_obj_put(obj);
		return ret;
	}

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

/* The object of @handle in @pf, with a reference, or NULL. */
struct pmbar_obj *pmbar_obj_get(struct pmbar_file *pf, u64 handle)
{
	struct pmbar_obj *obj;

	if (handle > ULONG_MAX)
		return NULL;
	xa_lock(&pf->objs);
	obj = xa_load(&pf->objs, handle);
	if (obj)
		kref_get(&obj->ref);
	xa_unlock(&pf->objs);
	return obj;
}

/* Copy an object between the BAR and system memory, page by page. */
static void pmbar_copy(struct pmbar_obj *obj, struct pmbar_sysmem *mem,
		       bool to_ram)
{
	void __iomem *bar = obj->bdev->kva + obj->offset;
	unsigned long i;
	void *va;

	for (i = 0; i < mem->npages; i++) {
		va = kmap_local_page(mem->pages[i]);
		if (to_ram)
			memcpy_fromio(va, bar + i * PAGE_SIZE, PAGE_SIZE);
		else
			memcpy_toio(bar + i * PAGE_SIZE, va, PAGE_SIZE);
		kunmap_local(va);
		cond_resched();
	}
}

/* Every importer of the object: its VMAs' peers and its dma-bufs'. */
void pmbar_obj_revoke(struct pmbar_obj *obj, unsigned int why)
{
	peermap_revoke(&obj->rv, why);
	peermap_revoke(&obj->rv_dmabuf, why);
}

/*
 * Move an object out of the BAR (evict) or back (restore): peers are
 * revoked first (they wait with -EAGAIN meanwhile), then, under the
 * object's lock, CPU mappings are zapped and the content copied; the next
 * fault or peer map finds the new place.
 */
int pmbar_move(struct pmbar_obj *obj, bool evict)
{
	struct pmbar_sysmem *mem = NULL, *old = NULL;
	u32 from = evict ? PEERMAP_OBJ_RESIDENT : PEERMAP_OBJ_EVICTED;
	int ret = 0;
	u64 t0;

	if (evict) {
		mem = pmbar_sysmem_alloc(obj->size);
		if (!mem)
			return -ENOMEM;
	}
	mutex_lock(&obj->lock);
	if (obj->moving) {
		ret = -EBUSY;
	} else if (obj->state == PEERMAP_OBJ_GONE) {
		ret = -ENODEV;
	} else if (obj->state != from) {
		ret = -EALREADY;
	} else if (obj->pins) {
		dev_info_ratelimited(&obj->bdev->pdev->dev, "object at %#llx: %u dma-buf importer(s) pinned it in device memory: not moved\n",
				     obj->offset, obj->pins);
		ret = -EBUSY;
	} else if (!evict && obj->ram_importers) {
		dev_info_ratelimited(&obj->bdev->pdev->dev, "object at %#llx: %u dma-buf importer(s) that cannot take device memory hold it in system memory: not restored\n",
				     obj->offset, obj->ram_importers);
		ret = -EBUSY;
	} else {
		obj->moving = true;
	}
	mutex_unlock(&obj->lock);
	if (ret) {
		pmbar_sysmem_put(mem);
		return ret;
	}

	t0 = ktime_get_ns();
	pmbar_obj_revoke(obj, PEERMAP_INVAL_REVOKE);
	t0 = ktime_get_ns() - t0;

	mutex_lock(&obj->lock);
	obj->last_revoke_ns = t0;
	pmbar_obj_zap(obj);
	if (obj->bdev->gone) {
		/* removed meanwhile: remove() could not mark it while moving */
		obj->state = PEERMAP_OBJ_GONE;
		old = mem;
		ret = -ENODEV;
	} else if (evict) {
		pmbar_copy(obj, mem, true);
		obj->mem = mem;
		obj->state = PEERMAP_OBJ_EVICTED;
		obj->evictions++;
	} else {
		pmbar_copy(obj, obj->mem, false);
		old = obj->mem;
		obj->mem = NULL;
		obj->state = PEERMAP_OBJ_RESIDENT;
		obj->auto_evicted = false;
	}
	obj->revokes++;
	obj->moving = false;
	mutex_unlock(&obj->lock);
	pmbar_sysmem_put(old);	/* peer pieces may still hold it */
	return ret;
}

static long pmbar_move_ioctl(struct pmbar_file *pf, void __user *arg,
			     bool evict)
{
	struct peermap_bar_move req;
	struct pmbar_obj *obj;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags || req.reserved)
		return -EINVAL;
	obj = pmbar_obj_get(pf, req.handle);
	if (!obj)
		return -ENOENT;
	mutex_lock(&obj->place_lock);
	ret = pmbar_move(obj, evict);
	mutex_unlock(&obj->place_lock);
	pmbar_obj_put(obj);
	return ret;
}

static long pmbar_policy(struct pmbar_file *pf, void __user *arg)
{
	struct peermap_bar_policy req;
	struct pmbar_obj *obj;
	bool no_cpu;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if ((req.flags & ~(PEERMAP_POLICY_PEER_RO | PEERMAP_POLICY_NO_CPU |
			   PEERMAP_POLICY_NO_FALLBACK)) ||
	    req.reserved || !memchr(req.deny, 0, sizeof(req.deny)))
		return -EINVAL;
	obj = pmbar_obj_get(pf, req.handle);
	if (!obj)
		return -ENOENT;
	mutex_lock(&obj->lock);
	if (obj->pins) {
		dev_info_ratelimited(&obj->bdev->pdev->dev, "object at %#llx: %u dma-buf importer(s) pinned it: policy not changed\n",
				     obj->offset, obj->pins);
		mutex_unlock(&obj->lock);
		pmbar_obj_put(obj);
		return -EBUSY;
	}
	obj->policy = req.flags;
	strscpy(obj->deny, req.deny, sizeof(obj->deny));
	no_cpu = req.flags & PEERMAP_POLICY_NO_CPU;
	obj->revokes++;
	obj->revoking++;	/* no dma-buf pin until the revoke is done */
	mutex_unlock(&obj->lock);
	/* Peers resolve again under the new policy. */
	pmbar_obj_revoke(obj, PEERMAP_INVAL_REVOKE);
	if (no_cpu)
		pmbar_obj_zap(obj);
	mutex_lock(&obj->lock);
	obj->revoking--;
	mutex_unlock(&obj->lock);
	pmbar_obj_put(obj);
	return 0;
}

/*
 * Before the dma-buf fields (0.2) the struct ended at last_revoke_ns: that
 * size is a different ioctl number, answered with what it has room for.
 */
#define PMBAR_OBJ_INFO_V02_SIZE	offsetofend(struct peermap_bar_obj_info, last_revoke_ns)
#define PMBAR_IOC_OBJ_INFO_V02	_IOC(_IOC_READ | _IOC_WRITE, PEERMAP_IOC_MAGIC, 0x06, \
				     PMBAR_OBJ_INFO_V02_SIZE)

static long pmbar_obj_info(struct pmbar_file *pf, void __user *arg, size_t size)
{
	struct peermap_bar_obj_info info;
	struct list_head *pos;
	struct pmbar_obj *obj;

	if (copy_from_user(&info, arg, size))
		return -EFAULT;
	obj = pmbar_obj_get(pf, info.handle);
	if (!obj)
		return -ENOENT;
	memset(&info, 0, sizeof(info));
	mutex_lock(&obj->lock);
	info.handle = obj->offset >> PAGE_SHIFT;
	info.size = obj->size;
	info.bar_offset = obj->offset;
	info.state = obj->state;
	info.policy = obj->policy;
	info.revokes = obj->revokes;
	info.evictions = obj->evictions;
	info.last_revoke_ns = obj->last_revoke_ns;
	info.dmabufs = obj->dmabufs;
	info.ram_importers = obj->ram_importers;
	info.pins = obj->pins;
	info.dmabuf_fallbacks = obj->dmabuf_fallbacks;
	mutex_unlock(&obj->lock);
	spin_lock(&obj->rv.lock);
	list_for_each(pos, &obj->rv.reqs)
		info.peers++;
	spin_unlock(&obj->rv.lock);
	spin_lock(&obj->rv_dmabuf.lock);
	list_for_each(pos, &obj->rv_dmabuf.reqs)
		info.peers++;
	spin_unlock(&obj->rv_dmabuf.lock);
	pmbar_obj_put(obj);
	return copy_to_user(arg, &info, size) ? -EFAULT : 0;
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
	case PEERMAP_BAR_IOC_POLICY:
		return pmbar_policy(pf, uarg);
	case PEERMAP_BAR_IOC_EVICT:
		return pmbar_move_ioctl(pf, uarg, true);
	case PEERMAP_BAR_IOC_RESTORE:
		return pmbar_move_ioctl(pf, uarg, false);
	case PEERMAP_BAR_IOC_OBJ_INFO:
		return pmbar_obj_info(pf, uarg, sizeof(struct peermap_bar_obj_info));
	case PMBAR_IOC_OBJ_INFO_V02:
		return pmbar_obj_info(pf, uarg, PMBAR_OBJ_INFO_V02_SIZE);
	case PEERMAP_BAR_IOC_DEVMEM:
		return pmbar_devmem_ioctl(pf, uarg);
	case PEERMAP_BAR_IOC_EXPORT:
		return pmbar_export(pf, uarg);
	default:
		return -ENOTTY;
	}
}

/*
 * Whether @vma may map device memory of @bdev: shared (VM_MAYSHARE: mmap
 * clears VM_SHARED for a read-only file, which cannot write anyway), not
 * executable.
 */
int pmbar_vma_check(struct vm_area_struct *vma, struct pmbar_dev *bdev)
{
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;		/* device memory cannot be private */
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (READ_ONCE(bdev->gone))
		return -ENODEV;
	return 0;
}

/*
 * Make @vma a CPU mapping of @obj, whose reference it takes over: filled
 * by pmbar_fault(), so that it can be zapped and moved; vm_pgoff is the
 * BAR offset (pmbar_obj_zap() finds it by that).
 */
void pmbar_vma_install(struct vm_area_struct *vma, struct pmbar_obj *obj)
{
	peermap_vma_prepare(vma);
	vma->vm_private_data = obj;
	vma->vm_ops = &pmbar_vm_ops;
}

static int pmbar_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct pmbar_file *pf = file->private_data;
	struct pmbar_obj *obj;
	int ret;

	ret = pmbar_vma_check(vma, pf->bdev);
	if (ret)
		return ret;
	obj = pmbar_obj_get(pf, vma->vm_pgoff);
	if (!obj)
		return -ENOENT;
	if (vma->vm_end - vma->vm_start != obj->size) {
		pmbar_obj_put(obj);
		return -EINVAL;		/* one VMA maps one whole object */
	}
	pmbar_vma_install(vma, obj);
	return 0;
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

#define PMBAR_FAULT_AROUND	16	/* pages mapped per fault, as TTM */

/*
 * CPU access: the object's pages where they are now, the BAR
 * (write-combined) or the system memory it was evicted to; SIGBUS when
 * CPU access is off or the device is gone.
 */
static vm_fault_t pmbar_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct pmbar_obj *obj = vma->vm_private_data;
	struct pmbar_dev *bdev = obj->bdev;
	unsigned long addr = vmf->address & PAGE_MASK, pfn, i;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	pgprot_t prot;
	u64 off;

	off = ((u64)vma->vm_pgoff << PAGE_SHIFT) - obj->offset +
	      (addr - vma->vm_start);
	if (off >= obj->size)
		return VM_FAULT_SIGBUS;
	mutex_lock(&obj->lock);
	if (obj->state == PEERMAP_OBJ_GONE ||
	    (obj->policy & PEERMAP_POLICY_NO_CPU))
		goto out;
	for (i = 0; i < PMBAR_FAULT_AROUND && addr < vma->vm_end &&
	     off < obj->size; i++, addr += PAGE_SIZE, off += PAGE_SIZE) {
		if (obj->state == PEERMAP_OBJ_RESIDENT) {
			pfn = (pci_resource_start(bdev->pdev, bdev->bar) +
			       obj->offset + off) >> PAGE_SHIFT;
			prot = vma->vm_page_prot;
		} else {
			pfn = page_to_pfn(obj->mem->pages[off >> PAGE_SHIFT]);
			prot = pgprot_decrypted(vm_get_page_prot(vma->vm_flags));
		}
		if (!i) {
			ret = vmf_insert_pfn_prot(vma, addr, pfn, prot);
			if (ret != VM_FAULT_NOPAGE)
				break;
		} else if (vmf_insert_pfn_prot(vma, addr, pfn, prot) !=
			   VM_FAULT_NOPAGE) {
			break;	/* the faulting page is in; the rest later */
		}
	}
out:
	mutex_unlock(&obj->lock);
	return ret;
}

/*
 * mprotect() taking access away: peers resolve again under the new
 * protection. The core's mmu notifier usually says so too, but only where
 * page tables exist, and a fault-filled VMA may have none. Called with the
 * mmap lock held for writing.
 */
static int pmbar_vm_mprotect(struct vm_area_struct *vma, unsigned long start,
			     unsigned long end, unsigned long newflags)
{
	struct pmbar_obj *obj = vma->vm_private_data;

	if (vma->vm_flags & ~newflags & (VM_READ | VM_WRITE))
		peermap_revoke(&obj->rv, PEERMAP_INVAL_PROTECT);
	return 0;
}

const struct vm_operations_struct pmbar_vm_ops = {
	.open = pmbar_vm_open,
	.close = pmbar_vm_close,
	.mprotect = pmbar_vm_mprotect,
	.fault = pmbar_fault,
};

/*
 * Answer [off, off + len) of an object for req->client: the BAR while
 * resident, the system memory while evicted (fallback), nothing while it
 * moves (-EAGAIN: the core retries) or once its device is gone; and only
 * what the policy allows. The request is attached to @rv (the object's
 * list for VMA peers or for dma-buf peers) under the object's lock, so a
 * revoke that follows a state change finds it; without @rv (a dma-buf
 * importer that holds the object in system memory) it gets only system
 * memory, which its piece keeps until it unmaps.
 */
int pmbar_obj_answer(struct pmbar_obj *obj, u64 off, u64 len,
		     struct peermap_p2p_req *req, struct peermap_revocable *rv)
{
	struct pmbar_peer *peer = req->priv;	/* the core's, priv_size */
	struct pmbar_dev *bdev = obj->bdev;
	int ret;

	if (off >= obj->size || len > obj->size - off)
		return -EINVAL;
	mutex_lock(&obj->lock);
	if (obj->moving) {
		ret = -EAGAIN;
	} else if (obj->state == PEERMAP_OBJ_GONE) {
		ret = -ENODEV;
	} else if (obj->deny[0] && dev_is_pci(req->client) &&
		   !strcmp(obj->deny, pci_name(to_pci_dev(req->client)))) {
		dev_info_ratelimited(&bdev->pdev->dev, "object at %#llx: client %s denied by the exporter's policy\n",
				     obj->offset, obj->deny);
		ret = -EPERM;
	} else if ((obj->policy & PEERMAP_POLICY_PEER_RO) &&
		   (req->access & PEERMAP_ACCESS_WRITE)) {
		dev_info_ratelimited(&bdev->pdev->dev, "object at %#llx is read-only for peers: %s may not write it\n",
				     obj->offset, dev_name(req->client));
		ret = -EACCES;
	} else if (obj->state == PEERMAP_OBJ_EVICTED) {
		ret = peermap_req_add_pages(req, obj->mem->pages, off, len);
		if (!ret) {
			kref_get(&obj->mem->ref);
			peer->mem = obj->mem;
		}
	} else if (!rv) {
		ret = -EREMOTEIO;	/* device memory needs a peer on a list */
	} else {
		ret = peermap_req_add_bar(req, bdev->pdev, bdev->bar,
					  obj->offset + off, len);
	}
	if (!ret) {
		if (rv)
			peermap_req_attach(req, rv);
		kref_get(&obj->ref);
		peer->obj = obj;
	}
	mutex_unlock(&obj->lock);
	return ret;
}

/* A peermap importer asks for a piece of an object's VMA. */
static int pmbar_p2p_map(struct vm_area_struct *vma, unsigned long start,
			 unsigned long len, struct peermap_p2p_req *req)
{
	struct pmbar_obj *obj = vma->vm_private_data;

	/* A split VMA starts further into the object: vm_pgoff says where. */
	return pmbar_obj_answer(obj, ((u64)vma->vm_pgoff << PAGE_SHIFT) -
				obj->offset + (start - vma->vm_start),
				len, req, &obj->rv);
}

/* Under the core's mapping lock: puts only (see pmbar_obj_release()). */
static void pmbar_p2p_unmap(struct peermap_p2p_req *req)
{
	struct pmbar_peer *peer = req->priv;

	pmbar_sysmem_put(peer->mem);
	pmbar_obj_put(peer->obj);
}

struct peermap_exporter pmbar_exporter = {
	.name = "peermap_bar",
	.owner = THIS_MODULE,
	.vm_ops = &pmbar_vm_ops,
	.priv_size = sizeof(struct pmbar_peer),
	.p2p_map = pmbar_p2p_map,
	.p2p_unmap = pmbar_p2p_unmap,
	.p2p_devmem = pmbar_p2p_devmem,
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

	/* CPU faults map the BAR write-combined: reserve that type for it. */
	ret = arch_io_reserve_memtype_wc(pci_resource_start(pdev, bar),
					 pci_resource_len(pdev, bar));
	if (ret)
		goto err_region;

	bdev = kzalloc(sizeof(*bdev), GFP_KERNEL);
	if (!bdev) {
		ret = -ENOMEM;
		goto err_memtype;
	}
	kref_init(&bdev->ref);
	bdev->pdev = pci_dev_get(pdev);
	bdev->bar = bar;
	bdev->bar_size = pci_resource_len(pdev, bar);
	spin_lock_init(&bdev->objs_lock);
	INIT_LIST_HEAD(&bdev->objs);
	mutex_init(&bdev->files_lock);
	mutex_init(&bdev->devmem_lock);
	bdev->id = ida_alloc(&pmbar_ida, GFP_KERNEL);
	if (bdev->id < 0) {
		ret = bdev->id;
		pci_dev_put(pdev);
		kfree(bdev);
		goto err_memtype;
	}
	bdev->kva = pci_iomap_wc(pdev, bar, 0);
	if (!bdev->kva) {
		ret = -ENOMEM;
		goto err_put;
	}
	bdev->pool = gen_pool_create(PAGE_SHIFT, dev_to_node(&pdev->dev));
	if (!bdev->pool) {
		ret = -ENOMEM;
		goto err_put;
	}
	ret = gen_pool_add(bdev->pool, PMBAR_POOL_BASE, bdev->bar_size,
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
		goto err_unmap;
	pci_set_drvdata(pdev, bdev);
	dev_info(&pdev->dev, "/dev/%s: BAR%d, %llu MiB at bus address %#llx\n",
		 bdev->name, bar, (u64)bdev->bar_size >> 20,
		 (u64)pci_bus_address(pdev, bar));
	return 0;

err_unmap:
	pci_iounmap(pdev, bdev->kva);
err_put:
	kref_put(&bdev->ref, pmbar_dev_release);
err_memtype:
	arch_io_free_memtype_wc(pci_resource_start(pdev, bar),
				pci_resource_len(pdev, bar));
err_region:
	pci_release_region(pdev, bar);
	return ret;
}

/*
 * The device goes (unbind, hot-unplug): every object is marked gone, its
 * peers are revoked (they stop their DMA before this returns) and its CPU
 * mappings zapped (the next access gets SIGBUS); then the BAR is let go.
 */
static void pmbar_remove(struct pci_dev *pdev)
{
	struct pmbar_dev *bdev = pci_get_drvdata(pdev);
	struct pmbar_obj *obj, *o;

	misc_deregister(&bdev->misc);
	spin_lock(&bdev->objs_lock);
	bdev->gone = true;
	spin_unlock(&bdev->objs_lock);
	/* Device-private pages go back to RAM while the BAR is still there. */
	mutex_lock(&bdev->devmem_lock);
	pmbar_devmem_release(bdev);
	mutex_unlock(&bdev->devmem_lock);
	for (;;) {
		obj = NULL;
		spin_lock(&bdev->objs_lock);
		list_for_each_entry(o, &bdev->objs, node) {
			if (!o->unplugged && kref_get_unless_zero(&o->ref)) {
				o->unplugged = true;
				obj = o;
				break;
			}
		}
		spin_unlock(&bdev->objs_lock);
		if (!obj)
			break;
		mutex_lock(&obj->lock);
		obj->state = PEERMAP_OBJ_GONE;
		mutex_unlock(&obj->lock);
		pmbar_obj_revoke(obj, PEERMAP_INVAL_REMOVE);
		pmbar_obj_zap(obj);
		pmbar_obj_put(obj);
	}
	pci_iounmap(pdev, bdev->kva);
	arch_io_free_memtype_wc(pci_resource_start(pdev, bdev->bar),
				pci_resource_len(pdev, bdev->bar));
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
MODULE_VERSION(PEERMAP_VERSION);
