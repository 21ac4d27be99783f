// SPDX-License-Identifier: GPL-2.0
/*
 * In-guest tests of HMM device-private memory mapped peer to peer: one
 * ordinary anonymous VMA holds a mix of RAM pages and pages that the
 * exporter (peermap_bar's devmem mode, PEERMAP_BAR_IOC_DEVMEM) migrated
 * into its BAR. On-demand mappings give those pages as PEER segments at
 * their BAR address, where upstream would migrate them back to RAM; a
 * CPU touch, an eviction, fork() or munmap() invalidates the mapping
 * first, and the next use finds RAM. Pages the core may not map peer to
 * peer (another driver's, a refused client's, read-only ones written,
 * those of a pinned range) are migrated back, and the counters and the
 * peermap_devmem_migrate tracepoint say so.
 *
 * Needs CONFIG_DEVICE_PRIVATE (Debian's 7.x, the debug kernel); skips
 * elsewhere. Budget: PM_STRESS_SECONDS (default 5) for the race.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "peermap.h"
#include "util.h"

#define STRESS_SECONDS	pm_env_seconds("PM_STRESS_SECONDS", 5)
#define DEVMEM_SIZE	(16UL << 20)
#define MIB		(1UL << 20)
#define RW		(PEERMAP_ACCESS_READ | PEERMAP_ACCESS_WRITE)
#define SMALL		(16 * PAGE)	/* the range of the smaller tests */

FIXTURE(devmem) {
	struct pm_bar bar;
	int edu;
	bool lent;
};

static int devmem_op(struct pm_bar *bar, unsigned int op, struct peermap_bar_devmem *d)
{
	d->op = op;
	return pm_bar_devmem(bar, d);
}

static int lend(struct pm_bar *bar, unsigned int flags)
{
	struct peermap_bar_devmem d = { .size = DEVMEM_SIZE, .flags = flags };

	devmem_op(bar, PEERMAP_DEVMEM_RELEASE, &d);	/* a leftover */
	return devmem_op(bar, PEERMAP_DEVMEM_SETUP, &d);
}

FIXTURE_SETUP(devmem)
{
	struct peermap_bar_devmem d = { 0 };
	int err;

	pm_open_devices(_metadata, &self->bar, &self->edu);
	err = lend(&self->bar, 0);
	if (err == -EOPNOTSUPP)
		SKIP(return, "this kernel has no CONFIG_DEVICE_PRIVATE (Debian's 7.x has: `latest`)");
	ASSERT_EQ(0, err) TH_LOG("devmem setup: %s", strerror(-err));
	self->lent = true;
	ASSERT_EQ(0, devmem_op(&self->bar, PEERMAP_DEVMEM_INFO, &d));
	TH_LOG("%llu device pages at BAR +%#llx, their struct pages cost %llu KiB",
	       (unsigned long long)d.pages, (unsigned long long)d.bar_offset,
	       (unsigned long long)d.struct_page_bytes >> 10);
}

FIXTURE_TEARDOWN(devmem)
{
	struct peermap_bar_devmem d = { 0 };

	if (self->lent && devmem_op(&self->bar, PEERMAP_DEVMEM_RELEASE, &d))
		TH_LOG("teardown: devmem release failed");
	close(self->edu);
	pm_bar_close(&self->bar);
}

/* --- helpers ------------------------------------------------------------- */

/* Move the pages of [p, p + len) that @mask picks (NULL: all) in; how many moved. */
static long migrate_in(struct pm_bar *bar, void *p, size_t len, const uint64_t *mask)
{
	struct peermap_bar_devmem d = {
		.addr = (uintptr_t)p, .len = len, .mask = (uintptr_t)mask,
	};
	int err = devmem_op(bar, PEERMAP_DEVMEM_MIGRATE, &d);

	return err ? err : (long)d.done;
}

static struct peermap_bar_devmem counters(struct pm_bar *bar)
{
	struct peermap_bar_devmem d = { 0 };

	devmem_op(bar, PEERMAP_DEVMEM_INFO, &d);
	return d;
}

/* A bit per page: every other page (odd ones), or a random half. */
static uint64_t *mask_of(size_t pages, bool random, unsigned int seed)
{
	uint64_t *m = calloc((pages + 63) / 64, sizeof(*m));
	size_t i;

	srand(seed);
	for (i = 0; m && i < pages; i++)
		if (random ? rand() & 1 : i & 1)
			m[i / 64] |= 1ULL << (i % 64);
	return m;
}

