// SPDX-License-Identifier: GPL-2.0
/*
 * peermap_edu: reference importer driving QEMU's edu DMA engine on user
 * ranges. /dev/peermap-eduN copies between two user ranges, each device
 * memory of any peermap exporter or ordinary RAM, mapped through peermap:
 * the engine reads the source into its 4 KiB buffer and writes it out to
 * the destination, chunk by chunk, with the DMA addresses peermap gave.
 *
 * A side may also be a dma-buf (PEERMAP_EDU_SRC_DMABUF, _DST_DMABUF,
 * _REG_DMABUF): the engine imports it as RDMA's dmabuf memory regions do,
 * a dynamic peer2peer attachment whose invalidate callback (move_notify
 * before 7.1) stops the engine and unmaps under the reservation lock; the
 * chunks walk the sg_table's DMA addresses as they walk peermap segments,
 * and the copy maps the buffer again and goes on.
 *
 * Locks: a dma-buf's reservation lock, then edev->lock.
 *
 * The engine's registers and its QEMU limits: edu_hw.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include <peermap.h>
#include <uapi/peermap/version.h>

#include "compat.h"
#include "edu_hw.h"

MODULE_INFO(import_ns, "DMA_BUF");

#define EDU_DMA_TIMEOUT_MS	5000

struct pmedu_dev {
	struct kref ref;		/* probe, each open file */
	struct pci_dev *pdev;		/* holds a pci_dev reference */
	/*
	 * Held around each engine transfer pair (one chunk), so an
	 * invalidate callback taking it waits for the DMA in flight.
	 * Protects @regs, which remove() clears (NULL: the device is gone,
	 * no new mappings), and the statistics. Never held around an
	 * allocation or a remap.
	 */
	struct mutex lock;
	void __iomem *regs;
	struct peermap_edu_stats stats;
	/* Registrations of every file, by id; the xarray lock guards lookups. */
	struct xarray regs_xa;
	atomic_t live_maps;		/* mappings not yet unmapped */
	wait_queue_head_t idle;		/* woken when live_maps drops to 0 */
	struct miscdevice misc;
	int id;
	char name[24];			/* "peermap-eduN" */
};

/*
 * One mapped range: a registration (in regs_xa, owned by @file) or the
 * temporary mapping of one copy side. A user range (@map) or a window of
 * a dma-buf (@dmabuf, @map NULL).
 */
struct pmedu_reg {
	struct kref ref;		/* regs_xa entry or the copy; each user */
	struct pmedu_dev *edev;
	struct file *file;		/* owner; NULL for a temporary one */
	struct mm_struct *mm;		/* whose range (compared, not held) */
	struct peermap_mapping *map;
	u64 gen;			/* bumped by invalidate, under edev->lock */
	u32 id;
	/* A dma-buf side: the buffer (a reference) and its attachment. */
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	u64 off, len;			/* the window of the buffer */
	u32 access;			/* PEERMAP_ACCESS_* */
	struct sg_table *sgt;		/* under the reservation lock */
	/*
	 * The sg_table's DMA segments (covering the buffer from offset 0):
	 * set with both locks held while !@valid, read under edev->lock
	 * while @valid. @valid changes under both locks.
	 */
	struct peermap_segment *segs;
	unsigned int nsegs;
	bool valid;
	u64 maps, invalidations;	/* under edev->lock */
};

/* Where a copy stands in one side. */
struct pmedu_side {
	struct pmedu_reg *reg;
	u64 pos;			/* byte offset in the mapping */
	u64 gen;			/* of the cursor below */
	unsigned int si;		/* segment index ... */
	u64 soff;			/* ... and offset in it, for pos */
};

static DEFINE_IDA(pmedu_ida);

static void pmedu_release_dev(struct kref *ref)
{
	struct pmedu_dev *edev = container_of(ref, struct pmedu_dev, ref);

	xa_destroy(&edev->regs_xa);
	ida_free(&pmedu_ida, edev->id);
	pci_dev_put(edev->pdev);
	kfree(edev);
}

/*
 * The core invalidates a mapping: wait for the chunk in flight (the lock
 * is held around each one), then the addresses may go. The next chunk sees
 * the mapping invalid and resolves it again.
 */
static void pmedu_invalidate(struct peermap_mapping *map, unsigned int why)
{
	struct pmedu_reg *reg = map->priv;
	struct pmedu_dev *edev = reg->edev;

	mutex_lock(&edev->lock);
	reg->gen++;
	edev->stats.invalidations++;
	mutex_unlock(&edev->lock);
}

/*
 * A revoke tells every importer to stop before it waits for any. The
 * engine has nothing to post: the chunk in flight ends by itself, and the
 * next one checks the mapping (no longer valid from now on) under
 * edev->lock; pmedu_invalidate() waits for the one in flight.
 */
