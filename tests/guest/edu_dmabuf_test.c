// SPDX-License-Identifier: GPL-2.0
/*
 * The edu importer with a dma-buf side (PEERMAP_EDU_SRC_DMABUF,
 * _DST_DMABUF, _REG_DMABUF): a peermap object exported as a dma-buf, and
 * the engine importing it as a dynamic peer2peer importer, with real DMA:
 * copies into and out of the buffer, an evict or a restore during a copy
 * (the copy finishes with the right bytes; on kernels that pin every
 * mapping the move gets -EBUSY instead), the exporter's policy denying
 * the engine, and a registration of the buffer serving copies. Sizes are
 * small: each 4 KiB chunk costs about 200 ms of edu under TCG.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "pm_dmabuf_imp.h"

#define OBJ_SIZE	(64 * 1024)
#define COPY_LEN	(16 * 1024)

FIXTURE(edu_dmabuf) {
	struct pm_bar bar;
	struct pm_obj obj;
	int edu;
	int buf;		/* the object as a writable dma-buf */
	char client[32];	/* edu's PCI name */
	int peer;		/* edu has a route to the BAR */
	int pin_on_map;		/* this kernel pins the buffer while mapped */
	unsigned char *ram;	/* COPY_LEN + 2 pages */
};

/* Whether this kernel pins dynamic importers' mappings (pm_dmabuf_imp). */
static int kernel_pins_on_map(struct __test_metadata *_metadata, int buf,
			      const char *client)
{
	struct pm_imp_attach a = { .fd = buf, .mode = PM_IMP_DYNAMIC };
	struct pm_imp_status st = { 0 };
	int imp = open("/dev/pm-dmabuf-imp", O_RDWR);

	if (imp < 0 && system("insmod /lib/peermap/test/pm_dmabuf_imp.ko") == 0)
		imp = open("/dev/pm-dmabuf-imp", O_RDWR);
	EXPECT_LE(0, imp) TH_LOG("/dev/pm-dmabuf-imp: %s", strerror(errno));
	if (imp < 0)
		return 0;
	snprintf(a.client, sizeof(a.client), "%s", client);
	EXPECT_EQ(0, ioctl(imp, PM_IMP_IOC_ATTACH, &a));
	st.id = a.id;
	EXPECT_EQ(0, ioctl(imp, PM_IMP_IOC_STATUS, &st));
	close(imp);		/* detaches */
	return st.pin_on_map;
}

FIXTURE_SETUP(edu_dmabuf)
{
	struct peermap_route_query q;
	struct peermap_bar_info bi;

	self->buf = -1;
	pm_open_devices(_metadata, &self->bar, &self->edu);
	ASSERT_EQ(0, pm_obj_alloc(&self->bar, OBJ_SIZE, &self->obj));
	ASSERT_EQ(0, pm_node_pci_name("peermap-edu0", self->client, sizeof(self->client)));
	ASSERT_EQ(0, ioctl(self->bar.fd, PEERMAP_BAR_IOC_INFO, &bi));
	ASSERT_EQ(0, pm_route(bi.pci_name, self->client, &q));
	self->peer = q.path != PEERMAP_PATH_NONE;
	self->buf = pm_obj_export_dmabuf(&self->obj, PEERMAP_EXPORT_WRITE);
	ASSERT_LE(0, self->buf) TH_LOG("export: %s", strerror(-self->buf));
	self->pin_on_map = kernel_pins_on_map(_metadata, self->buf, self->client);
	self->ram = mmap(NULL, COPY_LEN + 8192, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->ram);
}

FIXTURE_TEARDOWN(edu_dmabuf)
{
	if (self->buf >= 0)
		close(self->buf);
	pm_obj_policy(&self->obj, 0, NULL);
	pm_obj_restore(&self->obj);
	pm_obj_free(&self->obj);
	pm_bar_close(&self->bar);
	close(self->edu);
}

static void fill(void *p, size_t len, unsigned int seed)
{
	unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		c[i] = (unsigned char)(i * 7 + seed + (i >> 12));
}

/* Bytes of [p, p + len) that differ from fill(seed); through the object's
 * CPU mapping too (volatile: BAR memory).
 */
static size_t differ(const volatile void *p, size_t len, unsigned int seed)
{
	const volatile unsigned char *c = p;
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += c[i] != (unsigned char)(i * 7 + seed + (i >> 12));
	return n;
}

