/* fsmon.c - the fanotify file monitor (see fsmon.h for the three groups):
 * the close-write and move groups' events, the scan hand-off, the ops. */
#include "fsmon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/fanotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "core/events.h"
#include "core/monitor_counts.h"
#include "core/proctable.h"
#include "exclude.h"
#include "fdpath.h"
#include "fsmon_int.h"
#include "jsonutil.h"
#include "log.h"
#include "monitor.h"
#include "policy.h"
#include "scan/scan.h"

#define FD_RESERVE 512 /* descriptors left for everything else picketd does */
#define EXEC_BITS (S_IXUSR | S_IXGRP | S_IXOTH)

/* fanotify packs events that carry names on 4-byte boundaries, and the
 * metadata struct wants 8: the metadata is copied out. */
bool fsmon_next_event(const char *buf, size_t len, size_t *off,
		      struct fanotify_event_metadata *m)
{
	if (*off > len || len - *off < sizeof(*m))
		return false;
	memcpy(m, buf + *off, sizeof(*m));
	if (m->event_len < sizeof(*m) || m->event_len > len - *off ||
	    m->metadata_len < sizeof(*m) || m->metadata_len > m->event_len)
		return false;
	*off += m->event_len;
	return true;
}

/* The writer's or executor's working directory is where a file too deep
 * for the kernel to name is most often found (cd there, then ./x). */
