// SPDX-License-Identifier: GPL-2.0
/*
 * dma-buf import (PEERMAP_IOC_DMABUF_MAP): dma-bufs of exporters nobody
 * here wrote (udmabuf: a memfd as a dma-buf; the system dma-heap) and
 * peermap's own exported object, each made a window inside one range that
 * also holds RAM and a peermap object, copied by the edu importer, bytes
 * checked; CPU access through the window; the exporter revoking (the
 * object evicted) under a registration; the window's lifetime (fds
 * closed, munmap, fork, exit); refusals; a race of copies against moves
 * and windows coming and going. Sizes are small: each 4 KiB chunk costs
 * about 200 ms of edu under TCG.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

#define PART		(16 * 1024)	/* each part of a mixed range */
#define BUF_SIZE	(64 * 1024)	/* every dma-buf here */
#define WIN_OFF		(16 * 1024)	/* the window starts this far in */
#define HUGE		(2UL << 20)	/* what one page-table page covers */

/* A dma-buf and how the test sees its bytes with the CPU. */
struct source {
	const char *name;
	int fd;			/* the dma-buf */
	unsigned char *cpu;	/* all BUF_SIZE bytes, or NULL */
	int memfd;		/* udmabuf's, or -1 */
};

FIXTURE(window) {
	struct pm_bar bar;
	struct pm_obj obj;	/* BUF_SIZE: exported */
	struct pm_obj part;	/* PART: the object in mixed ranges */
	int edu;
	unsigned char *ram;	/* 4 parts of scratch RAM */
};

FIXTURE_SETUP(window)
{
	pm_open_devices(_metadata, &self->bar, &self->edu);
	ASSERT_EQ(0, pm_obj_alloc(&self->bar, BUF_SIZE, &self->obj));
	ASSERT_EQ(0, pm_obj_alloc(&self->bar, PART, &self->part));
	self->ram = ram(4 * PART);
	ASSERT_NE(NULL, self->ram);
}

FIXTURE_TEARDOWN(window)
{
	pm_obj_restore(&self->obj);
	pm_obj_free(&self->obj);
	pm_obj_free(&self->part);
	pm_bar_close(&self->bar);
	if (self->edu >= 0)
		close(self->edu);
}

/* udmabuf of a sealed memfd; the CPU view is the memfd's own mapping. */
static int udmabuf_source(struct source *s)
{
	struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC,
				    .size = BUF_SIZE };
	int dev;

	memset(s, 0, sizeof(*s));
	s->name = "udmabuf";
	s->fd = s->memfd = -1;
	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	s->memfd = memfd_create("window_test", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (s->memfd < 0 || ftruncate(s->memfd, BUF_SIZE) ||
	    fcntl(s->memfd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		close(dev);
		return -errno;
	}
	c.memfd = (uint32_t)s->memfd;
	s->fd = ioctl(dev, UDMABUF_CREATE, &c);
	close(dev);
	if (s->fd < 0)
		return -errno;
	s->cpu = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      s->memfd, 0);
	return s->cpu == MAP_FAILED ? -errno : 0;
}

/* A system dma-heap buffer; the CPU view is its own mmap. */
static int heap_source(struct source *s)
{
	struct dma_heap_allocation_data a = {
		.len = BUF_SIZE,
		.fd_flags = O_RDWR | O_CLOEXEC,
	};
	int heap;

	memset(s, 0, sizeof(*s));
	s->name = "system heap";
	s->fd = s->memfd = -1;
	heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	if (heap < 0)
		return -errno;
	if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &a)) {
		close(heap);
		return -errno;
	}
	close(heap);
	s->fd = (int)a.fd;
	s->cpu = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      s->fd, 0);
	return s->cpu == MAP_FAILED ? -errno : 0;
}

/* An object as a writable dma-buf; the CPU view is the object's. */
static int object_source(struct pm_obj *obj, struct source *s)
{
	memset(s, 0, sizeof(*s));
	s->name = "peermap object";
	s->memfd = -1;
	s->fd = pm_obj_export_dmabuf(obj, PEERMAP_EXPORT_WRITE);
	s->cpu = obj->cpu;
	return s->fd < 0 ? s->fd : 0;
}