static struct peermap_bar_obj_info info_of(struct __test_metadata *_metadata,
					   struct pm_obj *obj)
{
	struct peermap_bar_obj_info info;

	EXPECT_EQ(0, pm_obj_info(obj, &info));
	return info;
}

static struct peermap_edu_stats stats_of(int edu)
{
	struct peermap_edu_stats st = { 0 };

	pm_edu_stats(edu, &st);
	return st;
}

/* Copy into the object through the buffer and out again, bytes checked. */
TEST_F(edu_dmabuf, copies_into_and_out_of_the_buffer)
{
	unsigned char *cpu = self->obj.cpu;
	struct peermap_edu_stats s0 = stats_of(self->edu), s1;
	int err;

	fill(self->ram, COPY_LEN, 11);
	memset(cpu, 0xee, OBJ_SIZE);
	/* unaligned on both sides: chunks split where the segments do */
	err = pm_edu_copy_to_dmabuf(self->edu, self->buf, 4096 + 100, self->ram,
				    COPY_LEN - 300);
	ASSERT_EQ(0, err) TH_LOG("copy to the buffer: %s", strerror(-err));
	EXPECT_EQ(0, differ(cpu + 4096 + 100, COPY_LEN - 300, 11));
	EXPECT_EQ(0xee, cpu[4096 + 99]);
	EXPECT_EQ(0xee, cpu[4096 + 100 + COPY_LEN - 300]);
	s1 = stats_of(self->edu);
	EXPECT_LE(4, s1.chunks - s0.chunks);
	EXPECT_EQ(1, s1.copies - s0.copies);

	fill(cpu + 8192, COPY_LEN, 12);
	memset(self->ram, 0, COPY_LEN + 8192);
	err = pm_edu_copy_from_dmabuf(self->edu, self->ram + 4096, self->buf,
				      8192, COPY_LEN);
	ASSERT_EQ(0, err) TH_LOG("copy from the buffer: %s", strerror(-err));
	EXPECT_EQ(0, differ(self->ram + 4096, COPY_LEN, 12));
	EXPECT_EQ(0, self->ram[4095]);
	EXPECT_EQ(0, self->ram[4096 + COPY_LEN]);

	/* the copy's attachment is gone: nothing holds or pins the object */
	EXPECT_EQ(0, info_of(_metadata, &self->obj).pins);
	if (self->peer)
		EXPECT_EQ(PEERMAP_OBJ_RESIDENT, info_of(_metadata, &self->obj).state);
}

TEST_F(edu_dmabuf, bad_sides_are_refused)
{
	int ro = pm_obj_export_dmabuf(&self->obj, 0);
	uint64_t id;

	ASSERT_LE(0, ro);
	EXPECT_EQ(-EACCES, pm_edu_copy_to_dmabuf(self->edu, ro, 0, self->ram, 4096));
	EXPECT_EQ(-EINVAL, pm_edu_copy_to_dmabuf(self->edu, self->buf, OBJ_SIZE - 100,
						 self->ram, 4096));
	EXPECT_EQ(-EINVAL, pm_edu_copy_from_dmabuf(self->edu, self->ram, self->buf,
						   OBJ_SIZE, 1));
	EXPECT_EQ(-EBADF, pm_edu_copy_from_dmabuf(self->edu, self->ram, 1000, 0, 4096));
	/* not a dma-buf */
	EXPECT_EQ(-EINVAL, pm_edu_copy_from_dmabuf(self->edu, self->ram, self->edu, 0, 4096));
	EXPECT_EQ(-EACCES, pm_edu_register_dmabuf(self->edu, ro, 0, 4096,
						  PEERMAP_ACCESS_WRITE, &id));
	EXPECT_EQ(-EINVAL, pm_edu_register_dmabuf(self->edu, self->buf, 0, 0,
						  PEERMAP_ACCESS_READ, &id));
	/* reading a read-only buffer is fine */
	fill(self->obj.cpu, 4096, 3);
	EXPECT_EQ(0, pm_edu_copy_from_dmabuf(self->edu, self->ram, ro, 0, 4096));
	EXPECT_EQ(0, differ(self->ram, 4096, 3));
	close(ro);
}

struct copy_job {
	int edu, buf, err;
	void *ram;
	volatile int done;
};

