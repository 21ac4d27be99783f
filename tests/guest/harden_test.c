// SPDX-License-Identifier: GPL-2.0
/*
 * In-guest tests of peermap's promises under pressure: many revokers of
 * one object at once (policy, evict/restore, mprotect, unbind) while
 * copies run, bounce buffers (run on a swiotlb=force topology too),
 * clients with small DMA segment limits, the OOM reaper, an
 * administrator's new route setting, and unprivileged users (RLIMIT_MEMLOCK,
 * no bus addresses, no hanging an unbind).
 *
 * Fixtures:
 *  - "harden" opens the first exporter and importer. Its tests change
 *    nothing outside their process: objects, their policies and evictions
 *    belong to the test's exporter file and go with it.
 *  - "limits" loads the test-only pm_limits.ko (a client with small DMA
 *    segment limits, lent to edu for one map at a time) and unloads it
 *    again if it loaded it.
 *  - "overrides" puts peermap's "overrides" module parameter back as it
 *    found it.
 *  - "revokers_storm", in the variants one_copier and two_copiers: the
 *    storm's threads are stopped in the teardown too. It runs for
 *    2 x PM_STRESS_SECONDS (a budget, default 5).
 *  - "removal" unbinds the exporter's or the importer's driver; its
 *    teardown binds it again. Run it on its own (-f removal), the rest
 *    with -F removal: tests/vm/58-harden.t.
 *
 * Teardowns also run after a failed ASSERT (not after a timeout: the
 * harness kills the test's process group; 58-harden.t binds the drivers
 * again if they are not). A setup that fails has no teardown: setups
 * change nothing outside their process before their last ASSERT.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "peermap.h"
#include "pm_limits.h"
#include "util.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open		434
#endif
#ifndef SYS_process_mrelease
#define SYS_process_mrelease	448
#endif

#define NOBODY	65534

/*
 * Timeouts for the debug kernel under TCG, several times what a run there
 * takes: the storms (PM_STRESS_SECONDS), and the tests that copy through
 * edu for a long time (two revokers: 256 KiB; importers mapping again:
 * 1 MiB; each 4 KiB chunk costs two of edu's 100 ms DMAs).
 */
#define STORM_TIMEOUT		600
#define LONG_COPY_TIMEOUT	600

/* The first importer's PCI name into @name; a failure fails the test. */
static void edu0_pci_name(struct __test_metadata *_metadata, char *name, size_t len)
{
	int err = pm_node_pci_name("peermap-edu0", name, len);

	ASSERT_EQ(0, err) TH_LOG("the PCI name of peermap-edu0: %s", strerror(-err));
}

/* --- many revokers of one object at once -------------------------------- */

#define REGION		(16 * 1024)
#define MAX_COPIERS	2
#define REVOKERS	3

/* Revokers pause 1 to 10 ms: copies make progress between revokes. */
static void jitter(unsigned int *seed)
{
	usleep(1000 + rand_r(seed) % 9000);
}

/*
 * Copiers write patterns into their own region of one object through the
 * DMA engine and check them with the CPU; meanwhile revokers change the
 * object's policy (to the same allowing policy: a revoke and nothing
 * else), evict and restore it, and mprotect a second CPU mapping of it.
 * Each revoker must return only after every importer stopped: a peer
 * write still in flight while the object is copied out would be lost.
 * With one copier a second revoker finds nothing left to revoke while the
 * first waits for the chunk in flight; with two, each waits for the other.
 */
struct storm {
	int edu;			/* the importer the copiers use */
	struct pm_obj obj;
	bool allocated;			/* obj */
	void *alias;			/* a second CPU mapping of obj */
	int copiers;
	int unbinding;			/* the device goes: no CPU reads of obj */
	volatile int stop;
	int threads;			/* started, in t[] from 0 */
	/* policy, evict+restore, mprotect, then each copier's rounds */
	unsigned long iters[REVOKERS + MAX_COPIERS];
	unsigned long bad, errors;
	pthread_mutex_t lock;		/* bad, errors */
	struct peermap_edu_stats s0;	/* the engine's counters at the start */
	pthread_t t[REVOKERS + MAX_COPIERS];
	struct copier {
		struct storm *st;
		int index;
	} c[MAX_COPIERS];
};

static void storm_fail(struct storm *st, unsigned long bad, int err,
		       const char *what)
{
	pthread_mutex_lock(&st->lock);
	st->bad += bad;
	if (err)
		st->errors++;
	if (st->errors + (st->bad ? 1 : 0) < 6)
		printf("#   %s: %s (%lu bytes wrong)\n", what,
		       err ? strerror(-err) : "data", bad);
	pthread_mutex_unlock(&st->lock);
}

