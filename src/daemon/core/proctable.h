/* proctable.h - the processes picketd knows: who is behind every event.
 *
 * Fed by the process monitor's exec, fork and exit events (eBPF), seeded from
 * /proc at start, and filled from /proc on a miss, so an event names its
 * process even when the eBPF monitor is not running.  A process that exited
 * is kept PROCTABLE_LINGER seconds: events it caused can still arrive after
 * its exit (a close-after-write read from the fanotify queue, say).  The
 * table holds at most max entries; past that the oldest exited, then the
 * oldest entries are evicted. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define PROCTABLE_LINGER 10

struct json_object;
struct proc_entry;

struct proc_info {
	pid_t pid, ppid;
	uid_t uid;
	uint64_t start_ns; /* ns since boot; tells a reused pid apart */
	uint64_t exe_dev, exe_ino; /* 0 when not known */
	char comm[16];
	char *exe;  /* absolute path of the executable; "" when unknown */
	char *argv; /* arguments joined by spaces; "" when unknown */
	time_t exited; /* 0 while it runs */
};

struct proctable {
	struct proc_entry *byp; /* uthash by pid */
	size_t len, max;
	char proc_root[256]; /* "/proc", or a prepared tree in tests */
	uint64_t evicted, misses;
};

int proctable_init(struct proctable *t, size_t max, const char *proc_root);
void proctable_done(struct proctable *t);
/* Reads every process from proc_root (start-up). */
int proctable_seed(struct proctable *t);
/* Events from the process monitor.  argv is NUL-separated, args_len bytes. */
int proctable_exec(struct proctable *t, const struct proc_info *p, const char *argv,
		   size_t args_len);
int proctable_fork(struct proctable *t, const struct proc_info *p);
void proctable_exit(struct proctable *t, pid_t pid, time_t now);
/* Forgets processes that exited more than PROCTABLE_LINGER seconds ago. */
void proctable_expire(struct proctable *t, time_t now);
/* The process, looked up in /proc when it is not known yet; NULL when it is
 * gone and was never seen.  The pointer is valid until the next change. */
const struct proc_info *proctable_get(struct proctable *t, pid_t pid);
/* {"pid":..,"ppid":..,"uid":..,"exe":..,"argv":..} for an event; pid alone
 * when the process is not known. */
struct json_object *proctable_json(struct proctable *t, pid_t pid);
