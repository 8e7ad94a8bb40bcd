/* fsmon.c - the fanotify file monitor (see fsmon.h for the three groups). */
#include "fsmon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "exclude.h"
#include "jsonutil.h"
#include "log.h"
#include "core/monitor_counts.h"
#include "mounts.h"
#include "picketd.h"

#define MOUNTINFO "/proc/self/mountinfo"
/* The descriptors fanotify opens for us: never a controlling tty, never a
 * wait on a FIFO, no access time changed by scanning. */
#define EVENT_F_FLAGS (O_RDONLY | O_LARGEFILE | O_CLOEXEC | O_NONBLOCK | O_NOATIME)
#define NOTIF_MASK FAN_CLOSE_WRITE
#define FID_MASK (FAN_MOVED_TO | FAN_CREATE)
#define PERM_MASK FAN_OPEN_EXEC_PERM
#define FD_RESERVE 512 /* descriptors left for everything else picketd does */
#define EXEC_BITS (S_IXUSR | S_IXGRP | S_IXOTH)

/* Events that can come in floods: at most a burst per RL_WINDOW seconds,
 * the next one says how many were left out.  Errors name their file, so a
 * few of them; the others are one condition each. */
#define RL_WINDOW 60
#define RL_BURST_ERRORS 5
#define RL_BURST_CONDITION 1

enum { G_NOTIF = 1, G_FID = 2, G_PERM = 4 };

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

