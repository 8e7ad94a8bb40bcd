#include "scan_int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"
#include "jsonutil.h"
#include "log.h"

#define READY_TIMEOUT_MIN 30 /* seconds; at least the definitions test-load limit */
#define BACKOFF_MAX 60

const char *svc_state_name(enum svc_state s)
{
	static const char *const names[] = { "down", "starting", "ready", "restarting" };
	return (size_t)s < ARRAY_SIZE(names) ? names[s] : "?";
}

static void arm(struct scan *s, unsigned seconds)
{
	struct itimerspec its = { .it_value.tv_sec = seconds };
	if (timerfd_settime(s->timer.fd, 0, &its, NULL) < 0)
		log_error_errno(errno, "scan service: failed to arm its timer");
}

/* Records why the service is not running and tells the hook (fault 7). */
static void start_failed(struct scan *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void start_failed(struct scan *s, const char *fmt, ...)
{
	char detail[sizeof(s->state_detail)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	/* Retries repeat the same failure: log it when it changes. */
	if (strcmp(detail, s->state_detail) != 0)
		log_error("scan service: %s", detail);
	memcpy(s->state_detail, detail, sizeof(detail));
	if (s->c.hooks.start_failed)
		s->c.hooks.start_failed(s->c.hooks.ud, s->state_detail);
}

static void schedule_restart(struct scan *s)
{
	s->state = SVC_BACKOFF;
	s->backoff = s->backoff ? (s->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : s->backoff * 2) : 1;
	arm(s, s->backoff);
}

/* Stops and reaps the service, if any; the in-flight job stays with us.
 * gently: close its socket so it exits on its own (and its leak checks run
 * in sanitized builds), killing it only if it is still there after 2 s. */
static void stop_service_how(struct scan *s, int epfd, bool gently)
{
	if (s->pid > 0 && gently && s->sock.fd >= 0) {
		bool reaped = false;
		shutdown(s->sock.fd, SHUT_RDWR);
		for (int i = 0; i < 200 && !reaped; i++) {
			reaped = waitpid(s->pid, NULL, WNOHANG) == s->pid;
			if (!reaped)
				usleep(10000);
		}
		if (!reaped) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
		}
		s->pid = 0;
	}
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	if (s->sock.fd >= 0) {
		loop_del(epfd, &s->sock);
		closep(&s->sock.fd);
	}
	if (s->pidfd.fd >= 0) {
		loop_del(epfd, &s->pidfd);
		closep(&s->pidfd.fd);
	}
}

static void stop_service(struct scan *s, int epfd) { stop_service_how(s, epfd, false); }

static int prepare_tmpdir(struct scan *s, uid_t *ret_uid, gid_t *ret_gid)
{
	struct passwd *pw = getpwnam(s->c.policy->scan_user);
	struct group *gr = getgrnam(s->c.policy->scan_group);
	/* The same test as picket-scand's: when it cannot drop to the scan user
	 * it stays root without capabilities, and needs a root-owned tmpdir. */
	bool usable = pw && gr && pw->pw_gid == gr->gr_gid && pw->pw_uid != 0;
	uid_t uid = usable ? pw->pw_uid : 0;
	gid_t gid = usable ? pw->pw_gid : 0;
	int r = mkdir_p(s->tmpdir, 0700);
	if (r < 0)
		return r;
	/* Only the scan user may write where libclamav unpacks archives. */
	if (chown(s->tmpdir, uid, gid) < 0 || chmod(s->tmpdir, 0700) < 0)
		return -errno;
	*ret_uid = uid;
	*ret_gid = gid;
	return 0;
}

static void num_arg(char *buf, size_t len, unsigned long long v)
{
	snprintf(buf, len, "%llu", v);
}

/* fork+exec with our end kept and the service's end as fd 3.  An exec
 * failure comes back through a close-on-exec pipe, with its errno. */
static int spawn(struct scan *s, int child_sock, pid_t *ret_pid)
{
	const struct policy *p = s->c.policy;
	char fsz[32], ssz[32], stime[32], rec[32], files[32];
	int pipefd[2];

	num_arg(fsz, sizeof(fsz), (unsigned long long)p->scan_max_filesize_mb << 20);
	num_arg(ssz, sizeof(ssz), (unsigned long long)p->scan_max_scansize_mb << 20);
	num_arg(stime, sizeof(stime), p->scan_max_scantime_ms);
	num_arg(rec, sizeof(rec), p->scan_max_recursion);
	num_arg(files, sizeof(files), p->scan_max_files);
	char *const argv[] = { s->scand_path, "--defs", (char *)defs_active_dir(s->c.defs),
			       "--tmpdir", s->tmpdir, "--user", p->scan_user,
			       "--group", p->scan_group, "--max-filesize", fsz,
			       "--max-scansize", ssz, "--max-scantime", stime,
			       "--max-recursion", rec, "--max-files", files, NULL };
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return r;
	}
	if (pid == 0) {
		/* Only fds 0-2, the socket as 3 and the error pipe (close-on-exec) as 4. */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int sock = fcntl(child_sock, F_DUPFD, 5);
		int err = fcntl(pipefd[1], F_DUPFD, 5);
		int e = EBADF;
		if (sock >= 0 && err >= 0 && dup2(sock, SCAN_FD) == SCAN_FD &&
		    dup3(err, SCAN_FD + 1, O_CLOEXEC) == SCAN_FD + 1 &&
		    close_range(SCAN_FD + 2, ~0U, 0) == 0) {
			execv(argv[0], argv);
			e = errno;
			err = SCAN_FD + 1;
		} else if (errno) {
			e = errno;
		}
		if (err < 0 || write(err, &e, sizeof(e)) < 0)
			_exit(126);
		_exit(127);
	}
	close(pipefd[1]);
	int child_errno = 0;
	ssize_t k;
	do
		k = read(pipefd[0], &child_errno, sizeof(child_errno));
	while (k < 0 && errno == EINTR);
	close(pipefd[0]);
	if (k == sizeof(child_errno)) {
		waitpid(pid, NULL, 0);
		return -child_errno;
	}
	*ret_pid = pid;
	return 0;
}