static void *storm_copier(void *arg)
{
	struct copier *c = arg;
	struct storm *st = c->st;
	unsigned char *r = ram(REGION), *back = ram(REGION);
	unsigned char *dev = (unsigned char *)st->obj.cpu + c->index * REGION;
	unsigned int seed = 100 + c->index * 1000;
	size_t bad;
	int err;

	if (!r || !back) {
		storm_fail(st, 0, -ENOMEM, "copier memory");
		return NULL;
	}
	while (!st->stop) {
		seed++;
		fill(r, REGION, seed);
		err = pm_edu_copy(st->edu, dev, r, REGION);
		if (err) {
			storm_fail(st, 0, err, "copy RAM -> object");
			continue;
		}
		bad = st->unbinding ? 0 : differ(dev, REGION, seed);
		if (bad)
			storm_fail(st, bad, 0, "object after a peer write");
		memset(back, 0, REGION);
		err = pm_edu_copy(st->edu, back, dev, REGION);
		if (err)
			storm_fail(st, 0, err, "copy object -> RAM");
		else if ((bad = differ(back, REGION, seed)))
			storm_fail(st, bad, 0, "RAM after a peer read");
		st->iters[REVOKERS + c->index]++;
	}
	munmap(r, REGION);
	munmap(back, REGION);
	return NULL;
}

static void *storm_policy(void *arg)
{
	struct storm *st = arg;
	unsigned int seed = 1;
	int err;

	while (!st->stop) {
		err = pm_obj_policy(&st->obj, 0, NULL);
		if (err)
			storm_fail(st, 0, err, "policy");
		st->iters[0]++;
		jitter(&seed);
	}
	return NULL;
}

static void *storm_mover(void *arg)
{
	struct storm *st = arg;
	unsigned int seed = 2;
	int err;

	while (!st->stop) {
		err = pm_obj_evict(&st->obj);
		/* Evicted long enough for a chunk in flight to land. */
		if (!err)
			usleep(50000 + rand_r(&seed) % 200000);
		if (!err)
			err = pm_obj_restore(&st->obj);
		if (err)
			storm_fail(st, 0, err, "evict/restore");
		st->iters[1]++;
		jitter(&seed);
	}
	return NULL;
}

static void *storm_mprotect(void *arg)
{
	struct storm *st = arg;
	unsigned int seed = 3;

	while (!st->stop) {
		if (mprotect(st->alias, PAGE, PROT_READ) ||
		    mprotect(st->alias, PAGE, PROT_READ | PROT_WRITE))
			storm_fail(st, 0, -errno, "mprotect");
		st->iters[2]++;
		jitter(&seed);
	}
	return NULL;
}

/*
 * Allocate the object and start the revokers and @copiers copiers on
 * importer @edu; 0 or -1 with errno. What was started before a failure is
 * in @st for storm_teardown().
 */
static int storm_start(struct storm *st, struct pm_bar *bar, int edu,
		       int copiers, int unbinding)
{
	void *(*revokers[REVOKERS])(void *) = { storm_policy, storm_mover,
						storm_mprotect };
	int i, err;

	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->lock, NULL);
	st->edu = edu;
	st->copiers = copiers;
	st->unbinding = unbinding;
	pm_edu_stats(edu, &st->s0);
	err = pm_obj_alloc(bar, copiers * REGION, &st->obj);
	if (err) {
		errno = -err;
		return -1;
	}
	st->allocated = true;
	st->alias = mmap(NULL, st->obj.size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 bar->fd, (off_t)st->obj.mmap_offset);
	if (st->alias == MAP_FAILED) {
		st->alias = NULL;
		return -1;
	}
	for (i = 0; i < REVOKERS; i++) {
		err = pthread_create(&st->t[i], NULL, revokers[i], st);
		if (err) {
			errno = err;
			return -1;
		}
		st->threads++;
	}
	for (i = 0; i < copiers; i++) {
		st->c[i] = (struct copier){ .st = st, .index = i };
		err = pthread_create(&st->t[REVOKERS + i], NULL, storm_copier, &st->c[i]);
		if (err) {
			errno = err;
			return -1;
		}
		st->threads++;
	}
	return 0;
}

/* Stop every actor started and wait for it. */
static void storm_halt(struct storm *st)
{
	int i;

	st->stop = 1;
	for (i = 0; i < st->threads; i++)
		pthread_join(st->t[i], NULL);
	st->threads = 0;
}

static void storm_stop(struct storm *st)
{
	struct peermap_edu_stats s1 = { 0 };

	storm_halt(st);
	pm_edu_stats(st->edu, &s1);
	printf("# %d copier(s): %lu+%lu rounds; policy revokes %lu, evict+restore %lu, mprotect %lu\n",
	       st->copiers, st->iters[REVOKERS], st->iters[REVOKERS + 1],
	       st->iters[0], st->iters[1], st->iters[2]);
	printf("# engine: %llu chunks, %llu invalidations, %llu re-maps inside copies\n",
	       (unsigned long long)(s1.chunks - st->s0.chunks),
	       (unsigned long long)(s1.invalidations - st->s0.invalidations),
	       (unsigned long long)(s1.remaps - st->s0.remaps));
}

/*
 * A fixture's teardown: the actors stop (also after a failed ASSERT),
 * then the object goes; before the files close.
 */
static void storm_teardown(struct storm *st)
{
	storm_halt(st);
	if (st->alias)
		munmap(st->alias, st->obj.size);
	st->alias = NULL;
	if (st->allocated)
		pm_obj_free(&st->obj);
	st->allocated = false;
}

/* The storms run 2 x PM_STRESS_SECONDS, at most half their timeout. */
static int storm_seconds(struct __test_metadata *_metadata)
{
	int s = 2 * pm_env_seconds("PM_STRESS_SECONDS", 5);

	if (s > STORM_TIMEOUT / 2) {
		TH_LOG("PM_STRESS_SECONDS=%d: the storm runs %d s, half its timeout",
		       s / 2, STORM_TIMEOUT / 2);
		s = STORM_TIMEOUT / 2;
	}
	return s;
}