static void pmedu_stop(struct peermap_mapping *map, unsigned int why)
{
}

static const struct peermap_importer_ops pmedu_ops = {
	.invalidate = pmedu_invalidate,
	.stop = pmedu_stop,
};

static enum dma_data_direction pmedu_dir(u32 access)
{
	switch (access) {
	case PEERMAP_ACCESS_READ:
		return DMA_TO_DEVICE;
	case PEERMAP_ACCESS_WRITE:
		return DMA_FROM_DEVICE;
	default:
		return DMA_BIDIRECTIONAL;
	}
}

/*
 * Under the buffer's reservation lock: stop using a dma-buf side (the
 * lock waits for the chunk in flight), then give its addresses back.
 */
static void pmedu_dmabuf_unmap_locked(struct pmedu_reg *reg, bool notified)
{
	struct pmedu_dev *edev = reg->edev;

	dma_resv_assert_held(reg->dmabuf->resv);
	mutex_lock(&edev->lock);
	reg->valid = false;
	reg->gen++;
	if (notified) {
		reg->invalidations++;
		edev->stats.invalidations++;
	}
	mutex_unlock(&edev->lock);
	if (!reg->sgt)
		return;
	dma_buf_unmap_attachment(reg->attach, reg->sgt, pmedu_dir(reg->access));
	reg->sgt = NULL;
	kvfree(reg->segs);
	reg->segs = NULL;
	reg->nsegs = 0;
}

/*
 * The exporter moves the buffer (reservation lock held): stop, and unmap
 * now, as RDMA's dmabuf MRs do. Its revoke waits for this unmap, so it
 * is never deferred. The copy notices and maps the buffer again.
 */
static void pmedu_dmabuf_invalidate(struct dma_buf_attachment *attach)
{
	pmedu_dmabuf_unmap_locked(attach->importer_priv, true);
}

static const struct dma_buf_attach_ops pmedu_dmabuf_ops = {
	.allow_peer2peer = true,
	.PM_DMABUF_INVALIDATE = pmedu_dmabuf_invalidate,
};

/*
 * Under the reservation lock: map a dma-buf side if it is not, wait for
 * the exporter's moves of it, then let chunks use it.
 */
static int pmedu_dmabuf_map_locked(struct pmedu_reg *reg)
{
	struct pmedu_dev *edev = reg->edev;
	struct peermap_segment *segs;
	struct scatterlist *sg;
	struct sg_table *sgt;
	unsigned int i;
	u64 total = 0;
	long ret;

	dma_resv_assert_held(reg->dmabuf->resv);
	if (!reg->sgt) {
		sgt = dma_buf_map_attachment(reg->attach, pmedu_dir(reg->access));
		if (IS_ERR(sgt))
			return PTR_ERR(sgt);
		segs = kvmalloc_array(max(sgt->nents, 1U), sizeof(*segs),
				      GFP_KERNEL_ACCOUNT);
		if (!segs) {
			dma_buf_unmap_attachment(reg->attach, sgt,
						 pmedu_dir(reg->access));
			return -ENOMEM;
		}
		/* DMA addresses and lengths only: no struct page behind them. */
		for_each_sgtable_dma_sg(sgt, sg, i) {
			segs[i] = (struct peermap_segment) {
				.addr = sg_dma_address(sg),
				.len = sg_dma_len(sg),
			};
			total += sg_dma_len(sg);
		}
		mutex_lock(&edev->lock);
		reg->sgt = sgt;
		reg->segs = segs;
		reg->nsegs = sgt->nents;
		if (reg->maps++)
			edev->stats.remaps++;
		mutex_unlock(&edev->lock);
		if (total < reg->dmabuf->size) {
			dev_warn(&edev->pdev->dev, "dma-buf %s mapped %llu bytes of %zu\n",
				 reg->dmabuf->exp_name, total, reg->dmabuf->size);
			pmedu_dmabuf_unmap_locked(reg, false);
			return -EIO;
		}
	}
	ret = dma_resv_wait_timeout(reg->dmabuf->resv, DMA_RESV_USAGE_KERNEL,
				    true, MAX_SCHEDULE_TIMEOUT);
	if (ret < 0)
		return ret;
	mutex_lock(&edev->lock);
	reg->valid = true;
	mutex_unlock(&edev->lock);
	return 0;
}

static int pmedu_dmabuf_ready(struct pmedu_reg *reg)
{
	struct dma_resv *resv = reg->dmabuf->resv;
	int ret;

	while (!READ_ONCE(reg->valid)) {
		ret = dma_resv_lock_interruptible(resv, NULL);
		if (ret)
			return ret;
		ret = pmedu_dmabuf_map_locked(reg);
		dma_resv_unlock(resv);
		if (ret != -EAGAIN)
			return ret;
		/* The exporter is moving the buffer: let it. */
		if (fatal_signal_pending(current))
			return -EINTR;
		schedule_timeout_killable(1);
	}
	return 0;
}