/* Every finished job: cache, count, event for a detection, owner told. */
static void finish(struct scan *s, struct scan_job *job, const struct verdict *v)
{
	struct scan_owner *owner = job->owner;

	scanq_cache_put(&s->q, &job->key, v);
	if (v->result == SCAN_INFECTED)
		detection_report(s, job, v);
	else if (v->result == SCAN_LIMIT)
		limit_report(s, job, v);
	if (owner)
		owner->done(owner, job, v);
	s->last_scan = time(NULL);
	scan_job_free(job);
}

static void fail_job(struct scan *s, struct scan_job *job, int code, const char *why)
{
	struct verdict v = { .result = SCAN_ERROR, .code = code };
	snprintf(v.text, sizeof(v.text), "%s", why);
	s->errors++;
	finish(s, job, &v);
}

static void start_service(struct scan *s)
{
	uint64_t avail_kib = 0;
	uid_t uid;
	gid_t gid;
	int sp[2], r;

	s->state = SVC_DOWN;
	if (hostview_mem_available(s->c.hv, &avail_kib) == 0 &&
	    avail_kib / 1024 < s->c.policy->min_mem_mb) {
		start_failed(s, "MemAvailable %llu MiB is below the policy's min_mem_mb %u MiB",
			   (unsigned long long)avail_kib / 1024, s->c.policy->min_mem_mb);
		schedule_restart(s);
		return;
	}
	if (access(defs_active_dir(s->c.defs), R_OK) < 0) {
		start_failed(s, "no definitions installed (%s: %s); install them with picketctl defs "
			      "install FILE",
			   defs_active_dir(s->c.defs), strerror(errno));
		schedule_restart(s);
		return;
	}
	if ((r = prepare_tmpdir(s, &uid, &gid)) < 0) {
		start_failed(s, "cannot prepare %s: %s", s->tmpdir, strerror(-r));
		schedule_restart(s);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		start_failed(s, "socketpair failed: %s", strerror(errno));
		schedule_restart(s);
		return;
	}
	r = spawn(s, sp[1], &s->pid);
	close(sp[1]);
	if (r < 0) {
		close(sp[0]);
		start_failed(s, "cannot execute %s: %s", s->scand_path, strerror(-r));
		schedule_restart(s);
		return;
	}
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	s->sock.fd = sp[0];
	s->ping_pending = false;
	s->sigsys_nr = -1;
	s->pidfd.fd = pidfd_open(s->pid, 0);
	if (s->pidfd.fd < 0 || loop_add(s->c.epfd, &s->sock, EPOLLIN) < 0 ||
	    loop_add(s->c.epfd, &s->pidfd, EPOLLIN) < 0) {
		start_failed(s, "cannot watch the scan service: %s", strerror(errno));
		stop_service(s, s->c.epfd);
		schedule_restart(s);
		return;
	}
	s->state = SVC_STARTING;
	unsigned limit = s->c.policy->defs_test_timeout;
	arm(s, limit > READY_TIMEOUT_MIN ? limit : READY_TIMEOUT_MIN);
	log_info("scan service started, pid %d", (int)s->pid);
}

