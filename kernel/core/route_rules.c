// SPDX-License-Identifier: GPL-2.0
/*
 * The route decision: see route_rules.h. The rules follow Linux's PCI
 * P2PDMA (drivers/pci/p2pdma.c), so that a peermap route and an upstream
 * one agree, and add what users ask for: administrator overrides and a
 * reason for every answer.
 *
 * 1. Walk up from both devices to the first function on both paths (the
 *    device itself when they are one). Every function on the way, the
 *    meeting point included and the client-side one excluded as Linux
 *    does, with ACS P2P redirect (RR, CR or EC) enabled sends the traffic
 *    up to the root complex.
 * 2. Met below the root without redirect: SWITCH, by bus address, even
 *    with an IOMMU (the traffic never reaches it).
 * 3. Otherwise through the host bridge, allowed when the CPU rule holds
 *    (AMD Zen or later), or both host bridges are trusted: on Linux's
 *    allow list (some entries only within one host bridge) or by the
 *    administrator. The client reaches the peer by IOVA when its DMA is
 *    translated, by bus address otherwise.
 * 4. Overrides: deny wins; force-host-bridge replaces a SWITCH answer;
 *    allow opens the host bridge where step 3 said no.
 *
 * Each step is a small function below, named after what it decides:
 * paths_meet() (1), deny_override() (4), below_common_bridge() (2, with 4's
 * host-bridge), root_complex_forwards() (3, with 4's allow), then
 * through_host_bridge() or refuse(). decide() runs them in that order for
 * both outputs: pm_rt_decide() (the verdict alone) and pm_rt_explain()
 * (the verdict with its reason and steps).
 */
#ifdef __KERNEL__
#include <linux/kernel.h>
#include <linux/string.h>
#else
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#endif

#include "route_rules.h"

/* Linux's pci_p2pdma_whitelist[] (drivers/pci/p2pdma.c) as of 7.3. */
#define PM_RT_ANY_DEVICE	0xffff
static const struct {
	u16 vendor, device;		/* device PM_RT_ANY_DEVICE: any */
	bool same_host_bridge_only;
} pm_rt_allow_list[] = {
	/* Intel Xeon E5/Core i7 */
	{ 0x8086, 0x3c00, true }, { 0x8086, 0x3c01, true },
	/* Intel Xeon E7 v3/Xeon E5 v3/Core i7 */
	{ 0x8086, 0x2f00, true }, { 0x8086, 0x2f01, true },
	/* Intel Skylake-E */
	{ 0x8086, 0x2030, false }, { 0x8086, 0x2031, false },
	{ 0x8086, 0x2032, false }, { 0x8086, 0x2033, false },
	{ 0x8086, 0x2020, false }, { 0x8086, 0x09a2, false },
	/* Intel DSA and IAX (Sapphire Rapids, Granite Rapids-D, Diamond Rapids) */
	{ 0x8086, 0x0b25, false }, { 0x8086, 0x0cfe, false },
	{ 0x8086, 0x11fb, false }, { 0x8086, 0x1212, false },
	{ 0x8086, 0x1216, false },
	/* Intel QAT 4xxx, 401xx, 402xx, 420xx, 6xxx */
	{ 0x8086, 0x4940, false }, { 0x8086, 0x4942, false },
	{ 0x8086, 0x4944, false }, { 0x8086, 0x4946, false },
	{ 0x8086, 0x4948, false },
	/* Google SoCs */
	{ 0x1ae0, PM_RT_ANY_DEVICE, false },
	/* Nvidia CPUs */
	{ 0x10de, 0x2f95, false }, { 0x10de, 0x2f96, false },
	{ 0x10de, 0x2f97, false }, { 0x10de, 0x2f98, false },
};

/**
 * pm_rt_path_name() - a path as `peermap route` and debugfs print it
 * @path: a verdict's path
 *
 * Context: any.
 * Return: "switch", "host-bridge" or "none".
 */
