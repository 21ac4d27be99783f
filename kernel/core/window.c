// SPDX-License-Identifier: GPL-2.0
/*
 * dma-buf import: any dma-buf (a VFIO device's BAR, a GPU buffer, udmabuf,
 * a dma-heap buffer) becomes a window, a VMA of the core's own in the
 * caller's address space (PEERMAP_IOC_DMABUF_MAP on /dev/peermap). The core
 * is the window's exporter: a peermap_map() of a range holding a window
 * resolves that piece through a dynamic, peer2peer attachment of the
 * dma-buf for the importer's device, one per client device, mapped under
 * the reservation lock and kept while pieces use it and the dma-buf's
 * exporter does not invalidate it. An attachment no piece uses is
 * unmapped and detached by a work item, which a driver unbinding from a
 * PCI device waits for: nothing stays mapped for a device that went, and
 * kernels that pin every mapped buffer (before 7.1) pin it no longer
 * than importers use it.
 *
 * Lock order (lockdep checks it on the debug kernel):
 *   build_lock -> mmap_lock -> win->lock -> dma_resv -> allocations
 *   dma_resv -> att->rv.revoke_lock -> mapping lock -> importer's lock
 *   mmap_lock (write, mprotect) -> win->lock -> att->rv.revoke_lock
 * The dma-buf's exporter calls invalidate_mappings (move_notify before
 * 7.1) with the reservation lock held: it revokes with peermap_revoke(),
 * which sleeps and takes mapping locks, then unmaps the attachment. So
 * nothing here takes the reservation lock or win->lock under a mapping
 * lock: p2p_unmap, which runs under one, only drops counts and queues
 * work.
 *
 * CPU access: the window's VMA is the dma-buf's own mmap (dma_buf_mmap()),
 * the core's vm_ops wrapped around the exporter's, so a CPU load or store
 * does what it does through the dma-buf's mmap. A dma-buf without mmap
 * (VFIO's), or a window made with PEERMAP_WINDOW_NOCPU, answers a CPU
 * touch with SIGBUS and a log line.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/debugfs.h>
#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "exporter.h"
#include "internal.h"
#include "segments.h"

/**
 * struct pm_window - a dma-buf as a VA window
 *
 * Lives as long as a VMA of it, a piece of an importer's mapping, or the
 * ioctl making it holds a reference; released by a work item (which needs
 * the reservation lock).
 */
struct pm_window {
	/**
	 * @vm_ops: the window's VMAs'; wraps @exp_ops. One per window,
	 * written once by pm_win_set_ops() before any VMA has it.
	 */
	const struct vm_operations_struct vm_ops;
	/** @exp_ops: the dma-buf's mmap's vm_ops, or NULL. */
	const struct vm_operations_struct *exp_ops;
	/** @ref: each VMA, each attached piece, the making ioctl. */
	struct kref ref;
	/** @dmabuf: a reference. */
	struct dma_buf *dmabuf;
	/** @offset: byte of the dma-buf at the window's start. */
	u64 offset;
	/**
	 * @pgoff: vm_pgoff of the window's start, as the dma-buf's mmap set
	 * it (its own meaning: only differences of it are used).
	 */
	unsigned long pgoff;
	/** @len: bytes. */
	u64 len;
	/** @dir: of every attachment's mapping, from the dma-buf's mode. */
	enum dma_data_direction dir;
	/** @cpu: CPU access goes to the dma-buf's mmap. */
	bool cpu;
	/** @mmapped: set by the one mmap the window gets. */
	unsigned long mmapped;
	/** @lock: protects @atts; taken before the reservation lock. */
	struct mutex lock;
	/** @atts: one &struct pm_win_att per client device. */
	struct list_head atts;
	/** @node: in pm_windows, under pm_windows_lock. */
	struct list_head node;
	/** @release: frees the window off the paths that cannot. */
	struct work_struct release;
	/**
	 * @idle: unmaps and detaches attachments no piece uses, a little
	 * later (back-to-back transfers reuse them); holds a window
	 * reference while queued.
	 */
	struct delayed_work idle;
	/** @reap_node: pm_win_reap_all()'s, under its mutex. */
	struct list_head reap_node;
	/** @maps: attachment mappings made. */
	atomic64_t maps;
	/** @revokes: invalidations by the dma-buf's exporter. */
	atomic64_t revokes;
	/** @refusals: attach or map refused. */
	atomic64_t refusals;
	/** @pieces: importers' mapping pieces holding the window now. */
	atomic64_t pieces;
	/** @cpu_refused: CPU faults answered with SIGBUS. */
	atomic64_t cpu_refused;
};

