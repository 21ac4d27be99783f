// SPDX-License-Identifier: GPL-2.0
/*
 * peermap_bar's objects as dma-bufs (PEERMAP_BAR_IOC_EXPORT): every
 * upstream dma-buf importer (RDMA dmabuf MRs, DRM PRIME, VFIO-era drivers)
 * becomes a client of the object, under its routes, policy, revocation
 * and fallback.
 *
 * Importers come in two kinds, decided at attach:
 * - peer: peer2peer-capable and with a route to the device. Its mappings
 *   are the object where it is (the BAR by bus address or IOVA, or system
 *   memory while evicted), attached to the object: an evict, restore,
 *   policy change or removal stops it first (peermap_revoke(),
 *   core/dmabuf.c) when it can be told to (move_notify, invalidate_mappings
 *   from 7.1). One that cannot must pin the buffer before it maps
 *   (dma_buf_pin(), as RDMA's pinned dmabuf MRs do); a pin keeps the
 *   object where it is: moves and policy changes fail with -EBUSY and a
 *   log line while it lasts, and a removal waits for its unmap.
 * - RAM: everything else (vgem's platform device, an importer with no
 *   route, a static attachment). The object moves to system memory while
 *   one is attached (visibly: a log line naming it, the
 *   peermap_fallback tracepoint, PEERMAP_BAR_IOC_OBJ_INFO's ram_importers
 *   and dmabuf_fallbacks) and comes back when the last detaches, unless
 *   the policy says PEERMAP_POLICY_NO_FALLBACK: then attach fails with
 *   -EREMOTEIO. Its mappings hold the pages until unmapped.
 *
 * CPU access through the buffer (mmap) is the object's own: the same
 * write-combined BAR pages or system pages, zapped on every move, as
 * the buffer's file maps through the device's address space.
 *
 * Locks: the buffer's reservation lock (held by dma-buf around pin,
 * map_dma_buf, unmap_dma_buf), then pmbar_obj.lock. attach and detach run
 * without it and may move the object (pmbar_move()).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "bar.h"
#include "compat.h"

MODULE_INFO(import_ns, "DMA_BUF");

/* One exported buffer: a slice of an object. */
struct pmbar_dmabuf {
	struct pmbar_obj *obj;		/* holds an object reference */
	u64 offset;			/* in the object, page aligned */
	u64 size;
	u32 access;			/* PEERMAP_ACCESS_* importers get */
};

/* One attachment: what kind of importer it is (attach->priv). */
struct pmbar_attach {
	bool ram;			/* holds the object in system memory */
	bool revocable;			/* can be told to stop */
	unsigned int pins;		/* its pins, in pmbar_obj.pins too */
};

static const char *pmbar_why_ram(int why)
{
	switch (why) {
	case -EOPNOTSUPP:
		return "it takes no memory without struct pages (not peer2peer)";
	case -EREMOTEIO:
		return "it has no route to the device";
	default:
		return "its route could not be decided";
	}
}

static int pmbar_dmabuf_attach(struct dma_buf *dmabuf,
			       struct dma_buf_attachment *attach)
{
	struct pmbar_dmabuf *db = dmabuf->priv;
	struct pmbar_obj *obj = db->obj;
	struct pci_dev *pdev = obj->bdev->pdev;
	struct pmbar_attach *pa;
	bool move = false;
	int why, ret = 0;

	pa = kzalloc(sizeof(*pa), GFP_KERNEL);
	if (!pa)
		return -ENOMEM;
	pa->revocable = peermap_dmabuf_revocable(attach);
	why = peermap_dmabuf_can_peer(attach, pdev);
	if (!why) {
		attach->priv = pa;
		return 0;
	}