static void on_ready(struct scan *s, const struct scan_msg *m)
{
	s->ready = *m;
	s->state = SVC_READY;
	s->state_detail[0] = '\0';
	arm(s, 0);
	/* AS_ROOT: text is "<definitions version>|<why the scan user is unusable>". */
	const char *bar = strchr(m->text, '|');
	if (m->flags & SCAN_READY_AS_ROOT)
		snprintf(s->as_root, sizeof(s->as_root), "%s",
			 bar ? bar + 1 : "the scan user is unusable");
	else
		s->as_root[0] = '\0';
	log_notice("scan service ready: pid %d uid %u, %u signatures%s%s", (int)s->pid, m->uid,
		   m->sigs, s->as_root[0] ? ", running as root: " : "", s->as_root);
	if (s->c.hooks.ready)
		s->c.hooks.ready(s->c.hooks.ud, s->pid, s->as_root);
	struct json_object *ev = events_new(s->c.sink, "scan_service_ready");
	if (ev) {
		json_object_object_add(ev, "pid", json_object_new_int(s->pid));
		json_object_object_add(ev, "uid", json_object_new_int64(m->uid));
		json_object_object_add(ev, "signatures", json_object_new_int64(m->sigs));
	}
	events_emit(s->c.sink, ev);
	supervisor_send_next(s);
}

static void on_failed(struct scan *s, const struct scan_msg *m)
{
	char reason[320];
	snprintf(reason, sizeof(reason), "%s: %s", scan_stage_name((enum scan_stage)m->result),
		 m->text);
	stop_service(s, s->c.epfd);
	bool defs = m->result == SCAN_STAGE_DEFS_LOAD || m->result == SCAN_STAGE_DEFS_EMPTY ||
		    m->result == SCAN_STAGE_COMPILE;
	start_failed(s, "scan service failed to start at %s", reason);
	if (defs && defs_rollback(s->c.defs, reason) == 0) {
		struct json_object *ev = events_new(s->c.sink, "defs_rolled_back");
		if (ev)
			json_object_object_add(ev, "reason", json_object_new_string(reason));
		events_emit(s->c.sink, ev);
		scanq_defs_changed(&s->q);
		start_service(s);
		return;
	}
	schedule_restart(s);
}

static void on_verdict(struct scan *s, const struct scan_msg *m)
{
	struct scan_job *job = s->inflight; /* scan_msg_check: m is its verdict */

	s->inflight = NULL;
	struct verdict v = { .result = (enum scan_result)m->result, .code = m->code };
	snprintf(v.text, sizeof(v.text), "%s", m->text);
	s->scans++;
	if (v.result == SCAN_INFECTED)
		s->detections++;
	else if (v.result == SCAN_ERROR)
		s->errors++;
	else if (v.result == SCAN_LIMIT)
		s->limits++;
	finish(s, job, &v);
	supervisor_send_next(s);
}

static struct scan_expect expected(const struct scan *s)
{
	return (struct scan_expect){ .starting = s->state == SVC_STARTING,
				     .inflight = s->inflight != NULL,
				     .inflight_id = s->inflight ? s->inflight->id : 0,
				     .ping = s->ping_pending,
				     .ping_id = s->ping_id };
}

static void service_gone(struct scan *s, const char *how);

/* The service may have been taken over by a file it parsed: whatever it
 * sent out of turn or out of range ends it, as a crash does. */
static void on_malformed(struct scan *s, const char *why)
{
	char how[320];

	snprintf(how, sizeof(how), "sent a malformed message: %s", why);
	service_gone(s, how);
}

static void on_message(struct io_source *src, uint32_t events)
{
	struct scan *s = src->obj;
	struct scan_msg m;
	char why[160];
	(void)events;
	for (;;) {
		int r = scan_msg_recv(src->fd, &m, NULL);
		if (r == -EAGAIN)
			return;
		if (r == -ECONNRESET)
			return; /* the pidfd tells us about the exit */
		if (r < 0) {
			snprintf(why, sizeof(why), "%s", strerror(-r));
			on_malformed(s, why);
			return;
		}
		struct scan_expect e = expected(s);
		if (scan_msg_check(&m, &e, why, sizeof(why)) < 0) {
			on_malformed(s, why);
			return;
		}
		switch (m.type) {
		case SCAN_MSG_READY:
			on_ready(s, &m);
			break;
		case SCAN_MSG_FAILED:
			on_failed(s, &m);
			return;
		case SCAN_MSG_VERDICT:
			on_verdict(s, &m);
			break;
		case SCAN_MSG_PONG:
			s->ping_pending = false;
			break;
		case SCAN_MSG_SIGSYS:
			/* Its last word: the kernel's SIGSYS follows (on_service_exit). */
			s->sigsys_nr = m.result;
			s->sigsys_arch = (uint32_t)m.code;
			break;
		}
		if (s->sock.fd < 0)
			return;
	}
}

