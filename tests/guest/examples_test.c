// SPDX-License-Identifier: GPL-2.0
/*
 * In-guest tests of the skeleton exporter and importer (examples/): that
 * the pair a driver writer starts from keeps peermap's contract. Run by
 * tests/vm/examples.sh, which loads them and binds them through
 * driver_override (the exporter to ivshmem, the importer to edu) and
 * names the devices in SKEL_EXP_BDF and SKEL_IMP_BDF; without those the
 * tests SKIP.
 *
 * Fixture "skel": both device nodes open, peer access on, a 1 MiB object
 * (BAR bytes [0, 1 MiB)) mmapped. Its teardown turns peer access back on
 * and binds a device a test unbound, however the test ended.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"
#include "skel_exporter.h"
#include "skel_importer.h"

#define OBJ_SIZE	(1UL << 20)

/* "/dev/NAME" of the misc device of PCI device @bdf, or "" if none. */
static void node_of(const char *bdf, char *path, size_t size)
{
	char dir[96];
	struct dirent *de;
	DIR *d;

	path[0] = 0;
	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/misc", bdf);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			snprintf(path, size, "/dev/%s", de->d_name);
	closedir(d);
}

/* Is @bdf bound to a driver? */
static int bound(const char *bdf)
{
	char link[96];

	snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/driver", bdf);
	return access(link, F_OK) == 0;
}

/* Unbind @bdf from its driver; 0 or -errno. */
static int unbind(const char *bdf)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	return write_file(path, bdf);
}

/* Bind @bdf again: its driver_override still names the example. */
static int rebind(const char *bdf)
{
	return write_file("/sys/bus/pci/drivers_probe", bdf);
}

/* The importer's status; ASSERTs it can be read. */
#define STATUS(st) \
	ASSERT_EQ(0, ioctl(self->imp, SKEL_IMPORTER_IOC_STATUS, &(st))) \
		TH_LOG("STATUS: %s", strerror(errno))

FIXTURE(skel) {
	const char *exp_bdf, *imp_bdf;
	int exp, imp;
	char *obj;
};

FIXTURE_SETUP(skel)
{
	char path[300];

	self->exp = self->imp = -1;
	self->obj = NULL;
	self->exp_bdf = getenv("SKEL_EXP_BDF");
	self->imp_bdf = getenv("SKEL_IMP_BDF");
	if (!self->exp_bdf || !self->imp_bdf)
		SKIP(return, "the examples are not bound (tests/vm/examples.sh binds them)");
	node_of(self->exp_bdf, path, sizeof(path));
	self->exp = open(path, O_RDWR);
	ASSERT_LE(0, self->exp) TH_LOG("exporter '%s': %s", path, strerror(errno));
	node_of(self->imp_bdf, path, sizeof(path));
	self->imp = open(path, O_RDWR);
	ASSERT_LE(0, self->imp) TH_LOG("importer '%s': %s", path, strerror(errno));
	ASSERT_EQ(0, ioctl(self->exp, SKEL_EXPORTER_IOC_PEER_ACCESS, 1));
	self->obj = mmap(NULL, OBJ_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->exp, 0);
	ASSERT_NE(MAP_FAILED, self->obj) TH_LOG("mmap: %s", strerror(errno));
}

FIXTURE_TEARDOWN(skel)
{
	if (self->obj && self->obj != MAP_FAILED)
		munmap(self->obj, OBJ_SIZE);
	if (self->exp >= 0)
		ioctl(self->exp, SKEL_EXPORTER_IOC_PEER_ACCESS, 1);
	if (self->exp >= 0)
		close(self->exp);
	if (self->imp >= 0)
		close(self->imp);
	if (self->exp_bdf && !bound(self->exp_bdf))
		rebind(self->exp_bdf);
	if (self->imp_bdf && !bound(self->imp_bdf))
		rebind(self->imp_bdf);
}

/* Map [p, p + len) with @access through the importer; 0 or -errno. */
static int imp_map(int imp, void *p, size_t len, unsigned int access)
{
	struct skel_importer_map m = {
		.addr = (unsigned long)p, .len = len, .access = access,
	};

	return ioctl(imp, SKEL_IMPORTER_IOC_MAP, &m) ? -errno : 0;
}

/* Start the importer's engine into @st; 0 or -errno. */
static int imp_start(int imp, struct skel_importer_start *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(imp, SKEL_IMPORTER_IOC_START, st) ? -errno : 0;
}

/* The object is device memory the CPU reads back as written. */
TEST_F(skel, cpu_mapping)
{
	fill(self->obj, OBJ_SIZE, 3);
	ASSERT_EQ(0, differ(self->obj, OBJ_SIZE, 3));
}

/* The importer gets one PEER segment for the whole object, writable. */
TEST_F(skel, object_is_one_peer_segment)
{
	struct skel_importer_start st;
	struct skel_importer_status s;

	ASSERT_EQ(0, imp_map(self->imp, self->obj, OBJ_SIZE,
			     PEERMAP_ACCESS_READ | PEERMAP_ACCESS_WRITE));
	ASSERT_EQ(0, imp_start(self->imp, &st));
	ASSERT_EQ(1, st.ndesc);
	EXPECT_EQ(OBJ_SIZE, st.desc[0].len);
	EXPECT_EQ(PEERMAP_SEG_PEER | PEERMAP_SEG_WRITE,
		  st.desc[0].flags & ~PEERMAP_SEG_IOVA);
	EXPECT_NE(0, st.desc[0].addr);
	STATUS(s);
	EXPECT_EQ(1, s.running);
	EXPECT_EQ(0, s.invalidations);
	ASSERT_EQ(0, ioctl(self->imp, SKEL_IMPORTER_IOC_UNMAP));
	STATUS(s);
	EXPECT_EQ(0, s.running);
}

