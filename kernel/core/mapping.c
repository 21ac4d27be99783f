// SPDX-License-Identifier: GPL-2.0
/*
 * Importer side: map a user range for a client device into a vector of
 * DMA segments, keep it valid, and invalidate it when what it points at
 * goes away.
 *
 * A mapping is resolved ("built") without locks held around allocations:
 * the range is walked VMA by VMA under the mmap lock; registered device
 * VMAs and dma-buf windows (window.c) are resolved by their exporter
 * (DMA addresses only, no struct page), ordinary memory is pinned
 * long-term or, on demand, faulted with hmm_range_fault(); everything is
 * DMA-mapped for the client. The result
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

#include <linux/hmm.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "exporter.h"
#include "internal.h"
#include "segments.h"
#include "trace.h"

/*
 * Every mapping, for peermap_routes_changed(). A spinlock: taken per map
 * and unmap, never around anything that sleeps.
 */
static DEFINE_SPINLOCK(pm_maps_lock);
static LIST_HEAD(pm_maps);

/*
 * RAM is held in pieces of at most this much, aligned to it in the address
 * space: an invalidation of one page tears down and resolves again one
 * piece, not all the RAM of the range.
 */
#define PM_RAM_CHUNK	(32UL << 20)

static unsigned long max_map_bytes = 4UL << 30;
module_param(max_map_bytes, ulong, 0644);
MODULE_PARM_DESC(max_map_bytes, "largest range one mapping may cover (default 4 GiB)");

/* RAM of one VMA piece (pinned or faulted) and its DMA mapping. */
struct peermap_ram_piece {
	struct list_head node;
	unsigned long start, end;	/* the user bytes it holds */
	struct page **pages;
	unsigned long npages;
	struct peermap_dma_pages dma;
	struct mm_struct *charged;	/* npages charged to its pinned_vm */
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
	struct list_head node;		/* in pm_maps, under pm_maps_lock */
	struct list_head chg_node;	/* peermap_routes_changed()'s, its mutex */
	struct mmu_interval_notifier notifier;
	/* Serialises builds and the final unmap; protects dead, installs. */
	struct mutex build_lock;
	bool dead;
	u64 installs;
	/*
	 * A build runs (set under build_lock, read by the mmu notifier):
	 * device-private pages migrating now migrate because of it.
	 */
	bool building;
	/*
	 * Protects cur, valid, revoke_seq, stats and pub.segs/nsegs; held
	 * while the importer is told to stop and the DMA addresses are torn
	 * down. Importers read pub.segs while the mapping is valid and they
	 * hold off their invalidate callback (their own lock).
	 */
	struct mutex lock;
	struct peermap_pieces cur;
	bool valid;			/* cur is installed and usable */
	bool stopped;			/* importer told to stop, cur still up */
	unsigned long revoke_seq;	/* bumped by peermap_revoke() */
	struct peermap_map_stats stats;
	/* RAM pieces to unpin, off the invalidation path. */
	spinlock_t reap_lock;		/* protects reap, reaped */
	struct list_head reap;
	struct work_struct reap_work;
	bool reaped;			/* reap_work was ever queued */
};

static struct pm_map *to_pm(struct peermap_mapping *map)
{
	return container_of(map, struct pm_map, pub);
}

/* How peermap_revoke() (exporter.c) reaches a mapping: at the end. */
static const struct peermap_revoke_ops pm_revoke_ops;

/*
 * The piece leaves its mapping: its pins stop counting against the limit
 * now, not when the reap work gets to them, or a mapping resolved again
 * at once would be charged twice.
 */
static void ram_piece_uncharge(struct peermap_ram_piece *rp)
{
	if (rp->charged)
		atomic64_sub(rp->npages, &rp->charged->pinned_vm);
	rp->charged = NULL;
}

static void ram_piece_free(struct peermap_ram_piece *rp)
{
	ram_piece_uncharge(rp);
	if (rp->pinned)
		unpin_user_pages_dirty_lock(rp->pages, rp->npages, rp->dirty);
	kvfree(rp->pages);
	kfree(rp);
}

/*
 * Long-term pins count against the process's RLIMIT_MEMLOCK in
 * mm->pinned_vm, as RDMA's ib_umem counts them (account_locked_vm()
 * would take the mmap lock for writing, which the range walk holds for
 * reading, and mm->locked_vm is mlock()'s).
 */
static int charge_pinned(struct pm_map *m, struct peermap_ram_piece *rp)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	s64 now = atomic64_add_return(rp->npages, &m->mm->pinned_vm);

	if (now > limit && !capable(CAP_IPC_LOCK)) {
		atomic64_sub(rp->npages, &m->mm->pinned_vm);
		dev_info_ratelimited(m->pub.client,
				     "%s[%d]: pinning %lu KiB more would pass RLIMIT_MEMLOCK (%lu KiB, %lld KiB pinned): raise it (ulimit -l) or map on demand\n",
				     current->comm, task_pid_nr(current),
				     rp->npages << (PAGE_SHIFT - 10),
				     limit << (PAGE_SHIFT - 10),
				     (now - rp->npages) << (PAGE_SHIFT - 10));
		return -ENOMEM;
	}
	rp->charged = m->mm;
	return 0;
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

/* RAM piece @rp leaves: DMA addresses now, pages now or by the reap work. */
static void ram_piece_drop(struct pm_map *m, struct peermap_ram_piece *rp,
			   bool now)
{
	peermap_dma_pages_unmap(&rp->dma, m->pub.client);
	ram_piece_uncharge(rp);
	list_del(&rp->node);
	if (now) {
		ram_piece_free(rp);
		return;
	}
	spin_lock(&m->reap_lock);
	list_add_tail(&rp->node, &m->reap);
	m->reaped = true;
	spin_unlock(&m->reap_lock);
}

/*
 * What an invalidation takes down of a mapping's pieces: those that
 * overlap the user addresses [start, end) (RAM too if @ram), or, with
 * @rv, the peer pieces of that exporter's object. The rest stays mapped
 * and is reused by the next resolution.
 */
