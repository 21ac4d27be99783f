/* SPDX-License-Identifier: GPL-2.0 */
/*
 * peermap tracepoints: /sys/kernel/tracing/events/peermap/. They make
 * what importers cannot see from their segments alone visible: when a
 * mapping lost its addresses, when device memory was answered with
 * system memory (fallback), and when device-private pages were migrated
 * back to RAM rather than mapped peer to peer.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM peermap

#if !defined(_PEERMAP_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _PEERMAP_TRACE_H

#include <linux/device.h>
#include <linux/tracepoint.h>

#include "compat.h"

TRACE_EVENT(peermap_invalidate,
	TP_PROTO(struct device *client, unsigned long addr, size_t len,
		 unsigned int why),
	TP_ARGS(client, addr, len, why),
	TP_STRUCT__entry(
		__string(client, dev_name(client))
		__field(unsigned long, addr)
		__field(size_t, len)
		__field(unsigned int, why)
	),
	TP_fast_assign(
		pm_assign_str(client, dev_name(client));
		__entry->addr = addr;
		__entry->len = len;
		__entry->why = why;
	),
	TP_printk("client=%s addr=%#lx len=%zu why=%s", __get_str(client),
		  __entry->addr, __entry->len,
		  __print_symbolic(__entry->why,
				   { PEERMAP_INVAL_REVOKE, "revoke" },
				   { PEERMAP_INVAL_REMOVE, "remove" },
				   { PEERMAP_INVAL_UNMAP, "unmap" },
				   { PEERMAP_INVAL_PROTECT, "protect" },
				   { PEERMAP_INVAL_CHANGE, "change" },
				   { PEERMAP_INVAL_EXIT, "exit" },
				   { PEERMAP_INVAL_ROUTE, "route" }))
);

TRACE_EVENT(peermap_fallback,
	TP_PROTO(struct device *client, const char *exporter, u64 len),
	TP_ARGS(client, exporter, len),
	TP_STRUCT__entry(
		__string(client, dev_name(client))
		__string(exporter, exporter)
		__field(u64, len)
	),
	TP_fast_assign(
		pm_assign_str(client, dev_name(client));
		pm_assign_str(exporter, exporter);
		__entry->len = len;
	),
	TP_printk("client=%s exporter=%s len=%llu: system memory instead of device memory",
		  __get_str(client), __get_str(exporter), __entry->len)
);

/*
 * Device-private pages of a range migrated back to RAM because of a
 * mapping: @why says pinned (they cannot be pinned), foreign (a driver
 * peermap does not know), refused (their exporter refused the client) or
 * read-only (COW after fork(), the client writes).
 */
TRACE_EVENT(peermap_devmem_migrate,
	TP_PROTO(struct device *client, unsigned long addr, u64 len,
		 const char *why),
	TP_ARGS(client, addr, len, why),
	TP_STRUCT__entry(
		__string(client, dev_name(client))
		__field(unsigned long, addr)
		__field(u64, len)
		__string(why, why)
	),
	TP_fast_assign(
		pm_assign_str(client, dev_name(client));
		__entry->addr = addr;
		__entry->len = len;
		pm_assign_str(why, why);
	),
	TP_printk("client=%s addr=%#lx len=%llu why=%s: device-private memory migrated back to RAM",
		  __get_str(client), __entry->addr, __entry->len,
		  __get_str(why))
);

#endif /* _PEERMAP_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