/**
 * struct pm_win_att - a window's attachment for one client device
 */
struct pm_win_att {
	/** @node: in &pm_window.atts. */
	struct list_head node;
	/** @win: the window whose list holds it (and frees it). */
	struct pm_window *win;
	/** @client: a reference. */
	struct device *client;
	/** @attach: dynamic, peer2peer, with invalidate_mappings. */
	struct dma_buf_attachment *attach;
	/** @sgt: the mapping, under the reservation lock; NULL if none. */
	struct sg_table *sgt;
	/** @rv: the pieces built from @sgt, revoked before it is unmapped. */
	struct peermap_revocable rv;
	/**
	 * @pieces: live pieces using it; raised under win->lock and the
	 * reservation lock, so the idle work sees no new user coming.
	 */
	atomic_t pieces;
};

/**
 * struct pm_win_piece - a piece of an importer's mapping answered by a window
 *
 * The request's priv, from p2p_map to p2p_unmap.
 */
struct pm_win_piece {
	/** @win: a reference. */
	struct pm_window *win;
	/** @att: counts the piece in its @pieces. */
	struct pm_win_att *att;
	/**
	 * @bounce: the client's streaming DMA is forced through bounce
	 * buffers (swiotlb): its RAM entries need syncs.
	 */
	bool bounce;
	/**
	 * @sgt: the attachment's mapping the segments came from; not
	 * unmapped before the piece is revoked.
	 */
	struct sg_table *sgt;
	/** @at: the piece's first byte in the importer's mapping. */
	u64 at;
	/** @off: its first byte in the dma-buf. */
	u64 off;
	/** @len: bytes. */
	u64 len;
};

/* Every window, for debugfs peermap/windows. */
static LIST_HEAD(pm_windows);
static DEFINE_SPINLOCK(pm_windows_lock);

/* Releases windows: needs the reservation lock, drained at module exit. */
static struct workqueue_struct *pm_win_wq;

/*
 * A window's revoke_lock is taken under a dma-buf's reservation lock,
 * which a peermap exporter's revoke of its own dma-buf holds under its
 * object's revoke_lock (a round trip): another lock class.
 */
static struct lock_class_key pm_win_revoke_key;

/*
 * Unmap and detach the attachments no piece uses (all of them when the
 * window goes). Under win->lock: no piece can start using one meanwhile.
 */
static void pm_win_reap(struct pm_window *win)
{
	struct dma_resv *resv = win->dmabuf->resv;
	struct pm_win_att *att, *tmp;

	mutex_lock(&win->lock);
	list_for_each_entry_safe(att, tmp, &win->atts, node) {
		if (atomic_read(&att->pieces))
			continue;
		dma_resv_lock(resv, NULL);
		if (att->sgt)
			dma_buf_unmap_attachment(att->attach, att->sgt, win->dir);
		att->sgt = NULL;
		dma_resv_unlock(resv);
		/* off the dma-buf's list: no invalidation reaches it after */
		dma_buf_detach(win->dmabuf, att->attach);
		put_device(att->client);
		list_del(&att->node);
		kfree(att);
	}
	mutex_unlock(&win->lock);
}

static void pm_win_release_work(struct work_struct *work)
{
	struct pm_window *win = container_of(work, struct pm_window, release);

	pm_win_reap(win);	/* no piece is left: every attachment */
	WARN_ON(!list_empty(&win->atts));
	spin_lock(&pm_windows_lock);
	list_del(&win->node);
	spin_unlock(&pm_windows_lock);
	dma_buf_put(win->dmabuf);
	mutex_destroy(&win->lock);
	kfree(win);
	/* the workqueue is drained before the module text goes */
	module_put(THIS_MODULE);
}

static void pm_win_kref_release(struct kref *ref)
{
	struct pm_window *win = container_of(ref, struct pm_window, ref);

	queue_work(pm_win_wq, &win->release);
}

static void pm_win_put(struct pm_window *win)
{
	kref_put(&win->ref, pm_win_kref_release);
}

/* How long an attachment no piece uses stays, for the next transfer. */
#define PM_WIN_IDLE_DELAY	HZ

