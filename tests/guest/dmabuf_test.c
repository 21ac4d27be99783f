// SPDX-License-Identifier: GPL-2.0
/*
 * peermap objects as dma-bufs (PEERMAP_BAR_IOC_EXPORT), imported by
 * pm_dmabuf_imp.ko, which attaches and maps as the RDMA core does for a
 * dmabuf MR (dynamic with move_notify, or pinned) and as DRM PRIME does
 * (static, or not peer2peer), for the edu device: what each kind of
 * importer gets, and what evict, restore, policy and pins do to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libdrm/drm.h>

#include "harness.h"
#include "pm_dmabuf_imp.h"

#define OBJ_SIZE	(1024 * 1024)

FIXTURE(dmabuf) {
	struct pm_bar bar;
	struct pm_obj obj;
	int imp;		/* /dev/pm-dmabuf-imp */
	int buf;		/* the exported dma-buf */
	char client[32];	/* edu's PCI name */
	uint64_t bus;		/* the object's bus address */
	int by_bus;		/* the client reaches it by bus address */
};

FIXTURE_SETUP(dmabuf)
{
	struct peermap_bar_obj_info info;
	struct peermap_route_query q;
	struct peermap_bar_info bi;
	int err;

	self->imp = self->buf = -1;
	err = pm_bar_open(0, &self->bar);
	ASSERT_EQ(0, err) TH_LOG("peermap-bar0: %s", strerror(-err));
	ASSERT_EQ(0, pm_obj_alloc(&self->bar, OBJ_SIZE, &self->obj));
	ASSERT_EQ(0, pm_node_pci_name("peermap-edu0", self->client, sizeof(self->client)));
	self->imp = open("/dev/pm-dmabuf-imp", O_RDWR);
	if (self->imp < 0 && system("insmod /lib/peermap/test/pm_dmabuf_imp.ko") == 0)
		self->imp = open("/dev/pm-dmabuf-imp", O_RDWR);
	ASSERT_LE(0, self->imp) TH_LOG("/dev/pm-dmabuf-imp: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(self->bar.fd, PEERMAP_BAR_IOC_INFO, &bi));
	ASSERT_EQ(0, pm_obj_info(&self->obj, &info));
	self->bus = bi.bar_bus_addr + info.bar_offset;
	ASSERT_EQ(0, pm_route(bi.pci_name, self->client, &q));
	self->by_bus = q.path != PEERMAP_PATH_NONE && !(q.flags & PEERMAP_ROUTE_IOVA);
	self->buf = pm_obj_export_dmabuf(&self->obj, PEERMAP_EXPORT_WRITE);
	ASSERT_LE(0, self->buf) TH_LOG("export: %s", strerror(-self->buf));
}

#define OVERRIDES	"/sys/module/peermap/parameters/overrides"

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

FIXTURE_TEARDOWN(dmabuf)
{
	write_str(OVERRIDES, " ");	/* admin_deny_*: none, as booted */
	if (self->imp >= 0)
		close(self->imp);	/* detaches what is still attached */
	if (self->buf >= 0)
		close(self->buf);
	pm_obj_policy(&self->obj, 0, NULL);
	pm_obj_free(&self->obj);
	pm_bar_close(&self->bar);
}

static int attach(FIXTURE_DATA(dmabuf) *self, int fd, unsigned int mode)
{
	struct pm_imp_attach a = { .fd = fd, .mode = mode };

	snprintf(a.client, sizeof(a.client), "%s", self->client);
	return ioctl(self->imp, PM_IMP_IOC_ATTACH, &a) ? -errno : (int)a.id;
}

static int imp_map(FIXTURE_DATA(dmabuf) *self, int id, struct pm_imp_map *m)
{
	memset(m, 0, sizeof(*m));
	m->id = id;
	return ioctl(self->imp, PM_IMP_IOC_MAP, m) ? -errno : 0;
}

static int status(FIXTURE_DATA(dmabuf) *self, int id, struct pm_imp_status *st)
{
	memset(st, 0, sizeof(*st));
	st->id = id;
	return ioctl(self->imp, PM_IMP_IOC_STATUS, st) ? -errno : 0;
}

static int detach(FIXTURE_DATA(dmabuf) *self, uint32_t id)
{
	return ioctl(self->imp, PM_IMP_IOC_DETACH, &id) ? -errno : 0;
}

static struct peermap_bar_obj_info info_of(struct __test_metadata *_metadata,
					   struct pm_obj *obj)
{
	struct peermap_bar_obj_info info;

	EXPECT_EQ(0, pm_obj_info(obj, &info));
	return info;
}

/* Whether a mapping is the object in its BAR (by bus address). */
static int in_bar(FIXTURE_DATA(dmabuf) *self, const struct pm_imp_map *m)
{
	return m->nsegs >= 1 && m->addr[0] == self->bus;
}

TEST_F(dmabuf, export_gives_a_buffer_of_the_object)
{
	int flags = fcntl(self->buf, F_GETFD);

	EXPECT_TRUE(flags & FD_CLOEXEC);
	EXPECT_EQ(OBJ_SIZE, lseek(self->buf, 0, SEEK_END));
	EXPECT_EQ(1, info_of(_metadata, &self->obj).dmabufs);
	close(self->buf);
	self->buf = -1;
	EXPECT_EQ(0, info_of(_metadata, &self->obj).dmabufs);
}

TEST_F(dmabuf, export_refuses_bad_requests)
{
	struct pm_obj gone = self->obj;

	EXPECT_EQ(-EINVAL, pm_obj_export_dmabuf_range(&self->obj, 100, 4096, 0));
	EXPECT_EQ(-EINVAL, pm_obj_export_dmabuf_range(&self->obj, 0, 4097, 0));
	EXPECT_EQ(-EINVAL, pm_obj_export_dmabuf_range(&self->obj, OBJ_SIZE, 0, 0));
	EXPECT_EQ(-EINVAL, pm_obj_export_dmabuf_range(&self->obj, 4096, OBJ_SIZE, 0));
	EXPECT_EQ(-EINVAL, pm_obj_export_dmabuf(&self->obj, 0x80));
	gone.handle += 1 << 20;
	EXPECT_EQ(-ENOENT, pm_obj_export_dmabuf(&gone, 0));
}

TEST_F(dmabuf, rdma_like_importer_gets_device_memory_and_is_revoked)
{
	struct pm_imp_status st;
	struct pm_imp_map m;
	int id = attach(self, self->buf, PM_IMP_DYNAMIC);

	ASSERT_LE(0, id) TH_LOG("attach: %s", strerror(-id));
	ASSERT_EQ(0, imp_map(self, id, &m));
	EXPECT_EQ(OBJ_SIZE, m.len);
	if (self->by_bus)
		EXPECT_TRUE(in_bar(self, &m)) TH_LOG("got %#llx, the BAR is at %#llx",
						     (unsigned long long)m.addr[0],
						     (unsigned long long)self->bus);
	EXPECT_EQ(0, info_of(_metadata, &self->obj).ram_importers);
	ASSERT_EQ(0, status(self, id, &st));
	if (st.pin_on_map) {
		/* This kernel pins every mapping: the object cannot move. */
		EXPECT_EQ(1, info_of(_metadata, &self->obj).pins);
		EXPECT_EQ(-EBUSY, pm_obj_evict(&self->obj));
		SKIP(return, "this kernel pins dynamic importers' mappings (no DMABUF_MOVE_NOTIFY): no revocation to see");
	}
	EXPECT_EQ(0, info_of(_metadata, &self->obj).pins);
	ASSERT_EQ(0, pm_obj_evict(&self->obj));
	ASSERT_EQ(0, status(self, id, &st));
	EXPECT_EQ(1, st.invalidations);
	EXPECT_EQ(0, st.mapped) TH_LOG("evict returned with the importer still mapped");
	ASSERT_EQ(0, imp_map(self, id, &m));
	EXPECT_EQ(OBJ_SIZE, m.len);
	EXPECT_FALSE(in_bar(self, &m)) TH_LOG("evicted, still the BAR");
	ASSERT_EQ(0, pm_obj_restore(&self->obj));
	ASSERT_EQ(0, status(self, id, &st));
	EXPECT_EQ(2, st.invalidations);
	EXPECT_EQ(0, st.mapped);
	EXPECT_EQ(0, detach(self, id));
}

TEST_F(dmabuf, pinned_importer_blocks_moves_and_policy)
{
	struct pm_imp_status st;
	struct pm_imp_map m;
	int id = attach(self, self->buf, PM_IMP_PINNED);

	ASSERT_LE(0, id) TH_LOG("attach: %s", strerror(-id));
	ASSERT_EQ(0, imp_map(self, id, &m));
	if (self->by_bus)
		EXPECT_TRUE(in_bar(self, &m));
	ASSERT_EQ(0, status(self, id, &st));
	/* its pin, and the one this kernel may take for the mapping */
	EXPECT_EQ(1 + st.pin_on_map, info_of(_metadata, &self->obj).pins);
	EXPECT_EQ(-EBUSY, pm_obj_evict(&self->obj));
	EXPECT_EQ(-EBUSY, pm_obj_policy(&self->obj, PEERMAP_POLICY_PEER_RO, NULL));
	EXPECT_EQ(PEERMAP_OBJ_RESIDENT, info_of(_metadata, &self->obj).state);
	EXPECT_EQ(0, detach(self, id));
	EXPECT_EQ(0, info_of(_metadata, &self->obj).pins);
	EXPECT_EQ(0, pm_obj_evict(&self->obj));
}

/* What DRM PRIME into vgem does: no peer2peer, so system memory. */
static void ram_importer(struct __test_metadata *_metadata,
			 FIXTURE_DATA(dmabuf) *self, unsigned int mode)
{
	volatile uint32_t *cpu = self->obj.cpu;
	struct peermap_bar_obj_info info;
	struct pm_imp_map m;
	uint32_t i;
	int id;

	for (i = 0; i < OBJ_SIZE / 4; i += 1024)
		cpu[i] = 0xd1ab0000 + i;
	id = attach(self, self->buf, mode);
	ASSERT_LE(0, id) TH_LOG("attach: %s", strerror(-id));
	info = info_of(_metadata, &self->obj);
	EXPECT_EQ(PEERMAP_OBJ_EVICTED, info.state);
	EXPECT_EQ(1, info.ram_importers);
	EXPECT_EQ(1, info.dmabuf_fallbacks);
	ASSERT_EQ(0, imp_map(self, id, &m));
	EXPECT_EQ(OBJ_SIZE, m.len);
	EXPECT_FALSE(in_bar(self, &m));
	EXPECT_EQ(-EBUSY, pm_obj_restore(&self->obj));
	for (i = 0; i < OBJ_SIZE / 4; i += 1024)
		ASSERT_EQ(0xd1ab0000 + i, cpu[i]) TH_LOG("word %u while in RAM", i);
	EXPECT_EQ(0, detach(self, id));
	info = info_of(_metadata, &self->obj);
	EXPECT_EQ(PEERMAP_OBJ_RESIDENT, info.state);
	EXPECT_EQ(0, info.ram_importers);
	for (i = 0; i < OBJ_SIZE / 4; i += 1024)
		ASSERT_EQ(0xd1ab0000 + i, cpu[i]) TH_LOG("word %u back in the BAR", i);
}

TEST_F(dmabuf, static_importer_holds_the_object_in_ram)
{
	ram_importer(_metadata, self, PM_IMP_STATIC);
}

TEST_F(dmabuf, not_peer2peer_importer_holds_the_object_in_ram)
{
	ram_importer(_metadata, self, PM_IMP_NO_P2P);
}

TEST_F(dmabuf, no_fallback_policy_refuses_ram_importers)
{
	ASSERT_EQ(0, pm_obj_policy(&self->obj, PEERMAP_POLICY_NO_FALLBACK, NULL));
	EXPECT_EQ(-EREMOTEIO, attach(self, self->buf, PM_IMP_STATIC));
	EXPECT_EQ(PEERMAP_OBJ_RESIDENT, info_of(_metadata, &self->obj).state);
	EXPECT_EQ(0, info_of(_metadata, &self->obj).dmabuf_fallbacks);
}

TEST_F(dmabuf, denied_client_cannot_map)
{
	struct pm_imp_map m;
	int id;

	ASSERT_EQ(0, pm_obj_policy(&self->obj, 0, self->client));
	id = attach(self, self->buf, PM_IMP_DYNAMIC);
	ASSERT_LE(0, id);
	EXPECT_EQ(-EPERM, imp_map(self, id, &m));
	ASSERT_EQ(0, pm_obj_policy(&self->obj, 0, NULL));
	EXPECT_EQ(0, imp_map(self, id, &m));
}

TEST_F(dmabuf, buffer_mmap_is_the_object)
{
	int slice = pm_obj_export_dmabuf_range(&self->obj, 65536, 65536,
					       PEERMAP_EXPORT_WRITE);
	volatile uint32_t *obj = self->obj.cpu, *buf;

	ASSERT_LE(0, slice);
	buf = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, slice, 0);
	ASSERT_NE(MAP_FAILED, buf) TH_LOG("mmap: %s", strerror(errno));
	buf[0] = 0x5eed1234;
	obj[65536 / 4 + 1] = 0xabcd0001;
	EXPECT_EQ(0x5eed1234, obj[65536 / 4]);
	EXPECT_EQ(0xabcd0001, buf[1]);
	ASSERT_EQ(0, pm_obj_evict(&self->obj));
	buf[2] = 0x0e71c7ed;
	EXPECT_EQ(0x5eed1234, buf[0]);
	EXPECT_EQ(0x0e71c7ed, obj[65536 / 4 + 2]);
	ASSERT_EQ(0, pm_obj_restore(&self->obj));
	EXPECT_EQ(0x0e71c7ed, buf[2]);
	munmap((void *)buf, 65536);
	close(slice);
}

