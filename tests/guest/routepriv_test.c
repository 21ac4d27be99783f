// SPDX-License-Identifier: GPL-2.0
/*
 * In-guest tests of what /dev/peermap (PEERMAP_IOC_ROUTE, open to every
 * user) gives a user without CAP_SYS_ADMIN, asked from a child process
 * running as nobody (uid and gid 65534): the answers root gets, without
 * the ACS control bits that sysfs config space hides from such users too,
 * and no growth of the route cache. And the cache's bound for everyone:
 * never more than route_cache_max answers.
 *
 * Fixtures: "routes" lists the guest's PCI devices and names the first
 * exporter and importer (in the test's own process: every test is forked);
 * "acs" too, in two variants, for the topologies with and without ACS
 * redirect between the exporter and the importer (TOPO_EXPECT_ROUTE_REASON);
 * the one that does not fit is skipped. Both put route_cache_max back and
 * drop the cache when a test ends, however it ends.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

#define NOBODY		65534
#define MAX_DEVS	48
#define ROUTES		"/sys/kernel/debug/peermap/routes"
#define CACHE_MAX	"/sys/module/peermap/parameters/route_cache_max"

struct answer {
	int err;
	struct peermap_route_query q;
};

static char devs[MAX_DEVS][32];
static int ndevs;
static char exporter[32], importer[32];

/* Every PCI device of the guest. */
static int list_devices(void)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d)) && ndevs < MAX_DEVS) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(devs[0]))
			continue;
		strcpy(devs[ndevs++], de->d_name);
	}
	closedir(d);
	return 0;
}

/* Drop to nobody, for good; 0 or -errno. */
static int become_nobody(void)
{
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		return -errno;
	return getuid() == NOBODY && geteuid() == NOBODY ? 0 : -EPERM;
}

/*
 * Ask for @n pairs (@pairs[2 * i] the provider, @pairs[2 * i + 1] the
 * client) as root, or as nobody from a child process. The answers are in
 * shared memory the caller unmaps (free_answers()); NULL if the asking
 * could not be done at all.
 */
static struct answer *ask(const char (*pairs)[32], int n, int as_nobody)
{
	size_t size = sizeof(struct answer) * (n ? n : 1);
	struct answer *a;
	pid_t pid;
	int i, st;

	a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		 -1, 0);
	if (a == MAP_FAILED)
		return NULL;
	if (!as_nobody) {
		for (i = 0; i < n; i++)
			a[i].err = pm_route(pairs[2 * i], pairs[2 * i + 1], &a[i].q);
		return a;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		munmap(a, size);
		return NULL;
	}
	if (!pid) {
		if (become_nobody())
			_exit(2);
		for (i = 0; i < n; i++)
			a[i].err = pm_route(pairs[2 * i], pairs[2 * i + 1], &a[i].q);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		printf("#   the child running as nobody failed (status %#x)\n", st);
		munmap(a, size);
		return NULL;
	}
	return a;
}

static void free_answers(struct answer *a, int n)
{
	munmap(a, sizeof(*a) * (n ? n : 1));
}

/* Every ordered pair of PCI devices, as ask() takes them. */
static char (*all_pairs(int *n))[32]
{
	char (*p)[32] = calloc(2 * ndevs * ndevs, sizeof(*p));
	int i, j, k = 0;

	if (!p)
		return NULL;
	for (i = 0; i < ndevs; i++)
		for (j = 0; j < ndevs; j++) {
			strcpy(p[k++], devs[i]);
			strcpy(p[k++], devs[j]);
		}
	*n = ndevs * ndevs;
	return p;
}

/* Lines of debugfs peermap/routes (one per cached answer), or -1. */
static int cached_routes(void)
{
	FILE *f = fopen(ROUTES, "r");
	int c, lines = 0;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		lines += c == '\n';
	fclose(f);
	return lines;
}

static int flush_cache(void)
{
	return write_file(ROUTES, "1\n");
}

/*
 * @s with the ACS control bits taken out: "ACS redirect (RR CR)" becomes
 * "ACS redirect", what a user without CAP_SYS_ADMIN should get. @out is as
 * large as @s.
 */
static void without_bits(const char *s, char *out)
{
	static const char tag[] = "ACS redirect (";
	const char *p, *end;
	size_t len;

	while ((p = strstr(s, tag))) {
		len = p - s + strlen("ACS redirect");
		memcpy(out, s, len);
		out += len;
		end = strchr(p, ')');
		if (!end) {
			*out = '\0';
			return;
		}
		s = end + 1;
	}
	strcpy(out, s);
}

static int has_bits(const char *s)
{
	return strstr(s, "ACS redirect (") || strstr(s, "(RR") ||
	       strstr(s, "(CR") || strstr(s, "(EC");
}