void fsmon_event_path(int fd, pid_t pid, char *buf, size_t len)
{
	char cwd[64];
	bool complete;
	int r = fdpath_file(fd, -1, buf, len, &complete);
	if (r == -ENAMETOOLONG && pid > 0) {
		snprintf(cwd, sizeof(cwd), "/proc/%d/cwd", (int)pid);
		_cleanup_close_ int hint = open(cwd, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (hint >= 0)
			r = fdpath_file(fd, hint, buf, len, &complete);
	}
	if (r < 0)
		snprintf(buf, len, "%s", FDPATH_ELIDED);
}

bool fsmon_path_complete(const char *path)
{
	return path[0] == '/';
}

/* -------------------------------------------------------------- events */

bool fsmon_rl_allow(struct fsmon_ratelimit *rl, unsigned burst)
{
	time_t now = time(NULL);
	if (now - rl->window_start >= RL_WINDOW) {
		rl->window_start = now;
		rl->n = 0;
	}
	if (rl->n < burst) {
		rl->n++;
		return true;
	}
	rl->suppressed++;
	return false;
}

/* "mount_namespace" for a path of another namespace (null: not known). */
static void add_where(struct json_object *ev, const struct fsmon_where *where)
{
	if (where && !where->host)
		json_object_object_add(ev, "mount_namespace",
				       where->mnt_ns ? json_object_new_uint64(where->mnt_ns) : NULL);
}

struct json_object *fsmon_file_ev(struct fsmon *f, const char *type, const char *path,
				  const struct fsmon_where *where, const char *trigger,
				  struct json_object *process)
{
	struct json_object *ev = events_new(f->mon.ctx->sink, type);
	if (!ev)
		return NULL;
	json_object_object_add(ev, "path", json_object_new_string(path));
	add_where(ev, where);
	if (!fsmon_path_complete(path))
		json_object_object_add(ev, "path_complete", json_object_new_boolean(false));
	if (trigger)
		json_object_object_add(ev, "trigger", json_object_new_string(trigger));
	if (process)
		json_object_object_add(ev, "process", json_object_get(process));
	return ev;
}

void fsmon_add_suppressed(struct json_object *ev, struct fsmon_ratelimit *rl)
{
	if (ev && rl->suppressed) {
		json_object_object_add(ev, "suppressed", json_object_new_uint64(rl->suppressed));
		rl->suppressed = 0;
	}
}

static void note_queue_full(struct fsmon *f, const char *path, const struct fsmon_where *where,
			    const char *trigger, bool critical)
{
	f->c.queue_full++;
	f->c.queue_full_critical += critical;
	if (!fsmon_rl_allow(&f->rl_queue, RL_BURST_CONDITION))
		return;
	log_warning("file monitor: scan queue full, %s not scanned", path);
	struct json_object *ev = fsmon_file_ev(f, "file_scan_skipped", path, where, trigger, NULL);
	if (ev)
		json_object_object_add(ev, "reason", json_object_new_string("scan queue full"));
	fsmon_add_suppressed(ev, &f->rl_queue);
	events_emit(f->mon.ctx->sink, ev);
}

static void note_overflow(struct fsmon *f, const char *group)
{
	f->c.overflow++;
	if (!fsmon_rl_allow(&f->rl_overflow, RL_BURST_CONDITION))
		return;
	log_warning("file monitor: the kernel's %s event queue overflowed: events were lost",
		    group);
	struct json_object *ev = events_new(f->mon.ctx->sink, "fsmon_overflow");
	if (ev)
		json_object_object_add(ev, "group", json_object_new_string(group));
	fsmon_add_suppressed(ev, &f->rl_overflow);
	events_emit(f->mon.ctx->sink, ev);
}

/* The process monitor's ring buffer first: a short-lived writer (cp) is
 * often gone when its close reaches us, and only its exec event, perhaps
 * still unread, names it. */
void fsmon_sync_procs(struct fsmon *f)
{
	const struct monitor_ctx *ctx = f->mon.ctx;
	if (ctx->sync_procs)
		ctx->sync_procs(ctx->sync_ud);
}

static bool own_dir(const struct fsmon *f, const char *path)
{
	for (size_t i = 0; i < ARRAY_SIZE(f->own_dirs); i++)
		if (f->own_dirs[i][0] && path_under(path, f->own_dirs[i]))
			return true;
	return false;
}

/* picketd itself (quarantine moves and restores, the event log, state
 * files) or one of its children (the scan service, the test load). */
static bool own_process(const struct fsmon *f, pid_t pid, const struct proc_info *pi)
{
	pid_t self = getpid(), scand = scan_pid(f->mon.ctx->scan);
	return pid == self || (scand > 0 && pid == scand) || (pi && pi->ppid == self);
}

/* ---------------------------------------------------------------- scanning */

static void job_unlink(struct fsmon *f, struct fsmon_job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		f->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	f->n_jobs--;
}

static void job_free(struct fsmon *f, struct fsmon_job *j)
{
	job_unlink(f, j);
	json_object_put(j->process);
	free(j);
}

static void on_job_done(struct scan_owner *o, struct scan_job *job, const struct verdict *v)
{
	struct fsmon_job *j = (struct fsmon_job *)o;
	struct fsmon *f = j->f;
	struct event_sink *sink = f->mon.ctx->sink;
	struct json_object *ev;

	switch (v->result) {
	case SCAN_INFECTED: /* the detection event is written, with annotate() */
		f->c.scanned++;
		f->c.detected++;
		break;
	case SCAN_LIMIT: /* the scan_limit event is written, with annotate() */
		break;
	case SCAN_CLEAN:
		f->c.scanned++;
		f->c.clean++;
		if (f->mon.ctx->policy->report_clean) {
			ev = fsmon_file_ev(f, "file_scan", job->path, &j->where, j->trigger,
					   j->process);
			if (ev)
				json_object_object_add(ev, "verdict", json_object_new_string("clean"));
			events_emit(sink, ev);
		}
		break;
	default:
		f->c.scan_errors++;
		if (fsmon_rl_allow(&f->rl_error, RL_BURST_ERRORS)) {
			ev = fsmon_file_ev(f, "file_scan_error", job->path, &j->where, j->trigger,
					   j->process);
			if (ev)
				json_object_object_add(ev, "error", json_object_new_string(v->text));
			fsmon_add_suppressed(ev, &f->rl_error);
			events_emit(sink, ev);
		}
		break;
	}
	if (j->slot >= 0)
		fsmon_perm_verdict(f, j, job, v);
	job_free(f, j);
}

/* What the monitor knows goes into the detection event: one event names the
 * file, the signature, the action, the trigger and the process. */
static void on_job_annotate(struct scan_owner *o, struct scan_job *job, struct json_object *ev)
{
	struct fsmon_job *j = (struct fsmon_job *)o;
	struct stat st;
	if (!fsmon_path_complete(job->path)) {
		json_object_object_add(ev, "path_complete", json_object_new_boolean(false));
		if (job->fd >= 0 && fstat(job->fd, &st) == 0) {
			char dev[32];
			snprintf(dev, sizeof(dev), "%u:%u", major(st.st_dev), minor(st.st_dev));
			json_object_object_add(ev, "device", json_object_new_string(dev));
			json_object_object_add(ev, "inode", json_object_new_uint64(st.st_ino));
		}
	}
	json_object_object_add(ev, "trigger", json_object_new_string(j->trigger));
	add_where(ev, &j->where);
	if (j->process)
		json_object_object_add(ev, "process", json_object_get(j->process));
}

/* The job may be done (and freed) before this returns: a cached verdict.
 * critical: the file is of degraded mode's critical set (executions are). */
int fsmon_submit(struct fsmon *f, int fd, const char *path, const struct fsmon_where *where,
		 pid_t pid, const char *trigger, int slot, uint32_t gen, bool critical)
{
	const struct monitor_ctx *ctx = f->mon.ctx;
	if (f->n_jobs >= f->jobs_max) {
		close(fd);
		note_queue_full(f, path, where, trigger, critical);
		return -ENOSPC;
	}
	struct fsmon_job *j = calloc(1, sizeof(*j));
	if (!j) {
		close(fd);
		return -ENOMEM;
	}
	*j = (struct fsmon_job){ .owner = { on_job_done, on_job_annotate },
				 .f = f,
				 .next = f->jobs,
				 .trigger = trigger,
				 .where = *where,
				 .pid = pid,
				 .process = pid > 0 ? proctable_json(ctx->procs, pid) : NULL,
				 .slot = slot,
				 .gen = gen };
	if (f->jobs)
		f->jobs->prev = j;
	f->jobs = j;
	f->n_jobs++;
	int r = scan_submit(ctx->scan, fd, path, &j->owner, slot >= 0 ? SCAN_URGENT : 0);
	if (r < 0) {
		job_free(f, j);
		if (r == -ENOSPC)
			note_queue_full(f, path, where, trigger, critical);
		else
			log_debug("file monitor: %s not scanned: %s", path, strerror(-r));
	}
	return r;
}

/* Degraded mode's critical set: executables (any x bit), and files under
 * critical_paths (system configuration, the program directories), or
 * where that cannot be told (a path too deep to be told in full). */
static bool critical_file(const struct policy *p, const char *path, const struct stat *st)
{
	if ((st->st_mode & EXEC_BITS) || !fsmon_path_complete(path))
		return true;
	for (size_t i = 0; i < p->n_critical_paths; i++)
		if (path_under(path, p->critical_paths[i]))
			return true;
	return false;
}

/* One written, moved or linked file: fd is taken.  known_path is NULL when
 * the descriptor's own path is to be read; a path the kernel cannot tell in
 * full is no reason not to scan the file.  Files in excluded directories
 * come here only from below their direct children (those the kernel's
 * ignore marks drop), or where no ignore mark could be set: exclude_path()
 * stays.  Paths another mount namespace gives (it can bind anything onto
 * /proc) are never excluded, nor picketd's own. */
void fsmon_file_event(struct fsmon *f, int fd, const char *known_path, pid_t pid,
		      const char *trigger)
{
	_cleanup_close_ int ffd = fd;
	const struct monitor_ctx *ctx = f->mon.ctx;
	char path[PATH_MAX];
	struct fsmon_where where;
	struct stat st;

	if (pid == getpid()) {
		f->c.ignored_self++;
		return;
	}
	if (fsmon_name(f, fd, known_path, pid, path, sizeof(path), &where) < 0) {
		f->c.vanished++;
		return;
	}
	if (where.host && own_dir(f, path)) {
		f->c.ignored_self++;
		return;
	}
	if (where.host && exclude_path(ctx->policy, path)) {
		f->c.excluded++;
		return;
	}
	const struct proc_info *pi = proctable_get(ctx->procs, pid);
	if (own_process(f, pid, pi)) {
		f->c.ignored_self++;
		return;
	}
	monitor_count_source(ctx, pi ? pi->exe : "");
	if (fsmon_exclude_process(f, pid, pi)) {
		f->c.excluded++;
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || fsmon_caught_up(f, fd))
		return;
	bool critical = critical_file(ctx->policy, path, &st);
	if (f->mon.degraded && !critical) {
		f->c.suppressed++;
		return;
	}
	fsmon_submit(f, TAKE_FD(ffd), path, &where, pid, trigger, -1, 0, critical);
}

/* ------------------------------------------------------ close-write group */

/* One event of a group: m is its header, raw its bytes (info records follow). */
typedef void (*fan_event_fn)(struct fsmon *f, const struct fanotify_event_metadata *m,
			     char *raw);

/* Reads a group's queued events, a bounded number of reads a wakeup so no
 * source starves the loop, and hands each but an overflow to one. */
static void read_group(struct io_source *src, const char *what, fan_event_fn one)
{
	struct fsmon *f = src->obj;
	char buf[FSMON_READ_BUF] __attribute__((aligned(__alignof__(struct fanotify_event_metadata))));
	if (src->fd < 0)
		return; /* stopped by an earlier handler of the same wakeup */
	fsmon_sync_procs(f);
	for (int round = 0; round < FSMON_READ_ROUNDS; round++) {
		ssize_t n = read(src->fd, buf, sizeof(buf));
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			log_error_errno(errno, "file monitor: reading %s events failed", what);
		if (n <= 0)
			return;
		struct fanotify_event_metadata m;
		size_t off = 0, at = 0;
		while (fsmon_next_event(buf, n, &off, &m)) {
			if (m.vers != FANOTIFY_METADATA_VERSION) {
				log_error("file monitor: fanotify metadata version %u, expected %u",
					  m.vers, FANOTIFY_METADATA_VERSION);
				return;
			}
			if (m.mask & FAN_Q_OVERFLOW)
				note_overflow(f, what);
			else
				one(f, &m, buf + at);
			at = off;
		}
	}
}

static void notif_event(struct fsmon *f, const struct fanotify_event_metadata *m, char *raw)
{
	(void)raw;
	if (m->fd < 0)
		return;
	f->c.close_write++;
	fsmon_file_event(f, m->fd, NULL, m->pid, "close_write");
}

static void on_notif(struct io_source *src, uint32_t events)
{
	(void)events;
	read_group(src, "close-write", notif_event);
}

/* ------------------------------------------------------------- move group */

/* Through the filesystem with that fsid first, then through each marked one. */
int fsmon_open_dir(struct fsmon *f, const fsid_t *fsid, struct file_handle *fh)
{
	int r = fsmon_ns_open_dir(f, fsid, fh);
	if (r >= 0)
		return r;
	r = -ESTALE;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < f->n_fs; i++) {
			bool same = memcmp(&f->fs[i].fsid, fsid, sizeof(*fsid)) == 0;
			if (same != (pass == 0))
				continue;
			_cleanup_close_ int mfd = fsmon_open_mount(f->fs[i].mount, f->fs[i].mnt_id);
			if (mfd < 0)
				continue;
			int dfd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
			if (dfd >= 0)
				return dfd;
			r = -errno;
		}
	return r;
}