TEST_F(dmabuf, read_only_buffer_refuses_device_writes)
{
	int ro = pm_obj_export_dmabuf(&self->obj, 0);
	struct pm_imp_map m;
	int id;

	ASSERT_LE(0, ro);
	id = attach(self, ro, PM_IMP_DYNAMIC);
	ASSERT_LE(0, id);
	/* RDMA maps bidirectionally: not a read-only buffer */
	EXPECT_EQ(-EACCES, imp_map(self, id, &m));
	EXPECT_EQ(0, detach(self, id));
	close(ro);
}

/* A VMA's mprotect() takes nothing from the buffer's importers. */
TEST_F(dmabuf, mprotect_of_a_mapping_leaves_importers_alone)
{
	struct pm_imp_status st;
	struct pm_imp_map m;
	void *p;
	int id = attach(self, self->buf, PM_IMP_DYNAMIC);

	ASSERT_LE(0, id);
	ASSERT_EQ(0, imp_map(self, id, &m));
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, self->buf, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, mprotect(p, 4096, PROT_NONE));
	EXPECT_EQ(0, mprotect(self->obj.cpu, OBJ_SIZE, PROT_READ));
	ASSERT_EQ(0, status(self, id, &st));
	EXPECT_EQ(0, st.invalidations);
	EXPECT_EQ(1, st.mapped);
	munmap(p, 4096);
	EXPECT_EQ(0, mprotect(self->obj.cpu, OBJ_SIZE, PROT_READ | PROT_WRITE));
}

