// SPDX-License-Identifier: GPL-2.0
/*
 * In-guest tests of the first end-to-end path: the segments an importer
 * gets (route, flags, merging, sub-ranges), object lifetime, and every bad
 * input of the exporter's and importer's ABI getting its documented errno.
 * Copies themselves are driven by `peermap copy` from tests/vm/20-copy.t.
 *
 * Fixtures: "p2p" opens the first exporter and importer; "peer_address"
 * too, for the tests whose answer depends on how the client reaches the
 * peer, in two variants (bus address, IOVA): the one the topology does not
 * use (TOPO_EXPECT_P2P_ADDR) is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "peermap.h"

#define PAGE	4096UL

FIXTURE(p2p) {
	struct pm_bar bar;
	int edu;
};

FIXTURE_SETUP(p2p)
{
	pm_open_devices(_metadata, &self->bar, &self->edu);
}

FIXTURE_TEARDOWN(p2p)
{
	close(self->edu);
	pm_bar_close(&self->bar);
}

FIXTURE(peer_address) {
	struct pm_bar bar;
	int edu;
};

FIXTURE_VARIANT(peer_address) {
	const char *kind;	/* TOPO_EXPECT_P2P_ADDR of the topologies it fits */
	bool iova;
};

FIXTURE_VARIANT_ADD(peer_address, bus) {
	.kind = "bus",
	.iova = false,
};

FIXTURE_VARIANT_ADD(peer_address, iova) {
	.kind = "iova",
	.iova = true,
};

FIXTURE_SETUP(peer_address)
{
	char kind[32];

	pm_topo("EXPECT_P2P_ADDR", kind, sizeof(kind));
	if (strcmp(kind, variant->kind))
		SKIP(return, "this topology reaches the peer by %s address",
		     kind[0] ? kind : "an unknown");
	pm_open_devices(_metadata, &self->bar, &self->edu);
}

FIXTURE_TEARDOWN(peer_address)
{
	close(self->edu);
	pm_bar_close(&self->bar);
}

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

static int copy_raw(int edu, uint64_t dst, uint64_t src, uint64_t len, uint32_t flags)
{
	struct peermap_edu_copy c = {
		.src = src, .dst = dst, .len = len, .flags = flags,
	};

	return ioctl(edu, PEERMAP_EDU_IOC_COPY, &c) ? -errno : 0;
}

/* --- segments: what the importer's device gets ------------------------ */

TEST_F(peer_address, segments_object_is_one_segment)
{
	struct peermap_seg *s;
	struct pm_obj o;
	unsigned int n;
	int err;

	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 1 << 20, &o)) TH_LOG("alloc 1 MiB");
	err = pm_edu_segments(self->edu, o.cpu, o.size, PEERMAP_ACCESS_READ, &s, &n);
	EXPECT_TRUE(!err) TH_LOG("segments: %s", strerror(-err));
	if (!err) {
		EXPECT_TRUE(n == 1) TH_LOG("%u segments for a contiguous object", n);
		EXPECT_TRUE(s[0].len == o.size) TH_LOG("length %llu", (unsigned long long)s[0].len);
		EXPECT_TRUE(s[0].flags & PEERMAP_SEG_PEER) TH_LOG("flags %#x", s[0].flags);
		EXPECT_TRUE(!(s[0].flags & PEERMAP_SEG_WRITE))
			TH_LOG("read-only asked, flags %#x", s[0].flags);
		if (variant->iova) {
			EXPECT_TRUE(s[0].flags & PEERMAP_SEG_IOVA) TH_LOG("flags %#x", s[0].flags);
			EXPECT_TRUE(s[0].addr != self->bar.info.bar_bus_addr + o.mmap_offset)
				TH_LOG("IOVA %#llx is the bus address",
				       (unsigned long long)s[0].addr);
		} else {
			EXPECT_TRUE(!(s[0].flags & PEERMAP_SEG_IOVA))
				TH_LOG("flags %#x", s[0].flags);
			EXPECT_TRUE(s[0].addr == self->bar.info.bar_bus_addr + o.mmap_offset)
				TH_LOG("address %#llx, bus address %#llx",
				       (unsigned long long)s[0].addr,
				       (unsigned long long)(self->bar.info.bar_bus_addr + o.mmap_offset));
		}
		free(s);
	}
	pm_obj_free(&o);
}

