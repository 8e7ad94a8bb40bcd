/* fsmon_perm.c - executions (on_execute): the permission group, read and
 * timed by a thread of its own, and the loop's side, which decides each
 * execution and answers it (see fsmon.h). */
#include "fsmon_int.h"

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
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "core/events.h"
#include "core/proctable.h"
#include "exclude.h"
#include "jsonutil.h"
#include "log.h"
#include "policy.h"
#include "scan/scan.h"

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void fsmon_kick(int efd)
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
		while (fsmon_next_event(buf, n, &off, &m))
			if (m.vers == FANOTIFY_METADATA_VERSION && perm_take(p, &m))
				news = true;
	}
	if (news)
		fsmon_kick(p->note);
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
			fsmon_kick(p->note);
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

static void allow(struct fsmon *f, int i)
{
	if (perm_answer(f->perm, i, FAN_ALLOW))
		f->c.perm_allowed++;
}

static struct json_object *exec_ev(struct fsmon *f, const char *type, const char *path,
				   const struct fsmon_where *where, struct json_object *process,
				   const char *signature)
{
	struct json_object *ev = fsmon_file_ev(f, type, path, where, "exec", process);
	if (ev && signature)
		json_object_object_add(ev, "signature", json_object_new_string(signature));
	return ev;
}

/* A detected file is executed: refused in block mode, reported in both. */
static void exec_detected(struct fsmon *f, int i, const char *path,
			  const struct fsmon_where *where, struct json_object *process,
			  const char *signature, bool cached)
{
	bool block = f->mon.ctx->policy->on_execute == POLICY_ONEXEC_BLOCK;
	bool answered = perm_answer(f->perm, i, block ? FAN_DENY : FAN_ALLOW);
	const char *type = answered && block ? "exec_blocked" : "exec_detected";
	if (answered && block)
		f->c.perm_denied++;
	else if (answered)
		f->c.perm_allowed++;
	log_warning("file monitor: execution of %s (%s): %s", path, signature,
		    answered && block ? "blocked" : "allowed");
	struct json_object *ev = exec_ev(f, type, path, where, process, signature);
	if (ev) {
		json_object_object_add(ev, "cached", json_object_new_boolean(cached));
		if (!answered)
			json_object_object_add(ev, "allowed_by", json_object_new_string("timeout"));
	}
	events_emit(f->mon.ctx->sink, ev);
}

static void exec_unscanned(struct fsmon *f, int i, const char *path,
			   const struct fsmon_where *where, pid_t pid)
{
	const struct monitor_ctx *ctx = f->mon.ctx;
	allow(f, i);
	f->c.perm_unscanned++;
	f->unscanned_since++;
	if (!fsmon_rl_allow(&f->rl_unscanned, RL_BURST_CONDITION))
		return;
	_cleanup_json_ struct json_object *process = proctable_json(ctx->procs, pid);
	struct json_object *ev = exec_ev(f, "exec_unscanned", path, where, process, NULL);
	if (ev) {
		char why[128];
		snprintf(why, sizeof(why), "scan service %s",
			 svc_state_name(scan_state(ctx->scan)));
		json_object_object_add(ev, "reason", json_object_new_string(why));
		json_object_object_add(ev, "count", json_object_new_uint64(f->unscanned_since));
	}
	f->unscanned_since = 0;
	fsmon_add_suppressed(ev, &f->rl_unscanned);
	events_emit(ctx->sink, ev);
}

/* Whether the execution of path in slot s is excluded, by its path (the
 * host's only) or by the process (looked up only when there are process
 * exclusions). */
static bool perm_excluded(struct fsmon *f, const struct perm_slot *s, const char *path,
			  const struct fsmon_where *where)
{
	const struct policy *policy = f->mon.ctx->policy;
	return (where->host && exclude_path(policy, path)) ||
	       (policy->n_process_exclusions &&
		fsmon_exclude_process(f, s->pid, proctable_get(f->mon.ctx->procs, s->pid)));
}

