/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libpeermap: user-space access to peermap's reference exporter
 * (/dev/peermap-barN) and importer (/dev/peermap-eduN). Functions return
 * 0 or a negative errno; none prints. Installed as <peermap.h> in
 * $(INCLUDEDIR)/peermap, beside the user ABI headers it includes
 * (`pkg-config --cflags peermap`); man libpeermap(3).
 */
#ifndef PEERMAP_LIB_PEERMAP_H
#define PEERMAP_LIB_PEERMAP_H

#include <stddef.h>
#include <stdint.h>

#include <peermap/peermap.h>

/* An open exporter device. */
struct pm_bar {
	int fd;
	struct peermap_bar_info info;
};

/* An object in device memory, mmapped for the CPU at @cpu. */
struct pm_obj {
	struct pm_bar *bar;
	uint64_t handle;
	uint64_t size;		/* as allocated (page multiple) */
	uint64_t mmap_offset;
	void *cpu;
};

/*
 * The library exports exactly these functions: it is built with
 * -fvisibility=hidden, so lib/pci.c's helpers and anything else not
 * declared here stay inside it (docs/api.md: Versions and the soname).
 */
#pragma GCC visibility push(default)

/* Device directory, "/dev" unless PEERMAP_DEV_DIR says otherwise. */
const char *pm_dev_dir(void);

int pm_bar_open(int index, struct pm_bar *bar);
void pm_bar_close(struct pm_bar *bar);
/* Create an object of @size bytes and mmap it (read/write, shared). */
int pm_obj_alloc(struct pm_bar *bar, uint64_t size, struct pm_obj *obj);
/* Unmap and destroy; peer mappings keep the memory until they end. */
int pm_obj_free(struct pm_obj *obj);

/*
 * The exporter keeps control: evict to system memory (peers are revoked
 * and get fallback segments), restore into device memory, set a policy
 * (PEERMAP_POLICY_*, and a client PCI name to refuse or NULL), read the
 * object's state.
 */
int pm_obj_evict(struct pm_obj *obj);
int pm_obj_restore(struct pm_obj *obj);
int pm_obj_policy(struct pm_obj *obj, unsigned int flags, const char *deny);
int pm_obj_info(struct pm_obj *obj, struct peermap_bar_obj_info *info);
/* The object, or [offset, offset + size) of it (page aligned; size 0: to
 * the end), as a dma-buf: its fd (O_CLOEXEC), or -errno. flags:
 * PEERMAP_EXPORT_WRITE lets importers write it. */
int pm_obj_export_dmabuf(struct pm_obj *obj, unsigned int flags);
int pm_obj_export_dmabuf_range(struct pm_obj *obj, uint64_t offset,
			       uint64_t size, unsigned int flags);

/*
 * The exporter's device memory lent as device-private pages
 * (PEERMAP_BAR_IOC_DEVMEM): @req->op and its inputs in, counters out.
 * 0 or -errno (-EOPNOTSUPP: the kernel has no CONFIG_DEVICE_PRIVATE).
 */
int pm_bar_devmem(struct pm_bar *bar, struct peermap_bar_devmem *req);

/* The PCI name ("0000:04:00.0") of a peermap device node ("peermap-edu0"). */
int pm_node_pci_name(const char *node, char *out, size_t len);

/* The importer: returns an fd or -errno. */
int pm_edu_open(int index);
/* Copy @len bytes from @src to @dst with the DMA engine. */
int pm_edu_copy(int fd, void *dst, const void *src, size_t len);
/* The same; @flags: PEERMAP_MAP_ONDEMAND for sides not registered. */
int pm_edu_copy_flags(int fd, void *dst, const void *src, size_t len,
		      unsigned int flags);
/*
 * Keep a range mapped for the engine (PEERMAP_MAP_PINNED or _ONDEMAND);
 * copies inside it use it. Its counters: pm_edu_reg_info().
 */
int pm_edu_register(int fd, const void *addr, size_t len, unsigned int access,
		    unsigned int flags, uint64_t *id);
int pm_edu_unregister(int fd, uint64_t id);
/*
 * Copies and registrations with a dma-buf side: @buf is its fd, @off a
 * byte offset in it (below 4 GiB). The engine imports it dynamically.
 */
int pm_edu_copy_to_dmabuf(int fd, int buf, uint64_t off, const void *src,
			  size_t len);
int pm_edu_copy_from_dmabuf(int fd, void *dst, int buf, uint64_t off,
			    size_t len);
int pm_edu_register_dmabuf(int fd, int buf, uint64_t off, size_t len,
			   unsigned int access, uint64_t *id);
int pm_edu_reg_info(int fd, uint64_t id, struct peermap_edu_reg_info *info);
int pm_edu_stats(int fd, struct peermap_edu_stats *st);
/* "revoke", "unmap", ... for PEERMAP_INVAL_* */
const char *pm_inval_reason(unsigned int why);
/*
 * The segments the engine gets for [addr, addr + len) with @access
 * (PEERMAP_ACCESS_*), in a malloc'ed array the caller frees.
 */
int pm_edu_segments(int fd, const void *addr, size_t len, unsigned int access,
		    struct peermap_seg **segs, unsigned int *nsegs);

/*
 * How @client reaches @provider's memory (PCI names), from /dev/peermap:
 * q->path, distance, flags, reason and steps.
 */
int pm_route(const char *provider, const char *client,
	     struct peermap_route_query *q);
/* "none", "switch", "host-bridge" */
const char *pm_path_name(unsigned int path);

/*
 * dma-buf import: make [offset, offset + len) of a dma-buf (any exporter's:
 * udmabuf, a dma-heap, VFIO, a GPU driver, a peermap object) a window of
 * this process's address space, which every peermap importer maps like
 * device memory. @prot: PROT_READ, or PROT_READ | PROT_WRITE (the dma-buf
 * must be writable). *addr: in, NULL (anywhere) or where to put it,
 * replacing what is mapped there (MAP_FIXED); out, the window. The CPU
 * reaches the buffer through the dma-buf's own mmap; without one, a CPU
 * access gets SIGBUS. Returns 0 or -errno (docs/api.md).
 */
int pm_dmabuf_map(int dmabuf_fd, uint64_t offset, uint64_t len, int prot,
		  void **addr);
/*
 * The same with PEERMAP_WINDOW_* @flags (NOCPU: SIGBUS on CPU access even
 * if the dma-buf has an mmap); *out_flags gets PEERMAP_WINDOW_CPU/_WRITE
 * (may be NULL).
 */
int pm_dmabuf_map_flags(int dmabuf_fd, uint64_t offset, uint64_t len,
			int prot, unsigned int flags, void **addr,
			unsigned int *out_flags);
/* End a window (munmap); the dma-buf is released when nothing maps it. */
int pm_dmabuf_unmap(void *addr, uint64_t len);
/* What the window at @addr is and its counters. */
int pm_dmabuf_info(const void *addr, struct peermap_dmabuf_info *info);

/*
 * Parse a size: decimal or 0x hex, optional K, M, G suffix (powers of
 * two, "KiB"/"MiB"/"GiB" also accepted). Returns 0 or -EINVAL/-ERANGE.
 */
int pm_parse_size(const char *s, uint64_t *out);

#pragma GCC visibility pop

#endif
