// SPDX-License-Identifier: GPL-2.0
/*
 * In-guest tests of mixed ranges, invalidation, revocation and fallback:
 * the exporter stays in control of its memory (evict, restore, policy,
 * removal), the process changes its address space under live mappings
 * (munmap, mprotect, mremap, fork, exit), and the importer keeps copying
 * the right bytes, never into freed memory.
 *
 * Fixtures: "inval" opens the first exporter and importer, and a second
 * exporter device (/dev/peermap-bar1) when there is one; "map_mode" runs
 * what differs by how RAM is held for the engine in two variants
 * (ondemand, pinned); "removal" takes the exporter's device away under
 * live mappings in two variants (unbind: bound again in its teardown;
 * unplug, for good: device_del, only where the topology names a
 * hot-pluggable exporter, TOPO_TEST_UNPLUG_ID, else skipped). Run the
 * removal fixture on its own (-r removal.VARIANT.TEST, -F removal for
 * the rest): tests/vm/60-inval.t checks the device between its variants.
 * The removal finds tests/vm/remove-dev.sh in $PM_TESTS_DIR, else next to
 * the .t scripts (../share/peermap/tests from this program).
 *
 * What a test changes in the exporter or the system (evictions, policies,
 * a module unload attempt, children, racing threads) is recorded in the
 * fixture and undone by its teardown, also after a failed ASSERT.
 *
 * Budget: PM_STRESS_SECONDS (default 5) for the racing threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "peermap.h"
#include "pm_bench.h"
#include "util.h"

#define STRESS_SECONDS	pm_env_seconds("PM_STRESS_SECONDS", 5)

/* --- what a test changed outside its process, and its undoing ------------ */

struct race;

struct undo {
	struct pm_obj obj[4];	/* evicted or given a policy: restored, policy off */
	unsigned int nobj;
	pid_t child;		/* a child of the test that may still run: killed */
	bool rmmod;		/* `rmmod peermap_bar` tried: loaded again if it went */
	struct race *race;	/* racing threads: stopped before the rest */
};

/* The teardown restores @o and turns its policy off (by its handle). */
static void undo_obj(struct undo *u, const struct pm_obj *o)
{
	if (u->nobj < sizeof(u->obj) / sizeof(u->obj[0]))
		u->obj[u->nobj++] = *o;
}

static int race_stop(struct race *rc);

static void undo_all(struct __test_metadata *_metadata, struct undo *u)
{
	struct peermap_bar_obj_info oi;
	unsigned int i;
	int err, n;

	if (u->race) {
		n = race_stop(u->race);
		if (n)
			TH_LOG("teardown: stopped %d racing threads", n);
	}
	if (u->child > 0) {
		TH_LOG("teardown: killing child %d", (int)u->child);
		kill(u->child, SIGKILL);
		waitpid(u->child, NULL, 0);
	}
	for (i = 0; i < u->nobj; i++) {
		if (pm_obj_info(&u->obj[i], &oi))
			continue;	/* freed by the test */
		if (oi.state == PEERMAP_OBJ_EVICTED) {
			err = pm_obj_restore(&u->obj[i]);
			TH_LOG("teardown: restored object %llu: %s",
			       (unsigned long long)oi.handle, strerror(-err));
		}
		/* Also a denied client, which the object's info does not show. */
		err = pm_obj_policy(&u->obj[i], 0, "");
		if (err || oi.policy)
			TH_LOG("teardown: policy %#x off for object %llu: %s", oi.policy,
			       (unsigned long long)oi.handle, strerror(-err));
	}
	if (u->rmmod && access("/sys/module/peermap_bar", F_OK)) {
		err = system("insmod /lib/peermap/peermap_bar.ko "
			     "$(sed -n 's/^peermap_bar //p' /etc/peermap/modparams)");
		TH_LOG("teardown: peermap_bar was unloaded; insmod again: status %d", err);
	}
}

/* --- fixtures ------------------------------------------------------------ */

FIXTURE(inval) {
	struct pm_bar bar, bar1;
	bool have_bar1;
	int edu;
	struct undo undo;
};

FIXTURE_SETUP(inval)
{
	pm_open_devices(_metadata, &self->bar, &self->edu);
	self->have_bar1 = !pm_bar_open(1, &self->bar1);
}

FIXTURE_TEARDOWN(inval)
{
	undo_all(_metadata, &self->undo);
	close(self->edu);
	if (self->have_bar1)
		pm_bar_close(&self->bar1);
	pm_bar_close(&self->bar);
}

FIXTURE(map_mode) {
	struct pm_bar bar;
	int edu;
	struct undo undo;
};

/* How RAM is held for the engine, and what a COW break does to it. */
FIXTURE_VARIANT(map_mode) {
	unsigned int flags;	/* PEERMAP_MAP_* */
	bool cow_invalidates;	/* the parent's COW break invalidates the mapping */
};

/* Invalidated by the COW break, and re-mapped onto the new pages. */
FIXTURE_VARIANT_ADD(map_mode, ondemand) {
	.flags = PEERMAP_MAP_ONDEMAND,
	.cow_invalidates = true,
};

/* Keeps its pages: the kernel copies pinned pages for the child at fork. */
FIXTURE_VARIANT_ADD(map_mode, pinned) {
	.flags = PEERMAP_MAP_PINNED,
	.cow_invalidates = false,
};

FIXTURE_SETUP(map_mode)
{
	pm_open_devices(_metadata, &self->bar, &self->edu);
}

FIXTURE_TEARDOWN(map_mode)
{
	undo_all(_metadata, &self->undo);
	close(self->edu);
	pm_bar_close(&self->bar);
}

/*
 * The exporter's device taken away by tests/vm/remove-dev.sh. The
 * teardown runs in the parent, after the test's process (its files and
 * mappings of the old device) is gone, so that the device bound again
 * gets its old name back.
 */
FIXTURE(removal) {
	struct pm_bar bar;
	int edu;
	char script[PATH_MAX];	/* remove-dev.sh */
	char unplug_id[64];	/* TOPO_TEST_UNPLUG_ID */
	char bdf[32];		/* the exporter's PCI name */
	bool removed;		/* the removal ran */
};

FIXTURE_VARIANT(removal) {
	const char *how;	/* remove-dev.sh's first argument */
	bool unplug;		/* device_del: needs TOPO_TEST_UNPLUG_ID; for good */
};

FIXTURE_VARIANT_ADD(removal, unbind) {
	.how = "unbind",
	.unplug = false,
};

FIXTURE_VARIANT_ADD(removal, unplug) {
	.how = "unplug",
	.unplug = true,
};

