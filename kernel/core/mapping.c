// SPDX-License-Identifier: GPL-2.0
/*
 * Importer side: map a user range for a client device into a vector of
 * DMA segments. The range is walked VMA by VMA under the mmap lock:
 * registered device VMAs are resolved by their exporter (DMA addresses
 * only, no struct page), ordinary memory is pinned long-term and DMA-mapped
 * for the client. A map request reads top to bottom in peermap_map_user().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "compat.h"
#include "internal.h"

static unsigned long max_map_bytes = 4UL << 30;
module_param(max_map_bytes, ulong, 0644);
MODULE_PARM_DESC(max_map_bytes, "largest range one mapping may cover (default 4 GiB)");

/* Pinned RAM of one VMA piece and its DMA mapping for the client. */
struct peermap_ram_piece {
	struct list_head node;
	struct page **pages;
	unsigned long npages;
	struct sg_table sgt;
	bool dma_mapped;
	bool dirty;		/* the device may have written: dirty on unpin */
};

/*
 * Append a segment, merging it into the last one when it continues it with
 * the same flags: a contiguous object on one route is one segment.
 */
int peermap_map_append(struct peermap_mapping *map, dma_addr_t addr, u64 len,
		       u32 flags)
{
	struct peermap_segment *last, *segs;
	unsigned int cap;

	if (map->nsegs) {
		last = &map->segs[map->nsegs - 1];
		if (last->flags == flags && last->addr + last->len == addr) {
			last->len += len;
			map->mapped += len;
			return 0;
		}
	}
	if (map->nsegs == map->segs_cap) {
		cap = map->segs_cap ? 2 * map->segs_cap : 8;
		segs = kvmalloc_array(cap, sizeof(*segs), GFP_KERNEL);
		if (!segs)
			return -ENOMEM;
		if (map->nsegs)
			memcpy(segs, map->segs, map->nsegs * sizeof(*segs));
		kvfree(map->segs);
		map->segs = segs;
		map->segs_cap = cap;
	}
	map->segs[map->nsegs++] = (struct peermap_segment) {
		.addr = addr, .len = len, .flags = flags,
	};
	map->mapped += len;
	return 0;
}

static void ram_piece_release(struct peermap_mapping *map,
			      struct peermap_ram_piece *rp)
{
	if (rp->dma_mapped)
		dma_unmap_sgtable(map->client, &rp->sgt, peermap_dir(map->access), 0);
	sg_free_table(&rp->sgt);
	unpin_user_pages_dirty_lock(rp->pages, rp->npages, rp->dirty);
	kvfree(rp->pages);
	list_del(&rp->node);
	kfree(rp);
}

/* Pin [start, end) of ordinary memory and map it for the client. */
static int map_ram(struct peermap_mapping *map, struct mm_struct *mm,
		   unsigned long start, unsigned long end)
{
	unsigned long first = start & PAGE_MASK;
	unsigned int gup = FOLL_LONGTERM, max_seg;
	struct peermap_ram_piece *rp;
	struct scatterlist *sg;
	u32 flags = 0;
	long pinned;
	int ret, i;

	if (map->access & PEERMAP_ACCESS_WRITE) {
		gup |= FOLL_WRITE;
		flags |= PEERMAP_SEG_WRITE;
	}
	if (peermap_client_translated(map->client))
		flags |= PEERMAP_SEG_IOVA;

	rp = kzalloc(sizeof(*rp), GFP_KERNEL);
	if (!rp)
		return -ENOMEM;
	list_add_tail(&rp->node, &map->ram);
	rp->npages = (PAGE_ALIGN(end) - first) >> PAGE_SHIFT;
	rp->pages = kvmalloc_array(rp->npages, sizeof(*rp->pages), GFP_KERNEL);
	if (!rp->pages) {
		rp->npages = 0;
		return -ENOMEM;
	}
	pinned = pm_pin_user_pages_remote(mm, first, rp->npages, gup, rp->pages);
	if (pinned != rp->npages) {
		rp->npages = max(pinned, 0L);
		dev_info_ratelimited(map->client, "cannot pin memory at %#lx: %ld\n",
				     first + (rp->npages << PAGE_SHIFT), pinned);
		return pinned < 0 ? pinned : -EFAULT;
	}
	rp->dirty = !!(gup & FOLL_WRITE);

	/* Scatterlist segments no longer than the client accepts. */
	max_seg = max_t(unsigned int, dma_get_max_seg_size(map->client) & PAGE_MASK,
			PAGE_SIZE);
	ret = sg_alloc_table_from_pages_segment(&rp->sgt, rp->pages, rp->npages,
						start - first, end - start,
						max_seg, GFP_KERNEL);
	if (ret)
		return ret;
	ret = dma_map_sgtable(map->client, &rp->sgt, peermap_dir(map->access), 0);
	if (ret)
		return ret;
	rp->dma_mapped = true;
	for_each_sgtable_dma_sg(&rp->sgt, sg, i) {
		ret = peermap_map_append(map, sg_dma_address(sg),
					 sg_dma_len(sg), flags);
		if (ret)
			return ret;
	}
	return 0;
}