	/* Decided and done under place_lock: no move of others in between. */
	mutex_lock(&obj->place_lock);
	mutex_lock(&obj->lock);
	if (obj->state == PEERMAP_OBJ_GONE) {
		ret = -ENODEV;
	} else if (obj->policy & PEERMAP_POLICY_NO_FALLBACK) {
		dev_info_ratelimited(&pdev->dev, "object at %#llx: dma-buf importer %s refused: %s, and the policy keeps the object in device memory\n",
				     obj->offset, dev_name(attach->dev), pmbar_why_ram(why));
		ret = -EREMOTEIO;
	} else {
		move = obj->state == PEERMAP_OBJ_RESIDENT;
		obj->ram_importers++;
		pa->ram = true;
	}
	mutex_unlock(&obj->lock);
	if (!ret && move) {
		dev_info(&pdev->dev, "object at %#llx moves to system memory: dma-buf importer %s: %s\n",
			 obj->offset, dev_name(attach->dev), pmbar_why_ram(why));
		ret = pmbar_move(obj, true);
		mutex_lock(&obj->lock);
		if (!ret) {
			obj->auto_evicted = true;
			obj->dmabuf_fallbacks++;
		} else {
			obj->ram_importers--;
		}
		mutex_unlock(&obj->lock);
		if (ret)
			dev_info(&pdev->dev, "object at %#llx could not move to system memory for %s: %d\n",
				 obj->offset, dev_name(attach->dev), ret);
	}
	mutex_unlock(&obj->place_lock);
	if (ret) {
		kfree(pa);
		return ret;
	}
	attach->priv = pa;
	return 0;
}

/* The last RAM importer gone: the object goes back where it was. */
static void pmbar_dmabuf_detach(struct dma_buf *dmabuf,
				struct dma_buf_attachment *attach)
{
	struct pmbar_dmabuf *db = dmabuf->priv;
	struct pmbar_obj *obj = db->obj;
	struct pmbar_attach *pa = attach->priv;
	int ret;

	mutex_lock(&obj->place_lock);
	mutex_lock(&obj->lock);
	/* dma-buf unpins before detach; an importer that did not leaks none */
	if (WARN_ON(pa->pins))
		obj->pins -= pa->pins;
	if (pa->ram && !--obj->ram_importers && obj->auto_evicted &&
	    obj->state == PEERMAP_OBJ_EVICTED) {
		mutex_unlock(&obj->lock);
		ret = pmbar_move(obj, false);	/* clears auto_evicted */
		if (ret && ret != -ENODEV)
			dev_info(&obj->bdev->pdev->dev, "object at %#llx stays in system memory after its last RAM importer: %d\n",
				 obj->offset, ret);
	} else {
		mutex_unlock(&obj->lock);
	}
	mutex_unlock(&obj->place_lock);
	kfree(pa);
}

/*
 * Under the reservation lock: dma_buf_pin(), and the pin dma-buf takes for
 * every mapping of a static importer (of every importer before 7.1 without
 * CONFIG_DMABUF_MOVE_NOTIFY). Pins nest.
 */
static int pmbar_dmabuf_pin(struct dma_buf_attachment *attach)
{
	struct pmbar_dmabuf *db = attach->dmabuf->priv;
	struct pmbar_attach *pa = attach->priv;
	struct pmbar_obj *obj = db->obj;

	int ret = 0;

	if (pa->ram)
		return 0;	/* its pages stay until it unmaps */
	mutex_lock(&obj->lock);
	if (obj->moving || obj->revoking)
		ret = -EAGAIN;	/* a revoke that started must find no pin */
	else if (obj->state == PEERMAP_OBJ_GONE)
		ret = -ENODEV;
	else
		obj->pins++;
	mutex_unlock(&obj->lock);
	if (!ret)
		pa->pins++;
	return ret;
}

static void pmbar_dmabuf_unpin(struct dma_buf_attachment *attach)
{
	struct pmbar_dmabuf *db = attach->dmabuf->priv;
	struct pmbar_attach *pa = attach->priv;
	struct pmbar_obj *obj = db->obj;

	if (!pa->pins)
		return;
	mutex_lock(&obj->lock);
	obj->pins--;
	mutex_unlock(&obj->lock);
	pa->pins--;
}

