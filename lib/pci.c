// SPDX-License-Identifier: LGPL-2.1-or-later
/* PCI devices as sysfs shows them: see pci.h. */
#include "pci.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pm_pci_parse(const char *s, struct pm_pci_addr *addr)
{
	unsigned int d = 0, b, v, f;
	int n = -1;

	if (!s)
		return -EINVAL;
	if (sscanf(s, "%4x:%2x:%2x.%1x%n", &d, &b, &v, &f, &n) != 4 ||
	    n < 0 || s[n]) {
		n = -1;
		d = 0;
		if (sscanf(s, "%2x:%2x.%1x%n", &b, &v, &f, &n) != 3 ||
		    n < 0 || s[n])
			return -EINVAL;
	}
	/* sscanf skips blanks and takes signs: allow hex digits, ':' and '.'. */
	if (strspn(s, "0123456789abcdefABCDEF:.") != strlen(s))
		return -EINVAL;
	if (v > 31 || f > 7)
		return -EINVAL;
	addr->domain = d;
	addr->bus = b;
	addr->dev = v;
	addr->fn = f;
	return 0;
}

void pm_pci_format(const struct pm_pci_addr *addr, char *buf)
{
	snprintf(buf, PM_PCI_NAME_LEN, "%04x:%02x:%02x.%x",
		 addr->domain & 0xffff, addr->bus & 0xff, addr->dev & 0x1f,
		 addr->fn & 7);
}

/* snprintf that fails with -ENAMETOOLONG instead of truncating. */
static int __attribute__((format(printf, 3, 4)))
strf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Read a sysfs attribute holding one hex number ("0x1af4\n"). */
static int read_hex(const char *dir, const char *attr, unsigned int *val)
{
	char path[PATH_MAX], buf[32];
	FILE *f;
	int ret = 0;

	if (strf(path, sizeof(path), "%s/%s", dir, attr))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%x", val) != 1)
		ret = -EIO;
	fclose(f);
	return ret;
}

/* Strict: the whole component is a canonical "dddd:bb:dd.f" name. */
static int is_pci_name(const char *s)
{
	struct pm_pci_addr a;

	return strlen(s) == 12 && !pm_pci_parse(s, &a);
}

/* First entry of <dev>/misc (a driver's misc device), "" if none. */
static int read_misc_node(const char *dir, char *node, size_t size)
{
	char path[PATH_MAX];
	struct dirent *de;
	int ret = 0;
	DIR *d;

	node[0] = '\0';
	if (strf(path, PATH_MAX, "%s/misc", dir))
		return -ENAMETOOLONG;
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		ret = strf(node, size, "%s", de->d_name);
		break;
	}
	closedir(d);
	return ret;
}

int pm_pci_read(const char *sysroot, const char *name, struct pm_pci_dev *dev)
{
	char path[PATH_MAX], real[PATH_MAX], link[PATH_MAX];
	struct pm_pci_addr addr;
	char *p, *comp[PM_PCI_MAX_DEPTH + 1];
	int ncomp = 0, i, ret;
	ssize_t n;

	ret = pm_pci_parse(name, &addr);
	if (ret)
		return ret;
	memset(dev, 0, sizeof(*dev));
	pm_pci_format(&addr, dev->name);

	if (strf(path, sizeof(path), "%s/bus/pci/devices/%s", sysroot, dev->name))
		return -ENAMETOOLONG;
	if (!realpath(path, real))
		return -errno;
	ret = read_hex(real, "vendor", &dev->vendor);
	if (!ret)
		ret = read_hex(real, "device", &dev->device);
	if (!ret)
		ret = read_hex(real, "class", &dev->class_code);
	if (ret)
		return ret;

	if (strf(path, sizeof(path), "%s/driver", real))
		return -ENAMETOOLONG;
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = '\0';
		p = strrchr(link, '/');
		if (strf(dev->driver, sizeof(dev->driver), "%s", p ? p + 1 : link))
			return -ENAMETOOLONG;
	}

	ret = read_misc_node(real, dev->node, sizeof(dev->node));
	if (ret)
		return ret;

	/*
	 * The real path is .../pciDDDD:BB/<root port>/.../<bridge>/<device>:
	 * every PCI-named component before the last is a bridge above it.
	 */
	for (p = strtok(real, "/"); p; p = strtok(NULL, "/")) {
		if (!is_pci_name(p)) {
			ncomp = 0;	/* only the run ending at the device */
			if (!strncmp(p, "pci", 3) &&
			    strf(dev->root, sizeof(dev->root), "%s", p))
				return -ENAMETOOLONG;
			continue;
		}
		if (ncomp > PM_PCI_MAX_DEPTH)
			return -E2BIG;
		comp[ncomp++] = p;
	}
	if (ncomp == 0 || strcmp(comp[ncomp - 1], dev->name))
		return -ENOENT;
	dev->depth = ncomp - 1;
	for (i = 0; i < dev->depth; i++) {
		struct pm_pci_bridge *br = &dev->up[i];

		/* comp[i] passed is_pci_name(): it fits. */
		strcpy(br->name, comp[i]);
		if (strf(path, sizeof(path), "%s/bus/pci/devices/%s", sysroot,
			 br->name))
			return -ENAMETOOLONG;
		ret = read_hex(path, "vendor", &br->vendor);
		if (!ret)
			ret = read_hex(path, "device", &br->device);
		if (ret)
			return ret;
	}
	return 0;
}

static int cmp_dev(const void *a, const void *b)
{
	return strcmp(((const struct pm_pci_dev *)a)->name,
		      ((const struct pm_pci_dev *)b)->name);
}

int pm_pci_scan(const char *sysroot, struct pm_pci_dev **devs)
{
	struct pm_pci_dev *v = NULL, *nv;
	char path[PATH_MAX];
	struct dirent *de;
	size_t n = 0, cap = 0;
	int ret = 0;
	DIR *d;

	if (strf(path, sizeof(path), "%s/bus/pci/devices", sysroot))
		return -ENAMETOOLONG;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!is_pci_name(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				ret = -ENOMEM;
				break;
			}
			v = nv;
		}
		ret = pm_pci_read(sysroot, de->d_name, &v[n]);
		if (ret)
			break;
		n++;
	}
	closedir(d);
	if (ret || n > INT_MAX) {
		free(v);
		return ret ? ret : -E2BIG;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_dev);
	*devs = v;
	return (int)n;
}

int pm_pci_common_depth(const struct pm_pci_dev *a, const struct pm_pci_dev *b)
{
	int i = 0;

	while (i < a->depth && i < b->depth &&
	       !strcmp(a->up[i].name, b->up[i].name))
		i++;
	return i;
}
