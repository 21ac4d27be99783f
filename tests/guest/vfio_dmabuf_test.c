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
#include <pthread.h>
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

/*
 * After VFIO revoked (@what): the importer was told once and has unmapped,
 * and VFIO refuses to map or attach it. The importer's status then.
 */
static struct pm_imp_status revoked(struct __test_metadata *_metadata,
				    FIXTURE_DATA(vfio) *self, int id,
				    struct pm_imp_status st0, const char *what)
{
	struct pm_imp_status st1 = status(self, id);
	struct pm_imp_map m;
	int err;

	ksft_print_msg("%s: move_notify %llu -> %llu, mapped %u -> %u\n", what,
		       (unsigned long long)st0.invalidations,
		       (unsigned long long)st1.invalidations, st0.mapped, st1.mapped);
	EXPECT_EQ(st0.invalidations + 1, st1.invalidations);
	EXPECT_EQ(0, st1.mapped);
	err = imp_map(self, id, &m);
	ksft_print_msg("map after %s: %s\n", what, strerror(-err));
	EXPECT_EQ(-ENODEV, err);
	err = attach(self, self->buf, PM_IMP_DYNAMIC);
	ksft_print_msg("attach after %s: %s\n", what,
		       err < 0 ? strerror(-err) : "attached");
	EXPECT_EQ(-ENODEV, err);
	return st1;
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
	st1 = revoked(_metadata, self, id, st0, "decode off");
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
	st1 = revoked(_metadata, self, id, st0, "device fd closed");
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

/*
 * peermap's dma-buf import of the BAR: a window of this process that
 * edu's peermap importer copies into, peer to peer, by the IOVA VFIO maps
 * (Zen: through the host bridge). The window has no CPU access (VFIO's
 * dma-buf has no mmap): the bytes are checked through VFIO's region mmap.
 */
static unsigned char *vfio_window(struct __test_metadata *_metadata,
				  FIXTURE_DATA(vfio) *self)
{
	unsigned char *w = NULL;
	unsigned int fl = 0;
	int err;

	err = pm_dmabuf_map_flags(self->buf, 0, BUF_SIZE, PROT_READ | PROT_WRITE, 0,
				  (void **)&w, &fl);
	EXPECT_EQ(0, err) TH_LOG("window of the VFIO dma-buf: %s", strerror(-err));
	if (err)
		return NULL;
	/* no CPU access: VFIO's dma-buf has no mmap */
	EXPECT_EQ(PEERMAP_WINDOW_WRITE, fl & (PEERMAP_WINDOW_CPU | PEERMAP_WINDOW_WRITE));
	return w;
}

static struct peermap_dmabuf_info vinfo(struct __test_metadata *_metadata, void *w)
{
	struct peermap_dmabuf_info i;