/* Revoking one importer's mapping tells no other importer of the buffer. */
TEST_F(dmabuf, revoke_tells_only_the_mapping_it_takes)
{
	struct pm_imp_status st;
	struct pm_imp_map m;
	int ram, peer;

	ram = attach(self, self->buf, PM_IMP_NO_P2P);
	ASSERT_LE(0, ram);
	ASSERT_EQ(0, imp_map(self, ram, &m));
	peer = attach(self, self->buf, PM_IMP_DYNAMIC);
	ASSERT_LE(0, peer);
	ASSERT_EQ(0, imp_map(self, peer, &m));
	ASSERT_EQ(0, status(self, peer, &st));
	if (st.pin_on_map)
		SKIP(return, "this kernel pins every mapping: the policy change is refused, nothing revoked");
	ASSERT_EQ(0, pm_obj_policy(&self->obj, PEERMAP_POLICY_PEER_RO, NULL));
	ASSERT_EQ(0, status(self, peer, &st));
	EXPECT_EQ(1, st.invalidations) TH_LOG("the peer importer was not revoked");
	ASSERT_EQ(0, status(self, ram, &st));
	EXPECT_EQ(0, st.invalidations) TH_LOG("the RAM importer was told too");
	EXPECT_EQ(1, st.mapped);
}

