// SPDX-License-Identifier: GPL-2.0
/*
 * Routes between a provider (the PCI device whose memory is mapped) and a
 * client (the device that DMAs): the facts are gathered here from the PCI
 * tree, the IOMMU, the CPU and the administrator's settings; the decision
 * is route_rules.c. Verdicts (path, distance, IOVA: what the map path
 * reads) are cached per pair in an xarray and read under RCU, at most
 * route_cache_max of them; the cache is dropped when a PCI device comes or
 * goes, when a setting changes, and on request (debugfs peermap/routes).
 * The reason and steps are never cached: they are built, by the same rules
 * run again with their explanation, only for a person who asks (ioctl,
 * debugfs) and for a log line.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/iommu.h>
#include <linux/moduleparam.h>
#include <linux/notifier.h>
#include <linux/pci.h>
#include <linux/ratelimit.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#ifdef CONFIG_X86
#include <asm/processor.h>
#endif

#include "internal.h"

/**
 * struct route_entry - one pair's cached verdict
 * @rcu: frees the entry once readers are done with it
 * @key: the pair, route_key()
 * @verdict: what route_rules.c decided for it; no text
 */
struct route_entry {
	struct rcu_head rcu;
	unsigned long key;
	struct pm_rt_verdict verdict;
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
 * The cache's bound: an entry is 64 bytes (and the xarray's nodes above
 * it) and /dev/peermap is open to every user. A full cache answers what it
 * holds, and new answers are computed but not kept; lowering the bound
 * keeps what is cached until the next drop.
 */
static unsigned int route_cache_max = 1024;
module_param(route_cache_max, uint, 0644);
MODULE_PARM_DESC(route_cache_max,
		 "most route answers cached, 64 bytes each (default 1024; 0: none)");

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

/*
 * The device Linux identifies a root complex by (pci_host_bridge_dev()):
 * the first device on the root bus, if it is 00.0 or a root port.
 */
static void fill_host(struct pm_rt_dev *d, struct pci_dev *top)
{
	struct pci_bus *root = top->bus;
	struct pci_dev *host = NULL;
	unsigned int devfn;

	while (root->parent)
		root = root->parent;
	snprintf(d->root_bus, sizeof(d->root_bus), "pci%04x:%02x",
		 pci_domain_nr(root), root->number);
	for (devfn = 0; devfn < 256 && !host; devfn++)
		host = pci_get_slot(root, devfn);
	if (host && host->devfn != PCI_DEVFN(0, 0) &&
	    !(pci_is_pcie(host) && pci_pcie_type(host) == PCI_EXP_TYPE_ROOT_PORT)) {
		pci_dev_put(host);
		host = NULL;
	}
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

/*
 * Decide afresh: the facts, then route_rules.c; the verdict alone into @v,
 * or (@v NULL) the verdict with its explanation into @res.
 */
static int route_compute(struct pci_dev *provider, struct pci_dev *client,
			 struct pm_rt_verdict *v, struct pm_rt_result *res)
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
	if (v)
		pm_rt_decide(p, c, &env, v);
	else
		pm_rt_explain(p, c, &env, res);
out:
	kfree(c);
	kfree(p);
	return ret;
}

/* The cached verdict of @key into @v; false if the cache has none. */
static bool route_cache_get(unsigned long key, struct pm_rt_verdict *v)
{
	struct route_entry *e;
	bool found;

	rcu_read_lock();
	e = xa_load(&route_cache, key);
	found = e;
	if (found)
		*v = e->verdict;
	rcu_read_unlock();
	return found;
}

/*
 * The cached verdict at or (!@first) after *@key, into @v: entries are
 * only read under RCU, so the caller may sleep between two calls.
 */
static bool route_cache_next(unsigned long *key, struct pm_rt_verdict *v,
			     bool first)
{
	struct route_entry *e;
	bool found;

	rcu_read_lock();
	if (first)
		e = xa_find(&route_cache, key, ULONG_MAX, XA_PRESENT);
	else
		e = xa_find_after(&route_cache, key, ULONG_MAX, XA_PRESENT);
	found = e;
	if (found)
		*v = e->verdict;
	rcu_read_unlock();
	return found;
}