/* The service died while ready: the file in the engine is queued again,
 * or skipped when it crashed it twice; the hook hears of every crash. */
static void note_crash(struct scan *s, const char *how, const char *sandbox)
{
	struct scan_job *job = s->inflight;
	char path[PATH_MAX];

	s->inflight = NULL;
	s->last_crash = time(NULL);
	snprintf(path, sizeof(path), "%s", job ? job->path : "");
	struct json_object *ev = events_new(s->c.sink, "scan_service_crashed");
	if (ev) {
		json_object_object_add(ev, "how", json_object_new_string(how));
		json_object_object_add(ev, "path", json_object_new_string(path));
	}
	events_emit(s->c.sink, ev);

	if (job) {
		unsigned n = scanq_note_crash(&s->q, &job->key);
		if (n >= SCANQ_SUSPECT_CRASHES) {
			ev = events_new(s->c.sink, "scan_suspect_skipped");
			if (ev) {
				json_object_object_add(ev, "path", json_object_new_string(job->path));
				json_object_object_add(ev, "crashes", json_object_new_int(n));
			}
			events_emit(s->c.sink, ev);
			fail_job(s, job, -EDEADLK,
				 "crashed the scan engine twice: not scanned again until the "
				 "definitions change");
		} else {
			scanq_unpop(&s->q, job);
		}
	}
	if (s->c.hooks.crashed)
		s->c.hooks.crashed(s->c.hooks.ud, how, path, sandbox);
}

/* Stopped (if it still runs) and accounted for: before READY it failed to
 * start (fault 7); after it, it crashed (fault 6) and a restart follows. */
static void service_gone_sandboxed(struct scan *s, const char *how, const char *sandbox)
{
	enum svc_state was = s->state;

	stop_service(s, s->c.epfd);
	if (was == SVC_STARTING) {
		start_failed(s, "scan service %s before it was ready", how);
		schedule_restart(s);
		return;
	}
	log_error("scan service %s", how);
	note_crash(s, how, sandbox);
	schedule_restart(s);
}

static void service_gone(struct scan *s, const char *how) { service_gone_sandboxed(s, how, ""); }

/* "syscall 96 (gettimeofday)": the number is the service's own word from
 * its SIGSYS handler, believed only when the kernel then killed it with
 * SIGSYS; the name is ours. */
static void sigsys_text(const struct scan *s, char *buf, size_t len)
{
	char *name = seccomp_syscall_resolve_num_arch(s->sigsys_arch, s->sigsys_nr);

	snprintf(buf, len, "syscall %d (%s)", s->sigsys_nr, name ? name : "unknown");
	free(name);
}

/* The SIGSYS message is sent just before the death: when the pidfd is
 * handled first, it is still waiting in the socket.  Whatever else is
 * there is dropped, as the file in flight is queued again. */
static void read_last_word(struct scan *s)
{
	struct scan_expect e = expected(s);
	struct scan_msg m;
	char why[160];

	while (s->sigsys_nr < 0 && s->sock.fd >= 0 && scan_msg_recv(s->sock.fd, &m, NULL) == 0)
		if (m.type == SCAN_MSG_SIGSYS && scan_msg_check(&m, &e, why, sizeof(why)) == 0) {
			s->sigsys_nr = m.result;
			s->sigsys_arch = (uint32_t)m.code;
		}
}

