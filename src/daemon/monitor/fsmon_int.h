/* fsmon_int.h - the file monitor's parts and what they share (fsmon.h says
 * what it does).  Included by monitor/fsmon*.c only.
 *
 * fsmon.c        the groups' events, the scan hand-off, the ops
 * fsmon_perm.c   executions: the permission thread and the loop's answers
 * fsmon_marks.c  filesystem marks, following the mount table; catch-up scans
 * fsmon_ns.c     other mount namespaces; the name of a file as events give it
 * fsmon_ignore.c path exclusions as ignore marks */
#pragma once

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/fanotify.h>
#include <sys/types.h>
#include <time.h>

#include "core/loop.h"
#include "fsmon.h"
#include "monitor.h"
#include "mounts.h"

#define FSMON_READ_BUF 65536 /* bytes of events read at once */
#define FSMON_READ_ROUNDS 4  /* reads per wakeup, so no source starves the loop */

#define MOUNTINFO "/proc/self/mountinfo"
/* The descriptors fanotify opens for us: never a controlling tty, never a
 * wait on a FIFO, no access time changed by scanning. */
#define EVENT_F_FLAGS (O_RDONLY | O_LARGEFILE | O_CLOEXEC | O_NONBLOCK | O_NOATIME)
#define NOTIF_MASK FAN_CLOSE_WRITE
#define FID_MASK (FAN_MOVED_TO | FAN_CREATE)
#define PERM_MASK FAN_OPEN_EXEC_PERM

/* Events that can come in floods: at most a burst per RL_WINDOW seconds,
 * the next one says how many were left out.  Errors name their file, so a
 * few of them; the others are one condition each. */
#define RL_WINDOW 60
#define RL_BURST_ERRORS 5
#define RL_BURST_CONDITION 1

/* A filesystem marked after it was mounted may hold files written before
 * the mark: those changed in the last CATCHUP_AGE seconds are scanned, at
 * most CATCHUP_ENTRIES directory entries looked at, CATCHUP_FILES scanned;
 * their events in the next CATCHUP_KEEP seconds are not scanned again. */
#define CATCHUP_AGE 60
#define CATCHUP_ENTRIES 4096
#define CATCHUP_FILES 256
#define CATCHUP_DEPTH 16
#define CATCHUP_KEEP 10

#define NS_MAX 256       /* other mount namespaces followed; more are counted */
#define NS_SCAN_MS 5000  /* /proc is scanned for mount namespaces this often */

enum { G_NOTIF = 1, G_FID = 2, G_PERM = 4 };

struct file_handle;
struct json_object;
struct scan_job;
struct verdict;

/* A bounded stream of events of one kind: at most burst a window. */
struct fsmon_ratelimit {
	time_t window_start;
	unsigned n;
	uint64_t suppressed;
};

struct fsmon_counters {
	uint64_t close_write, moved_to, create, open_exec; /* events seen */
	uint64_t scanned, clean, detected, scan_errors;
	uint64_t excluded, ignored_self, queue_full, vanished, overflow;
	uint64_t suppressed;          /* not scanned: degraded mode, not of the critical set */
	uint64_t queue_full_critical; /* of queue_full, executables and critical_paths */
	uint64_t perm_allowed, perm_denied, perm_timeouts, perm_overflow, perm_unscanned;
	uint64_t caught_up; /* files scanned by catch-up walks */
};

struct fsmon_fs {
	char *mount, *fstype;
	unsigned major, minor;
	int mnt_id;
	fsid_t fsid;
	unsigned groups; /* G_ bits: the groups that have a mark on it */
	int fid_err, perm_err; /* why a group has none (positive errno), 0 */
};

/* An execution waiting for its answer.  The thread fills a slot and may
 * answer it (its deadline, or picketd stopping); the loop decides, answers,
 * and is the only one to free it: fd and pid do not change while it is
 * used, the flags are read and written under the lock. */
