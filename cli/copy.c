// SPDX-License-Identifier: GPL-2.0
/*
 * peermap alloc / copy / segments: objects in device memory, copies with
 * the importer's DMA engine, and the segments the importer gets.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
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

static int parse_int(const char *s, int *out)
{
	uint64_t v;

	if (pm_parse_size(s, &v) || v > 1024)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* Options shared by the subcommands; returns the index of the first arg. */
static int parse_opts(int argc, char **argv, const char *usage, struct opts *o)
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
	uint64_t v;
	int c, err = 0;

	*o = (struct opts){ .size = 65536, .from_dev = 1, .to_dev = 0,
			    .access = PEERMAP_ACCESS_READ, .seed = 1 };
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': err = pm_parse_size(optarg, &o->size); break;
		case 'f': err = parse_kind(optarg, &o->from_dev); break;
		case 't': err = parse_kind(optarg, &o->to_dev); break;
		case 'o': err = pm_parse_size(optarg, &o->src_off); break;
		case 'O': err = pm_parse_size(optarg, &o->dst_off); break;
		case 'b': err = parse_int(optarg, &o->bar); break;
		case 'e': err = parse_int(optarg, &o->edu); break;
		case 'a': err = parse_access(optarg, &o->access); break;
		case 'S': err = pm_parse_size(optarg, &v); o->seed = (unsigned int)v; break;
		case 'H': err = pm_parse_size(optarg, &o->hold); break;
		case 'g': o->segments = 1; break;
		case 'E': o->evict = 1; break;
		case 'D': o->ondemand = 1; break;
		case 'h': printf("%s", usage); exit(0);
		default: err = -EINVAL; break;
		}
		if (err) {
			fprintf(stderr, "%s", usage);
			return -1;
		}
	}
	return optind;
}

/*
 * Open /dev/peermap-barN if @need_bar, and /dev/peermap-eduN if @edu;
 * say which failed. Returns 0 or 1; what was opened stays open.
 */