/* remove-dev.sh: in $PM_TESTS_DIR, else next to the .t scripts. */
static void find_remove_script(char *path, size_t size)
{
	const char *dir = getenv("PM_TESTS_DIR");
	char exe[PATH_MAX / 2];	/* this program, then its directory */
	ssize_t n;

	if (dir && *dir) {
		snprintf(path, size, "%s/remove-dev.sh", dir);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	if (strrchr(exe, '/'))
		*strrchr(exe, '/') = '\0';
	snprintf(path, size, "%s/../share/peermap/tests/remove-dev.sh", exe);
}

FIXTURE_SETUP(removal)
{
	if (variant->unplug &&
	    !pm_topo("TEST_UNPLUG_ID", self->unplug_id, sizeof(self->unplug_id))[0])
		SKIP(return, "this topology has no hot-pluggable exporter (TOPO_TEST_UNPLUG_ID)");
	find_remove_script(self->script, sizeof(self->script));
	ASSERT_EQ(0, access(self->script, R_OK))
		TH_LOG("%s: %s", self->script, strerror(errno));
	pm_open_devices(_metadata, &self->bar, &self->edu);
	snprintf(self->bdf, sizeof(self->bdf), "%s", self->bar.info.pci_name);
}

FIXTURE_TEARDOWN_PARENT(removal)
{
	char path[128];

	if (!self->removed || variant->unplug)
		return;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", self->bdf);
	if (!access(path, F_OK))
		return;
	EXPECT_EQ(0, write_file("/sys/bus/pci/drivers/peermap_bar/bind", self->bdf))
		TH_LOG("teardown: bind %s to peermap_bar again", self->bdf);
}

/* --- helpers ------------------------------------------------------------- */

static struct peermap_edu_reg_info info_of(struct __test_metadata *_metadata, int edu,
					   uint64_t id)
{
	struct peermap_edu_reg_info info = { 0 };
	int err = pm_edu_reg_info(edu, id, &info);

	if (err)
		TH_LOG("reg_info %llu: %s", (unsigned long long)id, strerror(-err));
	return info;
}

/* Registration @id is invalid, invalidated last for @why. */
static void expect_invalidated(struct __test_metadata *_metadata, int edu, uint64_t id,
			       unsigned int why)
{
	struct peermap_edu_reg_info info = info_of(_metadata, edu, id);

	EXPECT_TRUE(!info.valid && info.last_reason == why)
		TH_LOG("valid %u reason %s, want %s", info.valid,
		       pm_inval_reason(info.last_reason), pm_inval_reason(why));
}

static unsigned int seg_flags_or(int edu, const void *addr, size_t len, unsigned int access,
				 unsigned int *nsegs)
{
	struct peermap_seg *s;
	unsigned int n, i, or = 0;

	if (pm_edu_segments(edu, addr, len, access, &s, &n))
		return ~0U;
	for (i = 0; i < n; i++)
		or |= s[i].flags;
	free(s);
	if (nsegs)
		*nsegs = n;
	return or;
}

/* Status of a child that reads @p once. */
static int child_reads(const volatile unsigned char *p)
{
	int st;
	pid_t pid = fork();

	if (!pid) {
		volatile unsigned char c = p[0];

		(void)c;
		_exit(0);
	}
	waitpid(pid, &st, 0);
	return st;
}

/* --- mixed ranges ------------------------------------------------------- */

/*
 * [RAM 8K][object A 16K][RAM 8K][object B 16K] as one range: B lives in
 * the second exporter device when there is one.
 */
struct mixed {
	unsigned char *base;
	size_t len;
	struct pm_obj a, b;
};

static int mixed_setup(FIXTURE_DATA(inval) *self, struct mixed *m)
{
	struct pm_bar *bb = self->have_bar1 ? &self->bar1 : &self->bar;
	unsigned char *p;

	memset(m, 0, sizeof(*m));
	m->len = 48 * 1024;
	if (pm_obj_alloc(&self->bar, 16384, &m->a) || pm_obj_alloc(bb, 16384, &m->b))
		return -1;
	p = reserve(m->len);
	if (!p)
		return -1;
	m->base = p;
	if (mmap(p, 8192, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ||
	    mmap(p + 8192, 16384, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 self->bar.fd, (off_t)m->a.mmap_offset) == MAP_FAILED ||
	    mmap(p + 24576, 8192, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ||
	    mmap(p + 32768, 16384, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 bb->fd, (off_t)m->b.mmap_offset) == MAP_FAILED)
		return -1;
	return 0;
}

static void mixed_free(struct mixed *m)
{
	if (m->base)
		munmap(m->base, m->len);
	if (m->a.cpu)
		pm_obj_free(&m->a);
	if (m->b.cpu)
		pm_obj_free(&m->b);
}

TEST_F(inval, mixed_range_copies_both_ways)
{
	unsigned char *r = ram(48 * 1024 + 2 * PAGE);
	struct peermap_seg *s = NULL;
	unsigned int n = 0, i, kinds = 0;
	struct mixed m;
	int err;

	ASSERT_TRUE(r) TH_LOG("ram");
	ASSERT_TRUE(!mixed_setup(self, &m)) TH_LOG("mixed range: %s", strerror(errno));
	TH_LOG("second exporter device: %s", self->have_bar1 ? "yes" : "no, bar0 twice");

	/* What the device gets: RAM, peer, RAM, peer, in order. */
	err = pm_edu_segments(self->edu, m.base, m.len, PEERMAP_ACCESS_READ, &s, &n);
	EXPECT_TRUE(!err) TH_LOG("segments: %s", strerror(-err));
	for (i = 0; !err && i < n; i++) {
		int peer = !!(s[i].flags & PEERMAP_SEG_PEER);

		if (!i || peer != !!(s[i - 1].flags & PEERMAP_SEG_PEER))
			kinds = kinds * 10 + (peer ? 2 : 1);
	}
	EXPECT_EQ(1212, kinds) TH_LOG("kinds in order %u (1 RAM, 2 peer)", kinds);
	free(s);

	/* Mixed -> RAM, unaligned at both ends. */
	fill(m.base, m.len, 3);
	memset(r, FILLER, 48 * 1024 + 2 * PAGE);
	err = pm_edu_copy(self->edu, r + PAGE, m.base + 100, m.len - 200);
	EXPECT_TRUE(!err) TH_LOG("copy from mixed: %s", strerror(-err));
	{
		size_t bad = 0, k;

		for (k = 0; k < m.len - 200; k++)
			bad += r[PAGE + k] != pat(3, k + 100);
		EXPECT_TRUE(!bad) TH_LOG("%zu bytes differ after mixed -> RAM", bad);
	}
	EXPECT_TRUE(!not_filler(r, PAGE)) TH_LOG("bytes before the destination changed");
	EXPECT_TRUE(!not_filler(r + PAGE + m.len - 200, PAGE + 200))
		TH_LOG("bytes after the destination changed");

	/* RAM -> mixed. */
	fill(r, m.len, 9);
	memset(m.base, FILLER, m.len);
	err = pm_edu_copy(self->edu, m.base, r, m.len);
	EXPECT_TRUE(!err) TH_LOG("copy into mixed: %s", strerror(-err));
	EXPECT_TRUE(!differ(m.base, m.len, 9))
		TH_LOG("%zu bytes differ after RAM -> mixed", differ(m.base, m.len, 9));
	mixed_free(&m);
	munmap(r, 48 * 1024 + 2 * PAGE);
}

/* @len bytes at @src copied out by edu equal pattern @seed from @from. */
static int copy_checks(int edu, const unsigned char *src, size_t len,
		       unsigned int seed, size_t from, size_t *bad)
{
	unsigned char *r = malloc(len);
	size_t k;
	int err;

	if (!r)
		return -ENOMEM;
	memset(r, FILLER, len);
	err = pm_edu_copy(edu, r, src, len);
	for (k = 0, *bad = 0; !err && k < len; k++)
		*bad += r[k] != pat(seed, k + from);
	free(r);
	return err;
}

/*
 * An invalidation takes down what it reaches, no more: a one-page
 * mprotect of the first RAM piece, then an object's eviction, each leave
 * the other three pieces of the registration mapped, and the next copy
 * resolves only the one that changed.
 */
TEST_F(inval, invalidation_rebuilds_only_what_changed)
{
	struct peermap_edu_reg_info info;
	struct mixed m;
	uint64_t id = 0;
	size_t bad;
	int err;

	ASSERT_TRUE(!mixed_setup(self, &m)) TH_LOG("mixed range: %s", strerror(errno));
	undo_obj(&self->undo, &m.a);
	fill(m.base, m.len, 21);
	ASSERT_TRUE(!pm_edu_register(self->edu, m.base, m.len, PEERMAP_ACCESS_READ, 0, &id))
		TH_LOG("register");

	ASSERT_TRUE(!mprotect(m.base, PAGE, PROT_READ)) TH_LOG("mprotect");
	expect_invalidated(_metadata, self->edu, id, PEERMAP_INVAL_PROTECT);
	err = copy_checks(self->edu, m.base + 100, m.len - 200, 21, 100, &bad);
	EXPECT_TRUE(!err && !bad) TH_LOG("copy after mprotect: %s, %zu bytes differ",
					 strerror(-err), bad);
	info = info_of(_metadata, self->edu, id);
	EXPECT_TRUE(info.valid && info.reused == 3)
		TH_LOG("after a one-page mprotect of the first RAM piece: valid %u, %u pieces reused (want 3)",
		       info.valid, info.reused);

	ASSERT_TRUE(!pm_obj_evict(&m.a)) TH_LOG("evict");
	expect_invalidated(_metadata, self->edu, id, PEERMAP_INVAL_REVOKE);
	err = copy_checks(self->edu, m.base + 100, m.len - 200, 21, 100, &bad);
	EXPECT_TRUE(!err && !bad) TH_LOG("copy while A is evicted: %s, %zu bytes differ",
					 strerror(-err), bad);
	info = info_of(_metadata, self->edu, id);
	EXPECT_TRUE(info.valid && info.reused == 3 && info.fallback_bytes == 16384)
		TH_LOG("after A's eviction: valid %u, %u pieces reused (want 3), fallback %llu",
		       info.valid, info.reused, (unsigned long long)info.fallback_bytes);

	ASSERT_TRUE(!pm_obj_restore(&m.a)) TH_LOG("restore");
	err = copy_checks(self->edu, m.base, m.len, 21, 0, &bad);
	EXPECT_TRUE(!err && !bad) TH_LOG("copy after restore: %s, %zu bytes differ",
					 strerror(-err), bad);
	info = info_of(_metadata, self->edu, id);
	EXPECT_TRUE(info.valid && info.reused == 3 && !info.fallback_bytes)
		TH_LOG("after A's restore: valid %u, %u pieces reused, fallback %llu",
		       info.valid, info.reused, (unsigned long long)info.fallback_bytes);
	pm_edu_unregister(self->edu, id);
	mixed_free(&m);
}

/* The actors of kept_pieces_race: copiers, and one that mprotects. */
struct kept_race {
	int edu;
	unsigned char *base, *ram2;
	size_t len;
	volatile int stop;
	unsigned long copies, errors, bad, protects;
};

static void *kept_copier(void *arg)
{
	struct kept_race *kr = arg;
	size_t bad, at = 0;
	int err;

	/* 2 KiB at a time (copies are slow under emulation), across pieces. */
	while (!kr->stop) {
		at = (at + 3001) % (kr->len - 2048);
		err = copy_checks(kr->edu, kr->base + at, 2048, 31, at, &bad);
		__atomic_add_fetch(&kr->copies, 1, __ATOMIC_RELAXED);
		if (err)
			__atomic_add_fetch(&kr->errors, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&kr->bad, bad, __ATOMIC_RELAXED);
	}
	return NULL;
}

/*
 * Read-only and back: the registration reads, so both stay mappable. Not
 * faster than a copy can resolve the range again on the debug kernel:
 * an importer invalidated without pause never gets to copy.
 */
static void *kept_protector(void *arg)
{
	struct kept_race *kr = arg;

	while (!kr->stop) {
		mprotect(kr->ram2, 8192, PROT_READ);
		usleep(5000);
		mprotect(kr->ram2, 8192, PROT_READ | PROT_WRITE);
		kr->protects++;
		usleep(5000);
	}
	return NULL;
}

/*
 * Two copiers read a registration of [RAM][A][RAM][B] while one thread
 * mprotects the second RAM piece and the test evicts and restores A: each
 * resolution keeps what was spared and rebuilds the rest, under
 * invalidations that come while it builds; every byte stays right.
 */
TEST_F_TIMEOUT(inval, kept_pieces_race, TEST_TIMEOUT_DEFAULT + STRESS_SECONDS)
{
	struct kept_race kr = { .edu = self->edu };
	struct peermap_edu_reg_info info;
	unsigned int max_reused = 0, evictions = 0;
	pthread_t t[3];
	struct mixed m;
	uint64_t id = 0;
	time_t end;
	size_t bad;
	int i, err;

	ASSERT_TRUE(!mixed_setup(self, &m)) TH_LOG("mixed range: %s", strerror(errno));
	undo_obj(&self->undo, &m.a);
	fill(m.base, m.len, 31);
	ASSERT_TRUE(!pm_edu_register(self->edu, m.base, m.len, PEERMAP_ACCESS_READ, 0, &id))
		TH_LOG("register");
	kr.base = m.base;
	kr.ram2 = m.base + 24576;
	kr.len = m.len;
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, kept_copier, &kr));
	ASSERT_EQ(0, pthread_create(&t[2], NULL, kept_protector, &kr));
	end = time(NULL) + STRESS_SECONDS;
	while (time(NULL) < end) {
		if (!pm_obj_evict(&m.a)) {
			evictions++;
			usleep(10000);
			pm_obj_restore(&m.a);
		}
		usleep(20000);
		if (!pm_edu_reg_info(self->edu, id, &info) && info.reused > max_reused)
			max_reused = info.reused;
	}
	kr.stop = 1;
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%lu copies, %u evictions, %lu mprotects, at most %u pieces reused",
	       kr.copies, evictions, kr.protects, max_reused);
	EXPECT_TRUE(kr.copies >= 3 && evictions >= 3 && kr.protects >= 3)
		TH_LOG("too little happened");
	EXPECT_TRUE(!kr.errors) TH_LOG("%lu copies failed", kr.errors);
	EXPECT_TRUE(!kr.bad) TH_LOG("%lu bytes differ", kr.bad);
	err = copy_checks(self->edu, m.base, m.len, 31, 0, &bad);
	EXPECT_TRUE(!err && !bad) TH_LOG("copy after the race: %s, %zu bytes differ",
					 strerror(-err), bad);
	/*
	 * Reuse still works after the race. (During it, a remap that had to
	 * start over rebuilt everything: how often depends on timing.)
	 */
	ASSERT_TRUE(!mprotect(kr.ram2, 8192, PROT_READ)) TH_LOG("mprotect");
	err = copy_checks(self->edu, m.base, m.len, 31, 0, &bad);
	info = info_of(_metadata, self->edu, id);
	EXPECT_TRUE(!err && !bad && info.reused == 3)
		TH_LOG("copy after one more mprotect: %s, %zu bytes differ, %u pieces reused (want 3)",
		       strerror(-err), bad, info.reused);
	pm_edu_unregister(self->edu, id);
	mixed_free(&m);
}

