// SPDX-License-Identifier: GPL-2.0
/*
 * In-guest tests of the first end-to-end path: the segments an importer
 * gets (route, flags, merging, sub-ranges), object lifetime, and every bad
 * input of the exporter's and importer's ABI getting its documented errno.
 * Copies themselves are driven by `peermap copy` from tests/vm/10-copy.t.
 *
 * Environment: PM_EXPECT_ADDR=bus|iova, how the topology reaches the peer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "peermap.h"

#define PAGE	4096UL

static struct pm_bar bar;
static int edu;
static int expect_iova;

/* An address range with nothing mapped: reserved, then unmapped. */
static void *hole(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, len);
	return p;
}

static void *ram(size_t len, int prot)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0x11, len);
	if (prot != (PROT_READ | PROT_WRITE))
		mprotect(p, len, prot);
	return p;
}

static int copy_raw(uint64_t dst, uint64_t src, uint64_t len, uint32_t flags)
{
	struct peermap_edu_copy c = {
		.src = src, .dst = dst, .len = len, .flags = flags,
	};

	return ioctl(edu, PEERMAP_EDU_IOC_COPY, &c) ? -errno : 0;
}

/* --- segments: what the importer's device gets ------------------------ */

static void segments_object_is_one_segment(void)
{
	struct peermap_seg *s;
	struct pm_obj o;
	unsigned int n;
	int err;

	ASSERT(!pm_obj_alloc(&bar, 1 << 20, &o), "alloc 1 MiB");
	err = pm_edu_segments(edu, o.cpu, o.size, PEERMAP_ACCESS_READ, &s, &n);
	EXPECT(!err, "segments: %s", strerror(-err));
	if (!err) {
		EXPECT(n == 1, "%u segments for a contiguous object", n);
		EXPECT(s[0].len == o.size, "length %llu", (unsigned long long)s[0].len);
		EXPECT(s[0].flags & PEERMAP_SEG_PEER, "flags %#x", s[0].flags);
		EXPECT(!(s[0].flags & PEERMAP_SEG_WRITE), "read-only asked, flags %#x",
		       s[0].flags);
		if (expect_iova) {
			EXPECT(s[0].flags & PEERMAP_SEG_IOVA, "flags %#x", s[0].flags);
			EXPECT(s[0].addr != bar.info.bar_bus_addr + o.mmap_offset,
			       "IOVA %#llx is the bus address",
			       (unsigned long long)s[0].addr);
		} else {
			EXPECT(!(s[0].flags & PEERMAP_SEG_IOVA), "flags %#x", s[0].flags);
			EXPECT(s[0].addr == bar.info.bar_bus_addr + o.mmap_offset,
			       "address %#llx, bus address %#llx",
			       (unsigned long long)s[0].addr,
			       (unsigned long long)(bar.info.bar_bus_addr + o.mmap_offset));
		}
		free(s);
	}
	pm_obj_free(&o);
}

static void segments_write_access_is_writable(void)
{
	struct peermap_seg *s;
	struct pm_obj o;
	unsigned int n;
	int err;

	ASSERT(!pm_obj_alloc(&bar, 8192, &o), "alloc");
	err = pm_edu_segments(edu, o.cpu, o.size, PEERMAP_ACCESS_WRITE, &s, &n);
	EXPECT(!err && n == 1 && (s[0].flags & PEERMAP_SEG_WRITE),
	       "err %d, %u segments", err, n);
	if (!err)
		free(s);
	pm_obj_free(&o);
}

