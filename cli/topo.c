// SPDX-License-Identifier: GPL-2.0
/*
 * peermap topo / route: the routes between exporters and importers, as the
 * core decides them (/dev/peermap), with their reasons; a matrix in the
 * spirit of `nvidia-smi topo -m`, JSON, or a Graphviz picture of the tree.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pci.h"
#include "peermap.h"

struct topo {
	struct pm_pci_dev *devs;
	int n;
	int *exp, *imp;		/* indexes into devs */
	int nexp, nimp;
	struct peermap_route_query *q;	/* [nexp * nimp] */
};

/* pm_route() failed for the pair: say why. */
static int route_error(const char *provider, const char *client, int err)
{
	if (err == -ENOENT)
		return cli_open_error("peermap", err);
	if (err == -ENODEV)
		return cli_error(PM_EXIT_FAIL, 0, "route %s %s: no such PCI device",
				 provider, client);
	if (err == -EINVAL)
		return cli_error(PM_EXIT_FAIL, 0,
				 "route %s %s: not PCI names (dddd:bb:dd.f or bb:dd.f)",
				 provider, client);
	return cli_error(PM_EXIT_FAIL, err, "route %s %s", provider, client);
}

static void topo_free(struct topo *t)
{
	free(t->devs);
	free(t->exp);
	free(t->imp);
	free(t->q);
}

/* Find exporters and importers, and ask the core about every pair. */
static int topo_load(struct topo *t)
{
	int i, j, err;

	memset(t, 0, sizeof(*t));
	t->n = pm_pci_scan(sysroot(), &t->devs);
	if (t->n < 0) {
		err = t->n;
		t->n = 0;
		return cli_error(PM_EXIT_FAIL, err, "reading %s/bus/pci", sysroot());
	}
	t->exp = calloc(t->n + 1, sizeof(int));
	t->imp = calloc(t->n + 1, sizeof(int));
	if (!t->exp || !t->imp)
		return cli_error(PM_EXIT_FAIL, -ENOMEM, "topology");
	for (i = 0; i < t->n; i++) {
		if (!strcmp(device_role(&t->devs[i]), "exporter"))
			t->exp[t->nexp++] = i;
		else if (!strcmp(device_role(&t->devs[i]), "importer"))
			t->imp[t->nimp++] = i;
	}
	t->q = calloc((size_t)t->nexp * t->nimp + 1, sizeof(*t->q));
	if (!t->q)
		return cli_error(PM_EXIT_FAIL, -ENOMEM, "topology");
	for (i = 0; i < t->nexp; i++) {
		for (j = 0; j < t->nimp; j++) {
			err = pm_route(t->devs[t->exp[i]].name,
				       t->devs[t->imp[j]].name, &t->q[i * t->nimp + j]);
			if (err)
				return route_error(t->devs[t->exp[i]].name,
						   t->devs[t->imp[j]].name, err);
		}
	}
	return 0;
}