static void source_close(struct source *s, FIXTURE_DATA(window) *self)
{
	if (s->cpu && s->cpu != self->obj.cpu)
		munmap(s->cpu, BUF_SIZE);
	if (s->fd >= 0)
		close(s->fd);
	if (s->memfd >= 0)
		close(s->memfd);
}

/* Bytes of a CPU view that differ from the pattern (volatile: may be a BAR). */
static size_t vdiffer(const volatile unsigned char *p, size_t n, unsigned int seed)
{
	size_t i, bad = 0;

	for (i = 0; i < n; i++)
		bad += p[i] != pat(seed, i);
	return bad;
}

static struct peermap_dmabuf_info winfo(struct __test_metadata *_metadata,
					const void *addr)
{
	struct peermap_dmabuf_info i;

	EXPECT_EQ(0, pm_dmabuf_info(addr, &i));
	return i;
}

/*
 * The window's attachments, once those no piece uses are gone (a work
 * item detaches them a second after): waits up to 5 s for @want.
 */
static unsigned int attachments_settled(const void *addr, unsigned int want)
{
	struct peermap_dmabuf_info i = { .attachments = ~0U };
	int n;

	for (n = 0; n < 500; n++) {
		if (pm_dmabuf_info(addr, &i) || i.attachments == want)
			break;
		usleep(10000);
	}
	return i.attachments;
}

/* Dma-bufs of @obj still alive, after waiting a little for them to go. */
static unsigned int dmabufs_settled(struct pm_obj *obj)
{
	struct peermap_bar_obj_info oi = { .dmabufs = ~0U };
	int i;

	for (i = 0; i < 500; i++) {
		if (pm_obj_info(obj, &oi) || !oi.dmabufs)
			break;
		usleep(10000);
	}
	return oi.dmabufs;
}

/*
 * [RAM | window of the dma-buf at WIN_OFF | the object] in one range of
 * 3 * PART, every part a VMA of its own: what an RDMA registration of a
 * mixed buffer would see. Returns the range.
 */
static unsigned char *mixed_range(struct __test_metadata *_metadata,
				  FIXTURE_DATA(window) *self, struct source *s)
{
	unsigned char *r = reserve(3 * PART);
	void *w, *o;
	unsigned int fl = 0;
	int err;

	if (!r)
		return NULL;
	EXPECT_EQ(r, mmap(r, PART, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE, -1, 0));
	w = r + PART;
	err = pm_dmabuf_map_flags(s->fd, WIN_OFF, PART, PROT_READ | PROT_WRITE, 0,
				  &w, &fl);
	EXPECT_EQ(0, err) TH_LOG("window of %s: %s", s->name, strerror(-err));
	EXPECT_EQ(r + PART, w);
	EXPECT_EQ(PEERMAP_WINDOW_WRITE, fl & PEERMAP_WINDOW_WRITE);
	o = mmap(r + 2 * PART, PART, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 self->bar.fd, (off_t)self->part.mmap_offset);
	EXPECT_EQ(r + 2 * PART, o);
	return r;
}

/*
 * The engine copies RAM into the mixed range and back out; each part is
 * checked through its own CPU view, and the segments say what is what.
 */