struct perm_slot {
	bool used;
	bool seen;      /* the loop has taken it */
	bool answered;  /* the kernel has its answer */
	bool timed_out; /* ... given at the deadline */
	bool reported;  /* the timeout's event is written */
	bool busy;      /* a scan for it is queued */
	int fd;
	pid_t pid;
	uint32_t gen;
	uint64_t start_ms, deadline_ms, answered_ms;
};

struct fsmon_perm {
	pthread_mutex_t lock;
	pthread_t thread;
	bool started, stop;
	int fd;   /* the FAN_CLASS_CONTENT group */
	int wake; /* eventfd: the loop wakes the thread (stop, settings) */
	int note; /* eventfd: the thread wakes the loop (new slots, timeouts) */
	pid_t self;
	unsigned timeout_ms;
	/* Counted by the thread. */
	uint64_t open_exec, allowed_self, overflow, timeouts, queue_overflow;
	struct perm_slot slot[FSMON_PERM_MAX];
};

struct fsmon;

/* Where a file is, as its events name it: by its path as the host (picketd's
 * mount namespace) sees it, where path exclusions apply; else by its path
 * in another mount namespace and that namespace's id. */
struct fsmon_where {
	bool host;
	uint64_t mnt_ns; /* not host: the inode of its /proc/PID/ns/mnt, 0 when not known */
};

/* A filesystem only another mount namespace has, marked through it. */
struct fsmon_nsfs {
	char *mount, *fstype; /* its mount point in that namespace */
	int mnt_id;
	unsigned major, minor;
	fsid_t fsid;
	unsigned groups;
};

/* Another mount namespace, followed while a process is in it. */
struct fsmon_ns {
	struct fsmon *f;
	uint64_t id;              /* the inode of /proc/PID/ns/mnt */
	int root;                 /* O_PATH: the root of the process it was found by */
	size_t slot;              /* its mountinfo is the set's src[slot] */
	struct mount_list mounts; /* as last read */
	struct fsmon_nsfs *fs;
	size_t n_fs;
	bool seen; /* by the last scan of /proc */
};

struct fsmon_nsset {
	bool on;       /* mount_namespaces, while running */
	uint64_t self; /* picketd's own namespace */
	struct fsmon_ns *v[NS_MAX];
	size_t n;
	/* Each one's mountinfo (it holds the namespace): EPOLLPRI on a mount
	 * change.  Here, not in the namespace, so that a handler of the same
	 * wakeup after it is forgotten finds the descriptor closed. */
	struct io_source src[NS_MAX];
	struct io_source timer; /* the scan of /proc */
	uint64_t not_followed;  /* times a namespace was seen past NS_MAX */
	struct fsmon_ratelimit rl_full;
};

/* A file a catch-up walk scanned, by its scan key. */
struct fsmon_caught {
	struct scan_key key;
	time_t at;
};

struct fsmon_job {
	struct scan_owner owner; /* first: the scan layer hands &owner back */
	struct fsmon *f;
	struct fsmon_job *prev, *next;
	const char *trigger;
	struct fsmon_where where;
	pid_t pid;
	struct json_object *process;
	int slot; /* the execution waiting for this verdict, -1 when none */
	uint32_t gen;
};

/* A path exclusion held in the kernel: a mount point on its mount (in the
 * move group on its root's inode: the kernel takes no directory events on
 * mount marks), a directory on its inode with FAN_EVENT_ON_CHILD. */
struct fsmon_ignore {
	char *path;
	bool mount;
	int mnt_id;      /* the mount the path reaches */
	dev_t dev;       /* the directory */
	ino_t ino;
	unsigned want;   /* G_ bits: the groups of its filesystem's marks */
	unsigned groups; /* G_ bits: the groups holding the mark */
	unsigned failed; /* G_ bits: refused, logged once */
	fsid_t fsid;
	struct file_handle *fh; /* finds the directory once renamed; NULL: none */
};