struct pm_change {
	unsigned long start, end;
	struct peermap_revocable *rv;
	bool ram;
};

static bool change_hits(const struct pm_change *c, unsigned long start,
			unsigned long end)
{
	return c->start < end && start < c->end;
}

static bool change_hits_peer(const struct pm_change *c,
			     const struct peermap_p2p_req *req)
{
	return c->rv ? req->rv == c->rv : change_hits(c, req->start, req->end);
}

static bool change_hits_ram(const struct pm_change *c,
			    const struct peermap_ram_piece *rp)
{
	return c->ram && !c->rv && change_hits(c, rp->start, rp->end);
}

/*
 * The user addresses of m->cur's pieces that @c takes down, in *@start,
 * *@end; false if it takes none down. Under m->lock.
 */
static bool change_span(struct pm_map *m, const struct pm_change *c,
			unsigned long *start, unsigned long *end)
{
	struct peermap_p2p_req *req;
	struct peermap_ram_piece *rp;

	*start = ULONG_MAX;
	*end = 0;
	list_for_each_entry(req, &m->cur.peers, node) {
		if (change_hits_peer(c, req)) {
			*start = min(*start, req->start);
			*end = max(*end, req->end);
		}
	}
	list_for_each_entry(rp, &m->cur.ram, node) {
		if (change_hits_ram(c, rp)) {
			*start = min(*start, rp->start);
			*end = max(*end, rp->end);
		}
	}
	return *start < *end;
}

/* Take down what @c says of m->cur; under m->lock. */
static void pieces_drop(struct pm_map *m, const struct pm_change *c)
{
	struct peermap_p2p_req *req, *rtmp;
	struct peermap_ram_piece *rp, *ptmp;

	lockdep_assert_held(&m->lock);
	list_for_each_entry_safe(req, rtmp, &m->cur.peers, node)
		if (change_hits_peer(c, req))
			peermap_req_release(req);
	list_for_each_entry_safe(rp, ptmp, &m->cur.ram, node)
		if (change_hits_ram(c, rp))
			ram_piece_drop(m, rp, false);
	if (!list_empty(&m->reap))
		queue_work(system_unbound_wq, &m->reap_work);
}

/*
 * Tear all of @p down, now (not from an invalidation): peer pieces (IOVAs,
 * then the exporter's p2p_unmap), RAM's DMA mappings and pages. Leaves @p
 * empty.
 */
static void pieces_release(struct pm_map *m, struct peermap_pieces *p)
{
	struct peermap_p2p_req *req, *rtmp;
	struct peermap_ram_piece *rp, *ptmp;

	list_for_each_entry_safe(req, rtmp, &p->peers, node)
		peermap_req_release(req);
	list_for_each_entry_safe(rp, ptmp, &p->ram, node)
		ram_piece_drop(m, rp, true);
	peermap_pieces_free(p);
	peermap_pieces_init(p, m->pub.client);
}

/*
 * Pin @n pages of the caller's own address space from @first with the
 * lockless fast path (mmap lock not held), as RDMA's ib_umem does; it
 * falls back to taking the lock itself. The remote variant, under the
 * lock, walks every page through the slow path: half the cost of a RAM
 * mapping up to 1 MiB.
 */
static long pin_fast(unsigned long first, unsigned long n, unsigned int gup,
		     struct page **pages)
{
	unsigned long done = 0;
	long ret;

	while (done < n) {
		ret = pin_user_pages_fast(first + (done << PAGE_SHIFT),
					  min_t(unsigned long, n - done, INT_MAX),
					  gup, pages + done);
		if (ret <= 0) {
			if (done)
				unpin_user_pages(pages, done);
			return ret ? ret : -EFAULT;
		}
		done += ret;
	}
	return done;
}

/* One resolution in progress: what it builds, and what it may reuse. */
struct pm_build {
	struct peermap_pieces b;	/* being built */
	struct peermap_pieces old;	/* kept from the last one, and its segments */
	struct peermap_seg_cursor c;	/* in old's segments */
	unsigned long seq;		/* the notifier's, for hmm_range_fault() */
	unsigned int reused;		/* pieces taken over from old */
	u64 rebuilt;			/* bytes resolved anew */
	u64 devmem;			/* bytes of device-private pages */
	bool moved;			/* it migrated pages: start again */
	struct peermap_devmem *refused;	/* an exporter that said no */
};

/* A RAM piece of [start, end) on @b's list (undone with it), or NULL. */
static struct peermap_ram_piece *ram_piece_new(struct peermap_pieces *b,
					       unsigned long start,
					       unsigned long end)
{
	struct peermap_ram_piece *rp;

	rp = kzalloc(sizeof(*rp), GFP_KERNEL_ACCOUNT);
	if (!rp)
		return NULL;
	list_add_tail(&rp->node, &b->ram);
	rp->start = start;
	rp->end = end;
	rp->npages = (PAGE_ALIGN(end) - (start & PAGE_MASK)) >> PAGE_SHIFT;
	rp->pages = kvmalloc_array(rp->npages, sizeof(*rp->pages), PEERMAP_GFP_USER);
	return rp->pages ? rp : NULL;
}

/*
 * RAM of [start, end): pin it and DMA-map it.
 * @fast: pin with pin_fast(), the mmap lock not held (build() dropped it).
 */
static int map_ram_pinned(struct pm_map *m, struct peermap_pieces *b,
			  unsigned long start, unsigned long end, bool fast)
{
	unsigned int gup;
	bool write = m->pub.access & PEERMAP_ACCESS_WRITE;
	unsigned long first = start & PAGE_MASK;
	struct device *client = m->pub.client;
	struct peermap_ram_piece *rp;
	long pinned;
	int ret;

	rp = ram_piece_new(b, start, end);
	if (!rp)
		return -ENOMEM;
	ret = charge_pinned(m, rp);
	if (ret)
		return ret;
	gup = FOLL_LONGTERM | (write ? FOLL_WRITE : 0);
	if (fast)
		pinned = pin_fast(first, rp->npages, gup, rp->pages);
	else
		pinned = pm_pin_user_pages_remote(m->mm, first, rp->npages,
						  gup, rp->pages);
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

	return peermap_dma_pages_map(&rp->dma, client, m->pub.access, 0, b,
				     rp->pages, start - first, end - start);
}