/* Whether chunks may use @reg's segments; under edev->lock. */
static bool pmedu_reg_valid(struct pmedu_reg *reg)
{
	return reg->map ? peermap_mapping_valid(reg->map) : reg->valid;
}

/* @reg's segments, under edev->lock while valid. */
static struct peermap_segment *pmedu_reg_segs(struct pmedu_reg *reg,
					      unsigned int *nsegs)
{
	if (reg->map) {
		*nsegs = reg->map->nsegs;
		return reg->map->segs;
	}
	*nsegs = reg->nsegs;
	return reg->segs;
}

/*
 * Make @reg a dma-buf side: [off, off + len) of @dmabuf, attached as a
 * dynamic peer2peer importer, mapped on first use.
 */
static int pmedu_dmabuf_attach(struct pmedu_reg *reg, struct dma_buf *dmabuf,
			       u64 off, u64 len, u32 access)
{
	struct dma_buf_attachment *attach;

	if (off >= dmabuf->size || len > dmabuf->size - off)
		return -EINVAL;
	if ((access & PEERMAP_ACCESS_WRITE) && !(dmabuf->file->f_mode & FMODE_WRITE))
		return -EACCES;		/* a read-only buffer */
	reg->off = off;
	reg->len = len;
	reg->access = access;
	attach = dma_buf_dynamic_attach(dmabuf, &reg->edev->pdev->dev,
					&pmedu_dmabuf_ops, reg);
	if (IS_ERR(attach))
		return PTR_ERR(attach);
	get_dma_buf(dmabuf);
	reg->dmabuf = dmabuf;
	reg->attach = attach;
	return 0;
}

static void pmedu_dmabuf_detach(struct pmedu_reg *reg)
{
	dma_resv_lock(reg->dmabuf->resv, NULL);
	pmedu_dmabuf_unmap_locked(reg, false);
	dma_resv_unlock(reg->dmabuf->resv);
	dma_buf_detach(reg->dmabuf, reg->attach);
	dma_buf_put(reg->dmabuf);
}

/*
 * Map [addr, addr + len) of the caller's address space, or with @dmabuf
 * [addr, addr + len) of that buffer.
 */
static struct pmedu_reg *pmedu_reg_create(struct pmedu_dev *edev,
					  struct dma_buf *dmabuf, u64 addr,
					  u64 len, u32 access, u32 flags)
{
	struct peermap_mapping *map;
	struct pmedu_reg *reg;
	int ret;

	reg = kzalloc(sizeof(*reg), GFP_KERNEL_ACCOUNT);
	if (!reg)
		return ERR_PTR(-ENOMEM);
	kref_init(&reg->ref);
	reg->edev = edev;
	reg->mm = current->mm;
	mutex_lock(&edev->lock);
	if (!edev->regs) {
		mutex_unlock(&edev->lock);
		kfree(reg);
		return ERR_PTR(-ENODEV);
	}
	atomic_inc(&edev->live_maps);
	mutex_unlock(&edev->lock);
	if (dmabuf) {
		ret = pmedu_dmabuf_attach(reg, dmabuf, addr, len, access);
		if (ret) {
			if (atomic_dec_and_test(&edev->live_maps))
				wake_up(&edev->idle);
			kfree(reg);
			return ERR_PTR(ret);
		}
		return reg;
	}
	map = peermap_map(&edev->pdev->dev, current->mm, addr, len, access,
			  flags, &pmedu_ops, reg);
	if (IS_ERR(map)) {
		if (atomic_dec_and_test(&edev->live_maps))
			wake_up(&edev->idle);
		kfree(reg);
		return ERR_CAST(map);
	}
	reg->map = map;
	return reg;
}

static void pmedu_reg_release(struct kref *ref)
{
	struct pmedu_reg *reg = container_of(ref, struct pmedu_reg, ref);
	struct pmedu_dev *edev = reg->edev;

	if (reg->map)
		peermap_unmap(reg->map);
	else
		pmedu_dmabuf_detach(reg);
	kfree(reg);
	if (atomic_dec_and_test(&edev->live_maps))
		wake_up(&edev->idle);
}

static void pmedu_reg_put(struct pmedu_reg *reg)
{
	kref_put(&reg->ref, pmedu_reg_release);
}

/*
 * Is @reg the caller's: made through @file, and (a forked child shares the
 * file, not the address space) by this address space?
 */
static bool pmedu_reg_mine(struct pmedu_reg *reg, struct file *file)
{
	return reg->file == file && reg->mm == current->mm;
}

