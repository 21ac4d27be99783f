// SPDX-License-Identifier: GPL-2.0
/*
 * peermap alloc / copy / segments: objects in device memory, copies with
 * the importer's DMA engine, and the segments the importer gets.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "peermap.h"

#define GUARD	64	/* bytes around a destination that must stay intact */
#define FILLER	0xa5

/* One side of a copy: an object in device memory or anonymous RAM. */
struct side {
	int dev;		/* 1: object, 0: RAM */
	struct pm_obj obj;
	unsigned char *base;	/* start of what was allocated */
	uint64_t alloc;
	uint64_t off;		/* where the range starts in it */
};

struct opts {
	uint64_t size, src_off, dst_off;
	int from_dev, to_dev, bar, edu, segments, access;
	unsigned int seed;
	uint64_t hold;
	int evict, ondemand;
};

static int parse_kind(const char *s, int *dev)
{
	if (!strcmp(s, "dev"))
		*dev = 1;
	else if (!strcmp(s, "ram"))
		*dev = 0;
	else
		return -EINVAL;
	return 0;
}

static int parse_access(const char *s, int *access)
{
	if (!strcmp(s, "r"))
		*access = PEERMAP_ACCESS_READ;
	else if (!strcmp(s, "w"))
		*access = PEERMAP_ACCESS_WRITE;
	else if (!strcmp(s, "rw"))
		*access = PEERMAP_ACCESS_READ | PEERMAP_ACCESS_WRITE;
	else
		return -EINVAL;
	return 0;
}