static int pmbar_dmabuf_answer(void *priv, u64 offset, u64 len,
			       struct peermap_p2p_req *req)
{
	struct dma_buf_attachment *attach = priv;
	struct pmbar_dmabuf *db = attach->dmabuf->priv;
	struct pmbar_attach *pa = attach->priv;

	return pmbar_obj_answer(db->obj, offset, len, req,
				pa->ram ? NULL : &db->obj->rv_dmabuf);
}

static struct sg_table *pmbar_dmabuf_map(struct dma_buf_attachment *attach,
					 enum dma_data_direction dir)
{
	struct pmbar_dmabuf *db = attach->dmabuf->priv;
	struct pmbar_attach *pa = attach->priv;
	struct peermap_dmabuf_source src = {
		.exp = &pmbar_exporter,
		.answer = pmbar_dmabuf_answer,
		.priv = attach,
		.offset = db->offset,
		.len = db->size,
		.access = db->access,
	};

	dma_resv_assert_held(attach->dmabuf->resv);
	if (!pa->ram && !pa->revocable && !pa->pins) {
		dev_info_ratelimited(attach->dev, "dma-buf %s: an importer that cannot be told to stop must pin the buffer before it maps it\n",
				     attach->dmabuf->exp_name);
		return ERR_PTR(-EINVAL);
	}
	return peermap_dmabuf_map(attach, dir, &src);
}

static void pmbar_dmabuf_unmap(struct dma_buf_attachment *attach,
			       struct sg_table *sgt,
			       enum dma_data_direction dir)
{
	peermap_dmabuf_unmap(sgt);
}

static void pmbar_dmabuf_release(struct dma_buf *dmabuf)
{
	struct pmbar_dmabuf *db = dmabuf->priv;
	struct pmbar_obj *obj = db->obj;
	struct pmbar_dev *bdev = obj->bdev;

	mutex_lock(&obj->lock);
	obj->dmabufs--;
	mutex_unlock(&obj->lock);
	/* The buffer's file mapped through the device's address space. */
	mutex_lock(&bdev->files_lock);
	if (!--bdev->open_files) {
		iput(bdev->inode);
		bdev->inode = NULL;
	}
	mutex_unlock(&bdev->files_lock);
	pmbar_obj_put(obj);
	kfree(db);
}

/* The object's own CPU mapping, for the buffer's slice. */
static int pmbar_dmabuf_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	struct pmbar_dmabuf *db = dmabuf->priv;
	struct pmbar_obj *obj = db->obj;
	int ret;

	ret = pmbar_vma_check(vma, obj->bdev);
	if (ret)
		return ret;
	/*
	 * Through an importer's file (dma_buf_mmap()) the VMA carries that
	 * file's rights: a read-only buffer stays read-only.
	 */
	if (!(db->access & PEERMAP_ACCESS_WRITE)) {
		if (vma->vm_flags & VM_WRITE)
			return -EACCES;
		vm_flags_clear(vma, VM_MAYWRITE);
	}
	/* dma-buf checked the VMA fits the buffer; pmbar_fault() wants BAR offsets */
	vma->vm_pgoff += (obj->offset + db->offset) >> PAGE_SHIFT;
	kref_get(&obj->ref);
	pmbar_vma_install(vma, obj);
	return 0;
}

/* The CPU sees what importers wrote once their fences signalled. */
static int pmbar_dmabuf_begin_cpu(struct dma_buf *dmabuf,
				  enum dma_data_direction dir)
{
	long ret;

	ret = dma_resv_wait_timeout(dmabuf->resv, DMA_RESV_USAGE_WRITE, true,
				    MAX_SCHEDULE_TIMEOUT);
	return ret < 0 ? ret : 0;
}

static int pmbar_dmabuf_end_cpu(struct dma_buf *dmabuf,
				enum dma_data_direction dir)
{
	return 0;	/* WC or coherent RAM: nothing to flush */
}