/* The caller's registration @id with a reference, or NULL. */
static struct pmedu_reg *pmedu_reg_get(struct pmedu_dev *edev,
				       struct file *file, u64 id)
{
	struct pmedu_reg *reg;

	if (!id || id > U32_MAX)
		return NULL;
	xa_lock(&edev->regs_xa);
	reg = xa_load(&edev->regs_xa, id);
	if (reg && pmedu_reg_mine(reg, file))
		kref_get(&reg->ref);
	else
		reg = NULL;
	xa_unlock(&edev->regs_xa);
	return reg;
}

/*
 * A registration of @file holding [addr, addr + len) with @access, or
 * NULL: of the user range, or with @dmabuf of that buffer.
 */
static struct pmedu_reg *pmedu_reg_find(struct pmedu_dev *edev,
					struct file *file,
					struct dma_buf *dmabuf, u64 addr,
					u64 len, u32 access)
{
	struct pmedu_reg *reg, *found = NULL;
	u64 start, end;
	unsigned long idx;
	u32 has;

	xa_lock(&edev->regs_xa);
	xa_for_each(&edev->regs_xa, idx, reg) {
		if (reg->dmabuf != dmabuf || !pmedu_reg_mine(reg, file))
			continue;
		start = reg->map ? reg->map->addr : reg->off;
		end = start + (reg->map ? reg->map->len : reg->len);
		has = reg->map ? reg->map->access : reg->access;
		if ((has & access) == access && addr >= start && addr + len <= end) {
			kref_get(&reg->ref);
			found = reg;
			break;
		}
	}
	xa_unlock(&edev->regs_xa);
	return found;
}

/* One engine transfer, polled to completion (the DMA is in flight). */
static int edu_xfer(struct pmedu_dev *edev, u64 src, u64 dst, u32 len,
		    bool to_ram)
{
	int ret = edu_hw_xfer(edev->regs, src, dst, len, to_ram,
			      EDU_DMA_TIMEOUT_MS);

	if (ret == -ETIMEDOUT)
		dev_err(&edev->pdev->dev, "DMA of %u bytes did not complete in %d ms\n",
			len, EDU_DMA_TIMEOUT_MS);
	return ret;
}

/* Make a side's mapping valid; counts a resolution done inside a copy. */
static int pmedu_side_ready(struct pmedu_side *s)
{
	struct pmedu_dev *edev = s->reg->edev;
	int ret;

	if (!s->reg->map)
		return pmedu_dmabuf_ready(s->reg);
	if (peermap_mapping_valid(s->reg->map))
		return 0;
	ret = peermap_remap(s->reg->map);
	if (!ret) {
		mutex_lock(&edev->lock);
		edev->stats.remaps++;
		mutex_unlock(&edev->lock);
	}
	return ret;
}

/*
 * The segment and offset for s->pos, under edev->lock with the mapping
 * valid: the cursor is kept while the mapping's generation stands.
 */
static struct peermap_segment *pmedu_side_seg(struct pmedu_side *s, u64 *off)
{
	unsigned int nsegs;
	struct peermap_segment *segs = pmedu_reg_segs(s->reg, &nsegs);
	u64 at = 0;

	if (s->gen != s->reg->gen || s->si >= nsegs) {
		for (s->si = 0; s->si < nsegs; s->si++) {
			if (s->pos < at + segs[s->si].len)
				break;
			at += segs[s->si].len;
		}
		s->soff = s->pos - at;
		s->gen = s->reg->gen;
	}
	*off = s->soff;
	return &segs[s->si];
}

/* Under edev->lock with the mapping valid (map->segs is read). */
static void pmedu_side_advance(struct pmedu_side *s, u32 n)
{
	unsigned int nsegs;
	struct peermap_segment *segs = pmedu_reg_segs(s->reg, &nsegs);

	s->pos += n;
	s->soff += n;
	if (s->si < nsegs && s->soff == segs[s->si].len) {
		s->si++;
		s->soff = 0;
	}
}

/* Sync the next @n bytes of a user-range side for the device or the CPU. */
static void pmedu_sync(struct pmedu_side *s, u32 n, bool for_device)
{
	if (!s->reg->map)
		return;
	if (for_device)
		peermap_sync_range_for_device(s->reg->map, s->pos, n);
	else
		peermap_sync_range_for_cpu(s->reg->map, s->pos, n);
}

/*
 * Walk both sides in step, one engine round trip per chunk, each chunk
 * under edev->lock with both mappings valid. An invalidation between
 * chunks sends the loop back to resolve the side again.
 */
static int pmedu_run(struct pmedu_dev *edev, struct pmedu_side *src,
		     struct pmedu_side *dst, u64 len)
{
	struct peermap_segment *sseg, *dseg;
	u64 done = 0, soff, doff;
	int ret;
	u32 n;