static void mixed_copy(struct __test_metadata *_metadata,
		       FIXTURE_DATA(window) *self, struct source *s)
{
	volatile unsigned char *objcpu = self->part.cpu;
	struct peermap_dmabuf_info info;
	struct peermap_seg *segs = NULL;
	unsigned int nsegs = 0, i, dmabuf_segs = 0;
	uint64_t dmabuf_bytes = 0;
	unsigned char *r;
	int err;

	r = mixed_range(_metadata, self, s);
	ASSERT_NE(NULL, r);
	memset(r, 0, PART);
	memset(s->cpu, 0xee, BUF_SIZE);
	memset((void *)objcpu, 0xdd, PART);

	/* into the range: RAM, then the window, then the object */
	fill(self->ram, 3 * PART, 31);
	err = pm_edu_copy(self->edu, r, self->ram, 3 * PART);
	ASSERT_EQ(0, err) TH_LOG("copy into the mixed range: %s", strerror(-err));
	EXPECT_EQ(0, differ(r, PART, 31));
	/* the window's part, seen through the dma-buf's own CPU view */
	for (i = 0; i < PART; i++)
		if (s->cpu[WIN_OFF + i] != pat(31, PART + i))
			break;
	EXPECT_EQ(PART, i) TH_LOG("%s: window byte %u wrong", s->name, i);
	EXPECT_EQ(0xee, s->cpu[WIN_OFF - 1]);
	EXPECT_EQ(0xee, s->cpu[WIN_OFF + PART]);
	for (i = 0; i < PART; i++)
		if (objcpu[i] != pat(31, 2 * PART + i))
			break;
	EXPECT_EQ(PART, i) TH_LOG("object byte %u wrong", i);
	/* the CPU reaches the same bytes through the window */
	EXPECT_EQ(pat(31, PART + 5), r[PART + 5]);

	/* and out of it, unaligned */
	memset(self->ram, 0, 4 * PART);
	fill(r, PART, 41);
	fill(s->cpu + WIN_OFF, PART, 42);
	err = pm_edu_copy(self->edu, self->ram, r + 100, 3 * PART - 200);
	ASSERT_EQ(0, err) TH_LOG("copy out of the mixed range: %s", strerror(-err));
	EXPECT_EQ(0, memcmp(self->ram, r + 100, PART - 100));
	for (i = 0; i < PART; i++)
		if (self->ram[PART - 100 + i] != pat(42, i))
			break;
	EXPECT_EQ(PART, i) TH_LOG("%s: byte %u out of the window wrong", s->name, i);

	err = pm_edu_segments(self->edu, r, 3 * PART, PEERMAP_ACCESS_READ |
			      PEERMAP_ACCESS_WRITE, &segs, &nsegs);
	ASSERT_EQ(0, err) TH_LOG("segments: %s", strerror(-err));
	for (i = 0; i < nsegs; i++) {
		TH_LOG("%s: seg %u %#llx +%#llx flags %#x", s->name, i,
		       (unsigned long long)segs[i].addr,
		       (unsigned long long)segs[i].len, segs[i].flags);
		if (segs[i].flags & PEERMAP_SEG_DMABUF) {
			dmabuf_segs++;
			dmabuf_bytes += segs[i].len;
			EXPECT_TRUE(segs[i].flags & PEERMAP_SEG_WRITE);
		}
	}
	EXPECT_LE(3, nsegs);
	EXPECT_LE(1, dmabuf_segs);
	EXPECT_EQ(PART, dmabuf_bytes);
	EXPECT_EQ(0, segs[0].flags & (PEERMAP_SEG_DMABUF | PEERMAP_SEG_PEER));
	EXPECT_FALSE(segs[nsegs - 1].flags & PEERMAP_SEG_DMABUF);
	free(segs);

	info = winfo(_metadata, r + PART);
	EXPECT_EQ((uintptr_t)(r + PART), info.vma_start);
	EXPECT_EQ(WIN_OFF, info.offset);
	EXPECT_EQ(BUF_SIZE, info.size);
	EXPECT_LE(1, info.maps);
	/* copies done: edu's attachment is detached, nothing left mapped */
	EXPECT_EQ(0, attachments_settled(r + PART, 0));
	EXPECT_EQ(0, info.pieces);	/* copies done: nothing holds it */
	EXPECT_EQ(0, info.refusals);
	EXPECT_TRUE(info.flags & PEERMAP_WINDOW_CPU);
	TH_LOG("%s: exporter %s maps %llu revokes %llu", s->name, info.exporter,
	       (unsigned long long)info.maps, (unsigned long long)info.revokes);
	munmap(r, 3 * PART);
}