/* --- fixtures ----------------------------------------------------------- */

/*
 * Every PCI device and the exporter-importer pair, in this test's process;
 * route_cache_max as it was, for the teardown to put back.
 */
static void routes_prepare(struct __test_metadata *_metadata, char *cache_max,
			   size_t size)
{
	int fd, err;
	ssize_t len;

	err = list_devices();
	ASSERT_EQ(0, err) TH_LOG("/sys/bus/pci/devices: %s", strerror(-err));
	ASSERT_LE(2, ndevs) TH_LOG("%d PCI devices", ndevs);
	err = pm_node_pci_name("peermap-bar0", exporter, sizeof(exporter));
	ASSERT_EQ(0, err) TH_LOG("peermap-bar0: %s", strerror(-err));
	err = pm_node_pci_name("peermap-edu0", importer, sizeof(importer));
	ASSERT_EQ(0, err) TH_LOG("peermap-edu0: %s", strerror(-err));
	fd = open(CACHE_MAX, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", CACHE_MAX, strerror(errno));
	len = read(fd, cache_max, size - 1);
	close(fd);
	ASSERT_LT(0, len) TH_LOG("read %s", CACHE_MAX);
	cache_max[len] = '\0';
}

/* route_cache_max back as it was, and no answer cached by the test. */
static void routes_restore(const char *cache_max)
{
	if (cache_max[0])
		write_file(CACHE_MAX, cache_max);
	flush_cache();
}

FIXTURE(routes) {
	char cache_max[32];
};

FIXTURE_SETUP(routes)
{
	routes_prepare(_metadata, self->cache_max, sizeof(self->cache_max));
}

FIXTURE_TEARDOWN(routes)
{
	routes_restore(self->cache_max);
}

FIXTURE(acs) {
	char cache_max[32];
};

FIXTURE_VARIANT(acs) {
	bool redirect;		/* ACS redirect between exporter and importer */
};

FIXTURE_VARIANT_ADD(acs, redirect) {
	.redirect = true,
};

FIXTURE_VARIANT_ADD(acs, none) {
	.redirect = false,
};

FIXTURE_SETUP(acs)
{
	char reason[400];
	bool here;

	here = strstr(pm_topo("EXPECT_ROUTE_REASON", reason, sizeof(reason)),
		      "ACS redirect at ") != NULL;
	if (here != variant->redirect)
		SKIP(return, "this topology has %s ACS redirect on the route",
		     here ? "an" : "no");
	routes_prepare(_metadata, self->cache_max, sizeof(self->cache_max));
}

FIXTURE_TEARDOWN(acs)
{
	routes_restore(self->cache_max);
}

/* --- unprivileged answers --------------------------------------------- */

/* The same path, distance, address kind and reason as root's, every pair. */
TEST_F(routes, nobody_gets_the_answers_root_gets)
{
	struct answer *r, *u;
	char (*pairs)[32];
	int i, n, same = 0, bad = 0;

	pairs = all_pairs(&n);
	ASSERT_TRUE(pairs) TH_LOG("out of memory");
	r = ask((const char (*)[32])pairs, n, 0);
	u = ask((const char (*)[32])pairs, n, 1);
	EXPECT_TRUE(r && u) TH_LOG("asking as root and as nobody");
	for (i = 0; r && u && i < n; i++) {
		if (r[i].err || u[i].err) {
			if (!bad++) {
				EXPECT_TRUE(0)
					TH_LOG("%s -> %s: root %s, nobody %s", pairs[2 * i + 1],
					       pairs[2 * i], strerror(-r[i].err),
					       strerror(-u[i].err));
			}
			continue;
		}
		if (r[i].q.path != u[i].q.path || r[i].q.distance != u[i].q.distance ||
		    (r[i].q.flags & PEERMAP_ROUTE_IOVA) != (u[i].q.flags & PEERMAP_ROUTE_IOVA) ||
		    strcmp(r[i].q.reason, u[i].q.reason)) {
			if (!bad++) {
				EXPECT_TRUE(0)
					TH_LOG("%s -> %s: root: %s %u '%s'; nobody: %s %u '%s'",
					       pairs[2 * i + 1], pairs[2 * i],
					       pm_path_name(r[i].q.path), r[i].q.distance,
					       r[i].q.reason, pm_path_name(u[i].q.path),
					       u[i].q.distance, u[i].q.reason);
			}
			continue;
		}
		same++;
	}
	printf("# %d of %d pairs (%d PCI devices) answered alike\n", same, n, ndevs);
	EXPECT_TRUE(same == n) TH_LOG("%d pairs answered differently or not at all", n - same);
	if (r)
		free_answers(r, n);
	if (u)
		free_answers(u, n);
	free(pairs);
}

/* Root's steps with the ACS bits taken out, and nothing else; every pair. */
TEST_F(acs, nobody_gets_no_acs_bits)
{
	static char want[sizeof(((struct peermap_route_query *)0)->steps)];
	struct answer *r, *u;
	char (*pairs)[32];
	int i, n, redacted = 0, bad = 0;

	pairs = all_pairs(&n);
	ASSERT_TRUE(pairs) TH_LOG("out of memory");
	r = ask((const char (*)[32])pairs, n, 0);
	u = ask((const char (*)[32])pairs, n, 1);
	EXPECT_TRUE(r && u) TH_LOG("asking as root and as nobody");
	for (i = 0; r && u && i < n; i++) {
		if (r[i].err || u[i].err)
			continue;	/* the test above says so */
		without_bits(r[i].q.steps, want);
		redacted += strcmp(want, r[i].q.steps) != 0;
		if (!has_bits(u[i].q.steps) && !has_bits(u[i].q.reason) &&
		    !strcmp(want, u[i].q.steps))
			continue;
		if (!bad++)	/* the first in full */
			EXPECT_TRUE(0)
				TH_LOG("%s -> %s: nobody's steps:\n%s\nroot's without the bits:\n%s",
				       pairs[2 * i + 1], pairs[2 * i], u[i].q.steps, want);
	}
	printf("# root sees ACS bits on %d of %d pairs\n", redacted, n);
	EXPECT_TRUE(!bad)
		TH_LOG("%d of %d pairs: nobody sees ACS bits, or not root's steps", bad, n);
	if (variant->redirect) {
		EXPECT_TRUE(redacted > 0)
			TH_LOG("ACS redirect on this topology: root sees the bits");
	}
	if (r)
		free_answers(r, n);
	if (u)
		free_answers(u, n);
	free(pairs);
}

/*
 * The exporter-importer pair on a topology with ACS redirect: root sees
 * which bits, nobody that there is a redirect and where.
 */
TEST_F(acs, acs_redirect_named_without_bits)
{
	char pair[2][32];
	struct answer *r, *u;

	if (!variant->redirect)
		SKIP(return, "no ACS redirect between the exporter and the importer here");
	strcpy(pair[0], exporter);
	strcpy(pair[1], importer);
	r = ask((const char (*)[32])pair, 1, 0);
	u = ask((const char (*)[32])pair, 1, 1);
	EXPECT_TRUE(r && u && !r->err && !u->err) TH_LOG("asking as root and as nobody");
	if (r && u && !r->err && !u->err) {
		printf("# root:\n%s# nobody:\n%s", r->q.steps, u->q.steps);
		EXPECT_TRUE(strstr(r->q.steps, "ACS redirect (RR")) TH_LOG("root sees the bits");
		EXPECT_TRUE(strstr(u->q.reason, "ACS redirect at "))
			TH_LOG("nobody's reason names the redirect: %s", u->q.reason);
		EXPECT_TRUE(strstr(u->q.steps, ": ACS redirect\n"))
			TH_LOG("nobody's steps name the redirecting bridge");
		EXPECT_TRUE(!has_bits(u->q.steps)) TH_LOG("nobody sees no bits");
	}
	if (r)
		free_answers(r, 1);
	if (u)
		free_answers(u, 1);
}

/*
 * A cached answer is shared: nobody reads it without the bits, and root
 * still gets them afterwards (the cache is not redacted in place).
 */
TEST_F(routes, cached_answer_redacted_for_nobody_only)
{
	char pair[2][32];
	struct answer *r1 = NULL, *u = NULL, *r2 = NULL;

	strcpy(pair[0], exporter);
	strcpy(pair[1], importer);
	ASSERT_TRUE(!flush_cache()) TH_LOG("drop the cache");
	r1 = ask((const char (*)[32])pair, 1, 0);
	u = ask((const char (*)[32])pair, 1, 1);
	r2 = ask((const char (*)[32])pair, 1, 0);
	EXPECT_TRUE(r1 && u && r2 && !r1->err && !u->err && !r2->err) TH_LOG("asking");
	if (r1 && u && r2 && !r1->err && !u->err && !r2->err) {
		EXPECT_TRUE(u->q.flags & PEERMAP_ROUTE_CACHED)
			TH_LOG("nobody reads root's cached answer");
		EXPECT_TRUE(r2->q.flags & PEERMAP_ROUTE_CACHED) TH_LOG("root's answer cached");
		EXPECT_TRUE(!has_bits(u->q.steps)) TH_LOG("nobody sees no bits:\n%s", u->q.steps);
		EXPECT_TRUE(!strcmp(r1->q.steps, r2->q.steps))
			TH_LOG("root's steps unchanged after nobody read them:\n%s\nthen:\n%s",
			       r1->q.steps, r2->q.steps);
	}
	if (r1)
		free_answers(r1, 1);
	if (u)
		free_answers(u, 1);
	if (r2)
		free_answers(r2, 1);
}

/* --- the cache ------------------------------------------------------------ */

/* Nobody's questions are answered, not remembered. */
TEST_F(routes, nobody_does_not_fill_the_cache)
{
	struct answer *u, *r;
	char (*pairs)[32];
	int n, lines;

	pairs = all_pairs(&n);
	ASSERT_TRUE(pairs) TH_LOG("out of memory");
	EXPECT_TRUE(!flush_cache()) TH_LOG("drop the cache");
	EXPECT_TRUE(cached_routes() == 0) TH_LOG("cache empty: %d", cached_routes());
	u = ask((const char (*)[32])pairs, n, 1);
	EXPECT_TRUE(u) TH_LOG("asking as nobody");
	lines = cached_routes();
	EXPECT_TRUE(lines == 0) TH_LOG("%d questions from nobody: %d cached answers", n, lines);
	r = ask((const char (*)[32])pairs, 1, 0);
	EXPECT_TRUE(r && !r->err) TH_LOG("root asks");
	EXPECT_TRUE(cached_routes() == 1) TH_LOG("root's answer cached: %d", cached_routes());
	if (u)
		free_answers(u, n);
	if (r)
		free_answers(r, 1);
	free(pairs);
}

/* route_cache_max answers at most; the rest answered all the same. */
TEST_F(routes, cache_holds_at_most_route_cache_max)
{
	struct answer *a, *b;
	char (*pairs)[32], old[32] = "";
	int fd, i, n, lines, cached = 0, same = 0;
	ssize_t len;

	fd = open(CACHE_MAX, O_RDONLY);
	ASSERT_TRUE(fd >= 0) TH_LOG("%s: %s", CACHE_MAX, strerror(errno));
	len = read(fd, old, sizeof(old) - 1);
	close(fd);
	ASSERT_TRUE(len > 0) TH_LOG("read %s", CACHE_MAX);
	pairs = all_pairs(&n);
	ASSERT_TRUE(pairs) TH_LOG("out of memory");
	EXPECT_TRUE(n > 3) TH_LOG("%d pairs", n);
	EXPECT_TRUE(!write_file(CACHE_MAX, "3\n")) TH_LOG("route_cache_max=3");
	EXPECT_TRUE(!flush_cache()) TH_LOG("drop the cache");
	a = ask((const char (*)[32])pairs, n, 0);
	lines = cached_routes();
	EXPECT_TRUE(lines == 3) TH_LOG("%d questions with route_cache_max=3: %d cached", n, lines);
	b = ask((const char (*)[32])pairs, n, 0);
	EXPECT_TRUE(a && b) TH_LOG("asking");
	for (i = 0; a && b && i < n; i++) {
		if (a[i].err || b[i].err) {
			EXPECT_TRUE(0)
				TH_LOG("%s -> %s: %s, then %s", pairs[2 * i + 1], pairs[2 * i],
				       strerror(-a[i].err), strerror(-b[i].err));
			continue;
		}
		cached += !!(b[i].q.flags & PEERMAP_ROUTE_CACHED);
		same += a[i].q.path == b[i].q.path &&
			a[i].q.distance == b[i].q.distance &&
			!strcmp(a[i].q.reason, b[i].q.reason) &&
			!strcmp(a[i].q.steps, b[i].q.steps);
	}
	EXPECT_TRUE(cached == 3) TH_LOG("asked again: %d answers from the cache", cached);
	EXPECT_TRUE(same == n) TH_LOG("%d of %d answers the same when not cached", same, n);
	EXPECT_TRUE(cached_routes() == 3) TH_LOG("still %d cached", cached_routes());

	EXPECT_TRUE(!write_file(CACHE_MAX, "0\n")) TH_LOG("route_cache_max=0");
	EXPECT_TRUE(!flush_cache()) TH_LOG("drop the cache");
	if (b)
		free_answers(b, n);
	b = ask((const char (*)[32])pairs, n, 0);
	EXPECT_TRUE(b && cached_routes() == 0)
		TH_LOG("route_cache_max=0: nothing cached (%d)", cached_routes());

	EXPECT_TRUE(!write_file(CACHE_MAX, old)) TH_LOG("route_cache_max back to %s", old);
	EXPECT_TRUE(!flush_cache()) TH_LOG("drop the cache");
	if (a)
		free_answers(a, n);
	if (b)
		free_answers(b, n);
	free(pairs);
}

TEST_HARNESS_MAIN