TEST_F(p2p, segments_write_access_is_writable)
{
	struct peermap_seg *s;
	struct pm_obj o;
	unsigned int n;
	int err;

	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 8192, &o)) TH_LOG("alloc");
	err = pm_edu_segments(self->edu, o.cpu, o.size, PEERMAP_ACCESS_WRITE, &s, &n);
	EXPECT_TRUE(!err && n == 1 && (s[0].flags & PEERMAP_SEG_WRITE))
		TH_LOG("err %d, %u segments", err, n);
	if (!err)
		free(s);
	pm_obj_free(&o);
}

/*
 * Users of the shared IOVA of @len bytes for @client in debugfs
 * peermap/iovas: 0 if there is none, -1 without the file.
 */
static int iova_users(const char *client, unsigned long long len)
{
	FILE *f = fopen("/sys/kernel/debug/peermap/iovas", "r");
	char line[256], want[64];
	unsigned int users;
	int found = 0;
	char *u;

	if (!f)
		return -1;
	snprintf(want, sizeof(want), " len %#llx ", len);
	while (fgets(line, sizeof(line), f)) {
		u = strstr(line, " users ");
		if (!strncmp(line, client, strlen(client)) && strstr(line, want) && u &&
		    sscanf(u, " users %u", &users) == 1)
			found += (int)users;
	}
	fclose(f);
	return found;
}

/*
 * Registrations of the same bytes for the same client share one IOVA,
 * unmapped with the last: one IOMMU mapping, and one IOTLB flush when the
 * exporter revokes them all. Dropping one leaves the other working.
 */
TEST_F(peer_address, iova_shared_by_registrations_of_same_bytes)
{
	const size_t len = 3 * PAGE;
	unsigned char *dst = ram(len, PROT_READ | PROT_WRITE);
	char client[32];
	uint64_t a, b;
	struct pm_obj o;
	size_t i, bad = 0;
	int err;

	if (!variant->iova)
		SKIP(return, "bus addresses: no IOVA");
	ASSERT_TRUE(dst) TH_LOG("ram");
	ASSERT_TRUE(!pm_node_pci_name("peermap-edu0", client, sizeof(client))) TH_LOG("edu");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, len, &o)) TH_LOG("alloc");
	for (i = 0; i < len; i++)
		((unsigned char *)o.cpu)[i] = (unsigned char)(i * 13 + 5);
	ASSERT_TRUE(iova_users(client, len) == 0) TH_LOG("debugfs peermap/iovas: %d users before",
							 iova_users(client, len));
	ASSERT_TRUE(!pm_edu_register(self->edu, o.cpu, len, PEERMAP_ACCESS_READ, 0, &a)) TH_LOG("register");
	ASSERT_TRUE(!pm_edu_register(self->edu, o.cpu, len, PEERMAP_ACCESS_READ, 0, &b)) TH_LOG("register");
	EXPECT_TRUE(iova_users(client, len) == 2) TH_LOG("two registrations: %d users of the IOVA",
							 iova_users(client, len));
	ASSERT_TRUE(!pm_edu_unregister(self->edu, a)) TH_LOG("unregister");
	EXPECT_TRUE(iova_users(client, len) == 1) TH_LOG("one left: %d users", iova_users(client, len));
	/* The copy goes through the registration left: its IOVA still maps. */
	err = pm_edu_copy(self->edu, dst, o.cpu, len);
	EXPECT_TRUE(!err) TH_LOG("copy: %s", strerror(-err));
	for (i = 0; !err && i < len; i++)
		bad += dst[i] != (unsigned char)(i * 13 + 5);
	EXPECT_TRUE(!bad) TH_LOG("%zu bytes differ", bad);
	ASSERT_TRUE(!pm_edu_unregister(self->edu, b)) TH_LOG("unregister");
	EXPECT_TRUE(iova_users(client, len) == 0) TH_LOG("none left: %d users", iova_users(client, len));
	pm_obj_free(&o);
	munmap(dst, len);
}