/* An urgent scan of the file of slot i, whose verdict answers it
 * (fsmon_perm_verdict); allowed at once when it cannot be queued. */
static void perm_scan(struct fsmon *f, int i, const char *path, const struct fsmon_where *where)
{
	struct perm_slot *s = &f->perm->slot[i];
	int fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		allow(f, i);
		return;
	}
	pthread_mutex_lock(&f->perm->lock);
	s->busy = true;
	pthread_mutex_unlock(&f->perm->lock);
	if (fsmon_submit(f, fd, path, where, s->pid, "exec", i, s->gen, true) < 0) {
		pthread_mutex_lock(&f->perm->lock);
		s->busy = false;
		pthread_mutex_unlock(&f->perm->lock);
		allow(f, i);
	}
}

/* A new execution: exclusions, the verdict cache, else an urgent scan whose
 * verdict answers it (fsmon_perm_verdict).  Never waits: when the scan
 * service is not ready, it is allowed at once.  Every execution on the host
 * comes through here: the common case (a clean binary, cached) costs a
 * readlink, an fstat and a hash lookup; the process is looked up only when
 * needed. */
static void perm_decide(struct fsmon *f, int i)
{
	const struct monitor_ctx *ctx = f->mon.ctx;
	struct perm_slot *s = &f->perm->slot[i]; /* fd, pid, gen: fixed while used */
	char path[PATH_MAX];
	struct fsmon_where where;
	struct scan_key key;
	struct verdict v;

	/* Too deep a path is told in part (fsmon_name): the file is still checked. */
	if (fsmon_name(f, s->fd, NULL, s->pid, path, sizeof(path), &where) < 0 ||
	    scan_key_of(s->fd, &key) < 0) {
		allow(f, i);
		return;
	}
	if (perm_excluded(f, s, path, &where)) {
		f->c.excluded++;
		allow(f, i);
		return;
	}
	if (scan_cached(ctx->scan, &key, &v)) {
		if (!scan_verdict_refuses(ctx->scan, &v)) {
			allow(f, i);
			return;
		}
		_cleanup_json_ struct json_object *process = proctable_json(ctx->procs, s->pid);
		exec_detected(f, i, path, &where, process, v.text, true);
		return;
	}
	if (scan_state(ctx->scan) != SVC_READY) {
		exec_unscanned(f, i, path, &where, s->pid);
		return;
	}
	perm_scan(f, i, path, &where);
}

void fsmon_perm_verdict(struct fsmon *f, struct fsmon_job *j, struct scan_job *job,
			const struct verdict *v)
{
	struct fsmon_perm *p = f->perm;
	pthread_mutex_lock(&p->lock);
	struct perm_slot *s = &p->slot[j->slot];
	bool mine = s->used && s->gen == j->gen && s->busy;
	if (mine)
		s->busy = false;
	pthread_mutex_unlock(&p->lock);
	if (!mine)
		return;
	if (scan_verdict_refuses(f->mon.ctx->scan, v))
		exec_detected(f, j->slot, job->path, &j->where, j->process, v->text, false);
	else
		allow(f, j->slot);
	perm_release(p, j->slot);
}

static void exec_timeout(struct fsmon *f, int i)
{
	struct perm_slot *s = &f->perm->slot[i];
	char path[PATH_MAX];
	struct fsmon_where where = { .host = true };
	if (fsmon_name(f, s->fd, NULL, s->pid, path, sizeof(path), &where) < 0)
		snprintf(path, sizeof(path), "?");
	log_warning("file monitor: execution of %s not decided within %u ms: allowed", path,
		    f->perm->timeout_ms);
	_cleanup_json_ struct json_object *process = proctable_json(f->mon.ctx->procs, s->pid);
	struct json_object *ev = exec_ev(f, "exec_timeout", path, &where, process, NULL);
	if (ev) {
		/* Answered by the thread: the loop may report it later. */
		json_object_object_add(ev, "waited_ms",
				       json_object_new_uint64(s->answered_ms - s->start_ms));
		json_object_object_add(ev, "timeout_ms",
				       json_object_new_uint64(f->perm->timeout_ms));
	}
	events_emit(f->mon.ctx->sink, ev);
}

