// SPDX-License-Identifier: GPL-2.0
/*
 * dma-buf export for peermap's exporters: the mapping of a dma-buf
 * attachment (map_dma_buf) is one peer piece, like a piece of a peermap
 * importer's mapping: the exporter answers it from its object with
 * peermap_req_add_bar() or peermap_req_add_pages(), so the importer gets
 * the same routes (bus address, or an IOVA of the BAR), the same fallback
 * pages and its own DMA segment limits, handed over as an sg_table of DMA
 * addresses only (no struct page: importers of peer memory must not touch
 * one, and CONFIG_DMABUF_DEBUG checks they do not).
 *
 * Revocation: a piece the exporter attached to its object is found by
 * peermap_revoke() like any other. For a dma-buf it tells that mapping's
 * importer to stop (its move_notify, invalidate_mappings from 7.1) under
 * the reservation lock, waits for the fences it left, then until it
 * unmapped: when peermap_revoke() returns, no importer of the buffer uses
 * the old addresses, the guarantee peermap importers have.
 * Importers that cannot be told (static attachments) must not get
 * revocable memory: that is the exporter's attach policy.
 */
#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "compat.h"
#include "exporter.h"
#include "internal.h"
#include "segments.h"

MODULE_INFO(import_ns, "DMA_BUF");

/* One dma-buf attachment's mapping: the sg_table the importer holds. */
struct pm_dmabuf_map {
	struct sg_table sgt;		/* first: the importer's pointer */
	struct kref ref;		/* the mapping until unmapped; revokers */
	struct dma_buf *dmabuf;		/* a reference only while revoking */
	struct dma_buf_attachment *attach;	/* valid until unmapped */
	struct device *client;
	struct peermap_pieces pieces;	/* the piece, for its teardown */
	struct list_head node;		/* in pm_dmabuf_maps while mapped */
	struct list_head chg_node;	/* routes_changed()'s, under its mutex */
	bool unmapped;			/* set once, then woken */
	wait_queue_head_t wq;
};

/*
 * Every live mapping, for peermap_dmabuf_routes_changed(); entries leave
 * in peermap_dmabuf_unmap() before the mapping is torn down.
 */
static LIST_HEAD(pm_dmabuf_maps);
static DEFINE_SPINLOCK(pm_dmabuf_maps_lock);

/* How long a revoke waits for an importer before it says so (it waits on). */
#define PM_DMABUF_UNMAP_WARN	(10 * HZ)

static void pm_dmabuf_map_release(struct kref *ref)
{
	struct pm_dmabuf_map *m = container_of(ref, struct pm_dmabuf_map, ref);

	peermap_pieces_free(&m->pieces);
	kfree(m);
}

/**
 * peermap_dmabuf_can_peer() - may an importer get device memory of @provider?
 * @attach: the importer's attachment (from the exporter's attach)
 * @provider: the PCI device owning the memory
 *
 * When the importer takes memory without struct pages (peer2peer) and
 * peermap has a route from it to @provider (a log line says why not, as
 * for peermap importers). Otherwise the exporter answers it with system
 * memory.
 * Context: may sleep.
 * Return: 0, -EOPNOTSUPP (not peer2peer), -EREMOTEIO (no route), or the
 * route lookup's error.
 */
int peermap_dmabuf_can_peer(struct dma_buf_attachment *attach,
			    struct pci_dev *provider)
{
	struct pm_rt_verdict route;
	int ret;

	if (!attach->peer2peer)
		return -EOPNOTSUPP;
	ret = peermap_route_get(provider, attach->dev, &route);
	if (ret)
		return ret;
	if (route.path == PM_RT_NONE) {
		peermap_route_refused(provider, attach->dev, &route);
		return -EREMOTEIO;
	}
	return 0;
}
EXPORT_SYMBOL_GPL(peermap_dmabuf_can_peer);

/**
 * peermap_dmabuf_revocable() - can an importer be told to stop?
 * @attach: the importer's attachment
 *
 * A dynamic importer with move_notify (invalidate_mappings from 7.1): it
 * unmaps when told, so its memory can move. Others must pin it.
 * Context: any.
 * Return: true if so.
 */
bool peermap_dmabuf_revocable(struct dma_buf_attachment *attach)
{
	return attach->importer_ops && attach->importer_ops->PM_DMABUF_INVALIDATE;
}
EXPORT_SYMBOL_GPL(peermap_dmabuf_revocable);

static void pm_dmabuf_revoke_get(void *owner)
{
	struct pm_dmabuf_map *m = owner;

	kref_get(&m->ref);
	get_dma_buf(m->dmabuf);	/* attached: not unmapped, so alive */
}

