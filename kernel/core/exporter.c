// SPDX-License-Identifier: GPL-2.0
/*
 * Exporters: drivers that own device memory and mmap it, one VMA per
 * object. They register their vm_operations with peermap; a VMA with those
 * vm_ops is device memory that their p2p_map callback resolves for a
 * client. This file holds the registry, the helpers p2p_map calls, the
 * revocation lists of exporters' objects (peermap_revoke()), the teardown
 * of a peer piece, and the one helper that builds CPU mappings of BAR
 * memory.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/dma-mapping.h>
#include <linux/hashtable.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rculist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "compat.h"
#include "exporter.h"
#include "internal.h"
#include "segments.h"
#include "trace.h"

/*
 * Serialises changes to peermap_exporters; the map path reads the list
 * under RCU, so no global lock is taken per VMA.
 */
static DEFINE_MUTEX(peermap_exporters_lock);
static LIST_HEAD(peermap_exporters);

/*
 * An IOVA of peer MMIO (pm_dma_map_mmio()), shared by every peer piece
 * that maps the same bytes for the same client in the same direction:
 * 1024 registrations of a buffer cost one IOMMU mapping, and their revoke
 * one unmap, so one IOTLB flush under a strict IOMMU instead of 1024.
 * Only exact matches share: a client reaches no byte it was not given.
 */
struct peermap_iova {
	struct hlist_node node;		/* in pm_iovas, under pm_iovas_lock */
	unsigned int users;		/* peermap_iova_use, under pm_iovas_lock */
	struct device *client;		/* a user's mapping holds it */
	phys_addr_t phys;
	u64 len;
	enum dma_data_direction dir;
	dma_addr_t addr;
};

/* A peer piece's use of a shared IOVA, on its request's list. */
struct peermap_iova_use {
	struct list_head node;
	struct peermap_iova *iova;
};

/* The shared IOVAs; a spinlock: nothing sleeps under it. */
static DEFINE_SPINLOCK(pm_iovas_lock);
static DEFINE_HASHTABLE(pm_iovas, 8);

static u32 iova_hash(struct device *client, phys_addr_t phys, u64 len)
{
	return hash_64((u64)(uintptr_t)client ^ phys ^ (len << 20), 32);
}

/*
 * The IOVA in the table for @client, [phys, phys + len) and @dir, with
 * one more user; if there is none, @made (already mapped, one user) goes
 * in, or NULL comes back.
 */
static struct peermap_iova *iova_take(struct device *client, phys_addr_t phys,
				      u64 len, enum dma_data_direction dir,
				      struct peermap_iova *made)
{
	u32 key = iova_hash(client, phys, len);
	struct peermap_iova *iova;

	spin_lock(&pm_iovas_lock);
	hash_for_each_possible(pm_iovas, iova, node, key) {
		if (iova->client == client && iova->phys == phys &&
		    iova->len == len && iova->dir == dir) {
			iova->users++;
			goto out;
		}
	}
	iova = made;
	if (made)
		hash_add(pm_iovas, &made->node, key);
out:
	spin_unlock(&pm_iovas_lock);
	return iova;
}

/*
 * The IOVA of [phys, phys + len) for @client, made or shared, with a use
 * on @req's list. Mapped outside the lock: of two that raced, the first
 * in the table is kept and the other undone.
 */
static int iova_get(struct peermap_p2p_req *req, phys_addr_t phys, u64 len,
		    enum dma_data_direction dir, dma_addr_t *addr)
{
	struct peermap_iova *iova, *made;
	struct peermap_iova_use *use;

	use = kmalloc(sizeof(*use), GFP_KERNEL_ACCOUNT);
	if (!use)
		return -ENOMEM;
	iova = iova_take(req->client, phys, len, dir, NULL);
	if (!iova) {
		made = kzalloc(sizeof(*made), GFP_KERNEL_ACCOUNT);
		if (!made) {
			kfree(use);
			return -ENOMEM;
		}
		made->addr = pm_dma_map_mmio(req->client, phys, len, dir);
		if (dma_mapping_error(req->client, made->addr)) {
			kfree(made);
			kfree(use);
			return -EIO;
		}
		made->client = req->client;
		made->phys = phys;
		made->len = len;
		made->dir = dir;
		made->users = 1;
		iova = iova_take(req->client, phys, len, dir, made);
		if (iova != made) {
			pm_dma_unmap_mmio(req->client, made->addr, len, dir);
			kfree(made);
		}
	}
	use->iova = iova;
	list_add_tail(&use->node, &req->iovas);
	*addr = iova->addr;
	return 0;
}

