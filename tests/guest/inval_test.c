// SPDX-License-Identifier: GPL-2.0
/*
 * In-guest tests of mixed ranges, invalidation, revocation and fallback:
 * the exporter stays in control of its memory (evict, restore, policy,
 * removal), the process changes its address space under live mappings
 * (munmap, mprotect, mremap, fork, exit), and the importer keeps copying
 * the right bytes, never into freed memory.
 *
 * Environment: PM_STRESS_SECONDS (default 5) for the racing threads.
 * A second exporter device (/dev/peermap-bar1) is used when present.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "legacy_harness.h"
#include "peermap.h"
#include "util.h"

static struct pm_bar bar, bar1;
static int have_bar1;
static int edu;

static struct peermap_edu_reg_info info_of(uint64_t id)
{
	struct peermap_edu_reg_info info;
	int err = pm_edu_reg_info(edu, id, &info);

	if (err)
		printf("#   reg_info %llu: %s\n", (unsigned long long)id, strerror(-err));
	return info;
}

/* Registration @id is invalid, invalidated last for @why. */
static void expect_invalidated(uint64_t id, unsigned int why)
{
	struct peermap_edu_reg_info info = info_of(id);

	EXPECT(!info.valid && info.last_reason == why, "valid %u reason %s, want %s",
	       info.valid, pm_inval_reason(info.last_reason), pm_inval_reason(why));
}