/* An administrator's deny reaches dma-buf importers as peermap ones. */
TEST_F(dmabuf, admin_deny_revokes_dmabuf_importer)
{
	struct peermap_bar_info bi;
	struct pm_imp_status st;
	struct pm_imp_map m;
	char rule[128];
	int id, err;

	ASSERT_EQ(0, ioctl(self->bar.fd, PEERMAP_BAR_IOC_INFO, &bi));
	id = attach(self, self->buf, PM_IMP_DYNAMIC);
	ASSERT_LE(0, id);
	ASSERT_EQ(0, imp_map(self, id, &m));
	snprintf(rule, sizeof(rule), "deny:%s,%s", bi.pci_name, self->client);
	ASSERT_EQ(0, write_str(OVERRIDES, rule));
	ASSERT_EQ(0, status(self, id, &st));
	EXPECT_EQ(1, st.invalidations) TH_LOG("'%s' did not reach the importer", rule);
	EXPECT_EQ(0, st.mapped);
	err = imp_map(self, id, &m);
	EXPECT_EQ(-EREMOTEIO, err);
	ASSERT_EQ(0, write_str(OVERRIDES, " "));
	EXPECT_EQ(0, imp_map(self, id, &m));
}

/* The size of 0.2 (before the dma-buf fields) is answered too. */
TEST_F(dmabuf, obj_info_of_0_2_still_answers)
{
	struct peermap_bar_obj_info info;
	unsigned long v02 = _IOC(_IOC_READ | _IOC_WRITE, PEERMAP_IOC_MAGIC, 0x06,
				 offsetof(struct peermap_bar_obj_info, last_revoke_ns) + 8);

	memset(&info, 0xa5, sizeof(info));
	info.handle = self->obj.handle;
	ASSERT_EQ(0, ioctl(self->bar.fd, v02, &info)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(OBJ_SIZE, info.size);
	EXPECT_EQ(0xa5a5a5a5u, info.ram_importers) TH_LOG("wrote past the 0.2 size");
}

struct churn {
	FIXTURE_DATA(dmabuf) *self;
	int imp, stop, attaches, bad_maps, last_err;
};

/* RAM importers come and go while the owner evicts and restores. */
static void *churn_ram_importers(void *arg)
{
	struct churn *c = arg;
	struct pm_imp_attach a = { .fd = c->self->buf, .mode = PM_IMP_STATIC };
	struct pm_imp_map m;

	snprintf(a.client, sizeof(a.client), "%s", c->self->client);
	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
		if (ioctl(c->imp, PM_IMP_IOC_ATTACH, &a))
			continue;	/* EBUSY, EAGAIN: a move was on */
		c->attaches++;
		memset(&m, 0, sizeof(m));
		m.id = a.id;
		if (ioctl(c->imp, PM_IMP_IOC_MAP, &m)) {
			c->bad_maps++;
			c->last_err = errno;
		}
		ioctl(c->imp, PM_IMP_IOC_DETACH, &a.id);
	}
	return NULL;
}