TEST_F(inval, mixed_range_with_prot_none_piece_efault)
{
	unsigned char *r = ram(48 * 1024);
	struct mixed m;
	int err;

	ASSERT_TRUE(r) TH_LOG("ram");
	ASSERT_TRUE(!mixed_setup(self, &m)) TH_LOG("mixed range");
	mprotect(m.base + 24576, 8192, PROT_NONE);
	err = pm_edu_copy(self->edu, r, m.base, m.len);
	EXPECT_EQ(-EFAULT, err) TH_LOG("got %d", err);
	munmap(m.base + 24576, 8192);
	err = pm_edu_copy(self->edu, r, m.base, m.len);
	EXPECT_EQ(-EFAULT, err) TH_LOG("hole: got %d", err);
	mixed_free(&m);
	munmap(r, 48 * 1024);
}

/* --- registrations and the process changing its address space ---------- */

TEST_F(inval, registration_is_reused_without_invalidation)
{
	unsigned char *r = ram(64 * 1024);
	struct peermap_edu_reg_info ia, ir;
	uint64_t ida = 0, idr = 0;
	struct pm_obj o;
	int i, err;

	ASSERT_TRUE(r) TH_LOG("ram");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 64 * 1024, &o)) TH_LOG("alloc");
	fill(o.cpu, o.size, 5);
	EXPECT_TRUE(!pm_edu_register(self->edu, o.cpu, o.size, PEERMAP_ACCESS_READ, 0, &ida))
		TH_LOG("register object");
	EXPECT_TRUE(!pm_edu_register(self->edu, r, 64 * 1024, PEERMAP_ACCESS_WRITE, 0, &idr))
		TH_LOG("register RAM");
	for (i = 0; i < 3; i++) {
		memset(r, 0, 64 * 1024);
		err = pm_edu_copy(self->edu, r + i * 1000, (char *)o.cpu + i * 1000, 9000);
		EXPECT_TRUE(!err) TH_LOG("copy %d: %s", i, strerror(-err));
		EXPECT_TRUE(!differ(r + i * 1000, 9000, 5) || i) TH_LOG("data");
	}
	ia = info_of(_metadata, self->edu, ida);
	ir = info_of(_metadata, self->edu, idr);
	EXPECT_TRUE(ia.valid && ir.valid) TH_LOG("valid %u %u", ia.valid, ir.valid);
	EXPECT_TRUE(!ia.invalidations && !ir.invalidations)
		TH_LOG("invalidations %llu %llu", (unsigned long long)ia.invalidations,
		       (unsigned long long)ir.invalidations);
	EXPECT_EQ(1, ia.nsegs) TH_LOG("object registration: %u segments", ia.nsegs);
	EXPECT_TRUE(!pm_edu_unregister(self->edu, ida) && !pm_edu_unregister(self->edu, idr))
		TH_LOG("unregister");
	EXPECT_EQ(-ENOENT, pm_edu_unregister(self->edu, ida)) TH_LOG("unregister twice");
	pm_obj_free(&o);
	munmap(r, 64 * 1024);
}

