/* kstats_map.h - the value of each monitor's per-CPU `stats` map, one entry
 * per event type: what the kernel side did not turn into an event.  Shared
 * by the eBPF programs and the daemon (kstats.c sums it over CPUs). */
#ifndef PICKET_KSTATS_MAP_H
#define PICKET_KSTATS_MAP_H

struct kstats {
	unsigned long long dropped;    /* the ring buffer was full */
	unsigned long long excluded;   /* the process is excluded by the policy */
	unsigned long long suppressed; /* degraded mode: not of the critical set */
};

#endif