static void segments_subrange_of_object(void)
{
	struct pm_obj a, o;
	struct peermap_seg *s;
	unsigned int n;
	int err;

	/* The second object sits at a non-zero offset in the BAR. */
	ASSERT(!pm_obj_alloc(&bar, PAGE, &a), "alloc first");
	if (pm_obj_alloc(&bar, 65536, &o)) {
		pm_obj_free(&a);
		ASSERT(0, "alloc second");
	}
	EXPECT(o.mmap_offset != 0, "second object at offset 0");
	err = pm_edu_segments(edu, (char *)o.cpu + 4102, 10000,
			      PEERMAP_ACCESS_READ, &s, &n);
	EXPECT(!err && n == 1, "err %d, %u segments", err, n);
	if (!err) {
		EXPECT(s[0].len == 10000, "length %llu", (unsigned long long)s[0].len);
		if (!expect_iova)
			EXPECT(s[0].addr == bar.info.bar_bus_addr + o.mmap_offset + 4102,
			       "address %#llx", (unsigned long long)s[0].addr);
		else
			EXPECT((s[0].addr & (PAGE - 1)) == 4102 % PAGE,
			       "IOVA %#llx keeps the offset in the page",
			       (unsigned long long)s[0].addr);
		free(s);
	}
	pm_obj_free(&o);
	pm_obj_free(&a);
}

/* Is every streaming DMA mapping bounced (swiotlb=force)? */
static int bounced(void)
{
	char line[1024] = "";
	FILE *f = fopen("/proc/cmdline", "r");

	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	return strstr(line, "swiotlb=force") != NULL;
}

static void segments_ram_cover_range(void)
{
	size_t len = 65536 - 7;
	struct peermap_seg *s;
	unsigned char *p = ram(65536, PROT_READ | PROT_WRITE);
	unsigned long long sum = 0;
	unsigned int n, i;
	int err;

	ASSERT(p, "ram");
	err = pm_edu_segments(edu, p + 7, len, PEERMAP_ACCESS_READ, &s, &n);
	EXPECT(!err, "segments: %s", strerror(-err));
	if (!err) {
		for (i = 0; i < n; i++) {
			sum += s[i].len;
			EXPECT(!(s[i].flags & PEERMAP_SEG_PEER), "segment %u peer", i);
			EXPECT(!!(s[i].flags & PEERMAP_SEG_IOVA) == expect_iova,
			       "segment %u flags %#x", i, s[i].flags);
		}
		EXPECT(sum == len, "segments cover %llu of %zu bytes", sum, len);
		/* A bounce buffer keeps no page offset (swiotlb slots). */
		EXPECT(bounced() || (s[0].addr & (PAGE - 1)) == 7,
		       "first address %#llx", (unsigned long long)s[0].addr);
		free(s);
	}
	munmap(p, 65536);
}

static void segments_bad_access_einval(void)
{
	struct peermap_edu_segments q = { .len = PAGE, .access = 0 };
	unsigned char *p = ram(PAGE, PROT_READ | PROT_WRITE);

	ASSERT(p, "ram");
	q.addr = (uintptr_t)p;
	EXPECT(ioctl(edu, PEERMAP_EDU_IOC_SEGMENTS, &q) && errno == EINVAL,
	       "access 0: errno %d", errno);
	q.access = 1U << 7;
	EXPECT(ioctl(edu, PEERMAP_EDU_IOC_SEGMENTS, &q) && errno == EINVAL,
	       "unknown access bit: errno %d", errno);
	munmap(p, PAGE);
}

/* --- importer: bad copy requests --------------------------------------- */

static void copy_zero_length_einval(void)
{
	unsigned char *p = ram(2 * PAGE, PROT_READ | PROT_WRITE);
	int err;

	ASSERT(p, "ram");
	err = copy_raw((uintptr_t)p, (uintptr_t)p + PAGE, 0, 0);
	EXPECT(err == -EINVAL, "got %d", err);
	munmap(p, 2 * PAGE);
}

static void copy_overflowing_range_eoverflow(void)
{
	unsigned char *p = ram(PAGE, PROT_READ | PROT_WRITE);
	int err;

	ASSERT(p, "ram");
	err = copy_raw((uintptr_t)p, UINT64_MAX - 100, 200, 0);
	EXPECT(err == -EOVERFLOW, "got %d", err);
	munmap(p, PAGE);
}

static void copy_too_large_e2big(void)
{
	int err = copy_raw(0x10000000, 0x20000000, PEERMAP_EDU_COPY_MAX + 1, 0);

	EXPECT(err == -E2BIG, "got %d", err);
}

