// SPDX-License-Identifier: GPL-2.0
/*
 * Segments: the vector of (DMA address, length, flags) that one resolution
 * of a mapping builds (struct peermap_pieces), merging what continues the
 * last segment within the client's DMA segment limits; and pages
 * DMA-mapped for a client (struct peermap_dma_pages): RAM of a user range
 * (mapping.c) or an exporter's fallback pages (exporter.c), turned into
 * scatterlists that respect the client's segment boundary, appended as
 * segments, synced byte-exactly, and unmapped.
 *
 * Nothing here knows mappings, exporters or requests: the two files above
 * call down into this one, and it calls only route.c (is the client
 * translated by an IOMMU?) and the kernel.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "internal.h"
#include "segments.h"

/* An empty resolution, for @client's DMA segment limits. */
void peermap_pieces_init(struct peermap_pieces *p, struct device *client)
{
	memset(p, 0, sizeof(*p));
	INIT_LIST_HEAD(&p->ram);
	INIT_LIST_HEAD(&p->peers);
	p->max_seg = max_t(u64, dma_get_max_seg_size(client), PAGE_SIZE);
	p->seg_mask = max_t(u64, dma_get_seg_boundary(client), PAGE_SIZE - 1);
	p->segs = p->inline_segs;
	p->cap = PEERMAP_INLINE_SEGS;
}

/*
 * Move what @src holds into @dst (its old content is overwritten, not
 * released); @src is left empty, for the same client.
 */
void peermap_pieces_move(struct peermap_pieces *dst, struct peermap_pieces *src)
{
	*dst = *src;
	if (src->segs == src->inline_segs)
		dst->segs = dst->inline_segs;
	list_replace_init(&src->ram, &dst->ram);
	list_replace_init(&src->peers, &dst->peers);
	src->segs = src->inline_segs;
	src->nsegs = 0;
	src->cap = PEERMAP_INLINE_SEGS;
	src->mapped = 0;
	src->fallback = 0;
}

/* Free the segment vector (not what the lists hold); @p is then empty. */
void peermap_pieces_free(struct peermap_pieces *p)
{
	if (p->segs != p->inline_segs)
		kvfree(p->segs);
	p->segs = p->inline_segs;
	p->nsegs = 0;
	p->cap = PEERMAP_INLINE_SEGS;
}

/*
 * The largest scatterlist entry to DMA-map for @client, a page multiple:
 * within its segment limit and boundary, and within what one mapping may
 * be (a bounce buffer slot run is 256 KiB with swiotlb, and cannot cross
 * the boundary either).
 */
static unsigned int peermap_max_seg(struct device *client)
{
	u64 max = min_t(u64, dma_get_max_seg_size(client),
			dma_max_mapping_size(client));
	u64 mask = dma_get_seg_boundary(client);

	if (mask < max)
		max = mask + 1;
	return max_t(u64, max & PAGE_MASK, PAGE_SIZE);
}

/* Bytes from @addr to the client's next segment boundary (0: 2^64). */
static u64 to_boundary(const struct peermap_pieces *p, u64 addr)
{
	return p->seg_mask - (addr & p->seg_mask) + 1;
}

/* The most bytes a segment starting at @addr may hold. */
static u64 seg_room(const struct peermap_pieces *p, u64 addr)
{
	u64 b = to_boundary(p, addr);

	return b && b < p->max_seg ? b : p->max_seg;
}

static int pieces_grow(struct peermap_pieces *p)
{
	struct peermap_segment *segs;
	unsigned int cap = 4 * p->cap;

	segs = kvmalloc_array(cap, sizeof(*segs), PEERMAP_GFP_USER);
	if (!segs)
		return -ENOMEM;
	if (p->nsegs)
		memcpy(segs, p->segs, p->nsegs * sizeof(*segs));
	if (p->segs != p->inline_segs)
		kvfree(p->segs);
	p->segs = segs;
	p->cap = cap;
	return 0;
}

/*
 * Append a segment, merging it into the last one when it continues it with
 * the same flags: a contiguous object on one route is one segment, within
 * the client's dma_get_max_seg_size() and dma_get_seg_boundary().
 */