FIXTURE(harden) {
	struct pm_bar bar;
	int edu;
};

FIXTURE(limits) {
	struct pm_bar bar;
	int edu;
	char edu_name[32];
	int fd;			/* /dev/pm-limits */
	bool loaded;		/* pm_limits.ko was loaded by the setup */
};

FIXTURE(overrides) {
	struct pm_bar bar;
	int edu;
	char edu_name[32];
	char old[512];		/* the parameter as the setup found it */
	bool changed;		/* by the test: the teardown writes old back */
};

FIXTURE(revokers_storm) {
	struct pm_bar bar;
	int edu;
	struct storm st;
};

FIXTURE_VARIANT(revokers_storm) {
	int copiers;
};

FIXTURE_VARIANT_ADD(revokers_storm, one_copier) {
	.copiers = 1,
};

FIXTURE_VARIANT_ADD(revokers_storm, two_copiers) {
	.copiers = 2,
};

FIXTURE(removal) {
	struct pm_bar bar;
	int edu;
	char edu_name[32];
	struct storm st;
	bool bar_unbound, edu_unbound;	/* by the test: bound again in teardown */
	pid_t user, unbind;		/* children left to kill or to wait for */
};

FIXTURE_SETUP(harden)
{
	pm_open_devices(_metadata, &self->bar, &self->edu);
}

FIXTURE_TEARDOWN(harden)
{
	close(self->edu);
	pm_bar_close(&self->bar);
}

FIXTURE_SETUP(revokers_storm)
{
	pm_open_devices(_metadata, &self->bar, &self->edu);
}

FIXTURE_TEARDOWN(revokers_storm)
{
	storm_teardown(&self->st);
	close(self->edu);
	pm_bar_close(&self->bar);
}

TEST_F_TIMEOUT(revokers_storm, keeps_bytes, STORM_TIMEOUT)
{
	struct storm *st = &self->st;
	int i;

	ASSERT_EQ(0, storm_start(st, &self->bar, self->edu, variant->copiers, 0))
		TH_LOG("storm setup: %s", strerror(errno));
	sleep(storm_seconds(_metadata));
	storm_stop(st);
	EXPECT_EQ(0, st->bad) TH_LOG("%lu bytes wrong after copies under revokers", st->bad);
	EXPECT_EQ(0, st->errors) TH_LOG("%lu calls failed", st->errors);
	for (i = 0; i < REVOKERS + variant->copiers; i++) {
		EXPECT_NE(0, st->iters[i]) TH_LOG("actor %d made no progress", i);
	}
}

/* --- a driver unbound under load ----------------------------------------- */

/* Is the PCI device @dev bound to @driver? */
static bool bound(const char *driver, const char *dev)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/%s", driver, dev);
	return access(path, F_OK) == 0;
}

/* Bind @dev to @driver again, unless it is; a failure fails the test. */
static void rebind(struct __test_metadata *_metadata, const char *driver, const char *dev)
{
	char path[128];
	int err;

	if (bound(driver, dev))
		return;
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/bind", driver);
	err = write_file(path, dev);
	EXPECT_EQ(0, err) TH_LOG("bind %s to %s: %s", dev, driver, strerror(-err));
	EXPECT_TRUE(bound(driver, dev)) TH_LOG("%s not bound to %s again", dev, driver);
}

FIXTURE_SETUP(removal)
{
	pm_open_devices(_metadata, &self->bar, &self->edu);
	edu0_pci_name(_metadata, self->edu_name, sizeof(self->edu_name));
}

FIXTURE_TEARDOWN(removal)
{
	int st;

	storm_teardown(&self->st);
	if (self->user > 0) {
		kill(self->user, SIGKILL);
		waitpid(self->user, NULL, 0);
	}
	if (self->unbind > 0)
		waitpid(self->unbind, &st, 0);
	close(self->edu);
	pm_bar_close(&self->bar);
	if (self->bar_unbound)
		rebind(_metadata, "peermap_bar", self->bar.info.pci_name);
	if (self->edu_unbound)
		rebind(_metadata, "peermap_edu", self->edu_name);
}

/*
 * The same storm, and the exporter's driver unbound in the middle of it:
 * every actor ends (copies fail with ENODEV, nothing hangs), the object is
 * gone, and the kernel reports nothing (vm-run fails on any report).
 * Copies are checked through the RAM they copy back only: a CPU read of
 * the removed object is SIGBUS, as it should be.
 */
TEST_F(removal, revokers_storm_then_unbind)
{
	struct peermap_bar_obj_info oi = { 0 };
	struct storm *st = &self->st;

	ASSERT_EQ(0, storm_start(st, &self->bar, self->edu, MAX_COPIERS, 1))
		TH_LOG("storm setup: %s", strerror(errno));
	edu_wait_chunks(self->edu, st->s0.chunks + 6);
	self->bar_unbound = true;
	EXPECT_EQ(0, write_file("/sys/bus/pci/drivers/peermap_bar/unbind",
				self->bar.info.pci_name))
		TH_LOG("unbind %s", self->bar.info.pci_name);
	usleep(200000);
	storm_stop(st);
	EXPECT_TRUE(!pm_obj_info(&st->obj, &oi) && oi.state == PEERMAP_OBJ_GONE && !oi.peers)
		TH_LOG("state %u peers %u", oi.state, oi.peers);
	printf("# %lu calls failed after the unbind (ENODEV expected)\n", st->errors);
}