/* The DFID_NAME record of an event: fsid, directory handle, name. */
static int dfid_name(const struct fanotify_event_metadata *m, char *raw, const fsid_t **ret_fsid,
		     struct file_handle **ret_fh, const char **ret_name)
{
	char *p = raw + m->metadata_len, *end = raw + m->event_len;
	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_header *h = (const void *)p;
		if (h->len < sizeof(*h) || h->len > (size_t)(end - p))
			return -EBADMSG;
		if (h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
			struct fanotify_event_info_fid *fid = (void *)p;
			const char *rec_end = p + h->len;
			if ((const char *)fid->handle > rec_end)
				return -EBADMSG;
			struct file_handle *fh = (struct file_handle *)fid->handle;
			if ((const char *)fh + sizeof(*fh) > rec_end ||
			    (const char *)fh->f_handle + fh->handle_bytes >= rec_end)
				return -EBADMSG;
			const char *name = (const char *)fh->f_handle + fh->handle_bytes;
			if (!memchr(name, '\0', rec_end - name))
				return -EBADMSG;
			*ret_fsid = (const fsid_t *)&fid->fsid;
			*ret_fh = fh;
			*ret_name = name;
			return 0;
		}
		p += h->len;
	}
	return -ENOENT;
}

/* The file a move or create names, opened by its directory's handle and its
 * name, its path in path: the descriptor, or -errno when there is nothing
 * to scan (a file gone is counted as vanished). */
