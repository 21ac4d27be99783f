// SPDX-License-Identifier: GPL-2.0
/*
 * pm_bench: test-only helper of `make bench`. It times, in the kernel, what
 * an importer pays to get DMA addresses for a user range, three ways:
 *
 *   peermap   peermap_map() (exporter answers, no struct page) + unmap
 *   p2pdma    what the block layer does with O_DIRECT on p2pmem: pin the
 *             range with FOLL_PCI_P2PDMA (a struct page per 4 KiB), build
 *             a scatterlist, dma_map_sgtable(); then undo
 *   ram       the same for ordinary memory: pin_user_pages(FOLL_LONGTERM),
 *             scatterlist, dma_map_sgtable(); then undo
 *
 * and it plays busy importers (PM_BENCH_IOC_BUSY): mappings whose device
 * takes a while to stop, with and without a stop callback, for timing a
 * revoke while every importer is mid-transfer.
 *
 * Never part of the product: it lives in tests/kmod/ and is loaded by the
 * benchmark alone.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <peermap.h>

#include "compat.h"

#include "pm_bench.h"
#include "pm_client.h"

#define PM_BENCH_MAX_ITERS	4096

/* The benchmark maps for reading only: nothing DMAs, nothing to stop. */
static void pm_bench_invalidate(struct peermap_mapping *map, unsigned int why)
{
}

static const struct peermap_importer_ops pm_bench_ops = {
	.invalidate = pm_bench_invalidate,
};

/* Pinned pages of a range and their DMA mapping: the upstream way. */
struct pm_bench_pin {
	struct page **pages;
	unsigned long npages;
	struct sg_table sgt;
};

static int pin_map(struct device *dev, unsigned long addr, u64 len,
		   unsigned int gup, struct pm_bench_pin *p)
{
	unsigned long first = addr & PAGE_MASK;
	long pinned;
	int ret;

	p->npages = (PAGE_ALIGN(addr + len) - first) >> PAGE_SHIFT;
	p->pages = kvmalloc_array(p->npages, sizeof(*p->pages), GFP_KERNEL);
	if (!p->pages)
		return -ENOMEM;
	pinned = pin_user_pages_fast(first, p->npages, gup, p->pages);
	if (pinned != p->npages) {
		if (pinned > 0)
			unpin_user_pages(p->pages, pinned);
		kvfree(p->pages);
		return pinned < 0 ? pinned : -EFAULT;
	}
	ret = sg_alloc_table_from_pages_segment(&p->sgt, p->pages, p->npages,
						addr - first, len,
						dma_get_max_seg_size(dev) & PAGE_MASK,
						GFP_KERNEL);
	if (!ret) {
		ret = dma_map_sgtable(dev, &p->sgt, DMA_TO_DEVICE, 0);
		if (ret)
			sg_free_table(&p->sgt);
	}
	if (ret) {
		unpin_user_pages(p->pages, p->npages);
		kvfree(p->pages);
	}
	return ret;
}

static void pin_unmap(struct device *dev, struct pm_bench_pin *p)
{
	dma_unmap_sgtable(dev, &p->sgt, DMA_TO_DEVICE, 0);
	sg_free_table(&p->sgt);
	unpin_user_pages(p->pages, p->npages);
	kvfree(p->pages);
}

static unsigned int pin_flags(u32 method)
{
	return method == PM_BENCH_RAM ? FOLL_LONGTERM : PM_FOLL_PCI_P2PDMA;
}

/* One map + unmap; returns the two durations and the segment counts. */
static int one(struct device *dev, struct pm_bench_map *req, u64 *tmap,
	       u64 *tunmap)
{
	struct peermap_mapping *map;
	struct pm_bench_pin pin;
	u64 t0, t1;
	int ret;

	t0 = ktime_get_ns();
	if (req->method == PM_BENCH_PEERMAP ||
	    req->method == PM_BENCH_PEERMAP_ONDEMAND) {
		map = peermap_map(dev, current->mm, req->addr, req->len,
				  PEERMAP_ACCESS_READ,
				  req->method == PM_BENCH_PEERMAP ?
				  PEERMAP_MAP_PINNED : PEERMAP_MAP_ONDEMAND,
				  &pm_bench_ops, NULL);
		if (IS_ERR(map))
			return PTR_ERR(map);
		t1 = ktime_get_ns();
		req->segs = map->nsegs;
		req->ents = map->nsegs;
		peermap_unmap(map);
	} else {
		ret = pin_map(dev, req->addr, req->len, pin_flags(req->method),
			      &pin);
		if (ret)
			return ret;
		t1 = ktime_get_ns();
		req->segs = pin.sgt.nents;
		req->ents = pin.sgt.orig_nents;
		pin_unmap(dev, &pin);
	}
	*tmap = t1 - t0;
	*tunmap = ktime_get_ns() - t1;
	return 0;
}