static void print_matrix(const struct topo *t)
{
	const struct peermap_route_query *q;
	char cell[32];
	int i, j;

	printf("%-14s", "EXP \\ IMP");
	for (j = 0; j < t->nimp; j++)
		printf("  %-16s", t->devs[t->imp[j]].name);
	printf("\n");
	for (i = 0; i < t->nexp; i++) {
		printf("%-14s", t->devs[t->exp[i]].name);
		for (j = 0; j < t->nimp; j++) {
			q = &t->q[i * t->nimp + j];
			if (q->path == PEERMAP_PATH_NONE)
				snprintf(cell, sizeof(cell), "NONE");
			else
				snprintf(cell, sizeof(cell), "%s(%u)%s",
					 q->path == PEERMAP_PATH_SWITCH ? "SWITCH" : "HOSTBRIDGE",
					 q->distance, q->flags & PEERMAP_ROUTE_IOVA ? "+IOVA" : "");
			printf("  %-16s", cell);
		}
		printf("\n");
	}
	printf("\nLegend:\n"
	       "  SWITCH(n)      below a common switch or port, by bus address; n = hops\n"
	       "  HOSTBRIDGE(n)  through the root complex; +IOVA: the importer is behind an IOMMU\n"
	       "  NONE           no peer route\n"
	       "Rows are exporters (memory), columns importers (DMA). Why: `peermap route A B`.\n");
	for (i = 0; i < t->nexp; i++)
		for (j = 0; j < t->nimp; j++)
			printf("  %s -> %s: %s\n", t->devs[t->exp[i]].name,
			       t->devs[t->imp[j]].name, t->q[i * t->nimp + j].reason);
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_json(const struct topo *t)
{
	const struct peermap_route_query *q;
	int i, j, first = 1;

	printf("{\"routes\":[");
	for (i = 0; i < t->nexp; i++) {
		for (j = 0; j < t->nimp; j++) {
			q = &t->q[i * t->nimp + j];
			printf("%s{\"provider\":", first ? "" : ",");
			json_string(q->provider);
			printf(",\"client\":");
			json_string(q->client);
			printf(",\"path\":\"%s\",\"distance\":%u,\"iova\":%s,\"reason\":",
			       pm_path_name(q->path), q->distance,
			       q->flags & PEERMAP_ROUTE_IOVA ? "true" : "false");
			json_string(q->reason);
			printf("}");
			first = 0;
		}
	}
	printf("]}\n");
}

/* Has this node been drawn already? (small trees: a linear scan) */
static int seen(char (*names)[PM_PCI_NAME_LEN], int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return 1;
	return 0;
}

static void print_dot(const struct topo *t)
{
	char (*drawn)[PM_PCI_NAME_LEN] = calloc((size_t)t->n * 2 + 2, PM_PCI_NAME_LEN);
	const struct peermap_route_query *q;
	int i, k, nd = 0, idx;
	const char *parent;

	if (!drawn)
		return;
	printf("digraph peermap {\n"
	       "  node [shape=box, fontname=\"monospace\", fontsize=10];\n"
	       "  edge [fontname=\"monospace\", fontsize=10];\n");
	for (i = 0; i < t->nexp + t->nimp; i++) {
		idx = i < t->nexp ? t->exp[i] : t->imp[i - t->nexp];
		const struct pm_pci_dev *d = &t->devs[idx];

		if (!seen(drawn, nd, d->root)) {
			printf("  \"%s\" [shape=ellipse, label=\"host bridge\\n%s\"];\n",
			       d->root, d->root);
			strcpy(drawn[nd++], d->root);
		}
		parent = d->root;
		for (k = 0; k <= d->depth; k++) {
			const char *name = k < d->depth ? d->up[k].name : d->name;

			if (!seen(drawn, nd, name)) {
				if (k < d->depth)
					printf("  \"%s\" [label=\"%s\\n%04x:%04x\"];\n", name,
					       name, d->up[k].vendor, d->up[k].device);
				else
					printf("  \"%s\" [label=\"%s\\n%04x:%04x\\n%s\", style=filled, fillcolor=\"%s\"];\n",
					       name, name, d->vendor, d->device,
					       device_role(d),
					       i < t->nexp ? "lightblue" : "lightyellow");
				printf("  \"%s\" -> \"%s\";\n", parent, name);
				strcpy(drawn[nd++], name);
			}
			parent = name;
		}
	}
	for (i = 0; i < t->nexp * t->nimp; i++) {
		q = &t->q[i];
		printf("  \"%s\" -> \"%s\" [style=dashed, constraint=false, dir=both, color=\"%s\", label=\"%s %u%s\"];\n",
		       q->client, q->provider,
		       q->path == PEERMAP_PATH_SWITCH ? "darkgreen" :
		       q->path == PEERMAP_PATH_HOST_BRIDGE ? "blue" : "red",
		       pm_path_name(q->path), q->distance,
		       q->flags & PEERMAP_ROUTE_IOVA ? " IOVA" : "");
	}
	printf("}\n");
	free(drawn);
}

static const char topo_usage[] =
	"usage: peermap topo [--json|--dot]\n"
	"The route between every exporter and importer, as the core decides it\n"
	"(/dev/peermap): a matrix with a legend and every reason; --json: one\n"
	"object per pair; --dot: the PCIe tree and the routes for Graphviz.\n";

int cmd_topo(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "dot", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	int ret, c, idx, form = 0;
	struct topo t;

	while ((c = cli_getopt(argc, argv, lo, topo_usage, &idx)) != -1) {
		if (c != 'j' && c != 'd')
			return PM_EXIT_USAGE;
		if (form && form != c)
			return cli_error(PM_EXIT_USAGE, 0, "--json or --dot, not both");
		form = c;
	}
	if (optind < argc)
		return cli_error(PM_EXIT_USAGE, 0, "unexpected argument '%s'",
				 argv[optind]);
	ret = topo_load(&t);
	if (!ret) {
		if (form == 'j')
			print_json(&t);
		else if (form == 'd')
			print_dot(&t);
		else
			print_matrix(&t);
	}
	topo_free(&t);
	return ret;
}

static const char route_usage[] =
	"usage: peermap route PROVIDER CLIENT\n"
	"How CLIENT (the device doing DMA, an importer) reaches the memory of\n"
	"PROVIDER (an exporter), PCI names as `peermap devices` shows them:\n"
	"printed as 'route PROVIDER -> CLIENT: PATH, distance N', the reason,\n"
	"and the decision step by step. Exit status 3 when there is no route.\n";

int cmd_route(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	static const char *const what[] = { "PROVIDER", "CLIENT" };
	struct peermap_route_query q;
	struct pm_pci_addr addr;
	int err, c, i, idx;

	c = cli_getopt(argc, argv, lo, route_usage, &idx);
	if (c != -1)
		return PM_EXIT_USAGE;
	if (argc - optind != 2)
		return cli_error(PM_EXIT_USAGE, 0,
				 "needs PROVIDER and CLIENT, two PCI names (got %d)",
				 argc - optind);
	for (i = 0; i < 2; i++)
		if (pm_pci_parse(argv[optind + i], &addr))
			return cli_error(PM_EXIT_USAGE, 0,
					 "bad %s '%s': not a PCI name (dddd:bb:dd.f or bb:dd.f)",
					 what[i], argv[optind + i]);
	err = pm_route(argv[optind], argv[optind + 1], &q);
	if (err)
		return route_error(argv[optind], argv[optind + 1], err);
	printf("route %s -> %s: %s, distance %u%s%s\n", q.provider, q.client,
	       pm_path_name(q.path), q.distance,
	       q.flags & PEERMAP_ROUTE_IOVA ? ", by IOVA" : "",
	       q.flags & PEERMAP_ROUTE_CACHED ? " (cached)" : "");
	printf("reason: %s\n%s", q.reason, q.steps);
	return q.path == PEERMAP_PATH_NONE ? PM_EXIT_NOROUTE : PM_EXIT_OK;
}