/* Note the generation before deciding, for route_cache_add(). */
static unsigned long route_cache_gen(void)
{
	unsigned long gen;

	xa_lock(&route_cache);
	gen = route_gen;
	xa_unlock(&route_cache);
	return gen;
}

/*
 * Keep @v for @key, unless the cache was dropped since @gen (the verdict
 * may be from before a setting changed), is full, or got the pair from a
 * concurrent caller: then it was just answered. Out of memory: the same.
 */
static void route_cache_add(unsigned long key, unsigned long gen,
			    const struct pm_rt_verdict *v)
{
	struct route_entry *e;

	e = kmalloc(sizeof(*e), GFP_KERNEL);
	if (!e)
		return;
	e->key = key;
	e->verdict = *v;
	xa_lock(&route_cache);
	if (gen == route_gen && route_count < READ_ONCE(route_cache_max) &&
	    !__xa_insert(&route_cache, key, e, GFP_ATOMIC)) {
		route_count++;
		e = NULL;
	}
	xa_unlock(&route_cache);
	kfree(e);		/* never published */
}

/*
 * @res was just explained; @v is what mappings use (the cached verdict,
 * or the one the map path got). They differ only when the facts changed
 * without a cache drop (ACS set by hand with setpci, say): answer @v, and
 * say so in the reason and the steps.
 */
static void route_note_cached(struct pm_rt_result *res,
			      const struct pm_rt_verdict *v)
{
	static const char drop[] = "write to /sys/kernel/debug/peermap/routes to drop it";
	size_t len;

	if (pm_rt_same_verdict(v, &res->verdict))
		return;
	len = strlen(res->reason);
	snprintf(res->reason + len, sizeof(res->reason) - len,
		 "; but mappings use the cached answer %s, distance %d%s: %s",
		 pm_rt_path_name(v->path), v->distance, v->iova ? ", IOVA" : "",
		 drop);
	len = strlen(res->steps);
	snprintf(res->steps + len, sizeof(res->steps) - len,
		 "  the cache still says %s, distance %d%s, and mappings use that: %s\n",
		 pm_rt_path_name(v->path), v->distance, v->iova ? ", IOVA" : "",
		 drop);
	res->verdict = *v;
}

/**
 * peermap_route_get() - how @client reaches @provider's memory
 * @provider: the PCI device owning the memory
 * @client: the DMA-ing device
 * @v: the verdict: path, distance, IOVA or not
 *
 * The map path's question: from the cache, a copy of the verdict and
 * nothing else; else decided without text (pm_rt_decide()) and cached if
 * there is room. A client that is not a PCI device has no route. For why,
 * ask peermap_route_refused() (a log line) or peermap_route_explain().
 * Context: process context, may sleep (on a cache miss).
 * Return: 0, or -ENOMEM / -E2BIG (deeper than PM_RT_MAX_DEPTH bridges).
 */
int peermap_route_get(struct pci_dev *provider, struct device *client,
		      struct pm_rt_verdict *v)
{
	unsigned long key, gen;
	struct pci_dev *c;
	int ret;

	if (!dev_is_pci(client)) {
		memset(v, 0, sizeof(*v));
		return 0;
	}
	c = to_pci_dev(client);
	key = route_key(provider, c);
	if (route_cache_get(key, v))
		return 0;
	gen = route_cache_gen();
	ret = route_compute(provider, c, v, NULL);
	if (!ret)
		route_cache_add(key, gen, v);
	return ret;
}

/**
 * peermap_route_refused() - log why @client has no route to @provider
 * @provider: the PCI device owning the memory
 * @client: the DMA-ing device
 * @v: the verdict peermap_route_get() gave (path none)
 *
 * Rate-limited; the reason is built (the rules run again, with their
 * explanation) only for a line that is printed.
 * Context: process context, may sleep.
 */