TEST_F(window, udmabuf_in_a_mixed_range)
{
	struct source s;
	int err = udmabuf_source(&s);

	if (err == -ENOENT)
		SKIP(return, "no /dev/udmabuf (CONFIG_UDMABUF)");
	ASSERT_EQ(0, err) TH_LOG("udmabuf: %s", strerror(-err));
	mixed_copy(_metadata, self, &s);
	source_close(&s, self);
}

TEST_F(window, dma_heap_in_a_mixed_range)
{
	struct source s;
	int err = heap_source(&s);

	if (err == -ENOENT)
		SKIP(return, "no /dev/dma_heap/system (CONFIG_DMABUF_HEAPS_SYSTEM)");
	ASSERT_EQ(0, err) TH_LOG("dma-heap: %s", strerror(-err));
	mixed_copy(_metadata, self, &s);
	source_close(&s, self);
}

/* peermap's own export imported back: a second object as the window. */
TEST_F(window, own_export_round_trip)
{
	struct source s;
	int err = object_source(&self->obj, &s);

	ASSERT_EQ(0, err) TH_LOG("export: %s", strerror(-err));
	mixed_copy(_metadata, self, &s);
	close(s.fd);
	/* window and buffer gone: the object is no one's */
	EXPECT_EQ(0, dmabufs_settled(&self->obj));
}

/* The CPU touches what the dma-buf's mmap touches. */
TEST_F(window, cpu_access_is_the_buffers_mmap)
{
	struct source s;
	unsigned char *w = NULL;
	unsigned int fl;
	int err = udmabuf_source(&s);

	if (err == -ENOENT)
		SKIP(return, "no /dev/udmabuf");
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, pm_dmabuf_map_flags(s.fd, 0, BUF_SIZE, PROT_READ | PROT_WRITE,
					 0, (void **)&w, &fl));
	EXPECT_EQ(PEERMAP_WINDOW_CPU | PEERMAP_WINDOW_WRITE, fl);
	fill(w, BUF_SIZE, 51);
	EXPECT_EQ(0, differ(s.cpu, BUF_SIZE, 51));
	fill(s.cpu, BUF_SIZE, 52);
	EXPECT_EQ(0, differ(w, BUF_SIZE, 52));
	EXPECT_EQ(0, winfo(_metadata, w).cpu_refused);
	EXPECT_EQ(0, pm_dmabuf_unmap(w, BUF_SIZE));
	source_close(&s, self);
}

static sigjmp_buf sigbus_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(sigbus_jmp, 1);
}

/* Without CPU access: SIGBUS and a counter; the engine still copies. */
TEST_F(window, nocpu_window_gets_sigbus)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	volatile unsigned char *w = NULL;
	unsigned int fl;
	struct source s;
	int err = udmabuf_source(&s), bus = 0;

	if (err == -ENOENT)
		SKIP(return, "no /dev/udmabuf");
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, pm_dmabuf_map_flags(s.fd, 0, BUF_SIZE, PROT_READ | PROT_WRITE,
					 PEERMAP_WINDOW_NOCPU, (void **)&w, &fl));
	EXPECT_EQ(PEERMAP_WINDOW_WRITE, fl & (PEERMAP_WINDOW_CPU | PEERMAP_WINDOW_WRITE));
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, &old));
	if (!sigsetjmp(sigbus_jmp, 1))
		(void)w[100];
	else
		bus = 1;
	sigaction(SIGBUS, &old, NULL);
	EXPECT_TRUE(bus);
	EXPECT_EQ(1, winfo(_metadata, (void *)w).cpu_refused);

	fill(self->ram, PART, 53);
	ASSERT_EQ(0, pm_edu_copy(self->edu, (void *)(w + PAGE), self->ram, PART));
	EXPECT_EQ(0, differ(s.cpu + PAGE, PART, 53));
	EXPECT_EQ(0, pm_dmabuf_unmap((void *)w, BUF_SIZE));
	source_close(&s, self);
}

/*
 * mprotect() taking write access from a window under a writable
 * registration stops the importer, although the window has no page
 * tables for the mmu notifier to see (no CPU access).
 */
