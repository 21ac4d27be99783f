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

static const struct {
	u16 vendor, device;
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
};

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

bool pm_rt_host_allowed(u16 vendor, u16 device, bool same_host_bridge)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pm_rt_allow_list); i++) {
		if (pm_rt_allow_list[i].vendor != vendor ||
		    pm_rt_allow_list[i].device != device)
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

/* Append to a bounded text buffer; truncation is accepted. */
static __printf(3, 4) void rt_append(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

#define addf(buf, ...) rt_append(buf, PM_RT_STEPS_LEN, __VA_ARGS__)

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

/* Does a host bridge forward peer traffic? Says why in @why. */
static bool host_trusted(const struct pm_rt_dev *d, bool same, char *why,
			 size_t size)
{
	if (d->host_trusted) {
		rt_printf(why, size, "%s [%04x:%04x] trusted by the administrator",
			  d->root_bus, d->host_vendor, d->host_device);
		return true;
	}
	if (!d->host_known) {
		rt_printf(why, size, "%s has no host bridge device to identify it",
			  d->root_bus);
		return false;
	}
	if (pm_rt_host_allowed(d->host_vendor, d->host_device, same)) {
		rt_printf(why, size, "%s [%04x:%04x] is on the P2PDMA allow list",
			  d->root_bus, d->host_vendor, d->host_device);
		return true;
	}
	rt_printf(why, size, "%s [%04x:%04x] is not known to forward peer traffic%s",
		  d->root_bus, d->host_vendor, d->host_device,
		  pm_rt_host_allowed(d->host_vendor, d->host_device, true) ?
		  " between host bridges" : "");
	return false;
}

/* How to trust @d's host bridge, if it can be identified. */
static void trust_hint(struct pm_rt_result *res, const struct pm_rt_dev *d)
{
	if (!d->host_known ||
	    pm_rt_host_allowed(d->host_vendor, d->host_device, true))
		return;
	addf(res->steps,
	     "  to trust %s: add %04x:%04x to /sys/module/peermap/parameters/trust_host_bridge (comma-separated)\n",
	     d->root_bus, d->host_vendor, d->host_device);
}

void pm_rt_decide(const struct pm_rt_dev *provider, const struct pm_rt_dev *client,
		  const struct pm_rt_env *env, struct pm_rt_result *res)
{
	char acs_list[128] = "", bits[16], why_a[112] = "", why_b[112] = "";
	const char *how;
	bool same_host, trusted;
	int a, b = -1, i;

	memset(res, 0, sizeof(*res));
	res->path = PM_RT_NONE;

	/* 1. Where do the two paths meet, and is there ACS redirect? */
	addf(res->steps, "provider %s, client %s\n", provider->node[0].name,
	     client->node[0].name);
	for (a = 0; a < provider->n; a++) {
		const struct pm_rt_node *n = &provider->node[a];

		if (acs_redirects(n)) {
			acs_bits(n, bits, sizeof(bits));
			addf(res->steps, "  %s [%04x:%04x]: " ACS_REDIRECT " (%s)\n",
			     n->name, n->vendor, n->device, bits);
			rt_append(acs_list, sizeof(acs_list), "%s%s",
				  *acs_list ? ";" : "", n->name);
		}
		b = find_node(client, n->name);
		if (b >= 0)
			break;
		addf(res->steps, "  %s [%04x:%04x]: up from the provider\n",
		     n->name, n->vendor, n->device);
	}
	if (b >= 0) {
		for (i = b - 1; i >= 0; i--) {
			const struct pm_rt_node *n = &client->node[i];

			if (acs_redirects(n)) {
				acs_bits(n, bits, sizeof(bits));
				addf(res->steps, "  %s [%04x:%04x]: " ACS_REDIRECT " (%s)\n",
				     n->name, n->vendor, n->device, bits);
				rt_append(acs_list, sizeof(acs_list), "%s%s",
					  *acs_list ? ";" : "", n->name);
			} else {
				addf(res->steps, "  %s [%04x:%04x]: down to the client\n",
				     n->name, n->vendor, n->device);
			}
		}
		res->distance = a + b;
		addf(res->steps, "  they meet at %s [%04x:%04x], %d hops in all\n",
		     provider->node[a].name, provider->node[a].vendor,
		     provider->node[a].device, res->distance);
	} else {
		res->distance = provider->n + client->n;
		addf(res->steps, "  no common upstream bridge: they meet at the root complex\n");
	}

	if (env->override == PM_RT_OVR_DENY) {
		addf(res->steps, "  administrator override: deny\n");
		rt_printf(res->reason, sizeof(res->reason),
			  "denied by administrator override for %s,%s",
			  provider->node[0].name, client->node[0].name);
		return;
	}

	/* 2. Below a common bridge without redirect: by bus address. */
	if (b >= 0 && !*acs_list) {
		if (env->override != PM_RT_OVR_HOST_BRIDGE) {
			res->path = PM_RT_SWITCH;
			if (!a && !b)
				rt_printf(res->reason, sizeof(res->reason),
					  "same device, no ACS redirect: by bus address");
			else
				rt_printf(res->reason, sizeof(res->reason),
					  "common upstream bridge %s [%04x:%04x], no ACS redirect: by bus address",
					  provider->node[a].name, provider->node[a].vendor,
					  provider->node[a].device);
			addf(res->steps, "  => switch: %s\n", res->reason);
			return;
		}
		addf(res->steps, "  administrator override: through the host bridge\n");
	}

	/* 3. Through the root complex: does it forward peer traffic? */
	same_host = !strcmp(provider->root_bus, client->root_bus);
	if (env->cpu_forwards) {
		trusted = true;
		rt_printf(why_a, sizeof(why_a), "CPU %s forwards peer traffic",
			  env->cpu);
	} else {
		trusted = host_trusted(provider, same_host, why_a, sizeof(why_a));
		if (!same_host)
			trusted &= host_trusted(client, false, why_b, sizeof(why_b));
	}
	addf(res->steps, "  host bridge: %s%s%s\n", why_a, *why_b ? "; " : "", why_b);
	if (!trusted && env->override == PM_RT_OVR_ALLOW) {
		addf(res->steps, "  administrator override: allow\n");
		trusted = true;
		rt_printf(why_a, sizeof(why_a), "allowed by administrator override");
		*why_b = '\0';
	}
	if (!trusted) {
		rt_printf(res->reason, sizeof(res->reason),
			  "%s%s, and host bridge %s%s%s: no route",
			  *acs_list ? "ACS redirect at " : "no common upstream bridge",
			  acs_list, why_a, *why_b ? "; " : "", why_b);
		if (*acs_list)
			addf(res->steps,
			     "  to route below the common bridge instead: pci=disable_acs_redir=%s\n",
			     acs_list);
		if (!env->cpu_forwards) {
			if (!provider->host_trusted)
				trust_hint(res, provider);
			if (!same_host && !client->host_trusted)
				trust_hint(res, client);
		}
		addf(res->steps, "  => none: %s\n", res->reason);
		return;
	}

	res->path = PM_RT_HOST_BRIDGE;
	res->iova = env->client_translated;
	how = res->iova ? "by IOVA" : "by bus address";
	addf(res->steps, "  client DMA: %s: %s\n", env->iommu, how);
	if (env->override == PM_RT_OVR_HOST_BRIDGE)
		rt_printf(res->reason, sizeof(res->reason),
			  "forced through the host bridge by administrator override");
	else if (*acs_list)
		rt_printf(res->reason, sizeof(res->reason), "ACS redirect at %s",
			  acs_list);
	else
		rt_printf(res->reason, sizeof(res->reason),
			  "no common upstream bridge");
	rt_append(res->reason, sizeof(res->reason), "%s; %s; client DMA %s: %s",
		  same_host ? "" : ", different host bridges", why_a,
		  env->iommu, how);
	addf(res->steps, "  => host-bridge: %s\n", res->reason);
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
 * @res: an answer from pm_rt_decide(), or a copy of one
 *
 * The steps of a function with ACS redirect name the control bits set
 * ("ACS redirect (RR CR)"), read from config space past the 64 bytes
 * sysfs shows users without CAP_SYS_ADMIN. For such users: the redirect
 * and where it is stay ("ACS redirect", "ACS redirect at ..."), the bits
 * go. Path, distance and IOVA are unchanged.
 */
void pm_rt_hide_acs(struct pm_rt_result *res)
{
	hide_acs(res->reason);
	hide_acs(res->steps);
}