static void pm_win_idle_work(struct work_struct *work)
{
	struct pm_window *win = container_of(to_delayed_work(work),
					     struct pm_window, idle);

	pm_win_reap(win);
	pm_win_put(win);	/* the queued work's */
}

/* An attachment may be unused: reap it soon. The caller holds a reference. */
static void pm_win_idle(struct pm_window *win)
{
	kref_get(&win->ref);
	if (!queue_delayed_work(pm_win_wq, &win->idle, PM_WIN_IDLE_DELAY))
		pm_win_put(win);	/* queued already, with its own */
}

/*
 * The dma-buf's exporter takes the memory away (moves, revokes): importers
 * stop and their pieces go (peermap_revoke()), then the mapping. The next
 * peermap_remap() maps the attachment again. Called with the reservation
 * lock held.
 */
static void pm_win_invalidate(struct dma_buf_attachment *attach)
{
	struct pm_win_att *att = attach->importer_priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	atomic64_inc(&att->win->revokes);
	peermap_revoke(&att->rv, PEERMAP_INVAL_REVOKE);
	if (att->sgt)
		dma_buf_unmap_attachment(attach, att->sgt, att->win->dir);
	att->sgt = NULL;
}

static const struct dma_buf_attach_ops pm_win_attach_ops = {
	.allow_peer2peer = true,
	.PM_DMABUF_INVALIDATE = pm_win_invalidate,
};

/* The window's attachment for @client, made if none; under win->lock. */
static struct pm_win_att *pm_win_att_get(struct pm_window *win,
					 struct device *client)
{
	struct dma_buf_attachment *attach;
	struct pm_win_att *att;

	lockdep_assert_held(&win->lock);
	list_for_each_entry(att, &win->atts, node)
		if (att->client == client)
			return att;
	att = kzalloc(sizeof(*att), GFP_KERNEL_ACCOUNT);
	if (!att)
		return ERR_PTR(-ENOMEM);
	att->win = win;
	peermap_revocable_init(&att->rv);
	lockdep_set_class(&att->rv.revoke_lock, &pm_win_revoke_key);
	attach = dma_buf_dynamic_attach(win->dmabuf, client, &pm_win_attach_ops,
					att);
	if (IS_ERR(attach)) {
		atomic64_inc(&win->refusals);
		dev_info_ratelimited(client, "dma-buf window: exporter %s refused to attach: %ld%s\n",
				     win->dmabuf->exp_name, PTR_ERR(attach),
				     PTR_ERR(attach) == -ENODEV ? " (revoked?)" : "");
		kfree(att);
		return ERR_CAST(attach);
	}
	att->attach = attach;
	att->client = get_device(client);
	list_add_tail(&att->node, &win->atts);
	return att;
}

/* Map @att if it is not; under the reservation lock. */
static int pm_win_att_map(struct pm_window *win, struct pm_win_att *att)
{
	struct sg_table *sgt;
	int ret;

	dma_resv_assert_held(win->dmabuf->resv);
	if (att->sgt)
		return 0;
	sgt = dma_buf_map_attachment(att->attach, win->dir);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		atomic64_inc(&win->refusals);
		dev_info_ratelimited(att->client, "dma-buf window: exporter %s refused to map: %d%s\n",
				     win->dmabuf->exp_name, ret,
				     ret == -ENODEV ? " (revoked)" : "");
		return ret;
	}
	att->sgt = sgt;
	atomic64_inc(&win->maps);
	return 0;
}

/* Segments of [off, off + len) of the dma-buf, from its DMA mapping. */
static int pm_win_add(struct pm_window *win, struct sg_table *sgt, u64 off,
		      u64 len, struct peermap_p2p_req *req, u32 flags)
{
	struct scatterlist *sg;
	u64 pos = 0, skip, n;
	unsigned int i;
	int ret;

	for_each_sgtable_dma_sg(sgt, sg, i) {
		u64 slen = sg_dma_len(sg);

		if (off < pos + slen) {
			skip = off - pos;
			n = min(slen - skip, len);
			ret = peermap_pieces_append(req->pieces,
						    sg_dma_address(sg) + skip,
						    n, flags);
			if (ret)
				return ret;
			off += n;
			len -= n;
			if (!len)
				return 0;
		}
		pos += slen;
	}
	dev_warn_ratelimited(req->client, "dma-buf window: exporter %s mapped %llu bytes, window needs up to %llu\n",
			     win->dmabuf->exp_name, pos, off + len);
	return -EIO;
}

