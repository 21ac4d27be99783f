// SPDX-License-Identifier: GPL-2.0
/*
 * pm_dmabuf_imp: a test-only dma-buf importer doing what the RDMA core does
 * for a dmabuf memory region (drivers/infiniband/core/umem_dmabuf.c), for
 * any PCI device: ib_umem_dmabuf_get() attaches dynamically, peer2peer,
 * and unmaps in move_notify under the reservation lock (the NIC's MR is
 * invalidated; its next page fault maps again); ib_umem_dmabuf_get_pinned()
 * attaches peer2peer without a notifier, pins and maps once. Static and
 * non-peer2peer attachments stand for DRM PRIME importers. It never DMAs:
 * the tests read what it was given (pm_dmabuf_imp.h).
 */
#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "compat.h"
#include "pm_dmabuf_imp.h"

MODULE_INFO(import_ns, "DMA_BUF");

/* dma_buf_pin_on_map() of the kernel: 7.1 stopped pinning dynamic importers. */
#if defined(PM_HAVE_DMABUF_INVALIDATE_MAPPINGS) || IS_ENABLED(CONFIG_DMABUF_MOVE_NOTIFY)
#define PM_IMP_PIN_ON_MAP	0
#else
#define PM_IMP_PIN_ON_MAP	1
#endif

struct pm_imp {
	struct dma_buf *dmabuf;		/* a reference */
	struct dma_buf_attachment *attach;
	struct pci_dev *pdev;		/* a reference */
	u32 mode;
	/* Protected by the buffer's reservation lock. */
	struct sg_table *sgt;
	bool pinned;
	u64 invalidations, maps;
};

struct pm_imp_file {
	struct xarray imps;		/* id -> struct pm_imp; file's lock */
	struct mutex lock;		/* serialises the ioctls of the file */
};

/* Under the reservation lock, as ib_umem_dmabuf_unmap_pages(). */
static void pm_imp_unmap_locked(struct pm_imp *imp)
{
	dma_resv_assert_held(imp->dmabuf->resv);
	if (!imp->sgt)
		return;
	dma_buf_unmap_attachment(imp->attach, imp->sgt, DMA_BIDIRECTIONAL);
	imp->sgt = NULL;
}

/* The exporter moves the buffer: stop, unmap now (the NIC's MR is zapped). */
static void pm_imp_invalidate(struct dma_buf_attachment *attach)
{
	struct pm_imp *imp = attach->importer_priv;

	imp->invalidations++;
	pm_imp_unmap_locked(imp);
}

static const struct dma_buf_attach_ops pm_imp_dynamic_ops = {
	.allow_peer2peer = true,
	.PM_DMABUF_INVALIDATE = pm_imp_invalidate,
};

#ifndef PM_HAVE_DMABUF_INVALIDATE_MAPPINGS
/*
 * Before 7.1 every dynamic importer needs a move_notify: RDMA's pinned
 * one only complains (ib_umem_dmabuf_unsupported_move_notify()).
 */
static void pm_imp_pinned_notify(struct dma_buf_attachment *attach)
{
	struct pm_imp *imp = attach->importer_priv;

	imp->invalidations++;
	pr_warn_ratelimited("pm_dmabuf_imp: notified while pinned\n");
}
#endif

static const struct dma_buf_attach_ops pm_imp_pinned_ops = {
	.allow_peer2peer = true,
#ifndef PM_HAVE_DMABUF_INVALIDATE_MAPPINGS
	.move_notify = pm_imp_pinned_notify,
#endif
};

static const struct dma_buf_attach_ops pm_imp_no_p2p_ops = {
	.PM_DMABUF_INVALIDATE = pm_imp_invalidate,
};

