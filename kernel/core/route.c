// SPDX-License-Identifier: GPL-2.0
/*
 * Routes between a provider (the PCI device whose memory is mapped) and a
 * client (the device that DMAs): the facts are gathered here from the PCI
 * tree, the IOMMU, the CPU and the administrator's settings; the decision
 * is route_rules.c. Answers are cached per pair in an xarray and read
 * under RCU, at most route_cache_max of them; the cache is dropped when a
 * PCI device comes or goes, when a setting changes, and on request
 * (debugfs peermap/routes).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/iommu.h>
#include <linux/moduleparam.h>
#include <linux/notifier.h>
#include <linux/pci.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#ifdef CONFIG_X86
#include <asm/processor.h>
#endif

#include "internal.h"

struct route_entry {
	struct rcu_head rcu;
	unsigned long key;
	struct pm_rt_result res;
};

/*
 * Cached answers by route_key(). The xarray's lock serialises writers and
 * protects route_gen and route_count; readers use RCU, entries are freed
 * after a grace period.
 */
static DEFINE_XARRAY(route_cache);
static unsigned long route_gen;
static unsigned int route_count;

/*
 * The cache's bound: an entry is about 2 KiB and /dev/peermap is open to
 * every user. A full cache answers what it holds, and new answers are
 * computed but not kept; lowering the bound keeps what is cached until
 * the next drop.
 */
static unsigned int route_cache_max = 1024;
module_param(route_cache_max, uint, 0644);
MODULE_PARM_DESC(route_cache_max, "most route answers cached, about 2 KiB each (default 1024; 0: none)");

static unsigned long route_key(struct pci_dev *p, struct pci_dev *c)
{
	return (unsigned long)(pci_domain_nr(p->bus) & 0xffff) << 48 |
	       (unsigned long)pci_dev_id(p) << 32 |
	       (unsigned long)(pci_domain_nr(c->bus) & 0xffff) << 16 |
	       pci_dev_id(c);
}

/**
 * peermap_route_flush() - forget every cached route
 *
 * Context: any context that may take a spinlock.
 */
void peermap_route_flush(void)
{
	struct route_entry *e;
	unsigned long idx;

	xa_lock(&route_cache);
	route_gen++;
	xa_for_each(&route_cache, idx, e) {
		__xa_erase(&route_cache, idx);
		kfree_rcu(e, rcu);
	}
	route_count = 0;
	xa_unlock(&route_cache);
}

/**
 * peermap_client_translated() - does an IOMMU translate this device's DMA?
 * @client: the DMA-ing device
 *
 * Context: any, does not sleep.
 * Return: true if the device sits in a paging IOMMU domain (DMA addresses
 * are IOVAs), false for no IOMMU or an identity (passthrough) domain.
 */
bool peermap_client_translated(struct device *client)
{
	struct iommu_domain *dom = iommu_get_domain_for_dev(client);

	return dom && (dom->type & __IOMMU_DOMAIN_PAGING);
}

static const char *iommu_state(struct device *client)
{
	struct iommu_domain *dom = iommu_get_domain_for_dev(client);

	if (!dom)
		return "not translated (no IOMMU)";
	switch (dom->type) {
	case IOMMU_DOMAIN_IDENTITY:
		return "not translated (IOMMU passthrough)";
	case IOMMU_DOMAIN_DMA:
		return "translated (IOMMU DMA domain)";
	case IOMMU_DOMAIN_DMA_FQ:
		return "translated (IOMMU DMA-FQ domain)";
	default:
		return dom->type & __IOMMU_DOMAIN_PAGING ?
		       "translated (IOMMU paging domain)" : "not translated (IOMMU)";
	}
}