static void *copy_to_buf(void *arg)
{
	struct copy_job *j = arg;

	j->err = pm_edu_copy_to_dmabuf(j->edu, j->buf, 4096, j->ram, COPY_LEN);
	j->done = 1;
	return NULL;
}

/*
 * Move the object (evict, or restore after an evict) while a copy into
 * it through the buffer runs, once the copy is past its first chunk.
 */
static void move_during_copy(struct __test_metadata *_metadata,
			     FIXTURE_DATA(edu_dmabuf) *self, int evict)
{
	struct copy_job j = { .edu = self->edu, .buf = self->buf, .ram = self->ram };
	struct peermap_edu_stats s0, s1;
	pthread_t t;
	int err, done;

	if (!self->peer)
		SKIP(return, "no route from edu to the BAR: the buffer is held in system memory");
	if (!evict)
		ASSERT_EQ(0, pm_obj_evict(&self->obj));
	fill(self->ram, COPY_LEN, 21);
	memset(self->obj.cpu, 0xee, OBJ_SIZE);
	s0 = stats_of(self->edu);
	ASSERT_EQ(0, pthread_create(&t, NULL, copy_to_buf, &j));
	while (stats_of(self->edu).chunks < s0.chunks + 1 && !j.done)
		usleep(2000);
	err = evict ? pm_obj_evict(&self->obj) : pm_obj_restore(&self->obj);
	done = j.done;
	pthread_join(t, NULL);
	s1 = stats_of(self->edu);
	ASSERT_EQ(0, j.err) TH_LOG("copy: %s", strerror(-j.err));
	ASSERT_FALSE(done) TH_LOG("the copy ended before the move: nothing tested");
	TH_LOG("move: %d; %llu chunks, %llu invalidations, %llu re-maps", err,
	       (unsigned long long)(s1.chunks - s0.chunks),
	       (unsigned long long)(s1.invalidations - s0.invalidations),
	       (unsigned long long)(s1.remaps - s0.remaps));
	if (self->pin_on_map) {
		/* the copy's mapping pins the buffer: the move waits for none */
		EXPECT_EQ(-EBUSY, err);
		EXPECT_EQ(0, s1.invalidations - s0.invalidations);
	} else {
		EXPECT_EQ(0, err);
		EXPECT_EQ(1, s1.invalidations - s0.invalidations)
			TH_LOG("the engine was not told to stop");
		EXPECT_EQ(1, s1.remaps - s0.remaps) TH_LOG("the copy did not map again");
		EXPECT_EQ(evict ? PEERMAP_OBJ_EVICTED : PEERMAP_OBJ_RESIDENT,
			  info_of(_metadata, &self->obj).state);
	}
	EXPECT_EQ(0, differ((unsigned char *)self->obj.cpu + 4096, COPY_LEN, 21))
		TH_LOG("%zu bytes differ", differ((unsigned char *)self->obj.cpu + 4096,
						  COPY_LEN, 21));
	EXPECT_EQ(0xee, ((unsigned char *)self->obj.cpu)[4095]);
	EXPECT_EQ(0xee, ((unsigned char *)self->obj.cpu)[4096 + COPY_LEN]);
	/* the bytes follow the object back and forth */
	err = info_of(_metadata, &self->obj).state == PEERMAP_OBJ_EVICTED ?
		pm_obj_restore(&self->obj) : pm_obj_evict(&self->obj);
	EXPECT_EQ(0, err);
	memset(self->ram, 0, COPY_LEN);
	ASSERT_EQ(0, pm_edu_copy_from_dmabuf(self->edu, self->ram, self->buf, 4096,
					     COPY_LEN));
	EXPECT_EQ(0, differ(self->ram, COPY_LEN, 21));
}

TEST_F(edu_dmabuf, evict_during_a_copy)
{
	move_during_copy(_metadata, self, 1);
}

TEST_F(edu_dmabuf, restore_during_a_copy)
{
	move_during_copy(_metadata, self, 0);
}

/* Evicted before the copy: the engine gets the system memory (fallback). */
TEST_F(edu_dmabuf, copies_an_evicted_object)
{
	ASSERT_EQ(0, pm_obj_evict(&self->obj));
	fill(self->ram, 8192, 31);
	ASSERT_EQ(0, pm_edu_copy_to_dmabuf(self->edu, self->buf, 0, self->ram, 8192));
	EXPECT_EQ(PEERMAP_OBJ_EVICTED, info_of(_metadata, &self->obj).state);
	EXPECT_EQ(0, differ(self->obj.cpu, 8192, 31));
	ASSERT_EQ(0, pm_obj_restore(&self->obj));
	EXPECT_EQ(0, differ(self->obj.cpu, 8192, 31));
}