static bool bit(const uint64_t *m, size_t i)
{
	return m[i / 64] >> (i % 64) & 1;
}

/*
 * The on-demand segments of [p, p + len) must say PEER exactly where
 * @mask (NULL: nowhere) has device pages, RAM elsewhere, merged by run.
 */
static void expect_segments(struct __test_metadata *_metadata, int edu, void *p,
			    size_t len, const uint64_t *mask)
{
	size_t pages = len / PAGE, i, s = 0, runs = 0, pos = 0;
	struct peermap_seg *segs;
	unsigned int n;
	int err;

	err = pm_edu_segments(edu, p, len, PEERMAP_ACCESS_READ | PEERMAP_EDU_SEGS_ONDEMAND,
			      &segs, &n);
	ASSERT_EQ(0, err) TH_LOG("segments: %s", strerror(-err));
	for (i = 0; i < pages; i++)
		if (!i || (mask && bit(mask, i)) != (mask && bit(mask, i - 1)))
			runs++;
	for (i = 0; i < n && i < 6; i++)
		TH_LOG("seg %zu: %s %#llx %llu bytes", i,
		       segs[i].flags & PEERMAP_SEG_PEER ? "PEER" : "RAM ",
		       (unsigned long long)segs[i].addr, (unsigned long long)segs[i].len);
	/* Every segment lies in one run, and has that run's kind. */
	for (s = 0; s < n; pos += segs[s].len, s++) {
		bool dev = mask && bit(mask, pos / PAGE);

		EXPECT_EQ(dev, !!(segs[s].flags & PEERMAP_SEG_PEER))
			TH_LOG("segment %zu at byte %zu: flags %#x", s, pos, segs[s].flags);
		if (dev != !!(segs[s].flags & PEERMAP_SEG_PEER))
			break;
	}
	EXPECT_EQ(len, pos);
	/* RAM runs may split where pages are not contiguous; device runs not. */
	EXPECT_LE(runs, n);
	TH_LOG("%u segments for %zu runs of RAM and device pages", n, runs);
	free(segs);
}

static struct peermap_edu_reg_info reg_info(struct __test_metadata *_metadata, int edu,
					    uint64_t id)
{
	struct peermap_edu_reg_info info = { 0 };

	EXPECT_EQ(0, pm_edu_reg_info(edu, id, &info));
	return info;
}

/* 16 pages filled with @seed, all moved into device memory; or NULL. */
static unsigned char *device_range(struct pm_bar *bar, unsigned int seed)
{
	unsigned char *p = ram(SMALL);

	if (!p)
		return NULL;
	fill(p, SMALL, seed);
	if (migrate_in(bar, p, SMALL, NULL) != SMALL / PAGE) {
		munmap(p, SMALL);
		return NULL;
	}
	return p;
}

/* Registration @id is valid and holds RAM: its device bytes migrated back. */
static void expect_migrated_back(struct __test_metadata *_metadata, int edu, uint64_t id)
{
	struct peermap_edu_reg_info info = reg_info(_metadata, edu, id);

	EXPECT_TRUE(info.valid && !info.devmem_bytes && info.migrated_bytes == SMALL)
		TH_LOG("valid %u, %llu device bytes, %llu migrated back", info.valid,
		       (unsigned long long)info.devmem_bytes,
		       (unsigned long long)info.migrated_bytes);
}

/*
 * The mixed range's size: 1 MiB where the topology says so
 * (TOPO_TEST_DEVMEM_MIXED, switch: three 1 MiB copies cost the debug
 * kernel about 4 minutes), 64 KiB elsewhere.
 */
static size_t mixed_len(void)
{
	char buf[32];
	uint64_t v;

	if (*pm_topo("TEST_DEVMEM_MIXED", buf, sizeof(buf)) &&
	    !pm_parse_size(buf, &v) && v >= 2 * PAGE && !(v % PAGE))
		return v;
	return 16 * PAGE;
}

/*
 * A range with @mask's pages in device memory, copied by the engine to a
 * peermap object, from one, and to RAM, bytes checked; the device pages
 * stay where they are until the CPU reads them at the end.
 */
