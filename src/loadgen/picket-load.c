/* picket-load.c - real host activity for picket's tests and benchmarks.
 *
 * Three kinds of operation, each counted exactly:
 *   files     in --dir: create, write --file-bytes, close (a close-after-
 *             write), rename to a new name in the same directory, unlink
 *   execs     fork + execve of --exec (default /bin/true), waitpid
 *   connects  a TCP connect to 127.0.0.1 on a listener of our own (or to
 *             --connect HOST:PORT on loopback), then close
 *
 * --duration S: each kind runs in its own thread for S seconds, paced at its
 * rate with absolute CLOCK_MONOTONIC deadlines (`max`: as fast as possible).
 * --count N: exactly N of each kind, the kinds one after another (paced the
 * same way; with `max`, fixed work whose wall time a benchmark measures).
 * At the end one JSON object on stdout says what was done. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "jsonutil.h"

#define MAX_FILE_BYTES (64u << 20)
#define MAX_RATE 1e6
#define MAX_DURATION 86400.0
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

extern char **environ;

enum kind { K_FILES, K_EXECS, K_CONNECTS, K_N };
static const char *const kind_name[K_N] = { "files", "execs", "connects" };

struct rate {
	bool on;
	bool max;     /* as fast as possible */
	double per_s; /* when !max */
};

struct opts {
	const char *dir;
	size_t file_bytes;
	const char *exec_path;
	struct sockaddr_storage target; /* --connect, or our own listener */
	socklen_t target_len;
	bool external; /* --connect given */
	struct rate rate[K_N];
	double duration; /* seconds, duration mode */
	uint64_t count;  /* count mode when > 0 */
};

/* One kind's state and results; only its own thread writes them. */
struct worker {
	enum kind kind;
	const struct opts *o;
	struct timespec start, end; /* end: the duration mode's stop */
	int dirfd;
	const char *payload;
	uint64_t ok, failed; /* operations (for files: whole cycles) */
	uint64_t created, close_write, renamed, unlinked;
	double elapsed;
	pthread_t thread;
};

struct listener {
	int fd, stop_fd;
	pthread_t thread;
};

/* ------------------------------------------------------------ time */

static struct timespec now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

static double ts_diff(struct timespec a, struct timespec b)
{
	return (double)(a.tv_sec - b.tv_sec) + (double)(a.tv_nsec - b.tv_nsec) / 1e9;
}

static struct timespec ts_add(struct timespec t, double s)
{
	int64_t ns = (int64_t)t.tv_nsec + (int64_t)llround(s * 1e9);
	t.tv_sec += (time_t)(ns / 1000000000);
	t.tv_nsec = (long)(ns % 1000000000);
	return t;
}

static bool ts_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

static void sleep_until(struct timespec t)
{
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
}

/* ------------------------------------------------------------ operations */

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int file_unlink(struct worker *w, const char *name)
{
	if (unlinkat(w->dirfd, name, 0) < 0)
		return -errno;
	w->unlinked++;
	return 0;
}

/* create + write + close, then rename, then unlink; on a failure whatever
 * was created is removed. */
static int file_cycle(struct worker *w, uint64_t i)
{
	char a[64], b[80];
	int r, fd;

	snprintf(a, sizeof a, "picket-load.%ld.%" PRIu64, (long)getpid(), i);
	snprintf(b, sizeof b, "%s.moved", a);
	fd = openat(w->dirfd, a, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	w->created++;
	r = write_all(fd, w->payload, w->o->file_bytes);
	if (close(fd) == 0)
		w->close_write++; /* the kernel's close-after-write, even after a short write */
	else if (r == 0)
		r = -errno;
	if (r == 0) {
		if (renameat(w->dirfd, a, w->dirfd, b) < 0)
			r = -errno;
		else
			w->renamed++;
	}
	if (r < 0) {
		(void)file_unlink(w, a);
		return r;
	}
	return file_unlink(w, b);
}

/* fork + execve + waitpid.  A close-on-exec pipe tells a failed execve (the
 * child writes its errno) from a program that ran and exited non-zero. */
static int exec_once(const char *path)
{
	_cleanup_close_ int rd = -1;
	_cleanup_close_ int wr = -1;
	int p[2], e = 0, st;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	rd = p[0];
	wr = p[1];
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char *argv[] = { (char *)path, NULL };
		execve(path, argv, environ);
		e = errno;
		(void)!write(wr, &e, sizeof e);
		_exit(127);
	}
	close(TAKE_FD(wr));
	do
		n = read(rd, &e, sizeof e);
	while (n < 0 && errno == EINTR);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (n == (ssize_t)sizeof e)
		return -e;
	return 0;
}