/*
 * Tell this mapping's importer to stop (only it: the buffer's other
 * importers keep their mappings), wait for the fences it left, then for
 * its unmap: an importer may read speculatively until it unmaps.
 */
/* A dma-buf attachment's mapping holds one piece: @rv's, all of it. */
static void pm_dmabuf_revoke(void *owner, unsigned int why,
			     struct peermap_revocable *rv)
{
	struct pm_dmabuf_map *m = owner;
	struct dma_resv *resv = m->dmabuf->resv;
	unsigned long waited = 0;
	bool told;

	dma_resv_lock(resv, NULL);
	told = !m->unmapped && peermap_dmabuf_revocable(m->attach);
	if (told)
		m->attach->importer_ops->PM_DMABUF_INVALIDATE(m->attach);
	dma_resv_wait_timeout(resv, DMA_RESV_USAGE_BOOKKEEP, false,
			      MAX_SCHEDULE_TIMEOUT);
	dma_resv_unlock(resv);
	/* an importer that cannot be told keeps its mapping until it unmaps */
	if (!told && why == PEERMAP_INVAL_ROUTE)
		goto out;
	while (!wait_event_timeout(m->wq, READ_ONCE(m->unmapped),
				   PM_DMABUF_UNMAP_WARN)) {
		waited += PM_DMABUF_UNMAP_WARN / HZ;
		dev_warn(m->client, "dma-buf %s: revoked (%u) %lu s ago, not unmapped yet%s\n",
			 m->dmabuf->exp_name, why, waited,
			 why == PEERMAP_INVAL_ROUTE ? "; its next map follows the new route" :
						      "; waiting");
		/* a route change takes no memory away: no waiting for ever */
		if (why == PEERMAP_INVAL_ROUTE)
			break;
	}
out:
	dma_buf_put(m->dmabuf);
	kref_put(&m->ref, pm_dmabuf_map_release);
}

static const struct peermap_revoke_ops pm_dmabuf_revoke_ops = {
	.get = pm_dmabuf_revoke_get,
	.revoke = pm_dmabuf_revoke,
};

/* What the importer may do to the memory, from the mapping's direction. */
static u32 pm_dmabuf_access(enum dma_data_direction dir)
{
	switch (dir) {
	case DMA_TO_DEVICE:
		return PEERMAP_ACCESS_READ;
	case DMA_FROM_DEVICE:
		return PEERMAP_ACCESS_WRITE;
	default:
		return PEERMAP_ACCESS_READ | PEERMAP_ACCESS_WRITE;
	}
}

/* The segments as an sg_table of DMA addresses, no pages. */
static int pm_dmabuf_sgt(struct pm_dmabuf_map *m)
{
	struct peermap_pieces *p = &m->pieces;
	struct scatterlist *sg;
	unsigned int i;
	int ret;

	ret = sg_alloc_table(&m->sgt, p->nsegs, GFP_KERNEL_ACCOUNT);
	if (ret)
		return ret;
	for_each_sgtable_sg(&m->sgt, sg, i) {
		/* within the client's max segment size: an unsigned int */
		sg_dma_address(sg) = p->segs[i].addr;
		sg_dma_len(sg) = p->segs[i].len;
	}
	return 0;
}

/**
 * peermap_dmabuf_map() - map a dma-buf attachment: its exporter's map_dma_buf
 * @attach: the attachment (its importer's device is the client)
 * @dir: the direction the importer asked for
 * @src: the exporter, its answer and the range of its object
 *
 * Makes a peer piece for attach->dev and asks @src->answer for the range,
 * as p2p_map is asked for a VMA piece; the answer adds its segments
 * (peermap_req_add_bar(), peermap_req_add_pages()) and attaches the piece
 * to its object (peermap_req_attach()) if the object may take the memory
 * back from this importer: peermap_revoke() then stops the importer and
 * waits for its unmap. The segments come back as an sg_table with DMA
 * addresses and lengths only, each within the importer's DMA segment size
 * and boundary.
 * Context: may sleep; the buffer's reservation lock held (map_dma_buf).
 * Return: the table, to give back to peermap_dmabuf_unmap(), or an error
 * pointer: the answer's error (-EAGAIN: the object is moving), -ENOMEM.
 */
