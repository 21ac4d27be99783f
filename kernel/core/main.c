// SPDX-License-Identifier: GPL-2.0
/*
 * peermap core: module life cycle. The core holds the exporter registry
 * (exporter.c), maps user ranges for importers (mapping.c) into segment
 * vectors (segments.c), decides routes (route.c, route_rules.c,
 * settings.c), makes dma-bufs VA windows (window.c) and answers on
 * /dev/peermap and in debugfs (ctl.c).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/module.h>

#include <uapi/peermap/version.h>

#include "internal.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/* Root of /sys/kernel/debug/peermap; an error pointer if debugfs is off. */
static struct dentry *peermap_debugfs;

static int peermap_version_show(struct seq_file *m, void *unused)
{
	seq_puts(m, PEERMAP_VERSION "\n");
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(peermap_version);

static int __init peermap_init(void)
{
	int ret;

	/* Live mappings follow the administrator's route settings. */
	peermap_settings_init(peermap_routes_changed);
	/* debugfs is optional: the core works without it. */
	peermap_debugfs = debugfs_create_dir("peermap", NULL);
	debugfs_create_file("version", 0444, peermap_debugfs, NULL,
			    &peermap_version_fops);
	peermap_exporter_debugfs(peermap_debugfs);
	ret = peermap_route_init();
	if (ret)
		goto err_debugfs;
	ret = peermap_window_init(peermap_debugfs);
	if (ret)
		goto err_route;
	ret = peermap_ctl_init(peermap_debugfs);
	if (ret)
		goto err_window;
	pr_info("loaded, version %s\n", PEERMAP_VERSION);
	return 0;

err_window:
	peermap_window_exit();
err_route:
	peermap_route_exit();
err_debugfs:
	debugfs_remove(peermap_debugfs);
	peermap_settings_exit();
	return ret;
}

static void __exit peermap_exit(void)
{
	peermap_ctl_exit();
	peermap_window_exit();
	peermap_route_exit();
	debugfs_remove(peermap_debugfs);
	peermap_settings_exit();
	rcu_barrier();		/* route entries and settings freed by RCU */
	pr_info("unloaded\n");
}

module_init(peermap_init);
module_exit(peermap_exit);

MODULE_DESCRIPTION("peermap: device peer-to-peer DMA through user mappings");
MODULE_LICENSE("GPL");
MODULE_VERSION(PEERMAP_VERSION);