static struct pm_window *pm_window_of(struct vm_area_struct *vma)
{
	return container_of(vma->vm_ops, struct pm_window, vm_ops);
}

/* The byte of the dma-buf at @addr of a window's VMA (split or moved). */
static u64 pm_win_offset(struct pm_window *win, struct vm_area_struct *vma,
			 unsigned long addr)
{
	return win->offset + ((u64)(vma->vm_pgoff - win->pgoff) << PAGE_SHIFT) +
	       (addr - vma->vm_start);
}

static int pm_win_p2p_map(struct vm_area_struct *vma, unsigned long start,
			  unsigned long len, struct peermap_p2p_req *req)
{
	struct pm_window *win = pm_window_of(vma);
	struct dma_resv *resv = win->dmabuf->resv;
	u64 off = pm_win_offset(win, vma, start);
	u32 flags = PEERMAP_SEG_DMABUF;
	struct pm_win_piece *piece;
	struct pm_win_att *att;
	long wait;
	int ret;

	if (req->access & PEERMAP_ACCESS_WRITE) {
		if (win->dir != DMA_BIDIRECTIONAL)
			return -EACCES;	/* the VMA cannot be writable either */
		flags |= PEERMAP_SEG_WRITE;
	}
	if (peermap_client_translated(req->client))
		flags |= PEERMAP_SEG_IOVA;
	piece = kzalloc(sizeof(*piece), GFP_KERNEL_ACCOUNT);
	if (!piece)
		return -ENOMEM;
	ret = mutex_lock_killable(&win->lock);
	if (ret)
		goto out_free;
	att = pm_win_att_get(win, req->client);
	if (IS_ERR(att)) {
		ret = PTR_ERR(att);
		goto out_unlock;
	}
	for (;;) {
		ret = dma_resv_lock_interruptible(resv, NULL);
		if (ret)
			goto out_idle;
		ret = pm_win_att_map(win, att);
		if (ret)
			goto out_resv;
		/*
		 * A dynamic importer obeys the exporter's write and kernel
		 * (move) fences before its device touches the memory. The
		 * piece is attached only once they are signalled, so no error
		 * path leaves it attached.
		 */
		if (dma_resv_test_signaled(resv, DMA_RESV_USAGE_WRITE))
			break;
		dma_resv_unlock(resv);
		wait = dma_resv_wait_timeout(resv, DMA_RESV_USAGE_WRITE, true,
					     MAX_SCHEDULE_TIMEOUT);
		if (wait < 0) {
			ret = wait;
			goto out_idle;
		}
	}
	piece->at = req->pieces->mapped;
	ret = pm_win_add(win, att->sgt, off, len, req, flags);
	if (ret)
		goto out_resv;
	piece->win = win;
	piece->att = att;
	piece->bounce = is_swiotlb_force_bounce(req->client);
	piece->sgt = att->sgt;
	piece->off = off;
	piece->len = len;
	/* Under the reservation lock: an invalidation finds the piece. */
	peermap_req_attach(req, &att->rv);
	kref_get(&win->ref);
	atomic_inc(&att->pieces);
	atomic64_inc(&win->pieces);
	req->priv = piece;
	piece = NULL;
out_resv:
	dma_resv_unlock(resv);
out_idle:
	if (!atomic_read(&att->pieces))
		pm_win_idle(win);	/* an attachment no piece uses goes */
out_unlock:
	mutex_unlock(&win->lock);
out_free:
	kfree(piece);
	return ret;
}

/* Under a mapping's lock, possibly: counts and work only (see the top). */
static void pm_win_p2p_unmap(struct peermap_p2p_req *req)
{
	struct pm_win_piece *piece = req->priv;
	struct pm_window *win = piece->win;

	if (atomic_dec_and_test(&piece->att->pieces))
		pm_win_idle(win);
	kfree(piece);
	atomic64_dec(&win->pieces);
	pm_win_put(win);
}

/**
 * peermap_window_sync() - sync a window's piece of a mapping
 * @req: a live request of the window exporter
 * @at: first byte, in the mapping
 * @len: bytes
 * @for_device: towards the device, else towards the CPU
 *
 * The attachment's mapping stays mapped across an importer's transfers,
 * so where the DMA layer forces the client's streaming DMA through bounce
 * buffers (swiotlb=force, confidential guests) the bytes cross only when
 * synced: the entries that are RAM (bounce buffers) are synced for the
 * client, as the importer's peermap_sync_range_*() asks; device memory
 * never is (a sync of MMIO is wrong, and DMA-API debug says so). Forced
 * bouncing is dma-direct, where a DMA address is the physical one (no bus
 * offset on x86). Other CPU coherency of a dma-buf is its exporter's
 * (DMA_BUF_IOCTL_SYNC), as for every dma-buf importer. The mapping is the
 * importer's from map to unmap, as dma-buf hands it over.
 * Context: the importer holds off its invalidation; does not sleep.
 */