/* connect + close.  SO_LINGER 0: close sends a reset and leaves no
 * TIME_WAIT behind, so a long run does not run out of local ports. */
static int connect_once(const struct opts *o)
{
	_cleanup_close_ int fd = socket(o->target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&o->target, o->target_len) < 0)
		return -errno;
	return 0;
}

static int do_one(struct worker *w, uint64_t i)
{
	switch (w->kind) {
	case K_FILES:
		return file_cycle(w, i);
	case K_EXECS:
		return exec_once(w->o->exec_path);
	default:
		return connect_once(w->o);
	}
}

/* ------------------------------------------------------------ workers */

static bool worker_done(const struct worker *w, uint64_t i, struct timespec deadline)
{
	if (w->o->count > 0)
		return i >= w->o->count;
	return !ts_before(deadline, w->end);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	const struct rate *rt = &w->o->rate[w->kind];
	struct timespec deadline = w->start;
	int r;

	for (uint64_t i = 0;; i++) {
		if (!rt->max)
			deadline = ts_add(w->start, (double)i / rt->per_s);
		else if (w->o->count == 0)
			deadline = now();
		if (worker_done(w, i, deadline))
			break;
		if (!rt->max)
			sleep_until(deadline);
		r = do_one(w, i);
		if (r < 0 && w->failed++ == 0)
			fprintf(stderr, "picket-load: %s (%s): %s (further errors only counted)\n",
				kind_name[w->kind],
				w->kind == K_FILES ? w->o->dir : w->kind == K_EXECS ? w->o->exec_path : "connect",
				strerror(-r));
		else if (r == 0)
			w->ok++;
	}
	/* A paced kind in duration mode lasts the whole duration. */
	if (!rt->max && w->o->count == 0)
		sleep_until(w->end);
	w->elapsed = ts_diff(now(), w->start);
	return NULL;
}

/* Duration mode: one thread a kind, all from the same start. */
static int run_threads(struct worker *ws, const struct opts *o)
{
	struct timespec start = now();
	bool started[K_N] = {};
	int r = 0;

	for (int k = 0; k < K_N && r == 0; k++) {
		if (!o->rate[k].on)
			continue;
		ws[k].start = start;
		ws[k].end = ts_add(start, o->duration);
		r = pthread_create(&ws[k].thread, NULL, worker_run, &ws[k]);
		if (r != 0)
			fprintf(stderr, "picket-load: pthread_create: %s\n", strerror(r));
		started[k] = r == 0;
	}
	for (int k = 0; k < K_N; k++)
		if (started[k])
			pthread_join(ws[k].thread, NULL);
	return -r;
}

/* Count mode: the kinds one after another, each timed on its own. */
static int run_serial(struct worker *ws, const struct opts *o)
{
	for (int k = 0; k < K_N; k++) {
		if (!o->rate[k].on)
			continue;
		ws[k].start = now();
		worker_run(&ws[k]);
	}
	return 0;
}

/* ------------------------------------------------------------ listener */

static void *listener_run(void *arg)
{
	struct listener *l = arg;
	struct pollfd pf[2] = { { .fd = l->fd, .events = POLLIN }, { .fd = l->stop_fd, .events = POLLIN } };

	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (pf[1].revents)
			return NULL;
		for (;;) {
			int c = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				break; /* EAGAIN, or a connection already reset */
			close(c);
		}
	}
}

/* A loopback listener on an ephemeral port, drained by a thread; its
 * address becomes the connect target. */
static int listener_start(struct listener *l, struct opts *o)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&o->target;
	socklen_t len = sizeof *a;
	int r;

	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd < 0)
		return -errno;
	memset(&o->target, 0, sizeof o->target);
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l->fd, (struct sockaddr *)a, len) < 0 || listen(l->fd, SOMAXCONN) < 0 ||
	    getsockname(l->fd, (struct sockaddr *)a, &len) < 0)
		return -errno;
	o->target_len = len;
	l->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (l->stop_fd < 0)
		return -errno;
	r = pthread_create(&l->thread, NULL, listener_run, l);
	return -r;
}

static void listener_stop(struct listener *l)
{
	uint64_t one = 1;

	(void)!write(l->stop_fd, &one, sizeof one);
	pthread_join(l->thread, NULL);
	closep(&l->fd);
	closep(&l->stop_fd);
}

/* ------------------------------------------------------------ report */

static struct json_object *jnum(double v, const char *fmt)
{
	char s[64];

	snprintf(s, sizeof s, fmt, v);
	return json_object_new_double_s(v, s);
}

static double rate_of(const struct worker *w, uint64_t n)
{
	return w->elapsed > 0 ? (double)n / w->elapsed : 0;
}

