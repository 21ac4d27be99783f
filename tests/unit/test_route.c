// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the route decision (kernel/core/route_rules.c) on
 * synthetic PCIe trees: one test per rule, each checking the path, the
 * distance and the words of the reason. Every case is decided both ways,
 * the verdict alone (pm_rt_decide()) and explained (pm_rt_explain()),
 * and the two verdicts must agree.
 */
#include <stdio.h>
#include <string.h>

#include "route_rules.h"
#include "tap.h"

#define ACS_ON	(PM_RT_ACS_RR | PM_RT_ACS_CR)

/* Push a function onto a device's path: first the device, then upward. */
static void up(struct pm_rt_dev *d, const char *name, u16 vendor, u16 device,
	       u16 acs, bool root_port)
{
	struct pm_rt_node *n = &d->node[d->n++];

	snprintf(n->name, sizeof(n->name), "%s", name);
	n->vendor = vendor;
	n->device = device;
	n->acs_ctrl = acs;
	n->is_root_port = root_port;
}

static void host(struct pm_rt_dev *d, const char *bus, u16 vendor, u16 device)
{
	snprintf(d->root_bus, sizeof(d->root_bus), "%s", bus);
	d->host_known = true;
	d->host_vendor = vendor;
	d->host_device = device;
}

/* The switch topology: root port > upstream > downstream ports > devices. */
static void switch_pair(struct pm_rt_dev *p, struct pm_rt_dev *c, u16 dn_acs)
{
	memset(p, 0, sizeof(*p));
	memset(c, 0, sizeof(*c));
	up(p, "0000:03:00.0", 0x1af4, 0x1110, 0, false);
	up(p, "0000:02:00.0", 0x104c, 0x8233, dn_acs, false);
	up(p, "0000:01:00.0", 0x104c, 0x8232, 0, false);
	up(p, "0000:00:10.0", 0x1b36, 0x000c, 0, true);
	up(c, "0000:04:00.0", 0x1234, 0x11e8, 0, false);
	up(c, "0000:02:01.0", 0x104c, 0x8233, dn_acs, false);
	up(c, "0000:01:00.0", 0x104c, 0x8232, 0, false);
	up(c, "0000:00:10.0", 0x1b36, 0x000c, 0, true);
	host(p, "pci0000:00", 0x8086, 0x29c0);
	host(c, "pci0000:00", 0x8086, 0x29c0);
}

/* Two root ports of one host bridge with IDs @hv:@hd. */
static void rootport_pair(struct pm_rt_dev *p, struct pm_rt_dev *c, u16 hv, u16 hd)
{
	memset(p, 0, sizeof(*p));
	memset(c, 0, sizeof(*c));
	up(p, "0000:01:00.0", 0x1af4, 0x1110, 0, false);
	up(p, "0000:00:10.0", 0x1b36, 0x000c, ACS_ON, true);
	up(c, "0000:02:00.0", 0x1234, 0x11e8, 0, false);
	up(c, "0000:00:11.0", 0x1b36, 0x000c, ACS_ON, true);
	host(p, "pci0000:00", hv, hd);
	host(c, "pci0000:00", hv, hd);
}

static const struct pm_rt_env plain = {
	.cpu = "AuthenticAMD family 0xf", .iommu = "not translated (no IOMMU)",
};

static struct pm_rt_result res;

/*
 * Decide with the explanation, into res, and check that the verdict alone
 * (what the map path asks for and the cache keeps) is the same: one check
 * per case, so every topology below is decided both ways.
 */
static void decide(const struct pm_rt_dev *p, const struct pm_rt_dev *c,
		   const struct pm_rt_env *env, const char *what)
{
	struct pm_rt_verdict v;

	pm_rt_explain(p, c, env, &res);
	memset(&v, 0xa5, sizeof(v));
	pm_rt_decide(p, c, env, &v);
	tap_ok(pm_rt_same_verdict(&v, &res.verdict),
	       "%s: the verdict alone is the explained one (%s, %d%s)", what,
	       pm_rt_path_name(v.path), v.distance, v.iova ? ", IOVA" : "");
	if (!pm_rt_same_verdict(&v, &res.verdict))
		printf("#   explained: %s, %d%s\n", pm_rt_path_name(res.verdict.path),
		       res.verdict.distance, res.verdict.iova ? ", IOVA" : "");
}

static int has(const char *text, const char *words)
{
	int yes = strstr(text, words) != NULL;

	if (!yes)
		printf("#   '%s' not in: %s\n", words, text);
	return yes;
}