TEST_F_TIMEOUT(dmabuf, ram_importers_race_evict_and_restore, 120)
{
	struct churn c[2] = { { .self = self }, { .self = self } };
	pthread_t t[2];
	struct peermap_bar_obj_info info;
	int i, moves = 0;

	for (i = 0; i < 2; i++) {
		c[i].imp = open("/dev/pm-dmabuf-imp", O_RDWR);
		ASSERT_LE(0, c[i].imp);
		ASSERT_EQ(0, pthread_create(&t[i], NULL, churn_ram_importers, &c[i]));
	}
	for (i = 0; i < 200; i++)
		moves += !(i & 1 ? pm_obj_restore(&self->obj) : pm_obj_evict(&self->obj));
	for (i = 0; i < 2; i++) {
		__atomic_store_n(&c[i].stop, 1, __ATOMIC_RELAXED);
		pthread_join(t[i], NULL);
		close(c[i].imp);
		TH_LOG("importer %d: %d attaches, %d failed maps (last %s)", i,
		       c[i].attaches, c[i].bad_maps, strerror(c[i].last_err));
		EXPECT_EQ(0, c[i].bad_maps);
	}
	TH_LOG("%d evictions and restores went through", moves);
	info = info_of(_metadata, &self->obj);
	EXPECT_EQ(0, info.ram_importers);
	EXPECT_EQ(0, info.pins);
	pm_obj_restore(&self->obj);
	EXPECT_EQ(PEERMAP_OBJ_RESIDENT, info_of(_metadata, &self->obj).state);
}

