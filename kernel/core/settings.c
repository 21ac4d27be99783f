// SPDX-License-Identifier: GPL-2.0
/*
 * Administrator settings of the route engine, as module parameters: given
 * at load (insmod peermap.ko trust_host_bridge=8086:29c0) and changed at
 * run time (/sys/module/peermap/parameters/...). Every change drops the
 * route cache. docs/routes.md gives the security meaning of each.
 *
 *   trust_host_bridge  "vvvv:dddd[,vvvv:dddd...]": host bridges (the device
 *                      Linux identifies a root complex by) that forward
 *                      peer traffic, in addition to the allow list
 *   overrides          "ACTION:A,B[ ACTION:A,B...]", ACTION one of allow,
 *                      deny, host-bridge; A and B PCI names; the pair is
 *                      unordered
 *
 * Readers (route decisions) use the settings under RCU; writers replace
 * them whole under settings_lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>

#include "internal.h"

#define MAX_TRUST	16
#define MAX_OVERRIDES	32

struct peermap_override {
	enum pm_rt_override action;
	u32 a, b;			/* domain << 16 | bus << 8 | devfn */
};

struct peermap_settings {
	struct rcu_head rcu;
	unsigned int ntrust, novr;
	struct { u16 vendor, device; } trust[MAX_TRUST];
	struct peermap_override ovr[MAX_OVERRIDES];
};

/* Serialises writers of @settings; readers use RCU. */
static DEFINE_MUTEX(settings_lock);
static struct peermap_settings __rcu *settings;

/*
 * Told after every change, outside settings_lock: peermap_routes_changed()
 * (mapping.c), set by main.c at load. A pointer, not a call by name:
 * settings.c sits below route.c, which the map path calls (mapping.c ->
 * exporter.c -> route.c -> settings.c), and a call back up to mapping.c
 * would close that into a cycle. NULL while the module loads: settings
 * given to insmod have no mapping to invalidate yet.
 */
static void (*settings_changed)(void);

static const char *const action_names[] = {
	[PM_RT_OVR_ALLOW] = "allow",
	[PM_RT_OVR_DENY] = "deny",
	[PM_RT_OVR_HOST_BRIDGE] = "host-bridge",
};

static u32 pci_key(struct pci_dev *pdev)
{
	return (u32)(pci_domain_nr(pdev->bus) & 0xffff) << 16 | pci_dev_id(pdev);
}

/**
 * peermap_parse_pci_name() - "dddd:bb:dd.f" or "bb:dd.f" (domain 0)
 * @s: the name, NUL-terminated
 * @key: domain << 16 | bus << 8 | devfn
 *
 * Return: 0, or -EINVAL for anything else (trailing characters included).
 */
int peermap_parse_pci_name(const char *s, u32 *key)
{
	unsigned int d = 0, b, v, f;
	char tail;

	if (sscanf(s, "%x:%x:%x.%x%c", &d, &b, &v, &f, &tail) != 4) {
		d = 0;
		if (sscanf(s, "%x:%x.%x%c", &b, &v, &f, &tail) != 3)
			return -EINVAL;
	}
	if (d > 0xffff || b > 0xff || v > 31 || f > 7)
		return -EINVAL;
	*key = d << 16 | b << 8 | PCI_DEVFN(v, f);
	return 0;
}

/* A copy of the current settings to change, or ERR_PTR. */
static struct peermap_settings *settings_copy(void)
{
	struct peermap_settings *cur, *new;

	new = kzalloc(sizeof(*new), GFP_KERNEL);
	if (!new)
		return ERR_PTR(-ENOMEM);
	cur = rcu_dereference_protected(settings, lockdep_is_held(&settings_lock));
	if (cur)
		memcpy(new, cur, sizeof(*new));
	return new;
}

static void settings_publish(struct peermap_settings *new)
{
	struct peermap_settings *old;

	old = rcu_replace_pointer(settings, new, lockdep_is_held(&settings_lock));
	if (old)
		kfree_rcu(old, rcu);
	peermap_route_flush();
}

static int add_trust(struct peermap_settings *new, char *tok)
{
	unsigned int v, d;

	if (sscanf(tok, "%x:%x", &v, &d) != 2 || v > 0xffff || d > 0xffff ||
	    new->ntrust == MAX_TRUST) {
		pr_err("trust_host_bridge: '%s' is not a vendor:device in hex (at most %d)\n",
		       tok, MAX_TRUST);
		return -EINVAL;
	}
	new->trust[new->ntrust].vendor = v;
	new->trust[new->ntrust].device = d;
	new->ntrust++;
	return 0;
}

static int parse_override(char *tok, struct peermap_override *o)
{
	char *colon = strchr(tok, ':'), *comma;
	unsigned int i;

	if (!colon)
		return -EINVAL;
	*colon = '\0';
	comma = strchr(colon + 1, ',');
	if (!comma)
		return -EINVAL;
	*comma = '\0';
	o->action = PM_RT_OVR_NONE;
	for (i = 0; i < ARRAY_SIZE(action_names); i++)
		if (action_names[i] && !strcmp(tok, action_names[i]))
			o->action = i;
	if (o->action == PM_RT_OVR_NONE)
		return -EINVAL;
	if (peermap_parse_pci_name(colon + 1, &o->a) ||
	    peermap_parse_pci_name(comma + 1, &o->b))
		return -EINVAL;
	return 0;
}

