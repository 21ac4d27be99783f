/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VFIO for the in-guest tests: give a PCI device to vfio-pci, open it
 * through the legacy container / group / device fds with the type1v2
 * IOMMU, export BAR ranges as dma-bufs (Linux 6.19+,
 * VFIO_DEVICE_FEATURE_DMA_BUF), mmap a BAR for CPU checks, and do to the
 * device what revokes those dma-bufs: VFIO_DEVICE_RESET, memory decode off
 * (PCI_COMMAND through the config region), closing the device fd.
 *
 * Every function returns 0 (or an fd, a pointer) or -errno, and says on
 * stderr what failed and what to do about it.
 *
 * Order matters when giving the device back: close the dma-bufs' importers,
 * then the device fd (which revokes every dma-buf of it for good), then
 * unbind. vfio-pci's unbind waits, without end, for the device fd to close.
 */
#ifndef PEERMAP_GUEST_VFIO_H
#define PEERMAP_GUEST_VFIO_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

/*
 * The dma-buf export of Linux 6.19 (include/uapi/linux/vfio.h), for hosts
 * whose headers are older: the values are uapi, they do not change.
 */
#ifndef VFIO_DEVICE_FEATURE_DMA_BUF
#define VFIO_DEVICE_FEATURE_DMA_BUF 11

struct vfio_region_dma_range {
	__u64 offset;
	__u64 length;
};

struct vfio_device_feature_dma_buf {
	__u32 region_index;
	__u32 open_flags;
	__u32 flags;
	__u32 nr_ranges;
	struct vfio_region_dma_range dma_ranges[];
};
#endif

#define PM_VFIO_SYSFS	"/sys/bus/pci"

struct pm_vfio {
	char name[32];		/* PCI name, 0000:03:00.0 */
	int group_id;		/* /dev/vfio/N */
	int container;		/* /dev/vfio/vfio */
	int group;
	int device;		/* -1 once closed */
	uint64_t cfg_offset;	/* of the config region in the device fd */
};

#define pm_vfio_err(err, fmt, ...) \
	fprintf(stderr, "vfio: " fmt ": %s\n", ##__VA_ARGS__, strerror(-(err)))

/* @src into @dst of @size bytes, cut if longer (sysfs names are short). */
static inline void pm_vfio_strcpy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Write @s to the sysfs file @path: 0 or -errno. */
static inline int pm_vfio_sysfs_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		err = -errno;
	else if ((size_t)n != strlen(s))
		err = -EIO;
	close(fd);
	return err;
}

/* The driver bound to the PCI device @name into @buf ("" for none). */
static inline const char *pm_vfio_driver(const char *name, char *buf, size_t size)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;
	const char *slash;

	snprintf(path, sizeof(path), PM_VFIO_SYSFS "/devices/%s/driver", name);
	n = readlink(path, link, sizeof(link) - 1);
	buf[0] = '\0';
	if (n <= 0)
		return buf;
	link[n] = '\0';
	slash = strrchr(link, '/');
	pm_vfio_strcpy(buf, size, slash ? slash + 1 : link);
	return buf;
}

/* The hexadecimal number in the sysfs file @path, or -1. */
static inline long pm_vfio_sysfs_hex(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 16) : -1;
}

/*
 * The PCI device @vendor:@device with the lowest name after @after
 * (NULL: the first), into @buf: 0, or -ENODEV.
 */
static inline int pm_vfio_find_pci(unsigned int vendor, unsigned int device,
				   const char *after, char *buf, size_t size)
{
	DIR *d = opendir(PM_VFIO_SYSFS "/devices");
	char path[PATH_MAX], best[64] = "";
	struct dirent *e;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || (after && strcmp(e->d_name, after) <= 0) ||
		    (best[0] && strcmp(e->d_name, best) >= 0))
			continue;
		snprintf(path, sizeof(path), PM_VFIO_SYSFS "/devices/%s/vendor", e->d_name);
		if (pm_vfio_sysfs_hex(path) != vendor)
			continue;
		snprintf(path, sizeof(path), PM_VFIO_SYSFS "/devices/%s/device", e->d_name);
		if (pm_vfio_sysfs_hex(path) == device)
			pm_vfio_strcpy(best, sizeof(best), e->d_name);
	}
	closedir(d);
	if (!best[0])
		return -ENODEV;
	pm_vfio_strcpy(buf, size, best);
	return 0;
}

/*
 * vfio-pci's driver there and the type1 IOMMU back end, loaded with
 * modprobe if they are not (busybox's modprobe does not follow vfio's
 * softdep on vfio_iommu_type1): 0 or -errno.
 */