static int fid_open(struct fsmon *f, const struct fanotify_event_metadata *m, char *raw,
		    bool moved, char *path, size_t len)
{
	const fsid_t *fsid;
	struct file_handle *fh;
	const char *name;
	struct statx dir, stx;
	char link[64];
	bool complete;

	int r = dfid_name(m, raw, &fsid, &fh, &name);
	if (r < 0)
		return r;
	if (!name[0] || strchr(name, '/'))
		return -EBADMSG;
	/* By name, on the directory's own mount only: what is mounted on that
	 * name since (a FUSE filesystem over a file just moved there) is never
	 * asked anything.  An O_PATH open opens nothing, the statx flags ask
	 * no filesystem, and the file is opened through the descriptor. */
	_cleanup_close_ int dfd = fsmon_open_dir(f, fsid, fh);
	_cleanup_close_ int pfd = dfd < 0 ? -1 : openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0 ||
	    statx(dfd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &dir) < 0 ||
	    statx(pfd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC,
		  STATX_TYPE | STATX_NLINK | STATX_MNT_ID, &stx) < 0) {
		f->c.vanished++;
		return -ENOENT;
	}
	if (stx.stx_mnt_id != dir.stx_mnt_id) {
		f->c.vanished++;
		return -EXDEV;
	}
	if (!S_ISREG(stx.stx_mode) || (!moved && stx.stx_nlink < 2))
		return -EINVAL;
	r = fdpath_dir(dfd, name, path, len, &complete);
	if (r < 0)
		snprintf(path, len, "%s/%s", FDPATH_ELIDED, name);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", pfd);
	int fd = open(link, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | O_NOATIME);
	if (fd < 0) {
		f->c.vanished++;
		return -ENOENT;
	}
	return fd;
}