/* A read-only map of RAM gives RAM segments: not PEER, not WRITE. */
TEST_F(skel, ram_segments)
{
	struct skel_importer_start st;
	size_t len = 4 * PAGE;
	char *buf = ram(len);
	unsigned int i;
	uint64_t sum = 0;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, imp_map(self->imp, buf + 5, len - 5, PEERMAP_ACCESS_READ));
	ASSERT_EQ(0, imp_start(self->imp, &st));
	ASSERT_LE(1, st.ndesc);
	for (i = 0; i < st.ndesc; i++) {
		EXPECT_EQ(0, st.desc[i].flags & ~PEERMAP_SEG_IOVA);
		sum += st.desc[i].len;
	}
	EXPECT_EQ(len - 5, sum);
}

/*
 * The exporter turns peer access off: the importer's callback runs (its
 * engine is stopped, reason REVOKE) before the ioctl returns, the next
 * start is refused, and once access is back it gets the object again.
 */
TEST_F(skel, revoke_stops_the_importer_first)
{
	struct skel_importer_start st;
	struct skel_importer_status s;

	ASSERT_EQ(0, imp_map(self->imp, self->obj, OBJ_SIZE, PEERMAP_ACCESS_WRITE));
	ASSERT_EQ(0, imp_start(self->imp, &st));
	ASSERT_EQ(0, ioctl(self->exp, SKEL_EXPORTER_IOC_PEER_ACCESS, 0));
	STATUS(s);
	EXPECT_EQ(0, s.running);
	EXPECT_EQ(1, s.invalidations);
	EXPECT_EQ(PEERMAP_INVAL_REVOKE, s.last_why);
	EXPECT_EQ(-EPERM, imp_start(self->imp, &st));

	ASSERT_EQ(0, ioctl(self->exp, SKEL_EXPORTER_IOC_PEER_ACCESS, 1));
	STATUS(s);
	EXPECT_EQ(1, s.invalidations);	/* the refused map held nothing */
	ASSERT_EQ(0, imp_start(self->imp, &st));
	ASSERT_EQ(1, st.ndesc);
	EXPECT_EQ(PEERMAP_SEG_PEER | PEERMAP_SEG_WRITE,
		  st.desc[0].flags & ~PEERMAP_SEG_IOVA);
	STATUS(s);
	EXPECT_EQ(1, s.running);
}

/* munmap of the object invalidates the importer (UNMAP); then EFAULT. */
TEST_F(skel, munmap_invalidates)
{
	struct skel_importer_start st;
	struct skel_importer_status s;

	ASSERT_EQ(0, imp_map(self->imp, self->obj, OBJ_SIZE, PEERMAP_ACCESS_READ));
	ASSERT_EQ(0, imp_start(self->imp, &st));
	ASSERT_EQ(0, munmap(self->obj, OBJ_SIZE));
	self->obj = NULL;
	STATUS(s);
	EXPECT_EQ(0, s.running);
	EXPECT_EQ(PEERMAP_INVAL_UNMAP, s.last_why);
	EXPECT_EQ(-EFAULT, imp_start(self->imp, &st));
}

/*
 * Unbinding the exporter revokes its peers (REMOVE) and zaps the CPU
 * mapping (SIGBUS); the importer's next start gets ENODEV. Bound again
 * afterwards.
 */
TEST_F(skel, exporter_unbind_revokes_and_zaps)
{
	struct skel_importer_start st;
	struct skel_importer_status s;
	int status;
	pid_t pid;

	self->obj[0] = 1;	/* a CPU mapping to zap */
	ASSERT_EQ(0, imp_map(self->imp, self->obj, OBJ_SIZE, PEERMAP_ACCESS_READ));
	ASSERT_EQ(0, imp_start(self->imp, &st));
	ASSERT_EQ(0, unbind(self->exp_bdf));
	STATUS(s);
	EXPECT_EQ(0, s.running);
	EXPECT_EQ(PEERMAP_INVAL_REMOVE, s.last_why);
	EXPECT_EQ(-ENODEV, imp_start(self->imp, &st));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		*(volatile char *)self->obj = 2;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS)
		TH_LOG("the child touching the object: status %#x", status);
}

/*
 * Unbinding the importer ends its mapping (no mapping outlives its
 * device): its file says ENODEV from then on. Bound again afterwards.
 * (tests/vm/examples.sh's rmmod of the exporter at the end proves no peer
 * piece was left: each holds the exporter's module.)
 */
TEST_F(skel, importer_unbind_unmaps)
{
	struct skel_importer_start st;

	ASSERT_EQ(0, imp_map(self->imp, self->obj, OBJ_SIZE, PEERMAP_ACCESS_READ));
	ASSERT_EQ(0, imp_start(self->imp, &st));
	ASSERT_EQ(0, unbind(self->imp_bdf));
	EXPECT_EQ(-ENODEV, imp_start(self->imp, &st));
	EXPECT_EQ(-ENODEV, imp_map(self->imp, self->obj, OBJ_SIZE,
				   PEERMAP_ACCESS_READ));
}

TEST_HARNESS_MAIN