static void on_service_exit(struct io_source *src, uint32_t events)
{
	struct scan *s = src->obj;
	siginfo_t si = { 0 };
	char how[160], sandbox[64] = "";
	(void)events;

	if (waitid(P_PIDFD, src->fd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;
	s->pid = 0;
	if (si.si_code != CLD_EXITED && si.si_status == SIGSYS)
		read_last_word(s);
	if (si.si_code == CLD_EXITED) {
		snprintf(how, sizeof(how), "exited with status %d", si.si_status);
	} else if (si.si_status == SIGSYS && s->sigsys_nr >= 0) {
		sigsys_text(s, sandbox, sizeof(sandbox));
		snprintf(how, sizeof(how), "killed by its seccomp filter (SIGSYS) at %s", sandbox);
	} else {
		snprintf(how, sizeof(how), "killed by signal %d (%s)", si.si_status,
			 strsignal(si.si_status));
	}
	service_gone_sandboxed(s, how, sandbox);
}

static void on_timer(struct io_source *src, uint32_t events)
{
	struct scan *s = src->obj;
	uint64_t ticks;
	(void)events;
	if (read(src->fd, &ticks, sizeof(ticks)) < 0)
		return;
	switch (s->state) {
	case SVC_BACKOFF:
	case SVC_DOWN:
		start_service(s);
		break;
	case SVC_STARTING:
		stop_service(s, s->c.epfd);
		start_failed(s, "scan service not ready within %u s", s->c.policy->defs_test_timeout);
		schedule_restart(s);
		break;
	case SVC_READY:
		if (s->inflight) {
			log_error("scan service: %s takes longer than %u s: restarting it",
				  s->inflight->path, s->c.policy->scan_timeout);
			kill(s->pid, SIGKILL); /* the pidfd reports it as a crash */
		}
		break;
	}
}

void supervisor_send_next(struct scan *s)
{
	while (s->state == SVC_READY && !s->inflight) {
		struct scan_job *job = scanq_pop(&s->q);
		if (!job)
			return;
		struct scan_msg m = { .type = SCAN_MSG_SCAN, .id = job->id };
		int r = scan_msg_send(s->sock.fd, &m, job->fd);
		if (r < 0) {
			scanq_unpop(&s->q, job);
			log_error_errno(r, "scan service: send failed: restarting it");
			kill(s->pid, SIGKILL);
			return;
		}
		s->inflight = job;
		arm(s, s->c.policy->scan_timeout);
	}
}

void supervisor_restart(struct scan *s)
{
	if (s->inflight) {
		scanq_unpop(&s->q, s->inflight);
		s->inflight = NULL;
	}
	stop_service(s, s->c.epfd);
	s->backoff = 0;
	start_service(s);
}

/* Not scheduled for this long is stopped, not a loaded host (a service
 * that missed a 1 s deadline under a load of 9 was alive). */
#define PING_DEADLINE_S 3

static time_t mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* An idle service must answer a PING by the first tick PING_DEADLINE_S
 * after it; a busy one is watched by the scan timeout instead. */
static void liveness(struct scan *s)
{
	/* Answers come in order: a PING sent before a SCAN is answered before
	 * its verdict, so a ping still pending once idle again was ignored. */
	if (s->state != SVC_READY || s->inflight)
		return;
	if (s->ping_pending && mono_now() - s->ping_sent < PING_DEADLINE_S)
		return;
	if (s->ping_pending) {
		log_error("scan service pid %d did not answer a ping: restarting it", (int)s->pid);
		s->ping_pending = false;
		kill(s->pid, SIGKILL); /* the pidfd reports it as a crash */
		return;
	}
	struct scan_msg m = { .type = SCAN_MSG_PING, .id = ++s->ping_id };
	int r = scan_msg_send(s->sock.fd, &m, -1);
	if (r < 0)
		log_warning_errno(r, "scan service: ping failed");
	else {
		s->ping_pending = true;
		s->ping_sent = mono_now();
	}
}

void supervisor_tick(struct scan *s)
{
	liveness(s);
	/* A calm period earns the quick first restart back. */
	if (s->backoff && s->state == SVC_READY &&
	    time(NULL) - s->last_crash >= (time_t)s->c.policy->scan_calm)
		s->backoff = 0;
}

int supervisor_tmpdir(struct scan *s)
{
	uid_t uid;
	gid_t gid;
	return prepare_tmpdir(s, &uid, &gid);
}

int supervisor_init(struct scan *s)
{
	s->sock = (struct io_source){ -1, on_message, s };
	s->pidfd = (struct io_source){ -1, on_service_exit, s };
	s->timer = (struct io_source){ -1, on_timer, s };
	s->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer.fd < 0)
		return -errno;
	int r = loop_add(s->c.epfd, &s->timer, EPOLLIN);
	if (r < 0)
		return r;
	/* The definitions test load needs it before the first start, too. */
	r = supervisor_tmpdir(s);
	if (r < 0)
		log_error_errno(r, "scan service: cannot prepare %s", s->tmpdir);
	start_service(s);
	return 0;
}

void supervisor_done(struct scan *s)
{
	if (s->inflight) {
		scan_job_free(s->inflight);
		s->inflight = NULL;
	}
	stop_service_how(s, s->c.epfd, true);
	if (s->timer.fd >= 0) {
		loop_del(s->c.epfd, &s->timer);
		closep(&s->timer.fd);
	}
}