struct fsmon_job {
	struct scan_owner owner; /* first: the supervisor hands &owner back */
	struct fsmon_job *prev, *next;
	const char *trigger;
	pid_t pid;
	struct json_object *process;
	int slot; /* the execution waiting for this verdict, -1 when none */
	uint32_t gen;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void kick(int efd)
{
	uint64_t one = 1;
	if (write(efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("file monitor: eventfd write failed: %s", strerror(errno));
}

static void drain(int efd)
{
	uint64_t v;
	while (read(efd, &v, sizeof(v)) > 0)
		;
}

static void respond(int group, int fd, uint32_t answer)
{
	struct fanotify_response resp = { .fd = fd, .response = answer };
	/* ENOENT: already answered, or the event is gone (its process died). */
	while (write(group, &resp, sizeof(resp)) < 0 && errno == EINTR)
		;
}

/* The next event of a read buffer, its metadata copied out: fanotify packs
 * events that carry names on 4-byte boundaries, and the metadata struct
 * wants 8.  false at the end, or at a malformed event. */
static bool next_event(const char *buf, size_t len, size_t *off,
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

static int fd_path(int fd, char *buf, size_t len)
{
	char link[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, buf, len - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= len - 1)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

/* pid's parent, from /proc (the permission thread cannot use the process
 * table: that is the loop's). */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold spaces and parentheses. */
	const char *p = strrchr(buf, ')');
	int ppid;
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/* ------------------------------------------------------- permission thread */

/* Allows every slot past its deadline; the time to the next deadline in ms,
 * -1 when none.  Called with the lock held. */
static int perm_expire(struct fsmon_perm *p, uint64_t now, bool *expired)
{
	uint64_t next = UINT64_MAX;
	for (size_t i = 0; i < FSMON_PERM_MAX; i++) {
		struct perm_slot *s = &p->slot[i];
		if (!s->used || s->answered)
			continue;
		if (s->deadline_ms <= now) {
			respond(p->fd, s->fd, FAN_ALLOW);
			s->answered = s->timed_out = true;
			s->answered_ms = now;
			p->timeouts++;
			*expired = true;
		} else if (s->deadline_ms < next) {
			next = s->deadline_ms;
		}
	}
	if (next == UINT64_MAX)
		return -1;
	return next - now > INT_MAX ? INT_MAX : (int)(next - now);
}

/* One permission event: picketd's own and its children's (the scan
 * service's exec, the definitions test load) are allowed at once, as is
 * everything past FSMON_PERM_MAX waiting; the rest waits for the loop. */
static bool perm_take(struct fsmon_perm *p, const struct fanotify_event_metadata *m)
{
	if (m->mask & FAN_Q_OVERFLOW) {
		pthread_mutex_lock(&p->lock);
		p->queue_overflow++;
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	if (m->fd < 0)
		return false;
	if (!(m->mask & PERM_MASK)) {
		close(m->fd);
		return false;
	}
	bool own = m->pid == p->self || parent_of(m->pid) == p->self;
	if (own)
		respond(p->fd, m->fd, FAN_ALLOW);
	pthread_mutex_lock(&p->lock);
	p->open_exec++;
	size_t i = FSMON_PERM_MAX;
	if (own)
		p->allowed_self++;
	else
		for (i = 0; i < FSMON_PERM_MAX && p->slot[i].used; i++)
			;
	if (!own && i == FSMON_PERM_MAX) {
		respond(p->fd, m->fd, FAN_ALLOW);
		p->overflow++;
	} else if (!own) {
		uint64_t now = now_ms();
		struct perm_slot *s = &p->slot[i];
		*s = (struct perm_slot){ .used = true, .fd = m->fd, .pid = m->pid, .gen = s->gen + 1,
					 .start_ms = now, .deadline_ms = now + p->timeout_ms };
	}
	pthread_mutex_unlock(&p->lock);
	if (i == FSMON_PERM_MAX)
		close(m->fd);
	return i != FSMON_PERM_MAX;
}

static void perm_read(struct fsmon_perm *p, char *buf)
{
	bool news = false;
	for (int round = 0; round < FSMON_READ_ROUNDS; round++) {
		ssize_t n = read(p->fd, buf, FSMON_READ_BUF);
		if (n <= 0)
			break;
		struct fanotify_event_metadata m;
		size_t off = 0;
		while (next_event(buf, n, &off, &m))
			if (m.vers == FANOTIFY_METADATA_VERSION && perm_take(p, &m))
				news = true;
	}
	if (news)
		kick(p->note);
}

static void *perm_thread(void *arg)
{
	struct fsmon_perm *p = arg;
	char buf[FSMON_READ_BUF]; /* events are copied out: no alignment needed */
	for (;;) {
		bool expired = false;
		pthread_mutex_lock(&p->lock);
		bool stop = p->stop;
		int timeout = stop ? 0 : perm_expire(p, now_ms(), &expired);
		pthread_mutex_unlock(&p->lock);
		if (expired)
			kick(p->note);
		if (stop)
			break;
		struct pollfd pfd[2] = { { .fd = p->fd, .events = POLLIN },
					 { .fd = p->wake, .events = POLLIN } };
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR) {
			usleep(10000); /* cannot happen with valid descriptors; do not spin */
			continue;
		}
		if (pfd[1].revents & POLLIN)
			drain(p->wake);
		if (pfd[0].revents & POLLIN)
			perm_read(p, buf);
	}
	/* Stopping: nothing on the host may wait for a picketd that is gone. */
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < FSMON_PERM_MAX; i++)
		if (p->slot[i].used && !p->slot[i].answered) {
			respond(p->fd, p->slot[i].fd, FAN_ALLOW);
			p->slot[i].answered = true;
		}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* -------------------------------------------------------------- events */

static bool rl_allow(struct fsmon_ratelimit *rl, unsigned burst)
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

/* An event about one file; process is borrowed (a reference is taken). */
static struct json_object *file_ev(struct picketd *d, const char *type, const char *path,
				   const char *trigger, struct json_object *process)
{
	struct json_object *ev = eventlog_new(&d->events, type);
	if (!ev)
		return NULL;
	json_object_object_add(ev, "path", json_object_new_string(path));
	if (trigger)
		json_object_object_add(ev, "trigger", json_object_new_string(trigger));
	if (process)
		json_object_object_add(ev, "process", json_object_get(process));
	return ev;
}

static void add_suppressed(struct json_object *ev, struct fsmon_ratelimit *rl)
{
	if (ev && rl->suppressed) {
		json_object_object_add(ev, "suppressed", json_object_new_uint64(rl->suppressed));
		rl->suppressed = 0;
	}
}

static void note_queue_full(struct picketd *d, const char *path, const char *trigger,
			    bool critical)
{
	d->fsmon.c.queue_full++;
	d->fsmon.c.queue_full_critical += critical;
	if (!rl_allow(&d->fsmon.rl_queue, RL_BURST_CONDITION))
		return;
	log_warning("file monitor: scan queue full, %s not scanned", path);
	struct json_object *ev = file_ev(d, "file_scan_skipped", path, trigger, NULL);
	if (ev)
		json_object_object_add(ev, "reason", json_object_new_string("scan queue full"));
	add_suppressed(ev, &d->fsmon.rl_queue);
	events_emit(d, ev);
}

static void note_overflow(struct picketd *d, const char *group)
{
	d->fsmon.c.overflow++;
	if (!rl_allow(&d->fsmon.rl_overflow, RL_BURST_CONDITION))
		return;
	log_warning("file monitor: the kernel's %s event queue overflowed: events were lost",
		    group);
	struct json_object *ev = eventlog_new(&d->events, "fsmon_overflow");
	if (ev)
		json_object_object_add(ev, "group", json_object_new_string(group));
	add_suppressed(ev, &d->fsmon.rl_overflow);
	events_emit(d, ev);
}

/* The process monitor's ring buffer first: a short-lived writer (cp) is
 * often gone when its close reaches us, and only its exec event, perhaps
 * still unread, names it. */
static void sync_procs(struct picketd *d)
{
	procmon_sync(d);
}

static bool own_dir(const struct picketd *d, const char *path)
{
	for (size_t i = 0; i < ARRAY_SIZE(d->fsmon.own_dirs); i++)
		if (d->fsmon.own_dirs[i][0] && path_under(path, d->fsmon.own_dirs[i]))
			return true;
	return false;
}

/* picketd itself (quarantine moves and restores, the event log, state
 * files) or one of its children (the scan service, the test load). */
static bool own_process(struct picketd *d, pid_t pid, const struct proc_info *pi)
{
	pid_t self = getpid();
	return pid == self || (d->svc.pid > 0 && pid == d->svc.pid) || (pi && pi->ppid == self);
}

static const char *proc_exe(struct picketd *d, pid_t pid)
{
	const struct proc_info *pi = proctable_get(&d->procs, pid);
	return pi ? pi->exe : NULL;
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

static void perm_verdict(struct picketd *d, struct fsmon_job *j, struct scan_job *job,
			 const struct verdict *v);

static void on_job_done(struct picketd *d, struct scan_owner *o, struct scan_job *job,
			const struct verdict *v)
{
	struct fsmon_job *j = (struct fsmon_job *)o;
	struct fsmon *f = &d->fsmon;
	struct json_object *ev;

	switch (v->result) {
	case SCAN_INFECTED: /* the detection event is written, with annotate() */
		f->c.scanned++;
		f->c.detected++;
		break;
	case SCAN_CLEAN:
		f->c.scanned++;
		f->c.clean++;
		if (d->policy.report_clean) {
			ev = file_ev(d, "file_scan", job->path, j->trigger, j->process);
			if (ev)
				json_object_object_add(ev, "verdict", json_object_new_string("clean"));
			events_emit(d, ev);
		}
		break;
	default:
		f->c.scan_errors++;
		if (rl_allow(&f->rl_error, RL_BURST_ERRORS)) {
			ev = file_ev(d, "file_scan_error", job->path, j->trigger, j->process);
			if (ev)
				json_object_object_add(ev, "error", json_object_new_string(v->text));
			add_suppressed(ev, &f->rl_error);
			events_emit(d, ev);
		}
		break;
	}
	if (j->slot >= 0)
		perm_verdict(d, j, job, v);
	job_free(f, j);
}

/* What the monitor knows goes into the detection event: one event names the
 * file, the signature, the action, the trigger and the process. */
static void on_job_annotate(struct picketd *d, struct scan_owner *o, struct scan_job *job,
			    struct json_object *ev)
{
	struct fsmon_job *j = (struct fsmon_job *)o;
	(void)d;
	(void)job;
	json_object_object_add(ev, "trigger", json_object_new_string(j->trigger));
	if (j->process)
		json_object_object_add(ev, "process", json_object_get(j->process));
}

/* Queues fd (always taken) for a scan; 0, or -ENOSPC when the queue is full.
 * The job may be done (and freed) before this returns: a cached verdict.
 * critical: the file is of degraded mode's critical set (executions are). */
static int submit(struct picketd *d, int fd, const char *path, pid_t pid, const char *trigger,
		  int slot, uint32_t gen, bool critical)
{
	struct fsmon *f = &d->fsmon;
	if (f->n_jobs >= f->jobs_max) {
		close(fd);
		note_queue_full(d, path, trigger, critical);
		return -ENOSPC;
	}
	struct fsmon_job *j = calloc(1, sizeof(*j));
	if (!j) {
		close(fd);
		return -ENOMEM;
	}
	*j = (struct fsmon_job){ .owner = { on_job_done, on_job_annotate },
				 .next = f->jobs,
				 .trigger = trigger,
				 .pid = pid,
				 .process = monitors_process_json(d, pid),
				 .slot = slot,
				 .gen = gen };
	if (f->jobs)
		f->jobs->prev = j;
	f->jobs = j;
	f->n_jobs++;
	int r = supervisor_submit_flags(d, fd, path, &j->owner, slot >= 0 ? SCAN_URGENT : 0);
	if (r < 0) {
		job_free(f, j);
		if (r == -ENOSPC)
			note_queue_full(d, path, trigger, critical);
		else
			log_debug("file monitor: %s not scanned: %s", path, strerror(-r));
	}
	return r;
}

/* Degraded mode's critical set: executables (any x bit), and files under
 * critical_paths (system configuration, the program directories). */
static bool critical_file(const struct picketd *d, const char *path, const struct stat *st)
{
	if (st->st_mode & EXEC_BITS)
		return true;
	for (size_t i = 0; i < d->policy.n_critical_paths; i++)
		if (path_under(path, d->policy.critical_paths[i]))
			return true;
	return false;
}

/* One written, moved or linked file: fd is taken.  path is NULL when the
 * descriptor's own path is to be read.  Files in excluded directories come
 * here only from below their direct children (those the kernel's ignore
 * marks drop), or where no ignore mark could be set: exclude_path() stays. */
static void file_event(struct picketd *d, int fd, const char *known_path, pid_t pid,
		       const char *trigger)
{
	_cleanup_close_ int ffd = fd;
	struct fsmon *f = &d->fsmon;
	char path[PATH_MAX];
	struct stat st;

	if (pid == getpid()) {
		f->c.ignored_self++;
		return;
	}
	if (known_path)
		snprintf(path, sizeof(path), "%s", known_path);
	else if (fd_path(fd, path, sizeof(path)) < 0) {
		f->c.vanished++;
		return;
	}
	if (own_dir(d, path)) {
		f->c.ignored_self++;
		return;
	}
	if (exclude_path(&d->policy, path)) {
		f->c.excluded++;
		return;
	}
	const struct proc_info *pi = proctable_get(&d->procs, pid);
	if (own_process(d, pid, pi)) {
		f->c.ignored_self++;
		return;
	}
	monitors_count_source(d, pi ? pi->exe : "");
	if (pi && exclude_process(&d->policy, pi->exe)) {
		f->c.excluded++;
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	bool critical = critical_file(d, path, &st);
	if (f->degraded && !critical) {
		f->c.suppressed++;
		return;
	}
	submit(d, TAKE_FD(ffd), path, pid, trigger, -1, 0, critical);
}

/* ------------------------------------------------------ close-write group */

/* One event of a group: m is its header, raw its bytes (info records follow). */
typedef void (*fan_event_fn)(struct picketd *d, const struct fanotify_event_metadata *m,
			     char *raw);

/* Reads a group's queued events, a bounded number of reads a wakeup so no
 * source starves the loop, and hands each but an overflow to one. */
static void read_group(struct io_source *src, const char *what, fan_event_fn one)
{
	struct picketd *d = src->obj;
	char buf[FSMON_READ_BUF] __attribute__((aligned(__alignof__(struct fanotify_event_metadata))));
	if (src->fd < 0)
		return; /* stopped by an earlier handler of the same wakeup */
	sync_procs(d);
	for (int round = 0; round < FSMON_READ_ROUNDS; round++) {
		ssize_t n = read(src->fd, buf, sizeof(buf));
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			log_error_errno(errno, "file monitor: reading %s events failed", what);
		if (n <= 0)
			return;
		struct fanotify_event_metadata m;
		size_t off = 0, at = 0;
		while (next_event(buf, n, &off, &m)) {
			if (m.vers != FANOTIFY_METADATA_VERSION) {
				log_error("file monitor: fanotify metadata version %u, expected %u",
					  m.vers, FANOTIFY_METADATA_VERSION);
				return;
			}
			if (m.mask & FAN_Q_OVERFLOW)
				note_overflow(d, what);
			else
				one(d, &m, buf + at);
			at = off;
		}
	}
}

static void notif_event(struct picketd *d, const struct fanotify_event_metadata *m,
			char *raw)
{
	(void)raw;
	if (m->fd < 0)
		return;
	d->fsmon.c.close_write++;
	file_event(d, m->fd, NULL, m->pid, "close_write");
}

static void on_notif(struct io_source *src, uint32_t events)
{
	(void)events;
	read_group(src, "close-write", notif_event);
}

/* ------------------------------------------------------------- move group */

/* The mount of fs, opened and checked to be the one marked: -ESTALE when
 * something else is mounted there now. */
static int open_mount(const char *target, int mnt_id)
{
	int fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct statx stx;
	if (mnt_id > 0 && statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) == 0 &&
	    (stx.stx_mask & STATX_MNT_ID) && stx.stx_mnt_id != (uint64_t)mnt_id) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/* The directory of a file handle, as an O_PATH descriptor: through the
 * filesystem with that fsid first, then through each marked one. */
static int open_dir(struct picketd *d, const fsid_t *fsid, struct file_handle *fh)
{
	struct fsmon *f = &d->fsmon;
	int r = -ESTALE;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < f->n_fs; i++) {
			bool same = memcmp(&f->fs[i].fsid, fsid, sizeof(*fsid)) == 0;
			if (same != (pass == 0))
				continue;
			_cleanup_close_ int mfd = open_mount(f->fs[i].mount, f->fs[i].mnt_id);
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

/* FAN_MOVED_TO or FAN_CREATE: the file is opened by its directory's handle
 * and its name.  A create only matters for a hard link (a new file is
 * scanned when it is closed after writing). */
static void fid_event(struct picketd *d, const struct fanotify_event_metadata *m, char *raw)
{
	struct fsmon *f = &d->fsmon;
	bool moved = m->mask & FAN_MOVED_TO;
	const char *trigger = moved ? "moved_to" : "create";
	const fsid_t *fsid;
	struct file_handle *fh;
	const char *name;
	struct stat st;
	char dir[PATH_MAX], path[PATH_MAX];

	if (moved)
		f->c.moved_to++;
	else
		f->c.create++;
	if (m->pid == getpid()) {
		f->c.ignored_self++;
		return;
	}
	if (dfid_name(m, raw, &fsid, &fh, &name) < 0 || !name[0] || strchr(name, '/'))
		return;
	_cleanup_close_ int dfd = open_dir(d, fsid, fh);
	if (dfd < 0 || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		f->c.vanished++;
		return;
	}
	if (!S_ISREG(st.st_mode) || (!moved && st.st_nlink < 2))
		return;
	if (fd_path(dfd, dir, sizeof(dir)) < 0 ||
	    snprintf(path, sizeof(path), "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name) >=
		    (int)sizeof(path))
		return;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
					   O_NOATIME);
	if (fd < 0) {
		f->c.vanished++;
		return;
	}
	file_event(d, fd, path, m->pid, trigger);
}

static void move_event(struct picketd *d, const struct fanotify_event_metadata *m,
		       char *raw)
{
	if (m->mask & FID_MASK)
		fid_event(d, m, raw);
}

static void on_fid(struct io_source *src, uint32_t events)
{
	(void)events;
	read_group(src, "move", move_event);
}

/* -------------------------------------------------- permission: the loop */

/* Answers slot i unless the thread already did; true when this answer was
 * the one the kernel got. */
static bool perm_answer(struct fsmon_perm *p, int i, uint32_t answer)
{
	bool mine = false;
	pthread_mutex_lock(&p->lock);
	struct perm_slot *s = &p->slot[i];
	if (s->used && !s->answered) {
		respond(p->fd, s->fd, answer);
		s->answered = mine = true;
	}
	pthread_mutex_unlock(&p->lock);
	return mine;
}

/* Frees slot i once nothing needs it: answered, no scan pending for it,
 * its timeout reported. */
static void perm_release(struct fsmon_perm *p, int i)
{
	pthread_mutex_lock(&p->lock);
	struct perm_slot *s = &p->slot[i];
	if (s->used && s->answered && !s->busy && (!s->timed_out || s->reported)) {
		close(s->fd);
		s->used = false;
		s->fd = -1;
	}
	pthread_mutex_unlock(&p->lock);
}

static void allow(struct picketd *d, int i)
{
	if (perm_answer(d->fsmon.perm, i, FAN_ALLOW))
		d->fsmon.c.perm_allowed++;
}

static struct json_object *exec_ev(struct picketd *d, const char *type, const char *path,
				   struct json_object *process, const char *signature)
{
	struct json_object *ev = file_ev(d, type, path, "exec", process);
	if (ev && signature)
		json_object_object_add(ev, "signature", json_object_new_string(signature));
	return ev;
}

/* A detected file is executed: refused in block mode, reported in both. */
static void exec_detected(struct picketd *d, int i, const char *path,
			  struct json_object *process, const char *signature, bool cached)
{
	bool block = d->policy.on_execute == POLICY_ONEXEC_BLOCK;
	bool answered = perm_answer(d->fsmon.perm, i, block ? FAN_DENY : FAN_ALLOW);
	const char *type = answered && block ? "exec_blocked" : "exec_detected";
	if (answered && block)
		d->fsmon.c.perm_denied++;
	else if (answered)
		d->fsmon.c.perm_allowed++;
	log_warning("file monitor: execution of %s (%s): %s", path, signature,
		    answered && block ? "blocked" : "allowed");
	struct json_object *ev = exec_ev(d, type, path, process, signature);
	if (ev) {
		json_object_object_add(ev, "cached", json_object_new_boolean(cached));
		if (!answered)
			json_object_object_add(ev, "allowed_by", json_object_new_string("timeout"));
	}
	events_emit(d, ev);
}

static void exec_unscanned(struct picketd *d, int i, const char *path, pid_t pid)
{
	struct fsmon *f = &d->fsmon;
	allow(d, i);
	f->c.perm_unscanned++;
	f->unscanned_since++;
	if (!rl_allow(&f->rl_unscanned, RL_BURST_CONDITION))
		return;
	_cleanup_json_ struct json_object *process = monitors_process_json(d, pid);
	struct json_object *ev = exec_ev(d, "exec_unscanned", path, process, NULL);
	if (ev) {
		char why[128];
		snprintf(why, sizeof(why), "scan service %s", svc_state_name(d->svc.state));
		json_object_object_add(ev, "reason", json_object_new_string(why));
		json_object_object_add(ev, "count", json_object_new_uint64(f->unscanned_since));
	}
	f->unscanned_since = 0;
	add_suppressed(ev, &f->rl_unscanned);
	events_emit(d, ev);
}

/* A new execution: exclusions, the verdict cache, else an urgent scan whose
 * verdict answers it (perm_verdict).  Never waits: when the scan service is
 * not ready, it is allowed at once.  Every execution on the host comes
 * through here: the common case (a clean binary, cached) costs a readlink,
 * an fstat and a hash lookup; the process is looked up only when needed. */
static void perm_decide(struct picketd *d, int i)
{
	struct fsmon *f = &d->fsmon;
	struct perm_slot *s = &f->perm->slot[i]; /* fd, pid, gen: fixed while used */
	char path[PATH_MAX];
	struct scan_key key;
	struct verdict v;

	if (fd_path(s->fd, path, sizeof(path)) < 0 || scan_key_of(s->fd, &key) < 0) {
		allow(d, i);
		return;
	}
	if (exclude_path(&d->policy, path) ||
	    (d->policy.n_process_exclusions &&
	     exclude_process(&d->policy, proc_exe(d, s->pid)))) {
		f->c.excluded++;
		allow(d, i);
		return;
	}
	if (scanq_cached(&d->scanq, &key, &v)) {
		if (v.result != SCAN_INFECTED) {
			allow(d, i);
			return;
		}
		_cleanup_json_ struct json_object *process = monitors_process_json(d, s->pid);
		exec_detected(d, i, path, process, v.text, true);
		return;
	}
	if (d->svc.state != SVC_READY) {
		exec_unscanned(d, i, path, s->pid);
		return;
	}
	int fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		allow(d, i);
		return;
	}
	pthread_mutex_lock(&f->perm->lock);
	s->busy = true;
	pthread_mutex_unlock(&f->perm->lock);
	if (submit(d, fd, path, s->pid, "exec", i, s->gen, true) < 0) {
		pthread_mutex_lock(&f->perm->lock);
		s->busy = false;
		pthread_mutex_unlock(&f->perm->lock);
		allow(d, i);
	}
}

static void perm_verdict(struct picketd *d, struct fsmon_job *j, struct scan_job *job,
			 const struct verdict *v)
{
	struct fsmon_perm *p = d->fsmon.perm;
	pthread_mutex_lock(&p->lock);
	struct perm_slot *s = &p->slot[j->slot];
	bool mine = s->used && s->gen == j->gen && s->busy;
	if (mine)
		s->busy = false;
	pthread_mutex_unlock(&p->lock);
	if (!mine)
		return;
	if (v->result == SCAN_INFECTED)
		exec_detected(d, j->slot, job->path, j->process, v->text, false);
	else
		allow(d, j->slot);
	perm_release(p, j->slot);
}

static void exec_timeout(struct picketd *d, int i)
{
	struct perm_slot *s = &d->fsmon.perm->slot[i];
	char path[PATH_MAX];
	if (fd_path(s->fd, path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "?");
	log_warning("file monitor: execution of %s not decided within %u ms: allowed", path,
		    d->fsmon.perm->timeout_ms);
	_cleanup_json_ struct json_object *process = monitors_process_json(d, s->pid);
	struct json_object *ev = exec_ev(d, "exec_timeout", path, process, NULL);
	if (ev) {
		/* Answered by the thread: the loop may report it later. */
		json_object_object_add(ev, "waited_ms",
				       json_object_new_uint64(s->answered_ms - s->start_ms));
		json_object_object_add(ev, "timeout_ms",
				       json_object_new_uint64(d->fsmon.perm->timeout_ms));
	}
	events_emit(d, ev);
}

static void on_perm_note(struct io_source *src, uint32_t events)
{
	struct picketd *d = src->obj;
	struct fsmon_perm *p = d->fsmon.perm;
	int fresh[FSMON_PERM_MAX], late[FSMON_PERM_MAX];
	size_t n_fresh = 0, n_late = 0;
	(void)events;

	if (src->fd < 0 || !p)
		return; /* stopped by an earlier handler of the same wakeup */
	drain(src->fd);
	sync_procs(d);
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < FSMON_PERM_MAX; i++) {
		struct perm_slot *s = &p->slot[i];
		if (s->used && !s->seen) {
			s->seen = true;
			fresh[n_fresh++] = i;
		}
		if (s->used && s->timed_out && !s->reported)
			late[n_late++] = i;
	}
	pthread_mutex_unlock(&p->lock);
	for (size_t k = 0; k < n_late; k++) {
		exec_timeout(d, late[k]);
		pthread_mutex_lock(&p->lock);
		p->slot[late[k]].reported = true;
		pthread_mutex_unlock(&p->lock);
	}
	/* A timed-out execution is still scanned: a detection is reported. */
	for (size_t k = 0; k < n_fresh; k++)
		perm_decide(d, fresh[k]);
	for (size_t k = 0; k < n_fresh; k++)
		perm_release(p, fresh[k]);
	for (size_t k = 0; k < n_late; k++)
		perm_release(p, late[k]);
}

/* ------------------------------------------------------------------ marks */

static void unmarked_add(struct json_object *list, const char *mount, const char *fstype,
			 const char *what, int err, const char *why)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return;
	json_object_object_add(o, "mount", json_object_new_string(mount));
	if (fstype)
		json_object_object_add(o, "fstype", json_object_new_string(fstype));
	json_object_object_add(o, "events", json_object_new_string(what));
	if (err)
		json_object_object_add(o, "errno", json_object_new_int(err));
	json_object_object_add(o, "error", json_object_new_string(why ? why : strerror(err)));
	json_object_array_add(list, o);
}

static int mark(int group, unsigned flags, uint64_t mask, int mfd)
{
	if (fanotify_mark(group, flags | FAN_MARK_FILESYSTEM, mask, mfd, NULL) < 0)
		return -errno;
	return 0;
}

/* Adds the marks of every group on one filesystem; 0 when at least the
 * close-write mark holds (the rest is reported in status), else -errno. */
static int mark_fs(struct fsmon *f, const struct mount_entry *e, struct fsmon_fs *ret)
{
	struct statfs sfs;
	int r;
	_cleanup_close_ int mfd = open_mount(e->target, e->id);
	if (mfd < 0)
		return mfd;
	if (fstatfs(mfd, &sfs) < 0)
		return -errno;
	r = mark(f->notif.fd, FAN_MARK_ADD, NOTIF_MASK, mfd);
	if (r < 0)
		return r;
	*ret = (struct fsmon_fs){ .major = e->major, .minor = e->minor, .mnt_id = e->id,
				  .fsid = sfs.f_fsid, .groups = G_NOTIF };
	r = mark(f->fid.fd, FAN_MARK_ADD, FID_MASK, mfd);
	if (r < 0)
		ret->fid_err = -r;
	else
		ret->groups |= G_FID;
	if (f->perm) {
		r = mark(f->perm->fd, FAN_MARK_ADD, PERM_MASK, mfd);
		if (r < 0)
			ret->perm_err = -r;
		else
			ret->groups |= G_PERM;
	}
	return 0;
}

static void fs_free(struct fsmon_fs *fs)
{
	free(fs->mount);
	free(fs->fstype);
}

/* Removes our marks from a filesystem we no longer watch, through any mount
 * of it still there (none: it is unmounted and its marks went with it). */
static void unmark_fs(struct fsmon *f, const struct fsmon_fs *fs, const struct mount_list *l)
{
	for (size_t i = 0; i <= l->n; i++) {
		const char *target = i < l->n ? l->v[i].target : fs->mount;
		int id = i < l->n ? l->v[i].id : fs->mnt_id;
		if (i < l->n && (l->v[i].major != fs->major || l->v[i].minor != fs->minor ||
				 l->v[i].choice == MOUNT_HIDDEN))
			continue;
		_cleanup_close_ int mfd = open_mount(target, id);
		if (mfd < 0)
			continue;
		mark(f->notif.fd, FAN_MARK_REMOVE, NOTIF_MASK, mfd);
		if (fs->groups & G_FID)
			mark(f->fid.fd, FAN_MARK_REMOVE, FID_MASK, mfd);
		if ((fs->groups & G_PERM) && f->perm)
			mark(f->perm->fd, FAN_MARK_REMOVE, PERM_MASK, mfd);
		return;
	}
}

static bool picked(const struct mount_list *l, const struct fsmon_fs *fs)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].choice == MOUNT_WATCH && l->v[i].major == fs->major &&
		    l->v[i].minor == fs->minor && strcmp(l->v[i].target, fs->mount) == 0)
			return true;
	return false;
}

static bool marked(const struct fsmon *f, const struct mount_entry *e)
{
	for (size_t i = 0; i < f->n_fs; i++)
		if (f->fs[i].major == e->major && f->fs[i].minor == e->minor &&
		    strcmp(f->fs[i].mount, e->target) == 0)
			return true;
	return false;
}

static void drop_unpicked(struct fsmon *f, const struct mount_list *l)
{
	size_t keep = 0;
	for (size_t i = 0; i < f->n_fs; i++) {
		if (picked(l, &f->fs[i])) {
			f->fs[keep++] = f->fs[i];
			continue;
		}
		log_info("file monitor: no longer watching %s", f->fs[i].mount);
		unmark_fs(f, &f->fs[i], l);
		fs_free(&f->fs[i]);
	}
	f->n_fs = keep;
}

static void add_picked(struct fsmon *f, const struct mount_list *l, struct json_object *unmarked)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct mount_entry *e = &l->v[i];
		struct fsmon_fs fs;
		if (e->choice != MOUNT_WATCH || marked(f, e))
			continue;
		int r = mark_fs(f, e, &fs);
		if (r < 0) {
			log_warning_errno(r, "file monitor: cannot mark %s (%s)", e->target, e->fstype);
			unmarked_add(unmarked, e->target, e->fstype, "all", -r, NULL);
			continue;
		}
		struct fsmon_fs *grown = realloc(f->fs, (f->n_fs + 1) * sizeof(*f->fs));
		fs.mount = strdup(e->target);
		fs.fstype = strdup(e->fstype);
		if (!grown || !fs.mount || !fs.fstype) {
			if (grown)
				f->fs = grown;
			fs_free(&fs); /* marked but not recorded: events still resolve by path */
			continue;
		}
		f->fs = grown;
		f->fs[f->n_fs++] = fs;
		log_info("file monitor: watching %s (%s)%s%s", e->target, e->fstype,
			 fs.fid_err ? ", moves not seen: " : "", fs.fid_err ? strerror(fs.fid_err) : "");
	}
}

/* ----------------------------------------------------------- ignore marks */

#ifndef FAN_MARK_IGNORE
#define FAN_MARK_IGNORE 0x00000400
#define FAN_MARK_IGNORE_SURV (FAN_MARK_IGNORE | FAN_MARK_IGNORED_SURV_MODIFY)
#endif
#define IGNORE_LEGACY (FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY)

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

/* FAN_MARK_IGNORE (Linux 6.0) on a directory without
 * FAN_MARK_IGNORED_SURV_MODIFY is refused with EISDIR by a kernel that knows
 * the flag and with EINVAL by one that does not: nothing is marked.  Before
 * 6.0 a directory's ignore mask does not apply to its children: there only
 * mount points (and moves into a directory) are dropped in the kernel. */
static unsigned probe_ignore_flags(int group)
{
	int r = fanotify_mark(group, FAN_MARK_ADD | FAN_MARK_IGNORE, NOTIF_MASK, AT_FDCWD, "/");
	if (r < 0 && errno == EISDIR)
		return FAN_MARK_IGNORE_SURV;
	log_notice("file monitor: no FAN_MARK_IGNORE (Linux 6.0): files in excluded "
		   "directories are excluded in user space");
	return IGNORE_LEGACY;
}

static int group_fd(const struct fsmon *f, unsigned g)
{
	return g == G_NOTIF ? f->notif.fd : g == G_FID ? f->fid.fd : f->perm ? f->perm->fd : -1;
}

static const char *group_name(unsigned g)
{
	return g == G_NOTIF ? "close-write" : g == G_FID ? "move" : "exec";
}

/* Adds or removes (op) e's ignore mark in group g, on what fd is open on. */
static int ignore_mark(const struct fsmon *f, unsigned op, const struct fsmon_ignore *e,
		       unsigned g, int fd)
{
	bool on_mount = e->mount && g != G_FID;
	uint64_t mask = g == G_NOTIF ? NOTIF_MASK : g == G_FID ? FID_MASK : PERM_MASK;
	unsigned flags = op | f->ign_flags | (on_mount ? FAN_MARK_MOUNT : 0);
	if (fanotify_mark(group_fd(f, g), flags, mask | (on_mount ? 0 : FAN_EVENT_ON_CHILD), fd,
			  ".") < 0)
		return -errno;
	return 0;
}

/* The groups marking the filesystem of mount m, 0 when none does. */
static unsigned fs_groups(const struct fsmon *f, const struct mount_entry *m)
{
	for (size_t k = 0; m && k < f->n_fs; k++)
		if (f->fs[k].major == m->major && f->fs[k].minor == m->minor)
			return f->fs[k].groups;
	return 0;
}

static const struct mount_entry *mount_by_id(const struct mount_list *l, uint64_t id)
{
	for (size_t i = 0; i < l->n; i++)
		if ((uint64_t)l->v[i].id == id)
			return &l->v[i];
	return NULL;
}

/* The visible mount path p lies on, read from its text: a path on a
 * filesystem not watched (a hung NFS server, an automount point) is never
 * looked up. */
static const struct mount_entry *mount_of_text(const struct mount_list *l, const char *p)
{
	const struct mount_entry *best = NULL;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].choice != MOUNT_HIDDEN && path_under(p, l->v[i].target) &&
		    (!best || strlen(l->v[i].target) > strlen(best->target)))
			best = &l->v[i];
	return best;
}

