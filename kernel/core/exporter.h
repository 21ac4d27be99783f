/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What exporter.c gives mapping.c: the exporter of a VMA, the sync and
 * teardown of a peer piece, and the interface through which
 * peermap_revoke() reaches a mapping without calling mapping.c.
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
 * whoever made it: mapping.c's map_peer(). Per request rather than one
 * registered table: no global state or registration order, the pointer
 * travels with the mapping it serves (&peermap_p2p_req.map), and another
 * holder of peer requests (a dma-buf attachment, say) can bring its own.
 */
struct peermap_revoke_ops {
	/**
	 * @get: take a reference on @map, so that it outlives the request.
	 * Called under &peermap_revocable.lock (a spinlock) while the
	 * request is still attached, which means @map is not freed yet:
	 * must not sleep.
	 */
	void (*get)(struct peermap_mapping *map);
	/**
	 * @revoke: invalidate @map for @why (PEERMAP_INVAL_*) as
	 * peermap_revoke() documents (its importer stops, then its DMA
	 * addresses go), make a build of it in progress start over, then
	 * drop the reference @get took. Called with no spinlock held; may
	 * sleep.
	 */
	void (*revoke)(struct peermap_mapping *map, unsigned int why);
};

struct peermap_exporter *peermap_exporter_get(struct vm_area_struct *vma);
void peermap_exporter_put(struct peermap_exporter *exp);
void peermap_req_sync(struct peermap_p2p_req *req, u64 at, u64 len,
		      bool for_device);
void peermap_req_release(struct peermap_p2p_req *req);

#endif /* _PEERMAP_EXPORTER_H */
