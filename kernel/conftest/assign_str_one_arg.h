/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The trace event of the assign_str_one_arg probe: TP_fast_assign() is
 * only expanded where the tracepoints are created, through
 * define_trace.h, which reads this header again by its name.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM pm_probe

#if !defined(_PM_PROBE_ASSIGN_STR_H) || defined(TRACE_HEADER_MULTI_READ)
#define _PM_PROBE_ASSIGN_STR_H

#include <linux/tracepoint.h>

TRACE_EVENT(pm_probe, TP_PROTO(const char *name), TP_ARGS(name),
	    TP_STRUCT__entry(__string(name, name)),
	    TP_fast_assign(__assign_str(name);),
	    TP_printk("%s", __get_str(name)));

#endif /* _PM_PROBE_ASSIGN_STR_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE assign_str_one_arg
#include <trace/define_trace.h>