	EXPECT_EQ(0, pm_dmabuf_info(w, &i));
	ksft_print_msg("window: exporter %s, %u attachment(s), maps %llu, revokes %llu, refusals %llu, pieces %llu, cpu_refused %llu\n",
		       i.exporter, i.attachments, (unsigned long long)i.maps,
		       (unsigned long long)i.revokes, (unsigned long long)i.refusals,
		       (unsigned long long)i.pieces, (unsigned long long)i.cpu_refused);
	return i;
}

static int edu_open_checked(struct __test_metadata *_metadata)
{
	int edu = pm_edu_open(0);

	EXPECT_LE(0, edu) TH_LOG("peermap-edu0: %s", strerror(-edu));
	return edu;
}

TEST_F(vfio, window_is_copied_into_by_edu)
{
	unsigned char *bar = pm_vfio_mmap_bar(&self->v, BUF_BAR, 0, BUF_SIZE);
	unsigned char *src = ram(4 * PAGE), *dst = ram(4 * PAGE), *w;
	struct peermap_seg *segs = NULL;
	struct peermap_dmabuf_info i;
	unsigned int nsegs = 0, k;
	int edu, err;

	ASSERT_NE(NULL, bar);
	ASSERT_NE(NULL, src);
	w = vfio_window(_metadata, self);
	ASSERT_NE(NULL, w);
	edu = edu_open_checked(_metadata);
	ASSERT_LE(0, edu);
	memset(bar, FILLER, BUF_SIZE);
	fill(src, 4 * PAGE, 101);
	err = pm_edu_copy(edu, w + PAGE, src, 4 * PAGE);
	if (!self->zen) {
		/* VFIO refuses the route: the copy says so, nothing written */
		EXPECT_EQ(-EINVAL, err) TH_LOG("copy on a non-Zen CPU: %s", strerror(-err));
		EXPECT_EQ(0, not_filler(bar, BUF_SIZE));
		EXPECT_LE(1, vinfo(_metadata, w).refusals);
		goto out;
	}
	ASSERT_EQ(0, err) TH_LOG("edu into the VFIO window: %s", strerror(-err));
	EXPECT_EQ(0, differ(bar + PAGE, 4 * PAGE, 101));
	EXPECT_EQ(0, not_filler(bar, PAGE));
	EXPECT_EQ(0, not_filler(bar + 5 * PAGE, BUF_SIZE - 5 * PAGE));
	/* and out of it */
	fill(bar + 8 * PAGE, 4 * PAGE, 102);
	ASSERT_EQ(0, pm_edu_copy(edu, dst, w + 8 * PAGE, 4 * PAGE));
	EXPECT_EQ(0, differ(dst, 4 * PAGE, 102));

	ASSERT_EQ(0, pm_edu_segments(edu, w, BUF_SIZE, PEERMAP_ACCESS_READ |
				     PEERMAP_ACCESS_WRITE, &segs, &nsegs));
	for (k = 0; k < nsegs; k++)
		ksft_print_msg("segment %u: %#llx +%#llx flags %#x\n", k,
			       (unsigned long long)segs[k].addr,
			       (unsigned long long)segs[k].len, segs[k].flags);
	EXPECT_EQ(1, nsegs);
	if (nsegs)
		EXPECT_EQ(PEERMAP_SEG_DMABUF | PEERMAP_SEG_WRITE | PEERMAP_SEG_IOVA,
			  segs[0].flags);
	free(segs);
	i = vinfo(_metadata, w);
	EXPECT_EQ(0, strcmp(i.exporter, "vfio_pci_core")) TH_LOG("exporter %s", i.exporter);
	EXPECT_LE(1, i.maps);
	EXPECT_EQ(0, i.revokes);
	EXPECT_EQ(0, i.refusals);
out:
	EXPECT_EQ(0, pm_dmabuf_unmap(w, BUF_SIZE));
	close(edu);
	munmap(bar, BUF_SIZE);
}

struct vcopy {
	int edu, err;
	void *dst;
	const void *src;
	size_t len;
	volatile int done;
};

static void *vcopy_run(void *arg)
{
	struct vcopy *c = arg;

	c->err = pm_edu_copy(c->edu, c->dst, c->src, c->len);
	c->done = 1;
	return NULL;
}

/*
 * VFIO revokes (memory decode off) while edu copies into the window: the
 * importer stops first (the window's invalidate_mappings revokes the
 * copy's mapping, which waits for the chunk in flight), the attachment is
 * unmapped, the copy fails cleanly with VFIO's answer, and no byte lands
 * after the revoke. Decode on: the next copy maps again.
 */
TEST_F_TIMEOUT(vfio, window_revoked_by_vfio_during_a_copy, 120)
{
	unsigned char *bar = pm_vfio_mmap_bar(&self->v, BUF_BAR, 0, BUF_SIZE);
	unsigned char *src = ram(BUF_SIZE), *w;
	struct peermap_dmabuf_info i0, i1, i2;
	struct peermap_edu_stats s0, s1;
	struct vcopy c = { 0 };
	size_t k;
	pthread_t t;
	int edu, during;

	if (!self->zen)
		SKIP(return, "VFIO maps for edu through the host bridge only on a Zen CPU");
	ASSERT_NE(NULL, bar);
	w = vfio_window(_metadata, self);
	ASSERT_NE(NULL, w);
	edu = edu_open_checked(_metadata);
	ASSERT_LE(0, edu);
	memset(bar, FILLER, BUF_SIZE);
	fill(src, BUF_SIZE, 111);
	i0 = vinfo(_metadata, w);
	ASSERT_EQ(0, pm_edu_stats(edu, &s0));
	c = (struct vcopy){ .edu = edu, .dst = w, .src = src, .len = BUF_SIZE };
	ASSERT_EQ(0, pthread_create(&t, NULL, vcopy_run, &c));
	edu_wait_chunks(edu, s0.chunks + 2);
	ASSERT_EQ(0, pm_vfio_set_decode(&self->v, 0));
	during = !c.done;
	i1 = vinfo(_metadata, w);
	pthread_join(t, NULL);
	ASSERT_EQ(0, pm_edu_stats(edu, &s1));
	ksft_print_msg("copy of %d KiB: %s after %llu chunks; revoke while copying: %s\n",
		       BUF_SIZE / 1024, c.err ? strerror(-c.err) : "done",
		       (unsigned long long)(s1.chunks - s0.chunks), during ? "yes" : "no");
	EXPECT_TRUE(during);
	EXPECT_EQ(-ENODEV, c.err);
	EXPECT_EQ(i0.revokes + 1, i1.revokes);
	EXPECT_EQ(0, i1.pieces);
	sleep(1);	/* a DMA after the revoke would land meanwhile */
	ASSERT_EQ(0, pm_vfio_set_decode(&self->v, 1));
	/* the chunks done before the revoke landed; nothing after them */
	for (k = 0; k < BUF_SIZE; k++)
		if (bar[k] != pat(111, k))
			break;
	ksft_print_msg("%zu bytes landed before the revoke (%llu chunks), the rest untouched: %s\n",
		       k, (unsigned long long)(s1.chunks - s0.chunks),
		       not_filler(bar + k, BUF_SIZE - k) ? "no" : "yes");
	EXPECT_LT(0, k);
	EXPECT_GT(BUF_SIZE, k);
	EXPECT_EQ(0, not_filler(bar + k, BUF_SIZE - k));

	/*
	 * decode on: VFIO un-revokes, one more invalidation if the window's
	 * attachment is still there (idle since the copy failed, it may be
	 * detached already); copies work again
	 */
	i2 = vinfo(_metadata, w);
	EXPECT_GE(i1.revokes + 1, i2.revokes);
	ASSERT_EQ(0, pm_edu_copy(edu, w + PAGE, src, PAGE));
	EXPECT_EQ(0, differ(bar + PAGE, PAGE, 111));
	EXPECT_LE(i2.maps + 1, vinfo(_metadata, w).maps);
	EXPECT_EQ(0, pm_dmabuf_unmap(w, BUF_SIZE));
	/* the window, its attachment and its hold on the dma-buf are gone */
	EXPECT_EQ(0, pm_windows_alive_settled(0));
	close(edu);
	munmap(bar, BUF_SIZE);
}

/*
 * A registration of the window (an RDMA MR, say) across VFIO's reset and
 * the device's close: invalidated with PEERMAP_INVAL_REVOKE each time; after
 * the reset it maps again, after the close VFIO refuses for good; the
 * window ends cleanly either way and nothing is left.
 */
TEST_F(vfio, window_registration_across_reset_and_close)
{
	struct vfio_device_info di = { .argsz = sizeof(di) };
	unsigned char *src = ram(PAGE), *w;
	struct peermap_edu_reg_info ri;
	struct peermap_dmabuf_info i0, i1;
	uint64_t id;
	int edu, err;

	if (!self->zen)
		SKIP(return, "VFIO maps for edu through the host bridge only on a Zen CPU");
	ASSERT_EQ(0, ioctl(self->v.device, VFIO_DEVICE_GET_INFO, &di));
	w = vfio_window(_metadata, self);
	ASSERT_NE(NULL, w);
	edu = edu_open_checked(_metadata);
	ASSERT_LE(0, edu);
	ASSERT_EQ(0, pm_edu_register(edu, w, BUF_SIZE, PEERMAP_ACCESS_READ |
				     PEERMAP_ACCESS_WRITE, 0, &id));
	i0 = vinfo(_metadata, w);
	EXPECT_EQ(1, i0.pieces);
	if (di.flags & VFIO_DEVICE_FLAGS_RESET) {
		ASSERT_EQ(0, pm_vfio_reset(&self->v));
		ASSERT_EQ(0, pm_edu_reg_info(edu, id, &ri));
		EXPECT_EQ(PEERMAP_INVAL_REVOKE, ri.last_reason);
		EXPECT_EQ(1, ri.invalidations);
		i1 = vinfo(_metadata, w);
		/*
		 * revoke, then un-revoke: the second reaches the window if
		 * its attachment, idle after the first, is not detached yet
		 */
		EXPECT_LE(i0.revokes + 1, i1.revokes);
		EXPECT_GE(i0.revokes + 2, i1.revokes);
		EXPECT_EQ(0, i1.pieces);
		fill(src, PAGE, 121);
		EXPECT_EQ(0, pm_edu_copy(edu, w, src, PAGE));
		ASSERT_EQ(0, pm_edu_reg_info(edu, id, &ri));
		EXPECT_EQ(1, ri.valid);
	}
	i0 = vinfo(_metadata, w);
	pm_vfio_close_device(&self->v);
	ASSERT_EQ(0, pm_edu_reg_info(edu, id, &ri));
	EXPECT_EQ(0, ri.valid);
	EXPECT_EQ(PEERMAP_INVAL_REVOKE, ri.last_reason);
	i1 = vinfo(_metadata, w);
	EXPECT_EQ(i0.revokes + 1, i1.revokes);
	err = pm_edu_copy(edu, w, src, PAGE);
	ksft_print_msg("copy after the device's close: %s\n", strerror(-err));
	EXPECT_EQ(-ENODEV, err);
	EXPECT_EQ(0, pm_edu_unregister(edu, id));
	EXPECT_EQ(0, pm_dmabuf_unmap(w, BUF_SIZE));
	EXPECT_EQ(0, pm_windows_alive_settled(0));
	close(edu);
}

TEST_HARNESS_MAIN