static inline int pm_vfio_modprobe(void)
{
	struct stat st;

	if (stat(PM_VFIO_SYSFS "/drivers/vfio-pci", &st) &&
	    (system("modprobe vfio-pci") != 0 || stat(PM_VFIO_SYSFS "/drivers/vfio-pci", &st))) {
		fprintf(stderr, "vfio: modprobe vfio-pci failed: this kernel has no vfio-pci module in the guest (Debian's generic kernels have one: vm-run --kernel latest or trixie)\n");
		return -ENOENT;
	}
	if (stat("/sys/module/vfio_iommu_type1", &st) &&
	    (system("modprobe vfio_iommu_type1") != 0 || stat("/sys/module/vfio_iommu_type1", &st))) {
		fprintf(stderr, "vfio: modprobe vfio_iommu_type1 failed: no type1 IOMMU back end for VFIO's container\n");
		return -ENOENT;
	}
	return 0;
}

/*
 * Give the PCI device @name to vfio-pci (loaded first if needed):
 * driver_override, unbind from its driver (peermap_bar for an ivshmem:
 * every object of it is revoked), drivers_probe. 0 or -errno.
 */
static inline int pm_vfio_bind(const char *name)
{
	char path[PATH_MAX], drv[64];
	int err = pm_vfio_modprobe();

	if (err)
		return err;
	if (!strcmp(pm_vfio_driver(name, drv, sizeof(drv)), "vfio-pci"))
		return 0;
	snprintf(path, sizeof(path), PM_VFIO_SYSFS "/devices/%s/driver_override", name);
	err = pm_vfio_sysfs_write(path, "vfio-pci");
	if (err) {
		pm_vfio_err(err, "writing %s (root? does %s exist?)", path, name);
		return err;
	}
	if (drv[0]) {
		snprintf(path, sizeof(path), PM_VFIO_SYSFS "/devices/%s/driver/unbind", name);
		err = pm_vfio_sysfs_write(path, name);
		if (err) {
			pm_vfio_err(err, "unbinding %s from %s", name, drv);
			return err;
		}
	}
	err = pm_vfio_sysfs_write(PM_VFIO_SYSFS "/drivers_probe", name);
	if (strcmp(pm_vfio_driver(name, drv, sizeof(drv)), "vfio-pci")) {
		fprintf(stderr, "vfio: %s not bound to vfio-pci after drivers_probe (%s; bound to '%s'): is it in an IOMMU group (intel_iommu=on)? see dmesg\n",
			name, err ? strerror(-err) : "no error", drv);
		return err ? err : -ENODEV;
	}
	return 0;
}

/*
 * Give @name back to the driver its IDs pick (peermap_bar for an
 * ivshmem): clear driver_override, unbind from vfio-pci, drivers_probe.
 * Close the device fd first: vfio-pci's unbind waits for it. 0 or -errno.
 */
static inline int pm_vfio_unbind(const char *name)
{
	char path[PATH_MAX], drv[64];
	int err;

	snprintf(path, sizeof(path), PM_VFIO_SYSFS "/devices/%s/driver_override", name);
	err = pm_vfio_sysfs_write(path, "\n");
	if (err) {
		pm_vfio_err(err, "clearing %s", path);
		return err;
	}
	if (!strcmp(pm_vfio_driver(name, drv, sizeof(drv)), "vfio-pci")) {
		err = pm_vfio_sysfs_write(PM_VFIO_SYSFS "/drivers/vfio-pci/unbind", name);
		if (err) {
			pm_vfio_err(err, "unbinding %s from vfio-pci", name);
			return err;
		}
	}
	pm_vfio_sysfs_write(PM_VFIO_SYSFS "/drivers_probe", name);
	return 0;
}

/*
 * Open @name (bound to vfio-pci) the legacy way: a container with the
 * type1v2 IOMMU, its group, the device fd, and where its config space is.
 * On failure nothing stays open. 0 or -errno.
 */
