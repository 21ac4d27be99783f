// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of pm_rt_hide_acs() (kernel/core/route_rules.c): what
 * /dev/peermap gives a user without CAP_SYS_ADMIN is the answer with the
 * ACS control bits taken out of its text, and nothing else changed.
 */
#include <stdio.h>
#include <string.h>

#include "route_rules.h"
#include "tap.h"

static void up(struct pm_rt_dev *d, const char *name, u16 acs)
{
	struct pm_rt_node *n = &d->node[d->n++];

	snprintf(n->name, sizeof(n->name), "%s", name);
	n->vendor = 0x104c;
	n->device = 0x8233;
	n->acs_ctrl = acs;
}

/*
 * Below one switch whose two downstream ports redirect, host trusted; the
 * verdict alone must be the explained one.
 */
static void decide(u16 acs, struct pm_rt_result *res)
{
	static struct pm_rt_dev p, c;
	struct pm_rt_env env = { .cpu = "test", .iommu = "translated" };
	struct pm_rt_verdict v;

	memset(&p, 0, sizeof(p));
	memset(&c, 0, sizeof(c));
	up(&p, "0000:03:00.0", 0);
	up(&p, "0000:02:00.0", acs);
	up(&p, "0000:01:00.0", 0);
	up(&c, "0000:04:00.0", 0);
	up(&c, "0000:02:01.0", acs);
	up(&c, "0000:01:00.0", 0);
	snprintf(p.root_bus, sizeof(p.root_bus), "pci0000:00");
	snprintf(c.root_bus, sizeof(c.root_bus), "pci0000:00");
	p.host_known = c.host_known = true;
	p.host_trusted = c.host_trusted = true;
	env.client_translated = true;
	pm_rt_explain(&p, &c, &env, res);
	pm_rt_decide(&p, &c, &env, &v);
	tap_ok(pm_rt_same_verdict(&v, &res->verdict),
	       "ACS %#x: the verdict alone is the explained one", acs);
}

static void test_bits_hidden(void)
{
	static struct pm_rt_result res, hidden;

	decide(PM_RT_ACS_RR | PM_RT_ACS_CR | PM_RT_ACS_EC, &res);
	tap_ok(strstr(res.steps, "0000:02:00.0 [104c:8233]: ACS redirect (RR CR EC)\n") &&
	       strstr(res.steps, "0000:02:01.0 [104c:8233]: ACS redirect (RR CR EC)\n"),
	       "the steps name the bits of both ports");
	hidden = res;
	pm_rt_hide_acs(&hidden);
	tap_ok(strstr(hidden.steps, "0000:02:00.0 [104c:8233]: ACS redirect\n") &&
	       strstr(hidden.steps, "0000:02:01.0 [104c:8233]: ACS redirect\n"),
	       "hidden: both ports still redirect");
	tap_ok(!strstr(hidden.steps, "RR") && !strstr(hidden.steps, " CR") &&
	       !strstr(hidden.steps, " EC"), "hidden: no bits");
	tap_eq(strlen(res.steps) - strlen(hidden.steps), 2 * strlen(" (RR CR EC)"),
	       "hidden: nothing else taken out");
	tap_ok(!strcmp(hidden.reason, res.reason), "reason unchanged: %s",
	       hidden.reason);
	tap_ok(strstr(hidden.reason, "ACS redirect at 0000:02:00.0;0000:02:01.0") != NULL,
	       "reason names where the redirect is");
	tap_ok(pm_rt_same_verdict(&hidden.verdict, &res.verdict),
	       "path, distance, IOVA unchanged");
}

static void test_no_acs_unchanged(void)
{
	static struct pm_rt_result res, hidden;

	decide(0, &res);
	hidden = res;
	pm_rt_hide_acs(&hidden);
	tap_ok(!memcmp(&res, &hidden, sizeof(res)), "no ACS redirect: unchanged");
}

static void test_truncated_bits(void)
{
	static struct pm_rt_result res;

	snprintf(res.steps, sizeof(res.steps),
		 "  0000:02:00.0 [104c:8233]: ACS redirect (RR C");
	pm_rt_hide_acs(&res);
	tap_ok(!strcmp(res.steps, "  0000:02:00.0 [104c:8233]: ACS redirect"),
	       "text truncated within the bits: cut there (%s)", res.steps);
}

int main(void)
{
	test_bits_hidden();
	test_no_acs_unchanged();
	test_truncated_bits();
	return tap_done();
}