TEST_F(inval, munmap_invalidates_registration)
{
	unsigned char *r = ram(16384);
	struct peermap_edu_reg_info info;
	struct pm_obj o;
	uint64_t id = 0;
	int err;

	ASSERT_TRUE(r) TH_LOG("ram");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 16384, &o)) TH_LOG("alloc");
	ASSERT_TRUE(!pm_edu_register(self->edu, r, 16384, PEERMAP_ACCESS_WRITE, 0, &id))
		TH_LOG("register");
	munmap(r + 4096, 4096);
	info = info_of(_metadata, self->edu, id);
	EXPECT_TRUE(!info.valid) TH_LOG("still valid after munmap");
	EXPECT_EQ(1, info.invalidations)
		TH_LOG("invalidations %llu", (unsigned long long)info.invalidations);
	EXPECT_EQ(PEERMAP_INVAL_UNMAP, info.last_reason)
		TH_LOG("reason %s", pm_inval_reason(info.last_reason));
	err = pm_edu_copy(self->edu, r, o.cpu, 16384);
	EXPECT_EQ(-EFAULT, err) TH_LOG("copy into the hole: %d", err);
	pm_edu_unregister(self->edu, id);
	munmap(r, 16384);
	pm_obj_free(&o);
}

TEST_F(inval, mprotect_invalidates_and_recovers)
{
	unsigned char *r = ram(16384);
	struct peermap_edu_reg_info info;
	struct pm_obj o;
	uint64_t id = 0;
	int err;

	ASSERT_TRUE(r) TH_LOG("ram");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 16384, &o)) TH_LOG("alloc");
	fill(o.cpu, 16384, 11);
	ASSERT_TRUE(!pm_edu_register(self->edu, r, 16384, PEERMAP_ACCESS_WRITE, 0, &id))
		TH_LOG("register");
	mprotect(r, 16384, PROT_READ);
	expect_invalidated(_metadata, self->edu, id, PEERMAP_INVAL_PROTECT);
	err = pm_edu_copy(self->edu, r, o.cpu, 16384);
	EXPECT_EQ(-EACCES, err) TH_LOG("copy into read-only: %d", err);
	mprotect(r, 16384, PROT_READ | PROT_WRITE);
	err = pm_edu_copy(self->edu, r, o.cpu, 16384);
	EXPECT_TRUE(!err) TH_LOG("copy after mprotect back: %s", strerror(-err));
	EXPECT_TRUE(!differ(r, 16384, 11)) TH_LOG("data after re-map");
	info = info_of(_metadata, self->edu, id);
	EXPECT_TRUE(info.valid && info.remaps >= 1)
		TH_LOG("valid %u remaps %llu", info.valid, (unsigned long long)info.remaps);
	pm_edu_unregister(self->edu, id);
	munmap(r, 16384);
	pm_obj_free(&o);
}

TEST_F(inval, mremap_invalidates_registration)
{
	unsigned char *r = ram(16384), *to = reserve(16384), *moved;
	struct pm_obj o;
	uint64_t id = 0;
	int err;

	ASSERT_TRUE(r && to) TH_LOG("ram");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 16384, &o)) TH_LOG("alloc");
	fill(r, 16384, 13);
	ASSERT_TRUE(!pm_edu_register(self->edu, r, 16384, PEERMAP_ACCESS_READ, 0, &id))
		TH_LOG("register");
	moved = mremap(r, 16384, 16384, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	ASSERT_TRUE(moved == to) TH_LOG("mremap: %s", strerror(errno));
	expect_invalidated(_metadata, self->edu, id, PEERMAP_INVAL_UNMAP);
	err = pm_edu_copy(self->edu, o.cpu, r, 16384);
	EXPECT_EQ(-EFAULT, err) TH_LOG("copy from the old place: %d", err);
	err = pm_edu_copy(self->edu, o.cpu, moved, 16384);
	EXPECT_TRUE(!err && !differ(o.cpu, 16384, 13)) TH_LOG("copy from the new place: %d", err);
	pm_edu_unregister(self->edu, id);
	munmap(moved, 16384);
	pm_obj_free(&o);
}

/*
 * An object the CPU never touched has no PTE for mprotect to change: the
 * exporter's mprotect hook revokes its peers instead.
 */
TEST_F(inval, mprotect_of_untouched_object_revokes)
{
	unsigned char *r = ram(8192);
	struct pm_obj o;
	uint64_t id = 0;
	int err;

	ASSERT_TRUE(r) TH_LOG("ram");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 8192, &o)) TH_LOG("alloc");
	ASSERT_TRUE(!pm_edu_register(self->edu, o.cpu, 8192, PEERMAP_ACCESS_WRITE, 0, &id))
		TH_LOG("register");
	mprotect(o.cpu, 8192, PROT_READ);
	expect_invalidated(_metadata, self->edu, id, PEERMAP_INVAL_PROTECT);
	err = pm_edu_copy(self->edu, o.cpu, r, 8192);
	EXPECT_EQ(-EACCES, err) TH_LOG("device write into a read-only object mapping: %d", err);
	pm_edu_unregister(self->edu, id);
	pm_obj_free(&o);
	munmap(r, 8192);
}

/* --- the exporter in control ------------------------------------------- */

