// SPDX-License-Identifier: GPL-2.0
/*
 * pm_p2pcheck: test-only module, built for kernels with CONFIG_PCI_P2PDMA.
 * debugfs pm_p2pcheck/distances lists upstream's answer for every ordered
 * pair of PCI functions that are not bridges, one line each:
 *
 *	PROVIDER CLIENT DISTANCE
 *
 * DISTANCE is pci_p2pdma_distance(provider, client): -1 when Linux's
 * P2PDMA refuses the pair (ACS or a host bridge off its allow list),
 * else the hops between them. It needs no p2pmem on the provider: the
 * decision (calc_map_type_and_dist()) only caches its answer when the
 * provider has P2PDMA state. tests/vm/42-p2pdma.t compares each line with
 * peermap's route for the pair. Never part of the product.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/seq_file.h>

static struct dentry *pm_p2pcheck_dir;

static int pm_p2pcheck_show(struct seq_file *m, void *unused)
{
	struct pci_dev *p = NULL, *c;

	for_each_pci_dev(p) {
		if (pci_is_bridge(p))
			continue;
		c = NULL;
		for_each_pci_dev(c) {
			if (c == p || pci_is_bridge(c))
				continue;
			seq_printf(m, "%s %s %d\n", pci_name(p), pci_name(c),
				   pci_p2pdma_distance(p, &c->dev, false));
		}
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pm_p2pcheck);

static int __init pm_p2pcheck_init(void)
{
	pm_p2pcheck_dir = debugfs_create_dir("pm_p2pcheck", NULL);
	debugfs_create_file("distances", 0400, pm_p2pcheck_dir, NULL,
			    &pm_p2pcheck_fops);
	return 0;
}

static void __exit pm_p2pcheck_exit(void)
{
	debugfs_remove_recursive(pm_p2pcheck_dir);
}

module_init(pm_p2pcheck_init);
module_exit(pm_p2pcheck_exit);
MODULE_DESCRIPTION("peermap test: Linux's P2PDMA distance for every PCI pair");
MODULE_LICENSE("GPL");