/* --- two revokers, and a revoker against an importer that maps again --- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct long_copy {
	pthread_t t;
	struct edu_copy_job job;
};

/* Start copying @len bytes of RAM into @o; returns once chunks flow. */
static int long_copy_start(int edu, struct long_copy *lc, struct pm_obj *o, size_t len)
{
	uint64_t c0 = edu_chunks(edu);

	lc->job = (struct edu_copy_job){ .fd = edu, .dst = o->cpu, .len = len,
					 .src = ram(len) };
	if (!lc->job.src || pthread_create(&lc->t, NULL, edu_copy_thread, &lc->job))
		return -1;
	edu_wait_chunks(edu, c0 + 2);
	return 0;
}

static void long_copy_end(struct long_copy *lc)
{
	pthread_join(lc->t, NULL);
	munmap((void *)lc->job.src, lc->job.len);
}

struct revoker {
	pthread_t t;
	struct pm_obj *obj;
	double start, end;
	int err;
};

static void *policy_revoke_fn(void *arg)
{
	struct revoker *rv = arg;

	rv->start = now_s();
	rv->err = pm_obj_policy(rv->obj, 0, NULL);
	rv->end = now_s();
	return NULL;
}

/*
 * A second revoker of an object arrives while the first waits for the
 * importer's chunk in flight: it must not return before the first, since
 * until then an importer may still use the old addresses.
 */
TEST_F_TIMEOUT(harden, second_revoker_waits_for_the_first, LONG_COPY_TIMEOUT)
{
	struct revoker first = { 0 }, second = { 0 };
	struct long_copy lc;
	int round, early = 0;
	struct pm_obj o;

	ASSERT_EQ(0, pm_obj_alloc(&self->bar, 256 * 1024, &o)) TH_LOG("alloc");
	ASSERT_EQ(0, long_copy_start(self->edu, &lc, &o, o.size)) TH_LOG("copy thread");
	for (round = 0; round < 5; round++) {
		first.obj = second.obj = &o;
		pthread_create(&first.t, NULL, policy_revoke_fn, &first);
		usleep(20000);	/* the first is now waiting for the chunk */
		policy_revoke_fn(&second);
		pthread_join(first.t, NULL);
		EXPECT_TRUE(!first.err && !second.err)
			TH_LOG("policy: %d %d", first.err, second.err);
		/*
		 * The first returns to user space a moment after its revoke
		 * lets the second go: early means by more than that, while
		 * the chunk in flight (200 ms) still held the first.
		 */
		if (second.end < first.end - 0.02) {
			early++;
			printf("#   round %d: the second revoker returned %.0f ms before the first\n",
			       round, (first.end - second.end) * 1e3);
		}
		usleep(50000);
	}
	long_copy_end(&lc);
	EXPECT_EQ(0, lc.job.err) TH_LOG("copy: %s", strerror(-lc.job.err));
	EXPECT_EQ(0, early)
		TH_LOG("%d of 5 second revokers returned while the first still waited", early);
	pm_obj_free(&o);
}

/*
 * Importers that map again right after each invalidation (two edu copies
 * into one object, taking turns on the engine) must not keep a revoker
 * going: it revokes what was mapped when it started, and returns. Five
 * revokes at different moments of the copies' chunks.
 */
TEST_F_TIMEOUT(harden, revoke_ends_while_importers_map_again, LONG_COPY_TIMEOUT)
{
	static const int delay_ms[] = { 17, 53, 89, 131, 173 };
	struct long_copy lc[2];
	struct pm_obj o, half;
	double took, longest = 0;
	unsigned int i;
	int err = 0;

	ASSERT_EQ(0, pm_obj_alloc(&self->bar, 1024 * 1024, &o)) TH_LOG("alloc");
	half = o;
	half.cpu = (char *)o.cpu + o.size / 2;
	half.size = o.size / 2;
	ASSERT_EQ(0, long_copy_start(self->edu, &lc[0], &o, o.size / 2)) TH_LOG("copy thread");
	ASSERT_EQ(0, long_copy_start(self->edu, &lc[1], &half, half.size)) TH_LOG("copy thread");
	for (i = 0; i < sizeof(delay_ms) / sizeof(delay_ms[0]); i++) {
		struct revoker r = { .obj = &o };

		usleep(delay_ms[i] * 1000);
		policy_revoke_fn(&r);
		took = r.end - r.start;
		err |= r.err;
		if (took > longest)
			longest = took;
	}
	printf("# the longest of 5 revokes took %.0f ms while two %zu KiB copies went on\n",
	       longest * 1e3, lc[0].job.len >> 10);
	long_copy_end(&lc[0]);
	long_copy_end(&lc[1]);
	EXPECT_TRUE(!err && !lc[0].job.err && !lc[1].job.err)
		TH_LOG("policy %d, copies %d %d", err, lc[0].job.err, lc[1].job.err);
	EXPECT_LT(longest, 2.0)
		TH_LOG("a revoke lasted %.1f s: it followed the importers' re-maps", longest);
	pm_obj_free(&o);
}

