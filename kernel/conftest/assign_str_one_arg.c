// SPDX-License-Identifier: GPL-2.0
/* __assign_str() with one argument: the source went away (6.10) */
#define CREATE_TRACE_POINTS
#include "assign_str_one_arg.h"