static void mixed_copies(struct __test_metadata *_metadata,
			 FIXTURE_DATA(devmem) *self, bool random)
{
	size_t len = mixed_len(), pages = len / PAGE, ndev = 0, i;
	uint64_t *mask = mask_of(pages, random, 17);
	unsigned char *p = ram(len), *r = ram(len);
	struct peermap_edu_reg_info info;
	struct peermap_bar_devmem d;
	struct pm_obj o;
	uint64_t id;
	long moved;
	int err;

	ASSERT_TRUE(mask && p && r) TH_LOG("memory");
	TH_LOG("a %zu KiB range", len >> 10);
	for (i = 0; i < pages; i++)
		ndev += bit(mask, i);
	fill(p, len, 1);
	moved = migrate_in(&self->bar, p, len, mask);
	ASSERT_EQ((long)ndev, moved) TH_LOG("pages moved into device memory");
	expect_segments(_metadata, self->edu, p, len, mask);

	/* mixed range -> object, through an on-demand registration */
	ASSERT_EQ(0, pm_obj_alloc(&self->bar, len, &o));
	ASSERT_EQ(0, pm_edu_register(self->edu, p, len, RW, PEERMAP_MAP_ONDEMAND, &id));
	info = reg_info(_metadata, self->edu, id);
	EXPECT_EQ(ndev * PAGE, info.devmem_bytes) TH_LOG("bytes mapped peer to peer");
	EXPECT_EQ(0, info.migrated_bytes) TH_LOG("nothing migrated back");
	err = pm_edu_copy(self->edu, o.cpu, p, len);
	ASSERT_EQ(0, err) TH_LOG("copy mixed -> object: %s", strerror(-err));
	EXPECT_EQ(0, differ(o.cpu, len, 1)) TH_LOG("object bytes");

	/* object -> mixed range: the engine writes the BAR pages */
	fill(o.cpu, len, 2);
	err = pm_edu_copy(self->edu, p, o.cpu, len);
	ASSERT_EQ(0, err) TH_LOG("copy object -> mixed: %s", strerror(-err));
	d = counters(&self->bar);
	EXPECT_EQ(0, d.migrated_out) TH_LOG("no device page went back to RAM for the copies");
	EXPECT_EQ(ndev, d.used);

	/* mixed range -> RAM, on demand, no registration */
	err = pm_edu_copy_flags(self->edu, r, p, len, PEERMAP_MAP_ONDEMAND);
	ASSERT_EQ(0, err) TH_LOG("copy mixed -> RAM: %s", strerror(-err));
	EXPECT_EQ(0, differ(r, len, 2)) TH_LOG("RAM bytes");
	EXPECT_EQ(0, counters(&self->bar).migrated_out);

	/* The CPU reads it all: device pages migrate back, bytes intact. */
	EXPECT_EQ(0, differ(p, len, 2)) TH_LOG("the range's bytes, read by the CPU");
	d = counters(&self->bar);
	EXPECT_EQ(ndev, d.migrated_out) TH_LOG("CPU touches migrated them back");
	EXPECT_EQ(0, d.used);
	info = reg_info(_metadata, self->edu, id);
	EXPECT_FALSE(info.valid) TH_LOG("the CPU touch invalidated the registration");
	EXPECT_EQ(PEERMAP_INVAL_CHANGE, info.last_reason);
	pm_edu_unregister(self->edu, id);
	pm_obj_free(&o);
	munmap(p, len);
	munmap(r, len);
	free(mask);
}

/* --- tests --------------------------------------------------------------- */

/* Three 1 MiB copies: about 150 s of the engine's (guest) time. */
#define COPIES_TIMEOUT	(TEST_TIMEOUT_DEFAULT + 300)

TEST_F_TIMEOUT(devmem, every_other_page_copied_peer_to_peer, COPIES_TIMEOUT)
{
	mixed_copies(_metadata, self, false);
}

TEST_F_TIMEOUT(devmem, random_pages_copied_peer_to_peer, COPIES_TIMEOUT)
{
	mixed_copies(_metadata, self, true);
}