/* Path exclusion p as the kernel can hold it: 0, e (path borrowed) and an
 * O_PATH descriptor of it in *ret_fd; or -errno and why it stays with user
 * space (where exclude_path() matches its text). */
static int ignore_resolve(const struct fsmon *f, const struct mount_list *l, const char *p,
			  struct fsmon_ignore *e, int *ret_fd, char *why, size_t len)
{
	char real[PATH_MAX];
	struct statx stx;
	if (!fs_groups(f, mount_of_text(l, p))) {
		snprintf(why, len, "filesystem not watched");
		return -ENODEV;
	}
	/* No O_DIRECTORY: it would trigger an automount. */
	_cleanup_close_ int fd = open(p, O_PATH | O_CLOEXEC);
	int r = fd < 0 ? -errno : fd_path(fd, real, sizeof(real));
	if (r == 0 && statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_INO | STATX_MNT_ID, &stx) < 0)
		r = -errno;
	if (r == 0 && !S_ISDIR(stx.stx_mode))
		r = -ENOTDIR;
	if (r < 0) {
		snprintf(why, len, "%s", strerror(-r));
		return r;
	}
	if (!path_under(real, p) || !path_under(p, real)) {
		snprintf(why, len, "a symbolic link on the way to %s", real);
		return -ELOOP;
	}
	*e = (struct fsmon_ignore){ .path = (char *)p,
				    .mount = mounts_is_mount_point(l, p),
				    .mnt_id = (int)stx.stx_mnt_id,
				    .dev = makedev(stx.stx_dev_major, stx.stx_dev_minor),
				    .ino = stx.stx_ino,
				    .want = fs_groups(f, mount_by_id(l, stx.stx_mnt_id)) };
	if (!e->want) {
		snprintf(why, len, "filesystem not watched");
		return -ENODEV;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static bool ignore_same(const struct fsmon_ignore *a, const struct fsmon_ignore *b)
{
	return a->path && strcmp(a->path, b->path) == 0 && a->mount == b->mount &&
	       a->dev == b->dev && a->ino == b->ino && (!a->mount || a->mnt_id == b->mnt_id);
}

/* The handle of fd's directory (NULL when its filesystem gives none). */
static struct file_handle *handle_of(int fd, fsid_t *ret_fsid)
{
	struct statfs sfs;
	int mnt_id;
	struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	if (!fh)
		return NULL;
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (fstatfs(fd, &sfs) < 0 || name_to_handle_at(fd, "", fh, &mnt_id, AT_EMPTY_PATH) < 0) {
		free(fh);
		return NULL;
	}
	*ret_fsid = sfs.f_fsid;
	return fh;
}

/* e's directory as it is now: by its path while that leads to it, else (a
 * directory renamed) by its handle; -ENOENT when it is gone, and its marks
 * went with it.  A mount moved away keeps its mark until it is unmounted. */
static int ignore_reopen(struct picketd *d, const struct fsmon_ignore *e)
{
	struct statx stx;
	_cleanup_close_ int fd = open(e->path, O_PATH | O_CLOEXEC);
	if (fd >= 0 && statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &stx) == 0 &&
	    makedev(stx.stx_dev_major, stx.stx_dev_minor) == e->dev && stx.stx_ino == e->ino &&
	    (!e->mount || stx.stx_mnt_id == (uint64_t)e->mnt_id))
		return TAKE_FD(fd);
	if (e->mount || !e->fh)
		return -ENOENT;
	return open_dir(d, &e->fsid, e->fh);
}

