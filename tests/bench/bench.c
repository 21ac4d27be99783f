// SPDX-License-Identifier: GPL-2.0
/*
 * pm-bench: the guest half of `make bench` (scripts/bench is the host
 * half). In one boot of a kernel with CONFIG_PCI_P2PDMA (Debian's `latest`,
 * or the debug kernel) it measures:
 *
 *   map       map+unmap time of a range for one importer (edu), 4 KiB up
 *             to the largest size both BARs hold: peermap (an object of
 *             the ivshmem exporter) vs upstream P2PDMA (the NVMe CMB's
 *             p2pmem, pinned with FOLL_PCI_P2PDMA, dma_map_sgtable) vs
 *             pinned RAM, and peermap on a RAM-only range (peermap-ram)
 *             against that plain pinning; segments vs scatterlist entries
 *   memory    kernel memory that makes the BAR usable for peers: driver
 *             unbound vs bound, read from /proc/meminfo and /proc/vmstat
 *   revoke    evict with 1, 16, 256, 1024 live importer mappings: the time
 *             from the start of the revoke until every importer has
 *             stopped, labelled with the route (bus address, or IOVA under
 *             a strict or lazy IOMMU)
 *   inval     a one-page mprotect() inside a registered 1 GiB range of
 *             device memory and RAM, against the same on a one-page
 *             registration: what an invalidation costs as the mapping grows
 *   tput      peermap map+unmap per second with 1 and 2 threads, 10 s
 *             each, sampled every second (min, median, max of the samples),
 *             and plain pinning of RAM the same way: how far this
 *             emulator lets a second thread go
 *
 *   busy      revoke while every importer is mid-transfer: pm_bench's busy
 *             importers, whose devices take a while to stop, with and
 *             without a stop callback
 *   devmem    a 64 MiB anonymous range with every other 64 KiB in the
 *             exporter's device-private pages (HMM), mapped on demand:
 *             peer to peer (peermap) vs upstream's path, which migrates
 *             the pages back to RAM (the same pages under an owner peermap
 *             does not know), vs the range all in RAM: time and bytes moved
 *
 *   pm-bench [BUDGET [revoke | busy | devmem | map [MAXLEN]]]: BUDGET
 *   seconds per map cell (3); "revoke" measures the revoke cells only
 *   (scripts/bench's IOMMU boots), "busy" the busy ones, "devmem" the
 *   devmem ones, "map" the map cells only, up to MAXLEN bytes (for
 *   iterating on the map path).
 *
 * Output: "csv,TABLE,..." lines (scripts/bench writes them to files) and
 * "#" comments. Map timing is done in the kernel (tests/kmod/pm_bench.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "peermap.h"
#include "pm_bench.h"

#define MIB		(1ULL << 20)
#define MAX_ITERS	64

static int bench_fd, edu;
static struct pm_bar bar;
static char client[32], nvme[32], p2pmem[128];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The first PCI device with a p2pmem pool: the NVMe CMB. */
static int find_p2pmem(void)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	char path[300];

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/p2pmem/allocate",
			 e->d_name);
		if (!access(path, F_OK) && strlen(e->d_name) < sizeof(nvme)) {
			memcpy(nvme, e->d_name, strlen(e->d_name) + 1);
			memcpy(p2pmem, path, strlen(path) + 1);
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	return -ENOENT;
}