static unsigned int seg_flags_or(const void *addr, size_t len, unsigned int access,
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

static int mixed_setup(struct mixed *m)
{
	struct pm_bar *bb = have_bar1 ? &bar1 : &bar;
	unsigned char *p;

	memset(m, 0, sizeof(*m));
	m->len = 48 * 1024;
	if (pm_obj_alloc(&bar, 16384, &m->a) || pm_obj_alloc(bb, 16384, &m->b))
		return -1;
	p = reserve(m->len);
	if (!p)
		return -1;
	m->base = p;
	if (mmap(p, 8192, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ||
	    mmap(p + 8192, 16384, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 bar.fd, (off_t)m->a.mmap_offset) == MAP_FAILED ||
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

static void mixed_range_copies_both_ways(void)
{
	unsigned char *r = ram(48 * 1024 + 2 * PAGE);
	struct peermap_seg *s = NULL;
	unsigned int n = 0, i, kinds = 0;
	struct mixed m;
	int err;

	ASSERT(r, "ram");
	ASSERT(!mixed_setup(&m), "mixed range: %s", strerror(errno));
	printf("# second exporter device: %s\n", have_bar1 ? "yes" : "no, bar0 twice");

	/* What the device gets: RAM, peer, RAM, peer, in order. */
	err = pm_edu_segments(edu, m.base, m.len, PEERMAP_ACCESS_READ, &s, &n);
	EXPECT(!err, "segments: %s", strerror(-err));
	for (i = 0; !err && i < n; i++) {
		int peer = !!(s[i].flags & PEERMAP_SEG_PEER);

		if (!i || peer != !!(s[i - 1].flags & PEERMAP_SEG_PEER))
			kinds = kinds * 10 + (peer ? 2 : 1);
	}
	EXPECT(kinds == 1212, "kinds in order %u (1 RAM, 2 peer)", kinds);
	free(s);

	/* Mixed -> RAM, unaligned at both ends. */
	fill(m.base, m.len, 3);
	memset(r, FILLER, 48 * 1024 + 2 * PAGE);
	err = pm_edu_copy(edu, r + PAGE, m.base + 100, m.len - 200);
	EXPECT(!err, "copy from mixed: %s", strerror(-err));
	{
		size_t bad = 0, k;

		for (k = 0; k < m.len - 200; k++)
			bad += r[PAGE + k] != pat(3, k + 100);
		EXPECT(!bad, "%zu bytes differ after mixed -> RAM", bad);
	}
	EXPECT(!not_filler(r, PAGE), "bytes before the destination changed");
	EXPECT(!not_filler(r + PAGE + m.len - 200, PAGE + 200),
	       "bytes after the destination changed");

	/* RAM -> mixed. */
	fill(r, m.len, 9);
	memset(m.base, FILLER, m.len);
	err = pm_edu_copy(edu, m.base, r, m.len);
	EXPECT(!err, "copy into mixed: %s", strerror(-err));
	EXPECT(!differ(m.base, m.len, 9), "%zu bytes differ after RAM -> mixed",
	       differ(m.base, m.len, 9));
	mixed_free(&m);
	munmap(r, 48 * 1024 + 2 * PAGE);
}

static void mixed_range_with_prot_none_piece_efault(void)
{
	unsigned char *r = ram(48 * 1024);
	struct mixed m;
	int err;

	ASSERT(r, "ram");
	ASSERT(!mixed_setup(&m), "mixed range");
	mprotect(m.base + 24576, 8192, PROT_NONE);
	err = pm_edu_copy(edu, r, m.base, m.len);
	EXPECT(err == -EFAULT, "got %d", err);
	munmap(m.base + 24576, 8192);
	err = pm_edu_copy(edu, r, m.base, m.len);
	EXPECT(err == -EFAULT, "hole: got %d", err);
	mixed_free(&m);
	munmap(r, 48 * 1024);
}

/* --- registrations and the process changing its address space ---------- */

static void registration_is_reused_without_invalidation(void)
{
	unsigned char *r = ram(64 * 1024);
	struct peermap_edu_reg_info ia, ir;
	uint64_t ida = 0, idr = 0;
	struct pm_obj o;
	int i, err;

	ASSERT(r, "ram");
	ASSERT(!pm_obj_alloc(&bar, 64 * 1024, &o), "alloc");
	fill(o.cpu, o.size, 5);
	EXPECT(!pm_edu_register(edu, o.cpu, o.size, PEERMAP_ACCESS_READ, 0, &ida),
	       "register object");
	EXPECT(!pm_edu_register(edu, r, 64 * 1024, PEERMAP_ACCESS_WRITE, 0, &idr),
	       "register RAM");
	for (i = 0; i < 3; i++) {
		memset(r, 0, 64 * 1024);
		err = pm_edu_copy(edu, r + i * 1000, (char *)o.cpu + i * 1000, 9000);
		EXPECT(!err, "copy %d: %s", i, strerror(-err));
		EXPECT(!differ(r + i * 1000, 9000, 5) || i, "data");
	}
	ia = info_of(ida);
	ir = info_of(idr);
	EXPECT(ia.valid && ir.valid, "valid %u %u", ia.valid, ir.valid);
	EXPECT(!ia.invalidations && !ir.invalidations, "invalidations %llu %llu",
	       (unsigned long long)ia.invalidations, (unsigned long long)ir.invalidations);
	EXPECT(ia.nsegs == 1, "object registration: %u segments", ia.nsegs);
	EXPECT(!pm_edu_unregister(edu, ida) && !pm_edu_unregister(edu, idr), "unregister");
	EXPECT(pm_edu_unregister(edu, ida) == -ENOENT, "unregister twice");
	pm_obj_free(&o);
	munmap(r, 64 * 1024);
}

static void munmap_invalidates_registration(void)
{
	unsigned char *r = ram(16384);
	struct peermap_edu_reg_info info;
	struct pm_obj o;
	uint64_t id = 0;
	int err;

	ASSERT(r, "ram");
	ASSERT(!pm_obj_alloc(&bar, 16384, &o), "alloc");
	ASSERT(!pm_edu_register(edu, r, 16384, PEERMAP_ACCESS_WRITE, 0, &id), "register");
	munmap(r + 4096, 4096);
	info = info_of(id);
	EXPECT(!info.valid, "still valid after munmap");
	EXPECT(info.invalidations == 1, "invalidations %llu",
	       (unsigned long long)info.invalidations);
	EXPECT(info.last_reason == PEERMAP_INVAL_UNMAP, "reason %s",
	       pm_inval_reason(info.last_reason));
	err = pm_edu_copy(edu, r, o.cpu, 16384);
	EXPECT(err == -EFAULT, "copy into the hole: %d", err);
	pm_edu_unregister(edu, id);
	munmap(r, 16384);
	pm_obj_free(&o);
}

static void mprotect_invalidates_and_recovers(void)
{
	unsigned char *r = ram(16384);
	struct peermap_edu_reg_info info;
	struct pm_obj o;
	uint64_t id = 0;
	int err;

	ASSERT(r, "ram");
	ASSERT(!pm_obj_alloc(&bar, 16384, &o), "alloc");
	fill(o.cpu, 16384, 11);
	ASSERT(!pm_edu_register(edu, r, 16384, PEERMAP_ACCESS_WRITE, 0, &id), "register");
	mprotect(r, 16384, PROT_READ);
	expect_invalidated(id, PEERMAP_INVAL_PROTECT);
	err = pm_edu_copy(edu, r, o.cpu, 16384);
	EXPECT(err == -EACCES, "copy into read-only: %d", err);
	mprotect(r, 16384, PROT_READ | PROT_WRITE);
	err = pm_edu_copy(edu, r, o.cpu, 16384);
	EXPECT(!err, "copy after mprotect back: %s", strerror(-err));
	EXPECT(!differ(r, 16384, 11), "data after re-map");
	info = info_of(id);
	EXPECT(info.valid && info.remaps >= 1, "valid %u remaps %llu", info.valid,
	       (unsigned long long)info.remaps);
	pm_edu_unregister(edu, id);
	munmap(r, 16384);
	pm_obj_free(&o);
}

static void mremap_invalidates_registration(void)
{
	unsigned char *r = ram(16384), *to = reserve(16384), *moved;
	struct pm_obj o;
	uint64_t id = 0;
	int err;

	ASSERT(r && to, "ram");
	ASSERT(!pm_obj_alloc(&bar, 16384, &o), "alloc");
	fill(r, 16384, 13);
	ASSERT(!pm_edu_register(edu, r, 16384, PEERMAP_ACCESS_READ, 0, &id), "register");
	moved = mremap(r, 16384, 16384, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	ASSERT(moved == to, "mremap: %s", strerror(errno));
	expect_invalidated(id, PEERMAP_INVAL_UNMAP);
	err = pm_edu_copy(edu, o.cpu, r, 16384);
	EXPECT(err == -EFAULT, "copy from the old place: %d", err);
	err = pm_edu_copy(edu, o.cpu, moved, 16384);
	EXPECT(!err && !differ(o.cpu, 16384, 13), "copy from the new place: %d", err);
	pm_edu_unregister(edu, id);
	munmap(moved, 16384);
	pm_obj_free(&o);
}

/*
 * An object the CPU never touched has no PTE for mprotect to change: the
 * exporter's mprotect hook revokes its peers instead.
 */
static void mprotect_of_untouched_object_revokes(void)
{
	unsigned char *r = ram(8192);
	struct pm_obj o;
	uint64_t id = 0;
	int err;

	ASSERT(r, "ram");
	ASSERT(!pm_obj_alloc(&bar, 8192, &o), "alloc");
	ASSERT(!pm_edu_register(edu, o.cpu, 8192, PEERMAP_ACCESS_WRITE, 0, &id), "register");
	mprotect(o.cpu, 8192, PROT_READ);
	expect_invalidated(id, PEERMAP_INVAL_PROTECT);
	err = pm_edu_copy(edu, o.cpu, r, 8192);
	EXPECT(err == -EACCES, "device write into a read-only object mapping: %d", err);
	pm_edu_unregister(edu, id);
	pm_obj_free(&o);
	munmap(r, 8192);
}

/* --- the exporter in control ------------------------------------------- */

static void evict_gives_fallback_and_restore_returns(void)
{
	unsigned char *r = ram(65536);
	struct peermap_bar_obj_info oi;
	struct peermap_edu_reg_info info;
	unsigned int flags, n;
	struct pm_obj o;
	uint64_t id = 0;
	int err;

	ASSERT(r, "ram");
	ASSERT(!pm_obj_alloc(&bar, 65536, &o), "alloc");
	fill(o.cpu, 65536, 17);
	ASSERT(!pm_edu_register(edu, o.cpu, 65536, PEERMAP_ACCESS_READ, 0, &id), "register");
	flags = seg_flags_or(o.cpu, 65536, PEERMAP_ACCESS_READ, &n);
	EXPECT((flags & PEERMAP_SEG_PEER) && !(flags & PEERMAP_SEG_FALLBACK),
	       "resident: flags %#x", flags);

	ASSERT(!pm_obj_evict(&o), "evict");
	EXPECT(pm_obj_evict(&o) == -EALREADY, "evict twice");
	expect_invalidated(id, PEERMAP_INVAL_REVOKE);
	flags = seg_flags_or(o.cpu, 65536, PEERMAP_ACCESS_READ, &n);
	EXPECT(!(flags & PEERMAP_SEG_PEER) && (flags & PEERMAP_SEG_FALLBACK),
	       "evicted: flags %#x", flags);
	printf("# evicted: %u fallback segments for 64 KiB\n", n);

	/* The importer re-maps on its next copy, onto system memory. */
	err = pm_edu_copy(edu, r, o.cpu, 65536);
	EXPECT(!err && !differ(r, 65536, 17), "copy while evicted: %d", err);
	info = info_of(id);
	EXPECT(info.valid && info.remaps == 1 && info.fallback_bytes == 65536,
	       "valid %u remaps %llu fallback %llu", info.valid,
	       (unsigned long long)info.remaps, (unsigned long long)info.fallback_bytes);

	/* The CPU mapping follows the object: read it, write it. */
	EXPECT(!differ(o.cpu, 65536, 17), "CPU read while evicted");
	fill(o.cpu, 65536, 19);

	ASSERT(!pm_obj_restore(&o), "restore");
	EXPECT(pm_obj_restore(&o) == -EALREADY, "restore twice");
	flags = seg_flags_or(o.cpu, 65536, PEERMAP_ACCESS_READ, &n);
	EXPECT((flags & PEERMAP_SEG_PEER) && !(flags & PEERMAP_SEG_FALLBACK),
	       "restored: flags %#x", flags);
	err = pm_edu_copy(edu, r, o.cpu, 65536);
	EXPECT(!err && !differ(r, 65536, 19), "copy after restore: %d", err);
	info = info_of(id);
	EXPECT(info.invalidations == 2 && !info.fallback_bytes,
	       "invalidations %llu fallback %llu", (unsigned long long)info.invalidations,
	       (unsigned long long)info.fallback_bytes);
	EXPECT(!pm_obj_info(&o, &oi), "obj info");
	EXPECT(oi.state == PEERMAP_OBJ_RESIDENT && oi.evictions == 1 && oi.peers == 1,
	       "state %u evictions %llu peers %u", oi.state,
	       (unsigned long long)oi.evictions, oi.peers);
	pm_edu_unregister(edu, id);
	EXPECT(!pm_obj_info(&o, &oi) && oi.peers == 0, "peers after unregister %u",
	       oi.peers);
	pm_obj_free(&o);
	munmap(r, 65536);
}

/* Evict and restore the source while a long copy reads it. */
static void evict_during_long_copy(void)
{
	size_t len = 64 * 1024;
	unsigned char *r = ram(len + 2 * PAGE);
	struct peermap_edu_stats s0, s1;
	struct edu_copy_job j;
	struct pm_obj o;
	pthread_t t;
	uint64_t c0;
	int err;

	ASSERT(r, "ram");
	ASSERT(!pm_obj_alloc(&bar, len, &o), "alloc");
	fill(o.cpu, len, 23);
	memset(r, FILLER, len + 2 * PAGE);
	pm_edu_stats(edu, &s0);
	c0 = s0.chunks;
	j = (struct edu_copy_job){ .fd = edu, .dst = r + PAGE, .src = o.cpu, .len = len };
	ASSERT(!pthread_create(&t, NULL, edu_copy_thread, &j), "thread");
	edu_wait_chunks(edu, c0 + 3);
	err = pm_obj_evict(&o);
	EXPECT(!err, "evict mid-copy: %s", strerror(-err));
	edu_wait_chunks(edu, c0 + 9);
	err = pm_obj_restore(&o);
	EXPECT(!err, "restore mid-copy: %s", strerror(-err));
	pthread_join(t, NULL);
	pm_edu_stats(edu, &s1);
	EXPECT(!j.err, "copy: %s", strerror(-j.err));
	EXPECT(!differ(r + PAGE, len, 23), "%zu bytes differ", differ(r + PAGE, len, 23));
	EXPECT(!not_filler(r, PAGE) && !not_filler(r + PAGE + len, PAGE),
	       "bytes next to the destination changed");
	printf("# %llu chunks, %llu invalidations, %llu re-maps during the copy\n",
	       (unsigned long long)(s1.chunks - s0.chunks),
	       (unsigned long long)(s1.invalidations - s0.invalidations),
	       (unsigned long long)(s1.remaps - s0.remaps));
	EXPECT(s1.invalidations - s0.invalidations >= 2 && s1.remaps - s0.remaps >= 2,
	       "the copy was not invalidated and re-mapped twice");
	pm_obj_free(&o);
	munmap(r, len + 2 * PAGE);
}

/* Evict the destination mid-copy: the bytes land in the object anyway. */
static void evict_destination_during_long_copy(void)
{
	size_t len = 32 * 1024;
	unsigned char *r = ram(len);
	struct edu_copy_job j;
	struct pm_obj o;
	pthread_t t;
	uint64_t c0 = edu_chunks(edu);

	ASSERT(r, "ram");
	ASSERT(!pm_obj_alloc(&bar, len + 2 * PAGE, &o), "alloc");
	fill(r, len, 29);
	memset(o.cpu, FILLER, o.size);
	j = (struct edu_copy_job){ .fd = edu, .dst = (char *)o.cpu + PAGE, .src = r, .len = len };
	ASSERT(!pthread_create(&t, NULL, edu_copy_thread, &j), "thread");
	edu_wait_chunks(edu, c0 + 3);
	EXPECT(!pm_obj_evict(&o), "evict");
	pthread_join(t, NULL);
	EXPECT(!j.err, "copy: %s", strerror(-j.err));
	EXPECT(!pm_obj_restore(&o), "restore");
	EXPECT(!differ((char *)o.cpu + PAGE, len, 29), "data in the object");
	EXPECT(!not_filler(o.cpu, PAGE) && !not_filler((char *)o.cpu + PAGE + len, PAGE),
	       "bytes next to the destination changed");
	pm_obj_free(&o);
	munmap(r, len);
}

static void readonly_peer_policy(void)
{
	unsigned char *r = ram(8192);
	struct pm_obj o;
	uint64_t id = 0;
	int err;

	ASSERT(r, "ram");
	ASSERT(!pm_obj_alloc(&bar, 8192, &o), "alloc");
	fill(r, 8192, 31);
	ASSERT(!pm_edu_register(edu, o.cpu, 8192, PEERMAP_ACCESS_WRITE, 0, &id), "register");
	ASSERT(!pm_obj_policy(&o, PEERMAP_POLICY_PEER_RO, NULL), "policy");
	expect_invalidated(id, PEERMAP_INVAL_REVOKE);
	err = pm_edu_copy(edu, o.cpu, r, 8192);
	EXPECT(err == -EACCES, "peer write into a read-only object: %d", err);
	err = pm_edu_copy(edu, r, o.cpu, 8192);
	EXPECT(!err, "peer read of a read-only object: %s", strerror(-err));
	ASSERT(!pm_obj_policy(&o, 0, NULL), "policy off");
	fill(r, 8192, 37);
	err = pm_edu_copy(edu, o.cpu, r, 8192);
	EXPECT(!err && !differ(o.cpu, 8192, 37), "write after policy off: %d", err);
	pm_edu_unregister(edu, id);
	pm_obj_free(&o);
	munmap(r, 8192);
}

static void denied_client_refused(void)
{
	unsigned char *r = ram(8192);
	char name[64];
	struct pm_obj o;
	int err;

	ASSERT(r, "ram");
	ASSERT(!pm_node_pci_name("peermap-edu0", name, sizeof(name)),
	       "importer's PCI name");
	ASSERT(!pm_obj_alloc(&bar, 8192, &o), "alloc");
	ASSERT(!pm_obj_policy(&o, 0, name), "deny %s", name);
	err = pm_edu_copy(edu, r, o.cpu, 8192);
	EXPECT(err == -EPERM, "denied client: %d", err);
	EXPECT(pm_obj_policy(&o, 0, "0123456789012345678901234567890123") == -EINVAL,
	       "over-long name accepted");
	ASSERT(!pm_obj_policy(&o, 0, ""), "allow again");
	err = pm_edu_copy(edu, r, o.cpu, 8192);
	EXPECT(!err, "allowed again: %s", strerror(-err));
	pm_obj_free(&o);
	munmap(r, 8192);
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

static void cpu_access_off_sigbus(void)
{
	unsigned char *r = ram(4096);
	struct pm_obj o;
	int st;

	ASSERT(r, "ram");
	ASSERT(!pm_obj_alloc(&bar, 4096, &o), "alloc");
	fill(o.cpu, 4096, 41);
	ASSERT(!pm_obj_policy(&o, PEERMAP_POLICY_NO_CPU, NULL), "policy");
	st = child_reads(o.cpu);
	EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS, "CPU read: status %#x", st);
	EXPECT(!pm_edu_copy(edu, r, o.cpu, 4096) && !differ(r, 4096, 41),
	       "peers still read it");
	ASSERT(!pm_obj_policy(&o, 0, NULL), "policy off");
	st = child_reads(o.cpu);
	EXPECT(WIFEXITED(st) && !WEXITSTATUS(st), "CPU read after: status %#x", st);
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
static void fork_cow(unsigned int flags)
{
	unsigned char *r = ram(16384);
	struct peermap_edu_reg_info info;
	int pipefd[2], st;
	struct pm_obj o;
	uint64_t id = 0;
	pid_t pid;
	int err;

	ASSERT(r && !pipe(pipefd), "ram");
	ASSERT(!pm_obj_alloc(&bar, 16384, &o), "alloc");
	fill(r, 16384, 43);
	ASSERT(!pm_edu_register(edu, r, 16384, PEERMAP_ACCESS_READ, flags, &id), "register");
	err = pm_edu_copy(edu, o.cpu, r, 16384);
	EXPECT(!err && !differ(o.cpu, 16384, 43), "before fork: %d", err);
	pid = fork();
	if (!pid) {
		char c;

		close(pipefd[1]);
		(void)!read(pipefd[0], &c, 1);	/* keep sharing until told */
		_exit(differ(r, 16384, 43) ? 1 : 0);
	}
	close(pipefd[0]);
	fill(r, 16384, 47);		/* COW break in the parent */
	err = pm_edu_copy(edu, o.cpu, r, 16384);
	EXPECT(!err, "after fork: %s", strerror(-err));
	EXPECT(!differ(o.cpu, 16384, 47), "the device read %s pages",
	       differ(o.cpu, 16384, 43) ? "other" : "the child's");
	info = info_of(id);
	printf("# %s: %llu invalidations (last: %s), %llu re-maps\n",
	       flags ? "on-demand" : "pinned", (unsigned long long)info.invalidations,
	       pm_inval_reason(info.last_reason), (unsigned long long)info.remaps);
	if (flags)
		EXPECT(info.invalidations >= 1 && info.remaps >= 1,
		       "on-demand mapping not invalidated by COW");
	else
		EXPECT(!info.invalidations, "pinned mapping invalidated by fork");
	close(pipefd[1]);
	waitpid(pid, &st, 0);
	EXPECT(WIFEXITED(st) && !WEXITSTATUS(st), "the child's copy changed: %#x", st);
	pm_edu_unregister(edu, id);
	pm_obj_free(&o);
	munmap(r, 16384);
}

static void fork_cow_ondemand_follows_new_pages(void)
{
	fork_cow(PEERMAP_MAP_ONDEMAND);
}

static void fork_cow_pinned_keeps_pages(void)
{
	fork_cow(PEERMAP_MAP_PINNED);
}

static void ondemand_copy_of_untouched_ram(void)
{
	size_t len = 3 * PAGE + 123;
	unsigned char *r = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct pm_obj o;
	int err;

	ASSERT(r != MAP_FAILED, "ram");
	ASSERT(!pm_obj_alloc(&bar, len, &o), "alloc");
	fill(o.cpu, len, 53);
	/* Nothing faulted in yet: the mapping faults it (for writing). */
	err = pm_edu_copy_flags(edu, r, o.cpu, len, PEERMAP_MAP_ONDEMAND);
	EXPECT(!err && !differ(r, len, 53), "on-demand copy: %d", err);
	pm_obj_free(&o);
	munmap(r, len);
}

/*
 * A process killed in the middle of a copy leaves nothing behind: its
 * address space goes first (its registration is invalidated: exit), then
 * its files.
 */
static void kill9_mid_copy(void)
{
	unsigned char *r = ram(8192);
	struct peermap_edu_stats s0, s1;
	uint64_t c0 = edu_chunks(edu);
	struct pm_obj o;
	int st, err;
	pid_t pid;

	pm_edu_stats(edu, &s0);
	ASSERT(r, "ram");
	pid = fork();
	if (!pid) {
		size_t len = 256 * 1024;
		unsigned char *d = ram(len);
		struct pm_obj co;
		uint64_t id;

		if (!d || pm_obj_alloc(&bar, len, &co))
			_exit(2);
		pm_edu_register(edu, d, len, PEERMAP_ACCESS_WRITE,
				PEERMAP_MAP_ONDEMAND, &id);
		pm_edu_copy(edu, d, co.cpu, len);
		_exit(3);	/* not reached: killed first */
	}
	edu_wait_chunks(edu, c0 + 4);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child status %#x", st);
	pm_edu_stats(edu, &s1);
	EXPECT(s1.invalidations > s0.invalidations,
	       "the dead process's mappings were not invalidated");
	ASSERT(!pm_obj_alloc(&bar, 8192, &o), "alloc after");
	fill(o.cpu, 8192, 59);
	err = pm_edu_copy(edu, r, o.cpu, 8192);
	EXPECT(!err && !differ(r, 8192, 59), "the engine works after: %d", err);
	pm_obj_free(&o);
	munmap(r, 8192);
}

/* Two processes map one object; an eviction reaches both. */
static void two_processes_one_object(void)
{
	int go[2], done[2], st;
	unsigned char *r = ram(16384);
	struct pm_obj o;
	uint64_t id = 0;
	char c = 0;
	pid_t pid;

	ASSERT(r && !pipe(go) && !pipe(done), "setup");
	ASSERT(!pm_obj_alloc(&bar, 16384, &o), "alloc");
	fill(o.cpu, 16384, 61);
	pid = fork();
	if (!pid) {
		int e = pm_edu_open(0), bad = 0;
		struct peermap_edu_reg_info ci;
		uint64_t cid = 0;

		/* Its own file: the parent's registrations are not its own. */
		edu = e;
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
	ASSERT(!pm_edu_register(edu, o.cpu, 16384, PEERMAP_ACCESS_READ, 0, &id), "register");
	(void)!read(done[0], &c, 1);
	EXPECT(!pm_obj_evict(&o), "evict");
	expect_invalidated(id, PEERMAP_INVAL_REVOKE);	/* the parent's */
	(void)!write(go[1], "g", 1);
	waitpid(pid, &st, 0);
	EXPECT(WIFEXITED(st) && !WEXITSTATUS(st), "child: status %#x", st);
	EXPECT(!pm_edu_copy(edu, r, o.cpu, 16384) && !differ(r, 16384, 61), "parent copy");
	pm_edu_unregister(edu, id);
	pm_obj_free(&o);
	munmap(r, 16384);
}

/* --- many threads racing ------------------------------------------------- */

struct race {
	struct pm_obj obj;
	unsigned char *ram;		/* 64 KiB, registered and toggled */
	volatile int stop;
	unsigned long iters[4], bad, errors;
	pthread_mutex_t lock;		/* bad, errors */
};

static void race_fail(struct race *rc, int bad, int err, const char *what)
{
	pthread_mutex_lock(&rc->lock);
	rc->bad += bad;
	if (err) {
		rc->errors++;
		if (rc->errors < 5)
			printf("#   %s: %s\n", what, strerror(-err));
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
		err = pm_edu_copy(edu, buf, (char *)rc->obj.cpu + 1000, sizeof(buf));
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
		err = pm_edu_segments(edu, rc->obj.cpu, rc->obj.size,
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
		err = pm_edu_register(edu, rc->obj.cpu, rc->obj.size,
				      PEERMAP_ACCESS_READ, 0, &a);
		if (err) {
			race_fail(rc, 0, err, "register object");
			continue;
		}
		err = pm_edu_register(edu, rc->ram, 65536, PEERMAP_ACCESS_WRITE,
				      rc->iters[3] & 1 ? PEERMAP_MAP_ONDEMAND : 0, &b);
		if (err)
			race_fail(rc, 0, err, "register RAM");
		mprotect(rc->ram, 4096, PROT_READ);
		mprotect(rc->ram, 4096, PROT_READ | PROT_WRITE);
		if (!err)
			pm_edu_unregister(edu, b);
		pm_edu_unregister(edu, a);
		rc->iters[3]++;
	}
	return NULL;
}

static void threads_race_map_unmap_evict(void)
{
	void *(*fns[4])(void *) = { race_mover, race_copier, race_mapper,
				    race_registrar };
	const char *secs = getenv("PM_STRESS_SECONDS");
	int seconds = secs ? atoi(secs) : 5, i;
	struct race rc = { .lock = PTHREAD_MUTEX_INITIALIZER };
	pthread_t t[4];

	rc.ram = ram(65536);
	ASSERT(rc.ram, "ram");
	ASSERT(!pm_obj_alloc(&bar, 65536, &rc.obj), "alloc");
	fill(rc.obj.cpu, 65536, 67);
	for (i = 0; i < 4; i++)
		ASSERT(!pthread_create(&t[i], NULL, fns[i], &rc), "thread");
	sleep(seconds > 0 ? seconds : 1);
	rc.stop = 1;
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("# %d s: %lu evict+restore, %lu copies, %lu maps, %lu register rounds\n",
	       seconds, rc.iters[0], rc.iters[1], rc.iters[2], rc.iters[3]);
	EXPECT(!rc.bad, "%lu copies read wrong data", rc.bad);
	EXPECT(!rc.errors, "%lu calls failed", rc.errors);
	EXPECT(rc.iters[0] && rc.iters[1] && rc.iters[2] && rc.iters[3],
	       "a thread made no progress");
	EXPECT(!differ(rc.obj.cpu, 65536, 67), "the object changed");
	pm_obj_free(&rc.obj);
	munmap(rc.ram, 65536);
}

/* --- removal ---------------------------------------------------------- */

static void unload_refused_while_mapped(void)
{
	struct pm_obj o;
	uint64_t id = 0;
	int st;

	ASSERT(!pm_obj_alloc(&bar, 8192, &o), "alloc");
	ASSERT(!pm_edu_register(edu, o.cpu, 8192, PEERMAP_ACCESS_READ, 0, &id), "register");
	st = system("rmmod peermap_bar 2>/dev/null");
	EXPECT(st != 0, "rmmod succeeded with a live mapping");
	EXPECT(!access("/sys/module/peermap_bar", F_OK), "module gone");
	EXPECT(!pm_edu_copy(edu, (char *)o.cpu + 4096, o.cpu, 4096),
	       "copy after refused rmmod");
	pm_edu_unregister(edu, id);
	pm_obj_free(&o);
}

/*
 * The exporter's device goes away (unbind, or hot-unplug when PM_UNPLUG
 * names a command that does it) with live mappings: importers are revoked
 * first, CPU mappings zapped, the object answers "gone".
 */
static void device_removed_with_live_mappings(void)
{
	const char *how = getenv("PM_REMOVE_CMD");
	struct peermap_bar_obj_info oi;
	unsigned char *r = ram(8192);
	char cmd[256];
	struct pm_obj o;
	uint64_t id = 0;
	int st, err;

	ASSERT(r && how, "ram, PM_REMOVE_CMD");
	ASSERT(!pm_obj_alloc(&bar, 8192, &o), "alloc");
	fill(o.cpu, 8192, 71);
	ASSERT(!pm_edu_register(edu, o.cpu, 8192, PEERMAP_ACCESS_READ, 0, &id), "register");
	EXPECT(!pm_edu_copy(edu, r, o.cpu, 8192) && !differ(r, 8192, 71), "copy before");
	snprintf(cmd, sizeof(cmd), "%s %s", how, bar.info.pci_name);
	st = system(cmd);
	EXPECT(st == 0, "'%s': status %d", cmd, st);
	expect_invalidated(id, PEERMAP_INVAL_REMOVE);
	err = pm_edu_copy(edu, r, o.cpu, 8192);
	EXPECT(err == -ENODEV, "copy from a removed device: %d", err);
	st = child_reads(o.cpu);
	EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS, "CPU read: status %#x", st);
	EXPECT(!pm_obj_info(&o, &oi) && oi.state == PEERMAP_OBJ_GONE && !oi.peers,
	       "state %u peers %u", oi.state, oi.peers);
	EXPECT(pm_obj_evict(&o) == -ENODEV, "evict a gone object");
	pm_edu_unregister(edu, id);
	pm_obj_free(&o);
	munmap(r, 8192);
}

static const struct test tests[] = {
	T(mixed_range_copies_both_ways),
	T(mixed_range_with_prot_none_piece_efault),
	T(registration_is_reused_without_invalidation),
	T(munmap_invalidates_registration),
	T(mprotect_invalidates_and_recovers),
	T(mremap_invalidates_registration),
	T(mprotect_of_untouched_object_revokes),
	T(evict_gives_fallback_and_restore_returns),
	T(evict_during_long_copy),
	T(evict_destination_during_long_copy),
	T(readonly_peer_policy),
	T(denied_client_refused),
	T(cpu_access_off_sigbus),
	T(fork_cow_ondemand_follows_new_pages),
	T(fork_cow_pinned_keeps_pages),
	T(ondemand_copy_of_untouched_ram),
	T(kill9_mid_copy),
	T(two_processes_one_object),
	T(threads_race_map_unmap_evict),
	T(unload_refused_while_mapped),
	/* Not in the default run: it takes the exporter away. */
};

static const struct test removal[] = {
	T(device_removed_with_live_mappings),
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	edu = open_bar0_edu0(&bar);
	if (edu < 0)
		return 1;
	have_bar1 = !pm_bar_open(1, &bar1);
	if (argc > 1 && !strcmp(argv[1], "removal"))
		return run_tests(removal, 1, 1, argv);
	return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
