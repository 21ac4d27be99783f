// SPDX-License-Identifier: GPL-2.0
/* Unit tests of pm_parse_size(): the sizes the CLI accepts. */
#include <errno.h>
#include <stdint.h>

#include "peermap.h"
#include "tap.h"

static void good(const char *s, uint64_t want)
{
	uint64_t v = 0;
	int err = pm_parse_size(s, &v);

	tap_ok(!err && v == want, "'%s' is %llu (got %llu, err %d)", s,
	       (unsigned long long)want, (unsigned long long)v, err);
}

static void bad(const char *s, int want)
{
	uint64_t v = 77;
	int err = pm_parse_size(s, &v);

	tap_ok(err == want && v == 77, "'%s' refused with %d (got %d)",
	       s ? s : "(null)", want, err);
}

int main(void)
{
	good("0", 0);
	good("1", 1);
	good("4095", 4095);
	good("0x1000", 4096);
	good("4K", 4096);
	good("4k", 4096);
	good("64KiB", 65536);
	good("3M", 3 << 20);
	good("1MB", 1 << 20);
	good("2G", 2ULL << 30);
	good("17179869183G", 17179869183ULL << 30);
	bad(NULL, -EINVAL);
	bad("", -EINVAL);
	bad("-1", -EINVAL);
	bad("+1", -EINVAL);
	bad(" 1", -EINVAL);
	bad("1X", -EINVAL);
	bad("1KX", -EINVAL);
	bad("K", -EINVAL);
	bad("1.5M", -EINVAL);
	bad("99999999999999999999", -ERANGE);
	bad("17179869184G", -ERANGE);
	return tap_done();
}