TEST_F(window, mprotect_revokes_a_window_without_page_tables)
{
	struct peermap_edu_reg_info ri = { 0 };
	void *w = NULL, *r;
	struct source s;
	uint64_t id;
	int err = udmabuf_source(&s);

	if (err == -ENOENT)
		SKIP(return, "no /dev/udmabuf");
	ASSERT_EQ(0, err);
	/*
	 * Alone in a 2 MiB-aligned stretch: no page table at all, so the
	 * mmu notifier hears nothing of the mprotect (it does where a
	 * neighbour's page table covers the range).
	 */
	r = reserve(2 * HUGE);
	ASSERT_NE(NULL, r);
	w = (void *)(((uintptr_t)r + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
	ASSERT_EQ(0, pm_dmabuf_map_flags(s.fd, 0, BUF_SIZE, PROT_READ | PROT_WRITE,
					 PEERMAP_WINDOW_NOCPU, &w, NULL));
	ASSERT_EQ(0, pm_edu_register(self->edu, w, BUF_SIZE, PEERMAP_ACCESS_READ |
				     PEERMAP_ACCESS_WRITE, 0, &id));
	ASSERT_EQ(0, mprotect(w, PAGE, PROT_READ));
	ASSERT_EQ(0, pm_edu_reg_info(self->edu, id, &ri));
	EXPECT_EQ(0, ri.valid);
	EXPECT_EQ(1, ri.invalidations);
	EXPECT_EQ(PEERMAP_INVAL_PROTECT, ri.last_reason);
	EXPECT_EQ(0, winfo(_metadata, w).pieces);
	/* the registration cannot come back writable */
	EXPECT_EQ(-EACCES, pm_edu_copy(self->edu, w, self->ram, PAGE));
	EXPECT_EQ(0, pm_edu_unregister(self->edu, id));
	/* the device may not write it any more; reading is fine */
	EXPECT_EQ(-EACCES, pm_edu_copy(self->edu, w, self->ram, PAGE));
	fill(s.cpu, PAGE, 54);
	EXPECT_EQ(0, pm_edu_copy(self->edu, self->ram, w, PAGE));
	EXPECT_EQ(0, differ(self->ram, PAGE, 54));
	EXPECT_EQ(0, munmap(r, 2 * HUGE));
	source_close(&s, self);
}

/*
 * The importer's driver unbinds after using a window: by the time the
 * unbind returns, the window holds nothing mapped for its device (the
 * debug kernel's DMA-API checks would catch a mapping left behind).
 */
TEST_F(window, unbinding_the_importer_leaves_nothing_mapped)
{
	char edu[32];
	void *w = NULL;
	struct source s;
	int err = udmabuf_source(&s);

	if (err == -ENOENT)
		SKIP(return, "no /dev/udmabuf");
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, pm_node_pci_name("peermap-edu0", edu, sizeof(edu)));
	ASSERT_EQ(0, pm_dmabuf_map(s.fd, 0, BUF_SIZE, PROT_READ | PROT_WRITE, &w));
	fill(self->ram, PAGE, 55);
	ASSERT_EQ(0, pm_edu_copy(self->edu, w, self->ram, PAGE));
	close(self->edu);
	self->edu = -1;
	err = write_file("/sys/bus/pci/drivers/peermap_edu/unbind", edu);
	EXPECT_EQ(0, err) TH_LOG("unbind %s: %s", edu, strerror(-err));
	/* no waiting: the unbind waited for the window's detach */
	EXPECT_EQ(0, winfo(_metadata, w).attachments);
	EXPECT_EQ(0, write_file("/sys/bus/pci/drivers/peermap_edu/bind", edu));
	self->edu = pm_edu_open(0);
	ASSERT_LE(0, self->edu);
	EXPECT_EQ(0, differ(s.cpu, PAGE, 55));
	EXPECT_EQ(0, pm_dmabuf_unmap(w, BUF_SIZE));
	source_close(&s, self);
}

TEST_F(window, refuses_bad_requests)
{
	struct source s;
	void *w = NULL;
	int ro, err = udmabuf_source(&s);

	if (err == -ENOENT)
		SKIP(return, "no /dev/udmabuf");
	ASSERT_EQ(0, err);
	EXPECT_EQ(-EINVAL, pm_dmabuf_map(s.fd, 100, PAGE, PROT_READ, &w));
	EXPECT_EQ(-EINVAL, pm_dmabuf_map(s.fd, 0, 0, PROT_READ, &w));
	EXPECT_EQ(-EINVAL, pm_dmabuf_map(s.fd, BUF_SIZE, PAGE, PROT_READ, &w));
	EXPECT_EQ(-EINVAL, pm_dmabuf_map(s.fd, PAGE, BUF_SIZE, PROT_READ, &w));
	EXPECT_EQ(-EINVAL, pm_dmabuf_map(s.fd, 0, PAGE, PROT_WRITE, &w));
	EXPECT_EQ(-EINVAL, pm_dmabuf_map(s.fd, 0, PAGE, PROT_READ | PROT_EXEC, &w));
	EXPECT_EQ(-EINVAL, pm_dmabuf_map_flags(s.fd, 0, PAGE, PROT_READ, 1U << 7,
					       &w, NULL));
	EXPECT_EQ(-EINVAL, pm_dmabuf_map(s.memfd, 0, PAGE, PROT_READ, &w));
	EXPECT_EQ(-EBADF, pm_dmabuf_map(999, 0, PAGE, PROT_READ, &w));
	EXPECT_EQ(NULL, w);

	/* read-only: no PROT_WRITE, and no device writes either */
	ro = pm_obj_export_dmabuf(&self->obj, 0);
	ASSERT_LE(0, ro);
	EXPECT_EQ(-EACCES, pm_dmabuf_map(ro, 0, PAGE, PROT_READ | PROT_WRITE, &w));
	ASSERT_EQ(0, pm_dmabuf_map(ro, 0, BUF_SIZE, PROT_READ, &w));
	EXPECT_EQ(0, winfo(_metadata, w).flags & PEERMAP_WINDOW_WRITE);
	EXPECT_EQ(-EACCES, pm_edu_copy(self->edu, w, self->ram, PAGE));
	EXPECT_EQ(-1, mprotect(w, PAGE, PROT_READ | PROT_WRITE));
	fill(self->obj.cpu, PAGE, 61);
	EXPECT_EQ(0, pm_edu_copy(self->edu, self->ram, w, PAGE));
	EXPECT_EQ(0, differ(self->ram, PAGE, 61));
	EXPECT_EQ(0, pm_dmabuf_unmap(w, BUF_SIZE));
	close(ro);

	/* not a window */
	{
		struct peermap_dmabuf_info i;

		EXPECT_EQ(-ENOENT, pm_dmabuf_info(self->ram, &i));
	}
	source_close(&s, self);
}

/* The window holds the buffer: its fds may close; munmap ends it. */
TEST_F(window, lives_until_unmapped)
{
	unsigned char *w = NULL;
	int base = pm_windows_alive_settled(0), buf;

	if (base < 0)
		SKIP(return, "no debugfs");
	buf = pm_obj_export_dmabuf(&self->obj, PEERMAP_EXPORT_WRITE);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, pm_dmabuf_map(buf, 0, BUF_SIZE, PROT_READ | PROT_WRITE,
				   (void **)&w));
	close(buf);
	EXPECT_EQ(base + 1, pm_windows_alive());
	fill(self->ram, PART, 71);
	ASSERT_EQ(0, pm_edu_copy(self->edu, w + PART, self->ram, PART));
	EXPECT_EQ(0, vdiffer((unsigned char *)self->obj.cpu + PART, PART, 71));
	EXPECT_EQ(0, differ(w + PART, PART, 71));
	/* a split VMA: each half a window still */
	EXPECT_EQ(0, munmap(w + PART, PAGE));
	EXPECT_EQ(PART, winfo(_metadata, w).vma_end - (uintptr_t)w);
	EXPECT_EQ(PART + PAGE, winfo(_metadata, w + PART + PAGE).offset);
	EXPECT_EQ(0, munmap(w, BUF_SIZE));
	EXPECT_EQ(base, pm_windows_alive_settled(base));
	/* its last reference went from a work item: a delayed fput */
	EXPECT_EQ(0, dmabufs_settled(&self->obj));
}

