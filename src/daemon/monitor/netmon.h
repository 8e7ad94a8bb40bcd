/* netmon.h - the network monitor ("device flow correlation", eBPF): TCP
 * connections established and closed, inbound and outbound, and UDP sends,
 * each a flow event with its process; flows to the policy's blocklist are
 * reported, and refused (EPERM) by cgroup connect/sendmsg programs in block
 * mode.  The policy's process exclusions are applied in the kernel, before
 * an event is reserved (a refusal is reported all the same); degraded mode
 * (fault 18) keeps outbound connections and the blocklist's events only.
 * Fault 9 is raised by the health layer from what start returns. */
#pragma once

#include "monitor.h"

struct monitor *netmon_new(const struct monitor_ctx *ctx);