static void ignore_free(struct fsmon_ignore *e)
{
	free(e->path);
	free(e->fh);
	e->path = NULL;
	e->fh = NULL;
}

/* Sets e's mark in every group it wants: again for one already set (an ADD
 * is idempotent, and another exclusion of the same directory may just have
 * removed it). */
static void ignore_add(struct fsmon *f, struct fsmon_ignore *e, int fd)
{
	for (unsigned g = G_NOTIF; g <= G_PERM; g <<= 1) {
		if (!(e->want & g))
			continue;
		int r = ignore_mark(f, FAN_MARK_ADD, e, g, fd);
		if (r == 0) {
			e->groups |= g;
			e->failed &= ~g;
			continue;
		}
		if (!(e->failed & g))
			log_warning_errno(r, "file monitor: %s: no ignore mark in the %s group: "
					     "excluded in user space", e->path, group_name(g));
		e->failed |= g;
	}
}

static void ignore_remove(struct picketd *d, struct fsmon_ignore *e)
{
	_cleanup_close_ int fd = ignore_reopen(d, e);
	if (fd < 0) {
		log_info("file monitor: %s: gone, its ignore marks with it", e->path);
		return;
	}
	for (unsigned g = G_NOTIF; g <= G_PERM; g <<= 1) {
		if (!(e->groups & g))
			continue;
		int r = ignore_mark(&d->fsmon, FAN_MARK_REMOVE, e, g, fd);
		if (r < 0 && r != -ENOENT)
			log_warning_errno(r, "file monitor: %s: cannot remove the ignore mark of "
					     "the %s group", e->path, group_name(g));
	}
	log_info("file monitor: %s: ignore marks removed", e->path);
}

