// SPDX-License-Identifier: GPL-2.0
/*
 * peermap bind / unbind: give one PCI device to a driver through its
 * driver_override, and give it back (README: "Binding the reference
 * exporter to your device"). Writes sysfs under $PEERMAP_SYSFS, and
 * checks what the kernel did by reading the device's driver link again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "pci.h"
#include "peermap.h"

static int is_peermap_driver(const char *driver)
{
	return !strncmp(driver, "peermap_", 8);
}

/* What unbinding a device from @driver takes away, for the refusal. */
static const char *unbind_cost(const char *driver, char *buf, size_t len)
{
	static const struct {
		const char *prefix, *cost;
	} costs[] = {
		{ "nvme", "its namespaces go away, and what is mounted from them" },
		{ "ahci", "its disks go away, and what is mounted from them" },
		{ "peermap_", "its /dev/peermap-* node goes away and every mapping of it is revoked" },
		{ "amdgpu", "its displays and GPU contexts go away" },
		{ "i915", "its displays and GPU contexts go away" },
		{ "nouveau", "its displays and GPU contexts go away" },
		{ "nvidia", "its displays and GPU contexts go away" },
		{ "vfio-pci", "the virtual machine or program using it through VFIO loses it" },
		{ "pcieport", "its port services (hotplug, AER, PME) stop" },
	};
	size_t i;

	for (i = 0; i < sizeof(costs) / sizeof(costs[0]); i++)
		if (!strncmp(driver, costs[i].prefix, strlen(costs[i].prefix)))
			return costs[i].cost;
	snprintf(buf, len, "whatever it provides through %s goes away (disks, network interfaces, displays)",
		 driver);
	return buf;
}

/* Write @val to the sysfs file @path. Returns 0, or PM_EXIT_FAIL, said. */
static int write_attr(const char *path, const char *val)
{
	size_t len = strlen(val);
	int fd, err = 0;
	ssize_t n;

	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
	} else {
		n = write(fd, val, len);
		if (n < 0)
			err = -errno;
		else if ((size_t)n != len)
			err = -EIO;
		if (close(fd) && !err)
			err = -errno;
	}
	if (!err)
		return 0;
	if (err == -EACCES || err == -EPERM)
		return cli_error(PM_EXIT_FAIL, 0, "writing %s: %s: needs root (sudo peermap %s ...)",
				 path, strerror(-err), cli_cmd);
	return cli_error(PM_EXIT_FAIL, err, "writing %s", path);
}

/* "SYSROOT/bus/pci/FMT": sysfs paths fit PATH_MAX unless SYSROOT does not. */
static const char *__attribute__((format(printf, 2, 3)))
pci_path(char *buf, const char *fmt, ...)
{
	int n = snprintf(buf, PATH_MAX, "%s/bus/pci/", sysroot());
	va_list ap;

	if (n < 0 || n >= PATH_MAX)
		return buf;
	va_start(ap, fmt);
	vsnprintf(buf + n, PATH_MAX - n, fmt, ap);
	va_end(ap);
	return buf;
}

/*
 * The domain of a name without one ("03:00.0" in @name as
 * "0000:03:00.0"): the one domain that has that bus:dev.fn, else an error.
 * Returns 0 or the exit status, said.
 */
static int pick_domain(const char *arg, char *name)
{
	char path[PATH_MAX], first[PM_PCI_NAME_LEN] = "";
	struct dirent *de;
	int found = 0;
	DIR *d;

	d = opendir(pci_path(path, "devices"));
	if (!d)
		return cli_error(PM_EXIT_FAIL, -errno, "reading %s", path);
	while ((de = readdir(d))) {
		if (strlen(de->d_name) != 12 || strcmp(de->d_name + 5, name + 5))
			continue;
		if (found++) {
			/* Said before closedir(), which frees de. */
			cli_error(PM_EXIT_USAGE, 0,
				  "%s is in more than one PCI domain (%s, %s): give the domain, as lspci -D shows it",
				  arg, first, de->d_name);
			closedir(d);
			return PM_EXIT_USAGE;
		}
		memcpy(first, de->d_name, 13);	/* 12 characters and NUL */
	}
	closedir(d);
	if (found)
		memcpy(name, first, PM_PCI_NAME_LEN);
	return 0;
}

/*
 * Read the device @arg names ("0000:03:00.0", or "03:00.0" when one domain
 * has it) into @dev. Returns 0 or the exit status, said.
 */