struct sg_table *peermap_dmabuf_map(struct dma_buf_attachment *attach,
				    enum dma_data_direction dir,
				    const struct peermap_dmabuf_source *src)
{
	struct peermap_p2p_req *req;
	struct pm_dmabuf_map *m;
	u32 access;
	int ret;

	access = pm_dmabuf_access(dir);
	if (access & ~src->access) {
		/* nothing would stop a device given bus addresses from writing */
		dev_info_ratelimited(attach->dev, "dma-buf %s is read-only: no %s mapping\n",
				     attach->dmabuf->exp_name,
				     dir == DMA_FROM_DEVICE ? "DMA_FROM_DEVICE" : "bidirectional");
		return ERR_PTR(-EACCES);
	}
	if (!try_module_get(src->exp->owner))
		return ERR_PTR(-ENODEV);
	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	if (!m) {
		module_put(src->exp->owner);
		return ERR_PTR(-ENOMEM);
	}
	kref_init(&m->ref);
	init_waitqueue_head(&m->wq);
	m->dmabuf = attach->dmabuf;
	m->attach = attach;
	m->client = attach->dev;
	peermap_pieces_init(&m->pieces, attach->dev);
	/* Entries end on page boundaries, as importers may assume. */
	m->pieces.max_seg = max_t(u64, m->pieces.max_seg & PAGE_MASK, PAGE_SIZE);
	req = peermap_req_new(src->exp, attach->dev, access,
			      &m->pieces, &pm_dmabuf_revoke_ops, m);
	if (!req) {
		ret = -ENOMEM;
		goto err;
	}
	ret = src->answer(src->priv, src->offset, src->len, req);
	if (ret)
		goto err;
	req->live = true;
	if (m->pieces.mapped != src->len) {
		dev_warn(attach->dev, "exporter %s answered %llu bytes for %llu\n",
			 src->exp->name, m->pieces.mapped, src->len);
		ret = -EIO;
		goto err;
	}
	ret = pm_dmabuf_sgt(m);
	if (ret)
		goto err;
	/* Fallback pages: the device sees what the CPU wrote (bounce buffers). */
	peermap_req_sync(req, 0, src->len, true);
	spin_lock(&pm_dmabuf_maps_lock);
	list_add_tail(&m->node, &pm_dmabuf_maps);
	spin_unlock(&pm_dmabuf_maps_lock);
	return &m->sgt;

err:
	if (req)
		peermap_req_release(req);
	/* A revoker may have found the piece attached meanwhile: let it go. */
	WRITE_ONCE(m->unmapped, true);
	wake_up_all(&m->wq);
	kref_put(&m->ref, pm_dmabuf_map_release);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_GPL(peermap_dmabuf_map);

/**
 * peermap_dmabuf_unmap() - undo peermap_dmabuf_map(): its unmap_dma_buf
 * @sgt: the table peermap_dmabuf_map() returned
 *
 * Tears the piece down (IOVAs, fallback pages, then the exporter's
 * p2p_unmap) and wakes a revoke waiting for it.
 * Context: may sleep; the buffer's reservation lock held (unmap_dma_buf).
 */
void peermap_dmabuf_unmap(struct sg_table *sgt)
{
	struct pm_dmabuf_map *m = container_of(sgt, struct pm_dmabuf_map, sgt);
	struct peermap_p2p_req *req, *tmp;

	spin_lock(&pm_dmabuf_maps_lock);
	list_del(&m->node);
	spin_unlock(&pm_dmabuf_maps_lock);
	sg_free_table(&m->sgt);
	list_for_each_entry_safe(req, tmp, &m->pieces.peers, node) {
		/* Fallback pages: the CPU sees what the device wrote. */
		peermap_req_sync(req, 0, m->pieces.mapped, false);
		peermap_req_release(req);
	}
	WRITE_ONCE(m->unmapped, true);
	wake_up_all(&m->wq);
	kref_put(&m->ref, pm_dmabuf_map_release);
}
EXPORT_SYMBOL_GPL(peermap_dmabuf_unmap);

/* Serialises peermap_dmabuf_routes_changed(): protects chg_node. */
static DEFINE_MUTEX(pm_dmabuf_routes_lock);

/*
 * Routes may answer differently (an administrator's setting changed):
 * every importer holding a mapping is told to map again, under the new
 * route, as peermap importers are (peermap_routes_changed()).
 */
void peermap_dmabuf_routes_changed(void)
{
	struct pm_dmabuf_map *m, *tmp;
	LIST_HEAD(todo);

	mutex_lock(&pm_dmabuf_routes_lock);
	spin_lock(&pm_dmabuf_maps_lock);
	list_for_each_entry(m, &pm_dmabuf_maps, node) {
		/* listed: not unmapped, so the buffer is alive */
		pm_dmabuf_revoke_get(m);
		list_add_tail(&m->chg_node, &todo);
	}
	spin_unlock(&pm_dmabuf_maps_lock);
	list_for_each_entry_safe(m, tmp, &todo, chg_node) {
		list_del(&m->chg_node);
		pm_dmabuf_revoke(m, PEERMAP_INVAL_ROUTE, NULL);	/* drops both */
	}
	mutex_unlock(&pm_dmabuf_routes_lock);
}
