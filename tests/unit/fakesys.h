/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Synthetic sysfs trees for unit tests: directories and attribute files
 * made under a temporary root. Any failure ends the test (exit 2).
 */
#ifndef PEERMAP_FAKESYS_H
#define PEERMAP_FAKESYS_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Write @val to @dir/@attr (created or truncated). */
static inline void put(const char *dir, const char *attr, const char *val)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, attr);
	f = fopen(p, "w");
	if (!f || fputs(val, f) < 0) {
		perror(p);
		exit(2);
	}
	fclose(f);
}

/* mkdir -p @path. */
static inline void mkdirs(const char *path)
{
	char p[512], *s;

	snprintf(p, sizeof(p), "%s", path);
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	mkdir(p, 0755);
}

/* A new empty directory /tmp/pm-unit-@name.XXXXXX, its path in @root. */
static inline void fake_root(char *root, size_t len, const char *name)
{
	snprintf(root, len, "/tmp/pm-unit-%s.XXXXXX", name);
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		exit(2);
	}
}

/* rm -rf @path (no quote in it). */
static inline void fake_rm(const char *path)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", path);
}

#endif
