// SPDX-License-Identifier: GPL-2.0
/*
 * Importer side: map a user range for a client device into a vector of
 * DMA segments, keep it valid, and invalidate it when what it points at
 * goes away.
 *
 * A mapping is resolved ("built") without locks held around allocations:
 * the range is walked VMA by VMA under the mmap lock; registered device
 * VMAs are resolved by their exporter (DMA addresses only, no struct
 * page), ordinary memory is pinned long-term or, on demand, faulted with
 * hmm_range_fault(); everything is DMA-mapped for the client. The result
 * is then installed under the mapping's lock, unless an invalidation came
 * in meanwhile (the mmu notifier's sequence count, or an exporter's revoke
 * count, moved): then it is undone and built again.
 *
 * Invalidation (mmu notifier: munmap, mremap, mprotect, COW, exit; or an
 * exporter revoking its memory) takes the mapping's lock, tells the
 * importer, which stops its DMA, and only then tears the DMA addresses
 * down. Pinned pages are released later by a work item: unpinning may
 * sleep on page locks, which an mmu notifier must not.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/hmm.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "internal.h"
#include "trace.h"

static unsigned long max_map_bytes = 4UL << 30;
module_param(max_map_bytes, ulong, 0644);
MODULE_PARM_DESC(max_map_bytes, "largest range one mapping may cover (default 4 GiB)");

/* RAM of one VMA piece (pinned or faulted) and its DMA mapping. */
struct peermap_ram_piece {
	struct list_head node;
	struct page **pages;
	unsigned long npages;
	struct peermap_dma_pages dma;
	bool pinned;		/* unpin when released */
	bool dirty;		/* the device may have written: dirty on unpin */
};

/*
 * The core's side of a mapping. Lock order: build_lock, then the mmap
 * lock, then the exporter's locks (in p2p_map); lock is taken last, never
 * around an allocation, because mmu notifiers (reclaim) take it.
 */
struct pm_map {
	struct peermap_mapping pub;
	const struct peermap_importer_ops *ops;
	struct mm_struct *mm;		/* mmgrab()ed */
	struct kref ref;		/* the importer's; each revoke in progress */
	struct mmu_interval_notifier notifier;
	bool notifier_live;
	/* Serialises builds and the final unmap; protects dead, installs. */
	struct mutex build_lock;
	bool dead;
	u64 installs;
	/*
	 * Protects cur, valid, revoke_seq, stats and pub.segs/nsegs; held
	 * while the importer is told to stop and the DMA addresses are torn
	 * down. Importers read pub.segs while the mapping is valid and they
	 * hold off their invalidate callback (their own lock).
	 */
	struct mutex lock;
	struct peermap_pieces cur;
	bool valid;			/* cur is installed and usable */
	unsigned long revoke_seq;	/* bumped by peermap_revoke() */
	struct peermap_map_stats stats;
	/* RAM pieces to unpin, off the invalidation path. */
	spinlock_t reap_lock;		/* protects reap */
	struct list_head reap;
	struct work_struct reap_work;
};

static struct pm_map *to_pm(struct peermap_mapping *map)
{
	return container_of(map, struct pm_map, pub);
}

static void pieces_init(struct peermap_pieces *p)
{
	memset(p, 0, sizeof(*p));
	INIT_LIST_HEAD(&p->ram);
	INIT_LIST_HEAD(&p->peers);
}

/* The largest scatterlist segment @client takes, a page multiple. */
static unsigned int peermap_max_seg(struct device *client)
{
	return max_t(unsigned int, dma_get_max_seg_size(client) & PAGE_MASK,
		     PAGE_SIZE);
}

/*
 * Append a segment, merging it into the last one when it continues it with
 * the same flags: a contiguous object on one route is one segment.
 */