TEST_F(inval, evict_gives_fallback_and_restore_returns)
{
	unsigned char *r = ram(65536);
	struct peermap_bar_obj_info oi;
	struct peermap_edu_reg_info info;
	unsigned int flags, n;
	struct pm_obj o;
	uint64_t id = 0;
	int err;

	ASSERT_TRUE(r) TH_LOG("ram");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 65536, &o)) TH_LOG("alloc");
	undo_obj(&self->undo, &o);
	fill(o.cpu, 65536, 17);
	ASSERT_TRUE(!pm_edu_register(self->edu, o.cpu, 65536, PEERMAP_ACCESS_READ, 0, &id))
		TH_LOG("register");
	flags = seg_flags_or(self->edu, o.cpu, 65536, PEERMAP_ACCESS_READ, &n);
	EXPECT_TRUE((flags & PEERMAP_SEG_PEER) && !(flags & PEERMAP_SEG_FALLBACK))
		TH_LOG("resident: flags %#x", flags);

	ASSERT_TRUE(!pm_obj_evict(&o)) TH_LOG("evict");
	EXPECT_EQ(-EALREADY, pm_obj_evict(&o)) TH_LOG("evict twice");
	expect_invalidated(_metadata, self->edu, id, PEERMAP_INVAL_REVOKE);
	flags = seg_flags_or(self->edu, o.cpu, 65536, PEERMAP_ACCESS_READ, &n);
	EXPECT_TRUE(!(flags & PEERMAP_SEG_PEER) && (flags & PEERMAP_SEG_FALLBACK))
		TH_LOG("evicted: flags %#x", flags);
	TH_LOG("evicted: %u fallback segments for 64 KiB", n);

	/* The importer re-maps on its next copy, onto system memory. */
	err = pm_edu_copy(self->edu, r, o.cpu, 65536);
	EXPECT_TRUE(!err && !differ(r, 65536, 17)) TH_LOG("copy while evicted: %d", err);
	info = info_of(_metadata, self->edu, id);
	EXPECT_TRUE(info.valid && info.remaps == 1 && info.fallback_bytes == 65536)
		TH_LOG("valid %u remaps %llu fallback %llu", info.valid,
		       (unsigned long long)info.remaps, (unsigned long long)info.fallback_bytes);

	/* The CPU mapping follows the object: read it, write it. */
	EXPECT_TRUE(!differ(o.cpu, 65536, 17)) TH_LOG("CPU read while evicted");
	fill(o.cpu, 65536, 19);

	ASSERT_TRUE(!pm_obj_restore(&o)) TH_LOG("restore");
	EXPECT_EQ(-EALREADY, pm_obj_restore(&o)) TH_LOG("restore twice");
	flags = seg_flags_or(self->edu, o.cpu, 65536, PEERMAP_ACCESS_READ, &n);
	EXPECT_TRUE((flags & PEERMAP_SEG_PEER) && !(flags & PEERMAP_SEG_FALLBACK))
		TH_LOG("restored: flags %#x", flags);
	err = pm_edu_copy(self->edu, r, o.cpu, 65536);
	EXPECT_TRUE(!err && !differ(r, 65536, 19)) TH_LOG("copy after restore: %d", err);
	info = info_of(_metadata, self->edu, id);
	EXPECT_TRUE(info.invalidations == 2 && !info.fallback_bytes)
		TH_LOG("invalidations %llu fallback %llu", (unsigned long long)info.invalidations,
		       (unsigned long long)info.fallback_bytes);
	EXPECT_TRUE(!pm_obj_info(&o, &oi)) TH_LOG("obj info");
	EXPECT_TRUE(oi.state == PEERMAP_OBJ_RESIDENT && oi.evictions == 1 && oi.peers == 1)
		TH_LOG("state %u evictions %llu peers %u", oi.state,
		       (unsigned long long)oi.evictions, oi.peers);
	pm_edu_unregister(self->edu, id);
	EXPECT_TRUE(!pm_obj_info(&o, &oi) && oi.peers == 0)
		TH_LOG("peers after unregister %u", oi.peers);
	pm_obj_free(&o);
	munmap(r, 65536);
}

/*
 * Time the revoke of @n busy importers (pm_bench.ko's) of @o whose device
 * takes @drain_us to stop; ns, or 0 after a failed expectation.
 */
static uint64_t busy_revoke_ns(struct __test_metadata *_metadata, int bench,
			       struct pm_obj *o, const char *client,
			       unsigned int n, unsigned int drain_us, int stop)
{
	struct pm_bench_busy q = {
		.addr = (uintptr_t)o->cpu, .len = o->size, .nmaps = n,
		.drain_us = drain_us, .stop = (uint32_t)stop,
	};
	struct peermap_bar_obj_info oi = { 0 };
	int err = 0;

	snprintf(q.client, sizeof(q.client), "%s", client);
	if (ioctl(bench, PM_BENCH_IOC_BUSY, &q))
		err = -errno;
	EXPECT_TRUE(!err) TH_LOG("%u busy importers: %s", n, strerror(-err));
	if (!err)
		err = pm_obj_evict(o);
	if (!err)
		err = pm_obj_info(o, &oi);
	EXPECT_TRUE(!err) TH_LOG("evict: %s", strerror(-err));
	memset(&q, 0, sizeof(q));
	EXPECT_TRUE(!ioctl(bench, PM_BENCH_IOC_BUSY_END, &q)) TH_LOG("busy end");
	EXPECT_TRUE(err || q.invalidated == n) TH_LOG("%u of %u importers invalidated",
						      q.invalidated, n);
	EXPECT_TRUE(!pm_obj_restore(o)) TH_LOG("restore");
	return err ? 0 : oi.last_revoke_ns;
}

/*
 * A revoke tells every importer with a stop callback to stop before it
 * waits for any: 16 devices that take 20 ms each to drain are revoked in
 * about 20 ms, not 320; without the callback the drains add up.
 */
TEST_F(inval, revoke_lets_busy_importers_drain_together)
{
	int bench = open("/dev/pm-bench", O_RDWR);
	uint64_t together, in_turn;
	char client[32];
	struct pm_obj o;

	if (bench < 0)
		SKIP(return, "no /dev/pm-bench (insmod pm_bench.ko)");
	ASSERT_TRUE(!pm_node_pci_name("peermap-edu0", client, sizeof(client))) TH_LOG("edu");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 65536, &o)) TH_LOG("alloc");
	undo_obj(&self->undo, &o);
	together = busy_revoke_ns(_metadata, bench, &o, client, 16, 20000, 1);
	in_turn = busy_revoke_ns(_metadata, bench, &o, client, 4, 20000, 0);
	TH_LOG("revoke of 16 importers draining 20 ms, told first: %.1f ms; of 4 waited for in turn: %.1f ms",
	       together / 1e6, in_turn / 1e6);
	EXPECT_TRUE(together >= 20000000ULL && together < 160000000ULL)
		TH_LOG("16 drains of 20 ms took %.1f ms together", together / 1e6);
	EXPECT_TRUE(in_turn >= 80000000ULL)
		TH_LOG("4 drains of 20 ms in turn took %.1f ms", in_turn / 1e6);
	pm_obj_free(&o);
	close(bench);
}