static uint64_t read_u64(const char *path)
{
	unsigned long long v = 0;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* --- map+unmap -------------------------------------------------------- */

/*
 * The methods of the map cells: pm_bench.ko's, and peermap on a RAM-only
 * range (its PM_BENCH_PEERMAP on anonymous memory).
 */
#define M_PEERMAP_RAM	3
static const char *const method_name[] = { "peermap", "p2pdma", "ram", "peermap-ram" };

/* What pm_bench.ko is asked to do for a method. */
static int kernel_method(int method)
{
	return method == M_PEERMAP_RAM ? PM_BENCH_PEERMAP : method;
}

struct run {
	uint64_t map_ns[MAX_ITERS], unmap_ns[MAX_ITERS];
	unsigned int iters, segs, ents;
};

static int bench_map(int method, void *addr, uint64_t len, unsigned int iters,
		     struct run *r)
{
	struct pm_bench_map q = {
		.addr = (uintptr_t)addr, .len = len,
		.method = (uint32_t)kernel_method(method),
		.iters = iters, .map_ns = (uintptr_t)r->map_ns,
		.unmap_ns = (uintptr_t)r->unmap_ns,
	};

	memcpy(q.client, client, sizeof(q.client));
	if (ioctl(bench_fd, PM_BENCH_IOC_MAP, &q))
		return -errno;
	r->iters = iters;
	r->segs = q.segs;
	r->ents = q.ents;
	return 0;
}

/* A range of @len for @method: an object, p2pmem, or RAM. */
struct range {
	void *addr;
	uint64_t len;
	struct pm_obj obj;
	int fd;
};

static int range_get(int method, uint64_t len, struct range *g)
{
	int err;

	memset(g, 0, sizeof(*g));
	g->len = len;
	g->fd = -1;
	if (method == PM_BENCH_PEERMAP) {
		err = pm_obj_alloc(&bar, len, &g->obj);
		g->addr = g->obj.cpu;
		return err;
	}
	if (method == PM_BENCH_P2PDMA) {
		g->fd = open(p2pmem, O_RDWR);
		if (g->fd < 0)
			return -errno;
		g->addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
	} else {
		g->addr = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	}
	if (g->addr == MAP_FAILED) {
		err = -errno;
		g->addr = NULL;
		return err;
	}
	return 0;
}

static void range_put(struct range *g)
{
	if (g->obj.cpu)
		pm_obj_free(&g->obj);
	else if (g->addr)
		munmap(g->addr, g->len);
	if (g->fd >= 0)
		close(g->fd);
}

/*
 * Time one (method, size): a first map+unmap warms up and sizes the run
 * (about @budget seconds, 3 to MAX_ITERS iterations), then the run.
 */
static void map_cell(int method, uint64_t len, double budget,
		     const struct range *ram)
{
	uint64_t tot[MAX_ITERS];
	struct range g;
	struct run r;
	unsigned int i, n;
	double t;
	int err;

	/*
	 * ram and peermap-ram map the same pages (@ram): the cost of a RAM
	 * mapping goes with its scatterlist entries, that is with how
	 * contiguous the pages happen to be.
	 */
	if (ram) {
		g = *ram;
		err = 0;
	} else {
		err = range_get(method, len, &g);
	}
	if (!err) {
		t = now();
		err = bench_map(method, g.addr, len, 1, &r);
		t = now() - t;
	}
	if (err) {
		printf("# %s %llu bytes: %s\n", method_name[method],
		       (unsigned long long)len, strerror(-err));
		printf("csv,map,%s,%llu,0,,,,,,,,\n", method_name[method],
		       (unsigned long long)len);
		if (!ram)
			range_put(&g);
		return;
	}
	n = t > 0 ? (unsigned int)(budget / t) : MAX_ITERS;
	n = n < 3 ? 3 : n > MAX_ITERS ? MAX_ITERS : n;
	err = bench_map(method, g.addr, len, n, &r);
	if (!ram)
		range_put(&g);
	if (err) {
		printf("# %s %llu bytes, %u iterations: %s\n", method_name[method],
		       (unsigned long long)len, n, strerror(-err));
		return;
	}
	for (i = 0; i < n; i++)
		tot[i] = r.map_ns[i] + r.unmap_ns[i];
	qsort(tot, n, sizeof(tot[0]), cmp_u64);
	qsort(r.map_ns, n, sizeof(r.map_ns[0]), cmp_u64);
	qsort(r.unmap_ns, n, sizeof(r.unmap_ns[0]), cmp_u64);
	/* method,bytes,iters,median,min,max,p10,p90,map_median,unmap_median,segs,ents */
	printf("csv,map,%s,%llu,%u,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%u,%u\n",
	       method_name[method], (unsigned long long)len, n,
	       (unsigned long long)tot[n / 2], (unsigned long long)tot[0],
	       (unsigned long long)tot[n - 1], (unsigned long long)tot[n / 10],
	       (unsigned long long)tot[n - 1 - n / 10],
	       (unsigned long long)r.map_ns[n / 2], (unsigned long long)r.unmap_ns[n / 2],
	       r.segs, r.ents);
	fflush(stdout);
}

/* --- kernel memory that makes a BAR P2P-capable ------------------------ */

struct mem {
	uint64_t memtotal, memfree, slab, memmap;	/* KiB */
};

static struct mem mem_now(void)
{
	struct mem m = { 0 };
	char key[64];
	unsigned long long v;
	FILE *f;

	sync();
	f = fopen("/proc/sys/vm/drop_caches", "w");
	if (f) {
		fputs("3", f);
		fclose(f);
	}
	usleep(200000);
	f = fopen("/proc/meminfo", "r");
	while (f && fscanf(f, "%63s %llu kB\n", key, &v) == 2) {
		if (!strcmp(key, "MemTotal:"))
			m.memtotal = v;
		else if (!strcmp(key, "MemFree:"))
			m.memfree = v;
		else if (!strcmp(key, "Slab:"))
			m.slab = v;
	}
	if (f)
		fclose(f);
	f = fopen("/proc/vmstat", "r");
	while (f && fscanf(f, "%63s %llu\n", key, &v) == 2)
		if (!strcmp(key, "nr_memmap_pages"))
			m.memmap = v * (sysconf(_SC_PAGESIZE) / 1024);
	if (f)
		fclose(f);
	return m;
}

static int write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -errno;
	if (fputs(s, f) < 0)
		err = -EIO;
	if (fclose(f))
		err = -errno;
	return err;
}