int peermap_pieces_append(struct peermap_pieces *p, dma_addr_t addr, u64 len,
			  u32 flags)
{
	struct peermap_segment *last, *segs;
	unsigned int cap;

	if (p->nsegs) {
		last = &p->segs[p->nsegs - 1];
		if (last->flags == flags && last->addr + last->len == addr) {
			last->len += len;
			goto out;
		}
	}
	if (p->nsegs == p->cap) {
		cap = p->cap ? 2 * p->cap : 8;
		segs = kvmalloc_array(cap, sizeof(*segs), GFP_KERNEL);
		if (!segs)
			return -ENOMEM;
		if (p->nsegs)
			memcpy(segs, p->segs, p->nsegs * sizeof(*segs));
		kvfree(p->segs);
		p->segs = segs;
		p->cap = cap;
	}
	p->segs[p->nsegs++] = (struct peermap_segment) {
		.addr = addr, .len = len, .flags = flags,
	};
out:
	p->mapped += len;
	if (flags & PEERMAP_SEG_FALLBACK)
		p->fallback += len;
	return 0;
}

/*
 * DMA-map @len bytes of @pages (the first at byte @offset of pages[0]) for
 * @client and append them as segments with @flags, plus the write and
 * IOVA flags @access and the client give. On error, whatever was done is
 * undone by peermap_dma_pages_unmap().
 */
int peermap_dma_pages_map(struct peermap_dma_pages *dp, struct device *client,
			  u32 access, u32 flags, struct peermap_pieces *p,
			  struct page **pages, unsigned long npages,
			  unsigned long offset, u64 len)
{
	struct scatterlist *sg;
	int ret, i;

	if (access & PEERMAP_ACCESS_WRITE)
		flags |= PEERMAP_SEG_WRITE;
	if (peermap_client_translated(client))
		flags |= PEERMAP_SEG_IOVA;
	dp->dir = peermap_dir(access);
	ret = sg_alloc_table_from_pages_segment(&dp->sgt, pages, npages, offset,
						len, peermap_max_seg(client),
						GFP_KERNEL);
	if (ret)
		return ret;
	ret = dma_map_sgtable(client, &dp->sgt, dp->dir, DMA_ATTR_SKIP_CPU_SYNC);
	if (ret)
		return ret;
	dp->mapped = true;
	for_each_sgtable_dma_sg(&dp->sgt, sg, i) {
		ret = peermap_pieces_append(p, sg_dma_address(sg),
					    sg_dma_len(sg), flags);
		if (ret)
			return ret;
	}
	return 0;
}

void peermap_dma_pages_sync(struct peermap_dma_pages *dp,
			    struct device *client, bool for_device)
{
	if (for_device)
		dma_sync_sgtable_for_device(client, &dp->sgt, dp->dir);
	else
		dma_sync_sgtable_for_cpu(client, &dp->sgt, dp->dir);
}

/* The device is done: unmap (syncing for the CPU) and free the table. */
void peermap_dma_pages_unmap(struct peermap_dma_pages *dp,
			     struct device *client)
{
	if (dp->mapped)
		dma_unmap_sgtable(client, &dp->sgt, dp->dir, 0);
	dp->mapped = false;
	sg_free_table(&dp->sgt);
}

static void ram_piece_free(struct peermap_ram_piece *rp)
{
	if (rp->pinned)
		unpin_user_pages_dirty_lock(rp->pages, rp->npages, rp->dirty);
	kvfree(rp->pages);
	kfree(rp);
}

static void reap_work_fn(struct work_struct *work)
{
	struct pm_map *m = container_of(work, struct pm_map, reap_work);
	struct peermap_ram_piece *rp, *tmp;
	LIST_HEAD(list);

	spin_lock(&m->reap_lock);
	list_splice_init(&m->reap, &list);
	spin_unlock(&m->reap_lock);
	list_for_each_entry_safe(rp, tmp, &list, node)
		ram_piece_free(rp);
}

/*
 * Tear the DMA side of @p down: peer pieces (IOVAs, then the exporter's
 * p2p_unmap), RAM DMA mappings. RAM pages are freed here when @now, else
 * handed to the reap work (invalidation path). Leaves @p empty.
 */
