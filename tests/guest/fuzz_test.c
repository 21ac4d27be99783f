// SPDX-License-Identifier: GPL-2.0
/*
 * pm-fuzz_test: seeded, reproducible random sequences against every peermap
 * device's user ABI: ioctls (objects, policies, evict and restore,
 * registrations, copies, routes), mmaps, munmaps, mprotects, forks and
 * closes, with hostile arguments (huge, negative, overlapping, unaligned,
 * stale handles, kernel addresses, unterminated strings). The kernel side
 * is judged by the VM runner (KASAN, lockdep, WARNING, oops); this side
 * checks that every call fails only with an errno its interface allows.
 *
 *   pm-fuzz_test [--seed S] [--iterations N | --seconds T] [--failslab PCT]
 *
 * --failslab makes PCT% of this process's slab allocations fail (debug
 * kernel: failslab + /proc/self/make-it-fail); ENOMEM is then allowed too.
 * A failure prints the seed and iteration that reproduce it. TAP output.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "peermap.h"

#define NFD	4
#define NMAP	16
#define NHANDLE	32

static uint64_t rng;
static unsigned long iter;
static uint64_t seed;
static int failslab;
static int trace;		/* --trace: each operation on stderr */
static unsigned long calls, refused, enomem;

struct mapping {
	void *addr;
	size_t len;
};

static int bar_fd[NFD], edu_fd[NFD], ctl_fd = -1;
static struct mapping maps[NMAP];
static uint64_t handles[NHANDLE];
static uint64_t reg_ids[NHANDLE];
static unsigned char *ram;
static size_t ram_len = 1 << 20;
/*
 * Random user addresses point into this reserved range (its pages made
 * readable or writable at random), never at the fuzzer's own stack, heap
 * or code: a DMA there would only shoot the fuzzer.
 */
static unsigned char *arena;
static size_t arena_len = 16 << 20;
static uint64_t bar_size = 64 << 20;

