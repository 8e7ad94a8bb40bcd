/* procmon.h - the process monitor (eBPF exec, fork and exit tracepoints):
 * feeds the process table and writes exec (and, per policy, fork and exit)
 * events.  The policy's process exclusions are applied in the kernel: an
 * exec by the excluded program itself, a fork or exit of an excluded
 * process; an exec is judged by the program it starts, never by its parent.
 * Fault 22 is raised by the health layer from what start returns. */
#pragma once

#include "monitor.h"

struct monitor *procmon_new(const struct monitor_ctx *ctx);