int peermap_pieces_append(struct peermap_pieces *p, dma_addr_t addr, u64 len,
			  u32 flags)
{
	struct peermap_segment *last;
	u64 room, n;
	int ret;

	p->mapped += len;
	if (flags & PEERMAP_SEG_FALLBACK)
		p->fallback += len;
	while (len) {
		last = p->nsegs ? &p->segs[p->nsegs - 1] : NULL;
		if (last && last->flags == flags && last->addr + last->len == addr) {
			room = seg_room(p, last->addr) - last->len;
			if (room) {
				n = min(len, room);
				last->len += n;
				addr += n;
				len -= n;
				continue;
			}
		}
		if (p->nsegs == p->cap) {
			ret = pieces_grow(p);
			if (ret)
				return ret;
		}
		n = min(len, seg_room(p, addr));
		p->segs[p->nsegs++] = (struct peermap_segment) {
			.addr = addr, .len = n, .flags = flags,
		};
		addr += n;
		len -= n;
	}
	return 0;
}

/*
 * Append to @dst the segments of @src that hold its bytes [at, at + len)
 * (a piece kept from an earlier resolution), cut at both ends, merging as
 * peermap_pieces_append() does. @c starts zeroed; copies in increasing
 * order of @at walk @src once.
 */
int peermap_pieces_copy(struct peermap_pieces *dst,
			const struct peermap_pieces *src,
			struct peermap_seg_cursor *c, u64 at, u64 len)
{
	const struct peermap_segment *seg;
	u64 s, e;
	int ret;

	if (at < c->pos)
		*c = (struct peermap_seg_cursor){ 0 };
	for (; c->i < src->nsegs; c->pos += seg->len, c->i++) {
		seg = &src->segs[c->i];
		if (c->pos >= at + len)
			return 0;
		s = max(c->pos, at);
		e = min(c->pos + seg->len, at + len);
		if (s >= e)
			continue;
		ret = peermap_pieces_append(dst, seg->addr + (s - c->pos), e - s,
					    seg->flags);
		if (ret)
			return ret;
		if (e < c->pos + seg->len)
			return 0;	/* the rest of this one is the next piece's */
	}
	return 0;
}

/*
 * Fill @sgt with @len bytes of @pages, the first at byte @offset of
 * pages[0]: physically contiguous pages join one entry of at most @max
 * bytes that never crosses a multiple of @mask + 1, the client's segment
 * boundary, which sg_alloc_table_from_pages_segment() does not know (a
 * merged entry across it is a DMA-API violation for an untranslated
 * client). Two passes: count, then fill.
 */
static int pages_to_sgt(struct sg_table *sgt, struct page **pages,
			unsigned long offset, u64 len, u64 max, u64 mask)
{
	struct scatterlist *sg = NULL;
	unsigned int n, pass, off, cur_off = 0;
	struct page *cur_page = NULL;
	phys_addr_t cur = 0, phys;
	u64 left, cur_len, chunk;
	unsigned long i;
	int ret;

	for (pass = 0; pass < 2; pass++) {
		n = 0;
		cur_len = 0;
		off = offset;
		for (i = 0, left = len; left; i++, left -= chunk, off = 0) {
			chunk = min_t(u64, left, PAGE_SIZE - off);
			phys = page_to_phys(pages[i]) + off;
			if (cur_len && cur + cur_len == phys &&
			    cur_len + chunk <= max &&
			    (cur & ~mask) == ((phys + chunk - 1) & ~mask)) {
				cur_len += chunk;
				continue;
			}
			if (cur_len && pass) {
				sg_set_page(sg, cur_page, cur_len, cur_off);
				sg = sg_next(sg);
			}
			n += !!cur_len;
			cur = phys;
			cur_len = chunk;
			cur_page = pages[i];
			cur_off = off;
		}
		if (pass) {
			sg_set_page(sg, cur_page, cur_len, cur_off);
			break;
		}
		ret = sg_alloc_table(sgt, n + 1, PEERMAP_GFP_USER);
		if (ret)
			return ret;
		sg = sgt->sgl;
	}
	return 0;
}