/* --- bounce buffers (swiotlb) -------------------------------------------- */

/*
 * A registration's RAM is DMA-mapped once; the CPU then writes it. An
 * invalidation (here: mprotect of a piece) must not copy the map-time
 * bounce buffer back over those writes.
 */
TEST_F(harden, cpu_writes_survive_invalidation)
{
	size_t len = 4 * PAGE;
	unsigned char *r = ram(len);
	struct peermap_edu_reg_info info;
	uint64_t id = 0;

	ASSERT_NE(NULL, r) TH_LOG("ram");
	fill(r, len, 1);
	ASSERT_EQ(0, pm_edu_register(self->edu, r, len, PEERMAP_ACCESS_WRITE, 0, &id))
		TH_LOG("register");
	fill(r, len, 2);
	EXPECT_EQ(0, mprotect(r, PAGE, PROT_READ)) TH_LOG("mprotect");
	EXPECT_TRUE(!pm_edu_reg_info(self->edu, id, &info) && !info.valid)
		TH_LOG("not invalidated");
	EXPECT_EQ(0, differ(r, len, 2))
		TH_LOG("%zu bytes of the CPU's writes lost", differ(r, len, 2));
	pm_edu_unregister(self->edu, id);
	munmap(r, len);
}

/*
 * A copy into the first page of a registered buffer must leave the CPU's
 * newer writes to the rest of it alone.
 */
TEST_F(harden, cpu_writes_beside_a_copy_survive)
{
	size_t len = 16 * PAGE;
	unsigned char *r = ram(len), *src = ram(PAGE);
	uint64_t id = 0;
	int err;

	ASSERT_TRUE(r && src) TH_LOG("ram");
	memset(r, FILLER, len);
	fill(src, PAGE, 3);
	ASSERT_EQ(0, pm_edu_register(self->edu, r, len, PEERMAP_ACCESS_WRITE, 0, &id))
		TH_LOG("register");
	fill(r + 8 * PAGE, 8 * PAGE, 4);
	err = pm_edu_copy(self->edu, r, src, PAGE);
	EXPECT_EQ(0, err) TH_LOG("copy: %s", strerror(-err));
	EXPECT_EQ(0, differ(r, PAGE, 3)) TH_LOG("%zu copied bytes wrong", differ(r, PAGE, 3));
	EXPECT_EQ(0, not_filler(r + PAGE, 7 * PAGE)) TH_LOG("bytes beside the copy changed");
	EXPECT_EQ(0, differ(r + 8 * PAGE, 8 * PAGE, 4))
		TH_LOG("%zu bytes of the CPU's writes lost", differ(r + 8 * PAGE, 8 * PAGE, 4));
	pm_edu_unregister(self->edu, id);
	munmap(r, len);
	munmap(src, PAGE);
}

/* The CPU writes a registered source after it was mapped: the device reads that. */
TEST_F(harden, cpu_writes_after_register_reach_device)
{
	size_t len = 4 * PAGE;
	unsigned char *r = ram(len), *dst = ram(len);
	uint64_t id = 0;
	int err, i;

	ASSERT_TRUE(r && dst) TH_LOG("ram");
	fill(r, len, 5);
	ASSERT_EQ(0, pm_edu_register(self->edu, r, len, PEERMAP_ACCESS_READ, 0, &id))
		TH_LOG("register");
	for (i = 0; i < 2; i++) {
		fill(r, len, 6 + i);
		memset(dst, 0, len);
		err = pm_edu_copy(self->edu, dst, r, len);
		EXPECT_TRUE(!err && !differ(dst, len, 6 + i))
			TH_LOG("copy %d: err %d, %zu bytes wrong", i, err, differ(dst, len, 6 + i));
	}
	pm_edu_unregister(self->edu, id);
	munmap(r, len);
	munmap(dst, len);
}

/* --- a client with small DMA segment limits ------------------------------- */

/*
 * pm_limits.ko lends edu the limits for one map and puts edu's own back
 * before its ioctl returns: nothing of them outlives a test. The module
 * itself is unloaded again if this setup loaded it (it would keep peermap
 * from unloading).
 */
FIXTURE_SETUP(limits)
{
	int err;

	pm_open_devices(_metadata, &self->bar, &self->edu);
	edu0_pci_name(_metadata, self->edu_name, sizeof(self->edu_name));
	/* Last: a setup that fails has no teardown. */
	self->fd = open("/dev/pm-limits", O_RDWR);
	if (self->fd < 0 && system("insmod /lib/peermap/test/pm_limits.ko") == 0) {
		self->loaded = true;
		self->fd = open("/dev/pm-limits", O_RDWR);
		if (self->fd < 0) {
			err = errno;
			if (!system("rmmod pm_limits"))
				self->loaded = false;
			errno = err;
		}
	}
	ASSERT_LE(0, self->fd) TH_LOG("/dev/pm-limits: %s", strerror(errno));
}

FIXTURE_TEARDOWN(limits)
{
	close(self->edu);
	pm_bar_close(&self->bar);
	close(self->fd);
	if (self->loaded) {
		EXPECT_EQ(0, system("rmmod pm_limits")) TH_LOG("rmmod pm_limits");
	}
}