static long pm_bench_map_ioctl(void __user *arg)
{
	u64 __user *umap, *uunmap;
	struct pm_bench_map req;
	struct pci_dev *pdev;
	u64 tm, tu;
	u32 i;
	int ret = 0;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.method > PM_BENCH_PEERMAP_ONDEMAND || !req.iters ||
	    req.iters > PM_BENCH_MAX_ITERS)
		return -EINVAL;
	pdev = pm_client_get(req.client, sizeof(req.client));
	if (IS_ERR(pdev))
		return PTR_ERR(pdev);
	umap = u64_to_user_ptr(req.map_ns);
	uunmap = u64_to_user_ptr(req.unmap_ns);
	for (i = 0; i < req.iters && !ret; i++) {
		ret = one(&pdev->dev, &req, &tm, &tu);
		if (!ret && (put_user(tm, &umap[i]) || put_user(tu, &uunmap[i])))
			ret = -EFAULT;
		cond_resched();
	}
	pci_dev_put(pdev);
	if (!ret && copy_to_user(arg, &req, sizeof(req)))
		ret = -EFAULT;
	return ret;
}

/* --- busy importers: revoke while transfers are in flight -------------- */

/* One busy mapping: when it was told to stop. */
struct pm_bench_busy_map {
	struct peermap_mapping *map;
	u64 stop_at;		/* ns, 0: not told yet */
	bool invalidated;
};

/* The busy set, one at a time; busy_lock protects it. */
static DEFINE_MUTEX(busy_lock);
static struct pm_bench_busy_map *busy;
static unsigned int busy_n, busy_drain_us;

/* Post the stop: the drain starts now; never waits. */
static void busy_stop(struct peermap_mapping *map, unsigned int why)
{
	struct pm_bench_busy_map *bm = map->priv;

	if (!bm->stop_at)
		bm->stop_at = ktime_get_ns();
}

/* Stop (if not told yet) and wait until the transfer has drained. */
static void busy_invalidate(struct peermap_mapping *map, unsigned int why)
{
	struct pm_bench_busy_map *bm = map->priv;
	u64 until, now;

	busy_stop(map, why);
	until = bm->stop_at + (u64)busy_drain_us * NSEC_PER_USEC;
	now = ktime_get_ns();
	if (now < until)
		fsleep(div_u64(until - now, NSEC_PER_USEC));
	bm->invalidated = true;
}

static const struct peermap_importer_ops busy_ops_wait = {
	.invalidate = busy_invalidate,
};

static const struct peermap_importer_ops busy_ops_stop = {
	.invalidate = busy_invalidate,
	.stop = busy_stop,
};

static unsigned int busy_end_locked(void)
{
	unsigned int i, inval = 0;

	for (i = 0; i < busy_n; i++) {
		inval += busy[i].invalidated;
		peermap_unmap(busy[i].map);
	}
	kvfree(busy);
	busy = NULL;
	busy_n = 0;
	return inval;
}

static long pm_bench_busy_ioctl(void __user *arg)
{
	struct pm_bench_busy req;
	struct pci_dev *pdev;
	long ret = 0;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (!req.nmaps || req.nmaps > PM_BENCH_BUSY_MAX || req.drain_us > 100000)
		return -EINVAL;
	pdev = pm_client_get(req.client, sizeof(req.client));
	if (IS_ERR(pdev))
		return PTR_ERR(pdev);
	mutex_lock(&busy_lock);
	if (busy) {
		ret = -EBUSY;
		goto out;
	}
	busy = kvcalloc(req.nmaps, sizeof(*busy), GFP_KERNEL);
	if (!busy) {
		ret = -ENOMEM;
		goto out;
	}
	busy_drain_us = req.drain_us;
	for (busy_n = 0; busy_n < req.nmaps; busy_n++) {
		struct peermap_mapping *map;

		map = peermap_map(&pdev->dev, current->mm, req.addr, req.len,
				  PEERMAP_ACCESS_READ, PEERMAP_MAP_PINNED,
				  req.stop ? &busy_ops_stop : &busy_ops_wait,
				  &busy[busy_n]);
		if (IS_ERR(map)) {
			ret = PTR_ERR(map);
			busy_end_locked();
			break;
		}
		busy[busy_n].map = map;
	}
out:
	mutex_unlock(&busy_lock);
	pci_dev_put(pdev);
	return ret;
}

static long pm_bench_busy_end_ioctl(void __user *arg)
{
	struct pm_bench_busy req = { 0 };

	mutex_lock(&busy_lock);
	req.nmaps = busy_n;
	req.drain_us = busy_drain_us;
	req.invalidated = busy_end_locked();
	mutex_unlock(&busy_lock);
	return copy_to_user(arg, &req, sizeof(req)) ? -EFAULT : 0;
}

static int pm_bench_release(struct inode *inode, struct file *file)
{
	mutex_lock(&busy_lock);
	busy_end_locked();
	mutex_unlock(&busy_lock);
	return 0;
}

static long pm_bench_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	switch (cmd) {
	case PM_BENCH_IOC_MAP:
		return pm_bench_map_ioctl((void __user *)arg);
	case PM_BENCH_IOC_BUSY:
		return pm_bench_busy_ioctl((void __user *)arg);
	case PM_BENCH_IOC_BUSY_END:
		return pm_bench_busy_end_ioctl((void __user *)arg);
	}
	return -ENOTTY;
}

static const struct file_operations pm_bench_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = pm_bench_ioctl,
	.release = pm_bench_release,
};

static struct miscdevice pm_bench_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pm-bench",
	.fops = &pm_bench_fops,
	.mode = 0600,
};

module_misc_device(pm_bench_misc);

MODULE_DESCRIPTION("peermap test-only: map cost of peermap, P2PDMA and pinned RAM");
MODULE_LICENSE("GPL");
