/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Transitional: the old harness, until every program is on kselftest.
 *
 * A small test harness for in-guest test programs, in the spirit of the
 * kselftest harness: one test per behaviour, named after it, TAP output.
 *
 *   static void copy_dev_to_ram(void) { ASSERT(...); EXPECT(...); }
 *   static const struct test tests[] = { T(copy_dev_to_ram), ... };
 *   int main(int argc, char **argv) { return run_tests(tests, N, argc, argv); }
 *
 * EXPECT records a failure and goes on; ASSERT also leaves the test (the
 * test's own cleanup after the ASSERT is skipped, so tests free what they
 * hold before asserting on it, or use EXPECT).
 */
#ifndef PEERMAP_GUEST_LEGACY_HARNESS_H
#define PEERMAP_GUEST_LEGACY_HARNESS_H

#include <stdio.h>
#include <string.h>

struct test {
	const char *name;
	void (*fn)(void);
};

#define T(fn) { #fn, fn }

static int t_failed;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		printf("#   %s:%d: expected %s: ", __FILE__, __LINE__, #cond); \
		printf(__VA_ARGS__);					\
		printf("\n");						\
		t_failed = 1;						\
	}								\
} while (0)

#define ASSERT(cond, ...) do {						\
	EXPECT(cond, __VA_ARGS__);					\
	if (t_failed)							\
		return;							\
} while (0)

/* Run the tests named on the command line, or all; TAP on stdout. */
static inline int run_tests(const struct test *tests, int n, int argc,
			    char **argv)
{
	int i, j, ran = 0, failed = 0, want;

	for (i = 0; i < n; i++) {
		want = argc < 2;
		for (j = 1; j < argc; j++)
			want |= !strcmp(argv[j], tests[i].name);
		if (!want)
			continue;
		t_failed = 0;
		fflush(stdout);
		tests[i].fn();
		ran++;
		failed += t_failed;
		printf("%sok %d - %s\n", t_failed ? "not " : "", ran,
		       tests[i].name);
		fflush(stdout);
	}
	printf("1..%d\n", ran);
	return failed ? 1 : 0;
}

#endif