/* Under the reservation lock, as ib_umem_dmabuf_map_pages(). */
static int pm_imp_map_locked(struct pm_imp *imp)
{
	struct sg_table *sgt;
	long ret;

	dma_resv_assert_held(imp->dmabuf->resv);
	if (!imp->sgt) {
		sgt = dma_buf_map_attachment(imp->attach, DMA_BIDIRECTIONAL);
		if (IS_ERR(sgt))
			return PTR_ERR(sgt);
		imp->sgt = sgt;
		imp->maps++;
	}
	/* The content may still be moving: wait for the exporter. */
	ret = dma_resv_wait_timeout(imp->dmabuf->resv, DMA_RESV_USAGE_KERNEL,
				    false, MAX_SCHEDULE_TIMEOUT);
	return ret < 0 ? ret : 0;
}

static void pm_imp_free(struct pm_imp *imp)
{
	struct dma_resv *resv = imp->dmabuf->resv;

	dma_resv_lock(resv, NULL);
	pm_imp_unmap_locked(imp);
	if (imp->pinned)
		dma_buf_unpin(imp->attach);
	dma_resv_unlock(resv);
	dma_buf_detach(imp->dmabuf, imp->attach);
	dma_buf_put(imp->dmabuf);
	pci_dev_put(imp->pdev);
	kfree(imp);
}

static struct pci_dev *pm_imp_pci(const char *name)
{
	struct pci_dev *pdev = NULL;

	for_each_pci_dev(pdev)
		if (!strcmp(pci_name(pdev), name))
			return pdev;	/* the loop's reference */
	return NULL;
}

static long pm_imp_attach(struct pm_imp_file *f, void __user *arg)
{
	struct pm_imp_attach req;
	const struct dma_buf_attach_ops *ops = NULL;
	struct pm_imp *imp;
	u32 id;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.mode > PM_IMP_NO_P2P || !memchr(req.client, 0, sizeof(req.client)))
		return -EINVAL;
	imp = kzalloc(sizeof(*imp), GFP_KERNEL);
	if (!imp)
		return -ENOMEM;
	imp->mode = req.mode;
	imp->pdev = pm_imp_pci(req.client);
	if (!imp->pdev) {
		ret = -ENODEV;
		goto err_free;
	}
	imp->dmabuf = dma_buf_get(req.fd);
	if (IS_ERR(imp->dmabuf)) {
		ret = PTR_ERR(imp->dmabuf);
		goto err_pdev;
	}
	switch (req.mode) {
	case PM_IMP_DYNAMIC:
		ops = &pm_imp_dynamic_ops;
		break;
	case PM_IMP_PINNED:
		ops = &pm_imp_pinned_ops;
		break;
	case PM_IMP_NO_P2P:
		ops = &pm_imp_no_p2p_ops;
		break;
	}
	if (ops)
		imp->attach = dma_buf_dynamic_attach(imp->dmabuf, &imp->pdev->dev,
						     ops, imp);
	else
		imp->attach = dma_buf_attach(imp->dmabuf, &imp->pdev->dev);
	if (IS_ERR(imp->attach)) {
		ret = PTR_ERR(imp->attach);
		goto err_buf;
	}
	if (req.mode == PM_IMP_PINNED) {
		/* ib_umem_dmabuf_get_pinned(): pin, then map once. */
		dma_resv_lock(imp->dmabuf->resv, NULL);
		ret = dma_buf_pin(imp->attach);
		if (!ret) {
			imp->pinned = true;
			ret = pm_imp_map_locked(imp);
		}
		dma_resv_unlock(imp->dmabuf->resv);
		if (ret)
			goto err_attach;
	}
	ret = xa_alloc(&f->imps, &id, imp, xa_limit_31b, GFP_KERNEL);
	if (ret)
		goto err_attach;
	req.id = id;
	if (copy_to_user(arg, &req, sizeof(req))) {
		xa_erase(&f->imps, id);
		ret = -EFAULT;
		goto err_attach;
	}
	return 0;

err_attach:
	pm_imp_free(imp);	/* unmaps, unpins, detaches, puts */
	return ret;
err_buf:
	dma_buf_put(imp->dmabuf);
err_pdev:
	pci_dev_put(imp->pdev);
err_free:
	kfree(imp);
	return ret;
}

