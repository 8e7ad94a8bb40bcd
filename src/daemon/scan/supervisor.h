/* supervisor.h - starts, watches and restarts picket-scand (faults 5, 6, 7).
 *
 * One scan service, one file in flight at a time: when the service dies the
 * file it was scanning is known, recorded, and queued again (a file that
 * crashed it twice is not scanned again until the definitions change).
 * Start failures raise fault 7 with the reason; a definitions set that does
 * not load is rolled back to the last-known-good set.  Restarts back off
 * exponentially, up to a minute. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/loop.h"
#include "scanproto.h"
#include "core/scanq.h"

#define SUPERVISOR_MAX_CRASHES 64

enum svc_state {
	SVC_DOWN,     /* not started: no definitions, too little memory, or stopping */
	SVC_STARTING, /* started, waiting for READY */
	SVC_READY,
	SVC_BACKOFF, /* waiting to restart */
};

struct json_object;
struct scan_owner;
struct picketd;

/* Told the verdict of each of its jobs, and owns nothing of the job after. */
typedef void (*scan_done_fn)(struct picketd *d, struct scan_owner *o, struct scan_job *job,
			     const struct verdict *v);
/* Optional: adds what the owner knows (the process, the trigger) to the
 * detection event of one of its jobs, before it is written. */
typedef void (*scan_annotate_fn)(struct picketd *d, struct scan_owner *o, struct scan_job *job,
				 struct json_object *ev);
struct scan_owner {
	scan_done_fn done;
	scan_annotate_fn annotate;
};

#define SCAN_URGENT 0x1 /* to the front of the queue: something waits on it */

struct supervisor {
	char scand_path[PATH_MAX];
	char tmpdir[PATH_MAX];
	enum svc_state state;
	pid_t pid;
	struct io_source sock;   /* our end of the socketpair */
	struct io_source pidfd;  /* readable when the service exits */
	struct io_source timer;  /* restart backoff, ready and scan timeouts */
	struct scan_job *inflight;
	struct timespec inflight_since;
	unsigned backoff;        /* seconds before the next restart */
	time_t crashes[SUPERVISOR_MAX_CRASHES]; /* times of recent crashes */
	char crash_files[SUPERVISOR_MAX_CRASHES][PATH_MAX];
	size_t n_crashes;
	time_t last_crash;
	struct scan_msg ready;   /* the READY of the running service */
	bool ping_pending;       /* a PING sent at the last tick is not answered yet */
	uint64_t ping_id;
	char state_detail[256];  /* why it is not running, for status */
	uint64_t scans, detections, errors;
	time_t last_scan;
};

int supervisor_init(struct picketd *d, const char *scand_path);
void supervisor_done(struct picketd *d);
/* (Re)starts the service now, e.g. after new definitions or a policy change. */
void supervisor_restart(struct picketd *d);
/* Periodic: fault 6's calm and escalation windows, restarts that are due. */
void supervisor_tick(struct picketd *d);
/* Scans fd for owner (the cache first); ownership of fd passes on.  0 when
 * queued or answered from the cache, or a negative errno (queue full). */
int supervisor_submit(struct picketd *d, int fd, const char *path, struct scan_owner *owner);
/* The same with SCAN_ flags. */
int supervisor_submit_flags(struct picketd *d, int fd, const char *path, struct scan_owner *owner,
			    unsigned flags);
/* Forgets owner's queued jobs (its client went away). */
void supervisor_cancel(struct picketd *d, struct scan_owner *owner);
const char *svc_state_name(enum svc_state s);