	while (done < len) {
		ret = pmedu_side_ready(src);
		if (!ret)
			ret = pmedu_side_ready(dst);
		if (ret)
			return ret;
		mutex_lock(&edev->lock);
		if (!edev->regs) {
			mutex_unlock(&edev->lock);
			return -ENODEV;
		}
		if (!pmedu_reg_valid(src->reg) || !pmedu_reg_valid(dst->reg)) {
			mutex_unlock(&edev->lock);
			continue;	/* invalidated meanwhile */
		}
		sseg = pmedu_side_seg(src, &soff);
		dseg = pmedu_side_seg(dst, &doff);
		n = min3((u64)EDU_XFER_MAX, sseg->len - soff, dseg->len - doff);
		n = min_t(u64, n, len - done);
		/*
		 * The bytes of this chunk only: CPU writes reach the device
		 * before it reads, its writes reach the CPU before the lock
		 * (and so an invalidation) lets go. Bytes beside them are
		 * not synced, so newer CPU writes there stay. A dma-buf's
		 * exporter keeps its own memory coherent (begin_cpu_access).
		 */
		pmedu_sync(src, n, true);
		pmedu_sync(dst, n, true);
		ret = edu_xfer(edev, sseg->addr + soff, EDU_BUF, n, false);
		if (!ret) {
			ret = edu_xfer(edev, EDU_BUF, dseg->addr + doff, n, true);
			/* Also after a timeout: part of it may have landed. */
			pmedu_sync(dst, n, false);
		}
		if (!ret) {
			edev->stats.chunks++;
			pmedu_side_advance(src, n);
			pmedu_side_advance(dst, n);
		}
		mutex_unlock(&edev->lock);
		if (ret)
			return ret;
		done += n;
		/* Between chunks no DMA is in flight: safe to stop. */
		if (done < len && fatal_signal_pending(current))
			return -EINTR;
	}
	return 0;
}

/*
 * A copy side: a registration holding it, or a mapping for this copy.
 * With @is_dmabuf, @addr is PEERMAP_EDU_DMABUF_SIDE(fd, offset).
 */
static int pmedu_side_get(struct pmedu_dev *edev, struct file *file,
			  struct pmedu_side *s, u64 addr, u64 len, u32 access,
			  u32 flags, bool is_dmabuf)
{
	struct dma_buf *dmabuf = NULL;

	memset(s, 0, sizeof(*s));
	if (is_dmabuf) {
		dmabuf = dma_buf_get(upper_32_bits(addr));
		if (IS_ERR(dmabuf))
			return PTR_ERR(dmabuf);
		addr = lower_32_bits(addr);
	}
	s->reg = pmedu_reg_find(edev, file, dmabuf, addr, len, access);
	if (!s->reg)
		s->reg = pmedu_reg_create(edev, dmabuf, addr, len, access,
					  flags);
	if (dmabuf)
		dma_buf_put(dmabuf);	/* the side holds its own */
	if (IS_ERR(s->reg))
		return PTR_ERR(s->reg);
	/* a dma-buf's segments start at the buffer's first byte */
	s->pos = s->reg->map ? addr - s->reg->map->addr : addr;
	s->gen = s->reg->gen - 1;	/* no cursor yet */
	return 0;
}

static long pmedu_copy(struct pmedu_dev *edev, struct file *file,
		       void __user *arg)
{
	struct peermap_edu_copy req;
	struct pmedu_side src, dst;
	u64 send, dend;
	long ret;

	u32 sides;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if ((req.flags & ~(PEERMAP_MAP_ONDEMAND | PEERMAP_EDU_SRC_DMABUF |
			   PEERMAP_EDU_DST_DMABUF)) || req.reserved || !req.len)
		return -EINVAL;
	if (req.len > PEERMAP_EDU_COPY_MAX)
		return -E2BIG;
	if (check_add_overflow(req.src, req.len, &send) ||
	    check_add_overflow(req.dst, req.len, &dend))
		return -EOVERFLOW;
	sides = req.flags & (PEERMAP_EDU_SRC_DMABUF | PEERMAP_EDU_DST_DMABUF);
	/* overlapping ranges: of the caller's memory, or of one fd */
	if ((!sides || sides == (PEERMAP_EDU_SRC_DMABUF | PEERMAP_EDU_DST_DMABUF)) &&
	    req.src < dend && req.dst < send)
		return -EINVAL;
	if (!READ_ONCE(edev->regs))
		return -ENODEV;		/* removed; rechecked under the lock */

	ret = pmedu_side_get(edev, file, &src, req.src, req.len,
			     PEERMAP_ACCESS_READ, req.flags & PEERMAP_MAP_ONDEMAND,
			     req.flags & PEERMAP_EDU_SRC_DMABUF);
	if (ret)
		return ret;
	ret = pmedu_side_get(edev, file, &dst, req.dst, req.len,
			     PEERMAP_ACCESS_WRITE, req.flags & PEERMAP_MAP_ONDEMAND,
			     req.flags & PEERMAP_EDU_DST_DMABUF);
	if (ret)
		goto out_src;

	ret = pmedu_run(edev, &src, &dst, req.len);
	mutex_lock(&edev->lock);
	edev->stats.copies++;
	if (!ret)
		edev->stats.bytes += req.len;
	mutex_unlock(&edev->lock);

	pmedu_reg_put(dst.reg);
out_src:
	pmedu_reg_put(src.reg);
	return ret;
}

