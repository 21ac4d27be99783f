// SPDX-License-Identifier: GPL-2.0
/*
 * A BAR that VFIO exports as a dma-buf (Linux 6.19+,
 * VFIO_DEVICE_FEATURE_DMA_BUF), imported for edu by pm_dmabuf_imp.ko the
 * way RDMA imports one (dynamic, peer2peer, unmapping in move_notify), and
 * what VFIO does to that importer when it revokes: VFIO_DEVICE_RESET,
 * memory decode off, closing the device fd. The facts behind peermap's
 * dma-buf import of VFIO BARs (drivers/vfio/pci/vfio_pci_dmabuf.c).
 *
 * Runs on the `vfio` topology (scripts/topologies/vfio: the device to take
 * is TOPO_TEST_VFIO_DEV, the importer TOPO_TEST_VFIO_CLIENT) on a kernel
 * with Debian's vfio-pci in the guest (latest); SKIPs elsewhere:
 *   scripts/vm-run --kernel latest --topology vfio -- pm-vfio_dmabuf_test
 * Each test binds the device to vfio-pci and gives it back to its driver.
 * What it sees is printed as "# " lines.
 */
#include <signal.h>
#include <setjmp.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "harness.h"
#include "pm_dmabuf_imp.h"
#include "util.h"
#include "vfio.h"

#define BUF_BAR		2
#define BUF_SIZE	(64 * 1024)

FIXTURE(vfio) {
	struct pm_vfio v;
	char dev[32];		/* the device given to vfio-pci */
	char client[32];	/* edu's PCI name */
	char prev[64];		/* the driver it had */
	int bound;		/* by this test: unbind in the teardown */
	int imp;		/* /dev/pm-dmabuf-imp */
	int buf;		/* BAR2 [0, 64 KiB) as a dma-buf */
	int zen;		/* an AMD Zen CPU: P2PDMA routes thru the host bridge */
	uint64_t bar_start;	/* BAR2's CPU physical address (sysfs resource) */
	uint64_t bar_flags;
};

static void undo(FIXTURE_DATA(vfio) *self)
{
	if (self->imp >= 0)
		close(self->imp);	/* detaches what is attached */
	if (self->buf >= 0)
		close(self->buf);
	self->imp = self->buf = -1;
	pm_vfio_close(&self->v);
	if (self->bound)
		pm_vfio_unbind(self->dev);
	self->bound = 0;
}

/* An AMD CPU of family 0x17 (Zen) or later: Linux's cpu_supports_p2pdma(). */
static int cpu_is_zen(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	int amd = 0, family = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "vendor_id", 9))
			amd = !!strstr(line, "AuthenticAMD");
		else if (!strncmp(line, "cpu family", 10))
			family = atoi(strchr(line, ':') + 1);
		else if (line[0] == '\n')
			break;
	}
	fclose(f);
	return amd && family >= 0x17;
}