static inline int pm_vfio_open(struct pm_vfio *v, const char *name)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	char path[PATH_MAX], link[PATH_MAX];
	const char *slash;
	ssize_t n;
	int err;

	memset(v, 0, sizeof(*v));
	v->container = v->group = v->device = -1;
	pm_vfio_strcpy(v->name, sizeof(v->name), name);
	snprintf(path, sizeof(path), PM_VFIO_SYSFS "/devices/%s/iommu_group", name);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0) {
		err = -errno;
		pm_vfio_err(err, "%s has no IOMMU group: boot with an IOMMU (-device intel-iommu, intel_iommu=on)",
			    name);
		return err;
	}
	link[n] = '\0';
	slash = strrchr(link, '/');
	v->group_id = atoi(slash ? slash + 1 : link);

	v->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (v->container < 0) {
		err = -errno;
		pm_vfio_err(err, "/dev/vfio/vfio (modprobe vfio-pci; a kernel with VFIO_CONTAINER)");
		goto fail;
	}
	if (ioctl(v->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(v->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0) {
		err = -ENOTSUP;
		pm_vfio_err(err, "no type1v2 IOMMU in the container (modprobe vfio_iommu_type1)");
		goto fail;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", v->group_id);
	v->group = open(path, O_RDWR | O_CLOEXEC);
	if (v->group < 0) {
		err = -errno;
		pm_vfio_err(err, "%s (is %s bound to vfio-pci? another process holding the group gives EBUSY)",
			    path, name);
		goto fail;
	}
	if (ioctl(v->group, VFIO_GROUP_GET_STATUS, &gs)) {
		err = -errno;
		pm_vfio_err(err, "VFIO_GROUP_GET_STATUS of group %d", v->group_id);
		goto fail;
	}
	if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		err = -EBUSY;
		pm_vfio_err(err, "group %d is not viable: bind every device of it to vfio-pci (ls /sys/kernel/iommu_groups/%d/devices)",
			    v->group_id, v->group_id);
		goto fail;
	}
	if (ioctl(v->group, VFIO_GROUP_SET_CONTAINER, &v->container) ||
	    ioctl(v->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
		err = -errno;
		pm_vfio_err(err, "putting group %d in a type1v2 container", v->group_id);
		goto fail;
	}
	v->device = ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, name);
	if (v->device < 0) {
		err = -errno;
		pm_vfio_err(err, "VFIO_GROUP_GET_DEVICE_FD %s", name);
		goto fail;
	}
	ri.index = VFIO_PCI_CONFIG_REGION_INDEX;
	if (ioctl(v->device, VFIO_DEVICE_GET_REGION_INFO, &ri)) {
		err = -errno;
		pm_vfio_err(err, "config region of %s", name);
		goto fail;
	}
	v->cfg_offset = ri.offset;
	return 0;
fail:
	if (v->device >= 0)
		close(v->device);
	if (v->group >= 0)
		close(v->group);
	if (v->container >= 0)
		close(v->container);
	v->container = v->group = v->device = -1;
	return err;
}

/* Close the device fd only: VFIO revokes every dma-buf of it, for good. */
static inline void pm_vfio_close_device(struct pm_vfio *v)
{
	if (v->device >= 0)
		close(v->device);
	v->device = -1;
}

/* Close what pm_vfio_open() opened (safe after a failed or no open). */
static inline void pm_vfio_close(struct pm_vfio *v)
{
	pm_vfio_close_device(v);
	if (v->group >= 0)
		close(v->group);
	if (v->container >= 0)
		close(v->container);
	v->group = v->container = -1;
}

/* VFIO_DEVICE_GET_REGION_INFO of region (BAR) @index into @ri: 0 or -errno. */
static inline int pm_vfio_region(struct pm_vfio *v, unsigned int index,
				 struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	return ioctl(v->device, VFIO_DEVICE_GET_REGION_INFO, ri) ? -errno : 0;
}

/*
 * Export @n ranges of BAR @bar as one dma-buf (VFIO_DEVICE_FEATURE GET |
 * DMA_BUF; offsets and lengths page-aligned, @open_flags O_CLOEXEC,
 * O_RDWR...): its fd, or -errno, not said (tests ask for errors too).
 */
static inline int pm_vfio_dmabuf_ranges(struct pm_vfio *v, unsigned int bar,
					const struct vfio_region_dma_range *ranges,
					unsigned int n, unsigned int open_flags)
{
	size_t sz = sizeof(struct vfio_device_feature) +
		    sizeof(struct vfio_device_feature_dma_buf) +
		    n * sizeof(struct vfio_region_dma_range);
	struct vfio_device_feature *f = calloc(1, sz);
	struct vfio_device_feature_dma_buf *db;
	int fd, err;

	if (!f)
		return -ENOMEM;
	f->argsz = sz;
	f->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	db = (struct vfio_device_feature_dma_buf *)f->data;
	db->region_index = bar;
	db->open_flags = open_flags;
	db->nr_ranges = n;
	if (n)
		memcpy(db->dma_ranges, ranges, n * sizeof(*ranges));
	fd = ioctl(v->device, VFIO_DEVICE_FEATURE, f);
	err = -errno;
	free(f);
	return fd < 0 ? err : fd;
}

/*
 * [@offset, @offset + @len) of BAR @bar as a dma-buf, read-write,
 * close-on-exec: its fd, or -errno, said with what to check.
 */
static inline int pm_vfio_dmabuf(struct pm_vfio *v, unsigned int bar,
				 uint64_t offset, uint64_t len)
{
	struct vfio_region_dma_range r = { .offset = offset, .length = len };
	int fd = pm_vfio_dmabuf_ranges(v, bar, &r, 1, O_RDWR | O_CLOEXEC);

	if (fd == -ENOTTY)
		pm_vfio_err(fd, "no VFIO_DEVICE_FEATURE_DMA_BUF: needs Linux 6.19+ with CONFIG_VFIO_PCI_DMABUF");
	else if (fd < 0)
		pm_vfio_err(fd, "%s BAR%u [%#llx, +%#llx) as a dma-buf (page-aligned, inside a memory BAR?)",
			    v->name, bar, (unsigned long long)offset, (unsigned long long)len);
	return fd;
}

/* Whether this kernel's vfio-pci exports dma-bufs (FEATURE_PROBE). */
static inline int pm_vfio_has_dmabuf(struct pm_vfio *v)
{
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
			 VFIO_DEVICE_FEATURE_DMA_BUF,
	};

	return ioctl(v->device, VFIO_DEVICE_FEATURE, &f) == 0;
}

