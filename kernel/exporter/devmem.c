// SPDX-License-Identifier: GPL-2.0
/*
 * peermap_bar's device-memory mode, in the manner of lib/test_hmm.c but
 * with real device memory: part of the BAR becomes MEMORY_DEVICE_PRIVATE
 * pages (struct peermap_devmem) that hold pages of a process's ordinary
 * anonymous memory, as a GPU driver's HMM memory does. PEERMAP_DEVMEM_
 * MIGRATE moves chosen pages of the caller's range in (migrate_vma_*,
 * bytes copied into the BAR); a CPU touch moves one back (migrate_to_ram);
 * EVICT and RELEASE move them all back (migrate_device_range()). peermap
 * maps these pages peer to peer where an on-demand range holds them, and
 * asks p2p_devmem here, which applies the deny policy.
 *
 * Locking: bdev->devmem_lock (a mutex) serialises setup, release and the
 * ioctls, and is taken before the mmap lock (MIGRATE); migrate_to_ram and
 * page_free run in the mm's paths and take only devmem->lock, a leaf
 * spinlock. The pages are the process's, not ours: RELEASE and device
 * removal evict them all first, then wait (peermap_devmem_remove()).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <peermap.h>

#include "bar.h"
#include "compat.h"

/* Pages moved per migrate_vma_setup(): its arrays live on the stack. */
#define DEVMEM_BATCH	64

struct pmbar_devmem {
	struct peermap_devmem dm;
	struct pmbar_dev *bdev;		/* owns it; outlives it */
	unsigned long pool_addr;	/* its BAR range, in bdev->pool */
	bool foreign;			/* an owner of its own, not peermap's */
	/* Protects everything below; a leaf, taken in page_free. */
	spinlock_t lock;
	unsigned long *used;		/* a bit per page holding data */
	unsigned long npages, nused, hint;
	bool closing;			/* being released: no new pages */
	u64 migrated_in, migrated_out, evicted;
	char deny[32];			/* PCI name of a refused client */
};

#if IS_ENABLED(CONFIG_DEVICE_PRIVATE)

static struct pmbar_devmem *page_devmem(struct page *page)
{
	return container_of(pm_page_pgmap(page), struct pmbar_devmem, dm.pgmap);
}

static void __iomem *page_bar(struct pmbar_devmem *d, struct page *page)
{
	return d->bdev->kva + d->dm.offset + peermap_devmem_offset(&d->dm, page);
}

/* A free device page, initialised and locked as migration wants it. */
static struct page *devmem_alloc(struct pmbar_devmem *d)
{
	unsigned long i;
	struct page *page;

	spin_lock(&d->lock);
	i = find_next_zero_bit(d->used, d->npages, d->hint);
	if (i >= d->npages)
		i = find_first_zero_bit(d->used, d->npages);
	if (d->closing || i >= d->npages) {
		spin_unlock(&d->lock);
		return NULL;
	}
	__set_bit(i, d->used);
	d->nused++;
	d->hint = i + 1;
	spin_unlock(&d->lock);
	page = peermap_devmem_page(&d->dm, (u64)i << PAGE_SHIFT);
	pm_zone_device_page_init(page, &d->dm.pgmap);
	return page;
}

/* Its last reference went: the page is free again. */
static void devmem_free(struct page *page)
{
	struct pmbar_devmem *d = page_devmem(page);
	unsigned long i = peermap_devmem_offset(&d->dm, page) >> PAGE_SHIFT;

	spin_lock(&d->lock);
	__clear_bit(i, d->used);
	d->nused--;
	spin_unlock(&d->lock);
}

PM_DEFINE_PGMAP_FREE(devmem_pgmap_free, devmem_free)

/*
 * Device pages of @src (a migrate_vma or migrate_device_range() batch)
 * into fresh RAM pages in @dst: the copy out of the BAR. Returns the
 * pages it found no RAM page for.
 */
