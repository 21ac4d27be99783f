/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The segment vector and pages DMA-mapped for a client (segments.c), for
 * mapping.c and exporter.c. Includes nothing of theirs: segments.c sits
 * below both.
 */
#ifndef _PEERMAP_SEGMENTS_H
#define _PEERMAP_SEGMENTS_H

#include <linux/dma-direction.h>
#include <linux/scatterlist.h>
#include <peermap.h>

/* Segments held in struct peermap_pieces itself: most mappings need one. */
#define PEERMAP_INLINE_SEGS	4

/*
 * What one resolution of a mapping's range holds: the segment vector and
 * what to undo. Built without locks, then installed in the mapping under
 * its lock (mapping.c, peermap_pieces_move()). The vector is @inline_segs
 * until it outgrows them (no allocation for a small mapping).
 */
struct peermap_pieces {
	struct peermap_segment *segs;
	unsigned int nsegs, cap;
	u64 max_seg;			/* the client's dma_get_max_seg_size() */
	u64 seg_mask;			/* the client's dma_get_seg_boundary() */
	u64 mapped;			/* sum of segs[].len */
	u64 fallback;			/* bytes in PEERMAP_SEG_FALLBACK segments */
	struct list_head ram;		/* struct peermap_ram_piece */
	struct list_head peers;		/* struct peermap_p2p_req */
	struct peermap_segment inline_segs[PEERMAP_INLINE_SEGS];
};

/*
 * Pages DMA-mapped for a client, streaming, with DMA_ATTR_SKIP_CPU_SYNC:
 * RAM of a user range, or an exporter's fallback pages. Ranges of several
 * mappings may overlap (two registrations of one buffer), which streaming
 * DMA allows only when the importer syncs (peermap_sync_for_device/cpu()).
 */
struct peermap_dma_pages {
	struct sg_table sgt;
	enum dma_data_direction dir;
	u64 at;				/* first byte's offset in the mapping */
	u64 len;			/* bytes */
	bool translated;		/* by an IOMMU: sync page by page */
	bool need_sync;			/* dma_need_sync() of some segment */
	bool mapped;			/* dma_map_sgtable() succeeded */
};

/*
 * Allocations whose size a user's request sets: charged to the user's
 * memory cgroup, and no allocation-failure splat (a user asking for too
 * much is not a kernel bug; the caller returns -ENOMEM).
 */
#define PEERMAP_GFP_USER	(GFP_KERNEL_ACCOUNT | __GFP_NOWARN)

void peermap_pieces_init(struct peermap_pieces *p, struct device *client);
void peermap_pieces_move(struct peermap_pieces *dst, struct peermap_pieces *src);
void peermap_pieces_free(struct peermap_pieces *p);

/* Holds nothing: no piece, no allocated segment vector. */
static inline bool peermap_pieces_empty(const struct peermap_pieces *p)
{
	return list_empty(&p->ram) && list_empty(&p->peers) &&
	       p->segs == p->inline_segs;
}

/* A place in a segment vector, for copying it piece by piece in order. */
struct peermap_seg_cursor {
	unsigned int i;			/* a segment */
	u64 pos;			/* where it starts in the vector's bytes */
};

int peermap_pieces_copy(struct peermap_pieces *dst,
			const struct peermap_pieces *src,
			struct peermap_seg_cursor *c, u64 at, u64 len);
int peermap_pieces_append(struct peermap_pieces *p, dma_addr_t addr, u64 len,
			  u32 flags);
int peermap_dma_pages_map(struct peermap_dma_pages *dp, struct device *client,
			  u32 access, u32 flags, struct peermap_pieces *p,
			  struct page **pages, unsigned long offset, u64 len);
void peermap_dma_sync(struct device *client, dma_addr_t addr, u64 len,
		      enum dma_data_direction dir, bool by_page,
		      bool for_device);
void peermap_dma_pages_sync(struct peermap_dma_pages *dp,
			    struct device *client, u64 at, u64 len,
			    bool for_device);
void peermap_dma_pages_unmap(struct peermap_dma_pages *dp,
			     struct device *client);

/* Direction of a DMA mapping for an access. */
static inline enum dma_data_direction peermap_dir(u32 access)
{
	if ((access & PEERMAP_ACCESS_READ) && (access & PEERMAP_ACCESS_WRITE))
		return DMA_BIDIRECTIONAL;
	return access & PEERMAP_ACCESS_WRITE ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
}

#endif /* _PEERMAP_SEGMENTS_H */