static long pm_imp_map(struct pm_imp_file *f, void __user *arg)
{
	struct scatterlist *sg;
	struct pm_imp_map req;
	struct pm_imp *imp;
	unsigned int i;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	imp = xa_load(&f->imps, req.id);
	if (!imp)
		return -ENOENT;
	memset(&req, 0, sizeof(req));
	dma_resv_lock(imp->dmabuf->resv, NULL);
	ret = pm_imp_map_locked(imp);
	if (!ret) {
		for_each_sgtable_dma_sg(imp->sgt, sg, i) {
			if (i < PM_IMP_MAX_SEGS) {
				req.addr[i] = sg_dma_address(sg);
				req.seg_len[i] = sg_dma_len(sg);
			}
			req.len += sg_dma_len(sg);
			req.nsegs++;
		}
	}
	dma_resv_unlock(imp->dmabuf->resv);
	if (ret)
		return ret;
	return copy_to_user(arg, &req, sizeof(req)) ? -EFAULT : 0;
}

static long pm_imp_status(struct pm_imp_file *f, void __user *arg)
{
	struct pm_imp_status req;
	struct pm_imp *imp;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	imp = xa_load(&f->imps, req.id);
	if (!imp)
		return -ENOENT;
	dma_resv_lock(imp->dmabuf->resv, NULL);
	req.mapped = !!imp->sgt;
	req.invalidations = imp->invalidations;
	req.maps = imp->maps;
	dma_resv_unlock(imp->dmabuf->resv);
	req.pin_on_map = PM_IMP_PIN_ON_MAP;
	return copy_to_user(arg, &req, sizeof(req)) ? -EFAULT : 0;
}

static long pm_imp_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct pm_imp_file *f = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct pm_imp *imp;
	u32 id;
	long ret;

	mutex_lock(&f->lock);
	switch (cmd) {
	case PM_IMP_IOC_ATTACH:
		ret = pm_imp_attach(f, uarg);
		break;
	case PM_IMP_IOC_MAP:
		ret = pm_imp_map(f, uarg);
		break;
	case PM_IMP_IOC_STATUS:
		ret = pm_imp_status(f, uarg);
		break;
	case PM_IMP_IOC_UNMAP:
	case PM_IMP_IOC_DETACH:
		ret = -EFAULT;
		if (get_user(id, (u32 __user *)uarg))
			break;
		ret = -ENOENT;
		imp = cmd == PM_IMP_IOC_DETACH ? xa_erase(&f->imps, id) :
						 xa_load(&f->imps, id);
		if (!imp)
			break;
		ret = 0;
		if (cmd == PM_IMP_IOC_DETACH) {
			pm_imp_free(imp);
			break;
		}
		if (imp->pinned) {
			ret = -EBUSY;	/* a pinned MR is mapped until freed */
			break;
		}
		dma_resv_lock(imp->dmabuf->resv, NULL);
		pm_imp_unmap_locked(imp);
		dma_resv_unlock(imp->dmabuf->resv);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&f->lock);
	return ret;
}

static int pm_imp_open(struct inode *inode, struct file *file)
{
	struct pm_imp_file *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	xa_init_flags(&f->imps, XA_FLAGS_ALLOC);
	mutex_init(&f->lock);
	file->private_data = f;
	return 0;
}

static int pm_imp_release(struct inode *inode, struct file *file)
{
	struct pm_imp_file *f = file->private_data;
	struct pm_imp *imp;
	unsigned long id;

	xa_for_each(&f->imps, id, imp) {
		xa_erase(&f->imps, id);
		pm_imp_free(imp);
	}
	xa_destroy(&f->imps);
	kfree(f);
	return 0;
}

static const struct file_operations pm_imp_fops = {
	.owner = THIS_MODULE,
	.open = pm_imp_open,
	.release = pm_imp_release,
	.unlocked_ioctl = pm_imp_ioctl,
};

static struct miscdevice pm_imp_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pm-dmabuf-imp",
	.fops = &pm_imp_fops,
	.mode = 0600,
};
module_misc_device(pm_imp_misc);

MODULE_DESCRIPTION("peermap test: a dma-buf importer doing what RDMA dmabuf MRs do");
MODULE_LICENSE("GPL");