/* User + system CPU seconds of this process and of its reaped children. */
static double cpu_seconds(void)
{
	struct rusage self, children;
	double s = 0;

	if (getrusage(RUSAGE_SELF, &self) == 0 && getrusage(RUSAGE_CHILDREN, &children) == 0)
		for (int i = 0; i < 2; i++) {
			const struct rusage *u = i ? &children : &self;
			s += (double)(u->ru_utime.tv_sec + u->ru_stime.tv_sec) +
			     (double)(u->ru_utime.tv_usec + u->ru_stime.tv_usec) / 1e6;
		}
	return s;
}

static struct json_object *report(const struct worker *ws, double wall)
{
	struct json_object *j = json_object_new_object(), *f = json_object_new_object();
	struct json_object *ar = json_object_new_object(), *el = json_object_new_object();
	const struct worker *wf = &ws[K_FILES];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

	exe[n > 0 ? n : 0] = '\0';
	json_object_object_add(j, "pid", json_object_new_int64(getpid()));
	json_object_object_add(j, "exe", json_object_new_string(exe));
	json_object_object_add(j, "mode", json_object_new_string(wf->o->count ? "count" : "duration"));
	json_object_object_add(j, "duration_s", jnum(wall, "%.3f"));
	json_object_object_add(j, "cpu_s", jnum(cpu_seconds(), "%.3f"));
	json_object_object_add(f, "created", json_object_new_uint64(wf->created));
	json_object_object_add(f, "close_write", json_object_new_uint64(wf->close_write));
	json_object_object_add(f, "renamed", json_object_new_uint64(wf->renamed));
	json_object_object_add(f, "unlinked", json_object_new_uint64(wf->unlinked));
	json_object_object_add(f, "failures", json_object_new_uint64(wf->failed));
	json_object_object_add(j, "files", f);
	json_object_object_add(j, "execs", json_object_new_uint64(ws[K_EXECS].ok));
	json_object_object_add(j, "exec_failures", json_object_new_uint64(ws[K_EXECS].failed));
	json_object_object_add(j, "connects", json_object_new_uint64(ws[K_CONNECTS].ok));
	json_object_object_add(j, "connect_failures", json_object_new_uint64(ws[K_CONNECTS].failed));
	for (int k = 0; k < K_N; k++) {
		json_object_object_add(ar, kind_name[k], jnum(rate_of(&ws[k], ws[k].ok), "%.1f"));
		json_object_object_add(el, kind_name[k], jnum(ws[k].elapsed, "%.3f"));
	}
	json_object_object_add(j, "achieved_rate", ar);
	json_object_object_add(j, "elapsed_s", el);
	return j;
}

/* ------------------------------------------------------------ arguments */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: picket-load (--duration S | --count N) [--files R] [--execs R] [--connects R]\n"
		"                   [--dir DIR] [--file-bytes N] [--exec PATH] [--connect HOST:PORT]\n"
		"  --files R        create+write+close, rename, unlink in --dir, R a second\n"
		"  --execs R        fork + execve of --exec PATH (default /bin/true), R a second\n"
		"  --connects R     TCP connect + close to our own 127.0.0.1 listener (or\n"
		"                   --connect HOST:PORT on loopback), R a second\n"
		"                   R: operations a second, 'max' for as fast as possible, 0 for off\n"
		"  --duration S     run S seconds, each kind in its own thread, paced on its own\n"
		"  --count N        exactly N of each kind, one kind after another (with R\n"
		"                   'max': fixed work as fast as possible, for benchmarks)\n"
		"  --file-bytes N   bytes written to each file (default 64)\n"
		"Prints one JSON object with the exact counts.  Exit 0, 1 on bad arguments\n"
		"or a failed set-up, 2 when some operation failed.\n");
}

static int parse_rate(const char *s, struct rate *r)
{
	char *end;

	if (strcmp(s, "max") == 0) {
		*r = (struct rate){ .on = true, .max = true };
		return 0;
	}
	errno = 0;
	r->per_s = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(r->per_s >= 0 && r->per_s <= MAX_RATE))
		return -EINVAL;
	r->on = r->per_s > 0;
	r->max = false;
	return 0;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* HOST:PORT or [HOST]:PORT, numeric, loopback only. */
static int parse_target(const char *s, struct opts *o)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	uint64_t port;
	size_t hl;

	if (!colon || parse_u64(colon + 1, 1, 65535, &port) < 0)
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']')
		s++, hl -= 2;
	if (hl == 0 || hl >= sizeof host)
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	struct sockaddr_in *a4 = (struct sockaddr_in *)&o->target;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&o->target;
	memset(&o->target, 0, sizeof o->target);
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1 && (ntohl(a4->sin_addr.s_addr) >> 24) == 127) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		o->target_len = sizeof *a4;
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1 && IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr)) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		o->target_len = sizeof *a6;
	} else
		return -EINVAL;
	o->external = true;
	return 0;
}

