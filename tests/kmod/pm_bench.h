/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Test-only ABI of pm_bench.ko (/dev/pm-bench), shared with the guest
 * benchmark program (tests/bench/bench.c). Never part of the product.
 */
#ifndef _PM_BENCH_H
#define _PM_BENCH_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define PM_BENCH_PEERMAP	0	/* peermap_map() + peermap_unmap() */
#define PM_BENCH_P2PDMA		1	/* pin (FOLL_PCI_P2PDMA) + dma_map_sgtable */
#define PM_BENCH_RAM		2	/* pin (FOLL_LONGTERM) + dma_map_sgtable */
/* peermap_map() on demand: hmm_range_fault(), device-private pages */
#define PM_BENCH_PEERMAP_ONDEMAND 3

/*
 * Map [addr, addr + len) of the caller for the client device and unmap it
 * again, @iters times, timing each half with ktime_get_ns().
 */
struct pm_bench_map {
	__u64 addr;		/* in */
	__u64 len;		/* in */
	__u32 method;		/* in: PM_BENCH_* */
	__u32 iters;		/* in: 1..4096 */
	__u64 map_ns;		/* in: pointer to __u64[iters], map times */
	__u64 unmap_ns;		/* in: pointer to __u64[iters], unmap times */
	__u32 segs;		/* out: DMA segments of the last mapping */
	__u32 ents;		/* out: CPU scatterlist entries (peermap: segs) */
	char client[32];	/* in: the client's PCI name */
};

#define PM_BENCH_IOC_MAP	_IOWR(0xb8, 0x01, struct pm_bench_map)

/*
 * Busy importers: @nmaps mappings of [addr, addr + len) for the client,
 * each with a transfer in flight that takes @drain_us to stop once told
 * to (as a queue pair moved to the error state drains). With @stop the
 * importer has a stop callback (posts the stop, returns) and its
 * invalidate waits for the drain; without, invalidate posts the stop and
 * waits. The mappings live until PM_BENCH_IOC_BUSY_END, which says how
 * many were invalidated.
 */
struct pm_bench_busy {
	__u64 addr;		/* in */
	__u64 len;		/* in */
	__u32 nmaps;		/* in: 1..PM_BENCH_BUSY_MAX */
	__u32 drain_us;		/* in: 0..100000 */
	__u32 stop;		/* in: 1: the importer has a stop callback */
	__u32 invalidated;	/* out of BUSY_END: invalidate callbacks run */
	char client[32];	/* in: the client's PCI name */
};

#define PM_BENCH_BUSY_MAX	1024

#define PM_BENCH_IOC_BUSY	_IOW(0xb8, 0x02, struct pm_bench_busy)
#define PM_BENCH_IOC_BUSY_END	_IOR(0xb8, 0x03, struct pm_bench_busy)

#endif /* _PM_BENCH_H */