static void pieces_release(struct pm_map *m, struct peermap_pieces *p, bool now)
{
	struct peermap_p2p_req *req, *rtmp;
	struct peermap_ram_piece *rp, *ptmp;

	list_for_each_entry_safe(req, rtmp, &p->peers, node)
		peermap_req_release(req);
	list_for_each_entry_safe(rp, ptmp, &p->ram, node) {
		peermap_dma_pages_unmap(&rp->dma, m->pub.client);
		list_del(&rp->node);
		if (now) {
			ram_piece_free(rp);
		} else {
			spin_lock(&m->reap_lock);
			list_add_tail(&rp->node, &m->reap);
			spin_unlock(&m->reap_lock);
		}
	}
	if (!now && !list_empty(&m->reap))
		queue_work(system_unbound_wq, &m->reap_work);
	kvfree(p->segs);
	pieces_init(p);
}

/* RAM of [start, end): pin it, or fault it (on demand), and DMA-map it. */
static int map_ram(struct pm_map *m, struct peermap_pieces *b,
		   unsigned long start, unsigned long end, unsigned long seq)
{
	bool write = m->pub.access & PEERMAP_ACCESS_WRITE;
	unsigned long first = start & PAGE_MASK, *pfns = NULL, i;
	struct device *client = m->pub.client;
	struct peermap_ram_piece *rp;
	long pinned;
	int ret;

	rp = kzalloc(sizeof(*rp), GFP_KERNEL);
	if (!rp)
		return -ENOMEM;
	list_add_tail(&rp->node, &b->ram);
	rp->npages = (PAGE_ALIGN(end) - first) >> PAGE_SHIFT;
	rp->pages = kvmalloc_array(rp->npages, sizeof(*rp->pages), GFP_KERNEL);
	if (!rp->pages)
		return -ENOMEM;

	if (m->pub.flags & PEERMAP_MAP_ONDEMAND) {
		struct hmm_range range = {
			.notifier = &m->notifier,
			.notifier_seq = seq,
			.start = first,
			.end = PAGE_ALIGN(end),
			.default_flags = HMM_PFN_REQ_FAULT |
					 (write ? HMM_PFN_REQ_WRITE : 0),
		};

		pfns = kvmalloc_array(rp->npages, sizeof(*pfns), GFP_KERNEL);
		if (!pfns)
			return -ENOMEM;
		range.hmm_pfns = pfns;
		ret = hmm_range_fault(&range);
		if (ret) {
			kvfree(pfns);
			if (ret != -EBUSY)
				dev_info_ratelimited(client, "cannot fault memory at %#lx: %d\n",
						     first, ret);
			return ret;
		}
		for (i = 0; i < rp->npages; i++)
			rp->pages[i] = hmm_pfn_to_page(pfns[i]);
		kvfree(pfns);
	} else {
		pinned = pm_pin_user_pages_remote(m->mm, first, rp->npages,
						  FOLL_LONGTERM | (write ? FOLL_WRITE : 0),
						  rp->pages);
		if (pinned != rp->npages) {
			if (pinned > 0)
				unpin_user_pages(rp->pages, pinned);
			dev_info_ratelimited(client, "cannot pin memory at %#lx: %ld\n",
					     first + (max(pinned, 0L) << PAGE_SHIFT),
					     pinned);
			return pinned < 0 ? pinned : -EFAULT;
		}
		rp->pinned = true;
		rp->dirty = write;
	}

	return peermap_dma_pages_map(&rp->dma, client, m->pub.access, 0, b,
				     rp->pages, rp->npages, start - first,
				     end - start);
}