void peermap_window_sync(struct peermap_p2p_req *req, u64 at, u64 len,
			 bool for_device)
{
	struct pm_win_piece *p = req->priv;
	u64 pos = 0, start, end, s, e;
	struct scatterlist *sg;
	dma_addr_t addr;
	unsigned int i;

	if (!p->bounce)
		return;
	start = max(at, p->at);
	end = min(at + len, p->at + p->len);
	if (start >= end)
		return;
	start = start - p->at + p->off;		/* in the dma-buf */
	end = end - p->at + p->off;
	for_each_sgtable_dma_sg(p->sgt, sg, i) {
		s = max(start, pos);
		e = min(end, pos + sg_dma_len(sg));
		addr = sg_dma_address(sg) + (s - pos);
		/*
		 * An entry may join bounce buffers of several pages (an
		 * exporter merging what it mapped page by page): by page.
		 */
		if (s < e && page_is_ram(PHYS_PFN(addr)))
			peermap_dma_sync(req->client, addr, e - s, p->win->dir,
					 true, for_device);
		pos += sg_dma_len(sg);
		if (pos >= end)
			break;
	}
}

/* The core's exporter of windows; not in the registry (no fixed vm_ops). */
struct peermap_exporter peermap_window_exporter = {
	.name = "dma-buf window",
	.owner = THIS_MODULE,
	.p2p_map = pm_win_p2p_map,
	.p2p_unmap = pm_win_p2p_unmap,
};

/* The VMA ops: the exporter's, wrapped; each VMA holds a reference. */

static void pm_win_vm_open(struct vm_area_struct *vma)
{
	struct pm_window *win = pm_window_of(vma);

	if (win->exp_ops && win->exp_ops->open)
		win->exp_ops->open(vma);
	kref_get(&win->ref);
}

static void pm_win_vm_close(struct vm_area_struct *vma)
{
	struct pm_window *win = pm_window_of(vma);

	if (win->exp_ops && win->exp_ops->close)
		win->exp_ops->close(vma);
	pm_win_put(win);
}

/**
 * peermap_window_vma() - is @vma a dma-buf window?
 * @vma: any VMA, with the mmap lock held
 *
 * Every window's vm_ops is its own (it wraps its dma-buf's), all with
 * the same close.
 * Return: true if it is one.
 */
bool peermap_window_vma(const struct vm_area_struct *vma)
{
	return vma->vm_ops && vma->vm_ops->close == pm_win_vm_close;
}

static int pm_win_vm_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	struct pm_window *win = pm_window_of(vma);

	return win->exp_ops && win->exp_ops->may_split ?
	       win->exp_ops->may_split(vma, addr) : 0;
}

static int pm_win_vm_mremap(struct vm_area_struct *vma)
{
	struct pm_window *win = pm_window_of(vma);

	return win->exp_ops && win->exp_ops->mremap ?
	       win->exp_ops->mremap(vma) : 0;
}

/*
 * Access taken away from a window's VMA: its importers stop now. The mmu
 * notifier may not see it: a window the CPU never touched (or cannot)
 * has no page tables for mprotect to change.
 */
static int pm_win_vm_mprotect(struct vm_area_struct *vma, unsigned long start,
			      unsigned long end, unsigned long newflags)
{
	struct pm_window *win = pm_window_of(vma);
	struct pm_win_att *att;
	int ret;

	if (win->exp_ops && win->exp_ops->mprotect) {
		ret = win->exp_ops->mprotect(vma, start, end, newflags);
		if (ret)
			return ret;
	}
	if (!(vma->vm_flags & ~newflags & (VM_READ | VM_WRITE)))
		return 0;
	mutex_lock(&win->lock);
	list_for_each_entry(att, &win->atts, node)
		peermap_revoke(&att->rv, PEERMAP_INVAL_PROTECT);
	mutex_unlock(&win->lock);
	return 0;
}