/* The device Linux identifies a root complex by: 00.0, or the top root port. */
static void fill_host(struct pm_rt_dev *d, struct pci_dev *top)
{
	struct pci_bus *root = top->bus;
	struct pci_dev *host;

	while (root->parent)
		root = root->parent;
	snprintf(d->root_bus, sizeof(d->root_bus), "pci%04x:%02x",
		 pci_domain_nr(root), root->number);
	host = pci_get_slot(root, PCI_DEVFN(0, 0));
	if (!host && pci_is_pcie(top) && pci_pcie_type(top) == PCI_EXP_TYPE_ROOT_PORT)
		host = pci_dev_get(top);
	if (!host)
		return;
	d->host_known = true;
	d->host_vendor = host->vendor;
	d->host_device = host->device;
	d->host_trusted = peermap_host_trusted(host->vendor, host->device);
	pci_dev_put(host);
}

/* A device and the bridges above it, with their ACS control. */
static int fill_dev(struct pm_rt_dev *d, struct pci_dev *pdev)
{
	struct pci_dev *top = pdev;
	struct pm_rt_node *n;
	int pos;

	for (; pdev; pdev = pci_upstream_bridge(pdev)) {
		if (d->n > PM_RT_MAX_DEPTH)
			return -E2BIG;
		n = &d->node[d->n++];
		strscpy(n->name, pci_name(pdev), sizeof(n->name));
		n->vendor = pdev->vendor;
		n->device = pdev->device;
		n->is_root_port = pci_is_pcie(pdev) &&
				  pci_pcie_type(pdev) == PCI_EXP_TYPE_ROOT_PORT;
		pos = pci_find_ext_capability(pdev, PCI_EXT_CAP_ID_ACS);
		if (pos)
			pci_read_config_word(pdev, pos + PCI_ACS_CTRL, &n->acs_ctrl);
		top = pdev;
	}
	fill_host(d, top);
	return 0;
}

static bool cpu_forwards(char *desc, size_t size)
{
#ifdef CONFIG_X86
	snprintf(desc, size, "%s family %#x", boot_cpu_data.x86_vendor_id,
		 boot_cpu_data.x86);
	/* Linux's rule: any AMD CPU of family Zen or newer */
	return boot_cpu_data.x86_vendor == X86_VENDOR_AMD &&
	       boot_cpu_data.x86 >= 0x17;
#else
	snprintf(desc, size, "not x86");
	return false;
#endif
}

/* Decide afresh: the facts, then route_rules.c. */
static int route_compute(struct pci_dev *provider, struct pci_dev *client,
			 struct pm_rt_result *res)
{
	struct pm_rt_dev *p, *c;
	struct pm_rt_env env = { };
	char cpu[48];
	int ret;

	p = kzalloc(sizeof(*p), GFP_KERNEL);
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!p || !c) {
		ret = -ENOMEM;
		goto out;
	}
	ret = fill_dev(p, provider);
	if (!ret)
		ret = fill_dev(c, client);
	if (ret)
		goto out;
	env.cpu_forwards = cpu_forwards(cpu, sizeof(cpu));
	env.cpu = cpu;
	env.client_translated = peermap_client_translated(&client->dev);
	env.iommu = iommu_state(&client->dev);
	env.override = peermap_pair_override(provider, client);
	pm_rt_explain(p, c, &env, res);
out:
	kfree(c);
	kfree(p);
	return ret;
}

/**
 * peermap_route_lookup() - how @client reaches @provider's memory, and
 *	whether a new answer may be cached
 * @provider: the PCI device owning the memory
 * @client: the DMA-ing PCI device
 * @res: the answer (path, distance, IOVA or not, reason, steps)
 * @cached: set when the answer came from the cache (may be NULL)
 * @insert: cache a new answer if there is room (route_cache_max); false:
 *	answer from the cache or afresh, and keep nothing
 *
 * /dev/peermap passes @insert false for users without CAP_SYS_ADMIN, so
 * that they cannot fill the cache; the map path always caches.
 * Context: process context, may sleep.
 * Return: 0, or -ENOMEM / -E2BIG (deeper than PM_RT_MAX_DEPTH bridges).
 */