static int limits_map(FIXTURE_DATA(limits) *self, const void *addr, size_t len,
		      unsigned int max_seg, uint64_t boundary,
		      struct peermap_seg *segs, unsigned int *nsegs)
{
	struct pm_limits_map q = {
		.addr = (uintptr_t)addr, .len = len, .boundary = boundary,
		.max_seg = max_seg, .nsegs = *nsegs, .segs = (uintptr_t)segs,
	};

	snprintf(q.client, sizeof(q.client), "%s", self->edu_name);
	if (ioctl(self->fd, PM_LIMITS_IOC_MAP, &q))
		return -errno;
	*nsegs = q.nsegs;
	return 0;
}

/* Every segment within max_seg, none across a boundary, all of len covered. */
static void expect_within(struct __test_metadata *_metadata, FIXTURE_DATA(limits) *self,
			  const char *what, const void *addr, size_t len,
			  unsigned int max_seg, uint64_t boundary)
{
	unsigned int n = 4096, i, over = 0, across = 0;
	struct peermap_seg *s = calloc(n, sizeof(*s));
	uint64_t sum = 0;
	int err;

	ASSERT_NE(NULL, s) TH_LOG("calloc");
	err = limits_map(self, addr, len, max_seg, boundary, s, &n);
	EXPECT_EQ(0, err) TH_LOG("%s: map: %s", what, strerror(-err));
	for (i = 0; !err && i < n && i < 4096; i++) {
		sum += s[i].len;
		over += s[i].len > max_seg;
		across += (s[i].addr & ~boundary) !=
			  ((s[i].addr + s[i].len - 1) & ~boundary);
	}
	printf("# %s, max %u, boundary %#llx: %u segments\n", what, max_seg,
	       (unsigned long long)boundary, n);
	EXPECT_TRUE(!err && sum == len)
		TH_LOG("%s: segments cover %llu of %zu bytes", what,
		       (unsigned long long)sum, len);
	EXPECT_EQ(0, over) TH_LOG("%s: %u segments longer than %u", what, over, max_seg);
	EXPECT_EQ(0, across)
		TH_LOG("%s: %u segments cross a %#llx boundary", what, across,
		       (unsigned long long)boundary + 1);
	free(s);
}

TEST_F(limits, segments_respect_client_limits)
{
	size_t len = 1 << 20;
	unsigned char *r;
	struct pm_obj o;

	ASSERT_EQ(0, pm_obj_alloc(&self->bar, len, &o)) TH_LOG("alloc");
	r = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, r) TH_LOG("ram");
	expect_within(_metadata, self, "1 MiB object", o.cpu, len, 65536, ~0ULL);
	expect_within(_metadata, self, "1 MiB object", o.cpu, len, 1 << 20, 0x7fff);
	expect_within(_metadata, self, "1 MiB object at +4 KiB", (char *)o.cpu + PAGE,
		      len - PAGE, 3 * PAGE, 0x3fff);
	expect_within(_metadata, self, "1 MiB RAM", r, len, 65536, ~0ULL);
	expect_within(_metadata, self, "1 MiB RAM", r, len, 1 << 20, 0x7fff);
	munmap(r, len);
	pm_obj_free(&o);
}

/* --- the OOM reaper ------------------------------------------------------ */

/*
 * The OOM reaper (and process_mrelease()) tears a dying process's memory
 * down through mmu notifiers that must not sleep. A mapping whose
 * invalidation would sleep (the importer's callback waits for its DMA)
 * must answer "not now", so the reaper leaves that memory to exit().
 */
TEST_F(harden, reaper_is_told_not_now)
{
	int st, ret = 0, err = 0, tries;
	uint64_t c0;
	pid_t pid;

	for (tries = 0; tries < 3; tries++) {
		c0 = edu_chunks(self->edu);
		pid = fork();
		if (!pid) {
			size_t len = 64 * 1024;
			unsigned char *d = ram(len);
			struct pm_obj co;
			uint64_t id;

			if (!d || pm_obj_alloc(&self->bar, len, &co))
				_exit(2);
			if (pm_edu_register(self->edu, d, len, PEERMAP_ACCESS_WRITE, 0, &id))
				_exit(3);
			pm_edu_copy(self->edu, d, co.cpu, len);
			_exit(4);	/* not reached: killed first */
		}
		edu_wait_chunks(self->edu, c0 + 2);
		{
			int pidfd = syscall(SYS_pidfd_open, pid, 0);

			kill(pid, SIGKILL);
			ret = syscall(SYS_process_mrelease, pidfd, 0);
			err = ret ? errno : 0;
			close(pidfd);
		}
		waitpid(pid, &st, 0);
		EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			TH_LOG("child status %#x", st);
		if (!(ret && (err == ESRCH || err == EINVAL)))
			break;	/* the child was gone already: try again */
	}
	printf("# process_mrelease: %s\n", ret ? strerror(err) : "reaped");
	EXPECT_TRUE(ret && err == EAGAIN)
		TH_LOG("the reaper tore a live registration down without waiting (ret %d, %s)",
		       ret, strerror(err));
}

/* --- an administrator's new route setting ------------------------------- */