/* Evict and restore the source while a long copy reads it. */
TEST_F(inval, evict_during_long_copy)
{
	size_t len = 64 * 1024;
	unsigned char *r = ram(len + 2 * PAGE);
	struct peermap_edu_stats s0, s1;
	struct edu_copy_job j;
	struct pm_obj o;
	pthread_t t;
	uint64_t c0;
	int err;

	ASSERT_TRUE(r) TH_LOG("ram");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, len, &o)) TH_LOG("alloc");
	undo_obj(&self->undo, &o);
	fill(o.cpu, len, 23);
	memset(r, FILLER, len + 2 * PAGE);
	pm_edu_stats(self->edu, &s0);
	c0 = s0.chunks;
	j = (struct edu_copy_job){ .fd = self->edu, .dst = r + PAGE, .src = o.cpu, .len = len };
	ASSERT_TRUE(!pthread_create(&t, NULL, edu_copy_thread, &j)) TH_LOG("thread");
	edu_wait_chunks(self->edu, c0 + 3);
	err = pm_obj_evict(&o);
	EXPECT_TRUE(!err) TH_LOG("evict mid-copy: %s", strerror(-err));
	edu_wait_chunks(self->edu, c0 + 9);
	err = pm_obj_restore(&o);
	EXPECT_TRUE(!err) TH_LOG("restore mid-copy: %s", strerror(-err));
	pthread_join(t, NULL);
	pm_edu_stats(self->edu, &s1);
	EXPECT_TRUE(!j.err) TH_LOG("copy: %s", strerror(-j.err));
	EXPECT_TRUE(!differ(r + PAGE, len, 23))
		TH_LOG("%zu bytes differ", differ(r + PAGE, len, 23));
	EXPECT_TRUE(!not_filler(r, PAGE) && !not_filler(r + PAGE + len, PAGE))
		TH_LOG("bytes next to the destination changed");
	TH_LOG("%llu chunks, %llu invalidations, %llu re-maps during the copy",
	       (unsigned long long)(s1.chunks - s0.chunks),
	       (unsigned long long)(s1.invalidations - s0.invalidations),
	       (unsigned long long)(s1.remaps - s0.remaps));
	EXPECT_TRUE(s1.invalidations - s0.invalidations >= 2 && s1.remaps - s0.remaps >= 2)
		TH_LOG("the copy was not invalidated and re-mapped twice");
	pm_obj_free(&o);
	munmap(r, len + 2 * PAGE);
}

/* Evict the destination mid-copy: the bytes land in the object anyway. */
TEST_F(inval, evict_destination_during_long_copy)
{
	size_t len = 32 * 1024;
	unsigned char *r = ram(len);
	struct edu_copy_job j;
	struct pm_obj o;
	pthread_t t;
	uint64_t c0 = edu_chunks(self->edu);

	ASSERT_TRUE(r) TH_LOG("ram");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, len + 2 * PAGE, &o)) TH_LOG("alloc");
	undo_obj(&self->undo, &o);
	fill(r, len, 29);
	memset(o.cpu, FILLER, o.size);
	j = (struct edu_copy_job){
		.fd = self->edu, .dst = (char *)o.cpu + PAGE, .src = r, .len = len,
	};
	ASSERT_TRUE(!pthread_create(&t, NULL, edu_copy_thread, &j)) TH_LOG("thread");
	edu_wait_chunks(self->edu, c0 + 3);
	EXPECT_TRUE(!pm_obj_evict(&o)) TH_LOG("evict");
	pthread_join(t, NULL);
	EXPECT_TRUE(!j.err) TH_LOG("copy: %s", strerror(-j.err));
	EXPECT_TRUE(!pm_obj_restore(&o)) TH_LOG("restore");
	EXPECT_TRUE(!differ((char *)o.cpu + PAGE, len, 29)) TH_LOG("data in the object");
	EXPECT_TRUE(!not_filler(o.cpu, PAGE) && !not_filler((char *)o.cpu + PAGE + len, PAGE))
		TH_LOG("bytes next to the destination changed");
	pm_obj_free(&o);
	munmap(r, len);
}

TEST_F(inval, readonly_peer_policy)
{
	unsigned char *r = ram(8192);
	struct pm_obj o;
	uint64_t id = 0;
	int err;

	ASSERT_TRUE(r) TH_LOG("ram");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 8192, &o)) TH_LOG("alloc");
	undo_obj(&self->undo, &o);
	fill(r, 8192, 31);
	ASSERT_TRUE(!pm_edu_register(self->edu, o.cpu, 8192, PEERMAP_ACCESS_WRITE, 0, &id))
		TH_LOG("register");
	ASSERT_TRUE(!pm_obj_policy(&o, PEERMAP_POLICY_PEER_RO, NULL)) TH_LOG("policy");
	expect_invalidated(_metadata, self->edu, id, PEERMAP_INVAL_REVOKE);
	err = pm_edu_copy(self->edu, o.cpu, r, 8192);
	EXPECT_EQ(-EACCES, err) TH_LOG("peer write into a read-only object: %d", err);
	err = pm_edu_copy(self->edu, r, o.cpu, 8192);
	EXPECT_TRUE(!err) TH_LOG("peer read of a read-only object: %s", strerror(-err));
	ASSERT_TRUE(!pm_obj_policy(&o, 0, NULL)) TH_LOG("policy off");
	fill(r, 8192, 37);
	err = pm_edu_copy(self->edu, o.cpu, r, 8192);
	EXPECT_TRUE(!err && !differ(o.cpu, 8192, 37)) TH_LOG("write after policy off: %d", err);
	pm_edu_unregister(self->edu, id);
	pm_obj_free(&o);
	munmap(r, 8192);
}

TEST_F(inval, denied_client_refused)
{
	unsigned char *r = ram(8192);
	char name[64];
	struct pm_obj o;
	int err;

	ASSERT_TRUE(r) TH_LOG("ram");
	ASSERT_TRUE(!pm_node_pci_name("peermap-edu0", name, sizeof(name)))
		TH_LOG("importer's PCI name");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 8192, &o)) TH_LOG("alloc");
	undo_obj(&self->undo, &o);
	ASSERT_TRUE(!pm_obj_policy(&o, 0, name)) TH_LOG("deny %s", name);
	err = pm_edu_copy(self->edu, r, o.cpu, 8192);
	EXPECT_EQ(-EPERM, err) TH_LOG("denied client: %d", err);
	EXPECT_EQ(-EINVAL, pm_obj_policy(&o, 0, "0123456789012345678901234567890123"))
		TH_LOG("over-long name accepted");
	ASSERT_TRUE(!pm_obj_policy(&o, 0, "")) TH_LOG("allow again");
	err = pm_edu_copy(self->edu, r, o.cpu, 8192);
	EXPECT_TRUE(!err) TH_LOG("allowed again: %s", strerror(-err));
	pm_obj_free(&o);
	munmap(r, 8192);
}

TEST_F(inval, cpu_access_off_sigbus)
{
	unsigned char *r = ram(4096);
	struct pm_obj o;
	int st;

	ASSERT_TRUE(r) TH_LOG("ram");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 4096, &o)) TH_LOG("alloc");
	undo_obj(&self->undo, &o);
	fill(o.cpu, 4096, 41);
	ASSERT_TRUE(!pm_obj_policy(&o, PEERMAP_POLICY_NO_CPU, NULL)) TH_LOG("policy");
	st = child_reads(o.cpu);
	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS) TH_LOG("CPU read: status %#x", st);
	EXPECT_TRUE(!pm_edu_copy(self->edu, r, o.cpu, 4096) && !differ(r, 4096, 41))
		TH_LOG("peers still read it");
	ASSERT_TRUE(!pm_obj_policy(&o, 0, NULL)) TH_LOG("policy off");
	st = child_reads(o.cpu);
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st)) TH_LOG("CPU read after: status %#x", st);
	pm_obj_free(&o);
	munmap(r, 4096);
}

/* --- fork, exit, kill ----------------------------------------------------- */

/*
 * After fork, the parent writes its RAM: COW gives it new pages. An
 * on-demand mapping is invalidated and follows; a pinned one keeps its
 * pages (the kernel copies pinned pages for the child at fork). Either
 * way the device reads what the parent wrote.
 */