/* Faulted RAM pages (hmm_range_fault()'s @pfns) of [start, end): one piece. */
static int map_ram_faulted(struct pm_map *m, struct peermap_pieces *b,
			   const unsigned long *pfns, unsigned long start,
			   unsigned long end)
{
	struct peermap_ram_piece *rp = ram_piece_new(b, start, end);
	unsigned long i;

	if (!rp)
		return -ENOMEM;
	for (i = 0; i < rp->npages; i++)
		rp->pages[i] = hmm_pfn_to_page(pfns[i]);
	return peermap_dma_pages_map(&rp->dma, m->pub.client, m->pub.access, 0,
				     b, rp->pages, start & ~PAGE_MASK,
				     end - start);
}

/* The bytes of the pages [i, j) of @pfns, which start at @first, in [s, e). */
static void pfns_span(unsigned long first, unsigned long i, unsigned long j,
		      unsigned long s, unsigned long e, unsigned long *rs,
		      unsigned long *re)
{
	*rs = max(s, first + (i << PAGE_SHIFT));
	*re = min(e, first + (j << PAGE_SHIFT));
}

/* The pfn of an entry of hmm_range_fault()'s output. */
static unsigned long hmm_pfn_pfn(unsigned long hmm_pfn)
{
	return hmm_pfn & ~HMM_PFN_FLAGS;
}

/* Is the page of @hmm_pfn in @pgmap's range? From the pfn alone. */
static bool in_pgmap(const struct dev_pagemap *pgmap, unsigned long hmm_pfn)
{
	phys_addr_t phys = PFN_PHYS(hmm_pfn_pfn(hmm_pfn));

	return phys >= pgmap->range.start && phys <= pgmap->range.end;
}

/*
 * @r faults [start, end) in for the mapping's access (for writing if the
 * device writes) and reports the device-private pages of @owner as they
 * are; its pfn array allocated (kvfree() it). The caller sets the
 * notifier's sequence. 0 or -ENOMEM.
 */
static int fault_range_init(struct pm_map *m, struct hmm_range *r,
			    unsigned long start, unsigned long end, void *owner)
{
	bool write = m->pub.access & PEERMAP_ACCESS_WRITE;

	*r = (struct hmm_range) {
		.notifier = &m->notifier,
		.start = start & PAGE_MASK,
		.end = PAGE_ALIGN(end),
		.default_flags = HMM_PFN_REQ_FAULT |
				 (write ? HMM_PFN_REQ_WRITE : 0),
		.dev_private_owner = owner,
	};
	r->hmm_pfns = kvmalloc_array((r->end - r->start) >> PAGE_SHIFT,
				     sizeof(*r->hmm_pfns), PEERMAP_GFP_USER);
	return r->hmm_pfns ? 0 : -ENOMEM;
}

/*
 * Device-private pages [start, end) that cannot be mapped peer to peer
 * (their exporter refused the client, the route is none, or they are
 * read-only and the client writes): fault them as upstream does, which
 * migrates them back to RAM (their migrate_to_ram), and say so. The
 * fault invalidates the range (-EBUSY); it is faulted again until it is
 * all RAM, a few times at most, so that the pages counted did move.
 */
static int migrate_back(struct pm_map *m, struct pm_build *bd,
			unsigned long start, unsigned long end, const char *why)
{
	struct hmm_range range;
	unsigned int tries = 0;
	int ret;

	/* no owner: every device-private page faults */
	ret = fault_range_init(m, &range, start, end, NULL);
	if (ret)
		return ret;
	do {
		range.notifier_seq = mmu_interval_read_begin(&m->notifier);
		ret = hmm_range_fault(&range);
	} while (ret == -EBUSY && ++tries < 8 && !fatal_signal_pending(current));
	kvfree(range.hmm_pfns);
	bd->moved = true;	/* the range changed: the build starts again */
	if (ret)
		return ret;
	mutex_lock(&m->lock);
	m->stats.migrated_bytes += end - start;
	mutex_unlock(&m->lock);
	trace_peermap_devmem_migrate(m->pub.client, start, end - start, why);
	return 0;
}

/*
 * Device-private pages [start, end) of @dm (@pfns, from @start's page),
 * peer to peer: one piece, which takes over the @pgmap reference,
 * answered by @dm's exporter run by run of pages contiguous in @dm.
 */
static int map_devmem_run(struct pm_map *m, struct pm_build *bd,
			  struct peermap_devmem *dm, struct dev_pagemap *pgmap,
			  const unsigned long *pfns, unsigned long start,
			  unsigned long end)
{
	unsigned long first = start & PAGE_MASK, s, e, i, j, base;
	unsigned long n = (PAGE_ALIGN(end) - first) >> PAGE_SHIFT;
	struct peermap_p2p_req *req;
	u64 before = bd->b.mapped;
	int ret;

	if (!try_module_get(dm->exp->owner)) {
		put_dev_pagemap(pgmap);
		return -EAGAIN;		/* going: its pages migrate back */
	}
	/* On bd->b's list: pieces_release() undoes what gets done. */
	req = peermap_req_new(dm->exp, m->pub.client, m->pub.access, &bd->b,
			      &pm_revoke_ops, m);
	if (!req) {
		put_dev_pagemap(pgmap);
		return -ENOMEM;
	}
	req->pgmap = pgmap;
	req->stoppable = !!m->ops->stop;
	req->start = start;
	req->end = end;
	for (i = 0; i < n; i = j) {
		base = hmm_pfn_pfn(pfns[i]);
		for (j = i + 1; j < n && hmm_pfn_pfn(pfns[j]) == base + j - i; j++)
			;
		pfns_span(first, i, j, start, end, &s, &e);
		ret = peermap_devmem_answer(req, dm,
					    peermap_devmem_offset(dm, pfn_to_page(base)) +
					    (s & ~PAGE_MASK), e - s);
		if (ret == -EBUSY)
			ret = -EAGAIN;	/* -EBUSY means "build again" in here */
		if (ret)
			return ret;
	}
	if (bd->b.mapped - before != end - start) {
		dev_warn(m->pub.client, "exporter %s answered %llu bytes of device-private memory for %lu\n",
			 dm->exp->name, bd->b.mapped - before, end - start);
		return -EIO;
	}
	bd->devmem += end - start;
	return 0;
}

