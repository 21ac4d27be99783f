// SPDX-License-Identifier: GPL-2.0
/*
 * peermap core: module life cycle.
 *
 * The core owns the peer-to-peer state shared by exporters and importers.
 * For now it only publishes its debugfs directory, which the components
 * added later (routes, exporter registry, mappings) populate.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/module.h>

#define PEERMAP_VERSION "0.1"

/* Root of /sys/kernel/debug/peermap; NULL or an error pointer if absent. */
static struct dentry *peermap_debugfs;

static int peermap_version_show(struct seq_file *m, void *unused)
{
	seq_puts(m, PEERMAP_VERSION "\n");
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(peermap_version);

static int __init peermap_init(void)
{
	/* debugfs is optional: the core works without it. */
	peermap_debugfs = debugfs_create_dir("peermap", NULL);
	debugfs_create_file("version", 0444, peermap_debugfs, NULL,
			    &peermap_version_fops);
	pr_info("loaded, version %s\n", PEERMAP_VERSION);
	return 0;
}

static void __exit peermap_exit(void)
{
	debugfs_remove(peermap_debugfs);
	pr_info("unloaded\n");
}

module_init(peermap_init);
module_exit(peermap_exit);

MODULE_DESCRIPTION("peermap: device peer-to-peer DMA through user mappings");
MODULE_LICENSE("GPL");
MODULE_VERSION(PEERMAP_VERSION);