static bool skipped_before(struct json_object *list, const char *p, const char *why)
{
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *o = json_object_array_get_idx(list, i), *a, *b;
		if (json_object_object_get_ex(o, "path", &a) &&
		    json_object_object_get_ex(o, "reason", &b) &&
		    strcmp(json_object_get_string(a), p) == 0 &&
		    strcmp(json_object_get_string(b), why) == 0)
			return true;
	}
	return false;
}

/* An exclusion the kernel does not hold: listed in status, logged when new
 * (a missing path at info: perhaps a typing error in the policy). */
static void ignore_skip(struct fsmon *f, struct json_object *list, const char *p, int err,
			const char *why)
{
	struct json_object *o = json_object_new_object();
	if (!skipped_before(f->ign_skipped, p, why)) {
		if (err == -ENODEV)
			log_debug("file monitor: path exclusion %s: %s", p, why);
		else
			log_info("file monitor: path exclusion %s: %s: excluded in user space only",
				 p, why);
	}
	if (!o)
		return;
	json_object_object_add(o, "path", json_object_new_string(p));
	json_object_object_add(o, "reason", json_object_new_string(why));
	json_object_array_add(list, o);
}

/* Resolves every path exclusion into next[] (fds[] aligned): an ignore mark
 * already set for the same object moves over from f->ign, a new one gets
 * its path and handle.  The number resolved. */