static void test_same_switch(void)
{
	struct pm_rt_dev p, c;

	switch_pair(&p, &c, 0);
	decide(&p, &c, &plain, "same switch");
	tap_eq(res.verdict.path, PM_RT_SWITCH, "same switch: switch");
	tap_eq(res.verdict.distance, 4, "same switch: 2 hops up from each device");
	tap_ok(has(res.reason, "common upstream bridge 0000:01:00.0 [104c:8232]"),
	       "same switch: reason names the upstream port");
	tap_ok(!res.verdict.iova, "same switch: bus address");
}

static void test_switch_ignores_iommu(void)
{
	struct pm_rt_env env = plain;
	struct pm_rt_dev p, c;

	env.client_translated = true;
	env.iommu = "DMA domain";
	switch_pair(&p, &c, 0);
	decide(&p, &c, &env, "same switch, IOMMU on");
	tap_ok(res.verdict.path == PM_RT_SWITCH && !res.verdict.iova,
	       "switch route stays a bus address with an IOMMU (never reaches it)");
}

static void test_two_level_switch(void)
{
	struct pm_rt_dev p, c;

	/* provider below an inner switch hanging off the outer one */
	memset(&p, 0, sizeof(p));
	memset(&c, 0, sizeof(c));
	up(&p, "0000:06:00.0", 0x1af4, 0x1110, 0, false);
	up(&p, "0000:05:00.0", 0x104c, 0x8233, 0, false);
	up(&p, "0000:04:00.0", 0x104c, 0x8232, 0, false);
	up(&p, "0000:03:00.0", 0x104c, 0x8233, 0, false);
	up(&p, "0000:02:00.0", 0x104c, 0x8232, 0, false);
	up(&p, "0000:01:10.0", 0x1b36, 0x000c, 0, true);
	up(&c, "0000:07:00.0", 0x1234, 0x11e8, 0, false);
	up(&c, "0000:03:01.0", 0x104c, 0x8233, 0, false);
	up(&c, "0000:02:00.0", 0x104c, 0x8232, 0, false);
	up(&c, "0000:01:10.0", 0x1b36, 0x000c, 0, true);
	host(&p, "pci0000:00", 0x8086, 0x29c0);
	host(&c, "pci0000:00", 0x8086, 0x29c0);
	decide(&p, &c, &plain, "two levels of switches");
	tap_eq(res.verdict.path, PM_RT_SWITCH, "two levels of switches: switch");
	tap_eq(res.verdict.distance, 6, "two levels: 4 hops up from the provider, 2 from the client");
	tap_ok(has(res.reason, "0000:02:00.0"), "two levels: meet at the outer upstream port");
}

static void test_acs_redirect_untrusted_host(void)
{
	struct pm_rt_dev p, c;

	switch_pair(&p, &c, ACS_ON);
	decide(&p, &c, &plain, "ACS redirect, untrusted host bridge");
	tap_eq(res.verdict.path, PM_RT_NONE, "ACS redirect, untrusted host bridge: none");
	tap_ok(has(res.reason, "ACS redirect at 0000:02:00.0;0000:02:01.0"),
	       "ACS redirect: reason lists both downstream ports");
	tap_ok(has(res.reason, "[8086:29c0] is not known to forward peer traffic"),
	       "ACS redirect: reason names the host bridge");
	tap_ok(has(res.steps, "pci=disable_acs_redir=0000:02:00.0;0000:02:01.0"),
	       "ACS redirect: steps say how to disable it");
	tap_ok(has(res.steps, "to trust pci0000:00: add 8086:29c0 to /sys/module/peermap/parameters/trust_host_bridge"),
	       "steps say how to trust the host bridge");
}

static void test_acs_redirect_allow_listed_host(void)
{
	struct pm_rt_dev p, c;

	switch_pair(&p, &c, ACS_ON);
	p.host_device = c.host_device = 0x2030;
	decide(&p, &c, &plain, "ACS redirect, allow-listed host bridge");
	tap_eq(res.verdict.path, PM_RT_HOST_BRIDGE, "ACS redirect, allow-listed host: host-bridge");
	tap_ok(has(res.reason, "ACS redirect at 0000:02:00.0") &&
	       has(res.reason, "[8086:2030] is on the P2PDMA allow list"),
	       "ACS redirect, allow list: both in the reason");
}