void peermap_route_refused(struct pci_dev *provider, struct device *client,
			   const struct pm_rt_verdict *v)
{
	static DEFINE_RATELIMIT_STATE(rs, DEFAULT_RATELIMIT_INTERVAL,
				      DEFAULT_RATELIMIT_BURST);
	struct pm_rt_result *res;

	if (!__ratelimit(&rs))
		return;
	if (!dev_is_pci(client)) {
		dev_warn(client, "no peer route to %s: client %s is not a PCI device\n",
			 pci_name(provider), dev_name(client));
		return;
	}
	res = kmalloc(sizeof(*res), GFP_KERNEL);
	if (res && !route_compute(provider, to_pci_dev(client), NULL, res)) {
		route_note_cached(res, v);
		dev_warn(client, "no peer route to %s: %s\n", pci_name(provider),
			 res->reason);
	} else {
		dev_warn(client, "no peer route to %s\n", pci_name(provider));
	}
	kfree(res);
}

/**
 * peermap_route_explain() - how @client reaches @provider's memory, and why
 * @provider: the PCI device owning the memory
 * @client: the DMA-ing PCI device
 * @res: the answer: the verdict mappings use, the reason, the steps
 * @cached: set when the verdict came from the cache
 * @insert: cache a new verdict if there is room (route_cache_max); false:
 *	keep nothing
 *
 * For `peermap route` and `peermap topo` (/dev/peermap): the reason and
 * steps are built afresh each time, the cache holds verdicts only.
 * /dev/peermap passes @insert false for users without CAP_SYS_ADMIN, so
 * that they cannot fill the cache.
 * Context: process context, may sleep.
 * Return: 0, or -ENOMEM / -E2BIG (deeper than PM_RT_MAX_DEPTH bridges).
 */
int peermap_route_explain(struct pci_dev *provider, struct pci_dev *client,
			  struct pm_rt_result *res, bool *cached, bool insert)
{
	unsigned long key = route_key(provider, client), gen;
	struct pm_rt_verdict v;
	int ret;

	gen = route_cache_gen();
	*cached = route_cache_get(key, &v);
	ret = route_compute(provider, client, NULL, res);
	if (ret)
		return ret;
	if (*cached)
		route_note_cached(res, &v);
	else if (insert)
		route_cache_add(key, gen, &res->verdict);
	return 0;
}

/* One line of peermap_route_show(): the pair, its verdict, why. */
static void route_show_pair(struct seq_file *m, unsigned long key,
			    const struct pm_rt_verdict *v,
			    struct pm_rt_result *res)
{
	struct pci_dev *p, *c;
	int ret = -ENODEV;

	p = pci_get_domain_bus_and_slot(key >> 48, (key >> 40) & 0xff,
					(key >> 32) & 0xff);
	c = pci_get_domain_bus_and_slot((key >> 16) & 0xffff, (key >> 8) & 0xff,
					key & 0xff);
	if (p && c)
		ret = route_compute(p, c, NULL, res);
	if (!ret)
		route_note_cached(res, v);
	seq_printf(m, "%04lx:%02lx:%02lx.%lx %04lx:%02lx:%02lx.%lx %s %d %s\n",
		   key >> 48, (key >> 40) & 0xff, PCI_SLOT((key >> 32) & 0xff),
		   PCI_FUNC((key >> 32) & 0xff), (key >> 16) & 0xffff,
		   (key >> 8) & 0xff, PCI_SLOT(key & 0xff), PCI_FUNC(key & 0xff),
		   pm_rt_path_name(v->path), v->distance,
		   ret ? "(no reason: device gone or out of memory)" : res->reason);
	pci_dev_put(c);
	pci_dev_put(p);
}

/**
 * peermap_route_show() - debugfs peermap/routes: the cache, one pair per line
 * @m: the file
 *
 * Each cached verdict with its reason, built afresh (the cache holds no
 * text).
 * Context: process context, may sleep.
 * Return: 0 or -ENOMEM.
 */
int peermap_route_show(struct seq_file *m)
{
	struct pm_rt_result *res;
	struct pm_rt_verdict v;
	unsigned long key = 0;
	bool more;

	res = kmalloc(sizeof(*res), GFP_KERNEL);
	if (!res)
		return -ENOMEM;
	for (more = route_cache_next(&key, &v, true); more;
	     more = route_cache_next(&key, &v, false))
		route_show_pair(m, key, &v, res);
	kfree(res);
	return 0;
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