static vm_fault_t pm_win_vm_fault(struct vm_fault *vmf)
{
	struct pm_window *win = pm_window_of(vmf->vma);

	if (win->cpu && win->exp_ops && win->exp_ops->fault)
		return win->exp_ops->fault(vmf);
	atomic64_inc(&win->cpu_refused);
	pr_info_ratelimited("%s[%d]: CPU access at %#lx of a window of dma-buf %s: SIGBUS (%s)\n",
			    current->comm, task_pid_nr(current), vmf->address,
			    win->dmabuf->exp_name, win->cpu ?
			    "its exporter's mmap maps no page here" :
			    "no CPU mapping: PEERMAP_WINDOW_NOCPU, or the dma-buf has no mmap");
	return VM_FAULT_SIGBUS;
}

static vm_fault_t pm_win_vm_page_mkwrite(struct vm_fault *vmf)
{
	return pm_window_of(vmf->vma)->exp_ops->page_mkwrite(vmf);
}

static vm_fault_t pm_win_vm_pfn_mkwrite(struct vm_fault *vmf)
{
	return pm_window_of(vmf->vma)->exp_ops->pfn_mkwrite(vmf);
}

static int pm_win_vm_access(struct vm_area_struct *vma, unsigned long addr,
			    void *buf, int len, int write)
{
	return pm_window_of(vma)->exp_ops->access(vma, addr, buf, len, write);
}

/*
 * The wrapper has what the exporter has, no more: the mm behaves
 * differently when page_mkwrite or access is present at all.
 */
static void pm_win_set_ops(struct pm_window *win)
{
	const struct vm_operations_struct *e = win->exp_ops;
	const struct vm_operations_struct ops = {
		.open = pm_win_vm_open,
		.close = pm_win_vm_close,
		.may_split = pm_win_vm_may_split,
		.mremap = pm_win_vm_mremap,
		.mprotect = pm_win_vm_mprotect,
		.fault = pm_win_vm_fault,
		.page_mkwrite = e && e->page_mkwrite ? pm_win_vm_page_mkwrite : NULL,
		.pfn_mkwrite = e && e->pfn_mkwrite ? pm_win_vm_pfn_mkwrite : NULL,
		.access = e && e->access ? pm_win_vm_access : NULL,
	};

	memcpy((void *)&win->vm_ops, &ops, sizeof(ops));
}

/*
 * The mmap of the window's file, from the ioctl's vm_mmap(), once: the
 * dma-buf's own mmap when it has one and the CPU may touch it, else a
 * VMA where the CPU faults with SIGBUS.
 */
static int pm_win_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct pm_window *win = file->private_data;
	int ret;

	if (vma->vm_pgoff || vma_pages(vma) != win->len >> PAGE_SHIFT ||
	    test_and_set_bit(0, &win->mmapped))
		return -EINVAL;
	if (win->cpu) {
		/* vm_file becomes the dma-buf's, vm_pgoff the offset in it */
		ret = dma_buf_mmap(win->dmabuf, vma, win->offset >> PAGE_SHIFT);
		if (ret) {
			pr_info_ratelimited("%s[%d]: mmap of dma-buf %s for a window failed: %d\n",
					    current->comm, task_pid_nr(current),
					    win->dmabuf->exp_name, ret);
			return ret;
		}
		win->exp_ops = vma->vm_ops;
	} else {
		vma->vm_pgoff = win->offset >> PAGE_SHIFT;
		vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTDUMP);
	}
	win->pgoff = vma->vm_pgoff;
	/* the window's size is the dma-buf's business: no growth */
	vm_flags_set(vma, VM_DONTEXPAND);
	pm_win_set_ops(win);
	vma->vm_ops = &win->vm_ops;
	kref_get(&win->ref);	/* the VMA's, dropped by its close */
	return 0;
}

static const struct file_operations pm_win_fops = {
	.owner = THIS_MODULE,
	.mmap = pm_win_mmap,
};

static int pm_win_check(struct peermap_dmabuf_map *a, struct dma_buf *dmabuf)
{
	if (a->offset >= dmabuf->size || a->len > dmabuf->size - a->offset) {
		pr_info_ratelimited("%s[%d]: window [%#llx, +%#llx) is beyond dma-buf %s's %zu bytes\n",
				    current->comm, task_pid_nr(current),
				    a->offset, a->len, dmabuf->exp_name,
				    dmabuf->size);
		return -EINVAL;
	}
	if ((a->prot & PROT_WRITE) && !(dmabuf->file->f_mode & FMODE_WRITE))
		return -EACCES;	/* the exporter gave it read-only */
	return 0;
}