static int open_devices(const struct opts *o, int need_bar, struct pm_bar *bar,
			int *edu)
{
	int err;

	if (need_bar) {
		err = pm_bar_open(o->bar, bar);
		if (err) {
			fprintf(stderr, "peermap: %s/peermap-bar%d: %s\n",
				pm_dev_dir(), o->bar, strerror(-err));
			return 1;
		}
	}
	if (edu) {
		*edu = pm_edu_open(o->edu);
		if (*edu < 0) {
			fprintf(stderr, "peermap: %s/peermap-edu%d: %s\n",
				pm_dev_dir(), o->edu, strerror(-*edu));
			return 1;
		}
	}
	return 0;
}

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
		if (err) {
			fprintf(stderr, "peermap: object of %" PRIu64 " bytes in %s: %s\n",
				s->alloc, bar->info.pci_name, strerror(-err));
			return err;
		}
		s->base = s->obj.cpu;
		s->alloc = s->obj.size;
	} else {
		s->base = mmap(NULL, s->alloc, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (s->base == MAP_FAILED) {
			err = -errno;
			fprintf(stderr, "peermap: %" PRIu64 " bytes of RAM: %s\n",
				s->alloc, strerror(errno));
			s->base = NULL;
			return err;
		}
	}
	return 0;
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
	"Defaults: --size 64K --from dev --to ram, offsets 0, bar 0, edu 0.\n";

/* Evict (or restore) the object sides of a copy; say what happened. */
static int move_sides(struct side *src, struct side *dst, int evict)
{
	struct side *sides[2] = { src, dst };
	int i, err;

	for (i = 0; i < 2; i++) {
		if (!sides[i]->dev)
			continue;
		err = evict ? pm_obj_evict(&sides[i]->obj) :
			      pm_obj_restore(&sides[i]->obj);
		if (err) {
			fprintf(stderr, "peermap: %s of the %s object: %s\n",
				evict ? "eviction" : "restore",
				i ? "destination" : "source", strerror(-err));
			return err;
		}
		printf("%s object %s\n", i ? "destination" : "source",
		       evict ? "evicted to system memory (peers get fallback segments)" :
		       "restored into device memory");
	}
	return 0;
}

int cmd_copy(int argc, char **argv)
{
	struct side src = { 0 }, dst = { 0 };
	struct pm_bar bar = { .fd = -1 };
	struct peermap_edu_stats st0 = { 0 }, st1 = { 0 };
	uint64_t i, bad = 0, guard_bad = 0;
	unsigned char *s, *d;
	int edu = -1, err, ret = 1;
	struct opts o;
	double t0, t;

	if (parse_opts(argc, argv, copy_usage, &o) < 0)
		return 2;
	if (optind != argc || !o.size) {
		fprintf(stderr, "%s", copy_usage);
		return 2;
	}
	if (open_devices(&o, o.from_dev || o.to_dev, &bar, &edu))
		goto out;
	if (side_setup(&src, &bar, o.from_dev, o.src_off, o.size) ||
	    side_setup(&dst, &bar, o.to_dev, o.dst_off, o.size))
		goto out;

	s = src.base + src.off;
	d = dst.base + dst.off;
	for (i = 0; i < o.size; i++)
		s[i] = pattern(o.seed, i);
	memset(dst.base, FILLER, dst.alloc);
	if (o.evict && move_sides(&src, &dst, 1))
		goto out;
	if (o.segments) {
		print_segments(edu, "source", s, o.size, PEERMAP_ACCESS_READ, 0);
		print_segments(edu, "destination", d, o.size, PEERMAP_ACCESS_WRITE, 0);
	}

	pm_edu_stats(edu, &st0);
	t0 = now();
	err = pm_edu_copy_flags(edu, d, s, o.size,
				o.ondemand ? PEERMAP_MAP_ONDEMAND : 0);
	t = now() - t0;
	pm_edu_stats(edu, &st1);
	if (err) {
		fprintf(stderr, "peermap: copy of %" PRIu64 " bytes %s+%#" PRIx64
			" -> %s+%#" PRIx64 ": %s\n", o.size, side_name(&src),
			o.src_off, side_name(&dst), o.dst_off, strerror(-err));
		goto out;
	}
	if (o.evict && move_sides(&src, &dst, 0))
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
	ret = bad || guard_bad ? 1 : 0;
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
	"IOVA, read-only or writable. Defaults: --where dev --size 64K.\n";

int cmd_segments(int argc, char **argv)
{
	struct pm_bar bar = { .fd = -1 };
	struct side sd = { 0 };
	int edu = -1, ret = 1;
	struct opts o;

	if (parse_opts(argc, argv, segments_usage, &o) < 0)
		return 2;
	if (optind != argc || !o.size) {
		fprintf(stderr, "%s", segments_usage);
		return 2;
	}
	if (open_devices(&o, o.from_dev, &bar, &edu))
		goto out;
	if (side_setup(&sd, &bar, o.from_dev, o.src_off, o.size))
		goto out;
	memset(sd.base, 0, sd.alloc);	/* RAM: fault the pages in */
	print_segments(edu, side_name(&sd), sd.base + sd.off, o.size, o.access, 0);
	ret = 0;
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
	uint64_t size;
	struct opts o;
	int first, err;

	first = parse_opts(argc, argv, alloc_usage, &o);
	if (first < 0 || first != argc - 1 || pm_parse_size(argv[first], &size)) {
		fprintf(stderr, "%s", alloc_usage);
		return 2;
	}
	if (open_devices(&o, 1, &bar, NULL))
		return 1;
	err = pm_obj_alloc(&bar, size, &obj);
	if (err) {
		fprintf(stderr, "peermap: object of %" PRIu64 " bytes in %s: %s\n",
			size, bar.info.pci_name, strerror(-err));
		pm_bar_close(&bar);
		return 1;
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
	return 0;
}