TEST_F(devmem, cpu_touch_invalidates_and_next_copy_sees_ram)
{
	size_t len = SMALL;
	unsigned char *p = device_range(&self->bar, 3);
	struct peermap_edu_reg_info info;
	struct pm_obj o;
	uint64_t id;

	ASSERT_TRUE(p);
	ASSERT_EQ(0, pm_obj_alloc(&self->bar, len, &o));
	ASSERT_EQ(0, pm_edu_register(self->edu, p, len, PEERMAP_ACCESS_READ,
				     PEERMAP_MAP_ONDEMAND, &id));
	info = reg_info(_metadata, self->edu, id);
	EXPECT_TRUE(info.valid && info.devmem_bytes == len && info.nsegs == 1)
		TH_LOG("valid %u, %llu device bytes in %u segments", info.valid,
		       (unsigned long long)info.devmem_bytes, info.nsegs);
	/* A CPU touch of one page, during the registration. */
	EXPECT_EQ(p[5 * PAGE], pat(3, 5 * PAGE));
	info = reg_info(_metadata, self->edu, id);
	EXPECT_FALSE(info.valid) TH_LOG("not invalidated by the page's migration");
	EXPECT_EQ(PEERMAP_INVAL_CHANGE, info.last_reason);
	EXPECT_EQ(1, counters(&self->bar).migrated_out);
	/* The next copy resolves it again: that page is RAM now. */
	ASSERT_EQ(0, pm_edu_copy(self->edu, o.cpu, p, len));
	EXPECT_EQ(0, differ(o.cpu, len, 3));
	info = reg_info(_metadata, self->edu, id);
	EXPECT_TRUE(info.valid && info.devmem_bytes == len - PAGE && info.nsegs >= 3)
		TH_LOG("valid %u, %llu device bytes in %u segments", info.valid,
		       (unsigned long long)info.devmem_bytes, info.nsegs);
	pm_edu_unregister(self->edu, id);
	pm_obj_free(&o);
	munmap(p, len);
}

TEST_F(devmem, evict_invalidates_and_next_copy_sees_ram)
{
	size_t len = SMALL;
	unsigned char *p = device_range(&self->bar, 4);
	struct peermap_edu_reg_info info;
	struct peermap_bar_devmem d = { 0 };
	struct pm_obj o;
	uint64_t id;

	ASSERT_TRUE(p);
	ASSERT_EQ(0, pm_obj_alloc(&self->bar, len, &o));
	ASSERT_EQ(0, pm_edu_register(self->edu, p, len, PEERMAP_ACCESS_READ,
				     PEERMAP_MAP_ONDEMAND, &id));
	ASSERT_EQ(0, pm_edu_copy(self->edu, o.cpu, p, len));
	EXPECT_EQ(0, differ(o.cpu, len, 4));
	EXPECT_EQ(len, reg_info(_metadata, self->edu, id).devmem_bytes);
	ASSERT_EQ(0, devmem_op(&self->bar, PEERMAP_DEVMEM_EVICT, &d));
	EXPECT_EQ(16, d.done) TH_LOG("pages evicted");
	info = reg_info(_metadata, self->edu, id);
	EXPECT_FALSE(info.valid) TH_LOG("eviction did not invalidate");
	memset(o.cpu, 0, len);
	ASSERT_EQ(0, pm_edu_copy(self->edu, o.cpu, p, len));
	EXPECT_EQ(0, differ(o.cpu, len, 4));
	info = reg_info(_metadata, self->edu, id);
	EXPECT_TRUE(info.valid && !info.devmem_bytes) TH_LOG("all RAM after the eviction");
	expect_segments(_metadata, self->edu, p, len, NULL);
	pm_edu_unregister(self->edu, id);
	pm_obj_free(&o);
	munmap(p, len);
}

/*
 * fork(): the device pages become read-only COW pages of both processes,
 * and the parent's write registration is invalidated. Resolving it again
 * migrates them back (a device may not write a shared page: "read-only");
 * the engine's writes then land in the parent's own pages, not in the
 * child's, which still reads its bytes; its exit frees what it held.
 */
TEST_F(devmem, fork_cow_then_exit)
{
	size_t len = SMALL;
	unsigned char *p = device_range(&self->bar, 5);
	struct peermap_edu_reg_info info;
	int go[2], st;
	struct pm_obj o;
	uint64_t id;
	pid_t pid;

	ASSERT_TRUE(p);
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pm_edu_register(self->edu, p, len, RW, PEERMAP_MAP_ONDEMAND, &id));
	EXPECT_EQ(len, reg_info(_metadata, self->edu, id).devmem_bytes);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char c;

		/* after the parent's engine wrote: still its own bytes */
		if (read(go[0], &c, 1) != 1 || differ(p, len, 5))
			_exit(1);
		memset(p, 0x11, len);
		_exit(0);
	}
	info = reg_info(_metadata, self->edu, id);
	EXPECT_FALSE(info.valid) TH_LOG("fork did not invalidate the parent's registration");
	ASSERT_EQ(0, pm_obj_alloc(&self->bar, len, &o));
	fill(o.cpu, len, 6);
	ASSERT_EQ(0, pm_edu_copy(self->edu, p, o.cpu, len));
	info = reg_info(_metadata, self->edu, id);
	TH_LOG("after fork: %llu bytes migrated back, %llu device bytes",
	       (unsigned long long)info.migrated_bytes, (unsigned long long)info.devmem_bytes);
	EXPECT_EQ(len, info.migrated_bytes) TH_LOG("read-only device pages written");
	EXPECT_EQ(0, info.devmem_bytes) TH_LOG("a written COW page cannot stay device memory");
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st)) TH_LOG("child status %#x", st);
	EXPECT_EQ(0, differ(p, len, 6)) TH_LOG("the parent's bytes after the engine wrote");
	pm_edu_unregister(self->edu, id);
	pm_obj_free(&o);
	munmap(p, len);
	close(go[0]);
	close(go[1]);
	EXPECT_EQ(0, counters(&self->bar).used) TH_LOG("device pages left after exit and munmap");
}