TEST_F(edu_dmabuf, policy_denies_the_engine)
{
	fill(self->ram, 8192, 41);
	ASSERT_EQ(0, pm_obj_policy(&self->obj, 0, self->client));
	EXPECT_EQ(-EPERM, pm_edu_copy_to_dmabuf(self->edu, self->buf, 0, self->ram, 8192));
	EXPECT_EQ(-EPERM, pm_edu_copy_from_dmabuf(self->edu, self->ram, self->buf, 0, 8192));
	EXPECT_EQ(0, differ(self->ram, 8192, 41)) TH_LOG("a denied copy wrote");
	ASSERT_EQ(0, pm_obj_policy(&self->obj, 0, NULL));
	ASSERT_EQ(0, pm_edu_copy_to_dmabuf(self->edu, self->buf, 0, self->ram, 8192));
	EXPECT_EQ(0, differ(self->obj.cpu, 8192, 41));
}

/* A registration of the buffer serves copies, and is revoked with it. */
TEST_F(edu_dmabuf, registration_serves_copies)
{
	struct peermap_edu_reg_info ri;
	uint64_t id;
	int err;

	err = pm_edu_register_dmabuf(self->edu, self->buf, 0, OBJ_SIZE,
				     PEERMAP_ACCESS_READ | PEERMAP_ACCESS_WRITE, &id);
	ASSERT_EQ(0, err) TH_LOG("register: %s", strerror(-err));
	ASSERT_EQ(0, pm_edu_reg_info(self->edu, id, &ri));
	EXPECT_EQ(0, ri.valid) TH_LOG("mapped before its first use");
	fill(self->ram, 8192, 51);
	ASSERT_EQ(0, pm_edu_copy_to_dmabuf(self->edu, self->buf, 8192, self->ram, 8192));
	EXPECT_EQ(0, differ((unsigned char *)self->obj.cpu + 8192, 8192, 51));
	ASSERT_EQ(0, pm_edu_reg_info(self->edu, id, &ri));
	EXPECT_EQ(1, ri.valid) TH_LOG("the copy did not use the registration");
	EXPECT_LE(1, ri.nsegs);
	EXPECT_EQ(0, ri.invalidations);

	if (!self->peer) {
		EXPECT_EQ(0, pm_edu_unregister(self->edu, id));
		SKIP(return, "no route from edu to the BAR: no revocation to see");
	}
	err = pm_obj_evict(&self->obj);
	if (self->pin_on_map) {
		/* held mapped, so pinned: the object cannot move */
		EXPECT_EQ(-EBUSY, err);
		EXPECT_EQ(1, info_of(_metadata, &self->obj).pins);
		EXPECT_EQ(0, pm_edu_unregister(self->edu, id));
		EXPECT_EQ(0, info_of(_metadata, &self->obj).pins);
		EXPECT_EQ(0, pm_obj_evict(&self->obj));
		return;
	}
	ASSERT_EQ(0, err) TH_LOG("evict: %s", strerror(-err));
	ASSERT_EQ(0, pm_edu_reg_info(self->edu, id, &ri));
	EXPECT_EQ(1, ri.invalidations);
	EXPECT_EQ(0, ri.valid) TH_LOG("evict returned with the engine still mapped");
	EXPECT_EQ(PEERMAP_INVAL_REVOKE, ri.last_reason);
	memset(self->ram, 0, 8192);
	ASSERT_EQ(0, pm_edu_copy_from_dmabuf(self->edu, self->ram, self->buf, 8192, 8192));
	EXPECT_EQ(0, differ(self->ram, 8192, 51));
	ASSERT_EQ(0, pm_edu_reg_info(self->edu, id, &ri));
	EXPECT_EQ(1, ri.valid);
	EXPECT_EQ(1, ri.remaps);
	EXPECT_EQ(0, pm_edu_unregister(self->edu, id));
	EXPECT_EQ(-ENOENT, pm_edu_reg_info(self->edu, id, &ri));
}

TEST_HARNESS_MAIN