static long pmedu_segments(struct pmedu_dev *edev, void __user *arg)
{
	struct peermap_edu_segments req;
	struct peermap_seg *segs = NULL;
	struct peermap_mapping *map;
	unsigned int i, n = 0, cap = 0;
	struct pmedu_reg *reg;
	bool show_addr;
	long ret = 0;

	/*
	 * DMA addresses are physical addresses where no IOMMU translates:
	 * only for those who may read /proc/pid/pagemap's frame numbers.
	 */
	show_addr = capable(CAP_SYS_ADMIN);
	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.access & ~(PEERMAP_ACCESS_READ | PEERMAP_ACCESS_WRITE |
			   PEERMAP_EDU_SEGS_ONDEMAND))
		return -EINVAL;
	reg = pmedu_reg_create(edev, NULL, req.addr, req.len,
			       req.access & ~PEERMAP_EDU_SEGS_ONDEMAND,
			       req.access & PEERMAP_EDU_SEGS_ONDEMAND ?
			       PEERMAP_MAP_ONDEMAND : 0);
	if (IS_ERR(reg))
		return PTR_ERR(reg);
	map = reg->map;
	/*
	 * Snapshot the segments under the lock the invalidate callback
	 * takes, into a buffer allocated outside it; copy out after.
	 */
	for (;;) {
		ret = peermap_remap(map);
		if (ret)
			goto out;
		mutex_lock(&edev->lock);
		if (peermap_mapping_valid(map) && map->nsegs <= cap) {
			n = map->nsegs;
			for (i = 0; i < n; i++)
				segs[i] = (struct peermap_seg) {
					.addr = show_addr ? map->segs[i].addr : 0,
					.len = map->segs[i].len,
					.flags = map->segs[i].flags,
				};
			mutex_unlock(&edev->lock);
			break;
		}
		cap = map->nsegs;
		mutex_unlock(&edev->lock);
		kvfree(segs);
		segs = kvmalloc_array(max(cap, 1U), sizeof(*segs),
				      GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!segs) {
			ret = -ENOMEM;
			goto out;
		}
	}
	if (copy_to_user(u64_to_user_ptr(req.segs), segs,
			 min(n, req.nsegs) * sizeof(*segs))) {
		ret = -EFAULT;
		goto out;
	}
	req.nsegs = n;
	if (copy_to_user(arg, &req, sizeof(req)))
		ret = -EFAULT;
out:
	kvfree(segs);
	pmedu_reg_put(reg);
	return ret;
}

static long pmedu_register(struct pmedu_dev *edev, struct file *file,
			   void __user *arg)
{
	struct peermap_edu_register req;
	struct dma_buf *dmabuf = NULL;
	struct pmedu_reg *reg;
	u64 addr;
	u32 id;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	addr = req.addr;
	if (req.flags == PEERMAP_EDU_REG_DMABUF) {
		/* the checks peermap_map() makes of a user range */
		if (!req.len || !req.access ||
		    (req.access & ~(PEERMAP_ACCESS_READ | PEERMAP_ACCESS_WRITE)))
			return -EINVAL;
		dmabuf = dma_buf_get(upper_32_bits(req.addr));
		if (IS_ERR(dmabuf))
			return PTR_ERR(dmabuf);
		addr = lower_32_bits(req.addr);
	} else if (req.flags & ~PEERMAP_MAP_ONDEMAND) {
		return -EINVAL;
	}
	reg = pmedu_reg_create(edev, dmabuf, addr, req.len, req.access,
			       req.flags & PEERMAP_MAP_ONDEMAND);
	if (dmabuf)
		dma_buf_put(dmabuf);	/* the registration holds its own */
	if (IS_ERR(reg))
		return PTR_ERR(reg);
	reg->file = file;
	ret = xa_alloc(&edev->regs_xa, &id, reg, xa_limit_31b, GFP_KERNEL_ACCOUNT);
	if (ret) {
		pmedu_reg_put(reg);
		return ret;
	}
	reg->id = id;
	/*
	 * remove() may have dropped the registrations while this one was
	 * being mapped: it must not wait for this file to be closed. Either
	 * it cleared regs first and this sees it, or its drop sees the entry.
	 */
	mutex_lock(&edev->lock);
	if (!edev->regs)
		ret = -ENODEV;
	mutex_unlock(&edev->lock);
	req.id = id;
	if (ret || copy_to_user(arg, &req, sizeof(req))) {
		if (xa_cmpxchg(&edev->regs_xa, id, reg, NULL, 0) == reg)
			pmedu_reg_put(reg);
		return ret ?: -EFAULT;
	}
	return 0;
}

