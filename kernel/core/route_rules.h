/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The route decision, apart from the kernel objects it is computed from:
 * a pure function of the two devices' paths to the root, their host
 * bridges, the IOMMU and CPU facts and the administrator's overrides. The
 * core fills these structures from struct pci_dev (route.c); the unit
 * tests fill them with synthetic trees (tests/unit/test_route.c), so this
 * file builds both in the kernel and in user space.
 *
 * One run of the rules has two outputs: the verdict alone (pm_rt_decide(),
 * for the map path and the route cache: no text is written), or the same
 * verdict with the reason and steps people read (pm_rt_explain()).
 */
#ifndef _PEERMAP_ROUTE_RULES_H
#define _PEERMAP_ROUTE_RULES_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
/* User space (the unit tests): the few kernel names this code uses. */
#include <stdbool.h>
#include <stddef.h>
typedef unsigned short u16;
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

#define PM_RT_MAX_DEPTH		16	/* bridges above a device */
#define PM_RT_NAME_LEN		16	/* "dddd:bb:dd.f" + NUL, rounded */
#define PM_RT_REASON_LEN	256
#define PM_RT_STEPS_LEN		1024

enum pm_rt_path {
	PM_RT_NONE = 0,
	PM_RT_SWITCH = 1,	/* below a common bridge, by bus address */
	PM_RT_HOST_BRIDGE = 2,	/* through the root complex */
};

enum pm_rt_override {
	PM_RT_OVR_NONE = 0,
	PM_RT_OVR_ALLOW,	/* use the host bridge even if not trusted */
	PM_RT_OVR_DENY,		/* never */
	PM_RT_OVR_HOST_BRIDGE,	/* through the root complex even if a switch would do */
};

/* One PCI function on a device's way to the root. */
struct pm_rt_node {
	char name[PM_RT_NAME_LEN];
	u16 vendor, device;
	u16 acs_ctrl;		/* ACS control register, 0 without ACS */
	bool is_root_port;
};

/* A device, the bridges above it, and the host bridge of its root bus. */
struct pm_rt_dev {
	int n;					/* node[0] is the device */
	struct pm_rt_node node[PM_RT_MAX_DEPTH + 1];
	char root_bus[PM_RT_NAME_LEN];		/* "pci0000:00": the host bridge */
	bool host_known;			/* a host bridge device was found */
	/* its IDs: the root bus's first device, if 00.0 or a root port */
	u16 host_vendor, host_device;
	bool host_trusted;			/* by the administrator */
};

/* Facts about the machine and the request, gathered by the caller. */
struct pm_rt_env {
	bool cpu_forwards;		/* the CPU vendor rule (AMD Zen and later) */
	const char *cpu;		/* for the reason, e.g. "AuthenticAMD family 0xf" */
	bool client_translated;		/* the client's DMA goes through an IOMMU */
	const char *iommu;		/* for the reason, e.g. "DMA-FQ domain" */
	enum pm_rt_override override;	/* for this pair */
};

/**
 * struct pm_rt_verdict - what a route decision says, without why
 * @path: how the client reaches the provider's memory, or PM_RT_NONE
 * @distance: hops from each device to where their paths meet, added up
 *	(to the root complex when they do not meet below it)
 * @iova: the client reaches the peer through an IOVA (pm_dma_map_mmio()),
 *	not the bus address; only with PM_RT_HOST_BRIDGE
 *
 * All the map path reads, and all the route cache keeps.
 */
struct pm_rt_verdict {
	enum pm_rt_path path;
	int distance;
	bool iova;
};

/**
 * struct pm_rt_result - a route decision and its explanation
 * @verdict: the decision, as pm_rt_decide() gives it
 * @reason: one line naming what decided it: the bridge, the ACS setting,
 *	the host bridge, the override
 * @steps: the decision, one step per line, with hints on how to get a
 *	route where there is none
 *
 * Built by pm_rt_explain() only when someone asks why: `peermap route`,
 * `peermap topo`, debugfs and log lines. Never cached.
 */
struct pm_rt_result {
	struct pm_rt_verdict verdict;
	char reason[PM_RT_REASON_LEN];
	char steps[PM_RT_STEPS_LEN];
};

/* ACS control bits that send peer traffic up to the root complex. */
#define PM_RT_ACS_RR		0x0004	/* P2P request redirect */
#define PM_RT_ACS_CR		0x0008	/* P2P completion redirect */
#define PM_RT_ACS_EC		0x0020	/* P2P egress control */

void pm_rt_decide(const struct pm_rt_dev *provider, const struct pm_rt_dev *client,
		  const struct pm_rt_env *env, struct pm_rt_verdict *v);
void pm_rt_explain(const struct pm_rt_dev *provider, const struct pm_rt_dev *client,
		   const struct pm_rt_env *env, struct pm_rt_result *res);
/* Take the ACS control bits out of an answer's text (for unprivileged users). */
void pm_rt_hide_acs(struct pm_rt_result *res);
const char *pm_rt_path_name(enum pm_rt_path path);
/* Host bridges Linux's P2PDMA knows to forward peer traffic. */
bool pm_rt_host_allowed(u16 vendor, u16 device, bool same_host_bridge);

/**
 * pm_rt_same_verdict() - do two decisions agree?
 * @a: a verdict
 * @b: another
 *
 * Context: any.
 * Return: true if path, distance and IOVA are the same.
 */
static inline bool pm_rt_same_verdict(const struct pm_rt_verdict *a,
				      const struct pm_rt_verdict *b)
{
	return a->path == b->path && a->distance == b->distance &&
	       a->iova == b->iova;
}

#endif /* _PEERMAP_ROUTE_RULES_H */