/* A child inherits the window, copies into it and exits. */
TEST_F(window, fork_and_exit)
{
	unsigned char *w = NULL;
	int status, base = pm_windows_alive_settled(0), buf;
	pid_t pid;

	buf = pm_obj_export_dmabuf(&self->obj, PEERMAP_EXPORT_WRITE);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, pm_dmabuf_map(buf, 0, BUF_SIZE, PROT_READ | PROT_WRITE,
				   (void **)&w));
	close(buf);
	fill(self->ram, PART, 81);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int edu = pm_edu_open(0);

		_exit(edu < 0 || pm_edu_copy(edu, w, self->ram, PART) ? 1 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(0, differ(w, PART, 81));
	if (base >= 0)
		EXPECT_EQ(base + 1, pm_windows_alive_settled(base + 1));

	/* a child that exits holding a mapping of it */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int edu = pm_edu_open(0);
		uint64_t id;

		_exit(edu < 0 || pm_edu_register(edu, w, BUF_SIZE, PEERMAP_ACCESS_READ,
						 0, &id) ? 1 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(0, winfo(_metadata, w).pieces);
	EXPECT_EQ(0, munmap(w, BUF_SIZE));
	if (base >= 0)
		EXPECT_EQ(base, pm_windows_alive_settled(base));
}

/*
 * The dma-buf's exporter takes the memory away under a registration of
 * the window: the registration is invalidated, the window counts the
 * revoke, and the next copy maps again.
 */
TEST_F(window, exporter_revoke_invalidates_the_registration)
{
	struct peermap_edu_reg_info ri = { 0 };
	struct peermap_dmabuf_info i0, i1;
	unsigned char *w = NULL;
	uint64_t id;
	int buf, err;

	buf = pm_obj_export_dmabuf(&self->obj, PEERMAP_EXPORT_WRITE);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, pm_dmabuf_map(buf, 0, BUF_SIZE, PROT_READ | PROT_WRITE,
				   (void **)&w));
	close(buf);
	ASSERT_EQ(0, pm_edu_register(self->edu, w, BUF_SIZE,
				     PEERMAP_ACCESS_READ | PEERMAP_ACCESS_WRITE, 0, &id));
	i0 = winfo(_metadata, w);
	EXPECT_EQ(1, i0.pieces);
	err = pm_obj_evict(&self->obj);
	if (err == -EBUSY) {
		pm_edu_unregister(self->edu, id);
		munmap(w, BUF_SIZE);
		SKIP(return, "this kernel pins every dma-buf mapping (no DMABUF_MOVE_NOTIFY before 7.1): the window's mapping holds the object");
	}
	ASSERT_EQ(0, err) TH_LOG("evict: %s", strerror(-err));
	i1 = winfo(_metadata, w);
	EXPECT_EQ(i0.revokes + 1, i1.revokes);
	EXPECT_EQ(0, i1.pieces);
	ri.id = id;
	ASSERT_EQ(0, pm_edu_reg_info(self->edu, id, &ri));
	EXPECT_EQ(1, ri.invalidations);
	EXPECT_EQ(PEERMAP_INVAL_REVOKE, ri.last_reason);
	EXPECT_EQ(0, ri.valid);

	/* the next copy maps again (the object is in system memory now) */
	fill(self->ram, PART, 91);
	ASSERT_EQ(0, pm_edu_copy(self->edu, w, self->ram, PART));
	EXPECT_EQ(0, differ(w, PART, 91));
	ASSERT_EQ(0, pm_obj_restore(&self->obj));
	EXPECT_EQ(0, vdiffer(self->obj.cpu, PART, 91));
	EXPECT_LE(i1.maps + 1, winfo(_metadata, w).maps);
	EXPECT_EQ(0, pm_edu_unregister(self->edu, id));
	EXPECT_EQ(0, munmap(w, BUF_SIZE));
}