TEST_F(dmabuf, read_only_buffer_cannot_be_mapped_writable)
{
	int ro = pm_obj_export_dmabuf(&self->obj, 0);
	void *p;

	ASSERT_LE(0, ro);
	EXPECT_EQ(O_RDONLY, fcntl(ro, F_GETFL) & O_ACCMODE);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EACCES, errno);
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0);
	EXPECT_NE(MAP_FAILED, p);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	close(ro);
}

TEST_F(dmabuf, object_lives_while_its_buffer_does)
{
	volatile uint32_t *p;
	struct pm_imp_map m;
	int id;

	((volatile uint32_t *)self->obj.cpu)[0] = 0x11fe;
	ASSERT_EQ(0, pm_obj_free(&self->obj));
	self->obj.cpu = NULL;
	pm_bar_close(&self->bar);	/* the device's last file, but the buffer's */
	id = attach(self, self->buf, PM_IMP_DYNAMIC);
	ASSERT_LE(0, id) TH_LOG("attach after free: %s", strerror(-id));
	ASSERT_EQ(0, imp_map(self, id, &m));
	EXPECT_EQ(OBJ_SIZE, m.len);
	if (self->by_bus)
		EXPECT_TRUE(in_bar(self, &m));
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, self->buf, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap after free and close: %s", strerror(errno));
	EXPECT_EQ(0x11fe, p[0]);
	munmap((void *)p, 4096);
	EXPECT_EQ(0, detach(self, id));
}

/*
 * An upstream importer nobody here wrote: DRM PRIME into vgem (Debian's
 * module on its generic kernels). vgem attaches for its platform device,
 * statically, and maps at import: no peer2peer, so the object holds in
 * system memory while vgem has it, and comes back when vgem lets go.
 * vgem cannot mmap an imported object: the bytes are checked through the
 * object's own mapping.
 */
FIXTURE(vgem) {
	struct pm_bar bar;
	struct pm_obj obj;
	int card;
	int buf;
};

/* The /dev/dri/card* node vgem drives (DRM_IOCTL_VERSION says), or -1. */
static int vgem_open(void)
{
	char path[32], name[16];
	struct drm_version v;
	int i, fd;

	for (i = 0; i < 16; i++) {
		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR);
		if (fd < 0)
			continue;
		memset(&v, 0, sizeof(v));
		memset(name, 0, sizeof(name));
		v.name = name;
		v.name_len = sizeof(name) - 1;
		if (!ioctl(fd, DRM_IOCTL_VERSION, &v) && !strcmp(name, "vgem"))
			return fd;
		close(fd);
	}
	return -1;
}