/* Take registration @id of @file out of the table; the caller puts it. */
static struct pmedu_reg *pmedu_reg_take(struct pmedu_dev *edev,
					struct file *file, u64 id)
{
	struct pmedu_reg *reg;

	if (!id || id > U32_MAX)
		return NULL;
	xa_lock(&edev->regs_xa);
	reg = xa_load(&edev->regs_xa, id);
	if (reg && pmedu_reg_mine(reg, file))
		__xa_erase(&edev->regs_xa, id);
	else
		reg = NULL;
	xa_unlock(&edev->regs_xa);
	return reg;
}

static long pmedu_unregister(struct pmedu_dev *edev, struct file *file,
			     void __user *arg)
{
	struct peermap_edu_unregister req;
	struct pmedu_reg *reg;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	reg = pmedu_reg_take(edev, file, req.id);
	if (!reg)
		return -ENOENT;
	pmedu_reg_put(reg);	/* a copy using it keeps it until it ends */
	return 0;
}

/*
 * REG_INFO before devmem_bytes and migrated_bytes: a different ioctl
 * number (the size is in it), answered with what it has room for.
 */
#define PMEDU_REG_INFO_V1_SIZE	offsetofend(struct peermap_edu_reg_info, reused)
#define PMEDU_IOC_REG_INFO_V1	_IOC(_IOC_READ | _IOC_WRITE, PEERMAP_IOC_MAGIC, 0x44, \
				     PMEDU_REG_INFO_V1_SIZE)

static long pmedu_reg_info(struct pmedu_dev *edev, struct file *file,
			   void __user *arg, size_t size)
{
	struct peermap_edu_reg_info info;
	struct peermap_map_stats st;
	struct pmedu_reg *reg;

	if (copy_from_user(&info, arg, size))
		return -EFAULT;
	reg = pmedu_reg_get(edev, file, info.id);
	if (!reg)
		return -ENOENT;
	memset(&info, 0, sizeof(info));
	info.id = reg->id;
	if (reg->map) {
		peermap_mapping_stats(reg->map, &st);
		info.invalidations = st.invalidations;
		info.remaps = st.remaps;
		info.fallback_bytes = st.fallback_bytes;
		info.last_reason = st.last_reason;
		info.reused = st.reused;
		info.devmem_bytes = st.devmem_bytes;
		info.migrated_bytes = st.migrated_bytes;
	}
	mutex_lock(&edev->lock);
	if (!reg->map) {
		/* the exporter's reasons and fallback are its own */
		info.invalidations = reg->invalidations;
		info.remaps = reg->maps ? reg->maps - 1 : 0;
		info.last_reason = reg->invalidations ? PEERMAP_INVAL_REVOKE :
							PEERMAP_INVAL_NONE;
	}
	info.valid = pmedu_reg_valid(reg);
	pmedu_reg_segs(reg, &info.nsegs);
	if (!info.valid)
		info.nsegs = 0;
	mutex_unlock(&edev->lock);
	pmedu_reg_put(reg);
	return copy_to_user(arg, &info, size) ? -EFAULT : 0;
}

static long pmedu_stats(struct pmedu_dev *edev, void __user *arg)
{
	struct peermap_edu_stats st;

	mutex_lock(&edev->lock);
	st = edev->stats;
	mutex_unlock(&edev->lock);
	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}

/* Drop every registration of @file (NULL: of every file). */
static void pmedu_drop_regs(struct pmedu_dev *edev, struct file *file)
{
	struct pmedu_reg *reg;
	unsigned long idx;

	xa_for_each(&edev->regs_xa, idx, reg) {
		if (file && reg->file != file)
			continue;
		if (xa_cmpxchg(&edev->regs_xa, idx, reg, NULL, 0) == reg)
			pmedu_reg_put(reg);
	}
}

static int pmedu_open(struct inode *inode, struct file *file)
{
	struct pmedu_dev *edev = container_of(file->private_data,
					      struct pmedu_dev, misc);

	kref_get(&edev->ref);
	file->private_data = edev;
	return 0;
}

static int pmedu_release(struct inode *inode, struct file *file)
{
	struct pmedu_dev *edev = file->private_data;

	pmedu_drop_regs(edev, file);
	kref_put(&edev->ref, pmedu_release_dev);
	return 0;
}