static const struct dma_buf_ops pmbar_dmabuf_ops = {
	.attach = pmbar_dmabuf_attach,
	.detach = pmbar_dmabuf_detach,
	.pin = pmbar_dmabuf_pin,
	.unpin = pmbar_dmabuf_unpin,
	.map_dma_buf = pmbar_dmabuf_map,
	.unmap_dma_buf = pmbar_dmabuf_unmap,
	.release = pmbar_dmabuf_release,
	.mmap = pmbar_dmabuf_mmap,
	.begin_cpu_access = pmbar_dmabuf_begin_cpu,
	.end_cpu_access = pmbar_dmabuf_end_cpu,
};

/**
 * pmbar_export() - PEERMAP_BAR_IOC_EXPORT: an object (slice) as a dma-buf
 * @pf: the file the object's handle belongs to
 * @arg: struct peermap_bar_export
 *
 * Context: process context.
 * Return: the buffer's fd (O_CLOEXEC; O_RDWR with PEERMAP_EXPORT_WRITE,
 * else O_RDONLY), -EFAULT, -EINVAL (flags, a range not page aligned or
 * outside the object), -ENOENT (no such handle), -ENODEV (device gone),
 * -ENOMEM, -EMFILE.
 */
long pmbar_export(struct pmbar_file *pf, void __user *arg)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct peermap_bar_export req;
	struct pmbar_dev *bdev = pf->bdev;
	struct pmbar_dmabuf *db;
	struct dma_buf *dmabuf;
	struct pmbar_obj *obj;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if ((req.flags & ~PEERMAP_EXPORT_WRITE) || req.reserved)
		return -EINVAL;
	if (!PAGE_ALIGNED(req.offset) || !PAGE_ALIGNED(req.size))
		return -EINVAL;
	obj = pmbar_obj_get(pf, req.handle);
	if (!obj)
		return -ENOENT;
	if (req.offset >= obj->size || req.size > obj->size - req.offset) {
		ret = -EINVAL;
		goto err_obj;
	}
	if (!req.size)
		req.size = obj->size - req.offset;
	db = kzalloc(sizeof(*db), GFP_KERNEL_ACCOUNT);
	if (!db) {
		ret = -ENOMEM;
		goto err_obj;
	}
	db->obj = obj;		/* the buffer's object reference */
	db->offset = req.offset;
	db->size = req.size;
	db->access = PEERMAP_ACCESS_READ;
	if (req.flags & PEERMAP_EXPORT_WRITE)
		db->access |= PEERMAP_ACCESS_WRITE;

	info.exp_name = bdev->name;
	info.ops = &pmbar_dmabuf_ops;
	info.size = db->size;
	info.flags = req.flags & PEERMAP_EXPORT_WRITE ? O_RDWR : O_RDONLY;
	info.priv = db;

	/* The buffer's file maps through the device's address space. */
	mutex_lock(&bdev->files_lock);
	if (READ_ONCE(bdev->gone) || !bdev->inode) {
		mutex_unlock(&bdev->files_lock);
		ret = -ENODEV;
		goto err_db;
	}
	dmabuf = dma_buf_export(&info);
	if (IS_ERR(dmabuf)) {
		mutex_unlock(&bdev->files_lock);
		ret = PTR_ERR(dmabuf);
		goto err_db;
	}
	bdev->open_files++;
	dmabuf->file->f_mapping = bdev->inode->i_mapping;
	mutex_unlock(&bdev->files_lock);
	mutex_lock(&obj->lock);
	obj->dmabufs++;
	mutex_unlock(&obj->lock);

	/* From here on dma_buf_put() undoes everything (release). */
	ret = dma_buf_fd(dmabuf, O_CLOEXEC);
	if (ret < 0)
		dma_buf_put(dmabuf);
	return ret;

err_db:
	kfree(db);
err_obj:
	pmbar_obj_put(obj);
	return ret;
}