static void copy_overlapping_einval(void)
{
	unsigned char *p = ram(2 * PAGE, PROT_READ | PROT_WRITE);
	int err;

	ASSERT(p, "ram");
	err = copy_raw((uintptr_t)p + 100, (uintptr_t)p, PAGE, 0);
	EXPECT(err == -EINVAL, "got %d", err);
	munmap(p, 2 * PAGE);
}

static void copy_unknown_flags_einval(void)
{
	unsigned char *p = ram(2 * PAGE, PROT_READ | PROT_WRITE);
	int err;

	ASSERT(p, "ram");
	err = copy_raw((uintptr_t)p, (uintptr_t)p + PAGE, 16, 1U << 7);
	EXPECT(err == -EINVAL, "got %d", err);
	munmap(p, 2 * PAGE);
}

static void copy_from_hole_efault(void)
{
	unsigned char *p = ram(PAGE, PROT_READ | PROT_WRITE);
	void *h = hole(4 * PAGE);
	int err;

	ASSERT(p && h, "setup");
	err = pm_edu_copy(edu, p, h, 64);
	EXPECT(err == -EFAULT, "got %d", err);
	munmap(p, PAGE);
}

static void copy_prot_none_efault(void)
{
	unsigned char *p = ram(2 * PAGE, PROT_READ | PROT_WRITE);
	int err;

	ASSERT(p, "ram");
	mprotect(p + PAGE, PAGE, PROT_NONE);
	err = pm_edu_copy(edu, p, p + PAGE, 64);
	EXPECT(err == -EFAULT, "got %d", err);
	munmap(p, 2 * PAGE);
}

static void copy_past_object_end_efault(void)
{
	unsigned char *p = ram(4 * PAGE, PROT_READ | PROT_WRITE);
	struct pm_obj o;
	void *at;
	int err;

	ASSERT(p, "ram");
	/* Place the object right before a hole, so the range runs into it. */
	at = hole(4 * PAGE);
	ASSERT(!pm_obj_alloc(&bar, 2 * PAGE, &o), "alloc");
	munmap(o.cpu, o.size);
	o.cpu = mmap(at, o.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		     bar.fd, (off_t)o.mmap_offset);
	EXPECT(o.cpu == at, "remap at %p", at);
	err = pm_edu_copy(edu, p, (char *)o.cpu + PAGE, 2 * PAGE);
	EXPECT(err == -EFAULT, "got %d", err);
	pm_obj_free(&o);
	munmap(p, 4 * PAGE);
}

static void copy_to_readonly_ram_eacces(void)
{
	unsigned char *src = ram(PAGE, PROT_READ | PROT_WRITE);
	unsigned char *dst = ram(PAGE, PROT_READ);
	int err;

	ASSERT(src && dst, "ram");
	err = pm_edu_copy(edu, dst, src, 64);
	EXPECT(err == -EACCES, "got %d", err);
	munmap(src, PAGE);
	munmap(dst, PAGE);
}

static void copy_to_readonly_object_eacces(void)
{
	unsigned char *src = ram(PAGE, PROT_READ | PROT_WRITE);
	struct pm_obj o;
	int err;

	ASSERT(src, "ram");
	ASSERT(!pm_obj_alloc(&bar, PAGE, &o), "alloc");
	EXPECT(!mprotect(o.cpu, o.size, PROT_READ), "mprotect: %s", strerror(errno));
	err = pm_edu_copy(edu, o.cpu, src, 64);
	EXPECT(err == -EACCES, "got %d", err);
	pm_obj_free(&o);
	munmap(src, PAGE);
}

static void copy_foreign_pfnmap_efault(void)
{
	char path[96];
	unsigned char *dst = ram(PAGE, PROT_READ | PROT_WRITE);
	void *bar2;
	int fd, err;

	ASSERT(dst, "ram");
	/*
	 * A VM_IO | VM_PFNMAP VMA of no peermap exporter: the device's
	 * register BAR through sysfs (its memory BAR is claimed by the driver).
	 */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%u",
		 bar.info.pci_name, bar.info.bar_index ? 0 : 1);
	fd = open(path, O_RDWR);
	ASSERT(fd >= 0, "open %s: %s", path, strerror(errno));
	bar2 = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	ASSERT(bar2 != MAP_FAILED, "mmap %s: %s", path, strerror(errno));
	err = pm_edu_copy(edu, dst, bar2, 64);
	EXPECT(err == -EFAULT, "got %d", err);
	munmap(bar2, PAGE);
	munmap(dst, PAGE);
}