/**
 * peermap_window_map() - PEERMAP_IOC_DMABUF_MAP: make a dma-buf a window
 * @arg: struct peermap_dmabuf_map
 *
 * Context: process context (the caller's address space), may sleep.
 * Return: 0, -EFAULT, -EINVAL (bad flags, prot, offset or length, or not
 * a dma-buf), -EBADF, -EACCES (PROT_WRITE of a read-only dma-buf),
 * -ENOMEM, or mmap's error (the dma-buf's mmap refusing among them).
 */
long peermap_window_map(void __user *arg)
{
	struct peermap_dmabuf_map a;
	struct pm_window *win;
	struct dma_buf *dmabuf;
	struct file *file;
	unsigned long addr;
	int ret;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if (a.reserved || (a.flags & ~(PEERMAP_WINDOW_FIXED | PEERMAP_WINDOW_NOCPU)) ||
	    !(a.prot & PROT_READ) || (a.prot & ~(PROT_READ | PROT_WRITE)) ||
	    !a.len || !PAGE_ALIGNED(a.offset) || a.len > U64_MAX - PAGE_SIZE)
		return -EINVAL;
	a.len = PAGE_ALIGN(a.len);
	dmabuf = dma_buf_get(a.fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	ret = pm_win_check(&a, dmabuf);
	if (ret) {
		dma_buf_put(dmabuf);
		return ret;
	}
	win = kzalloc(sizeof(*win), GFP_KERNEL_ACCOUNT);
	if (!win) {
		dma_buf_put(dmabuf);
		return -ENOMEM;
	}
	kref_init(&win->ref);
	win->dmabuf = dmabuf;
	win->offset = a.offset;
	win->len = a.len;
	win->dir = dmabuf->file->f_mode & FMODE_WRITE ? DMA_BIDIRECTIONAL :
							DMA_TO_DEVICE;
	win->cpu = dmabuf->ops->mmap && !(a.flags & PEERMAP_WINDOW_NOCPU);
	mutex_init(&win->lock);
	INIT_LIST_HEAD(&win->atts);
	INIT_WORK(&win->release, pm_win_release_work);
	INIT_DELAYED_WORK(&win->idle, pm_win_idle_work);
	__module_get(THIS_MODULE);	/* the VMAs' ops are this module's */
	spin_lock(&pm_windows_lock);
	list_add_tail(&win->node, &pm_windows);
	spin_unlock(&pm_windows_lock);

	file = anon_inode_getfile("[peermap-window]", &pm_win_fops, win,
				  win->dir == DMA_BIDIRECTIONAL ? O_RDWR : O_RDONLY);
	if (IS_ERR(file)) {
		pm_win_put(win);
		return PTR_ERR(file);
	}
	addr = vm_mmap(file, a.addr, a.len, a.prot,
		       MAP_SHARED | (a.flags & PEERMAP_WINDOW_FIXED ? MAP_FIXED : 0),
		       0);
	fput(file);
	a.flags |= (win->cpu ? PEERMAP_WINDOW_CPU : 0) |
		   (win->dir == DMA_BIDIRECTIONAL ? PEERMAP_WINDOW_WRITE : 0);
	pm_win_put(win);	/* the VMA holds it now, if made */
	if (IS_ERR_VALUE(addr))
		return (long)addr;
	a.addr = addr;
	if (copy_to_user(arg, &a, sizeof(a))) {
		vm_munmap(addr, a.len);
		return -EFAULT;
	}
	return 0;
}

/**
 * peermap_window_info() - PEERMAP_IOC_DMABUF_INFO: a window's state
 * @arg: struct peermap_dmabuf_info
 *
 * Of a window in the caller's address space.
 * Context: process context, may sleep.
 * Return: 0, -EFAULT, -EINTR, or -ENOENT if no window is at the address.
 */
long peermap_window_info(void __user *arg)
{
	struct mm_struct *mm = current->mm;
	struct peermap_dmabuf_info i;
	struct vm_area_struct *vma;
	struct pm_window *win;
	struct pm_win_att *att;

	if (copy_from_user(&i, arg, sizeof(i)))
		return -EFAULT;
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	vma = vma_lookup(mm, i.addr);
	if (!vma || !peermap_window_vma(vma)) {
		mmap_read_unlock(mm);
		return -ENOENT;
	}
	win = pm_window_of(vma);
	memset(&i, 0, sizeof(i));
	i.addr = vma->vm_start;
	i.vma_start = vma->vm_start;
	i.vma_end = vma->vm_end;
	i.offset = pm_win_offset(win, vma, vma->vm_start);
	i.size = win->dmabuf->size;
	i.flags = (win->cpu ? PEERMAP_WINDOW_CPU : 0) |
		  (win->dir == DMA_BIDIRECTIONAL ? PEERMAP_WINDOW_WRITE : 0);
	mutex_lock(&win->lock);
	list_for_each_entry(att, &win->atts, node)
		i.attachments++;
	mutex_unlock(&win->lock);
	i.maps = atomic64_read(&win->maps);
	i.revokes = atomic64_read(&win->revokes);
	i.refusals = atomic64_read(&win->refusals);
	i.pieces = atomic64_read(&win->pieces);
	i.cpu_refused = atomic64_read(&win->cpu_refused);
	strscpy(i.exporter, win->dmabuf->exp_name ?: "", sizeof(i.exporter));
	mmap_read_unlock(mm);
	return copy_to_user(arg, &i, sizeof(i)) ? -EFAULT : 0;
}

/* debugfs peermap/windows: every window, for leak checks and debugging. */
static int windows_show(struct seq_file *m, void *unused)
{
	struct pm_window *win;

	spin_lock(&pm_windows_lock);
	list_for_each_entry(win, &pm_windows, node)
		seq_printf(m, "%s size %zu offset %#llx len %#llx%s%s maps %lld revokes %lld refusals %lld pieces %lld cpu_refused %lld\n",
			   win->dmabuf->exp_name, win->dmabuf->size,
			   win->offset, win->len, win->cpu ? " cpu" : "",
			   win->dir == DMA_BIDIRECTIONAL ? " write" : "",
			   atomic64_read(&win->maps),
			   atomic64_read(&win->revokes),
			   atomic64_read(&win->refusals),
			   atomic64_read(&win->pieces),
			   atomic64_read(&win->cpu_refused));
	spin_unlock(&pm_windows_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(windows);

/* Serialises pm_win_reap_all(): protects pm_window.reap_node. */
static DEFINE_MUTEX(pm_win_reap_lock);

/* Detach every attachment no piece uses, of every window, now. */
static void pm_win_reap_all(void)
{
	struct pm_window *win, *tmp;
	LIST_HEAD(todo);

	mutex_lock(&pm_win_reap_lock);
	spin_lock(&pm_windows_lock);
	list_for_each_entry(win, &pm_windows, node)
		if (kref_get_unless_zero(&win->ref))
			list_add_tail(&win->reap_node, &todo);
	spin_unlock(&pm_windows_lock);
	list_for_each_entry_safe(win, tmp, &todo, reap_node) {
		pm_win_reap(win);
		list_del(&win->reap_node);
		pm_win_put(win);
	}
	mutex_unlock(&pm_win_reap_lock);
	flush_workqueue(pm_win_wq);	/* windows being released */
}

/*
 * A PCI driver let go of its device (an importer's mappings are gone by
 * then): the window attachments left for it are detached before anyone
 * looks, as DMA-API debug does right after (hence the priority), and
 * before the device may go away.
 */
static int pm_win_pci_notify(struct notifier_block *nb, unsigned long action,
			     void *data)
{
	if (action == BUS_NOTIFY_UNBOUND_DRIVER || action == BUS_NOTIFY_DEL_DEVICE)
		pm_win_reap_all();
	return NOTIFY_DONE;
}

static struct notifier_block pm_win_pci_nb = {
	.notifier_call = pm_win_pci_notify,
	.priority = 1,
};

int peermap_window_init(struct dentry *debugfs)
{
	int ret;

	pm_win_wq = alloc_workqueue("peermap_window", WQ_UNBOUND, 0);
	if (!pm_win_wq)
		return -ENOMEM;
	ret = bus_register_notifier(&pci_bus_type, &pm_win_pci_nb);
	if (ret) {
		destroy_workqueue(pm_win_wq);
		return ret;
	}
	debugfs_create_file("windows", 0444, debugfs, NULL, &windows_fops);
	return 0;
}

void peermap_window_exit(void)
{
	bus_unregister_notifier(&pci_bus_type, &pm_win_pci_nb);
	destroy_workqueue(pm_win_wq);	/* drains: no window is left */
}