struct fsmon {
	struct monitor mon;         /* first: running, degraded (kept while stopped) */
	struct io_source notif;     /* FAN_CLOSE_WRITE */
	struct io_source fid;       /* FAN_MOVED_TO, FAN_CREATE */
	struct io_source perm_note; /* eventfd: the permission thread has news */
	struct io_source mountinfo; /* /proc/self/mountinfo: EPOLLPRI on a mount change */
	struct fsmon_perm *perm;    /* NULL while on_execute is off */
	struct fsmon_fs *fs;        /* the marked filesystems */
	size_t n_fs;
	struct mount_list host;     /* the mount table as last read */
	struct fsmon_nsset ns;      /* other mount namespaces */
	struct fsmon_caught caught[CATCHUP_FILES]; /* a ring: the files catch-up walks scanned */
	size_t caught_next;
	time_t caught_last; /* when the last one was added */
	struct json_object *unmarked; /* [{mount, events, errno, error}] */
	struct fsmon_ignore *ign;     /* the path exclusions held as ignore marks */
	size_t n_ign;
	struct json_object *ign_skipped; /* [{path, reason}]: left to user space */
	unsigned ign_flags;           /* FAN_MARK_IGNORE_SURV, or the pre-6.0 flags */
	char own_dirs[3][PATH_MAX]; /* state, log and run directories, resolved */
	struct fsmon_job *jobs;     /* files of ours in the scan queue */
	size_t n_jobs, jobs_max;
	struct fsmon_counters c;
	struct fsmon_ratelimit rl_queue, rl_error, rl_unscanned, rl_overflow;
	uint64_t unscanned_since; /* executions allowed unscanned since the last event */
};

/* fsmon.c */
/* The next event of a read buffer, its metadata copied out; false at the
 * end, or at a malformed event. */
bool fsmon_next_event(const char *buf, size_t len, size_t *off,
		      struct fanotify_event_metadata *m);
/* One file written, moved or linked (fd taken, known_path NULL: read from
 * fd), checked against the exclusions and queued for a scan. */
void fsmon_file_event(struct fsmon *f, int fd, const char *known_path, pid_t pid,
		      const char *trigger);
/* The path of fd (a file pid writes or executes) as far as it can be
 * told: a path too deep for the kernel to tell in full starts with
 * FDPATH_ELIDED and its events say "path_complete": false (fdpath.h). */
void fsmon_event_path(int fd, pid_t pid, char *buf, size_t len);
/* Whether path, as fsmon_event_path tells it, is complete. */
bool fsmon_path_complete(const char *path);
/* The directory of a file handle, as an O_PATH descriptor, or -errno. */
int fsmon_open_dir(struct fsmon *f, const fsid_t *fsid, struct file_handle *fh);
/* Reads the process monitor's queue, so the table knows a new process. */
void fsmon_sync_procs(struct fsmon *f);
/* Whether one more of rl's events may be written (at most burst a window). */
bool fsmon_rl_allow(struct fsmon_ratelimit *rl, unsigned burst);
/* An event about one file; process is borrowed (a reference is taken);
 * where adds the mount namespace of a path that is not the host's. */
struct json_object *fsmon_file_ev(struct fsmon *f, const char *type, const char *path,
				  const struct fsmon_where *where, const char *trigger,
				  struct json_object *process);
/* Adds "suppressed" (how many rl left out) to ev, and starts counting again. */
void fsmon_add_suppressed(struct json_object *ev, struct fsmon_ratelimit *rl);
/* Queues fd (always taken) for a scan; 0 or -errno (-ENOSPC: queue full). */
int fsmon_submit(struct fsmon *f, int fd, const char *path, const struct fsmon_where *where,
		 pid_t pid, const char *trigger, int slot, uint32_t gen, bool critical);