/* One thread of the shared-IOVA race: register, copy out and check, drop. */
struct sharer {
	pthread_t t;
	int edu;
	const unsigned char *obj;
	size_t len;
	volatile int *stop;
	unsigned long rounds, bad, err;
};

static void *sharer_run(void *arg)
{
	struct sharer *sh = arg;
	unsigned char *dst = malloc(sh->len);
	uint64_t id;
	size_t i;

	if (!dst) {
		sh->err++;
		return NULL;
	}
	while (!*sh->stop) {
		if (pm_edu_register(sh->edu, sh->obj, sh->len, PEERMAP_ACCESS_READ, 0, &id)) {
			sh->err++;
			break;
		}
		/* Copies are slow under emulation: one round in 16 copies. */
		if (!(sh->rounds % 16)) {
			memset(dst, 0, sh->len);
			if (pm_edu_copy(sh->edu, dst, sh->obj, sh->len))
				sh->err++;
			for (i = 0; i < sh->len; i++)
				sh->bad += dst[i] != (unsigned char)(i * 13 + 5);
		}
		if (pm_edu_unregister(sh->edu, id))
			sh->err++;
		sh->rounds++;
	}
	free(dst);
	return NULL;
}

/*
 * Three threads register, copy out of and drop the same bytes (one shared
 * IOVA made, shared and unmapped over and over, two made at once and one
 * undone) while the exporter evicts and restores the object: every byte
 * right, no IOVA left.
 */
TEST_F(peer_address, iova_shared_race_with_revoke)
{
	const size_t len = 2 * PAGE;
	struct sharer sh[3];
	volatile int stop = 0;
	unsigned long rounds = 0, bad = 0, errs = 0, revokes = 0;
	char client[32];
	struct pm_obj o;
	time_t end;
	size_t i;

	if (!variant->iova)
		SKIP(return, "bus addresses: no IOVA");
	ASSERT_TRUE(!pm_node_pci_name("peermap-edu0", client, sizeof(client))) TH_LOG("edu");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, len, &o)) TH_LOG("alloc");
	for (i = 0; i < len; i++)
		((unsigned char *)o.cpu)[i] = (unsigned char)(i * 13 + 5);
	for (i = 0; i < 3; i++) {
		sh[i] = (struct sharer){ .edu = self->edu, .obj = o.cpu, .len = len,
					 .stop = &stop };
		ASSERT_EQ(0, pthread_create(&sh[i].t, NULL, sharer_run, &sh[i]));
	}
	end = time(NULL) + 4;
	while (time(NULL) < end) {
		if (!pm_obj_evict(&o) && !pm_obj_restore(&o))
			revokes++;
		usleep(20000);
	}
	stop = 1;
	for (i = 0; i < 3; i++) {
		pthread_join(sh[i].t, NULL);
		rounds += sh[i].rounds;
		bad += sh[i].bad;
		errs += sh[i].err;
	}
	TH_LOG("%lu rounds by 3 threads, %lu evict+restore", rounds, revokes);
	EXPECT_TRUE(rounds > 3 && revokes > 3) TH_LOG("too little happened");
	EXPECT_TRUE(!errs) TH_LOG("%lu errors", errs);
	EXPECT_TRUE(!bad) TH_LOG("%lu bytes differ", bad);
	EXPECT_TRUE(iova_users(client, len) == 0) TH_LOG("%d users left", iova_users(client, len));
	pm_obj_free(&o);
}