static size_t ignore_want(struct picketd *d, const struct mount_list *l,
			  struct fsmon_ignore *next, int *fds, struct json_object *skipped)
{
	struct fsmon *f = &d->fsmon;
	size_t n = 0;
	char why[PATH_MAX + 64];
	for (size_t i = 0; i < d->policy.n_path_exclusions; i++) {
		const char *p = d->policy.path_exclusions[i];
		struct fsmon_ignore e;
		int r = ignore_resolve(f, l, p, &e, &fds[n], why, sizeof(why));
		if (r < 0) {
			ignore_skip(f, skipped, p, r, why);
			continue;
		}
		size_t k = 0;
		while (k < f->n_ign && !ignore_same(&f->ign[k], &e))
			k++;
		if (k < f->n_ign) {
			next[n] = f->ign[k];
			next[n].want = e.want;
			f->ign[k].path = NULL; /* moved */
		} else {
			next[n] = e;
			next[n].path = strdup(p);
			if (!next[n].path) {
				closep(&fds[n]);
				continue;
			}
			next[n].fh = e.mount ? NULL : handle_of(fds[n], &next[n].fsid);
			log_info("file monitor: %s: ignore marks on its %s", p,
				 e.mount ? "mount" : "directory");
		}
		n++;
	}
	return n;
}

/* Brings the ignore marks in line with the path exclusions and the mount
 * table.  Marks no longer wanted go first (for a moment more events reach
 * user space, which excludes them: none is lost), then the wanted ones. */
