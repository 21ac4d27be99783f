/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-guest tests run on the kernel's own kselftest harness
 * (tools/testing/selftests/kselftest_harness.h, unpacked from the
 * linux-source package by scripts/ksft-harness): FIXTURE / FIXTURE_SETUP /
 * FIXTURE_TEARDOWN, FIXTURE_VARIANT_ADD, TEST_F, SKIP(), every test in a
 * forked child with a timeout, TAP on stdout. The harness the mm and PCI
 * maintainers read every day, rather than one of our own.
 *
 * This header adds what every peermap test program shares: opening the
 * first exporter and importer in a fixture's setup, a longer
 * default timeout for an emulated machine, and the bed's topology facts
 * (/etc/peermap/topology, written by scripts/vm-run) that decide which
 * variants apply: a variant that does not fit the topology SKIPs and says
 * why.
 *
 * A failed ASSERT_*() leaves the test through the harness, which still
 * runs FIXTURE_TEARDOWN in the test's process: teardowns undo what a test
 * changed outside its process (policies, evictions, module parameters,
 * bindings); memory and fds go with the process.
 */
#ifndef PEERMAP_GUEST_HARNESS_H
#define PEERMAP_GUEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "peermap.h"

/*
 * TCG runs the guest about 50 times slower than hardware, the debug kernel
 * three times slower again: 30 s is too short for a test that waits on
 * edu's 100 ms DMA timer many times. Hangs are still caught.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT	180

/*
 * Open the first exporter into @bar and return the first importer's fd in
 * @edu; a failure fails the test (an ASSERT in a setup ends it before the
 * test runs).
 */
static inline void pm_open_devices(struct __test_metadata *_metadata,
				   struct pm_bar *bar, int *edu)
{
	int err = pm_bar_open(0, bar);

	ASSERT_EQ(0, err) TH_LOG("%s/peermap-bar0: %s", pm_dev_dir(), strerror(-err));
	*edu = pm_edu_open(0);
	ASSERT_LE(0, *edu) TH_LOG("%s/peermap-edu0: %s", pm_dev_dir(),
				 strerror(-*edu));
}

/*
 * The value of TOPO_@key in /etc/peermap/topology ("" when absent or not
 * in the bed), in a buffer of the caller's.
 */
static inline const char *pm_topo(const char *key, char *buf, size_t size)
{
	FILE *f = fopen("/etc/peermap/topology", "r");
	char line[512];
	size_t klen = strlen(key), n;
	const char *v;

	buf[0] = '\0';
	if (!f)
		return buf;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "TOPO_", 5) || strncmp(line + 5, key, klen) ||
		    line[5 + klen] != '=')
			continue;
		v = line + 6 + klen;
		if (*v == '"')
			v++;
		n = strcspn(v, "\"\n");
		if (n >= size)
			n = size - 1;
		memcpy(buf, v, n);
		buf[n] = '\0';
		break;
	}
	fclose(f);
	return buf;
}

/* Seconds from the environment variable @name (a budget), or @def. */
static inline int pm_env_seconds(const char *name, int def)
{
	const char *s = getenv(name);

	return s && atoi(s) > 0 ? atoi(s) : def;
}

#endif