/* Ask the exporter of @vma for [start, end); consumes the @exp reference. */
static int map_peer(struct pm_map *m, struct peermap_pieces *b,
		    struct peermap_exporter *exp, struct vm_area_struct *vma,
		    unsigned long start, unsigned long end)
{
	u64 before = b->mapped;
	struct peermap_p2p_req *req;
	int ret;

	req = kzalloc(sizeof(*req), GFP_KERNEL);
	if (!req) {
		peermap_exporter_put(exp);
		return -ENOMEM;
	}
	req->client = m->pub.client;
	req->access = m->pub.access;
	req->map = &m->pub;
	req->pieces = b;
	req->exp = exp;
	INIT_LIST_HEAD(&req->iovas);
	INIT_LIST_HEAD(&req->sgts);
	INIT_LIST_HEAD(&req->rv_node);
	/* On the list from now on: pieces_release() undoes what was done. */
	list_add_tail(&req->node, &b->peers);

	ret = exp->p2p_map(vma, start, end - start, req);
	if (ret == -EBUSY)
		ret = -EAGAIN;	/* -EBUSY means "build again" in here */
	if (ret) {
		if (ret != -EAGAIN)
			dev_info_ratelimited(m->pub.client, "exporter %s refused %#lx-%#lx: %d\n",
					     exp->name, start, end, ret);
		return ret;
	}
	req->live = true;
	if (b->mapped - before != end - start) {
		dev_warn(m->pub.client, "exporter %s answered %llu bytes for %lu\n",
			 exp->name, b->mapped - before, end - start);
		return -EIO;
	}
	return 0;
}

/* Why a VMA cannot be mapped for @access, as an errno (0 if it can). */
static int vma_refuses(struct pm_map *m, struct vm_area_struct *vma,
		       unsigned long addr, bool peer)
{
	struct device *client = m->pub.client;
	u32 access = m->pub.access;

	if (!peer && (vma->vm_flags & (VM_IO | VM_PFNMAP))) {
		dev_info_ratelimited(client, "%#lx is I/O memory of a driver not registered with peermap\n",
				     addr);
		return -EFAULT;
	}
	if (!(vma->vm_flags & (VM_READ | VM_WRITE))) {
		dev_info_ratelimited(client, "%#lx is PROT_NONE\n", addr);
		return -EFAULT;
	}
	if ((access & PEERMAP_ACCESS_WRITE) && !(vma->vm_flags & VM_WRITE)) {
		dev_info_ratelimited(client, "%#lx is read-only, write access asked\n",
				     addr);
		return -EACCES;
	}
	if ((access & PEERMAP_ACCESS_READ) && !(vma->vm_flags & VM_READ)) {
		dev_info_ratelimited(client, "%#lx is not readable\n", addr);
		return -EACCES;
	}
	return 0;
}

/* Resolve the whole range into @b (empty). Called with build_lock held. */
static int build(struct pm_map *m, struct peermap_pieces *b, unsigned long seq)
{
	unsigned long cur, piece_end, end = m->pub.addr + m->pub.len;
	struct device *client = m->pub.client;
	struct peermap_exporter *exp;
	struct vm_area_struct *vma;
	int ret = 0;

	if (!mmget_not_zero(m->mm))
		return -ESRCH;		/* the process is gone */
	if (mmap_read_lock_killable(m->mm)) {
		mmput(m->mm);
		return -EINTR;
	}
	for (cur = m->pub.addr; cur < end; cur = piece_end) {
		vma = find_vma(m->mm, cur);
		if (!vma || vma->vm_start > cur) {
			dev_info_ratelimited(client, "no mapping at %#lx\n", cur);
			ret = -EFAULT;
			break;
		}
		piece_end = min(end, vma->vm_end);
		exp = peermap_exporter_get(vma);
		ret = vma_refuses(m, vma, cur, !!exp);
		if (ret) {
			if (exp)
				peermap_exporter_put(exp);
			break;
		}
		if (exp)
			ret = map_peer(m, b, exp, vma, cur, piece_end);
		else
			ret = map_ram(m, b, cur, piece_end, seq);
		if (ret)
			break;
	}
	mmap_read_unlock(m->mm);
	mmput(m->mm);
	return ret;
}