static void ignore_sync(struct picketd *d, const struct mount_list *l)
{
	struct fsmon *f = &d->fsmon;
	size_t max = d->policy.n_path_exclusions ? d->policy.n_path_exclusions : 1;
	struct fsmon_ignore *next = calloc(max, sizeof(*next));
	_cleanup_free_ int *fds = calloc(max, sizeof(*fds));
	struct json_object *skipped = json_object_new_array();
	if (!next || !fds || !skipped) {
		log_error_errno(ENOMEM, "file monitor: ignore marks not updated");
		free(next);
		json_object_put(skipped);
		return;
	}
	size_t n = ignore_want(d, l, next, fds, skipped);
	for (size_t i = 0; i < f->n_ign; i++)
		if (f->ign[i].path) {
			ignore_remove(d, &f->ign[i]);
			ignore_free(&f->ign[i]);
		}
	free(f->ign);
	f->ign = next;
	f->n_ign = n;
	for (size_t i = 0; i < n; i++) {
		ignore_add(f, &f->ign[i], fds[i]);
		close(fds[i]);
	}
	json_object_put(f->ign_skipped);
	f->ign_skipped = skipped;
}

static void ignore_release(struct fsmon *f)
{
	for (size_t i = 0; i < f->n_ign; i++)
		ignore_free(&f->ign[i]);
	free(f->ign);
	f->ign = NULL;
	f->n_ign = 0;
	json_object_put(f->ign_skipped);
	f->ign_skipped = NULL;
}

/* Reads the mount table again and brings the marks in line: filesystems no
 * longer selected lose theirs, new ones get them.  The number of
 * filesystems marked, or -errno with err set. */
static int remark(struct picketd *d, char *err, size_t errlen)
{
	struct fsmon *f = &d->fsmon;
	struct mount_list l = { 0 };
	char perr[256];
	int r = mounts_read(MOUNTINFO, &l, perr, sizeof(perr));
	if (r < 0) {
		snprintf(err, errlen, "fanotify: mount table: %s", perr);
		return r;
	}
	mounts_choose(&l, d->policy.mounts_include, d->policy.n_mounts_include,
		      d->policy.mounts_exclude, d->policy.n_mounts_exclude);
	struct json_object *unmarked = json_object_new_array();
	if (!unmarked) {
		mounts_free(&l);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->policy.n_mounts_include; i++)
		if (!mounts_is_mount_point(&l, d->policy.mounts_include[i]))
			unmarked_add(unmarked, d->policy.mounts_include[i], NULL, "all", 0,
				     "not a mount point");
	drop_unpicked(f, &l);
	add_picked(f, &l, unmarked);
	ignore_sync(d, &l);
	for (size_t i = 0; i < f->n_fs; i++) {
		if (f->fs[i].fid_err)
			unmarked_add(unmarked, f->fs[i].mount, f->fs[i].fstype, "moves",
				     f->fs[i].fid_err, NULL);
		if (f->fs[i].perm_err)
			unmarked_add(unmarked, f->fs[i].mount, f->fs[i].fstype, "exec",
				     f->fs[i].perm_err, NULL);
	}
	json_object_put(f->unmarked);
	f->unmarked = unmarked;
	if (f->n_fs == 0) {
		size_t n = json_object_array_length(unmarked);
		struct json_object *first = n ? json_object_array_get_idx(unmarked, 0) : NULL;
		struct json_object *m = NULL, *e = NULL;
		if (first && json_object_object_get_ex(first, "mount", &m) &&
		    json_object_object_get_ex(first, "error", &e))
			snprintf(err, errlen, "fanotify: fanotify_mark: %s: %s",
				 json_object_get_string(m), json_object_get_string(e));
		else
			snprintf(err, errlen, "fanotify: no filesystem to watch (%zu mounts, "
					      "mounts_include/mounts_exclude leave none)", l.n);
		mounts_free(&l);
		return -ENODEV;
	}
	mounts_free(&l);
	return (int)f->n_fs;
}

static void on_mountinfo(struct io_source *src, uint32_t events)
{
	struct picketd *d = src->obj;
	char err[256];
	(void)events;
	if (src->fd < 0)
		return;
	log_debug("file monitor: the mount table changed");
	if (remark(d, err, sizeof(err)) < 0)
		log_warning("file monitor: after a mount change: %s", err);
}

/* ------------------------------------------------------ permission: setup */

static void perm_counters_fold(struct fsmon *f, struct fsmon_perm *p)
{
	f->c.open_exec += p->open_exec;
	f->c.ignored_self += p->allowed_self;
	f->c.perm_allowed += p->allowed_self + p->overflow + p->timeouts;
	f->c.perm_overflow += p->overflow;
	f->c.perm_timeouts += p->timeouts;
	f->c.overflow += p->queue_overflow;
}

/* Stops the thread (it allows everything still waiting), forgets the slots;
 * scans still queued for them only report their verdicts. */
static void perm_destroy(struct picketd *d)
{
	struct fsmon *f = &d->fsmon;
	struct fsmon_perm *p = f->perm;
	if (!p)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_mutex_unlock(&p->lock);
		kick(p->wake);
		pthread_join(p->thread, NULL);
	}
	for (struct fsmon_job *j = f->jobs; j; j = j->next)
		j->slot = -1;
	for (size_t i = 0; i < FSMON_PERM_MAX; i++)
		if (p->slot[i].used)
			close(p->slot[i].fd);
	for (size_t i = 0; i < f->n_fs; i++) {
		f->fs[i].groups &= ~G_PERM;
		f->fs[i].perm_err = 0;
	}
	for (size_t i = 0; i < f->n_ign; i++) { /* their marks go with the group */
		f->ign[i].groups &= ~G_PERM;
		f->ign[i].failed &= ~G_PERM;
	}
	perm_counters_fold(f, p);
	if (f->perm_note.fd >= 0) {
		loop_del(d->epfd, &f->perm_note);
		closep(&f->perm_note.fd);
	}
	closep(&p->wake);
	closep(&p->fd); /* the kernel allows whatever is left */
	pthread_mutex_destroy(&p->lock);
	free(p);
	f->perm = NULL;
}

static int perm_marks(struct fsmon *f)
{
	size_t n = 0;
	for (size_t i = 0; i < f->n_fs; i++) {
		_cleanup_close_ int mfd = open_mount(f->fs[i].mount, f->fs[i].mnt_id);
		int r = mfd < 0 ? mfd : mark(f->perm->fd, FAN_MARK_ADD, PERM_MASK, mfd);
		if (r < 0) {
			f->fs[i].perm_err = -r;
			log_warning_errno(r, "file monitor: executions on %s are not checked",
					  f->fs[i].mount);
			continue;
		}
		f->fs[i].groups |= G_PERM;
		n++;
	}
	return (int)n;
}

static int perm_create(struct picketd *d, char *err, size_t errlen)
{
	struct fsmon *f = &d->fsmon;
	struct fsmon_perm *p = calloc(1, sizeof(*p));
	sigset_t all, old;
	int r;

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	p->self = getpid();
	p->timeout_ms = d->policy.perm_timeout_ms;
	p->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, EVENT_F_FLAGS);
	f->perm = p;
	f->perm_note = (struct io_source){ eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), on_perm_note, d };
	if (p->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "fanotify: fanotify_init (permission events): %s",
			 strerror(-r));
		perm_destroy(d);
		return r;
	}
	if (p->wake < 0 || f->perm_note.fd < 0) {
		r = -errno;
		snprintf(err, errlen, "fanotify: eventfd: %s", strerror(-r));
		perm_destroy(d);
		return r;
	}
	p->note = f->perm_note.fd;
	r = loop_add(d->epfd, &f->perm_note, EPOLLIN);
	if (r < 0) {
		snprintf(err, errlen, "fanotify: epoll: %s", strerror(-r));
		perm_destroy(d);
		return r;
	}
	/* The thread takes no signals: they are the loop's (signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&p->thread, NULL, perm_thread, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		snprintf(err, errlen, "fanotify: pthread_create: %s", strerror(-r));
		perm_destroy(d);
		return r;
	}
	p->started = true;
	perm_marks(f);
	return 0;
}

/* ---------------------------------------------------------------- control */

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