const char *pm_rt_path_name(enum pm_rt_path path)
{
	switch (path) {
	case PM_RT_SWITCH:
		return "switch";
	case PM_RT_HOST_BRIDGE:
		return "host-bridge";
	default:
		return "none";
	}
}

/**
 * pm_rt_host_allowed() - is a host bridge on Linux's P2PDMA allow list?
 * @vendor: the host bridge device's vendor ID
 * @device: its device ID
 * @same_host_bridge: both devices are below this one host bridge
 *
 * Context: any.
 * Return: true if the host bridge forwards peer traffic, within one host
 * bridge only for some entries.
 */
bool pm_rt_host_allowed(u16 vendor, u16 device, bool same_host_bridge)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pm_rt_allow_list); i++) {
		if (pm_rt_allow_list[i].vendor != vendor ||
		    (pm_rt_allow_list[i].device != PM_RT_ANY_DEVICE &&
		     pm_rt_allow_list[i].device != device))
			continue;
		return same_host_bridge || !pm_rt_allow_list[i].same_host_bridge_only;
	}
	return false;
}

/* Write into a bounded text buffer; truncation is accepted. */
static __printf(3, 4) void rt_printf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static bool acs_redirects(const struct pm_rt_node *n)
{
	return n->acs_ctrl & (PM_RT_ACS_RR | PM_RT_ACS_CR | PM_RT_ACS_EC);
}

/*
 * A redirecting function's step names the ACS control bits set, as
 * ACS_REDIRECT " (RR CR)"; pm_rt_hide_acs() takes " (RR CR)" out again.
 */
#define ACS_REDIRECT "ACS redirect"

static void acs_bits(const struct pm_rt_node *n, char *out, size_t size)
{
	rt_printf(out, size, "%s%s%s",
		  n->acs_ctrl & PM_RT_ACS_RR ? "RR " : "",
		  n->acs_ctrl & PM_RT_ACS_CR ? "CR " : "",
		  n->acs_ctrl & PM_RT_ACS_EC ? "EC " : "");
	if (*out)
		out[strlen(out) - 1] = '\0';
}

/* Index of @name in @d's path, or -1. */
static int find_node(const struct pm_rt_dev *d, const char *name)
{
	int i;

	for (i = 0; i < d->n; i++)
		if (!strcmp(d->node[i].name, name))
			return i;
	return -1;
}

#define RT_ACS_LIST_LEN	128
#define RT_WHY_LEN	112

/**
 * struct rt_decision - a decision in progress, handed from step to step
 * @p: the provider's path to the root
 * @c: the client's
 * @env: the machine and the request
 * @v: the verdict being decided
 * @reason: @v's reason, or NULL: the verdict alone, no text
 * @steps: the steps, NULL exactly when @reason is
 * @a: where the paths meet, on the provider's: @p->node[@a]
 * @b: the same function on the client's path, or -1: at the root complex
 * @redirect: ACS redirect on the way
 * @same_host: one host bridge above both
 * @acs_list: the redirecting functions, ';'-separated (text)
 * @why_a: why the (provider's) host bridge forwards or not (text)
 * @why_b: the same for the client's, when it is another one (text)
 *
 * The rules read and write only the non-text members; the text members
 * stay empty without @steps. say() writes no text then, so the verdict
 * alone costs no formatting and both outputs come from one set of rules.
 */
struct rt_decision {
	const struct pm_rt_dev *p, *c;
	const struct pm_rt_env *env;
	struct pm_rt_verdict *v;
	char *reason, *steps;
	int a, b;
	bool redirect, same_host;
	char acs_list[RT_ACS_LIST_LEN];
	char why_a[RT_WHY_LEN], why_b[RT_WHY_LEN];
};

/* Append to one of @dc's texts, when explaining; truncation is accepted. */
static __printf(4, 0) void vsay(const struct rt_decision *dc, char *buf,
				size_t size, const char *fmt, va_list ap)
{
	size_t len;

	if (!dc->steps)
		return;
	len = strlen(buf);
	if (len + 1 < size)
		vsnprintf(buf + len, size - len, fmt, ap);
}

