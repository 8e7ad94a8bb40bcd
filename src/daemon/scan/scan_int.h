/* scan_int.h - the scan layer's own state, shared by its files only.
 *
 * scan.c        the contract's front: new/free, submit, cancel, status
 * supervisor.c  picket-scand: start, READY, verdicts, crashes, restarts
 * ondemand.c    `picketctl scan` sessions
 * detections.c  what an infected or a limit verdict leads to: event, quarantine
 * definstall.c  definitions installs (control request, incoming/ folder)
 *               and their stability check */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/loop.h"
#include "scan.h"
#include "scanproto.h"

struct ondemand;

struct scan {
	struct scan_config c;
	char scand_path[PATH_MAX];
	char tmpdir[PATH_MAX];
	struct scanq q;
	/* supervisor.c */
	enum svc_state state;
	pid_t pid;
	struct io_source sock;  /* our end of the socketpair */
	struct io_source pidfd; /* readable when the service exits */
	struct io_source timer; /* restart backoff, ready and scan timeouts */
	struct scan_job *inflight;
	unsigned backoff; /* seconds before the next restart */
	time_t last_crash;
	struct scan_msg ready;  /* the READY of the running service */
	char as_root[256];      /* why the service runs as root, "" when it does not */
	bool ping_pending;      /* a PING sent at the last tick is not answered yet */
	time_t ping_sent;       /* when (CLOCK_MONOTONIC seconds) */
	uint64_t ping_id;
	int sigsys_nr;          /* the syscall its SIGSYS message named, -1: none */
	uint32_t sigsys_arch;   /* and its AUDIT_ARCH_* */
	char state_detail[256]; /* why it is not running, for status */
	uint64_t scans, detections, errors, limits;
	time_t last_scan;
	/* ondemand.c */
	struct ondemand *sessions;
	/* definstall.c */
	struct io_source incoming; /* inotify on defs/incoming */
	char incoming_dir[PATH_MAX];
};

/* supervisor.c */
int supervisor_init(struct scan *s);
void supervisor_done(struct scan *s);
/* (Re)starts the service now: new definitions. */
void supervisor_restart(struct scan *s);
void supervisor_tick(struct scan *s);
/* Sends the next queued job when the service is idle. */
void supervisor_send_next(struct scan *s);
/* Prepares the directory where libclamav unpacks, owned by whoever the
 * service will run as. */
int supervisor_tmpdir(struct scan *s);

/* ondemand.c */
void ondemand_done(struct scan *s);

/* detections.c */
void detection_report(struct scan *s, struct scan_job *job, const struct verdict *v);
/* A scan limit stopped it: a scan_limit event, quarantined only when
 * scan_limits_action says so; never a detection. */
void limit_report(struct scan *s, struct scan_job *job, const struct verdict *v);

/* definstall.c */
int definstall_setup(struct scan *s);
void definstall_done(struct scan *s);
