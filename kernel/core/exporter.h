/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What exporter.c gives mapping.c and dmabuf.c: the exporter of a VMA, the
 * making, sync and teardown of a peer piece, and the interface through
 * which peermap_revoke() reaches what a piece is part of without calling
 * them.
 */
#ifndef _PEERMAP_EXPORTER_H
#define _PEERMAP_EXPORTER_H

#include <peermap.h>

/**
 * struct peermap_revoke_ops - how peermap_revoke() reaches a request's mapping
 *
 * exporter.c keeps each object's list of peer requests, mapping.c keeps
 * the mappings they belong to, and mapping.c calls exporter.c (exporter
 * lookup, teardown of a piece). A revoke has to go the other way: find the
 * requests of an object, then invalidate their mappings. Rather than call
 * back into mapping.c by name, and make the two files depend on each
 * other, every request carries these (&peermap_p2p_req.revoke_ops), set by
 * whoever made it: mapping.c's map_peer() for a peermap mapping, dmabuf.c
 * for a dma-buf attachment's mapping. Per request rather than one
 * registered table: no global state or registration order, the pointer
 * travels with what it serves (&peermap_p2p_req.owner).
 */
struct peermap_revoke_ops {
	/**
	 * @get: take a reference on @owner, so that it outlives the request.
	 * Called under &peermap_revocable.lock (a spinlock) while the
	 * request is still attached, which means @owner is not freed yet:
	 * must not sleep.
	 */
	void (*get)(void *owner);
	/**
	 * @stop: optional: make @owner's importer stop without waiting for
	 * it (&peermap_importer_ops.stop); @revoke follows. May sleep, but
	 * not wait for a device.
	 */
	void (*stop)(void *owner, unsigned int why,
		     struct peermap_revocable *rv);
	/**
	 * @revoke: invalidate @owner for @why (PEERMAP_INVAL_*) as
	 * peermap_revoke() documents (its importer stops, then its DMA
	 * addresses of @rv's object go; its other pieces may stay), make a
	 * build of it in progress start over, then drop the reference @get
	 * took. Called with no spinlock held; may sleep.
	 */
	void (*revoke)(void *owner, unsigned int why,
		       struct peermap_revocable *rv);
};

struct peermap_pieces;

struct peermap_exporter *peermap_exporter_get(struct vm_area_struct *vma);
void peermap_exporter_put(struct peermap_exporter *exp);
struct peermap_p2p_req *peermap_req_new(struct peermap_exporter *exp,
					struct device *client, u32 access,
					struct peermap_pieces *pieces,
					const struct peermap_revoke_ops *ops,
					void *owner);
void peermap_req_sync(struct peermap_p2p_req *req, u64 at, u64 len,
		      bool for_device);
void peermap_req_release(struct peermap_p2p_req *req);

#endif /* _PEERMAP_EXPORTER_H */