/* Line @bar of sysfs's resource file: start and flags. */
static int bar_resource(const char *dev, int bar, uint64_t *start, uint64_t *flags)
{
	char path[PATH_MAX];
	unsigned long long s, e, fl;
	FILE *f;
	int i, ret = -ENOENT;

	snprintf(path, sizeof(path), PM_VFIO_SYSFS "/devices/%s/resource", dev);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	for (i = 0; i <= bar; i++) {
		if (fscanf(f, "%llx %llx %llx", &s, &e, &fl) != 3)
			break;
		if (i == bar) {
			*start = s;
			*flags = fl;
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

FIXTURE_SETUP(vfio)
{
	char edu[32];
	int err;

	self->imp = self->buf = -1;
	self->v.container = self->v.group = self->v.device = -1;
	pm_topo("TEST_VFIO_DEV", self->dev, sizeof(self->dev));
	if (!self->dev[0])
		SKIP(return, "not the vfio topology (no TOPO_TEST_VFIO_DEV to give to vfio-pci)");
	pm_topo("TEST_VFIO_CLIENT", self->client, sizeof(self->client));
	if (!self->client[0] && !pm_vfio_find_pci(0x1234, 0x11e8, NULL, edu, sizeof(edu)))
		snprintf(self->client, sizeof(self->client), "%s", edu);
	ASSERT_NE(0, self->client[0]) TH_LOG("no edu device to import for");
	if (pm_vfio_modprobe())
		SKIP(return, "no vfio-pci in this guest (Debian's generic kernels bring it: latest)");
	self->zen = cpu_is_zen();
	pm_vfio_driver(self->dev, self->prev, sizeof(self->prev));
	err = pm_vfio_bind(self->dev);
	ASSERT_EQ(0, err) TH_LOG("binding %s to vfio-pci: %s", self->dev, strerror(-err));
	self->bound = 1;
	err = pm_vfio_open(&self->v, self->dev);
	if (err)
		undo(self);
	ASSERT_EQ(0, err) TH_LOG("opening %s through VFIO: %s", self->dev, strerror(-err));
	if (!pm_vfio_has_dmabuf(&self->v)) {
		undo(self);
		SKIP(return, "this kernel's vfio-pci exports no dma-buf (6.19+, CONFIG_VFIO_PCI_DMABUF)");
	}
	err = bar_resource(self->dev, BUF_BAR, &self->bar_start, &self->bar_flags);
	if (!err) {
		self->imp = open("/dev/pm-dmabuf-imp", O_RDWR);
		if (self->imp < 0 && system("insmod /lib/peermap/test/pm_dmabuf_imp.ko") == 0)
			self->imp = open("/dev/pm-dmabuf-imp", O_RDWR);
		err = self->imp < 0 ? -errno : 0;
	}
	if (!err) {
		self->buf = pm_vfio_dmabuf(&self->v, BUF_BAR, 0, BUF_SIZE);
		err = self->buf < 0 ? self->buf : 0;
	}
	if (err)
		undo(self);
	ASSERT_EQ(0, err) TH_LOG("resource, importer or export: %s", strerror(-err));
}

FIXTURE_TEARDOWN(vfio)
{
	undo(self);
}

static int attach(FIXTURE_DATA(vfio) *self, int fd, unsigned int mode)
{
	struct pm_imp_attach a = { .fd = fd, .mode = mode };

	snprintf(a.client, sizeof(a.client), "%s", self->client);
	return ioctl(self->imp, PM_IMP_IOC_ATTACH, &a) ? -errno : (int)a.id;
}

static int imp_map(FIXTURE_DATA(vfio) *self, int id, struct pm_imp_map *m)
{
	memset(m, 0, sizeof(*m));
	m->id = id;
	return ioctl(self->imp, PM_IMP_IOC_MAP, m) ? -errno : 0;
}

static struct pm_imp_status status(FIXTURE_DATA(vfio) *self, int id)
{
	struct pm_imp_status st = { .id = id };

	if (ioctl(self->imp, PM_IMP_IOC_STATUS, &st))
		st.maps = ~0ULL;
	return st;
}

/*
 * Attach @fd for edu (dynamic, peer2peer) and map it: the id, with the
 * mapping in @m. What the map must give depends on the CPU: Zen routes
 * through the host bridge (an IOVA under intel-iommu), others are refused.
 */
static int attach_map(struct __test_metadata *_metadata, FIXTURE_DATA(vfio) *self,
		      int fd, struct pm_imp_map *m)
{
	int id = attach(self, fd, PM_IMP_DYNAMIC), err;

	EXPECT_LE(0, id) TH_LOG("attach for %s: %s", self->client, strerror(-id));
	if (id < 0)
		return id;
	err = imp_map(self, id, m);
	if (!self->zen) {
		EXPECT_EQ(-EINVAL, err) TH_LOG("map on a non-Zen CPU: %s", strerror(-err));
		return -1;
	}
	EXPECT_EQ(0, err) TH_LOG("map for %s: %s", self->client, strerror(-err));
	return err ? -1 : id;
}

TEST_F(vfio, taken_from_its_driver_and_bound)
{
	char drv[64];

	ksft_print_msg("%s: was bound to '%s', now '%s'; importer %s; group %d; CPU %s\n",
		       self->dev, self->prev, pm_vfio_driver(self->dev, drv, sizeof(drv)),
		       self->client, self->v.group_id, self->zen ? "Zen" : "not Zen");
	EXPECT_STREQ("peermap_bar", self->prev);
	EXPECT_STREQ("vfio-pci", drv);
	/* Given back: closed first, or the unbind waits for the device fd. */
	undo(self);
	EXPECT_STREQ("peermap_bar", pm_vfio_driver(self->dev, drv, sizeof(drv)));
	EXPECT_EQ(0, pm_vfio_bind(self->dev));
	self->bound = 1;
	EXPECT_STREQ("vfio-pci", pm_vfio_driver(self->dev, drv, sizeof(drv)));
}

TEST_F(vfio, bar2_is_64bit_prefetchable_memory)
{
	struct vfio_device_info di = { .argsz = sizeof(di) };
	struct vfio_region_info ri;
	uint32_t bar[6];
	unsigned int i;

	ASSERT_EQ(0, pm_vfio_cfg_read(&self->v, PCI_BASE_ADDRESS_0, bar, sizeof(bar)));
	ASSERT_EQ(0, ioctl(self->v.device, VFIO_DEVICE_GET_INFO, &di));
	ksft_print_msg("device flags %#x (reset %d), %u regions, %u irqs\n", di.flags,
		       !!(di.flags & VFIO_DEVICE_FLAGS_RESET), di.num_regions, di.num_irqs);
	for (i = 0; i <= VFIO_PCI_BAR5_REGION_INDEX; i++) {
		ASSERT_EQ(0, pm_vfio_region(&self->v, i, &ri));
		ksft_print_msg("BAR%u: config %#010x, region size %#llx flags %#x\n", i, bar[i],
			       (unsigned long long)ri.size, ri.flags);
	}
	ksft_print_msg("BAR2 at %#llx, resource flags %#llx\n",
		       (unsigned long long)self->bar_start, (unsigned long long)self->bar_flags);
	EXPECT_EQ(PCI_BASE_ADDRESS_MEM_TYPE_64,
		  bar[BUF_BAR] & PCI_BASE_ADDRESS_MEM_TYPE_MASK);
	EXPECT_NE(0, bar[BUF_BAR] & PCI_BASE_ADDRESS_MEM_PREFETCH);
	EXPECT_EQ(0, bar[BUF_BAR] & PCI_BASE_ADDRESS_SPACE_IO);
	ASSERT_EQ(0, pm_vfio_region(&self->v, BUF_BAR, &ri));
	EXPECT_EQ(64ULL << 20, ri.size);
	EXPECT_NE(0, ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
	/* IORESOURCE_MEM 0x200, _PREFETCH 0x2000, _MEM_64 0x100000 */
	EXPECT_EQ(0x102200, self->bar_flags & 0x102200);
}

TEST_F(vfio, export_checks_its_ranges)
{
	struct vfio_region_dma_range two[2] = {
		{ .offset = 0, .length = PAGE }, { .offset = 8 * PAGE, .length = 2 * PAGE },
	};
	struct vfio_region_dma_range r = { .offset = 0, .length = PAGE };
	int fd;
	off_t size;

	size = lseek(self->buf, 0, SEEK_END);
	EXPECT_EQ(BUF_SIZE, size);
	fd = pm_vfio_dmabuf(&self->v, BUF_BAR, 0, 64 << 20);
	EXPECT_LE(0, fd) TH_LOG("the whole BAR: %s", strerror(-fd));
	if (fd >= 0) {
		EXPECT_EQ(64 << 20, lseek(fd, 0, SEEK_END));
		close(fd);
	}
	fd = pm_vfio_dmabuf_ranges(&self->v, BUF_BAR, two, 2, O_CLOEXEC);
	EXPECT_LE(0, fd) TH_LOG("two ranges: %s", strerror(-fd));
	if (fd >= 0) {
		EXPECT_EQ(3 * PAGE, lseek(fd, 0, SEEK_END));
		close(fd);
	}
	EXPECT_EQ(-EINVAL, pm_vfio_dmabuf_ranges(&self->v, BUF_BAR, &r, 0, 0));
	r = (struct vfio_region_dma_range){ .offset = 100, .length = PAGE };
	EXPECT_EQ(-EINVAL, pm_vfio_dmabuf_ranges(&self->v, BUF_BAR, &r, 1, 0));
	r = (struct vfio_region_dma_range){ .offset = 0, .length = 100 };
	EXPECT_EQ(-EINVAL, pm_vfio_dmabuf_ranges(&self->v, BUF_BAR, &r, 1, 0));
	r = (struct vfio_region_dma_range){ .offset = 0, .length = 0 };
	EXPECT_EQ(-EINVAL, pm_vfio_dmabuf_ranges(&self->v, BUF_BAR, &r, 1, 0));
	r = (struct vfio_region_dma_range){ .offset = 64 << 20, .length = PAGE };
	EXPECT_EQ(-EINVAL, pm_vfio_dmabuf_ranges(&self->v, BUF_BAR, &r, 1, 0));
	r = (struct vfio_region_dma_range){ .offset = 0, .length = PAGE };
	fd = pm_vfio_dmabuf_ranges(&self->v, 0, &r, 1, 0);
	ksft_print_msg("BAR0 (256 bytes of registers), one page: %s\n",
		       fd < 0 ? strerror(-fd) : "a dma-buf");
	EXPECT_EQ(-EINVAL, fd);
	fd = pm_vfio_dmabuf_ranges(&self->v, 1, &r, 1, 0);
	ksft_print_msg("BAR1 (none): %s\n", fd < 0 ? strerror(-fd) : "a dma-buf");
	EXPECT_EQ(-ENODEV, fd);
	EXPECT_EQ(-ENODEV, pm_vfio_dmabuf_ranges(&self->v, VFIO_PCI_ROM_REGION_INDEX, &r, 1, 0));
	EXPECT_EQ(-ENODEV, pm_vfio_dmabuf_ranges(&self->v, VFIO_PCI_CONFIG_REGION_INDEX, &r, 1, 0));
}

TEST_F(vfio, edu_maps_the_bar_by_iova)
{
	struct pm_imp_map m, again;
	struct pm_imp_status st;
	int id = attach_map(_metadata, self, self->buf, &m);
	unsigned int i;

	if (!self->zen)
		SKIP(return, "not an AMD Zen CPU: map refused (-EINVAL), as expected");
	ASSERT_LE(0, id);
	for (i = 0; i < m.nsegs && i < PM_IMP_MAX_SEGS; i++)
		ksft_print_msg("segment %u: %#llx + %#llx (BAR2 at %#llx)\n", i,
			       (unsigned long long)m.addr[i], (unsigned long long)m.seg_len[i],
			       (unsigned long long)self->bar_start);
	EXPECT_EQ(1, m.nsegs);
	EXPECT_EQ(BUF_SIZE, m.len);
	EXPECT_EQ(0, m.addr[0] % PAGE);
	/* intel-iommu translates: an IOVA, not the BAR's bus address */
	EXPECT_NE(self->bar_start, m.addr[0]);
	st = status(self, id);
	EXPECT_EQ(1, st.mapped);
	EXPECT_EQ(1, st.maps);
	EXPECT_EQ(0, st.invalidations);
	EXPECT_EQ(0, st.pin_on_map);
	/* mapped again after an unmap: a new IOVA range of the same size */
	ASSERT_EQ(0, ioctl(self->imp, PM_IMP_IOC_UNMAP, &(uint32_t){ id }));
	ASSERT_EQ(0, imp_map(self, id, &again));
	ksft_print_msg("after unmap, mapped again at %#llx\n",
		       (unsigned long long)again.addr[0]);
	EXPECT_EQ(BUF_SIZE, again.len);
}

TEST_F(vfio, a_slice_maps_at_its_offset)
{
	struct pm_imp_map m;
	int fd = pm_vfio_dmabuf(&self->v, BUF_BAR, 1 << 20, 2 * PAGE), id;

	ASSERT_LE(0, fd);
	id = attach_map(_metadata, self, fd, &m);
	if (!self->zen) {
		close(fd);
		SKIP(return, "not an AMD Zen CPU: map refused");
	}
	ASSERT_LE(0, id);
	ksft_print_msg("BAR2 [1 MiB, +8 KiB): %#llx + %#llx\n",
		       (unsigned long long)m.addr[0], (unsigned long long)m.len);
	EXPECT_EQ(1, m.nsegs);
	EXPECT_EQ(2 * PAGE, m.len);
	close(fd);
}

/*
 * Two ranges of the BAR in one buffer. 7.3.4's dma_buf_phys_vec_to_sgt()
 * links every range at offset 0 of the IOVA it allocated
 * (dma_iova_link(..., phys_vec[i].paddr, 0, ...)): the second range finds
 * the first one's mapping there and the map fails with EADDRINUSE. SKIP, naming
 * the bug, until a kernel fixes it; then both ranges must be one IOVA
 * segment.
 */
TEST_F(vfio, two_ranges_map_as_one_iova_segment)
{
	struct vfio_region_dma_range two[2] = {
		{ .offset = 0, .length = PAGE }, { .offset = 8 * PAGE, .length = 2 * PAGE },
	};
	struct pm_imp_map m;
	int fd = pm_vfio_dmabuf_ranges(&self->v, BUF_BAR, two, 2, O_CLOEXEC), id, err;
	unsigned int i;

	ASSERT_LE(0, fd);
	id = attach(self, fd, PM_IMP_DYNAMIC);
	ASSERT_LE(0, id);
	err = imp_map(self, id, &m);
	ksft_print_msg("two ranges mapped for edu: %s\n", strerror(-err));
	close(fd);
	if (!self->zen) {
		EXPECT_EQ(-EINVAL, err);
		SKIP(return, "not an AMD Zen CPU: map refused");
	}
	if (err == -EADDRINUSE)
		SKIP(return, "kernel bug (7.3.4): dma_buf_phys_vec_to_sgt() links every range at IOVA offset 0: EADDRINUSE");
	ASSERT_EQ(0, err);
	for (i = 0; i < m.nsegs && i < PM_IMP_MAX_SEGS; i++)
		ksft_print_msg("BAR2 {[0, +4 KiB), [32 KiB, +8 KiB)} segment %u: %#llx + %#llx\n",
			       i, (unsigned long long)m.addr[i],
			       (unsigned long long)m.seg_len[i]);
	EXPECT_EQ(1, m.nsegs);
	EXPECT_EQ(3 * PAGE, m.len);
}

TEST_F(vfio, only_revocable_peer2peer_importers_attach)
{
	int id;

	id = attach(self, self->buf, PM_IMP_PINNED);
	ksft_print_msg("pinned (RDMA get_pinned): %s\n", id < 0 ? strerror(-id) : "attached");
	EXPECT_EQ(-EOPNOTSUPP, id);
	id = attach(self, self->buf, PM_IMP_STATIC);
	ksft_print_msg("static (PRIME): %s\n", id < 0 ? strerror(-id) : "attached");
	EXPECT_EQ(-EOPNOTSUPP, id);
	id = attach(self, self->buf, PM_IMP_NO_P2P);
	ksft_print_msg("dynamic, not peer2peer: %s\n", id < 0 ? strerror(-id) : "attached");
	EXPECT_EQ(-EOPNOTSUPP, id);
	id = attach(self, self->buf, PM_IMP_DYNAMIC);
	EXPECT_LE(0, id);
}

static jmp_buf fault_env;

static void on_sigbus(int sig)
{
	longjmp(fault_env, sig);
}

/* Read a byte of @p; the signal number if it faults. */
static int touch(volatile unsigned char *p, unsigned char *val)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old_bus, old_segv;
	int sig;

	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	sig = setjmp(fault_env);
	if (!sig)
		*val = *p;
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return sig;
}

TEST_F(vfio, cpu_mmap_of_the_bar)
{
	unsigned char *p = pm_vfio_mmap_bar(&self->v, BUF_BAR, 0, BUF_SIZE), c = 0;
	void *q;
	int sig;

	ASSERT_NE(NULL, p);
	fill(p, BUF_SIZE, 7);
	EXPECT_EQ(0, differ(p, BUF_SIZE, 7));
	/* the dma-buf itself has no mmap in 7.3's vfio_pci_dmabuf.c */
	q = mmap(NULL, BUF_SIZE, PROT_READ, MAP_SHARED, self->buf, 0);
	ksft_print_msg("mmap of the dma-buf: %s\n", q == MAP_FAILED ? strerror(errno) : "mapped");
	if (q != MAP_FAILED)
		munmap(q, BUF_SIZE);
	/* decode off zaps the CPU mapping: a fault, not the bytes */
	ASSERT_EQ(0, pm_vfio_set_decode(&self->v, 0));
	sig = touch(p, &c);
	ksft_print_msg("a read with decode off: %s\n", sig ? strsignal(sig) : "no fault");
	EXPECT_EQ(SIGBUS, sig);
	ASSERT_EQ(0, pm_vfio_set_decode(&self->v, 1));
	EXPECT_EQ(0, touch(p, &c));
	EXPECT_EQ(0, differ(p, BUF_SIZE, 7));	/* RAM-backed: kept */
	munmap(p, BUF_SIZE);
}

TEST_F(vfio, reset_revokes_and_gives_back)
{
	struct vfio_device_info di = { .argsz = sizeof(di) };
	struct pm_imp_status st0, st1;
	struct pm_imp_map m;
	int id, err;

	ASSERT_EQ(0, ioctl(self->v.device, VFIO_DEVICE_GET_INFO, &di));
	if (!(di.flags & VFIO_DEVICE_FLAGS_RESET))
		SKIP(return, "%s has no reset method (VFIO_DEVICE_FLAGS_RESET)", self->dev);
	id = attach_map(_metadata, self, self->buf, &m);
	if (id < 0)
		id = attach(self, self->buf, PM_IMP_DYNAMIC);	/* unmapped: still told */
	ASSERT_LE(0, id);
	st0 = status(self, id);
	err = pm_vfio_reset(&self->v);
	ASSERT_EQ(0, err);
	st1 = status(self, id);
	ksft_print_msg("reset: move_notify %llu -> %llu, mapped %u -> %u\n",
		       (unsigned long long)st0.invalidations,
		       (unsigned long long)st1.invalidations, st0.mapped, st1.mapped);
	/* revoked (one notify), then un-revoked (another): decode stays on */
	EXPECT_EQ(st0.invalidations + 2, st1.invalidations);
	EXPECT_EQ(0, st1.mapped);
	err = imp_map(self, id, &m);
	ksft_print_msg("map after the reset: %s, %#llx\n", strerror(-err),
		       (unsigned long long)m.addr[0]);
	EXPECT_EQ(self->zen ? 0 : -EINVAL, err);
}

TEST_F(vfio, decode_off_revokes_until_on)
{
	struct pm_imp_status st0, st1, st2;
	struct pm_imp_map m;
	int id, fd, id2, err;

	id = attach_map(_metadata, self, self->buf, &m);
	if (id < 0)
		id = attach(self, self->buf, PM_IMP_DYNAMIC);
	ASSERT_LE(0, id);
	st0 = status(self, id);
	ASSERT_EQ(0, pm_vfio_set_decode(&self->v, 0));
	st1 = status(self, id);
	ksft_print_msg("decode off: move_notify %llu -> %llu, mapped %u -> %u\n",
		       (unsigned long long)st0.invalidations,
		       (unsigned long long)st1.invalidations, st0.mapped, st1.mapped);
	EXPECT_EQ(st0.invalidations + 1, st1.invalidations);
	EXPECT_EQ(0, st1.mapped);
	err = imp_map(self, id, &m);
	ksft_print_msg("map while off: %s\n", strerror(-err));
	EXPECT_EQ(-ENODEV, err);
	err = attach(self, self->buf, PM_IMP_DYNAMIC);
	ksft_print_msg("attach while off: %s\n", err < 0 ? strerror(-err) : "attached");
	EXPECT_EQ(-ENODEV, err);
	/* exported while off: born revoked */
	fd = pm_vfio_dmabuf(&self->v, BUF_BAR, 0, PAGE);
	ksft_print_msg("export while off: %s\n", fd < 0 ? strerror(-fd) : "a dma-buf");
	EXPECT_LE(0, fd);
	id2 = fd < 0 ? -1 : attach(self, fd, PM_IMP_DYNAMIC);
	EXPECT_EQ(-ENODEV, id2);

	ASSERT_EQ(0, pm_vfio_set_decode(&self->v, 1));
	st2 = status(self, id);
	ksft_print_msg("decode on: move_notify %llu -> %llu, mapped %u\n",
		       (unsigned long long)st1.invalidations,
		       (unsigned long long)st2.invalidations, st2.mapped);
	EXPECT_EQ(st1.invalidations + 1, st2.invalidations);
	err = imp_map(self, id, &m);
	ksft_print_msg("map after decode on: %s, %#llx\n", strerror(-err),
		       (unsigned long long)m.addr[0]);
	EXPECT_EQ(self->zen ? 0 : -EINVAL, err);
	if (fd >= 0) {
		id2 = attach(self, fd, PM_IMP_DYNAMIC);
		EXPECT_LE(0, id2) TH_LOG("the buffer exported while off, after on: %s",
					 strerror(-id2));
		close(fd);
	}
}

TEST_F(vfio, closing_the_device_revokes_for_good)
{
	struct pm_imp_status st0, st1, st2;
	struct pm_imp_map m;
	int id, err, fd;

	id = attach_map(_metadata, self, self->buf, &m);
	if (id < 0)
		id = attach(self, self->buf, PM_IMP_DYNAMIC);
	ASSERT_LE(0, id);
	st0 = status(self, id);
	pm_vfio_close_device(&self->v);
	st1 = status(self, id);
	ksft_print_msg("device fd closed: move_notify %llu -> %llu, mapped %u -> %u\n",
		       (unsigned long long)st0.invalidations,
		       (unsigned long long)st1.invalidations, st0.mapped, st1.mapped);
	EXPECT_EQ(st0.invalidations + 1, st1.invalidations);
	EXPECT_EQ(0, st1.mapped);
	err = imp_map(self, id, &m);
	ksft_print_msg("map after close: %s\n", strerror(-err));
	EXPECT_EQ(-ENODEV, err);
	err = attach(self, self->buf, PM_IMP_DYNAMIC);
	ksft_print_msg("attach after close: %s\n", err < 0 ? strerror(-err) : "attached");
	EXPECT_EQ(-ENODEV, err);
	/* the device opened again: the old buffer stays revoked, a new one maps */
	self->v.device = ioctl(self->v.group, VFIO_GROUP_GET_DEVICE_FD, self->dev);
	ASSERT_LE(0, self->v.device) TH_LOG("device fd again: %s", strerror(errno));
	err = imp_map(self, id, &m);
	ksft_print_msg("map after the device is opened again: %s\n", strerror(-err));
	EXPECT_EQ(-ENODEV, err);
	st2 = status(self, id);
	EXPECT_EQ(st1.invalidations, st2.invalidations);
	fd = pm_vfio_dmabuf(&self->v, BUF_BAR, 0, BUF_SIZE);
	ASSERT_LE(0, fd);
	self->buf = (close(self->buf), fd);
	id = attach_map(_metadata, self, self->buf, &m);
	EXPECT_EQ(self->zen, id >= 0);
}

TEST_HARNESS_MAIN