static void test_acs_at_meeting_point(void)
{
	struct pm_rt_dev p, c;

	/* two functions under one root port whose ACS redirects */
	memset(&p, 0, sizeof(p));
	memset(&c, 0, sizeof(c));
	up(&p, "0000:01:00.0", 0x1af4, 0x1110, 0, false);
	up(&p, "0000:00:10.0", 0x1b36, 0x000c, ACS_ON, true);
	up(&c, "0000:01:00.1", 0x1234, 0x11e8, 0, false);
	up(&c, "0000:00:10.0", 0x1b36, 0x000c, ACS_ON, true);
	host(&p, "pci0000:00", 0x8086, 0x29c0);
	host(&c, "pci0000:00", 0x8086, 0x29c0);
	decide(&p, &c, &plain, "ACS at the shared root port");
	tap_ok(res.verdict.path == PM_RT_NONE && has(res.reason, "ACS redirect at 0000:00:10.0"),
	       "ACS at the shared root port redirects (Linux counts the meeting point)");
	p.node[1].acs_ctrl = c.node[1].acs_ctrl = 0;
	decide(&p, &c, &plain, "shared root port without ACS");
	tap_ok(res.verdict.path == PM_RT_SWITCH && res.verdict.distance == 2,
	       "shared root port without ACS redirect: by bus address, 2 hops");
}

static void test_no_common_bridge(void)
{
	struct pm_rt_dev p, c;

	rootport_pair(&p, &c, 0x8086, 0x29c0);
	p.node[1].acs_ctrl = c.node[1].acs_ctrl = 0;
	decide(&p, &c, &plain, "separate root ports, q35");
	tap_eq(res.verdict.path, PM_RT_NONE, "separate root ports, q35 host bridge: none");
	tap_eq(res.verdict.distance, 4, "separate root ports: 2 + 2 hops");
	tap_ok(has(res.reason, "no common upstream bridge") &&
	       has(res.reason, "pci0000:00 [8086:29c0] is not known"),
	       "no common bridge: reason names the host bridge");
}

static void test_cpu_rule(void)
{
	struct pm_rt_env env = plain;
	struct pm_rt_dev p, c;

	env.cpu_forwards = true;
	env.cpu = "AuthenticAMD family 0x19";
	rootport_pair(&p, &c, 0x8086, 0x29c0);
	decide(&p, &c, &env, "AMD Zen CPU");
	tap_eq(res.verdict.path, PM_RT_HOST_BRIDGE, "AMD Zen CPU: host-bridge");
	tap_ok(has(res.reason, "CPU AuthenticAMD family 0x19 forwards peer traffic"),
	       "CPU rule in the reason");
}

static void test_admin_trusted_host(void)
{
	struct pm_rt_dev p, c;

	rootport_pair(&p, &c, 0x8086, 0x29c0);
	p.host_trusted = c.host_trusted = true;
	decide(&p, &c, &plain, "host bridge trusted by the administrator");
	tap_eq(res.verdict.path, PM_RT_HOST_BRIDGE, "host bridge trusted by the administrator: host-bridge");
	tap_ok(has(res.reason, "[8086:29c0] trusted by the administrator"),
	       "administrator trust in the reason");
	tap_ok(!res.verdict.iova && has(res.reason, "by bus address"), "no IOMMU: bus address");
}

static void test_iommu_gives_iova(void)
{
	struct pm_rt_env env = plain;
	struct pm_rt_dev p, c;

	env.client_translated = true;
	env.iommu = "translated (DMA-FQ domain)";
	rootport_pair(&p, &c, 0x8086, 0x2030);
	decide(&p, &c, &env, "IOMMU on, allow-listed host bridge");
	tap_ok(res.verdict.path == PM_RT_HOST_BRIDGE && res.verdict.iova, "IOMMU on: host-bridge by IOVA");
	tap_ok(has(res.reason, "client DMA translated (DMA-FQ domain): by IOVA"),
	       "IOMMU state in the reason");
}

static void test_same_host_bridge_only_entry(void)
{
	struct pm_rt_dev p, c;

	rootport_pair(&p, &c, 0x8086, 0x3c00);
	decide(&p, &c, &plain, "Xeon E5 entry, one host bridge");
	tap_eq(res.verdict.path, PM_RT_HOST_BRIDGE, "Xeon E5 entry, one host bridge: host-bridge");
	snprintf(c.root_bus, sizeof(c.root_bus), "pci0000:80");
	decide(&p, &c, &plain, "Xeon E5 entry, two host bridges");
	tap_eq(res.verdict.path, PM_RT_NONE, "Xeon E5 entry, two host bridges: none");
	tap_ok(has(res.reason, "between host bridges"), "same-host-bridge-only said");
}

/* The entries Linux 7.3 added: DSA/IAX/QAT root ports, Google, Nvidia CPUs. */
static void test_allow_list_of_linux_7_3(void)
{
	tap_ok(pm_rt_host_allowed(0x8086, 0x0b25, false), "Intel DSA (SPR) allow-listed");
	tap_ok(pm_rt_host_allowed(0x8086, 0x4948, false), "Intel QAT 6xxx allow-listed");
	tap_ok(pm_rt_host_allowed(0x1ae0, 0x0042, false), "any Google device allow-listed");
	tap_ok(pm_rt_host_allowed(0x10de, 0x2f95, false), "Nvidia CPU 2f95 allow-listed");
	tap_ok(!pm_rt_host_allowed(0x10de, 0x2f99, true), "Nvidia 2f99 not allow-listed");
	tap_ok(!pm_rt_host_allowed(0x8086, 0x29c0, true), "q35's 8086:29c0 not allow-listed");
	tap_ok(!pm_rt_host_allowed(0x8086, 0x3c00, false) && pm_rt_host_allowed(0x8086, 0x3c00, true),
	       "Xeon E5 8086:3c00 within one host bridge only");
}

