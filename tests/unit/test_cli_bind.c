// SPDX-License-Identifier: GPL-2.0
/*
 * peermap bind / unbind (cli/bind.c) against a synthetic sysfs: the files
 * keep what the command wrote (driver_override, a driver's unbind,
 * drivers_probe), and since nothing in it binds or unbinds, each step that
 * checks the kernel's work must fail saying so. Each command runs in a
 * child process, as the CLI would, its stdout and stderr kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "fakesys.h"
#include "tap.h"

static char root[64], pci[128];
static char out[4096], err[4096];

/* Contents of @path (relative to bus/pci/), "" if none. */
static const char *got(const char *rel)
{
	static char buf[256];
	char p[512];
	size_t n = 0;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", pci, rel);
	f = fopen(p, "r");
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = 0;
	return buf;
}

static void slurp(const char *file, char *buf, size_t len)
{
	FILE *f = fopen(file, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = 0;
}

/* A PCI device @name in bus/pci/devices, bound to @driver (or none). */
static void add_dev(const char *name, const char *driver)
{
	char dir[512], link[512];

	snprintf(dir, sizeof(dir), "%s/devices/%s", pci, name);
	mkdirs(dir);
	put(dir, "vendor", "0x1b36\n");
	put(dir, "device", "0x0010\n");
	put(dir, "class", "0x010802\n");
	put(dir, "driver_override", "(null)\n");
	if (!driver)
		return;
	snprintf(link, sizeof(link), "../../drivers/%s", driver);
	snprintf(dir, sizeof(dir), "%s/devices/%s/driver", pci, name);
	if (symlink(link, dir)) {
		perror(dir);
		exit(2);
	}
}

static void add_driver(const char *name)
{
	char dir[512];

	snprintf(dir, sizeof(dir), "%s/drivers/%s", pci, name);
	mkdirs(dir);
	put(dir, "bind", "");
	put(dir, "unbind", "");
}

/*
 * A fresh tree: nvme holds 03:00.0, peermap_bar 04:00.0 (with its
 * /dev/peermap-bar1), 05:00.0 has no driver; peermap_edu is not loaded.
 */
static void tree(void)
{
	char dir[512];

	fake_rm(pci);
	snprintf(dir, sizeof(dir), "%s/devices", pci);
	mkdirs(dir);
	put(pci, "drivers_probe", "");
	add_driver("nvme");
	add_driver("peermap_bar");
	add_dev("0000:03:00.0", "nvme");
	add_dev("0000:04:00.0", "peermap_bar");
	snprintf(dir, sizeof(dir), "%s/devices/0000:04:00.0/misc/peermap-bar1", pci);
	mkdirs(dir);
	add_dev("0000:05:00.0", NULL);
}

/*
 * Run `peermap CMD ARGS...` (NULL-terminated) through @fn in a child, as
 * user nobody with @unprivileged; its stdout and stderr land in out and
 * err. Returns its exit status.
 */
static int run(int (*fn)(int, char **), int unprivileged, const char *cmd, ...)
{
	char *argv[8], of[128], ef[128];
	int argc = 0, st, fo, fe;
	va_list ap;
	pid_t pid;

	argv[argc++] = (char *)cmd;
	va_start(ap, cmd);
	while (argc < 7 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	snprintf(of, sizeof(of), "%s/out", root);
	snprintf(ef, sizeof(ef), "%s/err", root);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		exit(2);
	if (!pid) {
		fo = open(of, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		fe = open(ef, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
			_exit(99);
		if (unprivileged && !geteuid() &&
		    (setgid(65534) || setuid(65534) ||
		     prctl(PR_SET_DUMPABLE, 1)))	/* LSan's tracer */
			_exit(98);
		cli_cmd = cmd;
		exit(fn(argc, argv));
	}
	if (waitpid(pid, &st, 0) != pid)
		exit(2);
	slurp(of, out, sizeof(out));
	slurp(ef, err, sizeof(err));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* @s has @part; shows @s as TAP comments when not. */
static int has(const char *s, const char *part)
{
	if (strstr(s, part))
		return 1;
	printf("#   want '%s' in:\n#   '%s'\n", part, s);
	return 0;
}

static void test_usage(void)
{
	tap_eq(run(cmd_bind, 0, "bind", "--help", NULL), 0, "bind --help: status 0");
	tap_ok(has(out, "usage: peermap bind BDF [DRIVER] [--force]") && !*err,
	       "bind --help: usage on stdout only");
	tap_eq(run(cmd_unbind, 0, "unbind", "-h", NULL), 0, "unbind -h: status 0");
	tap_ok(has(out, "usage: peermap unbind BDF [--force]"), "unbind -h: usage");
	tap_eq(run(cmd_bind, 0, "bind", NULL), 2, "bind without BDF: status 2");
	tap_ok(has(err, "peermap bind: missing BDF\nTry 'peermap bind --help'."),
	       "bind without BDF says so, points at --help");
	tap_eq(run(cmd_bind, 0, "bind", "03:00.0", "nvme", "x", NULL), 2,
	       "bind with three arguments: status 2");
	tap_ok(has(err, "unexpected argument 'x'"), "names the extra argument");
	tap_eq(run(cmd_unbind, 0, "unbind", "03:00.0", "peermap_bar", NULL), 2,
	       "unbind takes no DRIVER: status 2");
	tap_eq(run(cmd_bind, 0, "bind", "03:zz.0", NULL), 2, "bad BDF: status 2");
	tap_ok(has(err, "bad BDF '03:zz.0': not a PCI name"), "bad BDF: says so");
	tap_eq(run(cmd_bind, 0, "bind", "03:00.0", "../x", NULL), 2, "bad DRIVER: status 2");
	tap_eq(run(cmd_bind, 0, "bind", "--frob", "03:00.0", NULL), 2, "bind --frob: status 2");
	tap_ok(has(err, "unknown option '--frob'"), "names the option");
	tap_ok(!strcmp(got("devices/0000:03:00.0/driver_override"), "(null)\n") &&
	       !*got("drivers_probe"), "usage errors write nothing");
}

static void test_bind(void)
{
	char want[512];

	tree();
	tap_eq(run(cmd_bind, 0, "bind", "0000:09:00.0", NULL), 1, "absent device: status 1");
	snprintf(want, sizeof(want), "no PCI device 0000:09:00.0 (no %s/devices/0000:09:00.0; lspci -D", pci);
	tap_ok(has(err, want), "absent device: names the sysfs path");
	tap_eq(run(cmd_bind, 0, "bind", "05:00.0", "peermap_edu", NULL), 1,
	       "driver not loaded: status 1");
	tap_ok(has(err, "no driver peermap_edu (no ") &&
	       has(err, "/drivers/peermap_edu): modprobe peermap_edu first"),
	       "driver not loaded: says to modprobe it");

	/* Another driver holds it: refused, nothing written. */
	tap_eq(run(cmd_bind, 0, "bind", "0000:03:00.0", NULL), 1, "held by nvme: status 1");
	tap_ok(has(err, "peermap bind: nvme holds 0000:03:00.0: its namespaces go away") &&
	       has(err, "add --force to take it"), "held by nvme: says what it costs and --force");
	tap_ok(!strcmp(got("devices/0000:03:00.0/driver_override"), "(null)\n") &&
	       !*got("drivers/nvme/unbind") && !*got("drivers_probe"),
	       "held by nvme: nothing written");

	/* --force, short name: override, then nvme's unbind, which fakes miss. */
	tap_eq(run(cmd_bind, 0, "bind", "--force", "03:00.0", NULL), 1,
	       "--force, the driver does not let go: status 1");
	tap_ok(!strcmp(got("devices/0000:03:00.0/driver_override"), "peermap_bar"),
	       "--force: driver_override written (%s)", got("devices/0000:03:00.0/driver_override"));
	tap_ok(!strcmp(got("drivers/nvme/unbind"), "0000:03:00.0"),
	       "--force: the short name's device written to nvme's unbind");
	snprintf(want, sizeof(want), "nvme still holds 0000:03:00.0 after writing %s/drivers/nvme/unbind: see dmesg", pci);
	tap_ok(has(err, want), "and says the driver kept it");
	tap_ok(!*got("drivers_probe"), "no probe after a failed unbind");

	/* No driver: override and drivers_probe, but the fake binds nothing. */
	tap_eq(run(cmd_bind, 0, "bind", "05:00.0", NULL), 1, "probe that binds nothing: status 1");
	tap_ok(!strcmp(got("devices/0000:05:00.0/driver_override"), "peermap_bar") &&
	       !strcmp(got("drivers_probe"), "0000:05:00.0"),
	       "driver_override, then the name to drivers_probe");
	tap_ok(has(err, "the probe did not bind 0000:05:00.0 to peermap_bar: it has no driver; see dmesg") &&
	       has(err, "peermap unbind 0000:05:00.0"),
	       "says the probe did not bind, points at dmesg and unbind");

	/* Already bound: says so, writes nothing. */
	tap_eq(run(cmd_bind, 0, "bind", "0000:04:00.0", "peermap_bar", NULL), 0,
	       "already bound: status 0");
	tap_ok(has(out, "0000:04:00.0 is already bound to peermap_bar (/dev/peermap-bar1)") && !*err,
	       "already bound: says so with its node");
	tap_ok(!strcmp(got("devices/0000:04:00.0/driver_override"), "(null)\n"),
	       "already bound: driver_override untouched");

	/* Two domains with 03:00.0: the short name is ambiguous. */
	add_dev("0001:03:00.0", NULL);
	tap_eq(run(cmd_bind, 0, "bind", "03:00.0", NULL), 2, "ambiguous short name: status 2");
	tap_ok(has(err, "03:00.0 is in more than one PCI domain") &&
	       has(err, "0000:03:00.0") && has(err, "0001:03:00.0"),
	       "ambiguous short name: names both");
}

static void test_unbind(void)
{
	char want[512];

	tree();
	tap_eq(run(cmd_unbind, 0, "unbind", "03:00.0", NULL), 1, "unbind from nvme: status 1");
	tap_ok(has(err, "0000:03:00.0 is bound to nvme, not to a peermap driver") &&
	       has(err, "add --force"), "unbind from nvme: refused, --force named");
	tap_ok(!*got("drivers/nvme/unbind"), "unbind from nvme: nothing written");

	tap_eq(run(cmd_unbind, 0, "unbind", "04:00.0", NULL), 1,
	       "unbind, peermap_bar does not let go: status 1");
	tap_ok(!strcmp(got("drivers/peermap_bar/unbind"), "0000:04:00.0"),
	       "the name written to peermap_bar's unbind");
	snprintf(want, sizeof(want), "peermap_bar still holds 0000:04:00.0 after writing %s/drivers/peermap_bar/unbind: see dmesg", pci);
	tap_ok(has(err, want), "says the driver kept it");

	tap_eq(run(cmd_unbind, 0, "unbind", "05:00.0", NULL), 0, "no driver, no override: status 0");
	tap_ok(has(out, "0000:05:00.0 has no driver and no peermap driver_override: nothing to do"),
	       "says there is nothing to do");
	tap_ok(!*got("drivers_probe"), "and writes nothing");

	/* What a bind whose probe failed leaves: the override is cleared. */
	put(pci, "devices/0000:05:00.0/driver_override", "peermap_bar\n");
	tap_eq(run(cmd_unbind, 0, "unbind", "05:00.0", NULL), 0,
	       "no driver, peermap_bar's override: status 0");
	tap_ok(!strcmp(got("devices/0000:05:00.0/driver_override"), "\n") &&
	       !strcmp(got("drivers_probe"), "0000:05:00.0"),
	       "override cleared with a newline, then drivers_probe");
	tap_ok(has(out, "0000:05:00.0: had no driver, driver_override cleared; no driver took it"),
	       "says what happened");
}

/* A write refused (not root): the file, the errno text, "needs root". */
static void test_needs_root(void)
{
	char p[512], want[600];

	tree();
	snprintf(p, sizeof(p), "%s/devices/0000:05:00.0/driver_override", pci);
	if (chmod(root, 0755) || chmod(p, 0444))
		exit(2);
	tap_eq(run(cmd_bind, 1, "bind", "05:00.0", NULL), 1, "unprivileged bind: status 1");
	snprintf(want, sizeof(want), "peermap bind: writing %s: Permission denied: needs root", p);
	tap_ok(has(err, want), "names the file, the errno text and root");
	tap_ok(!*got("drivers_probe"), "and goes no further");
}

int main(void)
{
	fake_root(root, sizeof(root), "bind");
	snprintf(pci, sizeof(pci), "%s/bus/pci", root);
	setenv("PEERMAP_SYSFS", root, 1);
	tree();
	test_usage();
	test_bind();
	test_unbind();
	test_needs_root();
	fake_rm(root);
	return tap_done();
}
