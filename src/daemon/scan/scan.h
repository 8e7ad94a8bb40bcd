/* scan.h - the scan layer's contract: picket-scand supervised, files
 * scanned for their owners, on-demand sessions, detections, definitions
 * installs.  Nobody outside scan/ reads struct scan.
 *
 * One scan service, one file in flight: when the service dies the file it
 * was scanning is known and queued again; a file that crashed it twice is
 * not scanned again until the definitions change.  A definitions set that
 * does not load is rolled back to the last-known-good set.  Restarts back
 * off exponentially, up to a minute.  Faults are not raised here: the
 * hooks tell the health layer what happened (ready, crashed, start failed). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/control.h"
#include "core/opener.h"
#include "core/events.h"
#include "core/scanq.h"
#include "hostview.h"
#include "policy.h"
#include "proto.h"
#include "store/defs.h"
#include "store/quarantine.h"

enum svc_state {
	SVC_DOWN,     /* not started: no definitions, too little memory, or stopping */
	SVC_STARTING, /* started, waiting for READY */
	SVC_READY,
	SVC_BACKOFF, /* waiting to restart */
};
const char *svc_state_name(enum svc_state s);

struct scan;
struct scan_owner;

/* Told the verdict of each of its jobs, and owns nothing of the job after. */
typedef void (*scan_done_fn)(struct scan_owner *o, struct scan_job *job, const struct verdict *v);
/* Optional: adds what the owner knows (the process, the trigger) to the
 * detection or scan_limit event of one of its jobs, before it is written. */
typedef void (*scan_annotate_fn)(struct scan_owner *o, struct scan_job *job,
				 struct json_object *ev);
struct scan_owner {
	scan_done_fn done;
	scan_annotate_fn annotate;
};

struct scan_hooks {
	/* READY: as_root is why the scan user is unusable, "" when it is used. */
	void (*ready)(void *ud, pid_t pid, const char *as_root);
	/* The service died while ready, or sent a malformed message; path is
	 * the file in the engine, "" if idle; sandbox is the syscall its
	 * seccomp filter stopped ("syscall 96 (gettimeofday)"), "" if none. */
	void (*crashed)(void *ud, const char *how, const char *path, const char *sandbox);
	/* It could not start, or died before it was ready: detail says why. */
	void (*start_failed)(void *ud, const char *detail);
	void *ud;
};

struct scan_config {
	const struct policy *policy; /* the policy in force, followed on reload */
	const struct hostview *hv;
	int epfd;
	struct event_sink *sink;
	struct defs *defs;
	struct quarantine *quarantine;
	const char *scand_path;
	const char *run_dir;   /* scan-tmp lives below it */
	const char *state_dir; /* defs/incoming lives below it */
	struct scan_hooks hooks;
};

/* Sets up the queue and the supervisor and starts the service. */
int scan_new(const struct scan_config *c, struct scan **ret);
/* Stops the service and every session; NULL is allowed. */
void scan_free(struct scan *s);
/* Periodic: liveness of an idle service, the back-off's calm reset. */
void scan_tick(struct scan *s);

#define SCAN_URGENT 0x1 /* to the front of the queue: something waits on it */
#define SCAN_KEEP 0x2   /* never quarantined: the owner could not remove the file */
/* Scans fd for owner (the cache first; ownership of fd passes on).  0 when
 * queued or answered, or a negative errno (queue full). */
int scan_submit(struct scan *s, int fd, const char *path, struct scan_owner *owner,
		unsigned flags);
/* Forgets owner's queued jobs (its client went away). */
void scan_cancel(struct scan *s, struct scan_owner *owner);
/* Whether an execution of a file with verdict v is to be refused in
 * on_execute's block mode: a detection, or a limit unless
 * scan_limits_action is "report". */
bool scan_verdict_refuses(const struct scan *s, const struct verdict *v);
/* 1 and *ret when the verdict of the file with key k is cached, else 0. */
int scan_cached(struct scan *s, const struct scan_key *k, struct verdict *ret);

enum svc_state scan_state(const struct scan *s);
/* Why it is not ready, for status and replies ("" when ready). */
const char *scan_state_detail(const struct scan *s);
pid_t scan_pid(const struct scan *s);
size_t scan_queue_len(const struct scan *s);
/* {"state":..,"pid":..,"signatures":..,"queued":..,...} for status. */
struct json_object *scan_status(const struct scan *s);

/* ondemand.c: `picketctl scan` for client, replies through it; 0 or -errno. */
int scan_session_start(struct scan *s, const struct proto_request *req,
		       struct control_client *client);
/* The client went away: its session and queued jobs go. */
void scan_client_gone(struct scan *s, struct control_client *client);

/* definstall.c: installs definition files; the reply says what became of
 * each.  A client that is not root (cr; NULL: picketd's own) has them opened
 * with its own credentials. */
struct json_object *scan_defs_install(struct scan *s, const char *const *paths, size_t n,
				      const struct opener_creds *cr);
struct json_object *scan_defs_status(struct scan *s);