/* fsmon_perm.c */
/* Wakes the other side of an eventfd. */
void fsmon_kick(int efd);
/* Opens the permission group, starts its thread, marks the filesystems. */
int fsmon_perm_create(struct fsmon *f, char *err, size_t errlen);
/* Stops the thread (it allows everything waiting); NULL f->perm is allowed. */
void fsmon_perm_destroy(struct fsmon *f);
/* Adds the thread's counters to c (p's lock held, or the thread stopped). */
void fsmon_perm_fold(struct fsmon_counters *c, const struct fsmon_perm *p);
/* The verdict of j, a scan an execution waits for, answers it. */
void fsmon_perm_verdict(struct fsmon *f, struct fsmon_job *j, struct scan_job *job,
			const struct verdict *v);
/* The thread has news: executions to decide, timeouts to report. */
void fsmon_on_perm_note(struct io_source *src, uint32_t events);

/* fsmon_marks.c */
/* The mount target, opened and checked to be mount mnt_id, or -errno. */
int fsmon_open_mount(const char *target, int mnt_id);
/* fanotify_mark with FAN_MARK_FILESYSTEM on the filesystem of mfd (O_PATH
 * will do); 0 or -errno. */
int fsmon_mark(int group, unsigned flags, uint64_t mask, int mfd);
/* Marks the filesystem of mfd in every group: 0 when the close-write mark
 * holds, else -errno; *ret_groups and why the others have none. */
int fsmon_mark_all(struct fsmon *f, int mfd, unsigned *ret_groups, int *ret_fid_err,
		   int *ret_perm_err);
/* Scans the files already in the filesystem mounted at mfd (see CATCHUP_AGE);
 * what names it in the log. */
void fsmon_catch_up(struct fsmon *f, int mfd, const char *what);
/* Whether the file of fd was scanned by a catch-up walk as it is now. */
bool fsmon_caught_up(struct fsmon *f, int fd);
void fsmon_fs_free(struct fsmon_fs *fs);
/* The marks in line with the mount table: the filesystems marked, or -errno. */
int fsmon_remark(struct fsmon *f, char *err, size_t errlen);
/* A mount change (EPOLLPRI on mountinfo): the marks follow. */
void fsmon_on_mountinfo(struct io_source *src, uint32_t events);

/* fsmon_ns.c */
/* The namespaces' part of a stopped monitor: no descriptor. */
void fsmon_ns_init(struct fsmon *f);
/* Follows the mount namespaces there are now (mount_namespaces on). */
void fsmon_ns_start(struct fsmon *f);
/* Forgets them (the marks stay with their filesystems). */
void fsmon_ns_stop(struct fsmon *f);
/* The policy changed: started, stopped, or every namespace marked again. */
void fsmon_ns_apply(struct fsmon *f);
/* pid has executed a program, or caused an event: its namespace is
 * followed if it is new. */
void fsmon_ns_see(struct fsmon *f, pid_t pid);
/* The name of the file fd is open on and where it is; known_path, when
 * given, is its host path should it be on a mount of the host's.  pid
 * (0: none) names the namespace when its mount is in no table.  0 or -errno. */
int fsmon_name(struct fsmon *f, int fd, const char *known_path, pid_t pid, char *path,
	       size_t len, struct fsmon_where *ret);
/* Whether process pid (pi: its entry, NULL when not known) is excluded: its
 * executable's path is in process_exclusions and it is the file the host has
 * there (a namespace can show any program under that path). */
bool fsmon_exclude_process(struct fsmon *f, pid_t pid, const struct proc_info *pi);
/* The directory of a file handle on a namespace's own filesystem, O_PATH,
 * or -errno. */
int fsmon_ns_open_dir(struct fsmon *f, const fsid_t *fsid, struct file_handle *fh);
/* Adds "mount_namespaces" to the file monitor's status o. */
void fsmon_ns_status(const struct fsmon *f, struct json_object *o);

/* fsmon_ignore.c */
/* The flags ignore marks are set with on this kernel. */
unsigned fsmon_probe_ignore_flags(int group);
/* The ignore marks in line with the path exclusions and mount table l. */
void fsmon_ignore_sync(struct fsmon *f, const struct mount_list *l);
/* Forgets the ignore marks (their groups are closed). */
void fsmon_ignore_release(struct fsmon *f);