static unsigned long devmem_copy_out(const unsigned long *src,
				     unsigned long *dst, unsigned long n)
{
	unsigned long i, failed = 0;
	struct page *spage, *dpage;
	void *to;

	for (i = 0; i < n; i++) {
		spage = migrate_pfn_to_page(src[i]);
		if (!spage || !(src[i] & MIGRATE_PFN_MIGRATE) ||
		    !is_device_private_page(spage))
			continue;
		dpage = alloc_page(GFP_HIGHUSER_MOVABLE);
		if (!dpage) {
			failed++;	/* stays in device memory */
			continue;
		}
		lock_page(dpage);
		to = kmap_local_page(dpage);
		memcpy_fromio(to, page_bar(page_devmem(spage), spage), PAGE_SIZE);
		kunmap_local(to);
		dst[i] = migrate_pfn(page_to_pfn(dpage)) |
			 (src[i] & MIGRATE_PFN_WRITE);
	}
	return failed;
}

/* Pages of @src and @dst that did move. */
static unsigned long moved(const unsigned long *src, const unsigned long *dst,
			   unsigned long n)
{
	unsigned long i, done = 0;

	for (i = 0; i < n; i++)
		if ((src[i] & MIGRATE_PFN_MIGRATE) && dst[i])
			done++;
	return done;
}

/* A CPU touched a device page: move it back to RAM, as a GPU driver does. */
static vm_fault_t devmem_migrate_to_ram(struct vm_fault *vmf)
{
	struct pmbar_devmem *d = page_devmem(vmf->page);
	unsigned long src = 0, dst = 0, oom;
	struct migrate_vma args = {
		.vma = vmf->vma,
		.start = vmf->address,
		.end = vmf->address + PAGE_SIZE,
		.src = &src,
		.dst = &dst,
		.pgmap_owner = d->dm.pgmap.owner,
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		.fault_page = vmf->page,
	};

	if (migrate_vma_setup(&args))
		return VM_FAULT_SIGBUS;
	oom = devmem_copy_out(&src, &dst, 1);
	migrate_vma_pages(&args);
	if (moved(&src, &dst, 1)) {
		spin_lock(&d->lock);
		d->migrated_out++;
		spin_unlock(&d->lock);
	}
	migrate_vma_finalize(&args);
	/* No RAM for it: say so rather than fault again at once. */
	return oom ? VM_FAULT_OOM : 0;
}

static const struct dev_pagemap_ops devmem_ops = {
	PM_PGMAP_FREE_OP(devmem_pgmap_free),
	.migrate_to_ram = devmem_migrate_to_ram,
};

/* Every page back to RAM: eviction, and before the pages go. */
static unsigned long devmem_evict(struct pmbar_devmem *d)
{
	unsigned long *src, *dst, done;

	src = kvcalloc(d->npages, sizeof(*src), GFP_KERNEL | __GFP_NOFAIL);
	dst = kvcalloc(d->npages, sizeof(*dst), GFP_KERNEL | __GFP_NOFAIL);
	/* Our own pfns only: other exporters' pages share the owner. */
	migrate_device_range(src, PHYS_PFN(d->dm.pgmap.range.start), d->npages);
	devmem_copy_out(src, dst, d->npages);
	migrate_device_pages(src, dst, d->npages);
	done = moved(src, dst, d->npages);
	migrate_device_finalize(src, dst, d->npages);
	kvfree(src);
	kvfree(dst);
	spin_lock(&d->lock);
	d->evicted += done;
	spin_unlock(&d->lock);
	return done;
}

/*
 * Pages of the batch [args->start, args->end) picked by @mask (a bit per
 * page from @first; NULL: all) into device pages: the copy into the BAR.
 */