TEST_F(peer_address, segments_subrange_of_object)
{
	struct pm_obj a, o;
	struct peermap_seg *s;
	unsigned int n;
	int err;

	/* The second object sits at a non-zero offset in the BAR. */
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, PAGE, &a)) TH_LOG("alloc first");
	if (pm_obj_alloc(&self->bar, 65536, &o)) {
		pm_obj_free(&a);
		ASSERT_TRUE(0) TH_LOG("alloc second");
	}
	EXPECT_TRUE(o.mmap_offset != 0) TH_LOG("second object at offset 0");
	err = pm_edu_segments(self->edu, (char *)o.cpu + 4102, 10000,
			      PEERMAP_ACCESS_READ, &s, &n);
	EXPECT_TRUE(!err && n == 1) TH_LOG("err %d, %u segments", err, n);
	if (!err) {
		EXPECT_TRUE(s[0].len == 10000) TH_LOG("length %llu", (unsigned long long)s[0].len);
		if (!variant->iova) {
			EXPECT_EQ(self->bar.info.bar_bus_addr + o.mmap_offset + 4102, s[0].addr)
				TH_LOG("not the bus address");
		} else {
			EXPECT_EQ(4102 % PAGE, s[0].addr & (PAGE - 1))
				TH_LOG("IOVA %#llx does not keep the offset in the page",
				       (unsigned long long)s[0].addr);
		}
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

TEST_F(peer_address, segments_ram_cover_range)
{
	size_t len = 65536 - 7;
	struct peermap_seg *s;
	unsigned char *p = ram(65536, PROT_READ | PROT_WRITE);
	unsigned long long sum = 0;
	unsigned int n, i;
	int err;

	ASSERT_TRUE(p) TH_LOG("ram");
	err = pm_edu_segments(self->edu, p + 7, len, PEERMAP_ACCESS_READ, &s, &n);
	EXPECT_TRUE(!err) TH_LOG("segments: %s", strerror(-err));
	if (!err) {
		for (i = 0; i < n; i++) {
			sum += s[i].len;
			EXPECT_TRUE(!(s[i].flags & PEERMAP_SEG_PEER)) TH_LOG("segment %u peer", i);
			EXPECT_TRUE(!!(s[i].flags & PEERMAP_SEG_IOVA) == variant->iova)
				TH_LOG("segment %u flags %#x", i, s[i].flags);
		}
		EXPECT_TRUE(sum == len) TH_LOG("segments cover %llu of %zu bytes", sum, len);
		/* A bounce buffer keeps no page offset (swiotlb slots). */
		EXPECT_TRUE(bounced() || (s[0].addr & (PAGE - 1)) == 7)
			TH_LOG("first address %#llx", (unsigned long long)s[0].addr);
		free(s);
	}
	munmap(p, 65536);
}

/*
 * RAM of several VMAs in one range is pinned in one go, with the mmap lock
 * dropped: every byte still comes through, and a VMA that may not be
 * mapped stops it with the errno it deserves.
 */
TEST_F(p2p, copy_ram_over_several_vmas)
{
	unsigned char *src = ram(8 * PAGE, PROT_READ | PROT_WRITE);
	unsigned char *dst = ram(8 * PAGE, PROT_READ | PROT_WRITE);
	size_t i, bad = 0;
	int err;

	ASSERT_TRUE(src && dst) TH_LOG("ram");
	for (i = 0; i < 8 * PAGE; i++)
		src[i] = (unsigned char)(i * 7 + i / PAGE);
	/* Three VMAs: read-write, read-only, read-write. */
	ASSERT_TRUE(!mprotect(src + 3 * PAGE, 2 * PAGE, PROT_READ)) TH_LOG("mprotect");
	err = pm_edu_copy(self->edu, dst, src + 100, 8 * PAGE - 200);
	EXPECT_TRUE(!err) TH_LOG("copy out of 3 VMAs: %s", strerror(-err));
	for (i = 0; !err && i < 8 * PAGE - 200; i++)
		bad += dst[i] != src[100 + i];
	EXPECT_TRUE(!bad) TH_LOG("%zu bytes differ", bad);
	err = pm_edu_copy(self->edu, src + 100, dst, 8 * PAGE - 200);
	EXPECT_TRUE(err == -EACCES) TH_LOG("copy into a read-only VMA: got %d", err);
	ASSERT_TRUE(!mprotect(src + 3 * PAGE, 2 * PAGE, PROT_NONE)) TH_LOG("mprotect");
	err = pm_edu_copy(self->edu, dst, src + 100, 8 * PAGE - 200);
	EXPECT_TRUE(err == -EFAULT) TH_LOG("copy out over PROT_NONE: got %d", err);
	munmap(src, 8 * PAGE);
	munmap(dst, 8 * PAGE);
}

TEST_F(p2p, segments_bad_access_einval)
{
	struct peermap_edu_segments q = { .len = PAGE, .access = 0 };
	unsigned char *p = ram(PAGE, PROT_READ | PROT_WRITE);

	ASSERT_TRUE(p) TH_LOG("ram");
	q.addr = (uintptr_t)p;
	EXPECT_TRUE(ioctl(self->edu, PEERMAP_EDU_IOC_SEGMENTS, &q) && errno == EINVAL)
		TH_LOG("access 0: errno %d", errno);
	q.access = 1U << 7;
	EXPECT_TRUE(ioctl(self->edu, PEERMAP_EDU_IOC_SEGMENTS, &q) && errno == EINVAL)
		TH_LOG("unknown access bit: errno %d", errno);
	munmap(p, PAGE);
}

/* --- importer: bad copy requests --------------------------------------- */

TEST_F(p2p, copy_zero_length_einval)
{
	unsigned char *p = ram(2 * PAGE, PROT_READ | PROT_WRITE);
	int err;

	ASSERT_TRUE(p) TH_LOG("ram");
	err = copy_raw(self->edu, (uintptr_t)p, (uintptr_t)p + PAGE, 0, 0);
	EXPECT_TRUE(err == -EINVAL) TH_LOG("got %d", err);
	munmap(p, 2 * PAGE);
}

TEST_F(p2p, copy_overflowing_range_eoverflow)
{
	unsigned char *p = ram(PAGE, PROT_READ | PROT_WRITE);
	int err;

	ASSERT_TRUE(p) TH_LOG("ram");
	err = copy_raw(self->edu, (uintptr_t)p, UINT64_MAX - 100, 200, 0);
	EXPECT_TRUE(err == -EOVERFLOW) TH_LOG("got %d", err);
	munmap(p, PAGE);
}

TEST_F(p2p, copy_too_large_e2big)
{
	int err = copy_raw(self->edu, 0x10000000, 0x20000000, PEERMAP_EDU_COPY_MAX + 1, 0);

	EXPECT_TRUE(err == -E2BIG) TH_LOG("got %d", err);
}

TEST_F(p2p, copy_overlapping_einval)
{
	unsigned char *p = ram(2 * PAGE, PROT_READ | PROT_WRITE);
	int err;

	ASSERT_TRUE(p) TH_LOG("ram");
	err = copy_raw(self->edu, (uintptr_t)p + 100, (uintptr_t)p, PAGE, 0);
	EXPECT_TRUE(err == -EINVAL) TH_LOG("got %d", err);
	munmap(p, 2 * PAGE);
}

TEST_F(p2p, copy_unknown_flags_einval)
{
	unsigned char *p = ram(2 * PAGE, PROT_READ | PROT_WRITE);
	int err;

	ASSERT_TRUE(p) TH_LOG("ram");
	err = copy_raw(self->edu, (uintptr_t)p, (uintptr_t)p + PAGE, 16, 1U << 7);
	EXPECT_TRUE(err == -EINVAL) TH_LOG("got %d", err);
	munmap(p, 2 * PAGE);
}

TEST_F(p2p, copy_from_hole_efault)
{
	unsigned char *p = ram(PAGE, PROT_READ | PROT_WRITE);
	void *h = hole(4 * PAGE);
	int err;

	ASSERT_TRUE(p && h) TH_LOG("setup");
	err = pm_edu_copy(self->edu, p, h, 64);
	EXPECT_TRUE(err == -EFAULT) TH_LOG("got %d", err);
	munmap(p, PAGE);
}

TEST_F(p2p, copy_prot_none_efault)
{
	unsigned char *p = ram(2 * PAGE, PROT_READ | PROT_WRITE);
	int err;

	ASSERT_TRUE(p) TH_LOG("ram");
	mprotect(p + PAGE, PAGE, PROT_NONE);
	err = pm_edu_copy(self->edu, p, p + PAGE, 64);
	EXPECT_TRUE(err == -EFAULT) TH_LOG("got %d", err);
	munmap(p, 2 * PAGE);
}

TEST_F(p2p, copy_past_object_end_efault)
{
	unsigned char *p = ram(4 * PAGE, PROT_READ | PROT_WRITE);
	struct pm_obj o;
	void *at;
	int err;

	ASSERT_TRUE(p) TH_LOG("ram");
	/* Place the object right before a hole, so the range runs into it. */
	at = hole(4 * PAGE);
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 2 * PAGE, &o)) TH_LOG("alloc");
	munmap(o.cpu, o.size);
	o.cpu = mmap(at, o.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		     self->bar.fd, (off_t)o.mmap_offset);
	EXPECT_TRUE(o.cpu == at) TH_LOG("remap at %p", at);
	err = pm_edu_copy(self->edu, p, (char *)o.cpu + PAGE, 2 * PAGE);
	EXPECT_TRUE(err == -EFAULT) TH_LOG("got %d", err);
	pm_obj_free(&o);
	munmap(p, 4 * PAGE);
}