TEST_F(map_mode, fork_cow_device_reads_parent_writes)
{
	unsigned char *r = ram(16384);
	struct peermap_edu_reg_info info;
	int pipefd[2], st;
	struct pm_obj o;
	uint64_t id = 0;
	pid_t pid;
	int err;

	ASSERT_TRUE(r && !pipe(pipefd)) TH_LOG("ram");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 16384, &o)) TH_LOG("alloc");
	fill(r, 16384, 43);
	ASSERT_TRUE(!pm_edu_register(self->edu, r, 16384, PEERMAP_ACCESS_READ, variant->flags,
				     &id))
		TH_LOG("register");
	err = pm_edu_copy(self->edu, o.cpu, r, 16384);
	EXPECT_TRUE(!err && !differ(o.cpu, 16384, 43)) TH_LOG("before fork: %d", err);
	pid = fork();
	if (!pid) {
		char c;

		close(pipefd[1]);
		(void)!read(pipefd[0], &c, 1);	/* keep sharing until told */
		_exit(differ(r, 16384, 43) ? 1 : 0);
	}
	self->undo.child = pid;
	close(pipefd[0]);
	fill(r, 16384, 47);		/* COW break in the parent */
	err = pm_edu_copy(self->edu, o.cpu, r, 16384);
	EXPECT_TRUE(!err) TH_LOG("after fork: %s", strerror(-err));
	EXPECT_TRUE(!differ(o.cpu, 16384, 47))
		TH_LOG("the device read %s pages",
		       differ(o.cpu, 16384, 43) ? "other" : "the child's");
	info = info_of(_metadata, self->edu, id);
	TH_LOG("%llu invalidations (last: %s), %llu re-maps",
	       (unsigned long long)info.invalidations, pm_inval_reason(info.last_reason),
	       (unsigned long long)info.remaps);
	if (variant->cow_invalidates) {
		EXPECT_TRUE(info.invalidations >= 1 && info.remaps >= 1)
			TH_LOG("on-demand mapping not invalidated by COW");
	} else {
		EXPECT_TRUE(!info.invalidations) TH_LOG("pinned mapping invalidated by fork");
	}
	close(pipefd[1]);
	waitpid(pid, &st, 0);
	self->undo.child = 0;
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st)) TH_LOG("the child's copy changed: %#x", st);
	pm_edu_unregister(self->edu, id);
	pm_obj_free(&o);
	munmap(r, 16384);
}

TEST_F(inval, ondemand_copy_of_untouched_ram)
{
	size_t len = 3 * PAGE + 123;
	unsigned char *r = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct pm_obj o;
	int err;

	ASSERT_TRUE(r != MAP_FAILED) TH_LOG("ram");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, len, &o)) TH_LOG("alloc");
	fill(o.cpu, len, 53);
	/* Nothing faulted in yet: the mapping faults it (for writing). */
	err = pm_edu_copy_flags(self->edu, r, o.cpu, len, PEERMAP_MAP_ONDEMAND);
	EXPECT_TRUE(!err && !differ(r, len, 53)) TH_LOG("on-demand copy: %d", err);
	pm_obj_free(&o);
	munmap(r, len);
}

/*
 * A process killed in the middle of a copy leaves nothing behind: its
 * address space goes first (its registration is invalidated: exit), then
 * its files.
 */
TEST_F(inval, kill9_mid_copy)
{
	unsigned char *r = ram(8192);
	struct peermap_edu_stats s0, s1;
	uint64_t c0 = edu_chunks(self->edu);
	struct pm_obj o;
	int st, err;
	pid_t pid;

	pm_edu_stats(self->edu, &s0);
	ASSERT_TRUE(r) TH_LOG("ram");
	pid = fork();
	if (!pid) {
		size_t len = 256 * 1024;
		unsigned char *d = ram(len);
		struct pm_obj co;
		uint64_t id;

		if (!d || pm_obj_alloc(&self->bar, len, &co))
			_exit(2);
		pm_edu_register(self->edu, d, len, PEERMAP_ACCESS_WRITE,
				PEERMAP_MAP_ONDEMAND, &id);
		pm_edu_copy(self->edu, d, co.cpu, len);
		_exit(3);	/* not reached: killed first */
	}
	self->undo.child = pid;
	edu_wait_chunks(self->edu, c0 + 4);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	self->undo.child = 0;
	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) TH_LOG("child status %#x", st);
	pm_edu_stats(self->edu, &s1);
	EXPECT_TRUE(s1.invalidations > s0.invalidations)
		TH_LOG("the dead process's mappings were not invalidated");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 8192, &o)) TH_LOG("alloc after");
	fill(o.cpu, 8192, 59);
	err = pm_edu_copy(self->edu, r, o.cpu, 8192);
	EXPECT_TRUE(!err && !differ(r, 8192, 59)) TH_LOG("the engine works after: %d", err);
	pm_obj_free(&o);
	munmap(r, 8192);
}

/* Two processes map one object; an eviction reaches both. */
TEST_F(inval, two_processes_one_object)
{
	int go[2], done[2], st;
	unsigned char *r = ram(16384);
	struct pm_obj o;
	uint64_t id = 0;
	char c = 0;
	pid_t pid;

	ASSERT_TRUE(r && !pipe(go) && !pipe(done)) TH_LOG("setup");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 16384, &o)) TH_LOG("alloc");
	undo_obj(&self->undo, &o);
	fill(o.cpu, 16384, 61);
	pid = fork();
	if (!pid) {
		int e = pm_edu_open(0), bad = 0;
		struct peermap_edu_reg_info ci;
		uint64_t cid = 0;

		/* Its own file: the parent's registrations are not its own. */
		self->edu = e;
		bad |= e < 0;
		bad |= pm_edu_register(e, o.cpu, 16384, PEERMAP_ACCESS_READ, 0, &cid) != 0;
		bad |= pm_edu_copy(e, r, o.cpu, 16384) || differ(r, 16384, 61);
		(void)!write(done[1], "r", 1);
		(void)!read(go[0], &c, 1);		/* the parent evicted */
		bad |= pm_edu_reg_info(e, cid, &ci) || ci.valid ||
		       ci.last_reason != PEERMAP_INVAL_REVOKE;
		memset(r, 0, 16384);
		bad |= pm_edu_copy(e, r, o.cpu, 16384) || differ(r, 16384, 61);
		_exit(bad);
	}
	self->undo.child = pid;
	ASSERT_TRUE(!pm_edu_register(self->edu, o.cpu, 16384, PEERMAP_ACCESS_READ, 0, &id))
		TH_LOG("register");
	(void)!read(done[0], &c, 1);
	EXPECT_TRUE(!pm_obj_evict(&o)) TH_LOG("evict");
	/* the parent's registration */
	expect_invalidated(_metadata, self->edu, id, PEERMAP_INVAL_REVOKE);
	(void)!write(go[1], "g", 1);
	waitpid(pid, &st, 0);
	self->undo.child = 0;
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st)) TH_LOG("child: status %#x", st);
	EXPECT_TRUE(!pm_edu_copy(self->edu, r, o.cpu, 16384) && !differ(r, 16384, 61))
		TH_LOG("parent copy");
	pm_edu_unregister(self->edu, id);
	pm_obj_free(&o);
	munmap(r, 16384);
}

/* --- many threads racing ------------------------------------------------- */

/* On the heap: the teardown stops the threads, also after a failed ASSERT. */
struct race {
	struct __test_metadata *md;	/* for TH_LOG */
	int edu;
	struct pm_obj obj;
	unsigned char *ram;		/* 64 KiB, registered and toggled */
	volatile int stop;
	unsigned long iters[4], bad, errors;
	pthread_mutex_t lock;		/* bad, errors */
	pthread_t t[4];
	int nthreads;			/* started */
};

/* Stop the threads started; how many there were. */
static int race_stop(struct race *rc)
{
	int n = rc->nthreads;

	rc->stop = 1;
	while (rc->nthreads > 0)
		pthread_join(rc->t[--rc->nthreads], NULL);
	return n;
}

static void race_fail(struct race *rc, int bad, int err, const char *what)
{
	struct __test_metadata *_metadata = rc->md;

	pthread_mutex_lock(&rc->lock);
	rc->bad += bad;
	if (err) {
		rc->errors++;
		if (rc->errors < 5)
			TH_LOG("%s: %s", what, strerror(-err));
	}
	pthread_mutex_unlock(&rc->lock);
}