/* A scratch text (acs_list, why_a, why_b). */
static __printf(4, 5) void say(const struct rt_decision *dc, char *buf,
			       size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(dc, buf, size, fmt, ap);
	va_end(ap);
}

/* A line of the steps. */
static __printf(2, 3) void step(const struct rt_decision *dc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(dc, dc->steps, PM_RT_STEPS_LEN, fmt, ap);
	va_end(ap);
}

/* Part of the reason. */
static __printf(2, 3) void because(const struct rt_decision *dc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(dc, dc->reason, PM_RT_REASON_LEN, fmt, ap);
	va_end(ap);
}

/* The last step: the path and the reason. */
static void conclude(const struct rt_decision *dc)
{
	step(dc, "  => %s: %s\n", pm_rt_path_name(dc->v->path), dc->reason);
}

/* Step 1, one function on the way: does its ACS send the traffic up? */
static bool acs_redirect_at(struct rt_decision *dc, const struct pm_rt_node *n)
{
	char bits[16];

	if (!acs_redirects(n))
		return false;
	dc->redirect = true;
	if (dc->steps) {
		acs_bits(n, bits, sizeof(bits));
		step(dc, "  %s [%04x:%04x]: " ACS_REDIRECT " (%s)\n",
		     n->name, n->vendor, n->device, bits);
		say(dc, dc->acs_list, sizeof(dc->acs_list), "%s%s",
		    *dc->acs_list ? ";" : "", n->name);
	}
	return true;
}

/* Step 1: where the two paths meet, the distance, ACS redirect on the way. */
static void paths_meet(struct rt_decision *dc)
{
	const struct pm_rt_node *n;
	int i;

	dc->b = -1;
	step(dc, "provider %s, client %s\n", dc->p->node[0].name,
	     dc->c->node[0].name);
	for (dc->a = 0; dc->a < dc->p->n; dc->a++) {
		n = &dc->p->node[dc->a];
		acs_redirect_at(dc, n);
		dc->b = find_node(dc->c, n->name);
		if (dc->b >= 0)
			break;
		step(dc, "  %s [%04x:%04x]: up from the provider\n",
		     n->name, n->vendor, n->device);
	}
	if (dc->b < 0) {
		dc->v->distance = dc->p->n + dc->c->n;
		step(dc, "  no common upstream bridge: they meet at the root complex\n");
		return;
	}
	/* the meeting point counted once, on the provider's side */
	for (i = dc->b - 1; i >= 0; i--) {
		n = &dc->c->node[i];
		if (!acs_redirect_at(dc, n))
			step(dc, "  %s [%04x:%04x]: down to the client\n",
			     n->name, n->vendor, n->device);
	}
	dc->v->distance = dc->a + dc->b;
	n = &dc->p->node[dc->a];
	step(dc, "  they meet at %s [%04x:%04x], %d hops in all\n",
	     n->name, n->vendor, n->device, dc->v->distance);
}

/* Step 4, first of all: an administrator's deny wins. */
static bool deny_override(struct rt_decision *dc)
{
	if (dc->env->override != PM_RT_OVR_DENY)
		return false;
	step(dc, "  administrator override: deny\n");
	because(dc, "denied by administrator override for %s,%s",
		dc->p->node[0].name, dc->c->node[0].name);
	return true;
}

/*
 * Step 2: met below the root without redirect, by bus address; unless
 * step 4's host-bridge override sends the pair up anyway.
 */
static bool below_common_bridge(struct rt_decision *dc)
{
	const struct pm_rt_node *n = &dc->p->node[dc->a];

	if (dc->b < 0 || dc->redirect)
		return false;
	if (dc->env->override == PM_RT_OVR_HOST_BRIDGE) {
		step(dc, "  administrator override: through the host bridge\n");
		return false;
	}
	dc->v->path = PM_RT_SWITCH;
	if (!dc->a && !dc->b)
		because(dc, "same device, no ACS redirect: by bus address");
	else
		because(dc,
			"common upstream bridge %s [%04x:%04x], no ACS redirect: by bus address",
			n->name, n->vendor, n->device);
	conclude(dc);
	return true;
}