TEST_F(p2p, copy_to_readonly_ram_eacces)
{
	unsigned char *src = ram(PAGE, PROT_READ | PROT_WRITE);
	unsigned char *dst = ram(PAGE, PROT_READ);
	int err;

	ASSERT_TRUE(src && dst) TH_LOG("ram");
	err = pm_edu_copy(self->edu, dst, src, 64);
	EXPECT_TRUE(err == -EACCES) TH_LOG("got %d", err);
	munmap(src, PAGE);
	munmap(dst, PAGE);
}

TEST_F(p2p, copy_to_readonly_object_eacces)
{
	unsigned char *src = ram(PAGE, PROT_READ | PROT_WRITE);
	struct pm_obj o;
	int err;

	ASSERT_TRUE(src) TH_LOG("ram");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, PAGE, &o)) TH_LOG("alloc");
	EXPECT_TRUE(!mprotect(o.cpu, o.size, PROT_READ)) TH_LOG("mprotect: %s", strerror(errno));
	err = pm_edu_copy(self->edu, o.cpu, src, 64);
	EXPECT_TRUE(err == -EACCES) TH_LOG("got %d", err);
	pm_obj_free(&o);
	munmap(src, PAGE);
}

TEST_F(p2p, copy_foreign_pfnmap_efault)
{
	char path[96];
	unsigned char *dst = ram(PAGE, PROT_READ | PROT_WRITE);
	void *bar2;
	int fd, err;

	ASSERT_TRUE(dst) TH_LOG("ram");
	/*
	 * A VM_IO | VM_PFNMAP VMA of no peermap exporter: the device's
	 * register BAR through sysfs (its memory BAR is claimed by the driver).
	 */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%u",
		 self->bar.info.pci_name, self->bar.info.bar_index ? 0 : 1);
	fd = open(path, O_RDWR);
	ASSERT_TRUE(fd >= 0) TH_LOG("open %s: %s", path, strerror(errno));
	bar2 = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	ASSERT_TRUE(bar2 != MAP_FAILED) TH_LOG("mmap %s: %s", path, strerror(errno));
	err = pm_edu_copy(self->edu, dst, bar2, 64);
	EXPECT_TRUE(err == -EFAULT) TH_LOG("got %d", err);
	munmap(bar2, PAGE);
	munmap(dst, PAGE);
}