static long pmedu_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct pmedu_dev *edev = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case PEERMAP_EDU_IOC_COPY:
		return pmedu_copy(edev, file, uarg);
	case PEERMAP_EDU_IOC_SEGMENTS:
		return pmedu_segments(edev, uarg);
	case PEERMAP_EDU_IOC_REGISTER:
		return pmedu_register(edev, file, uarg);
	case PEERMAP_EDU_IOC_UNREGISTER:
		return pmedu_unregister(edev, file, uarg);
	case PEERMAP_EDU_IOC_REG_INFO:
		return pmedu_reg_info(edev, file, uarg, sizeof(struct peermap_edu_reg_info));
	case PMEDU_IOC_REG_INFO_V1:
		return pmedu_reg_info(edev, file, uarg, PMEDU_REG_INFO_V1_SIZE);
	case PEERMAP_EDU_IOC_STATS:
		return pmedu_stats(edev, uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations pmedu_fops = {
	.owner = THIS_MODULE,
	.open = pmedu_open,
	.release = pmedu_release,
	.unlocked_ioctl = pmedu_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static int pmedu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct pmedu_dev *edev;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret) {
		dev_err(&pdev->dev, "no 64-bit DMA: %d\n", ret);
		return ret;
	}
	/*
	 * The engine takes segments of any length (copies split them per
	 * transfer). Returns void since 6.12's backports, int before: ignored.
	 */
	dma_set_max_seg_size(&pdev->dev, UINT_MAX);
	ret = pci_request_region(pdev, 0, KBUILD_MODNAME);
	if (ret)
		return ret;

	edev = kzalloc(sizeof(*edev), GFP_KERNEL);
	if (!edev) {
		ret = -ENOMEM;
		goto err_release;
	}
	kref_init(&edev->ref);
	mutex_init(&edev->lock);
	xa_init_flags(&edev->regs_xa, XA_FLAGS_ALLOC1);
	init_waitqueue_head(&edev->idle);
	edev->pdev = pci_dev_get(pdev);
	edev->id = ida_alloc(&pmedu_ida, GFP_KERNEL);
	if (edev->id < 0) {
		ret = edev->id;
		pci_dev_put(pdev);
		kfree(edev);
		goto err_release;
	}
	edev->regs = pci_iomap(pdev, 0, 0);
	if (!edev->regs) {
		ret = -ENOMEM;
		goto err_put;
	}
	pci_set_master(pdev);

	snprintf(edev->name, sizeof(edev->name), "peermap-edu%d", edev->id);
	edev->misc.minor = MISC_DYNAMIC_MINOR;
	edev->misc.name = edev->name;
	edev->misc.fops = &pmedu_fops;
	edev->misc.parent = &pdev->dev;
	edev->misc.mode = 0666;
	ret = misc_register(&edev->misc);
	if (ret)
		goto err_unmap;
	pci_set_drvdata(pdev, edev);
	dev_info(&pdev->dev, "/dev/%s: edu DMA engine, id %#x\n", edev->name,
		 readl(edev->regs + EDU_REG_ID));
	return 0;

err_unmap:
	pci_clear_master(pdev);
	pci_iounmap(pdev, edev->regs);
err_put:
	kref_put(&edev->ref, pmedu_release_dev);
err_release:
	pci_release_region(pdev, 0);
	return ret;
}

static void pmedu_remove(struct pci_dev *pdev)
{
	struct pmedu_dev *edev = pci_get_drvdata(pdev);

	misc_deregister(&edev->misc);
	/* Waits for the chunk in flight: after this no DMA is started. */
	mutex_lock(&edev->lock);
	pci_clear_master(pdev);
	pci_iounmap(pdev, edev->regs);
	edev->regs = NULL;
	mutex_unlock(&edev->lock);
	/*
	 * No mapping may outlive the device (its IOMMU domain goes with it):
	 * drop the registrations, and wait for copies, which stop at their
	 * next chunk, to unmap theirs.
	 */
	pmedu_drop_regs(edev, NULL);
	wait_event(edev->idle, !atomic_read(&edev->live_maps));
	pci_release_region(pdev, 0);
	kref_put(&edev->ref, pmedu_release_dev);
}

static const struct pci_device_id pmedu_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR, EDU_DEVICE) },	/* QEMU edu */
	{ }
};
MODULE_DEVICE_TABLE(pci, pmedu_ids);

static struct pci_driver pmedu_driver = {
	.name = KBUILD_MODNAME,
	.id_table = pmedu_ids,
	.probe = pmedu_probe,
	.remove = pmedu_remove,
};
module_pci_driver(pmedu_driver);

MODULE_DESCRIPTION("peermap reference importer: QEMU edu DMA engine");
MODULE_LICENSE("GPL");
MODULE_VERSION(PEERMAP_VERSION);