/* A whole number, decimal or 0x hex, at most @max; 0 or -EINVAL. */
static int parse_number(const char *s, uint64_t max, uint64_t *out)
{
	int hex = !strncmp(s, "0x", 2) || !strncmp(s, "0X", 2);
	const char *digits = hex ? s + 2 : s;
	unsigned long long v;
	char *end;

	if (!(hex ? isxdigit((unsigned char)*digits) : isdigit((unsigned char)*digits)))
		return -EINVAL;
	errno = 0;
	v = strtoull(digits, &end, hex ? 16 : 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A device number (--bar, --edu), 0 to 1024; 0 or -EINVAL. */
static int parse_dev(const char *s, int *out)
{
	uint64_t v;

	if (parse_number(s, 1024, &v))
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* What is wrong with a size (pm_parse_size() gave @err, @v), or NULL. */
static const char *size_problem(int err, uint64_t v, int nonzero)
{
	if (err == -ERANGE)
		return "too large";
	if (err)
		return "not a size (decimal or 0x hex, optional K, M or G suffix)";
	if (nonzero && !v)
		return "must be at least 1 byte";
	return NULL;
}

/*
 * The options of copy, segments and alloc: one table, each subcommand
 * taking the long options named in @takes (" size bar "). Returns the
 * index of the first argument, or -1 after saying what was wrong.
 */
static int parse_opts(int argc, char **argv, const char *usage,
		      const char *takes, struct opts *o)
{
	static const struct option lo[] = {
		{ "size", required_argument, NULL, 's' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "where", required_argument, NULL, 'f' },
		{ "src-offset", required_argument, NULL, 'o' },
		{ "offset", required_argument, NULL, 'o' },
		{ "dst-offset", required_argument, NULL, 'O' },
		{ "bar", required_argument, NULL, 'b' },
		{ "edu", required_argument, NULL, 'e' },
		{ "access", required_argument, NULL, 'a' },
		{ "seed", required_argument, NULL, 'S' },
		{ "hold", required_argument, NULL, 'H' },
		{ "segments", no_argument, NULL, 'g' },
		{ "evict", no_argument, NULL, 'E' },
		{ "ondemand", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	static const char number[] = "expected a device number, 0 to 1024";
	static const char kind[] = "expected dev or ram";
	char name[32];
	const char *why;
	uint64_t v = 0;
	int c, idx, err;

	*o = (struct opts){ .size = 65536, .from_dev = 1, .to_dev = 0,
			    .access = PEERMAP_ACCESS_READ, .seed = 1 };
	while ((c = cli_getopt(argc, argv, lo, usage, &idx)) != -1) {
		if (c == '?')
			return -1;	/* cli_getopt() said why */
		snprintf(name, sizeof(name), " %s ", lo[idx].name);
		if (!strstr(takes, name)) {
			cli_error(PM_EXIT_USAGE, 0, "unknown option '--%s'",
				  lo[idx].name);
			return -1;
		}
		why = NULL;
		switch (c) {
		case 's':
			err = pm_parse_size(optarg, &o->size);
			why = size_problem(err, o->size, 1);
			break;
		case 'f': why = parse_kind(optarg, &o->from_dev) ? kind : NULL; break;
		case 't': why = parse_kind(optarg, &o->to_dev) ? kind : NULL; break;
		case 'o': why = size_problem(pm_parse_size(optarg, &o->src_off), 0, 0); break;
		case 'O': why = size_problem(pm_parse_size(optarg, &o->dst_off), 0, 0); break;
		case 'b': why = parse_dev(optarg, &o->bar) ? number : NULL; break;
		case 'e': why = parse_dev(optarg, &o->edu) ? number : NULL; break;
		case 'a': why = parse_access(optarg, &o->access) ? "expected r, w or rw" : NULL; break;
		case 'S':
			why = parse_number(optarg, UINT_MAX, &v) ?
			      "expected a number, 0 to 4294967295" : NULL;
			o->seed = (unsigned int)v;
			break;
		case 'H':
			why = parse_number(optarg, UINT_MAX, &o->hold) ?
			      "expected a number of seconds" : NULL;
			break;
		case 'g': o->segments = 1; break;
		case 'E': o->evict = 1; break;
		case 'D': o->ondemand = 1; break;
		}
		if (why) {
			cli_error(PM_EXIT_USAGE, 0, "bad --%s '%s': %s", lo[idx].name,
				  optarg, why);
			return -1;
		}
	}
	return optind;
}

/*
 * Open /dev/peermap-barN if @need_bar, and /dev/peermap-eduN if @edu;
 * say which failed. Returns an exit status; what was opened stays open.
 */
static int open_devices(const struct opts *o, int need_bar, struct pm_bar *bar,
			int *edu)
{
	char node[32];
	int err;

	if (need_bar) {
		err = pm_bar_open(o->bar, bar);
		if (err) {
			snprintf(node, sizeof(node), "peermap-bar%d", o->bar);
			return cli_open_error(node, err);
		}
	}
	if (edu) {
		*edu = pm_edu_open(o->edu);
		if (*edu < 0) {
			snprintf(node, sizeof(node), "peermap-edu%d", o->edu);
			return cli_open_error(node, *edu);
		}
	}
	return PM_EXIT_OK;
}

/* Returns an exit status, having said what failed. */
static int side_setup(struct side *s, struct pm_bar *bar, int dev,
		      uint64_t off, uint64_t size)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->dev = dev;
	s->off = off;
	s->alloc = off + size + GUARD;
	if (dev) {
		err = pm_obj_alloc(bar, s->alloc, &s->obj);
		if (err)
			return cli_alloc_error(bar, s->alloc, err);
		s->base = s->obj.cpu;
		s->alloc = s->obj.size;
	} else {
		s->base = mmap(NULL, s->alloc, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (s->base == MAP_FAILED) {
			s->base = NULL;
			return cli_error(PM_EXIT_FAIL, -errno,
					 "%" PRIu64 " bytes of RAM", s->alloc);
		}
	}
	return PM_EXIT_OK;
}

static void side_free(struct side *s)
{
	if (s->dev && s->obj.cpu)
		pm_obj_free(&s->obj);
	else if (!s->dev && s->base)
		munmap(s->base, s->alloc);
}

static const char *side_name(const struct side *s)
{
	return s->dev ? "dev" : "ram";
}

static const char copy_usage[] =
	"usage: peermap copy [--size N] [--from dev|ram] [--to dev|ram]\n"
	"                    [--src-offset N] [--dst-offset N] [--bar N] [--edu N]\n"
	"                    [--seed N] [--segments] [--evict] [--ondemand]\n"
	"Fills a source (an object in /dev/peermap-barN, or RAM) with a pattern,\n"
	"copies it with /dev/peermap-eduN's DMA engine, and checks the\n"
	"destination byte for byte (and that the bytes around it are intact).\n"
	"--evict: the exporter evicts the objects to system memory first (the\n"
	"importer gets fallback segments), and restores them after the copy.\n"
	"--ondemand: RAM is faulted and tracked, not pinned.\n"
	"Defaults: --size 64K --from dev --to ram, offsets 0, bar 0, edu 0.\n"
	"Exit status: 0 copied and verified, 1 failed or the bytes differ,\n"
	"2 usage error, 3 no peer route between the exporter and the importer.\n";

/*
 * Evict (or restore) the object sides of a copy; say what happened.
 * Returns an exit status.
 */
static int move_sides(struct side *src, struct side *dst, int evict)
{
	struct side *sides[2] = { src, dst };
	int i, err;

	for (i = 0; i < 2; i++) {
		if (!sides[i]->dev)
			continue;
		err = evict ? pm_obj_evict(&sides[i]->obj) :
			      pm_obj_restore(&sides[i]->obj);
		if (err)
			return cli_error(PM_EXIT_FAIL, err, "%s of the %s object",
					 evict ? "eviction" : "restore",
					 i ? "destination" : "source");
		printf("%s object %s\n", i ? "destination" : "source",
		       evict ? "evicted to system memory (peers get fallback segments)" :
		       "restored into device memory");
	}
	return PM_EXIT_OK;
}

int cmd_copy(int argc, char **argv)
{
	struct side src = { 0 }, dst = { 0 };
	struct pm_bar bar = { .fd = -1 };
	struct peermap_edu_stats st0 = { 0 }, st1 = { 0 };
	uint64_t i, bad = 0, guard_bad = 0;
	unsigned char *s, *d;
	struct pm_bar *exporter;
	int edu = -1, err, ret;
	struct opts o;
	double t0, t;

	if (parse_opts(argc, argv, copy_usage,
		       " size from to src-offset dst-offset bar edu seed segments evict ondemand ",
		       &o) < 0)
		return PM_EXIT_USAGE;
	if (optind != argc)
		return cli_error(PM_EXIT_USAGE, 0, "unexpected argument '%s'",
				 argv[optind]);
	exporter = o.from_dev || o.to_dev ? &bar : NULL;
	ret = open_devices(&o, !!exporter, &bar, &edu);
	if (!ret)
		ret = side_setup(&src, &bar, o.from_dev, o.src_off, o.size);
	if (!ret)
		ret = side_setup(&dst, &bar, o.to_dev, o.dst_off, o.size);
	if (ret)
		goto out;

	s = src.base + src.off;
	d = dst.base + dst.off;
	for (i = 0; i < o.size; i++)
		s[i] = pattern(o.seed, i);
	memset(dst.base, FILLER, dst.alloc);
	ret = o.evict ? move_sides(&src, &dst, 1) : PM_EXIT_OK;
	if (ret)
		goto out;
	if (o.segments) {
		err = print_segments(edu, "source", s, o.size, PEERMAP_ACCESS_READ, 0);
		if (err) {
			ret = cli_dma_error(err, o.from_dev ? exporter : NULL, o.edu,
					    "segments of the source");
			goto out;
		}
		err = print_segments(edu, "destination", d, o.size, PEERMAP_ACCESS_WRITE, 0);
		if (err) {
			ret = cli_dma_error(err, o.to_dev ? exporter : NULL, o.edu,
					    "segments of the destination");
			goto out;
		}
	}

	pm_edu_stats(edu, &st0);
	t0 = now();
	err = pm_edu_copy_flags(edu, d, s, o.size,
				o.ondemand ? PEERMAP_MAP_ONDEMAND : 0);
	t = now() - t0;
	pm_edu_stats(edu, &st1);
	if (err) {
		ret = cli_dma_error(err, exporter, o.edu, "copy of %" PRIu64
				    " bytes %s+%#" PRIx64 " -> %s+%#" PRIx64,
				    o.size, side_name(&src), o.src_off,
				    side_name(&dst), o.dst_off);
		goto out;
	}
	ret = o.evict ? move_sides(&src, &dst, 0) : PM_EXIT_OK;
	if (ret)
		goto out;
	for (i = 0; i < o.size; i++)
		bad += d[i] != pattern(o.seed, i);
	for (i = 0; i < dst.alloc; i++)
		if (i < dst.off || i >= dst.off + o.size)
			guard_bad += dst.base[i] != FILLER;
	printf("copy: %" PRIu64 " bytes %s+%#" PRIx64 " -> %s+%#" PRIx64
	       " in %.3f s (%.1f KiB/s): %s", o.size, side_name(&src), o.src_off,
	       side_name(&dst), o.dst_off, t, o.size / 1024.0 / (t > 0 ? t : 1),
	       bad || guard_bad ? "MISMATCH" : "verified");
	if (bad || guard_bad)
		printf(" (%" PRIu64 " bytes differ, %" PRIu64 " bytes around it changed)",
		       bad, guard_bad);
	printf("\n");
	if (st1.invalidations != st0.invalidations || st1.remaps != st0.remaps)
		printf("importer: %llu invalidations, %llu re-resolved during the copy\n",
		       (unsigned long long)(st1.invalidations - st0.invalidations),
		       (unsigned long long)(st1.remaps - st0.remaps));
	ret = bad || guard_bad ? PM_EXIT_FAIL : PM_EXIT_OK;
out:
	side_free(&dst);
	side_free(&src);
	if (edu >= 0)
		close(edu);
	pm_bar_close(&bar);
	return ret;
}

static const char segments_usage[] =
	"usage: peermap segments [--where dev|ram] [--size N] [--offset N]\n"
	"                        [--access r|w|rw] [--bar N] [--edu N]\n"
	"Maps a range (inside a new object, or RAM) for /dev/peermap-eduN and\n"
	"prints the DMA segments: address, length, peer or RAM, bus address or\n"
	"IOVA, read-only or writable. Defaults: --where dev --size 64K.\n"
	"Exit status: 0 mapped, 1 failed, 2 usage error, 3 no peer route\n"
	"between the exporter and the importer.\n";

int cmd_segments(int argc, char **argv)
{
	struct pm_bar bar = { .fd = -1 };
	struct side sd = { 0 };
	int edu = -1, ret, err;
	struct opts o;

	if (parse_opts(argc, argv, segments_usage,
		       " where size offset access bar edu ", &o) < 0)
		return PM_EXIT_USAGE;
	if (optind != argc)
		return cli_error(PM_EXIT_USAGE, 0, "unexpected argument '%s'",
				 argv[optind]);
	ret = open_devices(&o, o.from_dev, &bar, &edu);
	if (!ret)
		ret = side_setup(&sd, &bar, o.from_dev, o.src_off, o.size);
	if (ret)
		goto out;
	memset(sd.base, 0, sd.alloc);	/* RAM: fault the pages in */
	err = print_segments(edu, side_name(&sd), sd.base + sd.off, o.size,
			     o.access, 0);
	if (err)
		ret = cli_dma_error(err, o.from_dev ? &bar : NULL, o.edu,
				    "segments of %" PRIu64 " bytes of %s", o.size,
				    side_name(&sd));
out:
	side_free(&sd);
	if (edu >= 0)
		close(edu);
	pm_bar_close(&bar);
	return ret;
}

static const char alloc_usage[] =
	"usage: peermap alloc SIZE [--bar N] [--hold SEC]\n"
	"Creates an object of SIZE bytes in /dev/peermap-barN, prints where it\n"
	"is, keeps it for SEC seconds (default 0), then destroys it.\n";

int cmd_alloc(int argc, char **argv)
{
	struct pm_bar bar = { .fd = -1 };
	struct pm_obj obj;
	const char *why;
	uint64_t size = 0;
	struct opts o;
	int first, err;

	first = parse_opts(argc, argv, alloc_usage, " bar hold ", &o);
	if (first < 0)
		return PM_EXIT_USAGE;
	if (first == argc)
		return cli_error(PM_EXIT_USAGE, 0, "missing SIZE");
	if (first < argc - 1)
		return cli_error(PM_EXIT_USAGE, 0, "unexpected argument '%s'",
				 argv[first + 1]);
	err = pm_parse_size(argv[first], &size);
	why = size_problem(err, size, 1);
	if (why)
		return cli_error(PM_EXIT_USAGE, 0, "bad SIZE '%s': %s", argv[first],
				 why);
	err = open_devices(&o, 1, &bar, NULL);
	if (err)
		return err;
	err = pm_obj_alloc(&bar, size, &obj);
	if (err) {
		err = cli_alloc_error(&bar, size, err);
		pm_bar_close(&bar);
		return err;
	}
	printf("object %" PRIu64 ": %" PRIu64 " bytes in %s BAR%u at +%#" PRIx64
	       " (bus address %#" PRIx64 "), mmap offset %#" PRIx64 "\n",
	       obj.handle, obj.size, bar.info.pci_name, bar.info.bar_index,
	       obj.mmap_offset, (uint64_t)(bar.info.bar_bus_addr + obj.mmap_offset),
	       obj.mmap_offset);
	if (o.hold)
		sleep((unsigned int)o.hold);
	pm_obj_free(&obj);
	pm_bar_close(&bar);
	return PM_EXIT_OK;
}