static uint64_t rnd(void)
{
	/* xorshift64*: small, fast, the same on every machine */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t pick(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* A hostile length: small, page-ish, huge, negative, around the BAR. */
static uint64_t any_len(void)
{
	static const uint64_t odd[] = {
		0, 1, 4095, 4096, 4097, 65536, UINT64_MAX, (uint64_t)-4096,
		1ULL << 63, PEERMAP_EDU_COPY_MAX, PEERMAP_EDU_COPY_MAX + 1,
	};

	switch (pick(4)) {
	case 0:
		return odd[pick(sizeof(odd) / sizeof(odd[0]))];
	case 1:
		return bar_size + pick(3) - 1;
	case 2:
		return pick(65536) + 1;
	default:
		return pick(256) + 1;
	}
}

/* A hostile user address: live maps, RAM, holes, kernel space, NULL. */
static uint64_t any_addr(void)
{
	struct mapping *m = &maps[pick(NMAP)];

	switch (pick(6)) {
	case 0:
		return m->addr ? (uint64_t)(uintptr_t)m->addr + pick(m->len) : 0;
	case 1:
	case 2:
		return (uint64_t)(uintptr_t)ram + pick(ram_len);
	case 3:
		return 0xffff888000000000ULL + pick(1 << 20);
	case 4:
		return pick(2) ? 0 : UINT64_MAX - pick(4096);
	default:
		return (uint64_t)(uintptr_t)arena + pick(arena_len);
	}
}

static void fail(const char *what, int err)
{
	printf("not ok 1 - fuzz seed %llu iteration %lu: %s: unexpected %s (%d)\n",
	       (unsigned long long)seed, iter, what, strerror(err), err);
	printf("# reproduce: pm-fuzz_test --seed %llu --iterations %lu%s\n",
	       (unsigned long long)seed, iter + 1, failslab ? " --failslab ..." : "");
	printf("1..1\n");
	fflush(stdout);
	_exit(1);
}

/* Check an ioctl-like result against the errnos allowed for it. */
static void check(const char *what, int ret, const int *allowed)
{
	calls++;
	if (ret >= 0)
		return;
	refused++;
	if (errno == ENOMEM)
		enomem++;
	if (failslab && errno == ENOMEM)
		return;
	for (; *allowed; allowed++)
		if (errno == *allowed)
			return;
	fail(what, errno);
}

static const int e_alloc[] = { EINVAL, E2BIG, ENOSPC, EFAULT, EBADF, ENOTTY, ENODEV, 0 };
static const int e_free[] = { ENOENT, EFAULT, EBADF, ENOTTY, 0 };
static const int e_mmap[] = { EINVAL, ENOENT, EPERM, EACCES, ENOMEM, EBADF, ENODEV,
			      EOVERFLOW, ENODEV, 0 };
static const int e_copy[] = { EINVAL, E2BIG, EOVERFLOW, EFAULT, EACCES, EREMOTEIO,
			      EPERM, EBADF, ENOTTY, ENODEV, EINTR, 0 };
static const int e_lookup[] = { ENOENT, EFAULT, EBADF, ENOTTY, 0 };
static const int e_policy[] = { EINVAL, ENOENT, EFAULT, EBADF, ENOTTY, 0 };
static const int e_move[] = { EINVAL, ENOENT, EFAULT, EBADF, ENOTTY, EALREADY, EBUSY,
			      ENODEV, 0 };
static const int e_route[] = { EINVAL, ENODEV, EFAULT, EBADF, ENOTTY, 0 };
static const int e_export[] = { EINVAL, ENOENT, EFAULT, EBADF, ENOTTY, ENODEV, EMFILE, 0 };
static const int e_any[] = { EINVAL, ENOTTY, EBADF, EFAULT, ENOENT, EPERM, EACCES,
			     ENOMEM, 0 };

static int open_dev(const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "%s/%s", pm_dev_dir(), name);
	return open(path, O_RDWR | O_CLOEXEC);
}

static void op_open_close(void)
{
	int i = (int)pick(NFD);

	if (pick(2)) {
		if (bar_fd[i] >= 0)
			close(bar_fd[i]);
		bar_fd[i] = open_dev("peermap-bar0");
	} else {
		if (edu_fd[i] >= 0)
			close(edu_fd[i]);
		edu_fd[i] = open_dev("peermap-edu0");
	}
}

static void op_alloc(void)
{
	struct peermap_bar_alloc a = { .size = any_len() };

	if (!pick(8))
		a.flags = (uint32_t)rnd();
	check("ALLOC", ioctl(bar_fd[pick(NFD)], PEERMAP_BAR_IOC_ALLOC, &a), e_alloc);
	handles[pick(NHANDLE)] = a.handle;
}

static void op_free(void)
{
	struct peermap_bar_free f = { .handle = pick(4) ? handles[pick(NHANDLE)] : rnd() };

	check("FREE", ioctl(bar_fd[pick(NFD)], PEERMAP_BAR_IOC_FREE, &f), e_free);
}

static void op_mmap(void)
{
	static const int prots[] = { PROT_READ | PROT_WRITE, PROT_READ, PROT_NONE,
				     PROT_READ | PROT_EXEC, PROT_WRITE };
	struct mapping *m = &maps[pick(NMAP)];
	size_t len = pick(4) ? 4096 * (pick(16) + 1) : (size_t)any_len();
	off_t off = (off_t)(pick(4) ? handles[pick(NHANDLE)] * 4096 : any_len());
	void *p;

	if (m->addr)
		munmap(m->addr, m->len);
	m->addr = NULL;
	p = mmap(NULL, len, prots[pick(5)], pick(6) ? MAP_SHARED : MAP_PRIVATE,
		 bar_fd[pick(NFD)], off);
	calls++;
	if (p == MAP_FAILED) {
		check("mmap", -1, e_mmap);
		return;
	}
	m->addr = p;
	m->len = len;
}

static void op_unmap_protect(void)
{
	struct mapping *m = &maps[pick(NMAP)];
	size_t off;

	if (!pick(3)) {
		off = 4096 * pick(arena_len / 4096);
		mprotect(arena + off, 4096 * (pick(4) + 1), (int)pick(4));
		return;
	}
	if (!m->addr)
		return;
	off = 4096 * pick(m->len / 4096);
	if (pick(2)) {
		/* partial munmap: splits the VMA; keep the head only */
		munmap((char *)m->addr + off, m->len - off);
		m->len = off;
		if (!off)
			m->addr = NULL;
	} else {
		mprotect((char *)m->addr + off, 4096, (int)pick(8));
	}
}

static void op_copy(void)
{
	struct peermap_edu_copy c = {
		.src = any_addr(), .dst = any_addr(),
		/* mostly short: each 4 KiB costs the engine 0.2 s */
		.len = pick(8) ? pick(64) + 1 : any_len(),
	};

	if (!pick(16))
		c.flags = (uint32_t)rnd();
	check("COPY", ioctl(edu_fd[pick(NFD)], PEERMAP_EDU_IOC_COPY, &c), e_copy);
}

static void op_segments(void)
{
	struct peermap_seg segs[8];
	struct peermap_edu_segments q = {
		.addr = any_addr(), .len = any_len(), .access = (uint32_t)pick(5),
		.nsegs = (uint32_t)pick(9),	/* segs holds 8 */
		.segs = pick(4) ? (uint64_t)(uintptr_t)segs : any_addr(),
	};

	check("SEGMENTS", ioctl(edu_fd[pick(NFD)], PEERMAP_EDU_IOC_SEGMENTS, &q), e_copy);
}

static void op_register(void)
{
	struct peermap_edu_register r = {
		.addr = any_addr(), .len = pick(4) ? pick(65536) + 1 : any_len(),
		.access = (uint32_t)pick(5), .flags = (uint32_t)pick(3),
	};

	check("REGISTER", ioctl(edu_fd[pick(NFD)], PEERMAP_EDU_IOC_REGISTER,
				pick(16) ? &r : (void *)any_addr()), e_copy);
	reg_ids[pick(NHANDLE)] = r.id;
}

static void op_unregister_info(void)
{
	struct peermap_edu_unregister u = {
		.id = pick(4) ? reg_ids[pick(NHANDLE)] : rnd(),
	};
	struct peermap_edu_reg_info ri = { .id = u.id };
	struct peermap_edu_stats st;
	int fd = edu_fd[pick(NFD)];

	switch (pick(3)) {
	case 0:
		check("UNREGISTER", ioctl(fd, PEERMAP_EDU_IOC_UNREGISTER, &u), e_lookup);
		break;
	case 1:
		check("REG_INFO", ioctl(fd, PEERMAP_EDU_IOC_REG_INFO,
					pick(8) ? &ri : (void *)any_addr()), e_lookup);
		break;
	default:
		check("STATS", ioctl(fd, PEERMAP_EDU_IOC_STATS,
				     pick(8) ? &st : (void *)any_addr()), e_lookup);
		break;
	}
}

/* The exporter's control of an object: policy, evict, restore, info, export. */
static void op_object_control(void)
{
	uint64_t h = pick(4) ? handles[pick(NHANDLE)] : rnd();
	struct peermap_bar_policy pol = { .handle = h };
	struct peermap_bar_move mv = { .handle = h };
	struct peermap_bar_obj_info oi = { .handle = h };
	int fd = bar_fd[pick(NFD)];
	size_t i;

	switch (pick(5)) {
	case 3: {
		/* a slice as a dma-buf: mostly page-aligned, sometimes not */
		struct peermap_bar_export ex = {
			.handle = h,
			.offset = pick(4) ? (uint64_t)pick(4) << 12 : rnd(),
			.size = pick(4) ? (uint64_t)pick(4) << 12 : rnd(),
			.flags = pick(8) ? (uint32_t)pick(2) : (uint32_t)rnd(),
		};
		int buf = ioctl(fd, PEERMAP_BAR_IOC_EXPORT, pick(16) ? &ex : (void *)any_addr());
		void *p;

		check("EXPORT", buf, e_export);
		if (buf < 0)
			break;
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, buf, 0);
		if (p != MAP_FAILED)
			munmap(p, 4096);
		close(buf);
		break;
	}
	case 0:
		/* mostly harmless policies: CPU off would stop nothing here */
		pol.flags = pick(8) ? (uint32_t)pick(4) : (uint32_t)rnd();
		if (!pick(4))
			for (i = 0; i < sizeof(pol.deny); i++)
				pol.deny[i] = (char)rnd();	/* maybe unterminated */
		check("POLICY", ioctl(fd, PEERMAP_BAR_IOC_POLICY, &pol), e_policy);
		break;
	case 1:
	case 2:
		if (!pick(16))
			mv.flags = (uint32_t)rnd();
		check(pick(2) ? "EVICT" : "RESTORE",
		      ioctl(fd, pick(2) ? PEERMAP_BAR_IOC_EVICT : PEERMAP_BAR_IOC_RESTORE,
			    pick(16) ? &mv : (void *)any_addr()), e_move);
		break;
	default:
		check("OBJ_INFO", ioctl(fd, PEERMAP_BAR_IOC_OBJ_INFO,
					pick(16) ? &oi : (void *)any_addr()), e_lookup);
		break;
	}
}