/* Step 3, one host bridge: does it forward peer traffic? Says why in @why. */
static bool host_trusted(const struct rt_decision *dc, const struct pm_rt_dev *d,
			 bool same, char *why)
{
	if (d->host_trusted) {
		say(dc, why, RT_WHY_LEN, "%s [%04x:%04x] trusted by the administrator",
		    d->root_bus, d->host_vendor, d->host_device);
		return true;
	}
	if (!d->host_known) {
		say(dc, why, RT_WHY_LEN, "%s has no host bridge device to identify it",
		    d->root_bus);
		return false;
	}
	if (pm_rt_host_allowed(d->host_vendor, d->host_device, same)) {
		say(dc, why, RT_WHY_LEN, "%s [%04x:%04x] is on the P2PDMA allow list",
		    d->root_bus, d->host_vendor, d->host_device);
		return true;
	}
	say(dc, why, RT_WHY_LEN, "%s [%04x:%04x] is not known to forward peer traffic%s",
	    d->root_bus, d->host_vendor, d->host_device,
	    pm_rt_host_allowed(d->host_vendor, d->host_device, true) ?
	    " between host bridges" : "");
	return false;
}

/*
 * Step 3: through the root complex, if it forwards peer traffic: the CPU
 * rule, or both host bridges trusted; or step 4's allow override.
 */
static bool root_complex_forwards(struct rt_decision *dc)
{
	const struct pm_rt_env *env = dc->env;
	bool trusted;

	dc->same_host = !strcmp(dc->p->root_bus, dc->c->root_bus);
	if (env->cpu_forwards) {
		trusted = true;
		say(dc, dc->why_a, sizeof(dc->why_a), "CPU %s forwards peer traffic",
		    env->cpu);
	} else {
		trusted = host_trusted(dc, dc->p, dc->same_host, dc->why_a);
		if (!dc->same_host)
			trusted &= host_trusted(dc, dc->c, false, dc->why_b);
	}
	step(dc, "  host bridge: %s%s%s\n", dc->why_a, *dc->why_b ? "; " : "",
	     dc->why_b);
	if (trusted || env->override != PM_RT_OVR_ALLOW)
		return trusted;
	step(dc, "  administrator override: allow\n");
	*dc->why_a = '\0';
	*dc->why_b = '\0';
	say(dc, dc->why_a, sizeof(dc->why_a), "allowed by administrator override");
	return true;
}

/* How to trust @d's host bridge, if it can be identified. */
static void trust_hint(const struct rt_decision *dc, const struct pm_rt_dev *d)
{
	if (d->host_trusted || !d->host_known ||
	    pm_rt_host_allowed(d->host_vendor, d->host_device, true))
		return;
	step(dc,
	     "  to trust %s: add %04x:%04x to /sys/module/peermap/parameters/trust_host_bridge (comma-separated)\n",
	     d->root_bus, d->host_vendor, d->host_device);
}

/* Step 3 said no: the reason, and how to get a route. Text only. */
static void refuse(const struct rt_decision *dc)
{
	because(dc, "%s%s, and host bridge %s%s%s: no route",
		dc->redirect ? "ACS redirect at " : "no common upstream bridge",
		dc->acs_list, dc->why_a, *dc->why_b ? "; " : "", dc->why_b);
	if (dc->redirect)
		step(dc, "  to route below the common bridge instead: pci=disable_acs_redir=%s\n",
		     dc->acs_list);
	trust_hint(dc, dc->p);
	if (!dc->same_host)
		trust_hint(dc, dc->c);
	conclude(dc);
}