static void importer_unknown_ioctl_enotty(void)
{
	EXPECT(ioctl(edu, _IO(PEERMAP_IOC_MAGIC, 0x7f)) && errno == ENOTTY,
	       "errno %d", errno);
	EXPECT(ioctl(bar.fd, _IO(PEERMAP_IOC_MAGIC, 0x7f)) && errno == ENOTTY,
	       "errno %d", errno);
}

/* --- exporter: objects and mmap ---------------------------------------- */

static void alloc_zero_einval(void)
{
	struct peermap_bar_alloc a = { .size = 0 };

	EXPECT(ioctl(bar.fd, PEERMAP_BAR_IOC_ALLOC, &a) && errno == EINVAL,
	       "errno %d", errno);
	a.size = PAGE;
	a.flags = 1;
	EXPECT(ioctl(bar.fd, PEERMAP_BAR_IOC_ALLOC, &a) && errno == EINVAL,
	       "flags: errno %d", errno);
}

static void alloc_bigger_than_bar_e2big(void)
{
	struct peermap_bar_alloc a = { .size = bar.info.bar_size + 1 };

	EXPECT(ioctl(bar.fd, PEERMAP_BAR_IOC_ALLOC, &a) && errno == E2BIG,
	       "errno %d", errno);
}

static void alloc_until_full_enospc(void)
{
	struct peermap_bar_alloc a;
	struct peermap_bar_free f;
	uint64_t handles[64];
	int n = 0, i, err = 0;

	/* Eighths of the BAR: at most 8 fit; the 9th must say ENOSPC. */
	while (n < 64) {
		a = (struct peermap_bar_alloc){ .size = bar.info.bar_size / 8 };
		if (ioctl(bar.fd, PEERMAP_BAR_IOC_ALLOC, &a)) {
			err = errno;
			break;
		}
		handles[n++] = a.handle;
	}
	EXPECT(err == ENOSPC, "errno %d after %d objects", err, n);
	EXPECT(n <= 8, "%d eighths fit", n);
	for (i = 0; i < n; i++) {
		f.handle = handles[i];
		EXPECT(!ioctl(bar.fd, PEERMAP_BAR_IOC_FREE, &f), "free %d", i);
	}
	a = (struct peermap_bar_alloc){ .size = bar.info.bar_size / 8 };
	EXPECT(!ioctl(bar.fd, PEERMAP_BAR_IOC_ALLOC, &a), "alloc after free: %d", errno);
	f.handle = a.handle;
	ioctl(bar.fd, PEERMAP_BAR_IOC_FREE, &f);
}

static void free_unknown_and_twice_enoent(void)
{
	struct peermap_bar_alloc a = { .size = PAGE };
	struct peermap_bar_free f = { .handle = 123456789 };

	EXPECT(ioctl(bar.fd, PEERMAP_BAR_IOC_FREE, &f) && errno == ENOENT,
	       "unknown: errno %d", errno);
	ASSERT(!ioctl(bar.fd, PEERMAP_BAR_IOC_ALLOC, &a), "alloc");
	f.handle = a.handle;
	EXPECT(!ioctl(bar.fd, PEERMAP_BAR_IOC_FREE, &f), "first free");
	EXPECT(ioctl(bar.fd, PEERMAP_BAR_IOC_FREE, &f) && errno == ENOENT,
	       "second free: errno %d", errno);
}

