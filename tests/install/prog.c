// SPDX-License-Identifier: GPL-2.0
/* A user of the installed library: calls that need no device. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <peermap.h>
#include <peermap/version.h>

int main(void)
{
	struct pm_bar bar = { .fd = -1 };
	uint64_t size = 0;
	int err;

	printf("peermap %s, devices in %s\n", PEERMAP_VERSION, pm_dev_dir());
	if (pm_parse_size("64KiB", &size) || size != 65536)
		return 1;
	if (strcmp(pm_path_name(PEERMAP_PATH_SWITCH), "switch"))
		return 1;
	err = pm_bar_open(0, &bar);	/* PEERMAP_DEV_DIR has no nodes */
	printf("pm_bar_open: %s\n", strerror(-err));
	return err == -ENOENT ? 0 : 1;
}