/*
 * One attempt: build, then install unless invalidated meanwhile. -EBUSY
 * and -EAGAIN ask for another attempt.
 */
static int build_and_install(struct pm_map *m)
{
	struct peermap_pieces b;
	unsigned long seq, rseq;
	int ret;

	pieces_init(&b);
	seq = mmu_interval_read_begin(&m->notifier);
	rseq = READ_ONCE(m->revoke_seq);
	ret = build(m, &b, seq);
	if (ret)
		goto undo;

	mutex_lock(&m->lock);
	if (mmu_interval_read_retry(&m->notifier, seq) ||
	    m->revoke_seq != rseq) {
		mutex_unlock(&m->lock);
		ret = -EBUSY;
		goto undo;
	}
	m->cur = b;
	list_replace_init(&b.ram, &m->cur.ram);
	list_replace_init(&b.peers, &m->cur.peers);
	m->pub.segs = m->cur.segs;
	m->pub.nsegs = m->cur.nsegs;
	if (m->installs++)
		m->stats.remaps++;
	m->stats.fallback_bytes = m->cur.fallback;
	/* The segments are visible before the mapping says valid. */
	smp_store_release(&m->valid, true);
	mutex_unlock(&m->lock);
	return 0;

undo:
	pieces_release(m, &b, true);
	return ret;
}

/**
 * peermap_remap() - make a mapping valid again after an invalidation
 * @map: from peermap_map()
 *
 * Resolves the range again (the exporter may answer differently now, e.g.
 * system memory while its memory is evicted). Returns at once if the
 * mapping is valid. Safe to call from several threads.
 * Context: process context, may sleep; takes the mmap lock for read.
 * Return: 0, or the errno peermap_map() documents; -ESRCH if the process
 * is gone; -ENOENT after peermap_unmap() started.
 */