/* Drop a use; the last one unmaps (a flush under a strict IOMMU). */
static void iova_put(struct peermap_iova_use *use)
{
	struct peermap_iova *iova = use->iova;
	bool last;

	spin_lock(&pm_iovas_lock);
	last = !--iova->users;
	if (last)
		hash_del(&iova->node);
	spin_unlock(&pm_iovas_lock);
	if (last) {
		pm_dma_unmap_mmio(iova->client, iova->addr, iova->len, iova->dir);
		kfree(iova);
	}
	list_del(&use->node);
	kfree(use);
}

/* Exporter pages (fallback memory) the core DMA-mapped for a peer piece. */
struct peermap_sgt {
	struct list_head node;
	struct peermap_dma_pages dma;
};

/* debugfs peermap/iovas: the shared IOVAs of peer MMIO, one per line. */
static int iovas_show(struct seq_file *m, void *unused)
{
	static const char *const dirs[] = {
		[DMA_BIDIRECTIONAL] = "rw", [DMA_TO_DEVICE] = "read",
		[DMA_FROM_DEVICE] = "write", [DMA_NONE] = "none",
	};
	struct peermap_iova *iova;
	unsigned int bkt;

	spin_lock(&pm_iovas_lock);
	hash_for_each(pm_iovas, bkt, iova, node)
		seq_printf(m, "%s phys %pa len %#llx %s users %u iova %pad\n",
			   dev_name(iova->client), &iova->phys, iova->len,
			   dirs[iova->dir], iova->users, &iova->addr);
	spin_unlock(&pm_iovas_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(iovas);

/* The exporter side's debugfs files, in @debugfs (peermap/). */
void peermap_exporter_debugfs(struct dentry *debugfs)
{
	debugfs_create_file("iovas", 0444, debugfs, NULL, &iovas_fops);
}

/**
 * peermap_register_exporter() - make an exporter's VMAs mappable for peers
 * @exp: name, owner, vm_ops, p2p_map and p2p_unmap filled in
 *
 * Context: may sleep.
 * Return: 0, -EINVAL for a missing field, -EEXIST if @exp->vm_ops is taken.
 */
int peermap_register_exporter(struct peermap_exporter *exp)
{
	struct peermap_exporter *e;
	int ret = 0;

	if (!exp->name || !exp->vm_ops || !exp->p2p_map || !exp->p2p_unmap)
		return -EINVAL;
	mutex_lock(&peermap_exporters_lock);
	list_for_each_entry(e, &peermap_exporters, node) {
		if (e->vm_ops == exp->vm_ops) {
			ret = -EEXIST;
			goto out;
		}
	}
	list_add_tail_rcu(&exp->node, &peermap_exporters);
	pr_info("exporter %s registered\n", exp->name);
out:
	mutex_unlock(&peermap_exporters_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(peermap_register_exporter);

/**
 * peermap_unregister_exporter() - undo peermap_register_exporter()
 * @exp: a registered exporter
 *
 * Every mapping through @exp holds a reference on @exp->owner, so an
 * exporter module cannot be unloaded while one exists.
 * Context: may sleep.
 */
void peermap_unregister_exporter(struct peermap_exporter *exp)
{
	mutex_lock(&peermap_exporters_lock);
	list_del_rcu(&exp->node);
	mutex_unlock(&peermap_exporters_lock);
	synchronize_rcu();	/* no lookup still sees it */
	pr_info("exporter %s unregistered\n", exp->name);
}
EXPORT_SYMBOL_GPL(peermap_unregister_exporter);

/*
 * The exporter of @vma with a reference on its module, or NULL if the VMA
 * is not registered device memory. Called with the mmap lock held.
 */
struct peermap_exporter *peermap_exporter_get(struct vm_area_struct *vma)
{
	struct peermap_exporter *e, *found = NULL;

	if (!vma->vm_ops)
		return NULL;
	rcu_read_lock();
	list_for_each_entry_rcu(e, &peermap_exporters, node) {
		if (e->vm_ops == vma->vm_ops && try_module_get(e->owner)) {
			found = e;
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

void peermap_exporter_put(struct peermap_exporter *exp)
{
	module_put(exp->owner);
}

/*
 * A peer piece for @client to be answered by @exp (whose module reference
 * it takes over), on @pieces' list of peers from now on, so that
 * peermap_req_release() undoes whatever gets done. NULL without memory
 * (the reference is dropped then too).
 */
struct peermap_p2p_req *peermap_req_new(struct peermap_exporter *exp,
					struct device *client, u32 access,
					struct peermap_pieces *pieces,
					const struct peermap_revoke_ops *ops,
					void *owner)
{
	struct peermap_p2p_req *req;

	/* One allocation for the core's request and the exporter's record. */
	req = kzalloc(sizeof(*req) + exp->priv_size, GFP_KERNEL_ACCOUNT);
	if (!req) {
		peermap_exporter_put(exp);
		return NULL;
	}
	if (exp->priv_size)
		req->priv = req + 1;
	req->client = client;
	req->access = access;
	req->owner = owner;
	req->revoke_ops = ops;
	req->pieces = pieces;
	req->exp = exp;
	INIT_LIST_HEAD(&req->iovas);
	INIT_LIST_HEAD(&req->sgts);
	INIT_LIST_HEAD(&req->rv_node);
	list_add_tail(&req->node, &pieces->peers);
	return req;
}

/**
 * peermap_req_add_bar() - answer part of a p2p_map request with BAR memory
 * @req: the request p2p_map was given
 * @provider: the PCI device owning the BAR
 * @bar: BAR index
 * @offset: byte offset in the BAR
 * @len: bytes
 *
 * Adds the segment(s) through which req->client reaches those bytes: the
 * BAR's bus address when the client's DMA is untranslated, an IOVA of the
 * BAR when an IOMMU translates it (pm_dma_map_mmio(): dma_map_phys() with
 * DMA_ATTR_MMIO, dma_map_resource() before 6.18), one IOVA for every piece
 * that maps the same bytes for the same client. The core drops the piece's
 * use of it at unmap, before calling p2p_unmap; the last use unmaps it.
 * Context: may sleep.
 * Return: 0, -EINVAL if the range is not inside the BAR, -EREMOTEIO if the
 * client cannot reach the provider, -ENOMEM, or -EIO if the IOMMU mapping
 * failed.
 */
int peermap_req_add_bar(struct peermap_p2p_req *req, struct pci_dev *provider,
			int bar, u64 offset, u64 len)
{
	enum dma_data_direction dir = peermap_dir(req->access);
	u32 flags = PEERMAP_SEG_PEER;
	struct pm_rt_verdict route;
	resource_size_t size;
	dma_addr_t addr;
	int ret;

	if (bar < 0 || bar >= PCI_STD_NUM_BARS)
		return -EINVAL;
	size = pci_resource_len(provider, bar);
	if (!len || offset >= size || len > size - offset)
		return -EINVAL;
	if (req->access & PEERMAP_ACCESS_WRITE)
		flags |= PEERMAP_SEG_WRITE;

	ret = peermap_route_get(provider, req->client, &route);
	if (ret)
		return ret;
	if (route.path == PM_RT_NONE) {
		peermap_route_refused(provider, req->client, &route);
		return -EREMOTEIO;
	}
	if (!route.iova)
		return peermap_pieces_append(req->pieces,
					     pci_bus_address(provider, bar) + offset,
					     len, flags);

	/*
	 * MMIO has no CPU cache to sync (pm_dma_map_mmio() says so, or
	 * DMA-API debug would call two mappings of it overlapping cachelines).
	 */
	ret = iova_get(req, pci_resource_start(provider, bar) + offset, len,
		       dir, &addr);
	if (ret) {
		if (ret == -EIO)
			dev_warn(req->client, "IOMMU mapping of %s BAR%d +%#llx (%llu bytes) failed\n",
				 pci_name(provider), bar, offset, len);
		return ret;
	}
	ret = peermap_pieces_append(req->pieces, addr, len,
				    flags | PEERMAP_SEG_IOVA);
	return ret;	/* on error the IOVA is undone with the request */
}
EXPORT_SYMBOL_GPL(peermap_req_add_bar);

/**
 * peermap_req_add_pages() - answer part of a p2p_map request with RAM
 * @req: the request p2p_map was given
 * @pages: the exporter's pages holding the object's content (fallback
 *	   while its device memory is evicted); page 0 is offset 0
 * @offset: byte offset of the first byte in @pages
 * @len: bytes
 *
 * The pages are DMA-mapped for req->client and added as PEERMAP_SEG_FALLBACK
 * segments: the importer sees that it got system memory, not device memory.
 * The exporter keeps the pages until p2p_unmap. The core undoes the DMA
 * mapping before calling p2p_unmap.
 * Context: may sleep.
 * Return: 0, -EINVAL for an empty range, -ENOMEM, or the DMA mapping error.
 */
int peermap_req_add_pages(struct peermap_p2p_req *req, struct page **pages,
			  u64 offset, u64 len)
{
	unsigned long first = offset >> PAGE_SHIFT;
	struct peermap_sgt *s;
	int ret;

	if (!len)
		return -EINVAL;
	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return -ENOMEM;
	/* On the list from now on: peermap_req_release() undoes it. */
	list_add_tail(&s->node, &req->sgts);
	ret = peermap_dma_pages_map(&s->dma, req->client, req->access,
				    PEERMAP_SEG_FALLBACK, req->pieces,
				    pages + first, offset & ~PAGE_MASK, len);
	if (ret)
		return ret;
	trace_peermap_fallback(req->client, req->exp->name, len);
	return 0;
}
EXPORT_SYMBOL_GPL(peermap_req_add_pages);

/* Sync the fallback pages of a peer piece in [at, at + len) of the mapping. */
void peermap_req_sync(struct peermap_p2p_req *req, u64 at, u64 len,
		      bool for_device)
{
	struct peermap_sgt *s;

	list_for_each_entry(s, &req->sgts, node)
		peermap_dma_pages_sync(&s->dma, req->client, at, len, for_device);
}

/*
 * An exporter's object lists the requests that map it (peermap_req_attach())
 * so that peermap_revoke() finds every mapping holding a piece of it. The
 * mappings themselves belong to mapping.c, which calls into this file: to
 * reach one, peermap_revoke() goes through the request's revoke_ops, which
 * mapping.c set when it made the request (exporter.h says why that way).
 */

/**
 * peermap_revocable_init() - set up the revocation list of an object
 * @rv: embedded in the exporter's object
 */
void peermap_revocable_init(struct peermap_revocable *rv)
{
	spin_lock_init(&rv->lock);
	INIT_LIST_HEAD(&rv->reqs);
	mutex_init(&rv->revoke_lock);
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
static void peermap_req_detach(struct peermap_p2p_req *req)
{
	struct peermap_revocable *rv = req->rv;

	if (!rv)
		return;
	spin_lock(&rv->lock);
	list_del_init(&req->rv_node);
	spin_unlock(&rv->lock);
	req->rv = NULL;
}

/* What a two-pass revoke holds of each piece: its owner, referenced. */
struct revoke_entry {
	void *owner;
	const struct peermap_revoke_ops *ops;
	bool stop;
};

/*
 * The pieces of @rv, if two passes are worth it (more than one, some of
 * whose owners can be told to stop without waiting), else 0.
 */
static unsigned int revoke_two_pass_count(struct peermap_revocable *rv)
{
	struct peermap_p2p_req *req;
	unsigned int n = 0, stoppable = 0;

	spin_lock(&rv->lock);
	list_for_each_entry(req, &rv->reqs, rv_node) {
		n++;
		stoppable += req->stoppable;
	}
	spin_unlock(&rv->lock);
	return n > 1 && stoppable ? n : 0;
}

/*
 * Revoke up to @n pieces of @todo in two passes: every owner told to stop
 * (&peermap_revoke_ops.stop, which does not wait), then each one
 * invalidated and torn down, so that importers drain at the same time.
 * Called and returns with @rv's spinlock held, dropped in between; what
 * is left on @todo is for the one-pass loop.
 */
static void revoke_two_passes_locked(struct peermap_revocable *rv,
				     struct list_head *todo,
				     struct revoke_entry *e, unsigned int n,
				     unsigned int why)
	__must_hold(&rv->lock)
{
	struct peermap_p2p_req *req;
	unsigned int i = 0;

	while (i < n && (req = list_first_entry_or_null(todo, struct peermap_p2p_req,
							rv_node))) {
		list_del_init(&req->rv_node);
		e[i].owner = req->owner;
		e[i].ops = req->revoke_ops;
		e[i].stop = req->stoppable && e[i].ops->stop;
		e[i].ops->get(e[i].owner);
		i++;
	}
	n = i;
	spin_unlock(&rv->lock);
	for (i = 0; i < n; i++)
		if (e[i].stop)
			e[i].ops->stop(e[i].owner, why, rv);
	for (i = 0; i < n; i++)
		e[i].ops->revoke(e[i].owner, why, rv);
	spin_lock(&rv->lock);
}

/**
 * peermap_revoke() - take device memory back from every importer
 * @rv: the object's revocation list
 * @why: PEERMAP_INVAL_REVOKE, PEERMAP_INVAL_REMOVE, or PEERMAP_INVAL_PROTECT
 *	 (from the exporter's vm_ops->mprotect)
 *
 * Every mapping holding a piece of @rv is invalidated: its importer stops
 * its DMA, then the DMA addresses (and IOVAs) are torn down, then
 * p2p_unmap is called. Importers that can be told to stop without waiting
 * (&peermap_importer_ops.stop) are all told first, then each one is
 * waited for and torn down: they drain together, and the revoke takes as
 * long as the slowest. A mapping being built at the same time is built
 * again. The exporter first makes p2p_map refuse the memory (or answer
 * -EAGAIN while it moves it), then calls this; when it returns no importer
 * uses the old addresses (pieces a build of the mapping holds at that
 * moment are no longer in use and are torn down when the build, which
 * starts over, lets them go). Revokes of one object run one at a time, so
 * this holds whichever of several concurrent revokers returns first; each
 * revokes the pieces attached when it starts, not those mapped after
 * (under the exporter's new state).
 * Context: process context, may sleep; no exporter lock that p2p_unmap
 * takes, nor one held around p2p_map, may be held. The caller keeps @rv
 * alive (p2p_unmap may drop the exporter's other references meanwhile).
 */
void peermap_revoke(struct peermap_revocable *rv, unsigned int why)
{
	const struct peermap_revoke_ops *ops;
	struct revoke_entry *e = NULL;
	struct peermap_p2p_req *req;
	unsigned int n;
	LIST_HEAD(todo);
	void *owner;

	might_sleep();
	/*
	 * Room for two passes, one entry per piece, taken before the locks:
	 * pieces attached meanwhile go through the one-pass loop, as do all
	 * of them if there is no memory.
	 */
	n = revoke_two_pass_count(rv);
	if (n)
		e = kvmalloc_array(n, sizeof(*e), GFP_KERNEL | __GFP_NOWARN);
	/*
	 * One revoke at a time per object: a second revoker waits here until
	 * the first one's importers stopped, so whichever returns, none of
	 * them still uses the old addresses.
	 */
	mutex_lock(&rv->revoke_lock);
	/*
	 * The pieces attached now, once: pieces attached later were mapped
	 * under the exporter's new state, and importers that keep mapping
	 * again cannot keep this loop going.
	 */
	spin_lock(&rv->lock);
	list_splice_init(&rv->reqs, &todo);
	if (e)
		revoke_two_passes_locked(rv, &todo, e, n, why);
	for (;;) {
		req = list_first_entry_or_null(&todo, struct peermap_p2p_req,
					       rv_node);
		if (!req)
			break;
		/*
		 * Attached means its mapping is not freed yet (teardown
		 * detaches under this lock first): a reference is safe.
		 */
		list_del_init(&req->rv_node);
		owner = req->owner;
		ops = req->revoke_ops;
		ops->get(owner);
		spin_unlock(&rv->lock);

		/* The request may be freed now: the reference keeps @owner. */
		ops->revoke(owner, why, rv);
		spin_lock(&rv->lock);
	}
	spin_unlock(&rv->lock);
	mutex_unlock(&rv->revoke_lock);
	kvfree(e);
}
EXPORT_SYMBOL_GPL(peermap_revoke);

/*
 * Tear a peer piece down: off its object's revocation list, its DMA
 * mappings (fallback pages, IOVAs) first, then the exporter's unmap if
 * p2p_map succeeded (the exporter may free the memory once it returns),
 * then the module reference.
 */
void peermap_req_release(struct peermap_p2p_req *req)
{
	struct peermap_iova_use *use, *tmp;
	struct peermap_sgt *s, *stmp;

	peermap_req_detach(req);
	list_for_each_entry_safe(s, stmp, &req->sgts, node) {
		peermap_dma_pages_unmap(&s->dma, req->client);
		list_del(&s->node);
		kfree(s);
	}
	list_for_each_entry_safe(use, tmp, &req->iovas, node)
		iova_put(use);
	if (req->live)
		req->exp->p2p_unmap(req);
	if (req->pgmap)
		put_dev_pagemap(req->pgmap);	/* a devmem piece's */
	peermap_exporter_put(req->exp);
	list_del(&req->node);
	kfree(req);
}

/**
 * peermap_vma_prepare() - set up an exporter VMA of device memory
 * @vma: the VMA of one object, from the exporter's mmap
 *
 * Gets the subtle bits right in one place: VM_IO | VM_PFNMAP (GUP and
 * importers that do not know peermap cannot pin it), VM_DONTEXPAND (no
 * mremap growth past the object), VM_DONTDUMP (no core dumps of device
 * memory), no exec, write-combined and decrypted page protection. For
 * exporters that fill the VMA from a fault handler (and can zap it).
 * Context: called from f_op->mmap with the mmap lock held.
 */
void peermap_vma_prepare(struct vm_area_struct *vma)
{
	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vm_flags_clear(vma, VM_MAYEXEC);
	vma->vm_page_prot = pgprot_decrypted(pgprot_writecombine(vm_get_page_prot(vma->vm_flags)));
}
EXPORT_SYMBOL_GPL(peermap_vma_prepare);

/**
 * peermap_mmap_bar() - map BAR memory into a VMA for the CPU
 * @vma: the VMA of one object, from the exporter's mmap
 * @pdev: the device
 * @bar: BAR index
 * @offset: byte offset of the object in the BAR, page aligned
 *
 * All of it at once, with peermap_vma_prepare()'s flags, for exporters
 * whose memory never moves.
 * Context: may sleep; called from f_op->mmap with the mmap lock held.
 * Return: 0, -EINVAL if the VMA does not fit in the BAR, or the error of
 * io_remap_pfn_range().
 */
int peermap_mmap_bar(struct vm_area_struct *vma, struct pci_dev *pdev, int bar,
		     u64 offset)
{
	unsigned long size = vma->vm_end - vma->vm_start;
	resource_size_t len = pci_resource_len(pdev, bar);

	if (bar < 0 || bar >= PCI_STD_NUM_BARS || !PAGE_ALIGNED(offset) ||
	    offset >= len || size > len - offset)
		return -EINVAL;
	peermap_vma_prepare(vma);
	return io_remap_pfn_range(vma, vma->vm_start,
				  (pci_resource_start(pdev, bar) + offset) >> PAGE_SHIFT,
				  size, vma->vm_page_prot);
}
EXPORT_SYMBOL_GPL(peermap_mmap_bar);