TEST_F(p2p, importer_unknown_ioctl_enotty)
{
	EXPECT_TRUE(ioctl(self->edu, _IO(PEERMAP_IOC_MAGIC, 0x7f)) && errno == ENOTTY)
		TH_LOG("errno %d", errno);
	EXPECT_TRUE(ioctl(self->bar.fd, _IO(PEERMAP_IOC_MAGIC, 0x7f)) && errno == ENOTTY)
		TH_LOG("errno %d", errno);
}

/* --- exporter: objects and mmap ---------------------------------------- */

TEST_F(p2p, alloc_zero_einval)
{
	struct peermap_bar_alloc a = { .size = 0 };

	EXPECT_TRUE(ioctl(self->bar.fd, PEERMAP_BAR_IOC_ALLOC, &a) && errno == EINVAL)
		TH_LOG("errno %d", errno);
	a.size = PAGE;
	a.flags = 1;
	EXPECT_TRUE(ioctl(self->bar.fd, PEERMAP_BAR_IOC_ALLOC, &a) && errno == EINVAL)
		TH_LOG("flags: errno %d", errno);
}

TEST_F(p2p, alloc_bigger_than_bar_e2big)
{
	struct peermap_bar_alloc a = { .size = self->bar.info.bar_size + 1 };

	EXPECT_TRUE(ioctl(self->bar.fd, PEERMAP_BAR_IOC_ALLOC, &a) && errno == E2BIG)
		TH_LOG("errno %d", errno);
}