/* FAN_MOVED_TO or FAN_CREATE.  A create only matters for a hard link (a new
 * file is scanned when it is closed after writing). */
static void fid_event(struct fsmon *f, const struct fanotify_event_metadata *m, char *raw)
{
	bool moved = m->mask & FAN_MOVED_TO;
	char path[PATH_MAX];

	if (moved)
		f->c.moved_to++;
	else
		f->c.create++;
	if (m->pid == getpid()) {
		f->c.ignored_self++;
		return;
	}
	int fd = fid_open(f, m, raw, moved, path, sizeof(path));
	if (fd >= 0)
		fsmon_file_event(f, fd, path, m->pid, moved ? "moved_to" : "create");
}

static void move_event(struct fsmon *f, const struct fanotify_event_metadata *m, char *raw)
{
	if (m->mask & FID_MASK)
		fid_event(f, m, raw);
}

static void on_fid(struct io_source *src, uint32_t events)
{
	(void)events;
	read_group(src, "move", move_event);
}

/* ---------------------------------------------------------------- control */

/* The first member: the ops are handed &f->mon. */
static struct fsmon *fsmon_of(struct monitor *m)
{
	return (struct fsmon *)m;
}

static void resolve_dir(char *out, size_t len, const char *dir)
{
	char *real = dir ? realpath(dir, NULL) : NULL;
	snprintf(out, len, "%s", real ? real : dir ? dir : "");
	free(real);
}

/* Every job of ours holds a descriptor: the soft limit goes up to the hard
 * one, and the jobs stay well below it. */
static size_t jobs_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 256;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max == RLIM_INFINITY ? 65536 : rl.rlim_max;
		struct rlimit up = { want, rl.rlim_max };
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl.rlim_cur = want;
	}
	if (rl.rlim_cur <= 2 * FD_RESERVE)
		return rl.rlim_cur / 4;
	size_t n = (rl.rlim_cur - FD_RESERVE) / 2;
	return n < FSMON_JOBS_MAX ? n : FSMON_JOBS_MAX;
}

