/* SPDX-License-Identifier: GPL-2.0 */
/* Shared between the core's files; not for exporters or importers. */
#ifndef _PEERMAP_INTERNAL_H
#define _PEERMAP_INTERNAL_H

#include <peermap.h>

#include "route_rules.h"

struct dentry;
struct seq_file;

/* route.c */
bool peermap_client_translated(struct device *client);
/* The map path: the verdict only, no text. */
int peermap_route_get(struct pci_dev *provider, struct device *client,
		      struct pm_rt_verdict *v);
void peermap_route_refused(struct pci_dev *provider, struct device *client,
			   const struct pm_rt_verdict *v);
/* For /dev/peermap: with the reason and steps, built for the answer. */
int peermap_route_explain(struct pci_dev *provider, struct pci_dev *client,
			  struct pm_rt_result *res, bool *cached, bool insert);
void peermap_route_flush(void);
int peermap_route_show(struct seq_file *m);
int peermap_route_init(void);
void peermap_route_exit(void);

/* settings.c */
int peermap_parse_pci_name(const char *s, u32 *key);
bool peermap_host_trusted(u16 vendor, u16 device);
enum pm_rt_override peermap_pair_override(struct pci_dev *a, struct pci_dev *b);
void peermap_settings_init(void (*changed)(void));
void peermap_settings_exit(void);

/* ctl.c: /dev/peermap and debugfs */
int peermap_ctl_init(struct dentry *debugfs);
void peermap_ctl_exit(void);

/* window.c: dma-buf import */
extern struct peermap_exporter peermap_window_exporter;
bool peermap_window_vma(const struct vm_area_struct *vma);
void peermap_window_sync(struct peermap_p2p_req *req, u64 at, u64 len,
			 bool for_device);
long peermap_window_map(void __user *arg);
long peermap_window_info(void __user *arg);
int peermap_window_init(struct dentry *debugfs);
void peermap_window_exit(void);

/* exporter.c */
void peermap_exporter_debugfs(struct dentry *debugfs);

/* devmem.c: device-private pages of peermap exporters */
bool peermap_devmem_maybe(unsigned long pfn);
struct peermap_devmem *peermap_devmem_get(unsigned long pfn,
					  struct dev_pagemap **pgmap);
int peermap_devmem_answer(struct peermap_p2p_req *req,
			  struct peermap_devmem *dm, u64 offset, u64 len);

/* mapping.c */
void peermap_routes_changed(void);
void peermap_dmabuf_routes_changed(void);

#endif /* _PEERMAP_INTERNAL_H */