static int find_device(const char *arg, struct pm_pci_dev *dev)
{
	char name[PM_PCI_NAME_LEN], path[PATH_MAX];
	struct pm_pci_addr a;
	int err;

	if (pm_pci_parse(arg, &a))
		return cli_error(PM_EXIT_USAGE, 0,
				 "bad BDF '%s': not a PCI name (dddd:bb:dd.f, as lspci -D shows it, or bb:dd.f)",
				 arg);
	pm_pci_format(&a, name);
	if (strchr(arg, ':') == strrchr(arg, ':')) {
		err = pick_domain(arg, name);
		if (err)
			return err;
	}
	err = pm_pci_read(sysroot(), name, dev);
	if (err == -ENOENT)
		return cli_error(PM_EXIT_FAIL, 0,
				 "no PCI device %s (no %s; lspci -D lists the devices)",
				 name, pci_path(path, "devices/%s", name));
	if (err)
		return cli_error(PM_EXIT_FAIL, err, "reading %s",
				 pci_path(path, "devices/%s", name));
	return 0;
}

/* Read @dev again after a write. Returns 0 or the exit status, said. */
static int reread(struct pm_pci_dev *dev)
{
	char name[PM_PCI_NAME_LEN], path[PATH_MAX];
	int err;

	memcpy(name, dev->name, sizeof(name));
	err = pm_pci_read(sysroot(), name, dev);
	if (err)
		return cli_error(PM_EXIT_FAIL, err, "reading %s",
				 pci_path(path, "devices/%s", name));
	return 0;
}

/*
 * Take @dev from the driver that holds it: write its name to the driver's
 * unbind, and check the driver let go. Returns 0 or the exit status, said.
 */
static int release(struct pm_pci_dev *dev)
{
	char path[PATH_MAX], old[sizeof(dev->driver)];
	int ret;

	memcpy(old, dev->driver, sizeof(old));
	ret = write_attr(pci_path(path, "drivers/%s/unbind", old), dev->name);
	if (!ret)
		ret = reread(dev);
	if (!ret && dev->driver[0])
		ret = cli_error(PM_EXIT_FAIL, 0,
				"%s still holds %s after writing %s: see dmesg",
				dev->driver, dev->name, path);
	return ret;
}

/* Ask the bus to find @dev a driver (drivers_probe), then read it again. */
static int probe(struct pm_pci_dev *dev)
{
	char path[PATH_MAX];
	int ret;

	ret = write_attr(pci_path(path, "drivers_probe"), dev->name);
	return ret ? ret : reread(dev);
}

/* " (/dev/peermap-bar1)" when the driver made a misc device for @dev. */
static const char *node_str(const struct pm_pci_dev *dev, char *buf, size_t len)
{
	if (!dev->node[0])
		return "";
	snprintf(buf, len, " (%s/%s)", pm_dev_dir(), dev->node);
	return buf;
}

/*
 * The options and arguments of bind and unbind (@usage): --force, then BDF
 * and at most @max - 1 more. Returns how many arguments follow the options
 * (at argv[optind]), or minus the exit status, having said why.
 */