/*
 * Copies through windows of the object race evict/restore of it and
 * windows being made and unmade, on every CPU: each copy checks its
 * bytes; when it is over nothing is left behind.
 */
struct race {
	FIXTURE_DATA(window) *self;
	unsigned char *w;	/* the shared window */
	int buf;
	volatile int stop;
	int bad, errors, copies, moves, windows;
	int busy;		/* evict refused: pinned on this kernel */
	unsigned int slot;
};

static void *race_copier(void *arg)
{
	struct race *r = arg;
	unsigned int slot = __atomic_fetch_add(&r->slot, 1, __ATOMIC_RELAXED);
	unsigned char *src = ram(PAGE), *dst = ram(PAGE);
	int edu = pm_edu_open(0), n = 0;

	while (!r->stop && edu >= 0 && src && dst) {
		unsigned int seed = slot * 1000 + (unsigned int)n++;

		fill(src, PAGE, seed);
		if (pm_edu_copy(edu, r->w + slot * PAGE, src, PAGE) ||
		    pm_edu_copy(edu, dst, r->w + slot * PAGE, PAGE)) {
			__atomic_fetch_add(&r->errors, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (differ(dst, PAGE, seed))
			__atomic_fetch_add(&r->bad, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&r->copies, 1, __ATOMIC_RELAXED);
	}
	if (edu >= 0)
		close(edu);
	return NULL;
}

static void *race_mover(void *arg)
{
	struct race *r = arg;

	while (!r->stop) {
		int err = pm_obj_evict(&r->self->obj);

		if (err == -EBUSY) {
			r->busy++;
			usleep(20000);
			continue;
		}
		usleep(5000);
		pm_obj_restore(&r->self->obj);
		r->moves++;
		usleep(5000);
	}
	return NULL;
}

static void *race_windows(void *arg)
{
	struct race *r = arg;

	while (!r->stop) {
		unsigned char *w = NULL;

		if (pm_dmabuf_map(r->buf, 0, BUF_SIZE, PROT_READ | PROT_WRITE,
				  (void **)&w))
			continue;
		(void)w[0];
		munmap(w, BUF_SIZE);
		r->windows++;
		usleep(1000);
	}
	return NULL;
}

TEST_F_TIMEOUT(window, race_copies_moves_and_windows, 150)
{
	struct race r = { .self = self };
	int secs = pm_env_seconds("PM_RACE_SECONDS", 10);
	int base = pm_windows_alive_settled(0), i;
	pthread_t t[4];

	r.buf = pm_obj_export_dmabuf(&self->obj, PEERMAP_EXPORT_WRITE);
	ASSERT_LE(0, r.buf);
	ASSERT_EQ(0, pm_dmabuf_map(r.buf, 0, BUF_SIZE, PROT_READ | PROT_WRITE,
				   (void **)&r.w));
	ASSERT_EQ(0, pthread_create(&t[0], NULL, race_copier, &r));
	ASSERT_EQ(0, pthread_create(&t[1], NULL, race_copier, &r));
	ASSERT_EQ(0, pthread_create(&t[2], NULL, race_mover, &r));
	ASSERT_EQ(0, pthread_create(&t[3], NULL, race_windows, &r));
	sleep((unsigned int)secs);
	r.stop = 1;
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%d s: %d copies, %d moves (%d refused busy), %d windows, %d errors, %d bad",
	       secs, r.copies, r.moves, r.busy, r.windows, r.errors, r.bad);
	EXPECT_EQ(0, r.bad);
	EXPECT_EQ(0, r.errors);
	EXPECT_LE(4, r.copies);
	EXPECT_LE(2, r.windows);
	EXPECT_EQ(0, winfo(_metadata, r.w).pieces);
	EXPECT_EQ(0, munmap(r.w, BUF_SIZE));
	close(r.buf);
	if (base >= 0)
		EXPECT_EQ(base, pm_windows_alive_settled(base));
}

TEST_HARNESS_MAIN