static void release_all(struct fsmon *f)
{
	const struct monitor_ctx *ctx = f->mon.ctx;
	fsmon_perm_destroy(f);
	while (f->jobs) {
		struct fsmon_job *j = f->jobs;
		scan_cancel(ctx->scan, &j->owner);
		job_free(f, j);
	}
	struct io_source *srcs[] = { &f->notif, &f->fid, &f->mountinfo };
	for (size_t i = 0; i < ARRAY_SIZE(srcs); i++)
		if (srcs[i]->fd >= 0) {
			loop_del(ctx->epfd, srcs[i]);
			closep(&srcs[i]->fd);
		}
	fsmon_ns_stop(f);
	for (size_t i = 0; i < f->n_fs; i++)
		fsmon_fs_free(&f->fs[i]);
	free(f->fs);
	f->fs = NULL;
	f->n_fs = 0;
	mounts_free(&f->host);
	json_object_put(f->unmarked);
	f->unmarked = NULL;
	fsmon_ignore_release(f); /* the marks went with the groups */
	f->mon.running = false;
}

static int open_groups(struct fsmon *f, char *err, size_t errlen)
{
	int epfd = f->mon.ctx->epfd;
	int r;
	f->notif.fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, EVENT_F_FLAGS);
	if (f->notif.fd < 0) {
		r = -errno;
		snprintf(err, errlen, "fanotify: fanotify_init: %s", strerror(-r));
		return r;
	}
	f->ign_flags = fsmon_probe_ignore_flags(f->notif.fd);
	f->fid.fd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_CLOEXEC |
					  FAN_NONBLOCK,
				  O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (f->fid.fd < 0) {
		r = -errno;
		snprintf(err, errlen, "fanotify: fanotify_init (FAN_REPORT_DFID_NAME): %s",
			 strerror(-r));
		return r;
	}
	f->mountinfo.fd = open(MOUNTINFO, O_RDONLY | O_CLOEXEC);
	if (f->mountinfo.fd < 0) {
		r = -errno;
		snprintf(err, errlen, "fanotify: %s: %s", MOUNTINFO, strerror(-r));
		return r;
	}
	if ((r = loop_add(epfd, &f->notif, EPOLLIN)) < 0 ||
	    (r = loop_add(epfd, &f->fid, EPOLLIN)) < 0 ||
	    (r = loop_add(epfd, &f->mountinfo, EPOLLPRI)) < 0) {
		snprintf(err, errlen, "fanotify: epoll: %s", strerror(-r));
		return r;
	}
	return 0;
}

/* The sources as a stopped monitor holds them: no descriptor. */
static void init_sources(struct fsmon *f)
{
	fsmon_ns_init(f);
	f->notif = (struct io_source){ -1, on_notif, f };
	f->fid = (struct io_source){ -1, on_fid, f };
	f->perm_note = (struct io_source){ -1, fsmon_on_perm_note, f };
	f->mountinfo = (struct io_source){ -1, fsmon_on_mountinfo, f };
}

/* Opens the fanotify groups and marks the filesystems the policy selects.
 * On failure returns -errno and err says "fanotify: step: reason". */
static int fsmon_start(struct monitor *m, char *err, size_t errlen)
{
	struct fsmon *f = fsmon_of(m);
	struct monitor mon = f->mon; /* ops, context and degraded: kept while stopped */
	const struct monitor_ctx *ctx = mon.ctx;
	int r;

	if (mon.running)
		return 0;
	*f = (struct fsmon){ .mon = mon }; /* counts from 0 (monitor_counts.h) */
	init_sources(f);
	for (size_t i = 0; i < ARRAY_SIZE(f->own_dirs); i++)
		resolve_dir(f->own_dirs[i], sizeof(f->own_dirs[i]), ctx->own_dirs[i]);
	f->jobs_max = jobs_limit();
	r = open_groups(f, err, errlen);
	if (r < 0)
		goto fail;
	if (ctx->policy->on_execute != POLICY_ONEXEC_OFF) {
		r = fsmon_perm_create(f, err, errlen);
		if (r < 0)
			goto fail;
	}
	r = fsmon_remark(f, err, errlen);
	if (r < 0)
		goto fail;
	f->mon.running = true;
	fsmon_ns_start(f);
	log_notice("file monitor: fanotify on %zu filesystems, on_execute %s", f->n_fs,
		   policy_onexec_name(ctx->policy->on_execute));
	return 0;
fail:
	release_all(f);
	return r;
}