/* Ask the exporter of @vma for [start, end); consumes the @exp reference. */
static int map_peer(struct peermap_mapping *map, struct peermap_exporter *exp,
		    struct vm_area_struct *vma, unsigned long start,
		    unsigned long end)
{
	u64 before = map->mapped;
	struct peermap_p2p_req *req;
	int ret;

	req = kzalloc(sizeof(*req), GFP_KERNEL);
	if (!req) {
		peermap_exporter_put(exp);
		return -ENOMEM;
	}
	req->client = map->client;
	req->access = map->access;
	req->map = map;
	req->exp = exp;
	INIT_LIST_HEAD(&req->iovas);
	/* On the list from now on: peermap_unmap() undoes what was done. */
	list_add_tail(&req->node, &map->peers);

	ret = exp->p2p_map(vma, start, end - start, req);
	if (ret) {
		dev_info_ratelimited(map->client, "exporter %s refused %#lx-%#lx: %d\n",
				     exp->name, start, end, ret);
		return ret;
	}
	req->live = true;
	if (map->mapped - before != end - start) {
		dev_warn(map->client, "exporter %s answered %llu bytes for %lu\n",
			 exp->name, map->mapped - before, end - start);
		return -EIO;
	}
	return 0;
}

/* Why a VMA cannot be mapped for @access, as an errno (0 if it can). */
static int vma_refuses(struct peermap_mapping *map, struct vm_area_struct *vma,
		       unsigned long addr, bool peer)
{
	if (!peer && (vma->vm_flags & (VM_IO | VM_PFNMAP))) {
		dev_info_ratelimited(map->client, "%#lx is I/O memory of a driver not registered with peermap\n",
				     addr);
		return -EFAULT;
	}
	if (!(vma->vm_flags & (VM_READ | VM_WRITE))) {
		dev_info_ratelimited(map->client, "%#lx is PROT_NONE\n", addr);
		return -EFAULT;
	}
	if ((map->access & PEERMAP_ACCESS_WRITE) && !(vma->vm_flags & VM_WRITE)) {
		dev_info_ratelimited(map->client, "%#lx is read-only, write access asked\n",
				     addr);
		return -EACCES;
	}
	if ((map->access & PEERMAP_ACCESS_READ) && !(vma->vm_flags & VM_READ)) {
		dev_info_ratelimited(map->client, "%#lx is not readable\n", addr);
		return -EACCES;
	}
	return 0;
}