int peermap_remap(struct peermap_mapping *map)
{
	struct pm_map *m = to_pm(map);
	int ret;

	if (mutex_lock_killable(&m->build_lock))
		return -EINTR;
	for (;;) {
		if (m->dead) {
			ret = -ENOENT;
			break;
		}
		/* Pairs with the release in build_and_install(). */
		if (smp_load_acquire(&m->valid)) {
			ret = 0;
			break;
		}
		ret = build_and_install(m);
		if (ret != -EBUSY && ret != -EAGAIN)
			break;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		/* -EAGAIN: an exporter is moving its memory; let it. */
		if (ret == -EAGAIN)
			schedule_timeout_killable(1);
		else
			cond_resched();
	}
	mutex_unlock(&m->build_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(peermap_remap);

/**
 * peermap_mapping_valid() - may the importer use the segments now?
 * @map: from peermap_map()
 *
 * True until an invalidation starts. An importer checks it with the lock
 * its invalidate callback takes held, so the segments cannot go away
 * while its DMA runs.
 */
bool peermap_mapping_valid(struct peermap_mapping *map)
{
	/* Pairs with the release in build_and_install(): segs are set. */
	return smp_load_acquire(&to_pm(map)->valid);
}
EXPORT_SYMBOL_GPL(peermap_mapping_valid);

/* Sync every RAM part of a valid mapping (RAM pieces, fallback pages). */
static void pm_sync(struct peermap_mapping *map, bool for_device)
{
	struct pm_map *m = to_pm(map);
	struct peermap_ram_piece *rp;
	struct peermap_p2p_req *req;

	list_for_each_entry(rp, &m->cur.ram, node)
		peermap_dma_pages_sync(&rp->dma, map->client, for_device);
	list_for_each_entry(req, &m->cur.peers, node)
		peermap_req_sync(req, for_device);
}

/**
 * peermap_sync_for_device() - make CPU writes visible to the device
 * @map: a valid mapping
 *
 * RAM is mapped with DMA_ATTR_SKIP_CPU_SYNC (ranges of several mappings
 * may overlap), so the importer syncs: for the device before it starts
 * DMA to the mapping, for the CPU after the device wrote it. No-ops on
 * cache-coherent platforms. Call while the mapping is valid and the
 * importer holds off its invalidate callback (as when it uses segs).
 */
void peermap_sync_for_device(struct peermap_mapping *map)
{
	pm_sync(map, true);
}
EXPORT_SYMBOL_GPL(peermap_sync_for_device);

/**
 * peermap_sync_for_cpu() - make device writes visible to the CPU
 * @map: a valid mapping; see peermap_sync_for_device()
 */
void peermap_sync_for_cpu(struct peermap_mapping *map)
{
	pm_sync(map, false);
}
EXPORT_SYMBOL_GPL(peermap_sync_for_cpu);

/**
 * peermap_mapping_stats() - read a mapping's counters
 * @map: from peermap_map()
 * @st: filled in
 */
void peermap_mapping_stats(struct peermap_mapping *map,
			   struct peermap_map_stats *st)
{
	struct pm_map *m = to_pm(map);

	mutex_lock(&m->lock);
	*st = m->stats;
	mutex_unlock(&m->lock);
}
EXPORT_SYMBOL_GPL(peermap_mapping_stats);

/*
 * Invalidate under m->lock: the importer stops its DMA, then the DMA
 * addresses go. The next peermap_remap() resolves the range again.
 */
static void invalidate_locked(struct pm_map *m, unsigned int why)
{
	lockdep_assert_held(&m->lock);
	if (!m->valid)
		return;
	WRITE_ONCE(m->valid, false);
	m->ops->invalidate(&m->pub, why);
	trace_peermap_invalidate(m->pub.client, m->pub.addr, m->pub.len, why);
	pieces_release(m, &m->cur, false);
	m->pub.segs = NULL;
	m->pub.nsegs = 0;
	m->stats.invalidations++;
	m->stats.last_reason = why;
	m->stats.fallback_bytes = 0;
}

static unsigned int reason_of(const struct mmu_notifier_range *range)
{
	switch (range->event) {
	case MMU_NOTIFY_UNMAP:
		return PEERMAP_INVAL_UNMAP;
	case MMU_NOTIFY_PROTECTION_VMA:
		return PEERMAP_INVAL_PROTECT;
	case MMU_NOTIFY_RELEASE:
		return PEERMAP_INVAL_EXIT;
	default:
		return PEERMAP_INVAL_CHANGE;
	}
}

/*
 * Pinned pages stay where they are: a pinned mapping only cares when the
 * range stops being what the process sees (unmapped, zapped, protection
 * changed, address space gone), not about write-protection for COW or
 * dirty tracking, nor migration (pinned pages do not migrate).
 */
static bool pinned_cares(const struct mmu_notifier_range *range)
{
	switch (range->event) {
	case MMU_NOTIFY_UNMAP:
	case MMU_NOTIFY_CLEAR:
	case MMU_NOTIFY_PROTECTION_VMA:
	case MMU_NOTIFY_RELEASE:
		return true;
	default:
		return false;
	}
}

static bool pm_mni_invalidate(struct mmu_interval_notifier *mni,
			      const struct mmu_notifier_range *range,
			      unsigned long cur_seq)
{
	struct pm_map *m = container_of(mni, struct pm_map, notifier);

	if (mmu_notifier_range_blockable(range))
		mutex_lock(&m->lock);
	else if (!mutex_trylock(&m->lock))
		return false;
	mmu_interval_set_seq(mni, cur_seq);
	if ((m->pub.flags & PEERMAP_MAP_ONDEMAND) || pinned_cares(range))
		invalidate_locked(m, reason_of(range));
	mutex_unlock(&m->lock);
	return true;
}

static const struct mmu_interval_notifier_ops pm_mni_ops = {
	.invalidate = pm_mni_invalidate,
};

static void pm_map_release(struct kref *ref)
{
	struct pm_map *m = container_of(ref, struct pm_map, ref);

	flush_work(&m->reap_work);
	reap_work_fn(&m->reap_work);
	mmdrop(m->mm);
	put_device(m->pub.client);
	kfree(m);
}

/**
 * peermap_map() - map a user range for a client device's DMA
 * @client: the importer's device (DMA addresses are for it)
 * @mm: the address space, with users (normally current->mm)
 * @addr: start, any byte alignment
 * @len: bytes, > 0
 * @access: PEERMAP_ACCESS_READ and/or PEERMAP_ACCESS_WRITE (by the device)
 * @flags: PEERMAP_MAP_PINNED or PEERMAP_MAP_ONDEMAND (how RAM is held)
 * @ops: the importer's invalidate callback (required)
 * @priv: the importer's, in map->priv
 *
 * Device memory VMAs are resolved by their exporter; ordinary memory is
 * pinned (FOLL_LONGTERM) or, on demand, faulted without a pin, and
 * DMA-mapped. The segments cover the range exactly. The mapping stays
 * valid until an invalidation (ops->invalidate), after which
 * peermap_remap() resolves it again; peermap_unmap() ends it.
 * Context: process context, may sleep; takes the mmap lock for read.
 * Return: the mapping, or ERR_PTR: -EINVAL (zero length, bad access or
 * flags, no ops), -EOVERFLOW (addr + len wraps), -E2BIG (over
 * max_map_bytes), -EFAULT (a hole, PROT_NONE, a foreign VM_IO/VM_PFNMAP
 * VMA, beyond the address space), -EACCES (write to a read-only VMA),
 * -EINTR (fatal signal), -ENOMEM, or the exporter's refusal.
 */
struct peermap_mapping *peermap_map(struct device *client,
				    struct mm_struct *mm,
				    unsigned long addr, size_t len,
				    u32 access, u32 flags,
				    const struct peermap_importer_ops *ops,
				    void *priv)
{
	unsigned long end;
	struct pm_map *m;
	int ret;

	if (!len || !access || (access & ~(PEERMAP_ACCESS_READ | PEERMAP_ACCESS_WRITE)) ||
	    (flags & ~PEERMAP_MAP_ONDEMAND) || !ops || !ops->invalidate)
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

	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return ERR_PTR(-ENOMEM);
	m->pub.client = get_device(client);
	m->pub.addr = addr;
	m->pub.len = len;
	m->pub.access = access;
	m->pub.flags = flags;
	m->pub.priv = priv;
	m->ops = ops;
	m->mm = mm;
	mmgrab(mm);
	kref_init(&m->ref);
	mutex_init(&m->build_lock);
	mutex_init(&m->lock);
	pieces_init(&m->cur);
	spin_lock_init(&m->reap_lock);
	INIT_LIST_HEAD(&m->reap);
	INIT_WORK(&m->reap_work, reap_work_fn);

	ret = mmu_interval_notifier_insert(&m->notifier, mm, addr & PAGE_MASK,
					   PAGE_ALIGN(end) - (addr & PAGE_MASK),
					   &pm_mni_ops);
	if (ret) {
		kref_put(&m->ref, pm_map_release);
		return ERR_PTR(ret);
	}
	m->notifier_live = true;
	ret = peermap_remap(&m->pub);
	if (ret) {
		peermap_unmap(&m->pub);
		return ERR_PTR(ret);
	}
	return &m->pub;
}
EXPORT_SYMBOL_GPL(peermap_map);

/**
 * peermap_unmap() - end a mapping
 * @map: from peermap_map()
 *
 * The caller's device must no longer DMA to the mapping; the importer's
 * invalidate callback is not called. DMA addresses are torn down, then
 * exporters are told, then RAM is released. Must not race with
 * peermap_remap() of the same mapping from the importer.
 * Context: may sleep.
 */
void peermap_unmap(struct peermap_mapping *map)
{
	struct pm_map *m = to_pm(map);

	mutex_lock(&m->build_lock);
	m->dead = true;
	mutex_unlock(&m->build_lock);
	if (m->notifier_live)
		mmu_interval_notifier_remove(&m->notifier);
	mutex_lock(&m->lock);
	WRITE_ONCE(m->valid, false);
	pieces_release(m, &m->cur, true);
	m->pub.segs = NULL;
	m->pub.nsegs = 0;
	mutex_unlock(&m->lock);
	kref_put(&m->ref, pm_map_release);
}
EXPORT_SYMBOL_GPL(peermap_unmap);

/* --- exporter side: revocation ------------------------------------------ */

/**
 * peermap_revocable_init() - set up the revocation list of an object
 * @rv: embedded in the exporter's object
 */
void peermap_revocable_init(struct peermap_revocable *rv)
{
	spin_lock_init(&rv->lock);
	INIT_LIST_HEAD(&rv->reqs);
}
EXPORT_SYMBOL_GPL(peermap_revocable_init);

/**
 * peermap_req_attach() - record that @req maps memory of @rv
 * @req: the request p2p_map is answering
 * @rv: the object's revocation list
 *
 * Call from p2p_map, under the lock that orders it against the exporter
 * deciding to revoke (so a revoke either sees the request, or the request
 * sees the new state). The core detaches it when the piece is torn down.
 */
void peermap_req_attach(struct peermap_p2p_req *req,
			struct peermap_revocable *rv)
{
	if (WARN_ON(req->rv))
		return;
	spin_lock(&rv->lock);
	req->rv = rv;
	list_add_tail(&req->rv_node, &rv->reqs);
	spin_unlock(&rv->lock);
}
EXPORT_SYMBOL_GPL(peermap_req_attach);

/* Called by peermap_req_release(): the piece no longer maps @rv. */
void peermap_req_detach(struct peermap_p2p_req *req)
{
	struct peermap_revocable *rv = req->rv;

	if (!rv)
		return;
	spin_lock(&rv->lock);
	list_del_init(&req->rv_node);
	spin_unlock(&rv->lock);
	req->rv = NULL;
}

/**
 * peermap_revoke() - take device memory back from every importer
 * @rv: the object's revocation list
 * @why: PEERMAP_INVAL_REVOKE, PEERMAP_INVAL_REMOVE, or PEERMAP_INVAL_PROTECT
 *	 (from the exporter's vm_ops->mprotect)
 *
 * Every mapping holding a piece of @rv is invalidated: its importer stops
 * its DMA, then the DMA addresses (and IOVAs) are torn down, then
 * p2p_unmap is called. A mapping being built at the same time is built
 * again. The exporter first makes p2p_map refuse the memory (or answer
 * -EAGAIN while it moves it), then calls this; when it returns no importer
 * uses the old addresses.
 * Context: process context, may sleep; no exporter lock that p2p_unmap
 * takes may be held.
 */
void peermap_revoke(struct peermap_revocable *rv, unsigned int why)
{
	struct peermap_p2p_req *req;
	struct pm_map *m;

	might_sleep();
	for (;;) {
		spin_lock(&rv->lock);
		req = list_first_entry_or_null(&rv->reqs, struct peermap_p2p_req,
					       rv_node);
		if (!req) {
			spin_unlock(&rv->lock);
			break;
		}
		/*
		 * Attached means its mapping is not freed yet (teardown
		 * detaches under this lock first): a reference is safe.
		 */
		list_del_init(&req->rv_node);
		m = to_pm(req->map);
		kref_get(&m->ref);
		spin_unlock(&rv->lock);

		mutex_lock(&m->lock);
		m->revoke_seq++;	/* a build in progress starts over */
		invalidate_locked(m, why);
		mutex_unlock(&m->lock);
		kref_put(&m->ref, pm_map_release);
	}
}
EXPORT_SYMBOL_GPL(peermap_revoke);