/* A child's device pages go with its exit, its registration with them. */
TEST_F(devmem, exit_frees_device_pages)
{
	size_t len = 16 * PAGE;
	pid_t pid;
	int st;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		unsigned char *p = ram(len);
		uint64_t id;

		if (!p)
			_exit(2);
		fill(p, len, 7);
		if (migrate_in(&self->bar, p, len, NULL) != 16 ||
		    pm_edu_register(self->edu, p, len, PEERMAP_ACCESS_READ,
				    PEERMAP_MAP_ONDEMAND, &id))
			_exit(3);
		_exit(0);	/* with the registration live */
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st)) TH_LOG("child status %#x", st);
	EXPECT_EQ(0, counters(&self->bar).used) TH_LOG("device pages left after exit");
}

/* The exporter refuses the client: upstream's way, migrated back. */
TEST_F(devmem, refused_client_gets_ram)
{
	struct peermap_bar_devmem d = { 0 };
	size_t len = SMALL;
	unsigned char *p = device_range(&self->bar, 8), *r = ram(len);
	uint64_t id;

	ASSERT_TRUE(p && r);
	ASSERT_TRUE(!pm_node_pci_name("peermap-edu0", d.deny, sizeof(d.deny)));
	ASSERT_EQ(0, devmem_op(&self->bar, PEERMAP_DEVMEM_POLICY, &d));
	ASSERT_EQ(0, pm_edu_register(self->edu, p, len, PEERMAP_ACCESS_READ,
				     PEERMAP_MAP_ONDEMAND, &id));
	expect_migrated_back(_metadata, self->edu, id);
	EXPECT_EQ(16, counters(&self->bar).migrated_out);
	ASSERT_EQ(0, pm_edu_copy(self->edu, r, p, len));
	EXPECT_EQ(0, differ(r, len, 8));
	pm_edu_unregister(self->edu, id);
	d.deny[0] = '\0';
	EXPECT_EQ(0, devmem_op(&self->bar, PEERMAP_DEVMEM_POLICY, &d));
	munmap(p, len);
	munmap(r, len);
}

/* Pages of a driver peermap does not know: migrated back, and counted. */
TEST_F(devmem, foreign_owner_migrated_back)
{
	size_t len = SMALL;
	unsigned char *p, *r = ram(len);
	uint64_t id;

	ASSERT_EQ(0, lend(&self->bar, PEERMAP_DEVMEM_FOREIGN));
	p = device_range(&self->bar, 9);
	ASSERT_TRUE(p && r);
	ASSERT_EQ(0, pm_edu_register(self->edu, p, len, PEERMAP_ACCESS_READ,
				     PEERMAP_MAP_ONDEMAND, &id));
	expect_migrated_back(_metadata, self->edu, id);
	EXPECT_EQ(16, counters(&self->bar).migrated_out);
	expect_segments(_metadata, self->edu, p, len, NULL);
	ASSERT_EQ(0, pm_edu_copy(self->edu, r, p, len));
	EXPECT_EQ(0, differ(r, len, 9));
	pm_edu_unregister(self->edu, id);
	munmap(p, len);
	munmap(r, len);
}

/* Device-private pages cannot be pinned: a pinned range migrates them. */
TEST_F(devmem, pinned_registration_migrates_back)
{
	size_t len = SMALL;
	unsigned char *p = device_range(&self->bar, 10);
	uint64_t id;

	ASSERT_TRUE(p);
	ASSERT_EQ(0, pm_edu_register(self->edu, p, len, PEERMAP_ACCESS_READ,
				     PEERMAP_MAP_PINNED, &id));
	expect_migrated_back(_metadata, self->edu, id);
	EXPECT_EQ(0, counters(&self->bar).used);
	pm_edu_unregister(self->edu, id);
	EXPECT_EQ(0, differ(p, len, 10));
	munmap(p, len);
}