TEST_F(p2p, alloc_until_full_enospc)
{
	struct peermap_bar_alloc a;
	struct peermap_bar_free f;
	uint64_t handles[64];
	int n = 0, i, err = 0;

	/* Eighths of the BAR: at most 8 fit; the 9th must say ENOSPC. */
	while (n < 64) {
		a = (struct peermap_bar_alloc){ .size = self->bar.info.bar_size / 8 };
		if (ioctl(self->bar.fd, PEERMAP_BAR_IOC_ALLOC, &a)) {
			err = errno;
			break;
		}
		handles[n++] = a.handle;
	}
	EXPECT_TRUE(err == ENOSPC) TH_LOG("errno %d after %d objects", err, n);
	EXPECT_TRUE(n <= 8) TH_LOG("%d eighths fit", n);
	for (i = 0; i < n; i++) {
		f.handle = handles[i];
		EXPECT_TRUE(!ioctl(self->bar.fd, PEERMAP_BAR_IOC_FREE, &f)) TH_LOG("free %d", i);
	}
	a = (struct peermap_bar_alloc){ .size = self->bar.info.bar_size / 8 };
	EXPECT_TRUE(!ioctl(self->bar.fd, PEERMAP_BAR_IOC_ALLOC, &a))
		TH_LOG("alloc after free: %d", errno);
	f.handle = a.handle;
	ioctl(self->bar.fd, PEERMAP_BAR_IOC_FREE, &f);
}

TEST_F(p2p, free_unknown_and_twice_enoent)
{
	struct peermap_bar_alloc a = { .size = PAGE };
	struct peermap_bar_free f = { .handle = 123456789 };

	EXPECT_TRUE(ioctl(self->bar.fd, PEERMAP_BAR_IOC_FREE, &f) && errno == ENOENT)
		TH_LOG("unknown: errno %d", errno);
	ASSERT_TRUE(!ioctl(self->bar.fd, PEERMAP_BAR_IOC_ALLOC, &a)) TH_LOG("alloc");
	f.handle = a.handle;
	EXPECT_TRUE(!ioctl(self->bar.fd, PEERMAP_BAR_IOC_FREE, &f)) TH_LOG("first free");
	EXPECT_TRUE(ioctl(self->bar.fd, PEERMAP_BAR_IOC_FREE, &f) && errno == ENOENT)
		TH_LOG("second free: errno %d", errno);
}