/* Errors of an answer that mean "not now" or "failed", not "not this way". */
static bool transient(int ret)
{
	return ret == -EAGAIN || ret == -ENOMEM || ret == -EINTR || ret == -EIO;
}

/*
 * Device-private pages [start, end) of @dm (@pfns, from @start's page;
 * @pgmap's reference is ours to consume): peer to peer, or back to RAM
 * where that cannot be. Once pages moved in this build (bd->moved), it
 * will start again: the rest is only migrated, not mapped.
 */
static int map_devmem(struct pm_map *m, struct pm_build *bd,
		      struct peermap_devmem *dm, struct dev_pagemap *pgmap,
		      const unsigned long *pfns, unsigned long start,
		      unsigned long end)
{
	bool write = m->pub.access & PEERMAP_ACCESS_WRITE;
	unsigned long first = start & PAGE_MASK, s, e, i, j;
	unsigned long n = (PAGE_ALIGN(end) - first) >> PAGE_SHIFT;
	int ret = 0;

	/*
	 * hmm_range_fault() reports our pages without faulting them for
	 * writing: after fork() they are read-only (COW). Those go back.
	 */
	for (i = 0; write && i < n && !ret; i = j) {
		for (j = i + 1; j < n && !(pfns[i] & HMM_PFN_WRITE) ==
		     !(pfns[j] & HMM_PFN_WRITE); j++)
			;
		pfns_span(first, i, j, start, end, &s, &e);
		if (!(pfns[i] & HMM_PFN_WRITE))
			ret = migrate_back(m, bd, s, e, "read-only");
	}
	if (ret || bd->moved) {
		put_dev_pagemap(pgmap);
		return ret;
	}
	if (dm == bd->refused) {	/* it said no already in this build */
		put_dev_pagemap(pgmap);
		return migrate_back(m, bd, start, end, "refused");
	}
	ret = map_devmem_run(m, bd, dm, pgmap, pfns, start, end);
	if (!ret || transient(ret))
		return ret;
	dev_info_ratelimited(m->pub.client, "device-private pages %#lx-%#lx of exporter %s not mapped peer to peer (%d: %s): migrating them back to RAM\n",
			     start, end, dm->exp->name, ret,
			     ret == -EREMOTEIO ? "no route" : "refused");
	bd->refused = dm;	/* identity only: its reference went with the piece */
	return migrate_back(m, bd, start, end, "refused");
}

/*
 * On demand, [start, end) (one chunk): fault it with hmm_range_fault(),
 * which reports peermap exporters' device-private pages instead of
 * migrating them back, and map RAM runs and device runs in order: the
 * segments say RAM or PEER page by page, merged where contiguous. A page
 * is told apart by its pfn (peermap_devmem_get()), its struct page only
 * read once its pgmap is held: the exporter may take its memory back at
 * any time, and the notifier's sequence guards only the install.
 */
static int map_ondemand(struct pm_map *m, struct pm_build *bd,
			unsigned long start, unsigned long end)
{
	unsigned long first = start & PAGE_MASK, i, j, s, e;
	unsigned long n = (PAGE_ALIGN(end) - first) >> PAGE_SHIFT;
	struct peermap_devmem *dm;
	struct dev_pagemap *pgmap;
	struct hmm_range range;
	unsigned long *pfns;
	int ret;

	ret = fault_range_init(m, &range, start, end, peermap_devmem_owner());
	if (ret)
		return ret;
	range.notifier_seq = bd->seq;
	pfns = range.hmm_pfns;
	ret = hmm_range_fault(&range);
	if (ret) {
		if (ret != -EBUSY)
			dev_info_ratelimited(m->pub.client, "cannot fault memory at %#lx: %d\n",
					     first, ret);
		goto out;
	}
	for (i = 0; i < n && !ret; i = j) {
		dm = peermap_devmem_get(hmm_pfn_pfn(pfns[i]), &pgmap);
		if (IS_ERR(dm)) {
			ret = PTR_ERR(dm);
			break;
		}
		j = i + 1;
		if (dm) {
			while (j < n && in_pgmap(pgmap, pfns[j]))
				j++;
		} else {
			while (j < n && !peermap_devmem_maybe(hmm_pfn_pfn(pfns[j])))
				j++;
		}
		pfns_span(first, i, j, start, end, &s, &e);
		if (dm)
			ret = map_devmem(m, bd, dm, pgmap, pfns + i, s, e);
		else if (!bd->moved)
			ret = map_ram_faulted(m, &bd->b, pfns + i, s, e);
	}
	if (!ret && bd->moved)
		ret = -EBUSY;	/* pages moved: resolve the range again */
out:
	kvfree(pfns);
	return ret;
}

