/* procmon_event.h - the process monitor's event, shared by procmon.bpf.c (which
 * fills it in the kernel) and the daemon's procmon.c (which reads it from the
 * ring buffer).  Fixed-size types only: both sides must agree on the layout. */
#ifndef PICKET_PROCMON_EVENT_H
#define PICKET_PROCMON_EVENT_H

#include "kstats_map.h"

#define PROCMON_COMM_LEN 16
#define PROCMON_FILENAME_LEN 256
#define PROCMON_ARGS_LEN 512 /* NUL-separated argv, truncated */

enum procmon_type {
	PROCMON_EXEC = 1,
	PROCMON_FORK = 2,
	PROCMON_EXIT = 3,
	PROCMON_TYPE_MAX = 4, /* counters are indexed by type */
};


/* Events lost, by the process that caused them and the event type. */
struct procmon_lost_key {
	unsigned int pid;
	unsigned int type;
};

/* Set by the daemon while the programs run. */
struct procmon_config {
	unsigned int degraded; /* keep only exec events (fault 18) */
};

/* An exec of an excluded program still names the process in picketd's
 * process table (its other events are judged by it), but is not logged. */
#define PROCMON_F_EXCLUDED 0x1

struct procmon_event {
	unsigned int type;  /* enum procmon_type */
	unsigned int flags; /* PROCMON_F_ */
	int pid;            /* the process (thread group id) */
	int ppid;           /* its parent's thread group id */
	unsigned int uid;   /* real uid */
	unsigned long long start_ns; /* task start time, ns since boot (CLOCK_BOOTTIME) */
	unsigned long long exe_dev;  /* EXEC: the executable's device (kernel dev_t) */
	unsigned long long exe_ino;  /* EXEC: and inode */
	int exit_code;      /* EXIT: as wait(2) reports it */
	unsigned int args_len; /* EXEC: bytes used in args */
	char comm[PROCMON_COMM_LEN];
	char filename[PROCMON_FILENAME_LEN]; /* EXEC: the path execve was given */
	char args[PROCMON_ARGS_LEN];
};

#endif
