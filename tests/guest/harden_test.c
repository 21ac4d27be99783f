// SPDX-License-Identifier: GPL-2.0
/*
 * In-guest tests of peermap's promises under pressure: many revokers of
 * one object at once (policy, evict/restore, mprotect, unbind) while
 * copies run, bounce buffers (run on a swiotlb=force topology too),
 * clients with small DMA segment limits, the OOM reaper, an
 * administrator's new route setting, and unprivileged users (RLIMIT_MEMLOCK,
 * no bus addresses, no hanging an unbind).
 *
 * Environment: PM_STRESS_SECONDS (default 5) for the racing threads.
 * `pm-harden_test removal` runs the tests that unbind a driver.
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "legacy_harness.h"
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

static struct pm_bar bar;
static int edu;
static char edu_name[32];

static int stress_seconds(void)
{
	const char *s = getenv("PM_STRESS_SECONDS");
	int n = s ? atoi(s) : 5;

	return n > 0 ? n : 1;
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
	struct pm_obj obj;
	void *alias;			/* a second CPU mapping of obj */
	int copiers;
	int unbinding;			/* the device goes: no CPU reads of obj */
	volatile int stop;
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
		err = pm_edu_copy(edu, dev, r, REGION);
		if (err) {
			storm_fail(st, 0, err, "copy RAM -> object");
			continue;
		}
		bad = st->unbinding ? 0 : differ(dev, REGION, seed);
		if (bad)
			storm_fail(st, bad, 0, "object after a peer write");
		memset(back, 0, REGION);
		err = pm_edu_copy(edu, back, dev, REGION);
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

static int storm_start(struct storm *st, int copiers, int unbinding)
{
	void *(*revokers[REVOKERS])(void *) = { storm_policy, storm_mover,
						storm_mprotect };
	int i;

	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->lock, NULL);
	st->copiers = copiers;
	st->unbinding = unbinding;
	pm_edu_stats(edu, &st->s0);
	if (pm_obj_alloc(&bar, copiers * REGION, &st->obj))
		return -1;
	st->alias = mmap(NULL, st->obj.size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 bar.fd, (off_t)st->obj.mmap_offset);
	if (st->alias == MAP_FAILED)
		return -1;
	for (i = 0; i < REVOKERS; i++)
		if (pthread_create(&st->t[i], NULL, revokers[i], st))
			return -1;
	for (i = 0; i < copiers; i++) {
		st->c[i] = (struct copier){ .st = st, .index = i };
		if (pthread_create(&st->t[REVOKERS + i], NULL, storm_copier, &st->c[i]))
			return -1;
	}
	return 0;
}

static void storm_stop(struct storm *st)
{
	struct peermap_edu_stats s1 = { 0 };
	int i;

	st->stop = 1;
	for (i = 0; i < REVOKERS + st->copiers; i++)
		pthread_join(st->t[i], NULL);
	pm_edu_stats(edu, &s1);
	printf("# %d copier(s): %lu+%lu rounds; policy revokes %lu, evict+restore %lu, mprotect %lu\n",
	       st->copiers, st->iters[REVOKERS], st->iters[REVOKERS + 1],
	       st->iters[0], st->iters[1], st->iters[2]);
	printf("# engine: %llu chunks, %llu invalidations, %llu re-maps inside copies\n",
	       (unsigned long long)(s1.chunks - st->s0.chunks),
	       (unsigned long long)(s1.invalidations - st->s0.invalidations),
	       (unsigned long long)(s1.remaps - st->s0.remaps));
}

static void storm_end(struct storm *st)
{
	munmap(st->alias, st->obj.size);
	pm_obj_free(&st->obj);
}

static void revokers_storm(int copiers)
{
	static struct storm st;
	int i;

	ASSERT(!storm_start(&st, copiers, 0), "storm setup: %s", strerror(errno));
	sleep(2 * stress_seconds());
	storm_stop(&st);
	EXPECT(!st.bad, "%lu bytes wrong after copies under revokers", st.bad);
	EXPECT(!st.errors, "%lu calls failed", st.errors);
	for (i = 0; i < REVOKERS + copiers; i++)
		EXPECT(st.iters[i], "actor %d made no progress", i);
	storm_end(&st);
}

static void revokers_storm_one_copier_keeps_bytes(void)
{
	revokers_storm(1);
}

static void revokers_storm_two_copiers_keep_bytes(void)
{
	revokers_storm(2);
}