#define OVERRIDES	"/sys/module/peermap/parameters/overrides"

/* The parameter as found, written back by the teardown if the test changed it. */
FIXTURE_SETUP(overrides)
{
	ssize_t n;
	int fd;

	fd = open(OVERRIDES, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", OVERRIDES, strerror(errno));
	n = read(fd, self->old, sizeof(self->old) - 1);
	close(fd);
	self->old[n > 0 ? n : 0] = '\0';
	if (n > 0 && self->old[n - 1] == '\n')
		self->old[n - 1] = '\0';
	pm_open_devices(_metadata, &self->bar, &self->edu);
	edu0_pci_name(_metadata, self->edu_name, sizeof(self->edu_name));
}

/* Write the parameter as the setup found it (" " for none); 0 or -errno. */
static int overrides_restore(FIXTURE_DATA(overrides) *self)
{
	int err = write_file(OVERRIDES, *self->old ? self->old : " ");

	if (!err)
		self->changed = false;
	return err;
}

FIXTURE_TEARDOWN(overrides)
{
	int err;

	close(self->edu);
	pm_bar_close(&self->bar);
	if (self->changed) {
		err = overrides_restore(self);
		EXPECT_EQ(0, err) TH_LOG("restore '%s': %s", self->old, strerror(-err));
	}
}

TEST_F(overrides, admin_deny_revokes_live_peer_mapping)
{
	unsigned char *r = ram(8192);
	struct peermap_edu_reg_info info;
	char rule[160];
	struct pm_obj o;
	uint64_t id = 0;
	int err;

	ASSERT_NE(NULL, r) TH_LOG("ram");
	ASSERT_EQ(0, pm_obj_alloc(&self->bar, 8192, &o)) TH_LOG("alloc");
	fill(o.cpu, 8192, 9);
	ASSERT_EQ(0, pm_edu_register(self->edu, o.cpu, 8192, PEERMAP_ACCESS_READ, 0, &id))
		TH_LOG("register");
	err = pm_edu_copy(self->edu, r, o.cpu, 8192);
	EXPECT_TRUE(!err && !differ(r, 8192, 9)) TH_LOG("copy before: %d", err);
	snprintf(rule, sizeof(rule), "deny:%s,%s", self->bar.info.pci_name, self->edu_name);
	self->changed = true;
	EXPECT_EQ(0, write_file(OVERRIDES, rule)) TH_LOG("write %s", rule);
	EXPECT_TRUE(!pm_edu_reg_info(self->edu, id, &info) && !info.valid)
		TH_LOG("the peer mapping stayed valid after '%s'", rule);
	err = pm_edu_copy(self->edu, r, o.cpu, 8192);
	EXPECT_EQ(-EREMOTEIO, err) TH_LOG("copy of a denied pair: %d", err);
	EXPECT_EQ(0, overrides_restore(self)) TH_LOG("restore '%s'", self->old);
	memset(r, 0, 8192);
	err = pm_edu_copy(self->edu, r, o.cpu, 8192);
	EXPECT_TRUE(!err && !differ(r, 8192, 9)) TH_LOG("copy after the rule went: %d", err);
	pm_edu_unregister(self->edu, id);
	pm_obj_free(&o);
	munmap(r, 8192);
}

/* --- unprivileged users -------------------------------------------------- */

/*
 * Start @fn as user nobody with RLIMIT_MEMLOCK @memlock bytes in a child
 * of the test's process (only that child changes its user), with its own
 * importer file and no other device file; its exit status is a bit mask
 * of failed checks (0: all passed).
 */
static pid_t spawn_as_nobody(int bar_fd, int edu, rlim_t memlock, int (*fn)(int edu))
{
	struct rlimit rl = { memlock, memlock };
	pid_t pid = fork();

	if (!pid) {
		close(bar_fd);
		close(edu);
		if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgid(NOBODY) || setuid(NOBODY))
			_exit(255);
		edu = pm_edu_open(0);
		_exit(edu < 0 ? 254 : fn(edu));
	}
	return pid;
}

static int as_nobody(int bar_fd, int edu, rlim_t memlock, int (*fn)(int edu))
{
	pid_t pid = spawn_as_nobody(bar_fd, edu, memlock, fn);
	int st;

	if (pid < 0)
		return 252;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 253;
}

