// SPDX-License-Identifier: LGPL-2.1-or-later
/* libpeermap: see peermap.h. */
#include "peermap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

const char *pm_dev_dir(void)
{
	const char *d = getenv("PEERMAP_DEV_DIR");

	return d && *d ? d : "/dev";
}

static int open_node(const char *kind, int index)
{
	char path[PATH_MAX];
	int fd;

	if (index < 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/peermap-%s%d", pm_dev_dir(), kind, index);
	fd = open(path, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int pm_bar_open(int index, struct pm_bar *bar)
{
	int fd = open_node("bar", index);

	if (fd < 0)
		return fd;
	if (ioctl(fd, PEERMAP_BAR_IOC_INFO, &bar->info)) {
		int err = -errno;

		close(fd);
		return err;
	}
	bar->fd = fd;
	return 0;
}

void pm_bar_close(struct pm_bar *bar)
{
	if (bar->fd >= 0)
		close(bar->fd);
	bar->fd = -1;
}

int pm_obj_alloc(struct pm_bar *bar, uint64_t size, struct pm_obj *obj)
{
	struct peermap_bar_alloc req = { .size = size };
	struct peermap_bar_free fr;
	void *p;
	int err;

	if (ioctl(bar->fd, PEERMAP_BAR_IOC_ALLOC, &req))
		return -errno;
	p = mmap(NULL, req.alloc_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 bar->fd, (off_t)req.mmap_offset);
	if (p == MAP_FAILED) {
		err = -errno;
		fr.handle = req.handle;
		ioctl(bar->fd, PEERMAP_BAR_IOC_FREE, &fr);
		return err;
	}
	obj->bar = bar;
	obj->handle = req.handle;
	obj->size = req.alloc_size;
	obj->mmap_offset = req.mmap_offset;
	obj->cpu = p;
	return 0;
}

int pm_obj_free(struct pm_obj *obj)
{
	struct peermap_bar_free fr = { .handle = obj->handle };
	int err = 0;

	if (obj->cpu && munmap(obj->cpu, obj->size))
		err = -errno;
	obj->cpu = NULL;
	if (ioctl(obj->bar->fd, PEERMAP_BAR_IOC_FREE, &fr) && !err)
		err = -errno;
	return err;
}

/* An object ioctl taking {handle, flags, reserved}: evict or restore. */
static int obj_move(struct pm_obj *obj, unsigned long cmd)
{
	struct peermap_bar_move req = { .handle = obj->handle };

	return ioctl(obj->bar->fd, cmd, &req) ? -errno : 0;
}

int pm_obj_evict(struct pm_obj *obj)
{
	return obj_move(obj, PEERMAP_BAR_IOC_EVICT);
}

int pm_obj_restore(struct pm_obj *obj)
{
	return obj_move(obj, PEERMAP_BAR_IOC_RESTORE);
}

int pm_obj_policy(struct pm_obj *obj, unsigned int flags, const char *deny)
{
	struct peermap_bar_policy req = {
		.handle = obj->handle, .flags = flags,
	};

	if (deny) {
		if (strlen(deny) >= sizeof(req.deny))
			return -EINVAL;
		strcpy(req.deny, deny);
	}
	return ioctl(obj->bar->fd, PEERMAP_BAR_IOC_POLICY, &req) ? -errno : 0;
}

int pm_bar_devmem(struct pm_bar *bar, struct peermap_bar_devmem *req)
{
	return ioctl(bar->fd, PEERMAP_BAR_IOC_DEVMEM, req) ? -errno : 0;
}

int pm_obj_info(struct pm_obj *obj, struct peermap_bar_obj_info *info)
{
	memset(info, 0, sizeof(*info));
	info->handle = obj->handle;
	return ioctl(obj->bar->fd, PEERMAP_BAR_IOC_OBJ_INFO, info) ? -errno : 0;
}

int pm_obj_export_dmabuf_range(struct pm_obj *obj, uint64_t offset,
			       uint64_t size, unsigned int flags)
{
	struct peermap_bar_export req = {
		.handle = obj->handle,
		.offset = offset,
		.size = size,
		.flags = flags,
	};
	int fd = ioctl(obj->bar->fd, PEERMAP_BAR_IOC_EXPORT, &req);

	return fd < 0 ? -errno : fd;
}

int pm_obj_export_dmabuf(struct pm_obj *obj, unsigned int flags)
{
	return pm_obj_export_dmabuf_range(obj, 0, 0, flags);
}

int pm_node_pci_name(const char *node, char *out, size_t len)
{
	char path[128], buf[256];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/class/misc/%s/device", node);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	base = strrchr(buf, '/');
	base = base ? base + 1 : buf;
	if (strlen(base) >= len)
		return -ENAMETOOLONG;
	memcpy(out, base, strlen(base) + 1);
	return 0;
}

int pm_edu_open(int index)
{
	return open_node("edu", index);
}

int pm_edu_copy(int fd, void *dst, const void *src, size_t len)
{
	return pm_edu_copy_flags(fd, dst, src, len, 0);
}

int pm_edu_copy_flags(int fd, void *dst, const void *src, size_t len,
		      unsigned int flags)
{
	struct peermap_edu_copy req = {
		.src = (uintptr_t)src, .dst = (uintptr_t)dst, .len = len,
		.flags = flags,
	};

	return ioctl(fd, PEERMAP_EDU_IOC_COPY, &req) ? -errno : 0;
}

int pm_edu_register(int fd, const void *addr, size_t len, unsigned int access,
		    unsigned int flags, uint64_t *id)
{
	struct peermap_edu_register req = {
		.addr = (uintptr_t)addr, .len = len, .access = access,
		.flags = flags,
	};

	if (ioctl(fd, PEERMAP_EDU_IOC_REGISTER, &req))
		return -errno;
	*id = req.id;
	return 0;
}

/* A dma-buf side of a copy or registration; -EINVAL past the 32-bit offset. */
static int pm_edu_dmabuf_side(int buf, uint64_t off, __u64 *side)
{
	if (buf < 0 || off > UINT32_MAX)
		return -EINVAL;
	*side = PEERMAP_EDU_DMABUF_SIDE(buf, off);
	return 0;
}

/* A copy with one dma-buf side, @side of @req. */
static int pm_edu_dmabuf_copy(int fd, struct peermap_edu_copy *req,
			      __u64 *side, int buf, uint64_t off)
{
	int ret = pm_edu_dmabuf_side(buf, off, side);

	if (ret)
		return ret;
	return ioctl(fd, PEERMAP_EDU_IOC_COPY, req) ? -errno : 0;
}

int pm_edu_copy_to_dmabuf(int fd, int buf, uint64_t off, const void *src,
			  size_t len)
{
	struct peermap_edu_copy req = {
		.src = (uintptr_t)src, .len = len,
		.flags = PEERMAP_EDU_DST_DMABUF,
	};

	return pm_edu_dmabuf_copy(fd, &req, &req.dst, buf, off);
}

int pm_edu_copy_from_dmabuf(int fd, void *dst, int buf, uint64_t off,
			    size_t len)
{
	struct peermap_edu_copy req = {
		.dst = (uintptr_t)dst, .len = len,
		.flags = PEERMAP_EDU_SRC_DMABUF,
	};

	return pm_edu_dmabuf_copy(fd, &req, &req.src, buf, off);
}

int pm_edu_register_dmabuf(int fd, int buf, uint64_t off, size_t len,
			   unsigned int access, uint64_t *id)
{
	struct peermap_edu_register req = {
		.len = len, .access = access, .flags = PEERMAP_EDU_REG_DMABUF,
	};
	int ret = pm_edu_dmabuf_side(buf, off, &req.addr);

	if (ret)
		return ret;
	if (ioctl(fd, PEERMAP_EDU_IOC_REGISTER, &req))
		return -errno;
	*id = req.id;
	return 0;
}

int pm_edu_unregister(int fd, uint64_t id)
{
	struct peermap_edu_unregister req = { .id = id };

	return ioctl(fd, PEERMAP_EDU_IOC_UNREGISTER, &req) ? -errno : 0;
}

int pm_edu_reg_info(int fd, uint64_t id, struct peermap_edu_reg_info *info)
{
	memset(info, 0, sizeof(*info));
	info->id = id;
	return ioctl(fd, PEERMAP_EDU_IOC_REG_INFO, info) ? -errno : 0;
}

int pm_edu_stats(int fd, struct peermap_edu_stats *st)
{
	return ioctl(fd, PEERMAP_EDU_IOC_STATS, st) ? -errno : 0;
}

const char *pm_inval_reason(unsigned int why)
{
	static const char *const names[] = {
		[PEERMAP_INVAL_NONE] = "none",
		[PEERMAP_INVAL_REVOKE] = "revoke",
		[PEERMAP_INVAL_REMOVE] = "remove",
		[PEERMAP_INVAL_UNMAP] = "unmap",
		[PEERMAP_INVAL_PROTECT] = "protect",
		[PEERMAP_INVAL_CHANGE] = "change",
		[PEERMAP_INVAL_EXIT] = "exit",
		[PEERMAP_INVAL_ROUTE] = "route",
	};

	return why < sizeof(names) / sizeof(names[0]) ? names[why] : "?";
}

int pm_edu_segments(int fd, const void *addr, size_t len, unsigned int access,
		    struct peermap_seg **segs, unsigned int *nsegs)
{
	struct peermap_edu_segments req = {
		.addr = (uintptr_t)addr, .len = len, .access = access,
	};
	struct peermap_seg *v = NULL;
	unsigned int room = 0;

	/* Ask, grow, ask again: the count can change between calls. */
	for (;;) {
		req.nsegs = room;
		req.segs = (uintptr_t)v;
		if (ioctl(fd, PEERMAP_EDU_IOC_SEGMENTS, &req)) {
			int err = -errno;

			free(v);
			return err;
		}
		if (req.nsegs <= room)
			break;
		free(v);
		room = req.nsegs;
		v = calloc(room, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	*segs = v;
	*nsegs = req.nsegs;
	return 0;
}

/* One ioctl on /dev/peermap (read-only: open to every user). */
static int ctl_ioctl(unsigned long cmd, void *arg)
{
	char path[PATH_MAX];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/peermap", pm_dev_dir());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, cmd, arg))
		err = -errno;
	close(fd);
	return err;
}

int pm_route(const char *provider, const char *client,
	     struct peermap_route_query *q)
{
	memset(q, 0, sizeof(*q));
	if (strlen(provider) >= sizeof(q->provider) ||
	    strlen(client) >= sizeof(q->client))
		return -EINVAL;
	strcpy(q->provider, provider);
	strcpy(q->client, client);
	return ctl_ioctl(PEERMAP_IOC_ROUTE, q);
}

int pm_dmabuf_map_flags(int dmabuf_fd, uint64_t offset, uint64_t len,
			int prot, unsigned int flags, void **addr,
			unsigned int *out_flags)
{
	struct peermap_dmabuf_map req = {
		.fd = dmabuf_fd,
		.prot = (uint32_t)prot,
		.offset = offset,
		.len = len,
		.addr = (uintptr_t)*addr,
		.flags = flags | (*addr ? PEERMAP_WINDOW_FIXED : 0),
	};
	int err = ctl_ioctl(PEERMAP_IOC_DMABUF_MAP, &req);

	if (err)
		return err;
	*addr = (void *)(uintptr_t)req.addr;
	if (out_flags)
		*out_flags = req.flags;
	return 0;
}

int pm_dmabuf_map(int dmabuf_fd, uint64_t offset, uint64_t len, int prot,
		  void **addr)
{
	return pm_dmabuf_map_flags(dmabuf_fd, offset, len, prot, 0, addr, NULL);
}

int pm_dmabuf_unmap(void *addr, uint64_t len)
{
	return munmap(addr, len) ? -errno : 0;
}

int pm_dmabuf_info(const void *addr, struct peermap_dmabuf_info *info)
{
	memset(info, 0, sizeof(*info));
	info->addr = (uintptr_t)addr;
	return ctl_ioctl(PEERMAP_IOC_DMABUF_INFO, info);
}

const char *pm_path_name(unsigned int path)
{
	switch (path) {
	case PEERMAP_PATH_SWITCH:
		return "switch";
	case PEERMAP_PATH_HOST_BRIDGE:
		return "host-bridge";
	default:
		return "none";
	}
}

int pm_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (end == s)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: break;
	}
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}