int peermap_route_lookup(struct pci_dev *provider, struct pci_dev *client,
			 struct pm_rt_result *res, bool *cached, bool insert)
{
	struct route_entry *e;
	unsigned long key, gen;
	int ret;

	if (cached)
		*cached = false;
	key = route_key(provider, client);

	rcu_read_lock();
	e = xa_load(&route_cache, key);
	if (e)
		memcpy(res, &e->res, sizeof(*res));
	rcu_read_unlock();
	if (e) {
		if (cached)
			*cached = true;
		return 0;
	}
	if (!insert)
		return route_compute(provider, client, res);

	e = kzalloc(sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	xa_lock(&route_cache);
	gen = route_gen;
	xa_unlock(&route_cache);
	ret = route_compute(provider, client, &e->res);
	if (ret) {
		kfree(e);
		return ret;
	}
	memcpy(res, &e->res, sizeof(*res));
	e->key = key;

	/*
	 * Publish unless the cache was dropped while we computed, is full,
	 * or got the pair from a concurrent caller: then just answered.
	 */
	xa_lock(&route_cache);
	if (gen == route_gen && route_count < READ_ONCE(route_cache_max) &&
	    !__xa_insert(&route_cache, key, e, GFP_ATOMIC)) {
		route_count++;
		e = NULL;
	}
	xa_unlock(&route_cache);
	kfree(e);		/* never published */
	return 0;
}

/**
 * peermap_route_get() - how @client reaches @provider's memory, and why
 * @provider: the PCI device owning the memory
 * @client: the DMA-ing device
 * @res: the answer (path, distance, IOVA or not, reason, steps)
 * @cached: set when the answer came from the cache (may be NULL)
 *
 * A client that is not a PCI device has no route. A new answer is cached
 * if there is room (peermap_route_lookup()).
 * Context: process context, may sleep.
 * Return: 0, or -ENOMEM / -E2BIG (deeper than PM_RT_MAX_DEPTH bridges).
 */
int peermap_route_get(struct pci_dev *provider, struct device *client,
		      struct pm_rt_result *res, bool *cached)
{
	if (!dev_is_pci(client)) {
		if (cached)
			*cached = false;
		memset(res, 0, sizeof(*res));
		snprintf(res->reason, sizeof(res->reason),
			 "client %s is not a PCI device", dev_name(client));
		strscpy(res->steps, res->reason, sizeof(res->steps));
		return 0;
	}
	return peermap_route_lookup(provider, to_pci_dev(client), res, cached,
				    true);
}

/* debugfs peermap/routes: the cache, one pair per line. */
void peermap_route_show(struct seq_file *m)
{
	struct route_entry *e;
	unsigned long idx;

	rcu_read_lock();
	xa_for_each(&route_cache, idx, e)
		seq_printf(m, "%04lx:%02lx:%02lx.%lx %04lx:%02lx:%02lx.%lx %s %d %s\n",
			   idx >> 48, (idx >> 40) & 0xff, PCI_SLOT((idx >> 32) & 0xff),
			   PCI_FUNC((idx >> 32) & 0xff), (idx >> 16) & 0xffff,
			   (idx >> 8) & 0xff, PCI_SLOT(idx & 0xff), PCI_FUNC(idx & 0xff),
			   pm_rt_path_name(e->res.verdict.path), e->res.verdict.distance,
			   e->res.reason);
	rcu_read_unlock();
}

static int route_pci_notify(struct notifier_block *nb, unsigned long action,
			    void *data)
{
	if (action == BUS_NOTIFY_ADD_DEVICE || action == BUS_NOTIFY_DEL_DEVICE)
		peermap_route_flush();
	return NOTIFY_DONE;
}

static struct notifier_block route_pci_nb = {
	.notifier_call = route_pci_notify,
};

int peermap_route_init(void)
{
	return bus_register_notifier(&pci_bus_type, &route_pci_nb);
}

void peermap_route_exit(void)
{
	bus_unregister_notifier(&pci_bus_type, &route_pci_nb);
	peermap_route_flush();
}