/*
 * Unbind @dev from @drv, measure, bind it again, measure: what the driver
 * binding costs the kernel (for P2PDMA: the struct pages of the CMB).
 */
static void mem_cell(const char *what, const char *drv, const char *dev,
		     uint64_t bar_bytes)
{
	char path[128];
	struct mem a, b;
	int err;

	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/unbind", drv);
	err = write_str(path, dev);
	if (!err) {
		a = mem_now();
		snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/bind", drv);
		err = write_str(path, dev);
		sleep(1);
		b = mem_now();
	}
	if (err) {
		printf("# memory of %s (%s %s): %s\n", what, drv, dev, strerror(-err));
		return;
	}
	/* method,bar_bytes,memtotal_delta,memfree_delta,slab_delta,memmap_delta (KiB) */
	printf("csv,memory,%s,%llu,%lld,%lld,%lld,%lld\n", what,
	       (unsigned long long)bar_bytes,
	       (long long)(b.memtotal - a.memtotal), (long long)(a.memfree - b.memfree),
	       (long long)(b.slab - a.slab), (long long)(b.memmap - a.memmap));
	fflush(stdout);
}

/* --- revoke latency ------------------------------------------------------ */

/*
 * How edu reaches the exporter: "bus" (no IOMMU translating edu), or
 * "iova-strict" / "iova-lazy" as its IOMMU group's domain type says.
 */