FIXTURE_SETUP(vgem)
{
	self->card = self->buf = -1;
	self->obj.cpu = NULL;
	self->card = vgem_open();
	if (self->card < 0 && system("modprobe vgem 2>/dev/null") == 0)
		self->card = vgem_open();
	if (self->card < 0)
		SKIP(return, "no vgem on this kernel (Debian's generic kernels have it as a module)");
	ASSERT_EQ(0, pm_bar_open(0, &self->bar));
	ASSERT_EQ(0, pm_obj_alloc(&self->bar, OBJ_SIZE, &self->obj));
	self->buf = pm_obj_export_dmabuf(&self->obj, PEERMAP_EXPORT_WRITE);
	ASSERT_LE(0, self->buf);
}

FIXTURE_TEARDOWN(vgem)
{
	if (self->buf >= 0)
		close(self->buf);
	if (self->card >= 0)
		close(self->card);
	if (self->obj.cpu) {
		pm_obj_free(&self->obj);
		pm_bar_close(&self->bar);
	}
}

TEST_F(vgem, prime_import_holds_the_object_in_ram_until_closed)
{
	struct drm_prime_handle prime = { .fd = self->buf };
	volatile uint32_t *cpu = self->obj.cpu;
	struct peermap_bar_obj_info info;
	struct drm_gem_close gc = { 0 };
	uint32_t i;

	for (i = 0; i < OBJ_SIZE / 4; i += 512)
		cpu[i] = 0x76e30000 + i;
	ASSERT_EQ(0, ioctl(self->card, DRM_IOCTL_PRIME_FD_TO_HANDLE, &prime))
		TH_LOG("PRIME import: %s", strerror(errno));
	info = info_of(_metadata, &self->obj);
	TH_LOG("held by vgem: state %u (1 = evicted), ram_importers %u, dmabuf_fallbacks %llu",
	       info.state, info.ram_importers, (unsigned long long)info.dmabuf_fallbacks);
	EXPECT_EQ(PEERMAP_OBJ_EVICTED, info.state);
	EXPECT_EQ(1, info.ram_importers);
	EXPECT_EQ(1, info.dmabuf_fallbacks);
	/* While vgem holds it: no restore, a policy change is fine. */
	EXPECT_EQ(-EBUSY, pm_obj_restore(&self->obj));
	EXPECT_EQ(-EALREADY, pm_obj_evict(&self->obj));
	EXPECT_EQ(0, pm_obj_policy(&self->obj, PEERMAP_POLICY_PEER_RO, NULL));
	for (i = 0; i < OBJ_SIZE / 4; i += 512)
		ASSERT_EQ(0x76e30000 + i, cpu[i]) TH_LOG("word %u while vgem holds it", i);
	cpu[8] = 0x0b7e0008;

	gc.handle = prime.handle;
	ASSERT_EQ(0, ioctl(self->card, DRM_IOCTL_GEM_CLOSE, &gc));
	info = info_of(_metadata, &self->obj);
	TH_LOG("after vgem let go: state %u (0 = resident), ram_importers %u",
	       info.state, info.ram_importers);
	EXPECT_EQ(PEERMAP_OBJ_RESIDENT, info.state);
	EXPECT_EQ(0, info.ram_importers);
	EXPECT_EQ(0x0b7e0008, cpu[8]);
	for (i = 512; i < OBJ_SIZE / 4; i += 512)
		ASSERT_EQ(0x76e30000 + i, cpu[i]) TH_LOG("word %u after vgem let go", i);
}

TEST_F(vgem, prime_import_refused_by_no_fallback_policy)
{
	struct drm_prime_handle prime = { .fd = self->buf };

	ASSERT_EQ(0, pm_obj_policy(&self->obj, PEERMAP_POLICY_NO_FALLBACK, NULL));
	EXPECT_NE(0, ioctl(self->card, DRM_IOCTL_PRIME_FD_TO_HANDLE, &prime));
	EXPECT_EQ(EREMOTEIO, errno);
	EXPECT_EQ(PEERMAP_OBJ_RESIDENT, info_of(_metadata, &self->obj).state);
}

TEST_HARNESS_MAIN