/* Step 3 said yes: by IOVA when the client's DMA is translated. */
static void through_host_bridge(struct rt_decision *dc)
{
	const struct pm_rt_env *env = dc->env;
	const char *how;

	dc->v->path = PM_RT_HOST_BRIDGE;
	dc->v->iova = env->client_translated;
	how = dc->v->iova ? "by IOVA" : "by bus address";
	step(dc, "  client DMA: %s: %s\n", env->iommu, how);
	if (env->override == PM_RT_OVR_HOST_BRIDGE)
		because(dc, "forced through the host bridge by administrator override");
	else if (dc->redirect)
		because(dc, "ACS redirect at %s", dc->acs_list);
	else
		because(dc, "no common upstream bridge");
	because(dc, "%s; %s; client DMA %s: %s",
		dc->same_host ? "" : ", different host bridges", dc->why_a,
		env->iommu, how);
	conclude(dc);
}

/* The steps in their order: the one set of rules both outputs run. */
static void decide(struct rt_decision *dc)
{
	paths_meet(dc);
	if (deny_override(dc) || below_common_bridge(dc))
		return;
	if (root_complex_forwards(dc))
		through_host_bridge(dc);
	else
		refuse(dc);
}

/**
 * pm_rt_decide() - how a client reaches a provider's memory
 * @provider: the provider's path to the root
 * @client: the client's path to the root
 * @env: the machine's and the request's facts
 * @v: the verdict
 *
 * The rules alone: no text is formatted. pm_rt_explain() runs the same
 * rules and gives the same verdict, with the reason and steps.
 * Context: any; does not sleep or allocate.
 */
void pm_rt_decide(const struct pm_rt_dev *provider, const struct pm_rt_dev *client,
		  const struct pm_rt_env *env, struct pm_rt_verdict *v)
{
	struct rt_decision dc = {
		.p = provider, .c = client, .env = env, .v = v,
	};

	memset(v, 0, sizeof(*v));
	decide(&dc);
}

/**
 * pm_rt_explain() - how a client reaches a provider's memory, and why
 * @provider: the provider's path to the root
 * @client: the client's path to the root
 * @env: the machine's and the request's facts
 * @res: the verdict (as pm_rt_decide() gives it), the reason and the steps
 *
 * For people (`peermap route`, `peermap topo`, debugfs, log lines), never
 * for the map path.
 * Context: any; does not sleep or allocate.
 */
void pm_rt_explain(const struct pm_rt_dev *provider, const struct pm_rt_dev *client,
		   const struct pm_rt_env *env, struct pm_rt_result *res)
{
	struct rt_decision dc = {
		.p = provider, .c = client, .env = env, .v = &res->verdict,
		.reason = res->reason, .steps = res->steps,
	};

	memset(res, 0, sizeof(*res));
	decide(&dc);
}

/* Drop every " (bits)" after ACS_REDIRECT in @s, in place. */
static void hide_acs(char *s)
{
	static const char tag[] = ACS_REDIRECT " (";
	char *p, *end;

	while ((p = strstr(s, tag))) {
		p += strlen(ACS_REDIRECT);
		end = strchr(p, ')');
		if (!end) {
			*p = '\0';	/* truncated within the bits */
			return;
		}
		memmove(p, end + 1, strlen(end + 1) + 1);
		s = p;
	}
}

/**
 * pm_rt_hide_acs() - take the ACS control bits out of an answer's text
 * @res: an answer from pm_rt_explain()
 *
 * The steps of a function with ACS redirect name the control bits set
 * ("ACS redirect (RR CR)"), read from config space past the 64 bytes
 * sysfs shows users without CAP_SYS_ADMIN. For such users: the redirect
 * and where it is stay ("ACS redirect", "ACS redirect at ..."), the bits
 * go. The verdict is unchanged.
 * Context: any.
 */
void pm_rt_hide_acs(struct pm_rt_result *res)
{
	hide_acs(res->reason);
	hide_acs(res->steps);
}