static const char *route_label(void)
{
	char path[128], type[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group/type", client);
	f = fopen(path, "r");
	if (!f)
		return "bus";
	if (!fgets(type, sizeof(type), f))
		type[0] = 0;
	fclose(f);
	if (!strncmp(type, "DMA-FQ", 6))
		return "iova-lazy";
	if (!strncmp(type, "DMA", 3))
		return "iova-strict";
	return "bus";
}

/* Evict @o; *@ns: how long peermap_bar's revoke of its importers took. */
static int evict_timed(struct pm_obj *o, uint64_t *ns)
{
	struct peermap_bar_obj_info oi;
	int err = pm_obj_evict(o);

	if (!err)
		err = pm_obj_info(o, &oi);
	if (!err)
		*ns = oi.last_revoke_ns;
	return err;
}

static void revoke_cell(unsigned int nmaps, unsigned int samples)
{
	static uint64_t ids[1024];
	uint64_t ns[16];
	struct pm_obj o;
	unsigned int s, i, got = 0;
	int err = 0;

	if (pm_obj_alloc(&bar, 65536, &o)) {
		printf("# revoke: no object\n");
		return;
	}
	for (s = 0; s < samples && !err; s++) {
		for (i = 0; i < nmaps && !err; i++)
			err = pm_edu_register(edu, o.cpu, o.size, PEERMAP_ACCESS_READ,
					      0, &ids[i]);
		if (!err)
			err = evict_timed(&o, &ns[got]);
		got += !err;
		for (i = 0; i < nmaps; i++)
			pm_edu_unregister(edu, ids[i]);
		if (!err)
			err = pm_obj_restore(&o);
	}
	pm_obj_free(&o);
	if (err || !got) {
		printf("# revoke with %u mappings: %s\n", nmaps, strerror(-err));
		return;
	}
	qsort(ns, got, sizeof(ns[0]), cmp_u64);
	/* route,mappings,samples,median,min,max */
	printf("csv,revoke,%s,%u,%u,%llu,%llu,%llu\n", route_label(), nmaps, got,
	       (unsigned long long)ns[got / 2], (unsigned long long)ns[0],
	       (unsigned long long)ns[got - 1]);
	fflush(stdout);
}

/*
 * Revoke while every importer is mid-transfer: @nmaps mappings of
 * pm_bench's busy importer, each taking @drain_us to stop once told, with
 * (@stop) and without a stop callback; the object is evicted and
 * peermap_bar times the revoke. Told one by one and waited for one by
 * one, the drains add up; told first and waited for together, the revoke
 * lasts about one drain.
 */
static void busy_cell(unsigned int nmaps, unsigned int drain_us, int stop,
		      unsigned int samples)
{
	struct pm_bench_busy q = { .nmaps = nmaps, .drain_us = drain_us, .stop = stop };
	struct pm_bench_busy e;
	unsigned int s, got = 0, inval = 0;
	uint64_t ns[16];
	struct pm_obj o;
	int err = 0;

	if (pm_obj_alloc(&bar, 65536, &o)) {
		printf("# revoke busy: no object\n");
		return;
	}
	q.addr = (uintptr_t)o.cpu;
	q.len = o.size;
	memcpy(q.client, client, sizeof(q.client));
	for (s = 0; s < samples && s < 16 && !err; s++) {
		if (ioctl(bench_fd, PM_BENCH_IOC_BUSY, &q))
			err = -errno;
		if (!err)
			err = evict_timed(&o, &ns[got]);
		got += !err;
		memset(&e, 0, sizeof(e));
		if (!ioctl(bench_fd, PM_BENCH_IOC_BUSY_END, &e))
			inval = e.invalidated;
		if (!err)
			err = pm_obj_restore(&o);
	}
	pm_obj_free(&o);
	if (err || !got) {
		printf("# revoke busy %u: %s\n", nmaps, strerror(-err));
		return;
	}
	qsort(ns, got, sizeof(ns[0]), cmp_u64);
	/* importer,mappings,drain_us,samples,median,min,max,invalidated */
	printf("csv,busy,%s,%u,%u,%u,%llu,%llu,%llu,%u\n", stop ? "stop+wait" : "wait",
	       nmaps, drain_us, got, (unsigned long long)ns[got / 2],
	       (unsigned long long)ns[0], (unsigned long long)ns[got - 1], inval);
	fflush(stdout);
}

/* 16 importers draining 2 ms each, and 64 draining 0.5 ms: both ways. */
static void busy_cells(void)
{
	int stop;

	for (stop = 0; stop <= 1; stop++) {
		busy_cell(16, 2000, stop, 5);
		busy_cell(64, 500, stop, 5);
	}
}

/* --- invalidation cost of a one-page change --------------------------- */

/*
 * Register [addr, addr + len) with edu, then time @samples one-page
 * mprotect(PROT_READ)s at @page, each on a valid registration (a one-byte
 * copy out of it resolves it again first, untimed): the mmu notifier, the
 * importer's callback and the teardown of what the registration holds.
 */
static int inval_time(void *addr, uint64_t len, unsigned char *page,
		      unsigned int samples, uint64_t *med, uint64_t *remap_med)
{
	uint64_t ns[16], rns[16], id;
	unsigned char byte;
	unsigned int i;
	double t;
	int err;

	if (samples > sizeof(ns) / sizeof(ns[0]))
		samples = sizeof(ns) / sizeof(ns[0]);
	err = pm_edu_register(edu, addr, len, PEERMAP_ACCESS_READ, 0, &id);
	if (err)
		return err;
	for (i = 0; i < samples && !err; i++) {
		/* After the first: resolving again what the mprotect changed. */
		t = now();
		err = pm_edu_copy(edu, &byte, page, 1);
		rns[i] = (uint64_t)((now() - t) * 1e9);
		if (err)
			break;
		t = now();
		if (mprotect(page, 4096, PROT_READ))
			err = -errno;
		ns[i] = (uint64_t)((now() - t) * 1e9);
		if (mprotect(page, 4096, PROT_READ | PROT_WRITE))
			err = err ? err : -errno;
	}
	pm_edu_unregister(edu, id);
	if (err)
		return err;
	qsort(ns, samples, sizeof(ns[0]), cmp_u64);
	*med = ns[samples / 2];
	/* the first copy resolved the whole range: not a remap */
	qsort(rns + 1, samples - 1, sizeof(rns[0]), cmp_u64);
	*remap_med = rns[1 + (samples - 1) / 2];
	return 0;
}

/*
 * A 1 GiB range, half an object of the exporter and half RAM (one VMA
 * each), against a one-page RAM registration: the one-page mprotect in
 * the RAM half costs what, with the range registered whole.
 */
static void inval_cell(uint64_t half, unsigned int samples)
{
	uint64_t big = 0, small = 0, big_remap = 0, small_remap = 0;
	unsigned char *r, *one;
	struct pm_obj o;
	int err;

	if (pm_obj_alloc(&bar, half, &o)) {
		printf("# inval: no object of %llu MiB\n", (unsigned long long)(half / MIB));
		return;
	}
	r = mmap(NULL, 2 * half, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	one = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	err = r == MAP_FAILED || one == MAP_FAILED ? -ENOMEM : 0;
	if (!err && (mmap(r, half, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			  bar.fd, (off_t)o.mmap_offset) == MAP_FAILED ||
		     mmap(r + half, half, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE,
			  -1, 0) == MAP_FAILED))
		err = -errno;
	if (!err)
		err = inval_time(r, 2 * half, r + half + half / 2, samples, &big,
				 &big_remap);
	if (!err)
		err = inval_time(one, 4096, one, samples, &small, &small_remap);
	if (err)
		printf("# inval: %s\n", strerror(-err));
	else
		/* range_bytes,samples,range_median_ns,page_median_ns,
		 * range_remap_median_ns,page_remap_median_ns
		 */
		printf("csv,inval,%llu,%u,%llu,%llu,%llu,%llu\n",
		       (unsigned long long)(2 * half), samples,
		       (unsigned long long)big, (unsigned long long)small,
		       (unsigned long long)big_remap, (unsigned long long)small_remap);
	fflush(stdout);
	if (r != MAP_FAILED)
		munmap(r, 2 * half);
	if (one != MAP_FAILED)
		munmap(one, 4096);
	pm_obj_free(&o);
}

/* --- device-private memory ----------------------------------------------- */

#define DEVMEM_RANGE	(64 * MIB)
#define DEVMEM_BLOCK	(64 * 1024)

/*
 * One on-demand map+unmap of [p, p + len), timed in the kernel, after
 * moving @mask's pages into device memory again (untimed); the bytes of
 * device memory it made migrate back, from the exporter's counters.
 */
static int devmem_sample(unsigned char *p, uint64_t len, const uint64_t *mask,
			 uint64_t *map_ns, uint64_t *moved, unsigned int *segs)
{
	struct peermap_bar_devmem d = {
		.op = PEERMAP_DEVMEM_MIGRATE, .addr = (uintptr_t)p, .len = len,
		.mask = (uintptr_t)mask,
	};
	uint64_t unmap_ns, before;
	struct pm_bench_map q = {
		.addr = (uintptr_t)p, .len = len, .method = PM_BENCH_PEERMAP_ONDEMAND,
		.iters = 1, .map_ns = (uintptr_t)map_ns, .unmap_ns = (uintptr_t)&unmap_ns,
	};
	int err;

	*moved = 0;
	if (mask) {	/* the range all in RAM has no device memory */
		if ((err = pm_bar_devmem(&bar, &d)))
			return err;
		d.op = PEERMAP_DEVMEM_INFO;
		if ((err = pm_bar_devmem(&bar, &d)))
			return err;
	}
	before = d.migrated_out;
	memcpy(q.client, client, sizeof(q.client));
	if (ioctl(bench_fd, PM_BENCH_IOC_MAP, &q))
		return -errno;
	if (mask && (err = pm_bar_devmem(&bar, &d)))
		return err;
	if (mask)
		*moved = (d.migrated_out - before) * 4096;
	*segs = q.segs;
	return 0;
}

/* @samples of one way of mapping the range: "csv,devmem,..." */
static void devmem_way(const char *way, unsigned int flags, unsigned char *p,
		       const uint64_t *mask, unsigned int samples)
{
	struct peermap_bar_devmem d = { .op = PEERMAP_DEVMEM_RELEASE };
	uint64_t ns[16], moved = 0, m = 0;
	unsigned int i, segs = 0;
	int err = 0;

	pm_bar_devmem(&bar, &d);
	d = (struct peermap_bar_devmem){ .op = PEERMAP_DEVMEM_SETUP,
					 .size = DEVMEM_RANGE, .flags = flags };
	if (mask)
		err = pm_bar_devmem(&bar, &d);
	for (i = 0; !err && i < samples; i++) {
		err = devmem_sample(p, DEVMEM_RANGE, mask, &ns[i], &m, &segs);
		moved += m;
	}
	if (err) {
		printf("# devmem %s: %s\n", way, strerror(-err));
		return;
	}
	qsort(ns, samples, sizeof(ns[0]), cmp_u64);
	/* way,range_bytes,device_bytes,samples,median_ns,min_ns,max_ns,
	 * moved_bytes_per_map,segments
	 */
	printf("csv,devmem,%s,%llu,%llu,%u,%llu,%llu,%llu,%llu,%u\n", way,
	       (unsigned long long)DEVMEM_RANGE,
	       (unsigned long long)(mask ? DEVMEM_RANGE / 2 : 0), samples,
	       (unsigned long long)ns[samples / 2], (unsigned long long)ns[0],
	       (unsigned long long)ns[samples - 1],
	       (unsigned long long)(moved / samples), segs);
	d.op = PEERMAP_DEVMEM_RELEASE;
	pm_bar_devmem(&bar, &d);
}

static void devmem_cells(unsigned int samples)
{
	unsigned char *p = mmap(NULL, DEVMEM_RANGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	size_t pages = DEVMEM_RANGE / 4096, i;
	uint64_t *mask = calloc(pages / 64, sizeof(*mask));

	if (p == MAP_FAILED || !mask) {
		printf("# devmem: no memory\n");
		return;
	}
	for (i = 0; i < pages; i++)
		if ((i * 4096 / DEVMEM_BLOCK) & 1)
			mask[i / 64] |= 1ULL << (i % 64);
	memset(p, 0x5a, DEVMEM_RANGE);
	devmem_way("ram", 0, p, NULL, samples);
	devmem_way("peermap", 0, p, mask, samples);
	devmem_way("migrate-back", PEERMAP_DEVMEM_FOREIGN, p, mask, samples);
	munmap(p, DEVMEM_RANGE);
	free(mask);
}

/* --- throughput ---------------------------------------------------------- */

struct tput {
	pthread_t t;
	volatile int *stop;
	int method;		/* PM_BENCH_PEERMAP or PM_BENCH_RAM */
	unsigned long maps;	/* read by the sampler: atomics */
	int err;
};

/*
 * peermap: a 1 MiB object of the thread's own; ram, the emulator's own
 * ceiling for comparison: plain pinning of 4 KiB of the thread's own RAM
 * (about as long per map as peermap's).
 */
static void *tput_thread(void *arg)
{
	struct tput *tp = arg;
	uint64_t len = tp->method == PM_BENCH_RAM ? 4096 : MIB;
	struct run *r = malloc(sizeof(*r));
	struct range g;

	if (!r || range_get(tp->method, len, &g)) {
		tp->err = -ENOMEM;
		free(r);
		return NULL;
	}
	while (!*tp->stop && !tp->err) {
		tp->err = bench_map(tp->method, g.addr, len, 16, r);
		if (!tp->err)
			__atomic_fetch_add(&tp->maps, 16, __ATOMIC_RELAXED);
	}
	range_put(&g);
	free(r);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* @threads mapping for @seconds; the rate of every second, for the spread. */
static void tput_cell(int method, int threads, int seconds)
{
	volatile int stop = 0;
	struct tput tp[2] = { { .stop = &stop, .method = method },
			      { .stop = &stop, .method = method } };
	double rate[64], t0, t, prev_t;
	unsigned long maps = 0, prev = 0, cur;
	int i, n = 0;

	t0 = prev_t = now();
	for (i = 0; i < threads; i++)
		pthread_create(&tp[i].t, NULL, tput_thread, &tp[i]);
	while (n < seconds && n < 64) {
		sleep(1);
		t = now();
		for (cur = 0, i = 0; i < threads; i++)
			cur += __atomic_load_n(&tp[i].maps, __ATOMIC_RELAXED);
		/* the first second holds the threads' start-up: left out */
		if (t - t0 > 1.5)
			rate[n++] = (cur - prev) / (t - prev_t);
		prev = cur;
		prev_t = t;
	}
	stop = 1;
	for (i = 0; i < threads; i++) {
		pthread_join(tp[i].t, NULL);
		maps += tp[i].maps;
		if (tp[i].err)
			printf("# throughput thread %d: %s\n", i, strerror(-tp[i].err));
	}
	t = now() - t0;
	qsort(rate, n, sizeof(rate[0]), cmp_double);
	/* method,threads,seconds,maps,maps_per_s,min_per_s,median_per_s,max_per_s */
	printf("csv,tput,%s,%d,%.2f,%lu,%.0f,%.0f,%.0f,%.0f\n", method_name[method],
	       threads, t, maps, maps / t,
	       n ? rate[0] : 0, n ? rate[n / 2] : 0, n ? rate[n - 1] : 0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	double budget = argc > 1 ? atof(argv[1]) : 3.0;
	int revoke_only = argc > 2 && !strcmp(argv[2], "revoke");
	/* "map [MAXLEN]": the map cells alone, up to MAXLEN bytes (iterating) */
	int map_only = argc > 2 && !strcmp(argv[2], "map");
	uint64_t map_max = map_only && argc > 3 ? strtoull(argv[3], NULL, 0) : 0;
	uint64_t max, len, cmb, max_bar;
	struct utsname u;
	int m, err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_fd = open("/dev/pm-bench", O_RDWR);
	edu = pm_edu_open(0);
	err = pm_bar_open(0, &bar);
	if (bench_fd < 0 || edu < 0 || err ||
	    pm_node_pci_name("peermap-edu0", client, sizeof(client))) {
		printf("# bench: /dev/pm-bench, /dev/peermap-edu0 or /dev/peermap-bar0 missing\n");
		return 1;
	}
	if (find_p2pmem())
		printf("# bench: no p2pmem device (NVMe CMB): P2PDMA not measured\n");
	if (*nvme) {
		char path[128];

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/p2pmem/size", nvme);
		cmb = read_u64(path);
	} else {
		cmb = 0;
	}
	max = max_bar = bar.info.bar_size;
	if (cmb && cmb < max)
		max = cmb;
	if (map_max && map_max < max)
		max = map_max;
	printf("# client %s; peermap: %s BAR%u %llu MiB; p2pdma: %s p2pmem %llu MiB\n",
	       client, bar.info.pci_name, bar.info.bar_index,
	       (unsigned long long)(bar.info.bar_size / MIB), *nvme ? nvme : "none",
	       (unsigned long long)(cmb / MIB));
	uname(&u);
	printf("csv,info,%s,%s,%s,%llu,%llu,%ld,%s\n", client, bar.info.pci_name,
	       *nvme ? nvme : "none", (unsigned long long)bar.info.bar_size,
	       (unsigned long long)cmb, sysconf(_SC_NPROCESSORS_ONLN), u.release);

	if (revoke_only) {
		revoke_cell(1, 7);
		revoke_cell(16, 7);
		revoke_cell(256, 5);
		revoke_cell(1024, 3);
		return 0;
	}
	if (argc > 2 && !strcmp(argv[2], "busy")) {
		busy_cells();
		return 0;
	}
	if (argc > 2 && !strcmp(argv[2], "devmem")) {
		devmem_cells(5);
		return 0;
	}
	for (len = 4096; len <= max; len *= 16) {
		struct range ram = { .fd = -1 };

		for (m = PM_BENCH_PEERMAP; m <= M_PEERMAP_RAM; m++) {
			if (m == PM_BENCH_P2PDMA && !*nvme)
				continue;
			if (m == PM_BENCH_RAM && range_get(m, len, &ram))
				ram.addr = NULL;	/* each cell says why */
			map_cell(m, len, budget,
				 m >= PM_BENCH_RAM && ram.addr ? &ram : NULL);
		}
		if (ram.addr)
			range_put(&ram);
		if (len * 16 > max && len != max)
			len = max / 16;		/* end on the largest size */
	}
	if (map_only)
		return 0;

	revoke_cell(1, 7);
	revoke_cell(16, 7);
	revoke_cell(256, 5);
	revoke_cell(1024, 3);
	busy_cells();

	inval_cell(max_bar / 2 < 512 * MIB ? max_bar / 2 : 512 * MIB, 11);

	tput_cell(PM_BENCH_PEERMAP, 1, 10);
	tput_cell(PM_BENCH_PEERMAP, 2, 10);
	tput_cell(PM_BENCH_RAM, 1, 10);
	tput_cell(PM_BENCH_RAM, 2, 10);

	devmem_cells(5);

	/* Last: unbinding takes the devices away. */
	pm_bar_close(&bar);
	close(edu);

	mem_cell("peermap", "peermap_bar", bar.info.pci_name, max_bar);
	if (*nvme)
		mem_cell("p2pdma", "nvme", nvme, cmb);
	return 0;
}
