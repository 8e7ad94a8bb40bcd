/* definstall.c - definitions installs: `picketctl defs install`, files
 * dropped into defs/incoming, and the stability check every candidate set
 * passes (a test load in a memory- and time-limited child) before the
 * store switches to it; then the scan service restarts on the new set. */
#include "scan_int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "jsonutil.h"
#include "log.h"

/* The last non-empty line of text: picket-scand's reason for failing. */
static void last_line(char *text, char *out, size_t len)
{
	char *end = text + strlen(text);
	while (end > text && (end[-1] == '\n' || end[-1] == ' '))
		*--end = '\0';
	char *nl = strrchr(text, '\n');
	const char *line = nl ? nl + 1 : text;
	/* Drop picket-scand's log prefix ("12:00:00.000 picket-scand[42] error: "). */
	const char *msg = strstr(line, "] error: ");
	snprintf(out, len, "%s", msg ? msg + strlen("] error: ") : line);
}

/* Reads the child's stderr until it closes (bounded), then reaps it. */
static int collect(pid_t pid, int fd, char *buf, size_t len, int *ret_status)
{
	size_t used = 0;
	char sink[512];
	for (;;) {
		ssize_t k = used + 1 < len ? read(fd, buf + used, len - 1 - used)
					   : read(fd, sink, sizeof(sink));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (used + 1 < len)
			used += k;
	}
	buf[used] = '\0';
	while (waitpid(pid, ret_status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* The stability check: picket-scand --test-load on the candidate set, as the
 * scan user, under the policy's memory and time limits; its last stderr
 * line is the reason when it fails.  It blocks the loop for as long as the
 * load takes. */
static int stability_check(const char *set_dir, char *err, size_t errlen, void *ud)
{
	struct scan *s = ud;
	const struct policy *p = s->c.policy;
	char *const argv[] = { s->scand_path, "--test-load", "--defs", (char *)set_dir,
			       "--user", p->scan_user, "--group", p->scan_group,
			       "--tmpdir", s->tmpdir, NULL };
	int pipefd[2];
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
		struct rlimit as = { (rlim_t)p->defs_test_mem_mb << 20, (rlim_t)p->defs_test_mem_mb << 20 };
		struct rlimit cpu = { p->defs_test_timeout, p->defs_test_timeout };
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(pipefd[1], STDERR_FILENO);
		close_range(3, ~0U, 0);
#ifndef PICKET_SANITIZED
		/* A sanitized build's shadow memory alone is terabytes of address
		 * space: there the time limit has to do. */
		setrlimit(RLIMIT_AS, &as);
#else
		(void)as;
#endif
		setrlimit(RLIMIT_CPU, &cpu);
		alarm(p->defs_test_timeout);
		execv(argv[0], argv);
		fprintf(stderr, "cannot execute %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	char out[4096], line[512];
	int status = 0;
	int r = collect(pid, pipefd[0], out, sizeof(out), &status);
	close(pipefd[0]);
	if (r < 0)
		return r;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	last_line(out, line, sizeof(line));
	if (WIFEXITED(status))
		snprintf(err, errlen, "%s", line[0] ? line : "picket-scand failed without a reason");
	else
		snprintf(err, errlen, "killed by signal %d (%s): over the memory (%u MiB) or time "
				      "(%u s) limit?",
			 WTERMSIG(status), strsignal(WTERMSIG(status)), p->defs_test_mem_mb,
			 p->defs_test_timeout);
	log_notice("Definitions test load of %s failed: %s", set_dir, err);
	return -EBADMSG;
}

/* Who libclamav's container check runs as: the scan user and group, else
 * nobody and its group; never root.  -ESRCH when neither exists. */
static int check_ids(const struct policy *p, uid_t *ret_uid, gid_t *ret_gid)
{
	struct passwd *pw = getpwnam(p->scan_user);
	uid_t uid = pw ? pw->pw_uid : 0;
	struct group *gr = getgrnam(p->scan_group);

	if (uid != 0 && gr && gr->gr_gid != 0) {
		*ret_uid = uid;
		*ret_gid = gr->gr_gid;
		return 0;
	}
	pw = getpwnam("nobody");
	if (!pw || pw->pw_uid == 0 || pw->pw_gid == 0)
		return -ESRCH;
	log_warning("Scan user %s or group %s unusable: checking definitions as nobody",
		    p->scan_user, p->scan_group);
	*ret_uid = pw->pw_uid;
	*ret_gid = pw->pw_gid;
	return 0;
}

static int install_opts(struct scan *s, struct defs_install_opts *o)
{
	const struct policy *p = s->c.policy;
	*o = (struct defs_install_opts){
		.check = { .allow_unsigned = p->allow_unsigned_defs,
			   .timeout_ms = p->defs_test_timeout * 1000u,
			   .mem_bytes = (uint64_t)p->defs_test_mem_mb << 20 },
		.stability = stability_check,
		.ud = s,
	};
	int r = check_ids(p, &o->check.uid, &o->check.gid);
	if (r < 0)
		log_error_errno(r, "No unprivileged user to check definitions as (%s, nobody)",
				p->scan_user);
	return r;
}

static const char *base_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* Why a file the client could not open is refused (the store's words). */
static void open_refusal(char *out, size_t len, int err)
{
	if (err == -ELOOP)
		snprintf(out, len, "is a symbolic link");
	else if (err == -EINVAL)
		snprintf(out, len, "not a regular file");
	else
		snprintf(out, len, "cannot open: %s", strerror(-err));
}

/* A non-root client's install: an opener with its credentials opens each
 * file; what it cannot open is refused here and never reaches the store
 * (nothing of it is copied, not even into rejected/).  The store reads the
 * others from the descriptors the client's opener opened, never by path. */
static int install_as(struct scan *s, const struct opener_creds *cr, const char *const *paths,
		      size_t n, const struct defs_install_opts *opts, struct defs_report *rep)
{
	_cleanup_free_ struct opener_item *items = calloc(n, sizeof(*items));
	_cleanup_free_ struct defs_report *part = calloc(1, sizeof(*part));
	struct defs_input taken[DEFS_FILES_MAX];
	size_t where[DEFS_FILES_MAX], m = 0;

	if (!items || !part)
		return -ENOMEM;
	if (n > DEFS_FILES_MAX)
		return -E2BIG;
	int r = opener_run(cr, OPENER_OPEN, paths, n, items);
	if (r < 0)
		return log_error_errno(r, "Definitions install of uid %u: cannot open the files",
				       (unsigned)cr->uid);
	rep->n = n;
	for (size_t i = 0; i < n; i++) {
		struct defs_file_result *f = &rep->files[i];
		snprintf(f->name, sizeof(f->name), "%s", base_of(paths[i]));
		if (items[i].kind != OPENER_FILE) {
			open_refusal(f->reason, sizeof(f->reason), items[i].err);
			continue;
		}
		snprintf(f->reason, sizeof(f->reason), "not installed");
		taken[m] = (struct defs_input){ .path = paths[i], .fd = items[i].fd };
		where[m++] = i;
	}
	r = m ? defs_install(s->c.defs, taken, m, opts, part) : -EBADMSG;
	for (size_t j = 0; j < part->n && j < m; j++)
		rep->files[where[j]] = part->files[j];
	memcpy(rep->set_id, part->set_id, sizeof(rep->set_id));
	for (size_t i = 0; i < n; i++)
		opener_item_close(&items[i]);
	return r;
}

static int install_paths(struct scan *s, const char *const *paths, size_t n,
			 const struct defs_install_opts *opts, struct defs_report *rep)
{
	struct defs_input in[DEFS_FILES_MAX];
	for (size_t i = 0; i < n && i < DEFS_FILES_MAX; i++)
		in[i] = (struct defs_input){ .path = paths[i], .fd = -1 };
	return defs_install(s->c.defs, in, n, opts, rep);
}

struct json_object *scan_defs_install(struct scan *s, const char *const *paths, size_t n,
				      const struct opener_creds *cr)
{
	struct defs_install_opts opts;
	_cleanup_free_ struct defs_report *rep = calloc(1, sizeof(*rep));
	if (!rep)
		return NULL;
	struct json_object *o = json_object_new_object();
	struct json_object *files = json_object_new_array();
	if (!o || !files) {
		json_object_put(o);
		json_object_put(files);
		return NULL;
	}
	int r = install_opts(s, &opts);
	if (r >= 0)
		r = cr && cr->uid != 0 ? install_as(s, cr, paths, n, &opts, rep)
				       : install_paths(s, paths, n, &opts, rep);
	for (size_t i = 0; i < rep->n; i++) {
		struct json_object *f = json_object_new_object();
		json_object_object_add(f, "name", json_object_new_string(rep->files[i].name));
		json_object_object_add(f, "accepted", json_object_new_boolean(rep->files[i].accepted));
		if (!rep->files[i].accepted)
			json_object_object_add(f, "reason",
					       json_object_new_string(rep->files[i].reason));
		json_object_array_add(files, f);

		struct json_object *ev = events_new(
			s->c.sink, rep->files[i].accepted ? "defs_accepted" : "defs_rejected");
		if (ev) {
			json_object_object_add(ev, "file", json_object_new_string(rep->files[i].name));
			if (!rep->files[i].accepted)
				json_object_object_add(
					ev, "reason", json_object_new_string(rep->files[i].reason));
		}
		events_emit(s->c.sink, ev);
	}
	json_object_object_add(o, "ok", json_object_new_boolean(r == 0));
	json_object_object_add(o, "files", files);
	if (r == 0) {
		json_object_object_add(o, "set", json_object_new_string(rep->set_id));
		log_notice("Definitions set %s is active", rep->set_id);
		scanq_defs_changed(&s->q);
		supervisor_restart(s);
	} else {
		char msg[128];
		snprintf(msg, sizeof(msg), "no definitions were installed: %s",
			 r == -EBADMSG  ? "every file was rejected"
			 : r == -ESRCH ? "no unprivileged user to check them as"
				       : strerror(-r));
		json_object_object_add(o, "error", json_object_new_string(msg));
	}
	return o;
}

struct json_object *scan_defs_status(struct scan *s)
{
	_cleanup_free_ struct defs_status *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	int r = defs_status(s->c.defs, st);
	if (r < 0) {
		char msg[160];
		snprintf(msg, sizeof(msg), "%s",
			 r == -ENOENT ? "no definitions installed" : strerror(-r));
		json_object_object_add(o, "ok", json_object_new_boolean(false));
		json_object_object_add(o, "error", json_object_new_string(msg));
		return o;
	}
	struct json_object *files = json_object_new_array();
	for (size_t i = 0; i < st->n_files; i++) {
		struct json_object *f = json_object_new_object();
		json_object_object_add(f, "name", json_object_new_string(st->files[i].name));
		json_object_object_add(f, "version", json_object_new_int64(st->files[i].version));
		json_object_object_add(f, "signatures", json_object_new_int64(st->files[i].sigs));
		json_object_object_add(f, "build_time",
				       json_object_new_string(st->files[i].build_time));
		json_object_object_add(f, "source",
				       json_object_new_string(st->files[i].source[0]
								      ? st->files[i].source
								      : "unknown"));
		json_object_array_add(files, f);
	}
	json_object_object_add(o, "ok", json_object_new_boolean(true));
	json_object_object_add(o, "set", json_object_new_string(st->set_id));
	json_object_object_add(o, "signatures", json_object_new_uint64(st->total_sigs));
	json_object_object_add(o, "build_time", json_object_new_string(st->newest_build_time));
	json_object_object_add(o, "age", json_object_new_int64(st->age));
	json_object_object_add(o, "installed_at", json_object_new_int64(st->installed_at));
	json_object_object_add(o, "last_known_good",
			       json_object_new_string(st->has_last_known_good
							      ? st->last_known_good_id
							      : ""));
	json_object_object_add(o, "loaded_signatures", json_object_new_int64(s->ready.sigs));
	json_object_object_add(o, "files", files);
	return o;
}

/* A file written (closed) or moved into defs/incoming is installed like
 * `picketctl defs install` would, then removed from the drop folder. */
static void on_incoming(struct io_source *src, uint32_t events)
{
	struct scan *s = src->obj;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	(void)events;
	while ((n = read(src->fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (!ev->len || !(ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) ||
			    ev->name[0] == '.')
				continue; /* dot files: a writer's temporary, renamed in later */
			char path[PATH_MAX];
			if (snprintf(path, sizeof(path), "%s/%s", s->incoming_dir, ev->name) >=
			    (int)sizeof(path))
				continue;
			const char *one[] = { path };
			log_info("Definitions dropped in %s: installing", path);
			json_object_put(scan_defs_install(s, one, 1, NULL));
			if (unlink(path) < 0 && errno != ENOENT)
				log_warning_errno(errno, "Failed to remove %s", path);
		}
}

int definstall_setup(struct scan *s)
{
	snprintf(s->incoming_dir, sizeof(s->incoming_dir), "%s/defs/incoming", s->c.state_dir);
	s->incoming = (struct io_source){ inotify_init1(IN_NONBLOCK | IN_CLOEXEC), on_incoming, s };
	if (s->incoming.fd < 0)
		return -errno;
	if (inotify_add_watch(s->incoming.fd, s->incoming_dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0)
		return -errno;
	return loop_add(s->c.epfd, &s->incoming, EPOLLIN);
}

void definstall_done(struct scan *s)
{
	if (s->incoming.fd >= 0)
		loop_del(s->c.epfd, &s->incoming);
	closep(&s->incoming.fd);
}