/*
 * [@offset, @offset + @len) of BAR @bar mmapped shared read-write, for the
 * CPU: the address, or NULL with errno set (said).
 */
static inline void *pm_vfio_mmap_bar(struct pm_vfio *v, unsigned int bar,
				     uint64_t offset, size_t len)
{
	struct vfio_region_info ri;
	void *p;
	int err = pm_vfio_region(v, bar, &ri);

	if (!err && !(ri.flags & VFIO_REGION_INFO_FLAG_MMAP))
		err = -EINVAL;
	if (err) {
		pm_vfio_err(err, "%s BAR%u is not mmappable (region info flags)", v->name, bar);
		errno = -err;
		return NULL;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, v->device,
		 (off_t)(ri.offset + offset));
	if (p == MAP_FAILED) {
		err = -errno;
		pm_vfio_err(err, "mmap of %s BAR%u (decode off? offset %#llx past %#llx?)",
			    v->name, bar, (unsigned long long)offset,
			    (unsigned long long)ri.size);
		errno = -err;
		return NULL;
	}
	return p;
}

/* @len bytes of config space at @pos, through VFIO: 0 or -errno. */
static inline int pm_vfio_cfg_read(struct pm_vfio *v, unsigned int pos, void *buf, size_t len)
{
	ssize_t n = pread(v->device, buf, len, (off_t)(v->cfg_offset + pos));

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

static inline int pm_vfio_cfg_write(struct pm_vfio *v, unsigned int pos,
				    const void *buf, size_t len)
{
	ssize_t n = pwrite(v->device, buf, len, (off_t)(v->cfg_offset + pos));

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

/*
 * Memory decode on or off (PCI_COMMAND_MEMORY, written through the config
 * region as a VMM does): off revokes the device's dma-bufs and zaps its
 * BAR mmaps, on gives them back. 0 or -errno.
 */
static inline int pm_vfio_set_decode(struct pm_vfio *v, int on)
{
	uint16_t cmd;
	int err = pm_vfio_cfg_read(v, PCI_COMMAND, &cmd, sizeof(cmd));

	if (!err) {
		cmd = on ? cmd | PCI_COMMAND_MEMORY : cmd & ~PCI_COMMAND_MEMORY;
		err = pm_vfio_cfg_write(v, PCI_COMMAND, &cmd, sizeof(cmd));
	}
	if (err)
		pm_vfio_err(err, "PCI_COMMAND of %s through the config region", v->name);
	return err;
}

/*
 * VFIO_DEVICE_RESET (the device's reset function: FLR, PM or bus reset;
 * -EINVAL when it has none, VFIO_DEVICE_INFO's VFIO_DEVICE_FLAGS_RESET).
 * 0 or -errno.
 */
static inline int pm_vfio_reset(struct pm_vfio *v)
{
	int err = ioctl(v->device, VFIO_DEVICE_RESET) ? -errno : 0;

	if (err)
		pm_vfio_err(err, "VFIO_DEVICE_RESET of %s (EINVAL: no reset method; see its reset_method in sysfs)",
			    v->name);
	return err;
}

#endif