static void test_different_host_bridges(void)
{
	struct pm_rt_dev p, c;

	rootport_pair(&p, &c, 0x8086, 0x2030);
	snprintf(c.root_bus, sizeof(c.root_bus), "pci0000:80");
	decide(&p, &c, &plain, "two allow-listed host bridges");
	tap_eq(res.verdict.path, PM_RT_HOST_BRIDGE, "two allow-listed host bridges: host-bridge");
	tap_ok(has(res.reason, "different host bridges"), "different host bridges said");
	c.host_device = 0x29c0;
	decide(&p, &c, &plain, "one untrusted host bridge of two");
	tap_ok(res.verdict.path == PM_RT_NONE && has(res.reason, "pci0000:80 [8086:29c0] is not known"),
	       "one untrusted host bridge of two: none, naming it");
	tap_ok(has(res.steps, "to trust pci0000:80: add 8086:29c0") &&
	       !strstr(res.steps, "to trust pci0000:00"),
	       "the hint names only the untrusted host bridge");
	c.host_known = false;
	decide(&p, &c, &plain, "unidentifiable host bridge");
	tap_ok(res.verdict.path == PM_RT_NONE && has(res.reason, "no host bridge device"),
	       "unidentifiable host bridge: none");
}

static void test_same_device_and_functions(void)
{
	struct pm_rt_dev p, c;

	switch_pair(&p, &c, 0);
	decide(&p, &p, &plain, "same device");
	tap_ok(res.verdict.path == PM_RT_SWITCH && res.verdict.distance == 0 &&
	       has(res.reason, "same device"), "same device: switch, distance 0");
	c = p;
	snprintf(c.node[0].name, sizeof(c.node[0].name), "0000:03:00.1");
	decide(&p, &c, &plain, "two functions of one device");
	tap_ok(res.verdict.path == PM_RT_SWITCH && res.verdict.distance == 2 &&
	       has(res.reason, "0000:02:00.0"),
	       "two functions of one device meet at their port: switch, 2 hops");
	p.node[0].acs_ctrl = ACS_ON;
	decide(&p, &c, &plain, "multi-function ACS redirect");
	tap_ok(res.verdict.path == PM_RT_NONE && has(res.reason, "ACS redirect at 0000:03:00.0"),
	       "multi-function ACS redirect on the provider counts");
}

static void test_overrides(void)
{
	struct pm_rt_env env = plain;
	struct pm_rt_dev p, c;

	switch_pair(&p, &c, 0);
	env.override = PM_RT_OVR_DENY;
	decide(&p, &c, &env, "deny override");
	tap_ok(res.verdict.path == PM_RT_NONE && has(res.reason, "denied by administrator override"),
	       "deny override wins over a switch route");

	rootport_pair(&p, &c, 0x8086, 0x29c0);
	env.override = PM_RT_OVR_ALLOW;
	decide(&p, &c, &env, "allow override");
	tap_ok(res.verdict.path == PM_RT_HOST_BRIDGE && has(res.reason, "allowed by administrator override"),
	       "allow override opens an untrusted host bridge");

	switch_pair(&p, &c, 0);
	p.host_trusted = true;
	env.override = PM_RT_OVR_HOST_BRIDGE;
	decide(&p, &c, &env, "host-bridge override, trusted");
	tap_ok(res.verdict.path == PM_RT_HOST_BRIDGE && has(res.reason, "forced through the host bridge"),
	       "host-bridge override replaces a switch route");
	p.host_trusted = false;
	decide(&p, &c, &env, "host-bridge override, untrusted");
	tap_eq(res.verdict.path, PM_RT_NONE, "host-bridge override still needs a trusted host bridge");
}

int main(void)
{
	test_same_switch();
	test_switch_ignores_iommu();
	test_two_level_switch();
	test_acs_redirect_untrusted_host();
	test_acs_redirect_allow_listed_host();
	test_acs_at_meeting_point();
	test_no_common_bridge();
	test_cpu_rule();
	test_admin_trusted_host();
	test_iommu_gives_iova();
	test_same_host_bridge_only_entry();
	test_allow_list_of_linux_7_3();
	test_different_host_bridges();
	test_same_device_and_functions();
	test_overrides();
	return tap_done();
}