static void devmem_copy_in(struct pmbar_devmem *d, struct migrate_vma *args,
			   const unsigned long *mask, unsigned long first)
{
	unsigned long i, n = (args->end - args->start) >> PAGE_SHIFT;
	struct page *spage, *dpage;
	void *from;

	for (i = 0; i < n; i++) {
		if (!(args->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (mask && !test_bit(((args->start - first) >> PAGE_SHIFT) + i, mask))
			continue;
		spage = migrate_pfn_to_page(args->src[i]);
		if (spage && is_zone_device_page(spage))
			continue;
		dpage = devmem_alloc(d);
		if (!dpage)
			break;		/* full: the rest stays in RAM */
		if (spage) {
			from = kmap_local_page(spage);
			memcpy_toio(page_bar(d, dpage), from, PAGE_SIZE);
			kunmap_local(from);
		} else {
			memset_io(page_bar(d, dpage), 0, PAGE_SIZE);
		}
		args->dst[i] = migrate_pfn(page_to_pfn(dpage));
		if ((args->src[i] & MIGRATE_PFN_WRITE) ||
		    (!spage && (args->vma->vm_flags & VM_WRITE)))
			args->dst[i] |= MIGRATE_PFN_WRITE;
	}
}

/* PEERMAP_DEVMEM_MIGRATE: pages of the caller's anonymous memory in. */
static long devmem_migrate(struct pmbar_devmem *d, struct peermap_bar_devmem *req)
{
	unsigned long src[DEVMEM_BATCH], dst[DEVMEM_BATCH];
	unsigned long addr = req->addr, end, next, *mask = NULL;
	struct mm_struct *mm = current->mm;
	struct device *dev = &d->bdev->pdev->dev;
	struct vm_area_struct *vma;
	long ret = 0;

	if (!req->len || !PAGE_ALIGNED(req->addr) || !PAGE_ALIGNED(req->len) ||
	    check_add_overflow(addr, (unsigned long)req->len, &end))
		return -EINVAL;
	if (req->len > SZ_4G)
		return -E2BIG;	/* bounds the mask's allocation */
	if (req->mask) {
		mask = bitmap_zalloc(req->len >> PAGE_SHIFT, GFP_KERNEL_ACCOUNT);
		if (!mask)
			return -ENOMEM;
		if (copy_from_user(mask, u64_to_user_ptr(req->mask),
				   BITS_TO_LONGS(req->len >> PAGE_SHIFT) * sizeof(long))) {
			bitmap_free(mask);
			return -EFAULT;
		}
	}
	req->done = 0;
	mmap_read_lock(mm);
	for (; addr < end; addr = next) {
		struct migrate_vma args = {
			.src = src,
			.dst = dst,
			.pgmap_owner = d->dm.pgmap.owner,
			.flags = MIGRATE_VMA_SELECT_SYSTEM,
		};

		vma = vma_lookup(mm, addr);
		if (!vma || !vma_is_anonymous(vma)) {
			dev_info_ratelimited(dev, "devmem: %#lx is not anonymous memory: only that moves into device memory\n",
					     addr);
			ret = -EINVAL;
			break;
		}
		next = min3(end, vma->vm_end, addr + DEVMEM_BATCH * PAGE_SIZE);
		args.vma = vma;
		args.start = addr;
		args.end = next;
		memset(dst, 0, sizeof(dst));
		ret = migrate_vma_setup(&args);
		if (ret)
			break;
		devmem_copy_in(d, &args, mask, req->addr);
		migrate_vma_pages(&args);
		req->done += moved(src, dst, args.npages);
		migrate_vma_finalize(&args);
	}
	mmap_read_unlock(mm);
	bitmap_free(mask);
	spin_lock(&d->lock);
	d->migrated_in += req->done;
	spin_unlock(&d->lock);
	return ret;
}

/*
 * As a driver peermap does not know would: an owner of its own, not
 * registered with peermap (PEERMAP_DEVMEM_FOREIGN, for tests and the
 * benchmark of upstream's migrate-back path).
 */
static int devmem_remap_foreign(struct pmbar_devmem *d)
{
	struct resource *res;
	void *addr;

	res = request_free_mem_region(&iomem_resource, d->dm.size,
				      "peermap_bar foreign device-private");
	if (IS_ERR(res))
		return PTR_ERR(res);
	d->dm.pgmap.type = MEMORY_DEVICE_PRIVATE;
	d->dm.pgmap.range.start = res->start;
	d->dm.pgmap.range.end = res->end;
	d->dm.pgmap.nr_range = 1;
	d->dm.pgmap.owner = d;
	addr = memremap_pages(&d->dm.pgmap, dev_to_node(&d->bdev->pdev->dev));
	if (IS_ERR(addr)) {
		release_mem_region(res->start, resource_size(res));
		return PTR_ERR(addr);
	}
	return 0;
}

static void devmem_unmap(struct pmbar_devmem *d)
{
	if (!d->foreign) {
		peermap_devmem_remove(&d->dm);
		return;
	}
	memunmap_pages(&d->dm.pgmap);
	release_mem_region(d->dm.pgmap.range.start, range_len(&d->dm.pgmap.range));
}

/* PEERMAP_DEVMEM_SETUP, under devmem_lock. */
static long devmem_setup(struct pmbar_dev *bdev, struct peermap_bar_devmem *req)
{
	struct device *dev = &bdev->pdev->dev;
	struct pmbar_devmem *d;
	int ret;

	if (bdev->devmem)
		return -EBUSY;
	if (req->flags & ~PEERMAP_DEVMEM_FOREIGN)
		return -EINVAL;
	if (!req->size || !IS_ALIGNED(req->size, PEERMAP_DEVMEM_ALIGN) ||
	    req->size > bdev->bar_size) {
		dev_info_ratelimited(dev, "devmem: %llu bytes: must be a multiple of %u KiB, at most the BAR\n",
				     req->size, PEERMAP_DEVMEM_ALIGN >> 10);
		return -EINVAL;
	}
	d = kzalloc(sizeof(*d), GFP_KERNEL_ACCOUNT);
	if (!d)
		return -ENOMEM;
	spin_lock_init(&d->lock);
	d->bdev = bdev;
	d->foreign = req->flags & PEERMAP_DEVMEM_FOREIGN;
	d->npages = req->size >> PAGE_SHIFT;
	strscpy(d->deny, req->deny, sizeof(d->deny));
	d->used = bitmap_zalloc(d->npages, GFP_KERNEL_ACCOUNT);
	d->pool_addr = gen_pool_alloc(bdev->pool, req->size);
	if (!d->used || !d->pool_addr) {
		ret = d->used ? -ENOSPC : -ENOMEM;
		goto err;
	}
	d->dm.pgmap.ops = &devmem_ops;
	d->dm.exp = &pmbar_exporter;
	d->dm.provider = bdev->pdev;
	d->dm.bar = bdev->bar;
	d->dm.offset = d->pool_addr - PMBAR_POOL_BASE;
	d->dm.size = req->size;
	ret = d->foreign ? devmem_remap_foreign(d) : peermap_devmem_add(&d->dm);
	if (ret)
		goto err;
	bdev->devmem = d;
	return 0;

err:
	if (d->pool_addr)
		gen_pool_free(bdev->pool, d->pool_addr, req->size);
	bitmap_free(d->used);
	kfree(d);
	return ret;
}

/* Every page back to RAM, then the pages and the BAR range go. */
void pmbar_devmem_release(struct pmbar_dev *bdev)
{
	struct pmbar_devmem *d = bdev->devmem;
	unsigned int rounds;

	lockdep_assert_held(&bdev->devmem_lock);
	if (!d)
		return;
	spin_lock(&d->lock);
	d->closing = true;
	spin_unlock(&d->lock);
	/*
	 * A page may be on its way in or out, or find no RAM page: again
	 * until none is left, backing off, and saying why it takes long.
	 */
	for (rounds = 0; READ_ONCE(d->nused); rounds++) {
		devmem_evict(d);
		if (!READ_ONCE(d->nused))
			break;
		if (rounds % 500 == 499)
			dev_warn(&bdev->pdev->dev, "devmem: %lu device pages still hold data (no RAM for them, or held): waiting\n",
				 READ_ONCE(d->nused));
		msleep(rounds < 10 ? 1 : 10);
	}
	devmem_unmap(d);
	gen_pool_free(bdev->pool, d->pool_addr, d->dm.size);
	bitmap_free(d->used);
	kfree(d);
	bdev->devmem = NULL;
}

/* The exporter's policy for its device-private pages: deny a client. */
int pmbar_p2p_devmem(struct peermap_devmem *dm, u64 offset, u64 len,
		     struct peermap_p2p_req *req)
{
	struct pmbar_devmem *d = container_of(dm, struct pmbar_devmem, dm);
	bool denied;

	spin_lock(&d->lock);
	denied = d->deny[0] && dev_is_pci(req->client) &&
		 !strcmp(d->deny, pci_name(to_pci_dev(req->client)));
	spin_unlock(&d->lock);
	if (denied) {
		dev_info_ratelimited(&d->bdev->pdev->dev, "devmem: client %s denied by the exporter's policy\n",
				     dev_name(req->client));
		return -EPERM;
	}
	return peermap_req_add_bar(req, d->bdev->pdev, d->bdev->bar,
				   dm->offset + offset, len);
}

static void devmem_counters(struct pmbar_devmem *d, struct peermap_bar_devmem *req)
{
	spin_lock(&d->lock);
	req->pages = d->npages;
	req->used = d->nused;
	req->migrated_in = d->migrated_in;
	req->migrated_out = d->migrated_out;
	req->evicted = d->evicted;
	spin_unlock(&d->lock);
	req->struct_page_bytes = d->npages * sizeof(struct page);
	req->bar_offset = d->dm.offset;
}

long pmbar_devmem_ioctl(struct pmbar_file *pf, void __user *arg)
{
	struct pmbar_dev *bdev = pf->bdev;
	struct peermap_bar_devmem req;
	struct pmbar_devmem *d;
	long ret = 0;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	req.deny[sizeof(req.deny) - 1] = '\0';
	if (mutex_lock_killable(&bdev->devmem_lock))
		return -EINTR;
	if (READ_ONCE(bdev->gone)) {
		ret = -ENODEV;
		goto out;
	}
	if (req.op == PEERMAP_DEVMEM_SETUP) {
		ret = devmem_setup(bdev, &req);
		if (ret)
			goto out;
	}
	d = bdev->devmem;
	if (!d) {
		ret = req.op == PEERMAP_DEVMEM_RELEASE ? 0 : -ENXIO;
		goto out;
	}
	switch (req.op) {
	case PEERMAP_DEVMEM_SETUP:
	case PEERMAP_DEVMEM_INFO:
		break;
	case PEERMAP_DEVMEM_MIGRATE:
		ret = devmem_migrate(d, &req);
		break;
	case PEERMAP_DEVMEM_EVICT:
		req.done = devmem_evict(d);
		break;
	case PEERMAP_DEVMEM_POLICY:
		spin_lock(&d->lock);
		strscpy(d->deny, req.deny, sizeof(d->deny));
		spin_unlock(&d->lock);
		break;
	case PEERMAP_DEVMEM_RELEASE:
		devmem_counters(d, &req);
		pmbar_devmem_release(bdev);
		goto out;
	default:
		ret = -EINVAL;
		goto out;
	}
	devmem_counters(d, &req);
out:
	mutex_unlock(&bdev->devmem_lock);
	if (!ret && copy_to_user(arg, &req, sizeof(req)))
		ret = -EFAULT;
	return ret;
}

#else /* !CONFIG_DEVICE_PRIVATE */

void pmbar_devmem_release(struct pmbar_dev *bdev)
{
}

int pmbar_p2p_devmem(struct peermap_devmem *dm, u64 offset, u64 len,
		     struct peermap_p2p_req *req)
{
	return -EOPNOTSUPP;
}

long pmbar_devmem_ioctl(struct pmbar_file *pf, void __user *arg)
{
	dev_info_ratelimited(&pf->bdev->pdev->dev, "devmem: this kernel has no CONFIG_DEVICE_PRIVATE\n");
	return -EOPNOTSUPP;
}

#endif /* CONFIG_DEVICE_PRIVATE */
