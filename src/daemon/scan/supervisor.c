#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
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
#include "picketd.h"

#define READY_TIMEOUT_MIN 30 /* seconds; at least the definitions test-load limit */
#define BACKOFF_MAX 60

const char *svc_state_name(enum svc_state s)
{
	static const char *const names[] = { "down", "starting", "ready", "restarting" };
	return (size_t)s < ARRAY_SIZE(names) ? names[s] : "?";
}

static void arm(struct supervisor *s, unsigned seconds)
{
	struct itimerspec its = { .it_value.tv_sec = seconds };
	if (timerfd_settime(s->timer.fd, 0, &its, NULL) < 0)
		log_error_errno(errno, "scan service: failed to arm its timer");
}

static void svc_fault7(struct picketd *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void svc_fault7(struct picketd *d, const char *fmt, ...)
{
	char detail[sizeof(d->svc.state_detail)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	/* Retries repeat the same failure: log it when it changes. */
	if (strcmp(detail, d->svc.state_detail) != 0)
		log_error("scan service: %s", detail);
	memcpy(d->svc.state_detail, detail, sizeof(detail));
	faults_raise(&d->faults, FAULT_SCAN_START, d->svc.state_detail);
}

static void schedule_restart(struct picketd *d)
{
	struct supervisor *s = &d->svc;
	s->state = SVC_BACKOFF;
	s->backoff = s->backoff ? (s->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : s->backoff * 2) : 1;
	arm(s, s->backoff);
}

/* Stops and reaps the service, if any; the in-flight job stays with us.
 * gently: close its socket so it exits on its own (and its leak checks run
 * in sanitized builds), killing it only if it is still there after 2 s. */
static void stop_service_how(struct supervisor *s, int epfd, bool gently)
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

static void stop_service(struct supervisor *s, int epfd) { stop_service_how(s, epfd, false); }

static int prepare_tmpdir(struct picketd *d, uid_t *ret_uid, gid_t *ret_gid)
{
	struct passwd *pw = getpwnam(d->policy.scan_user);
	struct group *gr = getgrnam(d->policy.scan_group);
	/* The same test as picket-scand's: when it cannot drop to the scan user
	 * it stays root without capabilities, and needs a root-owned tmpdir. */
	bool usable = pw && gr && pw->pw_gid == gr->gr_gid && pw->pw_uid != 0;
	uid_t uid = usable ? pw->pw_uid : 0;
	gid_t gid = usable ? pw->pw_gid : 0;
	int r = mkdir_p(d->svc.tmpdir, 0700);
	if (r < 0)
		return r;
	/* Only the scan user may write where libclamav unpacks archives. */
	if (chown(d->svc.tmpdir, uid, gid) < 0 || chmod(d->svc.tmpdir, 0700) < 0)
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
static int spawn(struct picketd *d, int child_sock, pid_t *ret_pid)
{
	const struct policy *p = &d->policy;
	char fsz[32], ssz[32], stime[32], rec[32], files[32];
	int pipefd[2];

	num_arg(fsz, sizeof(fsz), (unsigned long long)p->scan_max_filesize_mb << 20);
	num_arg(ssz, sizeof(ssz), (unsigned long long)p->scan_max_scansize_mb << 20);
	num_arg(stime, sizeof(stime), p->scan_max_scantime_ms);
	num_arg(rec, sizeof(rec), p->scan_max_recursion);
	num_arg(files, sizeof(files), p->scan_max_files);
	char *const argv[] = { d->svc.scand_path, "--defs", (char *)defs_active_dir(&d->defs),
			       "--tmpdir", d->svc.tmpdir, "--user", p->scan_user,
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

static void send_next(struct picketd *d);

/* Every finished job: cache, count, event for a detection, owner told. */
static void finish(struct picketd *d, struct scan_job *job, const struct verdict *v)
{
	struct supervisor *s = &d->svc;
	struct scan_owner *owner = job->owner;

	scanq_cache_put(&d->scanq, &job->key, v);
	if (v->result == SCAN_INFECTED)
		scan_report_detection(d, job, v);
	if (owner)
		owner->done(d, owner, job, v);
	s->last_scan = time(NULL);
	scan_job_free(job);
}

static void fail_job(struct picketd *d, struct scan_job *job, int code, const char *why)
{
	struct verdict v = { .result = SCAN_ERROR, .code = code };
	snprintf(v.text, sizeof(v.text), "%s", why);
	d->svc.errors++;
	finish(d, job, &v);
}

static void start_service(struct picketd *d)
{
	struct supervisor *s = &d->svc;
	uint64_t avail_kib = 0;
	uid_t uid;
	gid_t gid;
	int sp[2], r;

	s->state = SVC_DOWN;
	if (hostview_mem_available(&d->hv, &avail_kib) == 0 &&
	    avail_kib / 1024 < d->policy.min_mem_mb) {
		svc_fault7(d, "MemAvailable %llu MiB is below the policy's min_mem_mb %u MiB",
			   (unsigned long long)avail_kib / 1024, d->policy.min_mem_mb);
		schedule_restart(d);
		return;
	}
	if (access(defs_active_dir(&d->defs), R_OK) < 0) {
		svc_fault7(d, "no definitions installed (%s: %s); install them with picketctl defs "
			      "install FILE",
			   defs_active_dir(&d->defs), strerror(errno));
		schedule_restart(d);
		return;
	}
	if ((r = prepare_tmpdir(d, &uid, &gid)) < 0) {
		svc_fault7(d, "cannot prepare %s: %s", s->tmpdir, strerror(-r));
		schedule_restart(d);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		svc_fault7(d, "socketpair failed: %s", strerror(errno));
		schedule_restart(d);
		return;
	}
	r = spawn(d, sp[1], &s->pid);
	close(sp[1]);
	if (r < 0) {
		close(sp[0]);
		svc_fault7(d, "cannot execute %s: %s", s->scand_path, strerror(-r));
		schedule_restart(d);
		return;
	}
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	s->sock.fd = sp[0];
	s->pidfd.fd = pidfd_open(s->pid, 0);
	if (s->pidfd.fd < 0 || loop_add(d->epfd, &s->sock, EPOLLIN) < 0 ||
	    loop_add(d->epfd, &s->pidfd, EPOLLIN) < 0) {
		svc_fault7(d, "cannot watch the scan service: %s", strerror(errno));
		stop_service(s, d->epfd);
		schedule_restart(d);
		return;
	}
	s->state = SVC_STARTING;
	unsigned limit = d->policy.defs_test_timeout;
	arm(s, limit > READY_TIMEOUT_MIN ? limit : READY_TIMEOUT_MIN);
	log_info("scan service started, pid %d", (int)s->pid);
}

static void on_ready(struct picketd *d, const struct scan_msg *m)
{
	struct supervisor *s = &d->svc;
	s->ready = *m;
	s->state = SVC_READY;
	s->state_detail[0] = '\0';
	arm(s, 0);
	/* AS_ROOT: text is "<definitions version>|<why the scan user is unusable>". */
	const char *bar = strchr(m->text, '|');
	if (m->flags & SCAN_READY_AS_ROOT)
		snprintf(d->scan_root_reason, sizeof(d->scan_root_reason), "%s",
			 bar ? bar + 1 : "the scan user is unusable");
	else
		d->scan_root_reason[0] = '\0';
	log_notice("scan service ready: pid %d uid %u, %u signatures%s%s", (int)s->pid, m->uid,
		   m->sigs, d->scan_root_reason[0] ? ", running as root: " : "",
		   d->scan_root_reason);
	faults_clear(&d->faults, FAULT_SCAN_START);
	health_recheck(d); /* fault 5 now knows what the service runs as */
	struct json_object *ev = eventlog_new(&d->events, "scan_service_ready");
	if (ev) {
		json_object_object_add(ev, "pid", json_object_new_int(s->pid));
		json_object_object_add(ev, "uid", json_object_new_int64(m->uid));
		json_object_object_add(ev, "signatures", json_object_new_int64(m->sigs));
	}
	events_emit(d, ev);
	send_next(d);
}

static void on_failed(struct picketd *d, const struct scan_msg *m)
{
	char reason[320];
	snprintf(reason, sizeof(reason), "%s: %s", scan_stage_name((enum scan_stage)m->result),
		 m->text);
	stop_service(&d->svc, d->epfd);
	bool defs = m->result == SCAN_STAGE_DEFS_LOAD || m->result == SCAN_STAGE_DEFS_EMPTY ||
		    m->result == SCAN_STAGE_COMPILE;
	svc_fault7(d, "scan service failed to start at %s", reason);
	if (defs && defs_rollback(&d->defs, reason) == 0) {
		struct json_object *ev = eventlog_new(&d->events, "defs_rolled_back");
		if (ev)
			json_object_object_add(ev, "reason", json_object_new_string(reason));
		events_emit(d, ev);
		scanq_defs_changed(&d->scanq);
		start_service(d);
		return;
	}
	schedule_restart(d);
}

static void on_verdict(struct picketd *d, const struct scan_msg *m)
{
	struct supervisor *s = &d->svc;
	struct scan_job *job = s->inflight;
	if (!job || job->id != m->id) {
		log_error("scan service: verdict for unknown request %llu: restarting it",
			  (unsigned long long)m->id);
		stop_service(s, d->epfd);
		schedule_restart(d);
		return;
	}
	s->inflight = NULL;
	struct verdict v = { .result = (enum scan_result)m->result, .code = m->code };
	snprintf(v.text, sizeof(v.text), "%s", m->text);
	s->scans++;
	if (v.result == SCAN_INFECTED)
		s->detections++;
	else if (v.result == SCAN_ERROR)
		s->errors++;
	finish(d, job, &v);
	send_next(d);
}

static void on_message(struct io_source *src, uint32_t events)
{
	struct picketd *d = src->obj;
	struct scan_msg m;
	(void)events;
	for (;;) {
		int r = scan_msg_recv(src->fd, &m, NULL);
		if (r == -EAGAIN)
			return;
		if (r == -ECONNRESET)
			return; /* the pidfd tells us about the exit */
		if (r < 0) {
			/* A bad message restarts the service, never the daemon. */
			log_error_errno(r, "scan service sent a malformed message: restarting it");
			stop_service(&d->svc, d->epfd);
			schedule_restart(d);
			return;
		}
		switch (m.type) {
		case SCAN_MSG_READY:
			on_ready(d, &m);
			break;
		case SCAN_MSG_FAILED:
			on_failed(d, &m);
			return;
		case SCAN_MSG_VERDICT:
			on_verdict(d, &m);
			break;
		case SCAN_MSG_PONG:
			d->svc.ping_pending = false;
			break;
		default:
			log_error("scan service sent message type %u: restarting it", m.type);
			stop_service(&d->svc, d->epfd);
			schedule_restart(d);
			return;
		}
		if (d->svc.sock.fd < 0)
			return;
	}
}

static void note_crash(struct picketd *d, const char *how)
{
	struct supervisor *s = &d->svc;
	time_t now = time(NULL);
	struct scan_job *job = s->inflight;
	size_t keep = 0;

	s->inflight = NULL;
	for (size_t i = 0; i < s->n_crashes; i++)
		if (now - s->crashes[i] < (time_t)d->policy.scan_crash_window) {
			s->crashes[keep] = s->crashes[i];
			memcpy(s->crash_files[keep], s->crash_files[i], PATH_MAX);
			keep++;
		}
	if (keep == SUPERVISOR_MAX_CRASHES)
		keep--;
	s->crashes[keep] = now;
	snprintf(s->crash_files[keep], PATH_MAX, "%s", job ? job->path : "(idle)");
	s->n_crashes = keep + 1;
	s->last_crash = now;

	struct json_object *ev = eventlog_new(&d->events, "scan_service_crashed");
	if (ev) {
		json_object_object_add(ev, "how", json_object_new_string(how));
		json_object_object_add(ev, "path", json_object_new_string(job ? job->path : ""));
	}
	events_emit(d, ev);

	if (job) {
		unsigned n = scanq_note_crash(&d->scanq, &job->key);
		if (n >= SCANQ_SUSPECT_CRASHES) {
			ev = eventlog_new(&d->events, "scan_suspect_skipped");
			if (ev) {
				json_object_object_add(ev, "path", json_object_new_string(job->path));
				json_object_object_add(ev, "crashes", json_object_new_int(n));
			}
			events_emit(d, ev);
			fail_job(d, job, -EDEADLK,
				 "crashed the scan engine twice: not scanned again until the "
				 "definitions change");
		} else {
			scanq_unpop(&d->scanq, job);
		}
	}
	if (s->n_crashes >= d->policy.scan_crash_count) {
		char detail[FAULT_DETAIL_MAX];
		int n = snprintf(detail, sizeof(detail), "%zu crashes in %u s; in the engine:",
				 s->n_crashes, d->policy.scan_crash_window);
		for (size_t i = 0; i < s->n_crashes && n > 0 && (size_t)n < sizeof(detail); i++)
			n += snprintf(detail + n, sizeof(detail) - n, "%s %s", i ? "," : "",
				      s->crash_files[i]);
		faults_raise(&d->faults, FAULT_SCAN_RESTARTING, detail);
	}
}

static void on_service_exit(struct io_source *src, uint32_t events)
{
	struct picketd *d = src->obj;
	struct supervisor *s = &d->svc;
	siginfo_t si = { 0 };
	char how[64];
	(void)events;

	if (waitid(P_PIDFD, src->fd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;
	s->pid = 0;
	if (si.si_code == CLD_EXITED)
		snprintf(how, sizeof(how), "exited with status %d", si.si_status);
	else
		snprintf(how, sizeof(how), "killed by signal %d (%s)", si.si_status,
			 strsignal(si.si_status));
	enum svc_state was = s->state;
	stop_service(s, d->epfd);
	if (was == SVC_STARTING) {
		svc_fault7(d, "scan service %s before it was ready", how);
		schedule_restart(d);
		return;
	}
	log_error("scan service %s", how);
	note_crash(d, how);
	schedule_restart(d);
}

static void on_timer(struct io_source *src, uint32_t events)
{
	struct picketd *d = src->obj;
	struct supervisor *s = &d->svc;
	uint64_t ticks;
	(void)events;
	if (read(src->fd, &ticks, sizeof(ticks)) < 0)
		return;
	switch (s->state) {
	case SVC_BACKOFF:
	case SVC_DOWN:
		start_service(d);
		break;
	case SVC_STARTING:
		stop_service(s, d->epfd);
		svc_fault7(d, "scan service not ready within %u s", d->policy.defs_test_timeout);
		schedule_restart(d);
		break;
	case SVC_READY:
		if (s->inflight) {
			log_error("scan service: %s takes longer than %u s: restarting it",
				  s->inflight->path, d->policy.scan_timeout);
			kill(s->pid, SIGKILL); /* the pidfd reports it as a crash */
		}
		break;
	}
}

static void send_next(struct picketd *d)
{
	struct supervisor *s = &d->svc;
	while (s->state == SVC_READY && !s->inflight) {
		struct scan_job *job = scanq_pop(&d->scanq);
		if (!job)
			return;
		struct scan_msg m = { .type = SCAN_MSG_SCAN, .id = job->id };
		int r = scan_msg_send(s->sock.fd, &m, job->fd);
		if (r < 0) {
			scanq_unpop(&d->scanq, job);
			log_error_errno(r, "scan service: send failed: restarting it");
			kill(s->pid, SIGKILL);
			return;
		}
		s->inflight = job;
		arm(s, d->policy.scan_timeout);
	}
}

int supervisor_submit(struct picketd *d, int fd, const char *path, struct scan_owner *owner)
{
	return supervisor_submit_flags(d, fd, path, owner, 0);
}

int supervisor_submit_flags(struct picketd *d, int fd, const char *path, struct scan_owner *owner,
			    unsigned flags)
{
	struct scan_key key;
	struct verdict v;
	struct scan_job *job;
	int r = scan_key_of(fd, &key);
	if (r < 0) {
		close(fd);
		return r;
	}
	if (scanq_cached(&d->scanq, &key, &v)) {
		struct scan_job tmp = { .fd = fd, .key = key, .owner = owner };
		snprintf(tmp.path, sizeof(tmp.path), "%s", path);
		if (v.result == SCAN_INFECTED)
			scan_report_detection(d, &tmp, &v);
		owner->done(d, owner, &tmp, &v);
		close(fd);
		return 0;
	}
	r = scanq_push(&d->scanq, fd, path, &key, owner, &job);
	if (r == -EDEADLK) {
		v = (struct verdict){ .result = SCAN_ERROR, .code = r };
		snprintf(v.text, sizeof(v.text), "skipped: crashed the scan engine twice");
		struct scan_job tmp = { .fd = -1, .key = key, .owner = owner };
		snprintf(tmp.path, sizeof(tmp.path), "%s", path);
		owner->done(d, owner, &tmp, &v);
		return 0;
	}
	if (r < 0)
		return r;
	if (flags & SCAN_URGENT)
		scanq_promote(&d->scanq, job);
	if (d->svc.state != SVC_READY) {
		/* Scanning is off: the job waits for the service, the owner learns why. */
		log_debug("scan of %s queued while the scan service is %s", path,
			  svc_state_name(d->svc.state));
	}
	send_next(d);
	return 0;
}

void supervisor_cancel(struct picketd *d, struct scan_owner *owner)
{
	scanq_cancel_owner(&d->scanq, owner);
	if (d->svc.inflight && d->svc.inflight->owner == owner)
		d->svc.inflight->owner = NULL; /* its verdict still feeds the cache */
}

void supervisor_restart(struct picketd *d)
{
	struct supervisor *s = &d->svc;
	if (s->inflight) {
		scanq_unpop(&d->scanq, s->inflight);
		s->inflight = NULL;
	}
	stop_service(s, d->epfd);
	s->backoff = 0;
	start_service(d);
}

/* An idle service must answer a PING by the next tick; a busy one is
 * watched by the scan timeout instead. */
static void liveness(struct picketd *d)
{
	struct supervisor *s = &d->svc;
	if (s->state != SVC_READY || s->inflight) {
		s->ping_pending = false;
		return;
	}
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
	else
		s->ping_pending = true;
}

void supervisor_tick(struct picketd *d)
{
	struct supervisor *s = &d->svc;
	time_t now = time(NULL);
	liveness(d);
	/* A calm period earns the quick first restart back. */
	if (s->backoff && s->state == SVC_READY &&
	    now - s->last_crash >= (time_t)d->policy.scan_calm)
		s->backoff = 0;
	if (!faults_is_active(&d->faults, FAULT_SCAN_RESTARTING))
		return;
	if (now - s->last_crash >= (time_t)d->policy.scan_calm) {
		s->n_crashes = 0;
		faults_clear(&d->faults, FAULT_SCAN_RESTARTING);
		return;
	}
	if (now - d->started_at >= (time_t)d->policy.scan_escalate) {
		const struct fault_state *f = faults_get(&d->faults, FAULT_SCAN_RESTARTING);
		char detail[FAULT_DETAIL_MAX];
		/* Cut to the detail's size: the crash list is what may not fit. */
		if (snprintf(detail, sizeof(detail), "user intervention needed: %s", f->detail) < 0)
			return;
		faults_escalate(&d->faults, FAULT_SCAN_RESTARTING, FAULT_CRITICAL, detail);
	}
}

int supervisor_init(struct picketd *d, const char *scand_path)
{
	struct supervisor *s = &d->svc;
	*s = (struct supervisor){ .sock = { -1, on_message, d },
				  .pidfd = { -1, on_service_exit, d },
				  .timer = { -1, on_timer, d } };
	snprintf(s->scand_path, sizeof(s->scand_path), "%s", scand_path);
	snprintf(s->tmpdir, sizeof(s->tmpdir), "%s/scan-tmp", d->opt.run_dir);
	s->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer.fd < 0)
		return -errno;
	int r = loop_add(d->epfd, &s->timer, EPOLLIN);
	if (r < 0)
		return r;
	uid_t uid;
	gid_t gid;
	/* The definitions test load needs it before the first start, too. */
	r = prepare_tmpdir(d, &uid, &gid);
	if (r < 0)
		log_error_errno(r, "scan service: cannot prepare %s", s->tmpdir);
	start_service(d);
	return 0;
}

void supervisor_done(struct picketd *d)
{
	struct supervisor *s = &d->svc;
	if (s->inflight) {
		scan_job_free(s->inflight);
		s->inflight = NULL;
	}
	stop_service_how(s, d->epfd, true);
	if (s->timer.fd >= 0) {
		loop_del(d->epfd, &s->timer);
		closep(&s->timer.fd);
	}
}