static int bind_args(int argc, char **argv, const char *usage, int max,
		     int *force)
{
	static const struct option lo[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	int c, idx;

	*force = 0;
	while ((c = cli_getopt(argc, argv, lo, usage, &idx)) != -1) {
		if (c != 'f')
			return -PM_EXIT_USAGE;
		*force = 1;
	}
	if (optind >= argc)
		return -cli_error(PM_EXIT_USAGE, 0, "missing BDF");
	if (argc - optind > max)
		return -cli_error(PM_EXIT_USAGE, 0, "unexpected argument '%s'",
				  argv[optind + max]);
	return argc - optind;
}

static const char bind_usage[] =
	"usage: peermap bind BDF [DRIVER] [--force]\n"
	"Gives the PCI device BDF (dddd:bb:dd.f as lspci -D shows it, or bb:dd.f\n"
	"when one domain has it) to DRIVER (default peermap_bar; peermap_edu or any\n"
	"loaded PCI driver) through its driver_override: writes DRIVER there,\n"
	"unbinds the device from the driver holding it, writes BDF to\n"
	"drivers_probe, and checks that DRIVER took it. Prints the device node\n"
	"(/dev/peermap-barN) when there is one. The override stays until\n"
	"peermap unbind BDF or a reboot.\n"
	"--force: take the device from another driver; without it bind refuses,\n"
	"since unbinding takes what that driver provides (an NVMe's namespaces).\n"
	"Needs root. Writes sysfs ($PEERMAP_SYSFS, default /sys).\n";

int cmd_bind(int argc, char **argv)
{
	const char *driver = "peermap_bar";
	struct pm_pci_dev dev;
	char path[PATH_MAX], buf[160], old[sizeof(dev.driver)];
	int force, n, ret;

	n = bind_args(argc, argv, bind_usage, 2, &force);
	if (n < 0)
		return -n;
	if (n == 2)
		driver = argv[optind + 1];
	if (!*driver || strchr(driver, '/') || !strcmp(driver, ".") ||
	    !strcmp(driver, ".."))
		return cli_error(PM_EXIT_USAGE, 0, "bad DRIVER '%s': not a driver name",
				 driver);
	ret = find_device(argv[optind], &dev);
	if (ret)
		return ret;
	if (access(pci_path(path, "drivers/%s", driver), F_OK))
		return cli_error(PM_EXIT_FAIL, 0,
				 "no driver %s (no %s): modprobe %s first", driver,
				 path, driver);
	if (!strcmp(dev.driver, driver)) {
		printf("%s is already bound to %s%s\n", dev.name, driver,
		       node_str(&dev, buf, sizeof(buf)));
		return PM_EXIT_OK;
	}
	if (dev.driver[0] && !force)
		return cli_error(PM_EXIT_FAIL, 0, "%s holds %s: %s; add --force to take it",
				 dev.driver, dev.name,
				 unbind_cost(dev.driver, buf, sizeof(buf)));
	memcpy(old, dev.driver, sizeof(old));
	ret = write_attr(pci_path(path, "devices/%s/driver_override", dev.name),
			 driver);
	if (!ret && dev.driver[0])
		ret = release(&dev);
	if (!ret)
		ret = probe(&dev);
	if (ret)
		return ret;
	if (strcmp(dev.driver, driver)) {
		if (dev.driver[0])
			snprintf(buf, sizeof(buf), "%s took it", dev.driver);
		else
			snprintf(buf, sizeof(buf), "it has no driver");
		return cli_error(PM_EXIT_FAIL, 0,
				 "the probe did not bind %s to %s: %s; see dmesg (its driver_override stays %s until peermap unbind %s)",
				 dev.name, driver, buf, driver, dev.name);
	}
	printf("%s is bound to %s%s", dev.name, driver,
	       node_str(&dev, buf, sizeof(buf)));
	if (old[0])
		printf(", taken from %s", old);
	putchar('\n');
	return PM_EXIT_OK;
}

/* @dev's driver_override into @buf ("" for none: sysfs says "(null)"). */
static void read_override(const struct pm_pci_dev *dev, char *buf, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	buf[0] = 0;
	f = fopen(pci_path(path, "devices/%s/driver_override", dev->name), "re");
	if (f) {
		if (!fgets(buf, (int)len, f))
			buf[0] = 0;
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
	if (!strcmp(buf, "(null)"))
		buf[0] = 0;
}

static const char unbind_usage[] =
	"usage: peermap unbind BDF [--force]\n"
	"Takes the PCI device BDF from peermap's driver (peermap_bar, peermap_edu),\n"
	"clears its driver_override and writes BDF to drivers_probe, so that its\n"
	"own driver (nvme, ...) takes it back; prints which driver has it now.\n"
	"A device no peermap driver holds is refused without --force.\n"
	"Needs root. Writes sysfs ($PEERMAP_SYSFS, default /sys).\n";

int cmd_unbind(int argc, char **argv)
{
	struct pm_pci_dev dev;
	char path[PATH_MAX], buf[160], ov[64], old[sizeof(dev.driver)];
	int force, ret;

	ret = bind_args(argc, argv, unbind_usage, 1, &force);
	if (ret < 0)
		return -ret;
	ret = find_device(argv[optind], &dev);
	if (ret)
		return ret;
	read_override(&dev, ov, sizeof(ov));
	if (!dev.driver[0] && !is_peermap_driver(ov) && !force) {
		printf("%s has no driver and no peermap driver_override: nothing to do\n",
		       dev.name);
		return PM_EXIT_OK;
	}
	if (dev.driver[0] && !is_peermap_driver(dev.driver) && !force)
		return cli_error(PM_EXIT_FAIL, 0,
				 "%s is bound to %s, not to a peermap driver, and if unbound %s; add --force to unbind it anyway",
				 dev.name, dev.driver,
				 unbind_cost(dev.driver, buf, sizeof(buf)));
	memcpy(old, dev.driver, sizeof(old));
	ret = dev.driver[0] ? release(&dev) : 0;
	if (!ret)
		ret = write_attr(pci_path(path, "devices/%s/driver_override", dev.name),
				 "\n");
	if (!ret)
		ret = probe(&dev);
	if (ret)
		return ret;
	if (is_peermap_driver(dev.driver))
		return cli_error(PM_EXIT_FAIL, 0,
				 "%s took %s back: its ID table or a new_id matches the device (echo the ID to its remove_id, or rmmod %s)",
				 dev.driver, dev.name, dev.driver);
	printf("%s: %s%s, driver_override cleared; ", dev.name,
	       old[0] ? "unbound from " : "had no driver", old);
	if (dev.driver[0])
		printf("%s has it now%s\n", dev.driver, node_str(&dev, buf, sizeof(buf)));
	else
		printf("no driver took it (modprobe its driver, then echo %s > %s)\n",
		       dev.name, pci_path(path, "drivers_probe"));
	return PM_EXIT_OK;
}
