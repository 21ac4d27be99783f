// SPDX-License-Identifier: GPL-2.0
/*
 * The in-guest tests' promise that a failed ASSERT does not leak into the
 * next test rests on the kselftest harness running FIXTURE_TEARDOWN after
 * it. The 6.12 harness lost that at -O2 (scripts/ksft-harness patches its
 * copy): built with the guest tests' flags, this program proves it again.
 * The first test fails on purpose (XFAIL); the second checks that the
 * first one's teardown ran, through memory shared before the forks.
 */
#include <stdbool.h>
#include <sys/mman.h>

#include "kselftest_harness.h"

static volatile int *teardowns;

static void __attribute__((constructor)) shared_counter(void)
{
	teardowns = mmap(NULL, sizeof(*teardowns), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
}

FIXTURE(teardown) {
	int unused;
};

FIXTURE_VARIANT(teardown) {
	bool fail;
};

FIXTURE_VARIANT_ADD(teardown, after_assert) {
	.fail = true,
};

FIXTURE_SETUP(teardown)
{
	ASSERT_NE(MAP_FAILED, (void *)teardowns);
}

FIXTURE_TEARDOWN(teardown)
{
	(*teardowns)++;
}

TEST_F(teardown, runs)
{
	ASSERT_FALSE(variant->fail) TH_LOG("failing on purpose");
	/* Not reached: the ASSERT left the test. */
	*teardowns += 100;
}

XFAIL_ADD(teardown, after_assert, runs);

/* A fixture registered after "teardown" runs after it ("global" runs first). */
FIXTURE(afterwards) {
	int unused;
};

FIXTURE_SETUP(afterwards)
{
}

FIXTURE_TEARDOWN(afterwards)
{
}

TEST_F(afterwards, teardown_ran_once_after_the_failed_assert)
{
	ASSERT_EQ(1, *teardowns);
}

TEST_HARNESS_MAIN