static int bad(const char *opt, const char *val)
{
	fprintf(stderr, "picket-load: invalid %s '%s'\n", opt, val);
	usage(stderr);
	return -EINVAL;
}

static int check_opts(const struct opts *o)
{
	const char *why = NULL;
	int e = 0;

	if ((o->count > 0) == (o->duration > 0))
		why = "give one of --duration and --count";
	else if (!o->rate[K_FILES].on && !o->rate[K_EXECS].on && !o->rate[K_CONNECTS].on)
		why = "nothing to do: give --files, --execs or --connects";
	else if (o->rate[K_FILES].on && !o->dir)
		why = "--files needs --dir";
	else if (o->rate[K_EXECS].on && access(o->exec_path, X_OK) < 0)
		why = o->exec_path, e = errno;
	if (!why)
		return 0;
	fprintf(stderr, "picket-load: %s%s%s\n", why, e ? ": " : "", e ? strerror(e) : "");
	usage(stderr);
	return -EINVAL;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "files", required_argument, NULL, 'f' },    { "execs", required_argument, NULL, 'e' },
		{ "connects", required_argument, NULL, 'c' }, { "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },    { "dir", required_argument, NULL, 'D' },
		{ "file-bytes", required_argument, NULL, 'b' }, { "exec", required_argument, NULL, 'x' },
		{ "connect", required_argument, NULL, 't' },  { "help", no_argument, NULL, 'h' },
		{}
	};
	uint64_t v;
	char *end;
	int c;

	*o = (struct opts){ .file_bytes = 64, .exec_path = "/bin/true" };
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
		case 'e':
		case 'c':
			if (parse_rate(optarg, &o->rate[c == 'f' ? K_FILES : c == 'e' ? K_EXECS : K_CONNECTS]) < 0)
				return bad(c == 'f' ? "--files" : c == 'e' ? "--execs" : "--connects", optarg);
			break;
		case 'd':
			errno = 0;
			o->duration = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->duration > 0 && o->duration <= MAX_DURATION))
				return bad("--duration", optarg);
			break;
		case 'n':
			if (parse_u64(optarg, 1, UINT64_MAX, &o->count) < 0)
				return bad("--count", optarg);
			break;
		case 'b':
			if (parse_u64(optarg, 0, MAX_FILE_BYTES, &v) < 0)
				return bad("--file-bytes", optarg);
			o->file_bytes = (size_t)v;
			break;
		case 'D':
			o->dir = optarg;
			break;
		case 'x':
			o->exec_path = optarg;
			break;
		case 't':
			if (parse_target(optarg, o) < 0)
				return bad("--connect (a numeric loopback HOST:PORT)", optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc)
		return bad("argument", argv[optind]);
	return check_opts(o);
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	_cleanup_close_ int dirfd = -1;
	_cleanup_free_ char *payload = NULL;
	_cleanup_json_ struct json_object *j = NULL;
	struct listener l = { .fd = -1, .stop_fd = -1 };
	struct worker ws[K_N] = {};
	struct opts o;
	struct timespec t0;
	int r;

	if (parse_args(argc, argv, &o) < 0)
		return 1;
	if (o.rate[K_FILES].on) {
		dirfd = open(o.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0) {
			fprintf(stderr, "picket-load: %s: %s\n", o.dir, strerror(errno));
			return 1;
		}
		payload = malloc(o.file_bytes + 1);
		if (!payload)
			return 1;
		memset(payload, 'x', o.file_bytes + 1);
	}
	if (o.rate[K_CONNECTS].on && !o.external) {
		r = listener_start(&l, &o);
		if (r < 0) {
			fprintf(stderr, "picket-load: loopback listener: %s\n", strerror(-r));
			return 1;
		}
	}
	for (int k = 0; k < K_N; k++)
		ws[k] = (struct worker){ .kind = (enum kind)k, .o = &o, .dirfd = dirfd, .payload = payload };
	t0 = now();
	r = o.count > 0 ? run_serial(ws, &o) : run_threads(ws, &o);
	double wall = ts_diff(now(), t0);
	if (l.fd >= 0)
		listener_stop(&l);
	j = report(ws, wall);
	puts(json_object_to_json_string_ext(j, JSON_FLAGS));
	if (fflush(stdout) != 0 || r < 0)
		return 1;
	return ws[K_FILES].failed || ws[K_EXECS].failed || ws[K_CONNECTS].failed ? 2 : 0;
}