/* Answers every pending execution (allowed), closes the groups. */
static void fsmon_stop(struct monitor *m)
{
	if (!m->running)
		return;
	release_all(fsmon_of(m));
	log_notice("file monitor: stopped");
}

/* The policy changed while running: marks, ignore marks, on_execute. */
static int fsmon_apply_policy(struct monitor *m, char *err, size_t errlen)
{
	struct fsmon *f = fsmon_of(m);
	const struct policy *policy = m->ctx->policy;
	bool want_perm = policy->on_execute != POLICY_ONEXEC_OFF;
	int r;

	if (!m->running)
		return 0;
	if (!want_perm && f->perm)
		fsmon_perm_destroy(f);
	if (want_perm && !f->perm) {
		r = fsmon_perm_create(f, err, errlen);
		if (r < 0)
			return r;
	}
	if (f->perm) {
		pthread_mutex_lock(&f->perm->lock);
		f->perm->timeout_ms = policy->perm_timeout_ms;
		pthread_mutex_unlock(&f->perm->lock);
		fsmon_kick(f->perm->wake);
	}
	r = fsmon_remark(f, err, errlen);
	fsmon_ns_apply(f);
	return r < 0 ? r : 0;
}

/* ------------------------------------------------------------------ status */

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

/* The counters, those of the permission thread included. */
static struct fsmon_counters snapshot(struct fsmon *f, size_t *ret_pending)
{
	struct fsmon_counters c = f->c;
	size_t pending = 0;
	if (f->perm) {
		struct fsmon_perm *p = f->perm;
		pthread_mutex_lock(&p->lock);
		fsmon_perm_fold(&c, p);
		for (size_t i = 0; i < FSMON_PERM_MAX; i++)
			pending += p->slot[i].used && !p->slot[i].answered;
		pthread_mutex_unlock(&p->lock);
	}
	if (ret_pending)
		*ret_pending = pending;
	return c;
}

/* Totals for the overload check: what they count is in fsmon.h. */
static void fsmon_counts(struct monitor *m, struct monitor_counts *ret)
{
	struct fsmon *f = fsmon_of(m);
	struct fsmon_counters c = snapshot(f, NULL);
	/* An overflow event says that events were lost, not which: every one
	 * counts as of the critical set.  A file lost to a full scan queue is
	 * told apart by its mode and path, as degraded mode would. */
	*ret = (struct monitor_counts){
		.seen = c.close_write + c.moved_to + c.create + c.open_exec - c.suppressed,
		.dropped = c.overflow + c.queue_full + c.perm_overflow,
		.critical_dropped = c.overflow + c.queue_full_critical + c.perm_overflow,
		.suppressed = c.suppressed,
		.excluded = c.excluded,
		.queue = f->n_jobs,
	};
}

/* Fault 18: on, only the critical set is scanned on access (see fsmon.h). */
static void fsmon_set_degraded(struct monitor *m, bool on)
{
	if (m->degraded != on && m->running)
		log_notice("file monitor: %s", on ? "degraded: only executables and critical_paths "
						    "are scanned on access"
						  : "every file is scanned on access again");
	m->degraded = on;
}

/* [{path, on}] of the ignore marks held; *ret_n: how many. */
static struct json_object *ignore_status(const struct fsmon *f, size_t *ret_n)
{
	struct json_object *list = json_object_new_array();
	size_t n = 0;
	for (size_t i = 0; list && i < f->n_ign; i++) {
		struct json_object *o = json_object_new_object();
		if (!f->ign[i].groups || !o) {
			json_object_put(o);
			continue;
		}
		json_object_object_add(o, "path", json_object_new_string(f->ign[i].path));
		json_object_object_add(o, "on", json_object_new_string(f->ign[i].mount ? "mount"
											: "directory"));
		json_object_array_add(list, o);
		n++;
	}
	*ret_n = n;
	return list;
}