/* --- a race of migrations against copies --------------------------------- */

struct race {
	struct pm_bar *bar;
	int edu;
	unsigned char *p;
	size_t len;
	struct pm_obj *obj;
	volatile int stop;
	unsigned long copies[2], moves, touches, bad;
};

struct copier {
	struct race *rc;
	int me;
};

/*
 * Copies the range to RAM and checks it; the second copier also writes
 * the object's bytes, the same ones (seed 11), into the range.
 */
static void *race_copier(void *arg)
{
	struct copier *c = arg;
	struct race *rc = c->rc;
	int me = c->me;
	unsigned char *buf = ram(rc->len);

	while (buf && !rc->stop) {
		if (pm_edu_copy_flags(rc->edu, buf, rc->p, rc->len, PEERMAP_MAP_ONDEMAND) ||
		    differ(buf, rc->len, 11))
			__atomic_add_fetch(&rc->bad, 1, __ATOMIC_RELAXED);
		if (me && pm_edu_copy_flags(rc->edu, rc->p, rc->obj->cpu, rc->len,
					    PEERMAP_MAP_ONDEMAND))
			__atomic_add_fetch(&rc->bad, 1, __ATOMIC_RELAXED);
		rc->copies[me]++;
	}
	if (buf)
		munmap(buf, rc->len);
	return NULL;
}

static void *race_mover(void *arg)
{
	struct race *rc = arg;
	size_t pages = rc->len / PAGE;
	unsigned int seed = 1;

	while (!rc->stop) {
		uint64_t *m = mask_of(pages, true, seed++);

		if (m && migrate_in(rc->bar, rc->p, rc->len, m) >= 0)
			rc->moves++;
		free(m);
		usleep(50000);
	}
	return NULL;
}

static void *race_toucher(void *arg)
{
	struct race *rc = arg;
	size_t pages = rc->len / PAGE;
	unsigned int seed = 99;

	while (!rc->stop) {
		size_t i = rand_r(&seed) % pages;

		if (rc->p[i * PAGE + 7] != pat(11, i * PAGE + 7))
			__atomic_add_fetch(&rc->bad, 1, __ATOMIC_RELAXED);
		rc->touches++;
		usleep(20000);
	}
	return NULL;
}

/*
 * Guest time: a copy of 16 pages costs the engine about 3 s, so the race
 * runs 4 times the stress budget.
 */
TEST_F_TIMEOUT(devmem, migrations_race_copies,
	       TEST_TIMEOUT_DEFAULT + 4 * STRESS_SECONDS)
{
	struct race rc = { .bar = &self->bar, .edu = self->edu, .len = 16 * PAGE };
	struct copier c[2] = { { &rc, 0 }, { &rc, 1 } };
	struct peermap_bar_devmem d = { 0 };
	pthread_t t[4];
	struct pm_obj o;
	int i;

	rc.p = ram(rc.len);
	ASSERT_TRUE(rc.p);
	fill(rc.p, rc.len, 11);
	ASSERT_EQ(0, pm_obj_alloc(&self->bar, rc.len, &o));
	fill(o.cpu, rc.len, 11);
	rc.obj = &o;
	ASSERT_EQ(0, pthread_create(&t[0], NULL, race_copier, &c[0]));
	ASSERT_EQ(0, pthread_create(&t[1], NULL, race_copier, &c[1]));
	ASSERT_EQ(0, pthread_create(&t[2], NULL, race_mover, &rc));
	ASSERT_EQ(0, pthread_create(&t[3], NULL, race_toucher, &rc));
	sleep(4 * STRESS_SECONDS);
	rc.stop = 1;
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	d = counters(&self->bar);
	TH_LOG("%lu + %lu copies, %lu migrations in (%llu pages), %llu back by touches, %lu touches",
	       rc.copies[0], rc.copies[1], rc.moves, (unsigned long long)d.migrated_in,
	       (unsigned long long)d.migrated_out, rc.touches);
	EXPECT_EQ(0, rc.bad) TH_LOG("wrong bytes or failed copies");
	EXPECT_LT(0, rc.copies[0]);
	EXPECT_LT(0, rc.copies[1]);
	EXPECT_LT(0, rc.moves);
	EXPECT_EQ(0, differ(rc.p, rc.len, 11));
	pm_obj_free(&o);
	munmap(rc.p, rc.len);
	EXPECT_EQ(0, counters(&self->bar).used);
}

TEST_HARNESS_MAIN