static void op_route(void)
{
	struct peermap_route_query q;
	size_t i;

	memset(&q, 0, sizeof(q));
	if (pick(2)) {
		snprintf(q.provider, sizeof(q.provider), "%02x:%02x.%x",
			 (unsigned int)pick(8), (unsigned int)pick(32), (unsigned int)pick(9));
		snprintf(q.client, sizeof(q.client), "0000:%02x:00.0", (unsigned int)pick(8));
	} else {
		for (i = 0; i < sizeof(q.provider); i++)
			q.provider[i] = (char)rnd();	/* maybe unterminated */
	}
	if (!pick(8))
		q.reserved = 1;
	check("ROUTE", ioctl(ctl_fd, PEERMAP_IOC_ROUTE, pick(16) ? &q : (void *)any_addr()),
	      e_route);
}

static void op_bad_ioctl(void)
{
	int fds[] = { bar_fd[pick(NFD)], edu_fd[pick(NFD)], ctl_fd };
	unsigned long cmd = pick(2) ? _IOC(pick(4), PEERMAP_IOC_MAGIC, pick(256), pick(2048))
				    : (unsigned long)rnd();

	check("ioctl", ioctl(fds[pick(3)], cmd, any_addr()), e_any);
}

static void run_ops(unsigned long n);