/**
 * peermap_map_user() - map a user range for a client device's DMA
 * @client: the importer's device (DMA addresses are for it)
 * @mm: the address space (the caller holds a reference)
 * @addr: start, any byte alignment
 * @len: bytes, > 0
 * @access: PEERMAP_ACCESS_READ and/or PEERMAP_ACCESS_WRITE (by the device)
 *
 * Device memory VMAs are resolved by their exporter, ordinary memory is
 * pinned (FOLL_LONGTERM) and DMA-mapped. The segments cover the range
 * exactly. Unmap with peermap_unmap(); until then the memory stays valid
 * for DMA.
 * Context: process context, may sleep; takes the mmap lock for read.
 * Return: the mapping, or ERR_PTR: -EINVAL (zero length, bad access),
 * -EOVERFLOW (addr + len wraps), -E2BIG (over max_map_bytes), -EFAULT (a
 * hole, PROT_NONE, a foreign VM_IO/VM_PFNMAP VMA, beyond the address
 * space), -EACCES (write to a read-only VMA), -EINTR (fatal signal),
 * -ENOMEM, or the exporter's refusal.
 */
struct peermap_mapping *peermap_map_user(struct device *client,
					 struct mm_struct *mm,
					 unsigned long addr, size_t len,
					 u32 access)
{
	struct peermap_mapping *map;
	struct peermap_exporter *exp;
	struct vm_area_struct *vma;
	unsigned long cur, end, piece_end;
	int ret;

	if (!len || !access || (access & ~(PEERMAP_ACCESS_READ | PEERMAP_ACCESS_WRITE)))
		return ERR_PTR(-EINVAL);
	if (check_add_overflow(addr, len, &end))
		return ERR_PTR(-EOVERFLOW);
	if (len > max_map_bytes) {
		dev_info_ratelimited(client, "map of %zu bytes over max_map_bytes %lu\n",
				     len, max_map_bytes);
		return ERR_PTR(-E2BIG);
	}
	if (end > TASK_SIZE_MAX)
		return ERR_PTR(-EFAULT);

	map = kzalloc(sizeof(*map), GFP_KERNEL);
	if (!map)
		return ERR_PTR(-ENOMEM);
	map->client = get_device(client);
	map->addr = addr;
	map->len = len;
	map->access = access;
	INIT_LIST_HEAD(&map->ram);
	INIT_LIST_HEAD(&map->peers);

	if (mmap_read_lock_killable(mm)) {
		peermap_unmap(map);
		return ERR_PTR(-EINTR);
	}
	for (cur = addr; cur < end; cur = piece_end) {
		vma = find_vma(mm, cur);
		if (!vma || vma->vm_start > cur) {
			dev_info_ratelimited(client, "no mapping at %#lx\n", cur);
			ret = -EFAULT;
			goto err_unlock;
		}
		piece_end = min(end, vma->vm_end);
		exp = peermap_exporter_get(vma);
		ret = vma_refuses(map, vma, cur, !!exp);
		if (ret) {
			if (exp)
				peermap_exporter_put(exp);
			goto err_unlock;
		}
		if (exp)
			ret = map_peer(map, exp, vma, cur, piece_end);
		else
			ret = map_ram(map, mm, cur, piece_end);
		if (ret)
			goto err_unlock;
	}
	mmap_read_unlock(mm);
	return map;

err_unlock:
	mmap_read_unlock(mm);
	peermap_unmap(map);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_GPL(peermap_map_user);

/**
 * peermap_unmap() - tear a mapping down
 * @map: from peermap_map_user()
 *
 * The caller's device must no longer DMA to the mapping. DMA addresses are
 * torn down, then exporters are told, then RAM is unpinned.
 * Context: may sleep.
 */
void peermap_unmap(struct peermap_mapping *map)
{
	struct peermap_p2p_req *req, *rtmp;
	struct peermap_ram_piece *rp, *ptmp;

	list_for_each_entry_safe(req, rtmp, &map->peers, node)
		peermap_req_release(req);
	list_for_each_entry_safe(rp, ptmp, &map->ram, node)
		ram_piece_release(map, rp);
	kvfree(map->segs);
	put_device(map->client);
	kfree(map);
}
EXPORT_SYMBOL_GPL(peermap_unmap);