/* Ask the exporter of @vma for [start, end); consumes the @exp reference. */
static int map_peer(struct pm_map *m, struct peermap_pieces *b,
		    struct peermap_exporter *exp, struct vm_area_struct *vma,
		    unsigned long start, unsigned long end)
{
	u64 before = b->mapped;
	struct peermap_p2p_req *req;
	int ret;

	/* On @b's list: pieces_release() undoes what gets done. */
	req = peermap_req_new(exp, m->pub.client, m->pub.access, b,
			      &pm_revoke_ops, m);
	if (!req)
		return -ENOMEM;
	req->stoppable = !!m->ops->stop;
	req->start = start;
	req->end = end;

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

/*
 * The exporter of @vma with a module reference, or NULL for RAM: a dma-buf
 * window's is the core's own (window.c), the others are registered.
 */
static struct peermap_exporter *vma_exporter(struct vm_area_struct *vma)
{
	if (peermap_window_vma(vma)) {
		__module_get(THIS_MODULE);
		return &peermap_window_exporter;
	}
	return peermap_exporter_get(vma);
}

/*
 * Why a VMA cannot be mapped for @access: an errno (0 if it can) and, in
 * *@why, the reason for the log line.
 */
static int vma_refusal(struct pm_map *m, struct vm_area_struct *vma,
		       bool peer, const char **why)
{
	u32 access = m->pub.access;

	*why = NULL;
	if (!peer && (vma->vm_flags & (VM_IO | VM_PFNMAP)))
		*why = "is I/O memory of a driver not registered with peermap";
	else if (!(vma->vm_flags & (VM_READ | VM_WRITE)))
		*why = "is PROT_NONE";
	if (*why)
		return -EFAULT;
	if ((access & PEERMAP_ACCESS_WRITE) && !(vma->vm_flags & VM_WRITE))
		*why = "is read-only, write access asked";
	else if ((access & PEERMAP_ACCESS_READ) && !(vma->vm_flags & VM_READ))
		*why = "is not readable";
	return *why ? -EACCES : 0;
}

/* vma_refusal(), said in the log. */
static int vma_refuses(struct pm_map *m, struct vm_area_struct *vma,
		       unsigned long addr, bool peer)
{
	const char *why;
	int ret = vma_refusal(m, vma, peer, &why);

	if (ret)
		dev_info_ratelimited(m->pub.client, "%#lx %s\n", addr, why);
	return ret;
}

/* Is @vma device memory, a window or a registered exporter's? */
static bool vma_is_peer(struct vm_area_struct *vma)
{
	struct peermap_exporter *exp = vma_exporter(vma);

	if (exp)
		peermap_exporter_put(exp);
	return exp;
}

/*
 * Where the RAM from @vma on ends: the VMAs that follow without a hole,
 * are not device memory and may be mapped, up to @end. They are pinned in
 * one go with the mmap lock dropped (pin_fast()).
 */
static unsigned long ram_extent(struct pm_map *m, struct vm_area_struct *vma,
				unsigned long end)
{
	unsigned long at = min(end, vma->vm_end);
	const char *why;

	while (at < end) {
		vma = find_vma(m->mm, at);
		if (!vma || vma->vm_start != at || vma_is_peer(vma) ||
		    vma_refusal(m, vma, false, &why))
			break;	/* the next round says why, if it must */
		at = min(end, vma->vm_end);
	}
	return at;
}

/* Move @node's piece, [start, end), from the old resolution into the new. */
static int reuse(struct pm_map *m, struct pm_build *bd, struct list_head *node,
		 struct list_head *to, unsigned long start, unsigned long end)
{
	u64 before = bd->b.mapped;
	int ret;

	list_move_tail(node, to);
	ret = peermap_pieces_copy(&bd->b, &bd->old, &bd->c, start - m->pub.addr,
				  end - start);
	if (!ret && bd->b.mapped - before != end - start)
		ret = -EIO;	/* the old segments did not cover it: a bug */
	bd->reused++;
	return ret;
}

/*
 * The exporter's piece [start, end) kept from the last resolution, if the
 * invalidation spared it: 1 (and @exp's reference dropped), 0 if there is
 * none, or an errno.
 */
static int reuse_peer(struct pm_map *m, struct pm_build *bd,
		      struct peermap_exporter *exp, unsigned long start,
		      unsigned long end)
{
	struct peermap_p2p_req *req;

	list_for_each_entry(req, &bd->old.peers, node) {
		if (req->start != start || req->end != end || req->exp != exp ||
		    req->pgmap)
			continue;
		peermap_exporter_put(exp);	/* the piece holds its own */
		return reuse(m, bd, &req->node, &bd->b.peers, start, end) ?: 1;
	}
	return 0;
}

/*
 * RAM of [start, end), chunk by chunk (PM_RAM_CHUNK): those kept from the
 * last resolution are reused, the others pinned or faulted and mapped.
 */
static int map_ram_range(struct pm_map *m, struct pm_build *bd,
			 unsigned long start, unsigned long end, bool fast)
{
	struct peermap_ram_piece *rp, *tmp;
	unsigned long s, e;
	int ret;

	for (s = start; s < end; s = e) {
		e = min(end, ALIGN_DOWN(s, PM_RAM_CHUNK) + PM_RAM_CHUNK);
		ret = 0;
		list_for_each_entry(rp, &bd->old.ram, node) {
			if (rp->start == s && rp->end == e) {
				ret = reuse(m, bd, &rp->node, &bd->b.ram, s, e) ?: 1;
				break;
			}
		}
		if (ret < 0)
			return ret;
		if (ret)
			continue;
		/* Kept RAM there that does not fit: let go of its pins first. */
		list_for_each_entry_safe(rp, tmp, &bd->old.ram, node)
			if (rp->start < e && s < rp->end)
				ram_piece_drop(m, rp, true);
		if (m->pub.flags & PEERMAP_MAP_ONDEMAND)
			ret = map_ondemand(m, bd, s, e);
		else
			ret = map_ram_pinned(m, &bd->b, s, e, fast);
		if (ret)
			return ret;
		bd->rebuilt += e - s;
	}
	return 0;
}

/*
 * Resolve the whole range into bd->b (empty), reusing what bd->old holds.
 * Called with build_lock held. The mmap lock is dropped around
 * pin_fast(): what changes meanwhile moves the notifier's sequence or an
 * exporter's revoke count, and the build is undone at install.
 */
static int build(struct pm_map *m, struct pm_build *bd)
{
	unsigned long cur, piece_end, end = m->pub.addr + m->pub.len;
	bool fast = !(m->pub.flags & PEERMAP_MAP_ONDEMAND) &&
		    m->mm == current->mm;
	struct device *client = m->pub.client;
	struct peermap_exporter *exp;
	struct vm_area_struct *vma;
	bool locked = false;
	int ret = 0;

	if (!mmget_not_zero(m->mm))
		return -ESRCH;		/* the process is gone */
	for (cur = m->pub.addr; cur < end; cur = piece_end) {
		if (!locked && mmap_read_lock_killable(m->mm)) {
			ret = -EINTR;
			break;
		}
		locked = true;
		vma = find_vma(m->mm, cur);
		if (!vma || vma->vm_start > cur) {
			dev_info_ratelimited(client, "no mapping at %#lx\n", cur);
			ret = -EFAULT;
			break;
		}
		piece_end = min(end, vma->vm_end);
		exp = vma_exporter(vma);
		ret = vma_refuses(m, vma, cur, !!exp);
		if (ret) {
			if (exp)
				peermap_exporter_put(exp);
			break;
		}
		if (exp) {
			ret = reuse_peer(m, bd, exp, cur, piece_end);
			if (!ret) {
				ret = map_peer(m, &bd->b, exp, vma, cur, piece_end);
				bd->rebuilt += piece_end - cur;
			} else if (ret > 0) {
				ret = 0;
			}
		} else if (fast) {
			piece_end = ram_extent(m, vma, end);
			mmap_read_unlock(m->mm);
			locked = false;
			ret = map_ram_range(m, bd, cur, piece_end, true);
		} else {
			ret = map_ram_range(m, bd, cur, piece_end, false);
		}
		if (ret)
			break;
	}
	if (locked)
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
	struct pm_build build_state = { };
	struct pm_build *bd = &build_state;
	struct peermap_p2p_req *req;
	unsigned long rseq;
	int ret;

	/* A revoke's second pass will tear cur down: wait for it. */
	if (READ_ONCE(m->stopped))
		return -EAGAIN;
	peermap_pieces_init(&bd->b, m->pub.client);
	peermap_pieces_init(&bd->old, m->pub.client);
	bd->seq = mmu_interval_read_begin(&m->notifier);
	rseq = READ_ONCE(m->revoke_seq);
	/*
	 * What the last invalidation spared, claimed after the counts were
	 * read: an invalidation that comes now can no longer take it down,
	 * but it moves them, and the build is undone at install. Only
	 * builds (build_lock) fill cur: empty now, it stays empty.
	 */
	if (!data_race(peermap_pieces_empty(&m->cur))) {
		mutex_lock(&m->lock);
		peermap_pieces_move(&bd->old, &m->cur);
		mutex_unlock(&m->lock);
	}
	ret = build(m, bd);
	if (!peermap_pieces_empty(&bd->old))
		pieces_release(m, &bd->old);	/* what was not reused */
	if (ret)
		goto undo;

	mutex_lock(&m->lock);
	/* stopped: the revoke's second pass has yet to tear cur down */
	if (mmu_interval_read_retry(&m->notifier, bd->seq) ||
	    m->revoke_seq != rseq || m->stopped) {
		mutex_unlock(&m->lock);
		ret = -EBUSY;
		goto undo;
	}
	/* cur is empty: the build claimed it, invalidations found nothing */
	peermap_pieces_move(&m->cur, &bd->b);
	list_for_each_entry(req, &m->cur.peers, node)
		req->pieces = NULL;	/* only p2p_map adds segments */
	m->pub.segs = m->cur.segs;
	m->pub.nsegs = m->cur.nsegs;
	if (m->installs++)
		m->stats.remaps++;
	m->stats.fallback_bytes = m->cur.fallback;
	m->stats.reused = bd->reused;
	m->stats.rebuilt_bytes = bd->rebuilt;
	m->stats.devmem_bytes = bd->devmem;
	/* The segments are visible before the mapping says valid. */
	smp_store_release(&m->valid, true);
	mutex_unlock(&m->lock);
	return 0;

undo:
	pieces_release(m, &bd->b);
	return ret;
}

/**
 * peermap_remap() - make a mapping valid again after an invalidation
 * @map: from peermap_map()
 *
 * Resolves again what the invalidation took down (an exporter whose
 * memory was revoked may answer differently now, e.g. system memory while
 * its memory is evicted); the pieces it did not reach are kept. Returns
 * at once if the mapping is valid. Safe to call from several threads.
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
		WRITE_ONCE(m->building, true);
		ret = build_and_install(m);
		WRITE_ONCE(m->building, false);
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
 * An importer checks it with the lock its invalidate callback takes
 * held, so the segments cannot go away while its DMA runs.
 * Context: any; does not sleep.
 * Return: true from install until an invalidation starts.
 */
bool peermap_mapping_valid(struct peermap_mapping *map)
{
	/* Pairs with the release in build_and_install(): segs are set. */
	return smp_load_acquire(&to_pm(map)->valid);
}
EXPORT_SYMBOL_GPL(peermap_mapping_valid);

/* Sync the RAM parts (RAM pieces, fallback pages) in [at, at + len). */
static void pm_sync(struct peermap_mapping *map, u64 at, u64 len,
		    bool for_device)
{
	struct pm_map *m = to_pm(map);
	struct peermap_ram_piece *rp;
	struct peermap_p2p_req *req;

	if (at >= map->len || !len)
		return;
	len = min_t(u64, len, map->len - at);
	list_for_each_entry(rp, &m->cur.ram, node)
		peermap_dma_pages_sync(&rp->dma, map->client, at, len, for_device);
	list_for_each_entry(req, &m->cur.peers, node) {
		peermap_req_sync(req, at, len, for_device);
		/* a window's piece: the attachment's mapping, kept mapped */
		if (req->exp == &peermap_window_exporter)
			peermap_window_sync(req, at, len, for_device);
	}
}

/**
 * peermap_sync_range_for_device() - hand bytes to the device
 * @map: a valid mapping
 * @offset: first byte, from map->addr
 * @len: bytes
 *
 * RAM is mapped with DMA_ATTR_SKIP_CPU_SYNC (ranges of several mappings
 * may overlap) and unmapped without a sync, so the importer syncs: for
 * the device what its device is about to access (CPU writes reach it; on
 * non-coherent platforms no dirty line is later written back over what
 * it writes), for the CPU what its device wrote, before its invalidate
 * callback returns. Only those bytes:
 * with bounce buffers (swiotlb) a sync copies, and syncing bytes the
 * device did not write would put stale bytes over newer CPU writes.
 * No-ops on cache-coherent platforms without bounce buffers.
 * Context: while the mapping is valid and the importer holds off its
 * invalidate callback (as when it uses segs); does not sleep.
 */
void peermap_sync_range_for_device(struct peermap_mapping *map, u64 offset,
				   u64 len)
{
	pm_sync(map, offset, len, true);
}
EXPORT_SYMBOL_GPL(peermap_sync_range_for_device);

/**
 * peermap_sync_range_for_cpu() - make device writes visible to the CPU
 * @map: a valid mapping
 * @offset: first byte the device wrote, from map->addr
 * @len: bytes it wrote
 *
 * See peermap_sync_range_for_device().
 */
void peermap_sync_range_for_cpu(struct peermap_mapping *map, u64 offset,
				u64 len)
{
	pm_sync(map, offset, len, false);
}
EXPORT_SYMBOL_GPL(peermap_sync_range_for_cpu);

/**
 * peermap_sync_for_device() - peermap_sync_range_for_device() of it all
 * @map: a valid mapping
 */
void peermap_sync_for_device(struct peermap_mapping *map)
{
	pm_sync(map, 0, map->len, true);
}
EXPORT_SYMBOL_GPL(peermap_sync_for_device);

/**
 * peermap_sync_for_cpu() - peermap_sync_range_for_cpu() of it all
 * @map: a valid mapping
 *
 * With bounce buffers this copies every byte of the mapping back: only
 * for importers whose device wrote all of it.
 */
void peermap_sync_for_cpu(struct peermap_mapping *map)
{
	pm_sync(map, 0, map->len, false);
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
 * What @c takes down of the mapping, for the importer: changed_offset and
 * changed_len cover the pieces it reaches (a whole RAM chunk, a whole
 * exporter piece), or the event's range if it reaches none.
 */
static void change_tell(struct pm_map *m, const struct pm_change *c)
{
	unsigned long start, end, first = m->pub.addr;
	unsigned long last = first + m->pub.len;

	if (!change_span(m, c, &start, &end)) {
		start = c->start;
		end = c->end;
	}
	start = max(start, first);
	end = min(end, last);
	if (start >= end) {
		start = first;
		end = last;
	}
	m->pub.changed_offset = start - first;
	m->pub.changed_len = end - start;
}

/*
 * Invalidate under m->lock: the importer stops its DMA (told what
 * changed), then what @c covers is torn down; the rest stays mapped for
 * the next peermap_remap(). Also while invalid: an event that reaches a
 * piece kept from an earlier invalidation takes it down.
 */
static void invalidate_locked(struct pm_map *m, unsigned int why,
			      const struct pm_change *c)
{
	lockdep_assert_held(&m->lock);
	if (m->valid || m->stopped) {
		WRITE_ONCE(m->valid, false);
		WRITE_ONCE(m->stopped, false);
		change_tell(m, c);
		m->ops->invalidate(&m->pub, why);
		trace_peermap_invalidate(m->pub.client, m->pub.addr, m->pub.len,
					 why);
		m->pub.segs = NULL;
		m->pub.nsegs = 0;
		m->stats.invalidations++;
		m->stats.last_reason = why;
		m->stats.fallback_bytes = 0;
		m->stats.devmem_bytes = 0;
	}
	pieces_drop(m, c);
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

/*
 * Device-private pages migrating in the range while it is being resolved
 * (under m->lock): those the resolution made migrate back to RAM, which
 * the mapping's counters and a tracepoint show. A pinned range migrates
 * every one (GUP faults them in); an on-demand range those of drivers
 * peermap does not know (migrate_back() counts the others). Device
 * migrations have an owner; migrate_vma_setup() notifies with it. The
 * event does not say which way: a migration into device memory that
 * runs during the build is counted too (approximate, and said so).
 */
static void count_migrated(struct pm_map *m,
			   const struct mmu_notifier_range *range)
{
	bool pinned = !(m->pub.flags & PEERMAP_MAP_ONDEMAND);
	unsigned long start, end;

	if (range->event != MMU_NOTIFY_MIGRATE || !range->owner ||
	    !READ_ONCE(m->building) ||
	    (!pinned && range->owner == peermap_devmem_owner()))
		return;
	start = max(range->start, m->pub.addr & PAGE_MASK);
	end = min(range->end, PAGE_ALIGN(m->pub.addr + m->pub.len));
	if (start >= end)
		return;
	m->stats.migrated_bytes += end - start;
	trace_peermap_devmem_migrate(m->pub.client, start, end - start,
				     pinned ? "pinned" : "foreign");
}

static bool pm_mni_invalidate(struct mmu_interval_notifier *mni,
			      const struct mmu_notifier_range *range,
			      unsigned long cur_seq)
{
	struct pm_map *m = container_of(mni, struct pm_map, notifier);
	bool cares = (m->pub.flags & PEERMAP_MAP_ONDEMAND) || pinned_cares(range);
	struct pm_change c = {
		.start = range->start, .end = range->end, .ram = true,
	};
	unsigned long start, end;

	if (mmu_notifier_range_blockable(range)) {
		mutex_lock(&m->lock);
	} else {
		/*
		 * The OOM reaper or process_mrelease(): nothing here may
		 * sleep, and telling the importer to stop or tearing a
		 * piece down may. Say "not now" when there is something to
		 * tear down; exit() will.
		 */
		if (!mutex_trylock(&m->lock))
			return false;
		if (cares && (m->valid || m->stopped ||
			      change_span(m, &c, &start, &end))) {
			mutex_unlock(&m->lock);
			return false;
		}
	}
	mmu_interval_set_seq(mni, cur_seq);
	count_migrated(m, range);
	if (cares)
		invalidate_locked(m, reason_of(range), &c);
	mutex_unlock(&m->lock);
	return true;
}

static const struct mmu_interval_notifier_ops pm_mni_ops = {
	.invalidate = pm_mni_invalidate,
};

static void pm_map_release(struct kref *ref)
{
	struct pm_map *m = container_of(ref, struct pm_map, ref);

	spin_lock(&pm_maps_lock);
	list_del(&m->node);
	spin_unlock(&pm_maps_lock);
	/* Last reference: no invalidation queues work any more. */
	if (m->reaped) {
		flush_work(&m->reap_work);
		reap_work_fn(&m->reap_work);
	}
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

	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
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
	peermap_pieces_init(&m->cur, client);
	spin_lock_init(&m->reap_lock);
	INIT_LIST_HEAD(&m->reap);
	INIT_WORK(&m->reap_work, reap_work_fn);
	spin_lock(&pm_maps_lock);
	list_add_tail(&m->node, &pm_maps);
	spin_unlock(&pm_maps_lock);

	/* The notifier needs an address space with users. */
	ret = mmget_not_zero(mm) ? 0 : -ESRCH;
	if (!ret) {
		ret = mmu_interval_notifier_insert(&m->notifier, mm,
						   addr & PAGE_MASK,
						   PAGE_ALIGN(end) - (addr & PAGE_MASK),
						   &pm_mni_ops);
		mmput(mm);
	}
	if (ret) {
		kref_put(&m->ref, pm_map_release);
		return ERR_PTR(ret);
	}
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
	mmu_interval_notifier_remove(&m->notifier);
	mutex_lock(&m->lock);
	WRITE_ONCE(m->valid, false);
	WRITE_ONCE(m->stopped, false);
	pieces_release(m, &m->cur);
	m->pub.segs = NULL;
	m->pub.nsegs = 0;
	mutex_unlock(&m->lock);
	kref_put(&m->ref, pm_map_release);
}
EXPORT_SYMBOL_GPL(peermap_unmap);

/* Serialises peermap_routes_changed(): protects pm_map.chg_node. */
static DEFINE_MUTEX(pm_routes_changed_lock);

/**
 * peermap_routes_changed() - routes may answer differently now
 *
 * After an administrator's setting (deny, trust, ...) or a change of the
 * fabric the core was told of: every mapping holding peer memory is
 * invalidated (PEERMAP_INVAL_ROUTE), and every mapping being built starts
 * over, so the next use resolves its route again (and a denied pair gets
 * -EREMOTEIO). When this returns, no importer uses a peer address the old
 * settings gave.
 * Context: process context, may sleep.
 */
void peermap_routes_changed(void)
{
	static const struct pm_change every_peer = { .end = ULONG_MAX };
	struct pm_map *m, *tmp;
	LIST_HEAD(todo);

	mutex_lock(&pm_routes_changed_lock);
	spin_lock(&pm_maps_lock);
	list_for_each_entry(m, &pm_maps, node)
		if (kref_get_unless_zero(&m->ref))
			list_add_tail(&m->chg_node, &todo);
	spin_unlock(&pm_maps_lock);
	list_for_each_entry_safe(m, tmp, &todo, chg_node) {
		mutex_lock(&m->lock);
		m->revoke_seq++;	/* a build in progress starts over */
		if (!list_empty(&m->cur.peers))
			invalidate_locked(m, PEERMAP_INVAL_ROUTE, &every_peer);
		mutex_unlock(&m->lock);
		list_del(&m->chg_node);
		kref_put(&m->ref, pm_map_release);
	}
	mutex_unlock(&pm_routes_changed_lock);
	peermap_dmabuf_routes_changed();	/* and dma-buf importers' */
}

/*
 * An exporter revokes its memory with peermap_revoke() (exporter.c), which
 * finds the mappings holding it through its requests and reaches each one
 * through req->revoke_ops, set in map_peer(): exporter.c never calls this
 * file by name (exporter.h, struct peermap_revoke_ops).
 */

/* Under the object's spinlock: the request is attached, @map not freed. */
static void pm_revoke_get(void *owner)
{
	struct pm_map *m = owner;

	kref_get(&m->ref);
}

/*
 * The first pass of a revoke: no longer valid, the importer told to stop;
 * pm_revoke() follows and waits for it.
 */
static void pm_revoke_stop(void *owner, unsigned int why,
			   struct peermap_revocable *rv)
{
	struct pm_change c = { .rv = rv };
	struct pm_map *m = owner;

	mutex_lock(&m->lock);
	m->revoke_seq++;	/* a build in progress starts over */
	if (m->valid && m->ops->stop) {
		WRITE_ONCE(m->valid, false);
		WRITE_ONCE(m->stopped, true);
		change_tell(m, &c);
		m->ops->stop(&m->pub, why);
	}
	mutex_unlock(&m->lock);
}

/* Only the object's pieces go: the rest of the range stays mapped. */
static void pm_revoke(void *owner, unsigned int why,
		      struct peermap_revocable *rv)
{
	struct pm_change c = { .rv = rv };
	struct pm_map *m = owner;

	mutex_lock(&m->lock);
	m->revoke_seq++;	/* a build in progress starts over */
	invalidate_locked(m, why, &c);
	mutex_unlock(&m->lock);
	kref_put(&m->ref, pm_map_release);
}

static const struct peermap_revoke_ops pm_revoke_ops = {
	.get = pm_revoke_get,
	.stop = pm_revoke_stop,
	.revoke = pm_revoke,
};
