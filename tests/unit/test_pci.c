// SPDX-License-Identifier: GPL-2.0
/* Unit tests of lib/pci.c against synthetic sysfs trees. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakesys.h"
#include "pci.h"
#include "tap.h"

static char root[64];

/* Add device @name under parent path @rel (relative to devices/). */
static void add_dev(const char *rel, const char *vendor, const char *device,
		    const char *class_code)
{
	char dir[512], link[512];
	const char *name = strrchr(rel, '/') + 1;

	snprintf(dir, sizeof(dir), "%s/devices/%s", root, rel);
	mkdirs(dir);
	put(dir, "vendor", vendor);
	put(dir, "device", device);
	put(dir, "class", class_code);
	snprintf(link, sizeof(link), "%s/bus/pci/devices/%s", root, name);
	if (symlink(dir, link)) {
		perror(link);
		exit(2);
	}
}

static void build_tree(void)
{
	char p[512];

	fake_root(root, sizeof(root), "pci");
	snprintf(p, sizeof(p), "%s/bus/pci/devices", root);
	mkdirs(p);
	/* A switch: root port 00:10.0 > upstream 01:00.0 > downstream 02:0x.0 */
	add_dev("pci0000:00/0000:00:10.0", "0x1b36\n", "0x000c\n", "0x060400\n");
	add_dev("pci0000:00/0000:00:10.0/0000:01:00.0", "0x104c\n", "0x8232\n", "0x060400\n");
	add_dev("pci0000:00/0000:00:10.0/0000:01:00.0/0000:02:00.0", "0x104c\n", "0x8233\n", "0x060400\n");
	add_dev("pci0000:00/0000:00:10.0/0000:01:00.0/0000:02:01.0", "0x104c\n", "0x8233\n", "0x060400\n");
	add_dev("pci0000:00/0000:00:10.0/0000:01:00.0/0000:02:00.0/0000:03:00.0", "0x1af4\n", "0x1110\n", "0x050000\n");
	add_dev("pci0000:00/0000:00:10.0/0000:01:00.0/0000:02:01.0/0000:04:00.0", "0x1234\n", "0x11e8\n", "0x00ff00\n");
	/* A device on the root complex, and one under a second host bridge. */
	add_dev("pci0000:00/0000:00:05.0", "0x1234\n", "0x11e8\n", "0x00ff00\n");
	add_dev("pci0000:80/0000:80:00.0", "0x1b36\n", "0x000c\n", "0x060400\n");
	add_dev("pci0000:80/0000:80:00.0/0000:81:00.0", "0x1af4\n", "0x1110\n", "0x050000\n");
	/* sysfs has non-PCI entries next to devices; the scan skips them. */
	snprintf(p, sizeof(p), "%s/bus/pci/devices/not-a-device", root);
	mkdirs(p);
}

static void test_parse(void)
{
	static const char *const bad[] = {
		"", "0000:03:00", "03:00", "0000:03:20.0", "0000:03:00.8",
		"zz:00.0", "0000:03:00.0x", "10000:03:00.0", " 03:00.0",
		"-3:00.0", "0000:003:00.0", "0000:03:00.0 ",
	};
	struct pm_pci_addr a;
	char buf[PM_PCI_NAME_LEN];
	size_t i;

	tap_eq(pm_pci_parse("0000:03:1f.7", &a), 0, "parse full name");
	tap_ok(a.domain == 0 && a.bus == 3 && a.dev == 31 && a.fn == 7,
	       "parse full name fields");
	tap_eq(pm_pci_parse("ab:01.2", &a), 0, "parse name without domain");
	tap_ok(a.domain == 0 && a.bus == 0xab && a.dev == 1 && a.fn == 2,
	       "name without domain is domain 0");
	pm_pci_format(&a, buf);
	tap_ok(!strcmp(buf, "0000:ab:01.2"), "format canonical name (%s)", buf);
	tap_eq(pm_pci_parse("10ab:ff:00.0", &a), 0, "parse other domain");
	tap_eq(a.domain, 0x10ab, "domain field");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tap_eq(pm_pci_parse(bad[i], &a), -EINVAL, "reject '%s'", bad[i]);
	tap_eq(pm_pci_parse(NULL, &a), -EINVAL, "reject NULL");
}

static void test_read(void)
{
	struct pm_pci_dev d, e;

	tap_eq(pm_pci_read(root, "0000:03:00.0", &d), 0, "read device behind switch");
	tap_ok(d.vendor == 0x1af4 && d.device == 0x1110 && d.class_code == 0x050000,
	       "IDs and class read");
	tap_eq(d.depth, 3, "three bridges above it");
	tap_ok(!strcmp(d.up[0].name, "0000:00:10.0") && d.up[0].vendor == 0x1b36,
	       "root port first");
	tap_ok(!strcmp(d.up[1].name, "0000:01:00.0") && d.up[1].device == 0x8232,
	       "switch upstream port second");
	tap_ok(!strcmp(d.up[2].name, "0000:02:00.0") && d.up[2].device == 0x8233,
	       "switch downstream port last");
	tap_ok(d.driver[0] == '\0', "no driver bound");
	tap_ok(!strcmp(d.root, "pci0000:00"), "root bus named (%s)", d.root);

	tap_eq(pm_pci_read(root, "04:00.0", &e), 0, "read peer by short name");
	tap_eq(pm_pci_common_depth(&d, &e), 2,
	       "peers under one switch share root port and upstream port");

	tap_eq(pm_pci_read(root, "0000:00:05.0", &e), 0, "read root-complex device");
	tap_eq(e.depth, 0, "no bridge above a root-complex device");
	tap_eq(pm_pci_common_depth(&d, &e), 0, "root-complex device shares nothing");

	tap_eq(pm_pci_read(root, "0000:81:00.0", &e), 0, "read device under second host bridge");
	tap_eq(pm_pci_common_depth(&d, &e), 0, "different host bridges share nothing");
	tap_ok(!strcmp(e.root, "pci0000:80"), "second root bus named (%s)", e.root);

	tap_eq(pm_pci_read(root, "0000:09:00.0", &e), -ENOENT, "absent device is ENOENT");
	tap_eq(pm_pci_read(root, "bogus", &e), -EINVAL, "bad name is EINVAL");
}

static void test_scan(void)
{
	struct pm_pci_dev *v = NULL;
	int n, i, sorted = 1;

	n = pm_pci_scan(root, &v);
	tap_eq(n, 9, "scan finds every PCI device and nothing else");
	for (i = 1; i > 0 && i < n; i++)
		sorted &= strcmp(v[i - 1].name, v[i].name) < 0;
	tap_ok(sorted, "scan result sorted by name");
	free(v);
	tap_eq(pm_pci_scan("/nonexistent-peermap-root", &v), -ENOENT,
	       "scan of a missing sysfs root fails with ENOENT");
}

int main(void)
{
	build_tree();
	test_parse();
	test_read();
	test_scan();
	fake_rm(root);
	return tap_done();
}