void fsmon_on_perm_note(struct io_source *src, uint32_t events)
{
	struct fsmon *f = src->obj;
	struct fsmon_perm *p = f->perm;
	int fresh[FSMON_PERM_MAX], late[FSMON_PERM_MAX];
	size_t n_fresh = 0, n_late = 0;
	(void)events;

	if (src->fd < 0 || !p)
		return; /* stopped by an earlier handler of the same wakeup */
	drain(src->fd);
	fsmon_sync_procs(f);
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
		exec_timeout(f, late[k]);
		pthread_mutex_lock(&p->lock);
		p->slot[late[k]].reported = true;
		pthread_mutex_unlock(&p->lock);
	}
	/* A timed-out execution is still scanned: a detection is reported. */
	for (size_t k = 0; k < n_fresh; k++)
		perm_decide(f, fresh[k]);
	for (size_t k = 0; k < n_fresh; k++)
		perm_release(p, fresh[k]);
	for (size_t k = 0; k < n_late; k++)
		perm_release(p, late[k]);
}

/* ------------------------------------------------------ permission: setup */

void fsmon_perm_fold(struct fsmon_counters *c, const struct fsmon_perm *p)
{
	c->open_exec += p->open_exec;
	c->ignored_self += p->allowed_self;
	c->perm_allowed += p->allowed_self + p->overflow + p->timeouts;
	c->perm_overflow += p->overflow;
	c->perm_timeouts += p->timeouts;
	c->overflow += p->queue_overflow;
}

/* Stops the thread (it allows everything still waiting), forgets the slots;
 * scans still queued for them only report their verdicts. */
void fsmon_perm_destroy(struct fsmon *f)
{
	struct fsmon_perm *p = f->perm;
	if (!p)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_mutex_unlock(&p->lock);
		fsmon_kick(p->wake);
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
	fsmon_perm_fold(&f->c, p);
	if (f->perm_note.fd >= 0) {
		loop_del(f->mon.ctx->epfd, &f->perm_note);
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
		_cleanup_close_ int mfd = fsmon_open_mount(f->fs[i].mount, f->fs[i].mnt_id);
		int r = mfd < 0 ? mfd : fsmon_mark(f->perm->fd, FAN_MARK_ADD, PERM_MASK, mfd);
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

int fsmon_perm_create(struct fsmon *f, char *err, size_t errlen)
{
	const struct monitor_ctx *ctx = f->mon.ctx;
	struct fsmon_perm *p = calloc(1, sizeof(*p));
	sigset_t all, old;
	int r;

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	p->self = getpid();
	p->timeout_ms = ctx->policy->perm_timeout_ms;
	p->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, EVENT_F_FLAGS);
	f->perm = p;
	f->perm_note = (struct io_source){ eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
					   fsmon_on_perm_note, f };
	if (p->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "fanotify: fanotify_init (permission events): %s",
			 strerror(-r));
		fsmon_perm_destroy(f);
		return r;
	}
	if (p->wake < 0 || f->perm_note.fd < 0) {
		r = -errno;
		snprintf(err, errlen, "fanotify: eventfd: %s", strerror(-r));
		fsmon_perm_destroy(f);
		return r;
	}
	p->note = f->perm_note.fd;
	r = loop_add(ctx->epfd, &f->perm_note, EPOLLIN);
	if (r < 0) {
		snprintf(err, errlen, "fanotify: epoll: %s", strerror(-r));
		fsmon_perm_destroy(f);
		return r;
	}
	/* The thread takes no signals: they are the loop's (signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&p->thread, NULL, perm_thread, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		snprintf(err, errlen, "fanotify: pthread_create: %s", strerror(-r));
		fsmon_perm_destroy(f);
		return r;
	}
	p->started = true;
	perm_marks(f);
	return 0;
}