static void release_all(struct picketd *d)
{
	struct fsmon *f = &d->fsmon;
	perm_destroy(d);
	while (f->jobs) {
		struct fsmon_job *j = f->jobs;
		supervisor_cancel(d, &j->owner);
		job_free(f, j);
	}
	struct io_source *srcs[] = { &f->notif, &f->fid, &f->mountinfo };
	for (size_t i = 0; i < ARRAY_SIZE(srcs); i++)
		if (srcs[i]->fd >= 0) {
			loop_del(d->epfd, srcs[i]);
			closep(&srcs[i]->fd);
		}
	for (size_t i = 0; i < f->n_fs; i++)
		fs_free(&f->fs[i]);
	free(f->fs);
	f->fs = NULL;
	f->n_fs = 0;
	json_object_put(f->unmarked);
	f->unmarked = NULL;
	ignore_release(f); /* the marks went with the groups */
	f->running = false;
}

static int open_groups(struct picketd *d, char *err, size_t errlen)
{
	struct fsmon *f = &d->fsmon;
	int r;
	f->notif.fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, EVENT_F_FLAGS);
	if (f->notif.fd < 0) {
		r = -errno;
		snprintf(err, errlen, "fanotify: fanotify_init: %s", strerror(-r));
		return r;
	}
	f->ign_flags = probe_ignore_flags(f->notif.fd);
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
	if ((r = loop_add(d->epfd, &f->notif, EPOLLIN)) < 0 ||
	    (r = loop_add(d->epfd, &f->fid, EPOLLIN)) < 0 ||
	    (r = loop_add(d->epfd, &f->mountinfo, EPOLLPRI)) < 0) {
		snprintf(err, errlen, "fanotify: epoll: %s", strerror(-r));
		return r;
	}
	return 0;
}

int fsmon_start(struct picketd *d, char *err, size_t errlen)
{
	struct fsmon *f = &d->fsmon;
	bool degraded = f->degraded;
	int r;

	if (f->running)
		return 0;
	*f = (struct fsmon){ .notif = { -1, on_notif, d },
			     .fid = { -1, on_fid, d },
			     .perm_note = { -1, on_perm_note, d },
			     .mountinfo = { -1, on_mountinfo, d },
			     .degraded = degraded }; /* counts from 0 (monitor_counts.h) */
	resolve_dir(f->own_dirs[0], sizeof(f->own_dirs[0]), d->opt.state_dir);
	resolve_dir(f->own_dirs[1], sizeof(f->own_dirs[1]), d->opt.log_dir);
	resolve_dir(f->own_dirs[2], sizeof(f->own_dirs[2]), d->opt.run_dir);
	f->jobs_max = jobs_limit();
	r = open_groups(d, err, errlen);
	if (r < 0)
		goto fail;
	if (d->policy.on_execute != POLICY_ONEXEC_OFF) {
		r = perm_create(d, err, errlen);
		if (r < 0)
			goto fail;
	}
	r = remark(d, err, errlen);
	if (r < 0)
		goto fail;
	f->running = true;
	log_notice("file monitor: fanotify on %zu filesystems, on_execute %s", f->n_fs,
		   policy_onexec_name(d->policy.on_execute));
	return 0;
fail:
	release_all(d);
	return r;
}

void fsmon_stop(struct picketd *d)
{
	if (!d->fsmon.running)
		return;
	release_all(d);
	log_notice("file monitor: stopped");
}

int fsmon_apply_policy(struct picketd *d, char *err, size_t errlen)
{
	struct fsmon *f = &d->fsmon;
	bool want_perm = d->policy.on_execute != POLICY_ONEXEC_OFF;
	int r;

	if (!f->running)
		return 0;
	if (!want_perm && f->perm)
		perm_destroy(d);
	if (want_perm && !f->perm) {
		r = perm_create(d, err, errlen);
		if (r < 0)
			return r;
	}
	if (f->perm) {
		pthread_mutex_lock(&f->perm->lock);
		f->perm->timeout_ms = d->policy.perm_timeout_ms;
		pthread_mutex_unlock(&f->perm->lock);
		kick(f->perm->wake);
	}
	r = remark(d, err, errlen);
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
		c.open_exec += p->open_exec;
		c.ignored_self += p->allowed_self;
		c.perm_allowed += p->allowed_self + p->overflow + p->timeouts;
		c.perm_overflow += p->overflow;
		c.perm_timeouts += p->timeouts;
		c.overflow += p->queue_overflow;
		for (size_t i = 0; i < FSMON_PERM_MAX; i++)
			pending += p->slot[i].used && !p->slot[i].answered;
		pthread_mutex_unlock(&p->lock);
	}
	if (ret_pending)
		*ret_pending = pending;
	return c;
}

void fsmon_counts(struct picketd *d, struct monitor_counts *ret)
{
	struct fsmon_counters c = snapshot(&d->fsmon, NULL);
	/* An overflow event says that events were lost, not which: every one
	 * counts as of the critical set.  A file lost to a full scan queue is
	 * told apart by its mode and path, as degraded mode would. */
	*ret = (struct monitor_counts){
		.seen = c.close_write + c.moved_to + c.create + c.open_exec - c.suppressed,
		.dropped = c.overflow + c.queue_full + c.perm_overflow,
		.critical_dropped = c.overflow + c.queue_full_critical + c.perm_overflow,
		.suppressed = c.suppressed,
		.excluded = c.excluded,
		.queue = d->fsmon.n_jobs,
	};
}

void fsmon_set_degraded(struct picketd *d, bool on)
{
	if (d->fsmon.degraded != on && d->fsmon.running)
		log_notice("file monitor: %s", on ? "degraded: only executables and critical_paths "
						    "are scanned on access"
						  : "every file is scanned on access again");
	d->fsmon.degraded = on;
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

struct json_object *fsmon_status(struct picketd *d)
{
	struct fsmon *f = &d->fsmon;
	size_t pending;
	struct fsmon_counters c = snapshot(f, &pending);
	struct json_object *o = json_object_new_object(), *fs = json_object_new_array();
	struct json_object *ev = json_object_new_object();
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
	json_object_object_add(o, "state", json_object_new_string(f->running ? "running" : "stopped"));
	json_object_object_add(o, "backend", json_object_new_string("fanotify"));
	json_object_object_add(o, "filesystems", fs);
	json_object_object_add(o, "unmarked",
			       f->unmarked ? json_object_get(f->unmarked) : json_object_new_array());
	json_object_object_add(o, "on_execute",
			       json_object_new_string(policy_onexec_name(d->policy.on_execute)));
	add_u64(ev, "close_write", c.close_write);
	add_u64(ev, "moved_to", c.moved_to);
	add_u64(ev, "create", c.create);
	add_u64(ev, "open_exec", c.open_exec);
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
	json_object_object_add(o, "degraded", json_object_new_boolean(f->degraded));
	add_u64(o, "suppressed", c.suppressed);
	add_u64(o, "ignored_self", c.ignored_self);
	add_u64(o, "queue_full", c.queue_full);
	add_u64(o, "queue_full_critical", c.queue_full_critical);
	add_u64(o, "vanished", c.vanished);
	add_u64(o, "overflow", c.overflow);
	add_u64(o, "queued", f->n_jobs);
	add_u64(o, "perm_allowed", c.perm_allowed);
	add_u64(o, "perm_denied", c.perm_denied);
	add_u64(o, "perm_timeouts", c.perm_timeouts);
	add_u64(o, "perm_overflow", c.perm_overflow);
	add_u64(o, "perm_unscanned", c.perm_unscanned);
	add_u64(o, "perm_pending", pending);
	return o;
}