static void op_fork(void)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return;
	if (!pid) {
		/* the child shares the fds and copies the mappings (COW) */
		rng ^= 0x9e3779b97f4a7c15ULL;
		run_ops(8);
		_exit(0);
	}
	if (pick(4) == 0)
		kill(pid, SIGKILL);		/* die mid-operation */
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st))
		fail("fork child", EIO);
}

static void run_ops(unsigned long n)
{
	static void (*const ops[])(void) = {
		op_open_close, op_alloc, op_alloc, op_free, op_mmap, op_mmap,
		op_unmap_protect, op_copy, op_segments, op_segments, op_route,
		op_bad_ioctl, op_register, op_unregister_info, op_object_control,
	};
	unsigned long i, k;

	for (i = 0; i < n; i++) {
		k = pick(64) ? pick(sizeof(ops) / sizeof(ops[0])) : 99;
		if (trace)
			fprintf(stderr, "# %lu op %lu\n", iter, k);
		if (k == 99)
			op_fork();
		else
			ops[k]();
	}
}

static int set_failslab(int pct)
{
	static const char *const knobs[][2] = {
		{ "/sys/kernel/debug/failslab/task-filter", "Y" },
		{ "/sys/kernel/debug/failslab/verbose", "0" },
		{ "/sys/kernel/debug/failslab/interval", "1" },
		{ "/sys/kernel/debug/failslab/times", "-1" },
		{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
		{ "/proc/self/make-it-fail", "1" },
	};
	char v[16];
	size_t i;
	FILE *f;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		f = fopen(knobs[i][0], "w");
		if (!f || fputs(knobs[i][1], f) < 0 || fclose(f)) {
			printf("Bail out! %s: %s (failslab needs the debug kernel)\n",
			       knobs[i][0], strerror(errno));
			return -1;
		}
	}
	snprintf(v, sizeof(v), "%d", pct);
	f = fopen("/sys/kernel/debug/failslab/probability", "w");
	if (!f || fputs(v, f) < 0 || fclose(f))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long n = 0, seconds = 0, done = 0;
	struct peermap_bar_info info;
	time_t start;
	int i;

	seed = (uint64_t)time(NULL);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--iterations") && i + 1 < argc)
			n = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--trace"))
			trace = 1;
		else if (!strcmp(argv[i], "--failslab") && i + 1 < argc)
			failslab = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: pm-fuzz_test [--seed S] [--iterations N | --seconds T] [--failslab PCT]\n");
			return 2;
		}
	}
	if (!n && !seconds)
		seconds = 10;
	rng = seed * 2 + 1;
	printf("# pm-fuzz_test seed %llu\n", (unsigned long long)seed);

	for (i = 0; i < NFD; i++) {
		bar_fd[i] = open_dev("peermap-bar0");
		edu_fd[i] = open_dev("peermap-edu0");
	}
	ctl_fd = open_dev("peermap");
	if (bar_fd[0] < 0 || edu_fd[0] < 0 || ctl_fd < 0) {
		printf("Bail out! peermap devices: %s\n", strerror(errno));
		return 1;
	}
	if (!ioctl(bar_fd[0], PEERMAP_BAR_IOC_INFO, &info))
		bar_size = info.bar_size;
	ram = mmap(NULL, ram_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	arena = mmap(NULL, arena_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED || arena == MAP_FAILED)
		return 1;
	if (failslab && set_failslab(failslab))
		return 1;

	start = time(NULL);
	for (iter = 0; n ? iter < n : (unsigned long)(time(NULL) - start) < seconds; iter++) {
		run_ops(1);
		done++;
	}
	printf("ok 1 - fuzz seed %llu: %lu iterations, %lu calls (%lu refused, %lu with ENOMEM) in %ld s%s\n",
	       (unsigned long long)seed, done, calls, refused, enomem,
	       (long)(time(NULL) - start), failslab ? ", with failslab" : "");
	printf("1..1\n");
	return 0;
}