static int add_override(struct peermap_settings *new, char *tok)
{
	if (new->novr == MAX_OVERRIDES || parse_override(tok, &new->ovr[new->novr])) {
		pr_err("overrides: bad entry near '%s': want ACTION:A,B with ACTION allow, deny or host-bridge (at most %d)\n",
		       tok, MAX_OVERRIDES);
		return -EINVAL;
	}
	new->novr++;
	return 0;
}

/*
 * Replace one list of the settings (trusted host bridges or overrides)
 * with the entries of @val, all or nothing, and publish the result.
 */
static int settings_update(const char *val, bool trust)
{
	struct peermap_settings *new;
	void (*changed)(void);
	char *buf, *p, *tok;
	int ret = 0;

	buf = kstrdup(val, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	mutex_lock(&settings_lock);
	new = settings_copy();
	if (IS_ERR(new)) {
		ret = PTR_ERR(new);
		goto out;
	}
	if (trust)
		new->ntrust = 0;
	else
		new->novr = 0;
	p = strim(buf);
	while ((tok = strsep(&p, trust ? "\n, " : "\n; ")) != NULL) {
		if (!*tok)
			continue;
		ret = trust ? add_trust(new, tok) : add_override(new, tok);
		if (ret) {
			kfree(new);
			goto out;
		}
	}
	settings_publish(new);
out:
	mutex_unlock(&settings_lock);
	kfree(buf);
	/* Live peer mappings follow the new settings (deny takes effect). */
	changed = READ_ONCE(settings_changed);
	if (!ret && changed)
		changed();
	return ret;
}

static int trust_set(const char *val, const struct kernel_param *kp)
{
	return settings_update(val, true);
}

static int trust_get(char *buffer, const struct kernel_param *kp)
{
	struct peermap_settings *s;
	unsigned int i;
	int n = 0;

	rcu_read_lock();
	s = rcu_dereference(settings);
	for (i = 0; s && i < s->ntrust; i++)
		n += scnprintf(buffer + n, PAGE_SIZE - n, "%s%04x:%04x",
			       i ? "," : "", s->trust[i].vendor, s->trust[i].device);
	rcu_read_unlock();
	n += scnprintf(buffer + n, PAGE_SIZE - n, "\n");
	return n;
}

static const struct kernel_param_ops trust_ops = {
	.set = trust_set,
	.get = trust_get,
};
module_param_cb(trust_host_bridge, &trust_ops, NULL, 0644);
MODULE_PARM_DESC(trust_host_bridge, "host bridges (vendor:device,...) trusted to forward peer traffic");

static int overrides_set(const char *val, const struct kernel_param *kp)
{
	return settings_update(val, false);
}

static int overrides_get(char *buffer, const struct kernel_param *kp)
{
	struct peermap_settings *s;
	struct peermap_override *o;
	unsigned int i;
	int n = 0;

	rcu_read_lock();
	s = rcu_dereference(settings);
	for (i = 0; s && i < s->novr; i++) {
		o = &s->ovr[i];
		n += scnprintf(buffer + n, PAGE_SIZE - n,
			       "%s%s:%04x:%02x:%02x.%x,%04x:%02x:%02x.%x", i ? " " : "",
			       action_names[o->action], o->a >> 16, (o->a >> 8) & 0xff,
			       PCI_SLOT(o->a & 0xff), PCI_FUNC(o->a & 0xff), o->b >> 16,
			       (o->b >> 8) & 0xff, PCI_SLOT(o->b & 0xff),
			       PCI_FUNC(o->b & 0xff));
	}
	rcu_read_unlock();
	n += scnprintf(buffer + n, PAGE_SIZE - n, "\n");
	return n;
}

static const struct kernel_param_ops overrides_ops = {
	.set = overrides_set,
	.get = overrides_get,
};
module_param_cb(overrides, &overrides_ops, NULL, 0644);
MODULE_PARM_DESC(overrides, "per pair: allow|deny|host-bridge:A,B (PCI names), space separated");

/* Is a host bridge with these IDs trusted by the administrator? */
bool peermap_host_trusted(u16 vendor, u16 device)
{
	struct peermap_settings *s;
	bool found = false;
	unsigned int i;

	rcu_read_lock();
	s = rcu_dereference(settings);
	for (i = 0; s && i < s->ntrust && !found; i++)
		found = s->trust[i].vendor == vendor && s->trust[i].device == device;
	rcu_read_unlock();
	return found;
}

/* The administrator's word on a pair, in either order. */
enum pm_rt_override peermap_pair_override(struct pci_dev *a, struct pci_dev *b)
{
	enum pm_rt_override action = PM_RT_OVR_NONE;
	u32 ka = pci_key(a), kb = pci_key(b);
	struct peermap_settings *s;
	unsigned int i;

	rcu_read_lock();
	s = rcu_dereference(settings);
	for (i = 0; s && i < s->novr; i++) {
		if ((s->ovr[i].a == ka && s->ovr[i].b == kb) ||
		    (s->ovr[i].a == kb && s->ovr[i].b == ka)) {
			action = s->ovr[i].action;
			if (action == PM_RT_OVR_DENY)
				break;		/* deny wins */
		}
	}
	rcu_read_unlock();
	return action;
}

/* Whom to tell after each change of the settings (main.c, at load). */
void peermap_settings_init(void (*changed)(void))
{
	WRITE_ONCE(settings_changed, changed);
}

void peermap_settings_exit(void)
{
	kfree(rcu_dereference_protected(settings, true));
	RCU_INIT_POINTER(settings, NULL);
}