/*
 * DMA-map @len bytes of @pages (the first at byte @offset of pages[0]) for
 * @client and append them as segments with @flags, plus the write and
 * IOVA flags @access and the client give. On error, whatever was done is
 * undone by peermap_dma_pages_unmap().
 */
int peermap_dma_pages_map(struct peermap_dma_pages *dp, struct device *client,
			  u32 access, u32 flags, struct peermap_pieces *p,
			  struct page **pages, unsigned long offset, u64 len)
{
	struct scatterlist *sg;
	int ret, i;

	if (access & PEERMAP_ACCESS_WRITE)
		flags |= PEERMAP_SEG_WRITE;
	dp->translated = peermap_client_translated(client);
	if (dp->translated)
		flags |= PEERMAP_SEG_IOVA;
	dp->dir = peermap_dir(access);
	dp->at = p->mapped;
	dp->len = len;
	ret = pages_to_sgt(&dp->sgt, pages, offset, len, peermap_max_seg(client),
			   dma_get_seg_boundary(client));
	if (ret)
		return ret;
	ret = dma_map_sgtable(client, &dp->sgt, dp->dir, DMA_ATTR_SKIP_CPU_SYNC);
	if (ret)
		return ret;
	dp->mapped = true;
	for_each_sgtable_dma_sg(&dp->sgt, sg, i) {
		/* Coherent and not bounced: syncs need not walk the table. */
		dp->need_sync |= dma_need_sync(client, sg_dma_address(sg));
		ret = peermap_pieces_append(p, sg_dma_address(sg),
					    sg_dma_len(sg), flags);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * peermap_dma_sync() - sync [addr, addr + len) of a streaming DMA mapping
 * @client: the device it is mapped for
 * @addr: first byte's DMA address
 * @len: bytes
 * @dir: the mapping's direction
 * @by_page: the range may join separate mappings at page boundaries (an
 *	     IOMMU joining pages that are apart in memory, bounce buffers of
 *	     several pages of a dma-buf's table): sync each page on its own
 * @for_device: towards the device, else towards the CPU
 */
void peermap_dma_sync(struct device *client, dma_addr_t addr, u64 len,
		      enum dma_data_direction dir, bool by_page,
		      bool for_device)
{
	u64 n;

	while (len) {
		n = len;
		if (by_page)
			n = min_t(u64, len, PAGE_SIZE - offset_in_page(addr));
		if (for_device)
			dma_sync_single_for_device(client, addr, n, dir);
		else
			dma_sync_single_for_cpu(client, addr, n, dir);
		addr += n;
		len -= n;
	}
}

/*
 * Sync the bytes of @dp that fall in [at, at + len) of the mapping, and
 * only those: with bounce buffers a sync copies, and copying more would
 * bring stale bytes over newer ones.
 */
void peermap_dma_pages_sync(struct peermap_dma_pages *dp,
			    struct device *client, u64 at, u64 len,
			    bool for_device)
{
	u64 pos = dp->at, start, end;
	struct scatterlist *sg;
	int i;

	if (!dp->mapped || !dp->need_sync || at >= dp->at + dp->len ||
	    at + len <= dp->at)
		return;
	for_each_sgtable_dma_sg(&dp->sgt, sg, i) {
		start = max(pos, at);
		end = min(pos + sg_dma_len(sg), at + len);
		if (start < end)
			peermap_dma_sync(client, sg_dma_address(sg) + (start - pos),
					 end - start, dp->dir, dp->translated,
					 for_device);
		pos += sg_dma_len(sg);
		if (pos >= at + len)
			break;
	}
}

/*
 * The device is done: unmap and free the table. No sync: the importer
 * synced what its device wrote (peermap_sync_range_for_cpu()) before it
 * let an invalidation or the unmap go on, and a sync now would copy a
 * bounce buffer's stale bytes over newer CPU writes, or into pages
 * already given back.
 */
void peermap_dma_pages_unmap(struct peermap_dma_pages *dp,
			     struct device *client)
{
	if (dp->mapped)
		dma_unmap_sgtable(client, &dp->sgt, dp->dir,
				  DMA_ATTR_SKIP_CPU_SYNC);
	dp->mapped = false;
	sg_free_table(&dp->sgt);
}