/* {close_write, moved_to, create, open_exec}: the events seen. */
static struct json_object *events_status(const struct fsmon_counters *c)
{
	struct json_object *ev = json_object_new_object();
	if (!ev)
		return NULL;
	add_u64(ev, "close_write", c->close_write);
	add_u64(ev, "moved_to", c->moved_to);
	add_u64(ev, "create", c->create);
	add_u64(ev, "open_exec", c->open_exec);
	return ev;
}

/* The executions' part of status, last. */
static void perm_status(struct json_object *o, const struct fsmon_counters *c, size_t pending)
{
	add_u64(o, "perm_allowed", c->perm_allowed);
	add_u64(o, "perm_denied", c->perm_denied);
	add_u64(o, "perm_timeouts", c->perm_timeouts);
	add_u64(o, "perm_overflow", c->perm_overflow);
	add_u64(o, "perm_unscanned", c->perm_unscanned);
	add_u64(o, "perm_pending", pending);
}

/* {"state":..,"backend":..,"events":{..},...} for status. */
static struct json_object *fsmon_status(struct monitor *m)
{
	struct fsmon *f = fsmon_of(m);
	const char *on_execute = policy_onexec_name(m->ctx->policy->on_execute);
	size_t pending;
	struct fsmon_counters c = snapshot(f, &pending);
	struct json_object *o = json_object_new_object(), *fs = json_object_new_array();
	struct json_object *ev = events_status(&c);
	size_t n_ign;
	struct json_object *ign = ignore_status(f, &n_ign);
	if (!o || !fs || !ev || !ign) {
		json_object_put(o);
		json_object_put(fs);
		json_object_put(ev);
		json_object_put(ign);
		return NULL;
	}
	for (size_t i = 0; i < f->n_fs; i++)
		json_object_array_add(fs, json_object_new_string(f->fs[i].mount));
	json_object_object_add(o, "state", json_object_new_string(m->running ? "running" : "stopped"));
	json_object_object_add(o, "backend", json_object_new_string("fanotify"));
	json_object_object_add(o, "filesystems", fs);
	json_object_object_add(o, "unmarked",
			       f->unmarked ? json_object_get(f->unmarked) : json_object_new_array());
	json_object_object_add(o, "on_execute", json_object_new_string(on_execute));
	json_object_object_add(o, "events", ev);
	add_u64(o, "scanned", c.scanned);
	add_u64(o, "clean", c.clean);
	add_u64(o, "detected", c.detected);
	add_u64(o, "scan_errors", c.scan_errors);
	add_u64(o, "excluded", c.excluded);
	add_u64(o, "ignore_marks", n_ign);
	json_object_object_add(o, "ignore", ign);
	json_object_object_add(o, "ignore_skipped", f->ign_skipped ? json_object_get(f->ign_skipped)
								   : json_object_new_array());
	json_object_object_add(o, "degraded", json_object_new_boolean(m->degraded));
	add_u64(o, "suppressed", c.suppressed);
	add_u64(o, "ignored_self", c.ignored_self);
	add_u64(o, "queue_full", c.queue_full);
	add_u64(o, "queue_full_critical", c.queue_full_critical);
	add_u64(o, "vanished", c.vanished);
	add_u64(o, "overflow", c.overflow);
	add_u64(o, "queued", f->n_jobs);
	add_u64(o, "caught_up", c.caught_up);
	fsmon_ns_status(f, o);
	perm_status(o, &c, pending);
	return o;
}

static void fsmon_proc_exec(struct monitor *m, pid_t pid)
{
	fsmon_ns_see(fsmon_of(m), pid);
}

static void fsmon_destroy(struct monitor *m)
{
	fsmon_stop(m);
	free(fsmon_of(m));
}

static const struct monitor_ops fsmon_ops = {
	.name = "file",
	.ebpf = false,
	.start = fsmon_start,
	.stop = fsmon_stop,
	.apply_policy = fsmon_apply_policy,
	.set_degraded = fsmon_set_degraded,
	.counts = fsmon_counts,
	.status = fsmon_status,
	.proc_exec = fsmon_proc_exec,
	.destroy = fsmon_destroy,
};

struct monitor *fsmon_new(const struct monitor_ctx *ctx)
{
	struct fsmon *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->mon = (struct monitor){ .ops = &fsmon_ops, .ctx = ctx };
	init_sources(f);
	return &f->mon;
}