TEST_F(p2p, mmap_bad_requests_refused)
{
	struct pm_obj o;
	struct pm_bar other;
	void *p;

	ASSERT_TRUE(!pm_obj_alloc(&self->bar, 2 * PAGE, &o)) TH_LOG("alloc");
	p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, self->bar.fd,
		 (off_t)o.mmap_offset);
	EXPECT_TRUE(p == MAP_FAILED && errno == EINVAL)
		TH_LOG("larger than object: errno %d", errno);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, self->bar.fd,
		 (off_t)o.mmap_offset);
	EXPECT_TRUE(p == MAP_FAILED && errno == EINVAL)
		TH_LOG("smaller than object: errno %d", errno);
	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->bar.fd,
		 (off_t)o.mmap_offset);
	EXPECT_TRUE(p == MAP_FAILED && errno == EINVAL) TH_LOG("MAP_PRIVATE: errno %d", errno);
	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_EXEC, MAP_SHARED, self->bar.fd,
		 (off_t)o.mmap_offset);
	EXPECT_TRUE(p == MAP_FAILED && errno == EPERM) TH_LOG("PROT_EXEC: errno %d", errno);
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->bar.fd,
		 (off_t)(o.mmap_offset + PAGE));
	EXPECT_TRUE(p == MAP_FAILED && errno == ENOENT)
		TH_LOG("offset inside object: errno %d", errno);
	p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, self->bar.fd,
		 (off_t)(o.mmap_offset + 1));
	EXPECT_TRUE(p == MAP_FAILED && errno == EINVAL) TH_LOG("unaligned offset: errno %d", errno);
	EXPECT_TRUE(mprotect(o.cpu, o.size, PROT_READ | PROT_EXEC) && errno == EACCES)
		TH_LOG("mprotect to exec: errno %d", errno);
	/* Another open file does not see this file's objects. */
	if (!pm_bar_open(0, &other)) {
		p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, other.fd,
			 (off_t)o.mmap_offset);
		EXPECT_TRUE(p == MAP_FAILED && errno == ENOENT)
			TH_LOG("foreign offset: errno %d", errno);
		pm_bar_close(&other);
	}
	pm_obj_free(&o);
}

TEST_F(p2p, object_lives_while_mapped_after_free)
{
	struct peermap_bar_free f;
	unsigned char *dst = ram(PAGE, PROT_READ | PROT_WRITE);
	unsigned char *cpu;
	struct pm_obj o;
	int i, bad = 0, err;

	ASSERT_TRUE(dst) TH_LOG("ram");
	ASSERT_TRUE(!pm_obj_alloc(&self->bar, PAGE, &o)) TH_LOG("alloc");
	cpu = o.cpu;
	for (i = 0; i < 256; i++)
		cpu[i] = (unsigned char)(i ^ 0x5a);
	f.handle = o.handle;
	EXPECT_TRUE(!ioctl(self->bar.fd, PEERMAP_BAR_IOC_FREE, &f)) TH_LOG("free");
	/* The handle is gone; the VMA still holds the object. */
	err = pm_edu_copy(self->edu, dst, cpu, 256);
	EXPECT_TRUE(!err) TH_LOG("copy from a freed but mapped object: %d", err);
	for (i = 0; i < 256; i++)
		bad += dst[i] != (unsigned char)(i ^ 0x5a);
	EXPECT_TRUE(!bad) TH_LOG("%d bytes differ", bad);
	munmap(cpu, o.size);
	munmap(dst, PAGE);
}

TEST_HARNESS_MAIN