static void *race_mover(void *arg)
{
	struct race *rc = arg;
	int err;

	while (!rc->stop) {
		err = pm_obj_evict(&rc->obj);
		if (!err)
			err = pm_obj_restore(&rc->obj);
		if (err)
			race_fail(rc, 0, err, "evict/restore");
		rc->iters[0]++;
		usleep(2000);
	}
	return NULL;
}

static void *race_copier(void *arg)
{
	struct race *rc = arg;
	unsigned char buf[8192];
	int err;

	while (!rc->stop) {
		memset(buf, 0, sizeof(buf));
		err = pm_edu_copy(rc->edu, buf, (char *)rc->obj.cpu + 1000, sizeof(buf));
		if (err) {
			race_fail(rc, 0, err, "copy");
		} else {
			size_t i, bad = 0;

			for (i = 0; i < sizeof(buf); i++)
				bad += buf[i] != pat(67, i + 1000);
			if (bad)
				race_fail(rc, 1, 0, "data");
		}
		rc->iters[1]++;
	}
	return NULL;
}

static void *race_mapper(void *arg)
{
	struct race *rc = arg;
	struct peermap_seg *s;
	unsigned int n;
	int err;

	while (!rc->stop) {
		err = pm_edu_segments(rc->edu, rc->obj.cpu, rc->obj.size,
				      PEERMAP_ACCESS_READ, &s, &n);
		if (err)
			race_fail(rc, 0, err, "segments");
		else
			free(s);
		rc->iters[2]++;
	}
	return NULL;
}

static void *race_registrar(void *arg)
{
	struct race *rc = arg;
	uint64_t a, b;
	int err;

	while (!rc->stop) {
		err = pm_edu_register(rc->edu, rc->obj.cpu, rc->obj.size,
				      PEERMAP_ACCESS_READ, 0, &a);
		if (err) {
			race_fail(rc, 0, err, "register object");
			continue;
		}
		err = pm_edu_register(rc->edu, rc->ram, 65536, PEERMAP_ACCESS_WRITE,
				      rc->iters[3] & 1 ? PEERMAP_MAP_ONDEMAND : 0, &b);
		if (err)
			race_fail(rc, 0, err, "register RAM");
		mprotect(rc->ram, 4096, PROT_READ);
		mprotect(rc->ram, 4096, PROT_READ | PROT_WRITE);
		if (!err)
			pm_edu_unregister(rc->edu, b);
		pm_edu_unregister(rc->edu, a);
		rc->iters[3]++;
	}
	return NULL;
}

/* The budget, and time for the copies in flight when it ends. */
TEST_F_TIMEOUT(inval, threads_race_map_unmap_evict, TEST_TIMEOUT_DEFAULT + STRESS_SECONDS)
{
	void *(*fns[4])(void *) = { race_mover, race_copier, race_mapper,
				    race_registrar };
	int seconds = STRESS_SECONDS, i;
	struct race *rc = calloc(1, sizeof(*rc));

	ASSERT_TRUE(rc) TH_LOG("calloc");
	pthread_mutex_init(&rc->lock, NULL);
	rc->md = _metadata;
	rc->edu = self->edu;
	rc->ram = ram(65536);
	ASSERT_TRUE(rc->ram) TH_LOG("ram");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 65536, &rc->obj)) TH_LOG("alloc");
	undo_obj(&self->undo, &rc->obj);
	fill(rc->obj.cpu, 65536, 67);
	self->undo.race = rc;
	for (i = 0; i < 4; i++) {
		ASSERT_TRUE(!pthread_create(&rc->t[i], NULL, fns[i], rc)) TH_LOG("thread");
		rc->nthreads++;
	}
	sleep(seconds);
	race_stop(rc);
	TH_LOG("%d s: %lu evict+restore, %lu copies, %lu maps, %lu register rounds",
	       seconds, rc->iters[0], rc->iters[1], rc->iters[2], rc->iters[3]);
	EXPECT_TRUE(!rc->bad) TH_LOG("%lu copies read wrong data", rc->bad);
	EXPECT_TRUE(!rc->errors) TH_LOG("%lu calls failed", rc->errors);
	EXPECT_TRUE(rc->iters[0] && rc->iters[1] && rc->iters[2] && rc->iters[3])
		TH_LOG("a thread made no progress");
	EXPECT_TRUE(!differ(rc->obj.cpu, 65536, 67)) TH_LOG("the object changed");
	pm_obj_free(&rc->obj);
	munmap(rc->ram, 65536);
}

/* --- removal ---------------------------------------------------------- */

TEST_F(inval, unload_refused_while_mapped)
{
	struct pm_obj o;
	uint64_t id = 0;
	int st;

	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 8192, &o)) TH_LOG("alloc");
	ASSERT_TRUE(!pm_edu_register(self->edu, o.cpu, 8192, PEERMAP_ACCESS_READ, 0, &id))
		TH_LOG("register");
	self->undo.rmmod = true;
	st = system("rmmod peermap_bar 2>/dev/null");
	EXPECT_NE(0, st) TH_LOG("rmmod succeeded with a live mapping");
	EXPECT_TRUE(!access("/sys/module/peermap_bar", F_OK)) TH_LOG("module gone");
	EXPECT_TRUE(!pm_edu_copy(self->edu, (char *)o.cpu + 4096, o.cpu, 4096))
		TH_LOG("copy after refused rmmod");
	pm_edu_unregister(self->edu, id);
	pm_obj_free(&o);
}

/*
 * The exporter's device goes away (unbind, or hot-unplug with
 * device_del) with live mappings: importers are revoked first, CPU
 * mappings zapped, the object answers "gone".
 */
TEST_F_TIMEOUT(removal, device_removed_with_live_mappings, 300)
{
	struct peermap_bar_obj_info oi;
	unsigned char *r = ram(8192);
	char cmd[PATH_MAX + 128];
	struct pm_obj o;
	uint64_t id = 0;
	int st, err;

	ASSERT_TRUE(r) TH_LOG("ram");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 8192, &o)) TH_LOG("alloc");
	fill(o.cpu, 8192, 71);
	ASSERT_TRUE(!pm_edu_register(self->edu, o.cpu, 8192, PEERMAP_ACCESS_READ, 0, &id))
		TH_LOG("register");
	EXPECT_TRUE(!pm_edu_copy(self->edu, r, o.cpu, 8192) && !differ(r, 8192, 71))
		TH_LOG("copy before");
	snprintf(cmd, sizeof(cmd), "sh %s %s %s%s%s", self->script, variant->how,
		 variant->unplug ? self->unplug_id : "", variant->unplug ? " " : "", self->bdf);
	self->removed = true;
	st = system(cmd);
	EXPECT_EQ(0, st) TH_LOG("'%s': status %d", cmd, st);
	expect_invalidated(_metadata, self->edu, id, PEERMAP_INVAL_REMOVE);
	err = pm_edu_copy(self->edu, r, o.cpu, 8192);
	EXPECT_EQ(-ENODEV, err) TH_LOG("copy from a removed device: %d", err);
	st = child_reads(o.cpu);
	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS) TH_LOG("CPU read: status %#x", st);
	EXPECT_TRUE(!pm_obj_info(&o, &oi) && oi.state == PEERMAP_OBJ_GONE && !oi.peers)
		TH_LOG("state %u peers %u", oi.state, oi.peers);
	EXPECT_EQ(-ENODEV, pm_obj_evict(&o)) TH_LOG("evict a gone object");
	pm_edu_unregister(self->edu, id);
	pm_obj_free(&o);
	munmap(r, 8192);
}

TEST_HARNESS_MAIN