static void mmap_bad_requests_refused(void)
{
	struct pm_obj o;
	struct pm_bar other;
	void *p;

	ASSERT(!pm_obj_alloc(&bar, 2 * PAGE, &o), "alloc");
	p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, bar.fd,
		 (off_t)o.mmap_offset);
	EXPECT(p == MAP_FAILED && errno == EINVAL, "larger than object: errno %d", errno);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, bar.fd,
		 (off_t)o.mmap_offset);
	EXPECT(p == MAP_FAILED && errno == EINVAL, "smaller than object: errno %d", errno);
	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, bar.fd,
		 (off_t)o.mmap_offset);
	EXPECT(p == MAP_FAILED && errno == EINVAL, "MAP_PRIVATE: errno %d", errno);
	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_EXEC, MAP_SHARED, bar.fd,
		 (off_t)o.mmap_offset);
	EXPECT(p == MAP_FAILED && errno == EPERM, "PROT_EXEC: errno %d", errno);
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, bar.fd,
		 (off_t)(o.mmap_offset + PAGE));
	EXPECT(p == MAP_FAILED && errno == ENOENT, "offset inside object: errno %d", errno);
	p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, bar.fd,
		 (off_t)(o.mmap_offset + 1));
	EXPECT(p == MAP_FAILED && errno == EINVAL, "unaligned offset: errno %d", errno);
	EXPECT(mprotect(o.cpu, o.size, PROT_READ | PROT_EXEC) && errno == EACCES,
	       "mprotect to exec: errno %d", errno);
	/* Another open file does not see this file's objects. */
	if (!pm_bar_open(0, &other)) {
		p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, other.fd,
			 (off_t)o.mmap_offset);
		EXPECT(p == MAP_FAILED && errno == ENOENT, "foreign offset: errno %d", errno);
		pm_bar_close(&other);
	}
	pm_obj_free(&o);
}

static void object_lives_while_mapped_after_free(void)
{
	struct peermap_bar_free f;
	unsigned char *dst = ram(PAGE, PROT_READ | PROT_WRITE);
	unsigned char *cpu;
	struct pm_obj o;
	int i, bad = 0, err;

	ASSERT(dst, "ram");
	ASSERT(!pm_obj_alloc(&bar, PAGE, &o), "alloc");
	cpu = o.cpu;
	for (i = 0; i < 256; i++)
		cpu[i] = (unsigned char)(i ^ 0x5a);
	f.handle = o.handle;
	EXPECT(!ioctl(bar.fd, PEERMAP_BAR_IOC_FREE, &f), "free");
	/* The handle is gone; the VMA still holds the object. */
	err = pm_edu_copy(edu, dst, cpu, 256);
	EXPECT(!err, "copy from a freed but mapped object: %d", err);
	for (i = 0; i < 256; i++)
		bad += dst[i] != (unsigned char)(i ^ 0x5a);
	EXPECT(!bad, "%d bytes differ", bad);
	munmap(cpu, o.size);
	munmap(dst, PAGE);
}

static const struct test tests[] = {
	T(segments_object_is_one_segment),
	T(segments_write_access_is_writable),
	T(segments_subrange_of_object),
	T(segments_ram_cover_range),
	T(segments_bad_access_einval),
	T(copy_zero_length_einval),
	T(copy_overflowing_range_eoverflow),
	T(copy_too_large_e2big),
	T(copy_overlapping_einval),
	T(copy_unknown_flags_einval),
	T(copy_from_hole_efault),
	T(copy_prot_none_efault),
	T(copy_past_object_end_efault),
	T(copy_to_readonly_ram_eacces),
	T(copy_to_readonly_object_eacces),
	T(copy_foreign_pfnmap_efault),
	T(importer_unknown_ioctl_enotty),
	T(alloc_zero_einval),
	T(alloc_bigger_than_bar_e2big),
	T(alloc_until_full_enospc),
	T(free_unknown_and_twice_enoent),
	T(mmap_bad_requests_refused),
	T(object_lives_while_mapped_after_free),
};

int main(int argc, char **argv)
{
	const char *e = getenv("PM_EXPECT_ADDR");
	int err;

	expect_iova = e && !strcmp(e, "iova");
	err = pm_bar_open(0, &bar);
	if (err) {
		printf("Bail out! %s/peermap-bar0: %s\n", pm_dev_dir(), strerror(-err));
		return 1;
	}
	edu = pm_edu_open(0);
	if (edu < 0) {
		printf("Bail out! %s/peermap-edu0: %s\n", pm_dev_dir(), strerror(-edu));
		return 1;
	}
	return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