static int nobody_pins(int edu)
{
	size_t big = 4 << 20;
	unsigned char *r = ram(big), *d = ram(big);
	uint64_t a = 0, b = 0;
	int bad = 0, err, i;

	if (!r || !d)
		return 128;
	err = pm_edu_register(edu, r, big, PEERMAP_ACCESS_READ, 0, &a);
	if (err != -ENOMEM) {
		printf("#   pinned 4 MiB over a 64 KiB limit: %d\n", err);
		bad |= 1;
	}
	err = pm_edu_register(edu, r, 32768, PEERMAP_ACCESS_READ, 0, &a);
	if (err) {
		printf("#   pinned 32 KiB within a 64 KiB limit: %d\n", err);
		bad |= 2;
	}
	err = pm_edu_register(edu, r + 65536, 65536, PEERMAP_ACCESS_READ, 0, &b);
	if (err != -ENOMEM) {
		printf("#   pinned 32 + 64 KiB over a 64 KiB limit: %d\n", err);
		bad |= 4;
	}
	pm_edu_unregister(edu, a);
	err = pm_edu_register(edu, r + 65536, 65536, PEERMAP_ACCESS_READ, 0, &b);
	if (err) {
		printf("#   64 KiB after 32 KiB were unpinned: %d\n", err);
		bad |= 8;
	}
	pm_edu_unregister(edu, b);
	err = pm_edu_copy(edu, d, r, big);
	if (err != -ENOMEM) {
		printf("#   copy of 4 MiB pinned over the limit: %d\n", err);
		bad |= 16;
	}
	err = pm_edu_register(edu, r, big, PEERMAP_ACCESS_READ,
			      PEERMAP_MAP_ONDEMAND, &a);
	if (err) {
		printf("#   on-demand 4 MiB (nothing pinned): %d\n", err);
		bad |= 32;
	}
	pm_edu_unregister(edu, a);
	/*
	 * A whole-limit registration invalidated (mprotect) and mapped again
	 * at once, 20 times: its old pins are not counted twice.
	 */
	for (i = 0; i < 20 && !(bad & 64); i++) {
		err = pm_edu_register(edu, r, 65536, PEERMAP_ACCESS_READ, 0, &a);
		if (!err && mprotect(r, PAGE, (i & 1) ? PROT_READ | PROT_WRITE : PROT_READ))
			err = -errno;
		if (!err)	/* the destination pins nothing */
			err = pm_edu_copy_flags(edu, d, r, PAGE, PEERMAP_MAP_ONDEMAND);
		if (err) {
			printf("#   64 KiB registered, invalidated, used again (round %d): %d\n",
			       i, err);
			bad |= 64;
		}
		pm_edu_unregister(edu, a);
	}
	return bad;
}

TEST_F(harden, unprivileged_pins_are_charged_to_memlock)
{
	int bad = as_nobody(self->bar.fd, self->edu, 65536, nobody_pins);

	EXPECT_EQ(0, bad) TH_LOG("failed checks %#x", bad);
}

static int nobody_segments(int edu)
{
	unsigned char *r = ram(8 * PAGE);
	struct peermap_seg *s;
	unsigned int n, i;
	uint64_t sum = 0;
	int bad = 0;

	if (!r || pm_edu_segments(edu, r, 8 * PAGE, PEERMAP_ACCESS_READ, &s, &n))
		return 128;
	for (i = 0; i < n; i++) {
		sum += s[i].len;
		if (s[i].addr) {
			bad |= 1;
			printf("#   segment %u shows address %#llx\n", i,
			       (unsigned long long)s[i].addr);
		}
	}
	bad |= sum != 8 * PAGE ? 2 : 0;
	free(s);
	return bad;
}

TEST_F(harden, unprivileged_sees_no_bus_addresses)
{
	unsigned char *r = ram(8 * PAGE);
	struct peermap_seg *s;
	unsigned int n = 0;
	int bad;

	ASSERT_NE(NULL, r) TH_LOG("ram");
	ASSERT_EQ(0, pm_edu_segments(self->edu, r, 8 * PAGE, PEERMAP_ACCESS_READ, &s, &n))
		TH_LOG("segments");
	EXPECT_TRUE(n && s[0].addr) TH_LOG("root sees the addresses");
	free(s);
	bad = as_nobody(self->bar.fd, self->edu, 1 << 20, nobody_segments);
	EXPECT_EQ(0, bad) TH_LOG("failed checks %#x", bad);
	munmap(r, 8 * PAGE);
}

/*
 * Register 8 MiB again and again and keep every registration, as a user
 * who never closes the file would, until killed.
 */
static int nobody_registers_forever(int edu)
{
	size_t len = 8 << 20;
	unsigned char *r = ram(len);
	uint64_t id;
	int i;

	for (i = 0; i < 200; i++)
		pm_edu_register(edu, r, len, PEERMAP_ACCESS_READ,
				PEERMAP_MAP_ONDEMAND, &id);
	pause();
	return 0;
}

/*
 * A user registering in a loop while the importer's driver is unbound
 * must not keep the unbind waiting for it.
 */
TEST_F(removal, unprivileged_cannot_hang_unbind)
{
	int st = 0, i, done = 0;

	self->user = spawn_as_nobody(self->bar.fd, self->edu, 64 << 20,
				     nobody_registers_forever);
	ASSERT_LT(0, self->user) TH_LOG("fork");
	usleep(300000);
	self->edu_unbound = true;
	self->unbind = fork();
	if (!self->unbind)
		_exit(write_file("/sys/bus/pci/drivers/peermap_edu/unbind",
				 self->edu_name) ? 1 : 0);
	for (i = 0; i < 600 && !done; i++) {
		if (waitpid(self->unbind, &st, WNOHANG) == self->unbind)
			done = 1;
		else
			usleep(100000);
	}
	EXPECT_TRUE(done) TH_LOG("unbind still waiting after 60 s while a user registers");
	kill(self->user, SIGKILL);
	waitpid(self->user, NULL, 0);
	self->user = 0;
	if (!done)
		waitpid(self->unbind, &st, 0);
	self->unbind = 0;
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st)) TH_LOG("unbind: status %#x", st);
}

TEST_HARNESS_MAIN