/*
 * The same storm, and the exporter's driver unbound in the middle of it:
 * every actor ends (copies fail with ENODEV, nothing hangs), the object is
 * gone, and the kernel reports nothing (vm-run fails on any report).
 * Copies are checked through the RAM they copy back only: a CPU read of
 * the removed object is SIGBUS, as it should be.
 */
static void revokers_storm_then_unbind(void)
{
	struct peermap_bar_obj_info oi;
	static struct storm st;

	ASSERT(!storm_start(&st, MAX_COPIERS, 1), "storm setup: %s", strerror(errno));
	edu_wait_chunks(edu, st.s0.chunks + 6);
	EXPECT(!write_file("/sys/bus/pci/drivers/peermap_bar/unbind", bar.info.pci_name),
	       "unbind %s", bar.info.pci_name);
	usleep(200000);
	storm_stop(&st);
	EXPECT(!pm_obj_info(&st.obj, &oi) && oi.state == PEERMAP_OBJ_GONE && !oi.peers,
	       "state %u peers %u", oi.state, oi.peers);
	printf("# %lu calls failed after the unbind (ENODEV expected)\n", st.errors);
	storm_end(&st);
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
static int long_copy_start(struct long_copy *lc, struct pm_obj *o, size_t len)
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
static void second_revoker_waits_for_the_first(void)
{
	struct revoker first = { 0 }, second = { 0 };
	struct long_copy lc;
	int round, early = 0;
	struct pm_obj o;

	ASSERT(!pm_obj_alloc(&bar, 256 * 1024, &o), "alloc");
	ASSERT(!long_copy_start(&lc, &o, o.size), "copy thread");
	for (round = 0; round < 5; round++) {
		first.obj = second.obj = &o;
		pthread_create(&first.t, NULL, policy_revoke_fn, &first);
		usleep(20000);	/* the first is now waiting for the chunk */
		policy_revoke_fn(&second);
		pthread_join(first.t, NULL);
		EXPECT(!first.err && !second.err, "policy: %d %d", first.err, second.err);
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
	EXPECT(!lc.job.err, "copy: %s", strerror(-lc.job.err));
	EXPECT(!early, "%d of 5 second revokers returned while the first still waited", early);
	pm_obj_free(&o);
}

/*
 * Importers that map again right after each invalidation (two edu copies
 * into one object, taking turns on the engine) must not keep a revoker
 * going: it revokes what was mapped when it started, and returns. Five
 * revokes at different moments of the copies' chunks.
 */
static void revoke_ends_while_importers_map_again(void)
{
	static const int delay_ms[] = { 17, 53, 89, 131, 173 };
	struct long_copy lc[2];
	struct pm_obj o, half;
	double took, longest = 0;
	unsigned int i;
	int err = 0;

	ASSERT(!pm_obj_alloc(&bar, 1024 * 1024, &o), "alloc");
	half = o;
	half.cpu = (char *)o.cpu + o.size / 2;
	half.size = o.size / 2;
	ASSERT(!long_copy_start(&lc[0], &o, o.size / 2), "copy thread");
	ASSERT(!long_copy_start(&lc[1], &half, half.size), "copy thread");
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
	EXPECT(!err && !lc[0].job.err && !lc[1].job.err, "policy %d, copies %d %d",
	       err, lc[0].job.err, lc[1].job.err);
	EXPECT(longest < 2.0, "a revoke lasted %.1f s: it followed the importers' re-maps",
	       longest);
	pm_obj_free(&o);
}

/* --- bounce buffers (swiotlb) -------------------------------------------- */

/*
 * A registration's RAM is DMA-mapped once; the CPU then writes it. An
 * invalidation (here: mprotect of a piece) must not copy the map-time
 * bounce buffer back over those writes.
 */
static void cpu_writes_survive_invalidation(void)
{
	size_t len = 4 * PAGE;
	unsigned char *r = ram(len);
	struct peermap_edu_reg_info info;
	uint64_t id = 0;

	ASSERT(r, "ram");
	fill(r, len, 1);
	ASSERT(!pm_edu_register(edu, r, len, PEERMAP_ACCESS_WRITE, 0, &id), "register");
	fill(r, len, 2);
	EXPECT(!mprotect(r, PAGE, PROT_READ), "mprotect");
	EXPECT(!pm_edu_reg_info(edu, id, &info) && !info.valid, "not invalidated");
	EXPECT(!differ(r, len, 2), "%zu bytes of the CPU's writes lost",
	       differ(r, len, 2));
	pm_edu_unregister(edu, id);
	munmap(r, len);
}

/*
 * A copy into the first page of a registered buffer must leave the CPU's
 * newer writes to the rest of it alone.
 */
static void cpu_writes_beside_a_copy_survive(void)
{
	size_t len = 16 * PAGE;
	unsigned char *r = ram(len), *src = ram(PAGE);
	uint64_t id = 0;
	int err;

	ASSERT(r && src, "ram");
	memset(r, FILLER, len);
	fill(src, PAGE, 3);
	ASSERT(!pm_edu_register(edu, r, len, PEERMAP_ACCESS_WRITE, 0, &id), "register");
	fill(r + 8 * PAGE, 8 * PAGE, 4);
	err = pm_edu_copy(edu, r, src, PAGE);
	EXPECT(!err, "copy: %s", strerror(-err));
	EXPECT(!differ(r, PAGE, 3), "%zu copied bytes wrong", differ(r, PAGE, 3));
	EXPECT(!not_filler(r + PAGE, 7 * PAGE), "bytes beside the copy changed");
	EXPECT(!differ(r + 8 * PAGE, 8 * PAGE, 4), "%zu bytes of the CPU's writes lost",
	       differ(r + 8 * PAGE, 8 * PAGE, 4));
	pm_edu_unregister(edu, id);
	munmap(r, len);
	munmap(src, PAGE);
}

/* The CPU writes a registered source after it was mapped: the device reads that. */
static void cpu_writes_after_register_reach_device(void)
{
	size_t len = 4 * PAGE;
	unsigned char *r = ram(len), *dst = ram(len);
	uint64_t id = 0;
	int err, i;

	ASSERT(r && dst, "ram");
	fill(r, len, 5);
	ASSERT(!pm_edu_register(edu, r, len, PEERMAP_ACCESS_READ, 0, &id), "register");
	for (i = 0; i < 2; i++) {
		fill(r, len, 6 + i);
		memset(dst, 0, len);
		err = pm_edu_copy(edu, dst, r, len);
		EXPECT(!err && !differ(dst, len, 6 + i), "copy %d: err %d, %zu bytes wrong",
		       i, err, differ(dst, len, 6 + i));
	}
	pm_edu_unregister(edu, id);
	munmap(r, len);
	munmap(dst, len);
}

/* --- a client with small DMA segment limits ------------------------------- */

static int limits_fd = -1;

static int limits_map(const void *addr, size_t len, unsigned int max_seg,
		      uint64_t boundary, struct peermap_seg *segs,
		      unsigned int *nsegs)
{
	struct pm_limits_map q = {
		.addr = (uintptr_t)addr, .len = len, .boundary = boundary,
		.max_seg = max_seg, .nsegs = *nsegs, .segs = (uintptr_t)segs,
	};

	snprintf(q.client, sizeof(q.client), "%s", edu_name);
	if (ioctl(limits_fd, PM_LIMITS_IOC_MAP, &q))
		return -errno;
	*nsegs = q.nsegs;
	return 0;
}

/* Every segment within max_seg, none across a boundary, all of len covered. */
static void expect_within(const char *what, const void *addr, size_t len,
			  unsigned int max_seg, uint64_t boundary)
{
	unsigned int n = 4096, i, over = 0, across = 0;
	struct peermap_seg *s = calloc(n, sizeof(*s));
	uint64_t sum = 0;
	int err;

	ASSERT(s, "calloc");
	err = limits_map(addr, len, max_seg, boundary, s, &n);
	EXPECT(!err, "%s: map: %s", what, strerror(-err));
	for (i = 0; !err && i < n && i < 4096; i++) {
		sum += s[i].len;
		over += s[i].len > max_seg;
		across += (s[i].addr & ~boundary) !=
			  ((s[i].addr + s[i].len - 1) & ~boundary);
	}
	printf("# %s, max %u, boundary %#llx: %u segments\n", what, max_seg,
	       (unsigned long long)boundary, n);
	EXPECT(!err && sum == len, "%s: segments cover %llu of %zu bytes", what,
	       (unsigned long long)sum, len);
	EXPECT(!over, "%s: %u segments longer than %u", what, over, max_seg);
	EXPECT(!across, "%s: %u segments cross a %#llx boundary", what, across,
	       (unsigned long long)boundary + 1);
	free(s);
}

static void segments_respect_client_limits(void)
{
	size_t len = 1 << 20;
	unsigned char *r;
	struct pm_obj o;

	if (limits_fd < 0 && system("insmod /lib/peermap/test/pm_limits.ko") == 0)
		limits_fd = open("/dev/pm-limits", O_RDWR);
	ASSERT(limits_fd >= 0, "/dev/pm-limits: %s", strerror(errno));
	ASSERT(!pm_obj_alloc(&bar, len, &o), "alloc");
	r = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT(r != MAP_FAILED, "ram");
	expect_within("1 MiB object", o.cpu, len, 65536, ~0ULL);
	expect_within("1 MiB object", o.cpu, len, 1 << 20, 0x7fff);
	expect_within("1 MiB object at +4 KiB", (char *)o.cpu + PAGE, len - PAGE,
		      3 * PAGE, 0x3fff);
	expect_within("1 MiB RAM", r, len, 65536, ~0ULL);
	expect_within("1 MiB RAM", r, len, 1 << 20, 0x7fff);
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
static void reaper_is_told_not_now(void)
{
	int st, ret = 0, err = 0, tries;
	uint64_t c0;
	pid_t pid;

	for (tries = 0; tries < 3; tries++) {
		c0 = edu_chunks(edu);
		pid = fork();
		if (!pid) {
			size_t len = 64 * 1024;
			unsigned char *d = ram(len);
			struct pm_obj co;
			uint64_t id;

			if (!d || pm_obj_alloc(&bar, len, &co))
				_exit(2);
			if (pm_edu_register(edu, d, len, PEERMAP_ACCESS_WRITE, 0, &id))
				_exit(3);
			pm_edu_copy(edu, d, co.cpu, len);
			_exit(4);	/* not reached: killed first */
		}
		edu_wait_chunks(edu, c0 + 2);
		{
			int pidfd = syscall(SYS_pidfd_open, pid, 0);

			kill(pid, SIGKILL);
			ret = syscall(SYS_process_mrelease, pidfd, 0);
			err = ret ? errno : 0;
			close(pidfd);
		}
		waitpid(pid, &st, 0);
		EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child status %#x", st);
		if (!(ret && (err == ESRCH || err == EINVAL)))
			break;	/* the child was gone already: try again */
	}
	printf("# process_mrelease: %s\n", ret ? strerror(err) : "reaped");
	EXPECT(ret && err == EAGAIN,
	       "the reaper tore a live registration down without waiting (ret %d, %s)",
	       ret, strerror(err));
}

/* --- an administrator's new route setting ------------------------------- */

static void admin_deny_revokes_live_peer_mapping(void)
{
	const char *param = "/sys/module/peermap/parameters/overrides";
	unsigned char *r = ram(8192);
	struct peermap_edu_reg_info info;
	char rule[160], old[512] = "";
	struct pm_obj o;
	uint64_t id = 0;
	int fd, err;
	ssize_t n;

	ASSERT(r, "ram");
	fd = open(param, O_RDONLY);
	ASSERT(fd >= 0, "%s: %s", param, strerror(errno));
	n = read(fd, old, sizeof(old) - 1);
	close(fd);
	old[n > 0 ? n : 0] = '\0';
	if (n > 0 && old[n - 1] == '\n')
		old[n - 1] = '\0';
	ASSERT(!pm_obj_alloc(&bar, 8192, &o), "alloc");
	fill(o.cpu, 8192, 9);
	ASSERT(!pm_edu_register(edu, o.cpu, 8192, PEERMAP_ACCESS_READ, 0, &id), "register");
	err = pm_edu_copy(edu, r, o.cpu, 8192);
	EXPECT(!err && !differ(r, 8192, 9), "copy before: %d", err);
	snprintf(rule, sizeof(rule), "deny:%s,%s", bar.info.pci_name, edu_name);
	EXPECT(!write_file(param, rule), "write %s", rule);
	EXPECT(!pm_edu_reg_info(edu, id, &info) && !info.valid,
	       "the peer mapping stayed valid after '%s'", rule);
	err = pm_edu_copy(edu, r, o.cpu, 8192);
	EXPECT(err == -EREMOTEIO, "copy of a denied pair: %d", err);
	EXPECT(!write_file(param, *old ? old : " "), "restore '%s'", old);
	memset(r, 0, 8192);
	err = pm_edu_copy(edu, r, o.cpu, 8192);
	EXPECT(!err && !differ(r, 8192, 9), "copy after the rule went: %d", err);
	pm_edu_unregister(edu, id);
	pm_obj_free(&o);
	munmap(r, 8192);
}

/* --- unprivileged users -------------------------------------------------- */

/*
 * Start @fn as user nobody with RLIMIT_MEMLOCK @memlock bytes in a child,
 * with its own importer file and no other device file; its exit status is
 * a bit mask of failed checks (0: all passed).
 */
static pid_t spawn_as_nobody(rlim_t memlock, int (*fn)(void))
{
	struct rlimit rl = { memlock, memlock };
	pid_t pid = fork();

	if (!pid) {
		close(bar.fd);
		close(edu);
		if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgid(NOBODY) || setuid(NOBODY))
			_exit(255);
		edu = pm_edu_open(0);
		_exit(edu < 0 ? 254 : fn());
	}
	return pid;
}

static int as_nobody(rlim_t memlock, int (*fn)(void))
{
	pid_t pid = spawn_as_nobody(memlock, fn);
	int st;

	if (pid < 0)
		return 252;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 253;
}

static int nobody_pins(void)
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

static void unprivileged_pins_are_charged_to_memlock(void)
{
	int bad = as_nobody(65536, nobody_pins);

	EXPECT(!bad, "failed checks %#x", bad);
}

static int nobody_segments(void)
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

static void unprivileged_sees_no_bus_addresses(void)
{
	unsigned char *r = ram(8 * PAGE);
	struct peermap_seg *s;
	unsigned int n = 0;
	int bad;

	ASSERT(r, "ram");
	ASSERT(!pm_edu_segments(edu, r, 8 * PAGE, PEERMAP_ACCESS_READ, &s, &n), "segments");
	EXPECT(n && s[0].addr, "root sees the addresses");
	free(s);
	bad = as_nobody(1 << 20, nobody_segments);
	EXPECT(!bad, "failed checks %#x", bad);
	munmap(r, 8 * PAGE);
}

/*
 * Register 8 MiB again and again and keep every registration, as a user
 * who never closes the file would, until killed.
 */
static int nobody_registers_forever(void)
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
static void unprivileged_cannot_hang_unbind(void)
{
	int st, i, done = 0;
	pid_t user, unbind;

	user = spawn_as_nobody(64 << 20, nobody_registers_forever);
	ASSERT(user > 0, "fork");
	usleep(300000);
	unbind = fork();
	if (!unbind)
		_exit(write_file("/sys/bus/pci/drivers/peermap_edu/unbind", edu_name) ? 1 : 0);
	for (i = 0; i < 600 && !done; i++) {
		if (waitpid(unbind, &st, WNOHANG) == unbind)
			done = 1;
		else
			usleep(100000);
	}
	EXPECT(done, "unbind still waiting after 60 s while a user registers");
	kill(user, SIGKILL);
	waitpid(user, NULL, 0);
	if (!done)
		waitpid(unbind, &st, 0);
	EXPECT(WIFEXITED(st) && !WEXITSTATUS(st), "unbind: status %#x", st);
}

static const struct test tests[] = {
	T(second_revoker_waits_for_the_first),
	T(revoke_ends_while_importers_map_again),
	T(cpu_writes_survive_invalidation),
	T(cpu_writes_beside_a_copy_survive),
	T(cpu_writes_after_register_reach_device),
	T(segments_respect_client_limits),
	T(admin_deny_revokes_live_peer_mapping),
	T(unprivileged_pins_are_charged_to_memlock),
	T(unprivileged_sees_no_bus_addresses),
	T(reaper_is_told_not_now),
	T(revokers_storm_one_copier_keeps_bytes),
	T(revokers_storm_two_copiers_keep_bytes),
};

/* Not in the default run: they take a driver away. */
static const struct test removal[] = {
	T(revokers_storm_then_unbind),
	T(unprivileged_cannot_hang_unbind),
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	edu = open_bar0_edu0(&bar);
	if (edu < 0)
		return 1;
	if (pm_node_pci_name("peermap-edu0", edu_name, sizeof(edu_name))) {
		printf("Bail out! the PCI name of peermap-edu0\n");
		return 1;
	}
	if (argc > 1 && !strcmp(argv[1], "removal"))
		return run_tests(removal, 2, argc - 1, argv + 1);
	return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
