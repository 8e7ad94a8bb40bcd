/* picketctl.c - the command line of picket.
 *
 * Sends one request to picketd over its control socket (proto.h) and prints
 * the reply for people (render.c) or, with --json, as JSON for scripts.
 * "policy check" alone works without the daemon. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "jsonutil.h"
#include "policy.h"
#include "proto.h"
#include "render.h"

enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,     /* error reply, unhealthy, invalid policy, infected files */
	EXIT_USAGE = 2,
	EXIT_NO_DAEMON = 3, /* cannot reach picketd */
};

#define DEFAULT_RUN_DIR "/run/picket"
#define REPLY_MAX (64u << 20) /* events replies run to megabytes; this is far beyond */
#define IO_TIMEOUT_SEC 30     /* a wedged daemon must not hang scripts forever */
#define STREAM_MORE (-1)      /* a line handler's "not done yet": not an exit status */
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct ctl {
	bool json;
	const char *socket;  /* -s, or run_dir/picketd.sock */
	const char *run_dir; /* --run-dir */
	char socket_buf[PATH_MAX];
};

/* A connection and the bytes received on it that are not yet handed out,
 * buf[off..len).  buf has one spare byte past cap for a terminating NUL. */
struct conn {
	int fd;
	char *buf;
	size_t off, len, cap;
};
#define CONN_INIT { .fd = -1 }

static void conn_done(struct conn *c)
{
	closep(&c->fd);
	free(c->buf);
}

/* A command's own options. */
struct cmd_opts {
	bool all;
	bool follow;
	bool force;
	int limit;
	int first; /* index of the first argument after the options */
};

static void usage(FILE *f)
{
	fputs("Usage: picketctl [OPTIONS] COMMAND [ARGS]\n"
	      "\n"
	      "Query and control picketd, the picket endpoint protection connector.\n"
	      "\n"
	      "Commands:\n"
	      "  status                  daemon, policy, scanner and faults at a glance\n"
	      "  faults [--all]          active faults (--all: every catalogued fault)\n"
	      "  faults show ID          one fault in full, with its remediation\n"
	      "  health                  'healthy' (exit 0) or the active faults (exit 1)\n"
	      "  events [-n N] [-f|--follow]\n"
	      "                          the last N events (default 50, at most 10000),\n"
	      "                          then, with --follow, new ones until interrupted\n"
	      "  policy check FILE       validate a policy file here, without the daemon\n"
	      "  policy show             the policy in force in the daemon\n"
	      "  policy reload           make the daemon load its policy file again\n"
	      "  scan PATH...            scan files and directories, at most 64, with your\n"
	      "                          own access: infected files, then a summary\n"
	      "  defs status             the definitions in force\n"
	      "  defs install FILE...    install .cvd/.cld/.cud definitions files\n"
	      "  quarantine list         the files held in quarantine\n"
	      "  quarantine restore ID [--force]\n"
	      "                          put a file back (--force: replace what is there)\n"
	      "  quarantine delete ID    remove a file from quarantine for good\n"
	      "\n"
	      "Options (before the command):\n"
	      "      --json              print the reply as one JSON object a line\n"
	      "  -s, --socket PATH       the daemon's control socket\n"
	      "                          (default: RUN_DIR/picketd.sock)\n"
	      "      --run-dir DIR       the daemon's run directory\n"
	      "                          (default: $PICKET_RUN_DIR, else /run/picket)\n"
	      "  -h, --help              show this help\n"
	      "      --version           show the version\n"
	      "\n"
	      "Exit status: 0 success (scan: no infected file), 1 error reply, unhealthy,\n"
	      "invalid policy, or infected files found, 2 usage error or a path that does\n"
	      "not resolve, 3 daemon not reachable.  Files a scan could not read are listed\n"
	      "on stderr but do not change the status.  An interrupted scan ends by the\n"
	      "signal (status 130 for Ctrl-C in a shell).\n",
	      f);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("picketctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'picketctl --help' for more information.\n", stderr);
	return -EINVAL;
}

static void print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_FLAGS));
}

/* Errors are printed once, where decided: as text on stderr, or with --json
 * as the object a daemon error would be, on stdout, so scripts read one shape. */
static void ctl_error(const struct ctl *ctl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void ctl_error(const struct ctl *ctl, const char *fmt, ...)
{
	char msg[PATH_MAX + 512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!ctl->json) {
		fprintf(stderr, "picketctl: %s\n", msg);
		return;
	}
	_cleanup_json_ struct json_object *o = json_object_new_object();
	if (!o) {
		fprintf(stderr, "picketctl: %s\n", msg);
		return;
	}
	json_object_object_add(o, "ok", json_object_new_boolean(false));
	json_object_object_add(o, "error", json_object_new_string(msg));
	print_json(o);
}

static int conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = IO_TIMEOUT_SEC };
	size_t len = strlen(path);

	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The send timeout also bounds connect() on a Unix socket with a full backlog. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	c->fd = TAKE_FD(fd);
	return 0;
}

static int conn_send(struct conn *c, const struct proto_request *req)
{
	char buf[PROTO_MAX_REQUEST + 2];
	int n = proto_format_request(req, buf, sizeof(buf));

	if (n < 0)
		return n;
	for (size_t done = 0; done < (size_t)n;) {
		/* MSG_NOSIGNAL: a daemon gone away is an error to report, not SIGPIPE. */
		ssize_t k = send(c->fd, buf + done, n - done, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		done += (size_t)k;
	}
	return 0;
}

/* Hands out the next complete line, without its newline; 0 when none is buffered. */
static int conn_take_line(struct conn *c, char **ret, size_t *ret_len)
{
	char *nl;

	if (c->off == c->len) /* also before the first read, while buf is NULL */
		return 0;
	nl = memchr(c->buf + c->off, '\n', c->len - c->off);
	if (!nl)
		return 0;
	*nl = '\0';
	*ret = c->buf + c->off;
	*ret_len = (size_t)(nl - *ret);
	c->off = (size_t)(nl - c->buf) + 1;
	return 1;
}

/* At end of stream: whatever is left, as a last line without its newline. */
static int conn_take_rest(struct conn *c, char **ret, size_t *ret_len)
{
	if (c->off == c->len)
		return 0;
	c->buf[c->len] = '\0';
	*ret = c->buf + c->off;
	*ret_len = c->len - c->off;
	c->off = c->len;
	return 1;
}

/* One read into the buffer, which grows by doubling up to REPLY_MAX: the
 * count read, 0 at end of stream, -EMSGSIZE for a longer line. */
static int conn_fill(struct conn *c)
{
	ssize_t k;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64 * 1024;
		if (c->cap >= REPLY_MAX)
			return -EMSGSIZE;
		cap = cap > REPLY_MAX ? REPLY_MAX : cap;
		char *b = realloc(c->buf, cap + 1);
		if (!b)
			return -ENOMEM;
		c->buf = b;
		c->cap = cap;
	}
	do
		k = read(c->fd, c->buf + c->len, c->cap - c->len);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return -errno;
	c->len += (size_t)k;
	return (int)k;
}

/* Blocks for the next line: 1 with it, 0 at end of stream, or -errno. */
static int conn_read_line(struct conn *c, char **ret, size_t *ret_len)
{
	for (;;) {
		if (conn_take_line(c, ret, ret_len))
			return 1;
		int r = conn_fill(c);
		if (r < 0)
			return r;
		if (r == 0)
			return conn_take_rest(c, ret, ret_len);
	}
}

static int parse_object(const char *line, size_t len, struct json_object **ret)
{
	_cleanup_(json_tokener_freep) struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	size_t end;

	if (!tok)
		return -ENOMEM;
	if (len > INT_MAX)
		return -EMSGSIZE;
	/* line is NUL-terminated at len: only blanks may follow the object. */
	o = json_tokener_parse_ex(tok, line, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    end + strspn(line + end, " \t\r") != len || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -EBADMSG;
	}
	*ret = o;
	return 0;
}

static void connect_error(const struct ctl *ctl, int r)
{
	const char *hint = "";

	if (r == -ENOENT || r == -ECONNREFUSED)
		hint = " (is picketd running?)";
	else if (r == -EACCES || r == -EPERM)
		hint = " (run as root or as a member of the picket admin group)";
	ctl_error(ctl, "cannot connect to %s: %s%s", ctl->socket, strerror(-r), hint);
}

/* A failure after connecting; the exit status it deserves. */
static int transfer_error(const struct ctl *ctl, int r)
{
	switch (r) {
	case 0:
		ctl_error(ctl, "picketd closed %s without answering", ctl->socket);
		return EXIT_NO_DAEMON;
	case -EAGAIN:
		ctl_error(ctl, "no answer from picketd on %s within %d s", ctl->socket,
			  IO_TIMEOUT_SEC);
		return EXIT_NO_DAEMON;
	case -EMSGSIZE:
		ctl_error(ctl, "reply from picketd exceeds %u MiB", REPLY_MAX >> 20);
		return EXIT_ERROR;
	case -EBADMSG:
		ctl_error(ctl, "malformed reply from picketd on %s", ctl->socket);
		return EXIT_ERROR;
	case -ENOMEM:
	case -ENOBUFS:
		ctl_error(ctl, "cannot talk to picketd: %s", strerror(-r));
		return EXIT_ERROR;
	default:
		ctl_error(ctl, "lost connection to %s: %s", ctl->socket, strerror(-r));
		return EXIT_NO_DAEMON;
	}
}

/* Connects and sends req; returns an exit status. */
static int ctl_request(const struct ctl *ctl, const struct proto_request *req, struct conn *c)
{
	int r = conn_open(c, ctl->socket);

	if (r < 0) {
		connect_error(ctl, r);
		return EXIT_NO_DAEMON;
	}
	r = conn_send(c, req);
	/* EPIPE: the daemon answered and closed first (it refused us): read why. */
	return r < 0 && r != -EPIPE ? transfer_error(ctl, r) : EXIT_OK;
}

/* Connects, sends req and reads the reply object; returns an exit status. */
static int ctl_call(const struct ctl *ctl, const struct proto_request *req, struct conn *c,
		    struct json_object **ret)
{
	char *line;
	size_t len;
	int r;

	r = ctl_request(ctl, req, c);
	if (r != EXIT_OK)
		return r;
	r = conn_read_line(c, &line, &len);
	if (r <= 0)
		return transfer_error(ctl, r);
	r = parse_object(line, len, ret);
	return r < 0 ? transfer_error(ctl, r) : EXIT_OK;
}

/* The error of a reply, in human form (with --json the reply says it). */
static int reply_error(const struct ctl *ctl, struct json_object *reply)
{
	const char *reason = jget_str(reply, "error");

	ctl_error(ctl, "%s", reason ? reason : "picketd refused without a reason");
	return EXIT_ERROR;
}

/* Prints a reply as JSON, or rendered, or its error; returns the exit status. */
static int reply_show(const struct ctl *ctl, struct json_object *reply,
		      void (*render)(struct json_object *))
{
	bool ok = jget_bool(reply, "ok", false);

	if (ctl->json) {
		print_json(reply);
		return ok ? EXIT_OK : EXIT_ERROR;
	}
	if (!ok)
		return reply_error(ctl, reply);
	if (render_sanitize(reply) < 0) {
		ctl_error(ctl, "cannot show the reply: %s", strerror(ENOMEM));
		return EXIT_ERROR;
	}
	render(reply);
	return EXIT_OK;
}

static int call_and_show(const struct ctl *ctl, const struct proto_request *req,
			 void (*render)(struct json_object *))
{
	_cleanup_(conn_done) struct conn c = CONN_INIT;
	_cleanup_json_ struct json_object *reply = NULL;
	int r = ctl_call(ctl, req, &c, &reply);

	return r != EXIT_OK ? r : reply_show(ctl, reply, render);
}

static int parse_number(const char *s, long lo, long hi, int *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

/* Parses a command's options among those in allowed (short letters); 1 to
 * go on, 0 when help was shown, -EINVAL on a usage error (shown). */
static int command_options(int argc, char **argv, const char *allowed, struct cmd_opts *o)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "follow", no_argument, NULL, 'f' },
		{ "lines", required_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'F' }, /* long only: -f is --follow */
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	optind = 0; /* glibc: start over for this command's argv */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":afn:h", opts, NULL)) >= 0) {
		if (c == ':')
			return usage_error("%s: option '%s' needs a value", argv[0],
					   argv[optind - 1]);
		if (c == '?' || !strchr(allowed, c)) {
			if (c == '?' && optopt > 0 && optopt < 0x80)
				return usage_error("%s: unknown option '-%c'", argv[0], optopt);
			return usage_error("%s: unknown option '%s'", argv[0], argv[optind - 1]);
		}
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'a':
			o->all = true;
			break;
		case 'f':
			o->follow = true;
			break;
		case 'F':
			o->force = true;
			break;
		case 'n':
			if (parse_number(optarg, 1, PROTO_EVENTS_MAX, &o->limit) < 0)
				return usage_error("%s: -n wants a count from 1 to %d, not '%s'",
						   argv[0], PROTO_EVENTS_MAX, optarg);
			break;
		}
	}
	o->first = optind;
	return 1;
}

/* command_options()'s stop value as an exit status. */
static int stop_status(int r)
{
	return r < 0 ? EXIT_USAGE : EXIT_OK;
}

static int cmd_status(const struct ctl *ctl, int argc, char **argv)
{
	struct proto_request req = { .cmd = CMD_STATUS };
	struct cmd_opts o = { 0 };
	int r = command_options(argc, argv, "h", &o);

	if (r <= 0)
		return stop_status(r);
	if (o.first < argc)
		return stop_status(usage_error("status: unexpected argument '%s'", argv[o.first]));
	return call_and_show(ctl, &req, render_status);
}

static int cmd_health(const struct ctl *ctl, int argc, char **argv)
{
	struct proto_request req = { .cmd = CMD_FAULTS };
	_cleanup_(conn_done) struct conn c = CONN_INIT;
	_cleanup_json_ struct json_object *reply = NULL;
	struct cmd_opts o = { 0 };
	int r = command_options(argc, argv, "h", &o);

	if (r <= 0)
		return stop_status(r);
	if (o.first < argc)
		return stop_status(usage_error("health: unexpected argument '%s'", argv[o.first]));
	r = ctl_call(ctl, &req, &c, &reply);
	if (r == EXIT_OK)
		r = reply_show(ctl, reply, render_health);
	if (r == EXIT_OK && health_active_count(reply) > 0)
		r = EXIT_ERROR;
	return r;
}

static int cmd_faults(const struct ctl *ctl, int argc, char **argv)
{
	struct proto_request req = { .cmd = CMD_FAULTS };
	struct cmd_opts o = { 0 };
	int r = command_options(argc, argv, "ha", &o);

	if (r <= 0)
		return stop_status(r);
	if (o.first == argc) {
		req.all = o.all;
		return call_and_show(ctl, &req, render_faults);
	}
	if (strcmp(argv[o.first], "show") != 0)
		return stop_status(usage_error("faults: unknown argument '%s'", argv[o.first]));
	if (argc - o.first != 2)
		return stop_status(usage_error("faults show: needs exactly one fault ID"));
	if (o.all)
		return stop_status(usage_error("faults show: --all applies to the list only"));
	if (parse_number(argv[o.first + 1], 1, PROTO_FAULT_ID_MAX, &req.id) < 0)
		return stop_status(
			usage_error("faults show: '%s' is not a fault ID", argv[o.first + 1]));
	req.cmd = CMD_FAULT;
	return call_and_show(ctl, &req, render_fault);
}

/* SIGINT and SIGTERM as a descriptor, so following stops cleanly between
 * two reads, with everything printed so far flushed. */
static int stop_signal_fd(void)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &mask, SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* One line of a followed stream; returns an exit status. */
static int follow_line(const struct ctl *ctl, const char *line, size_t len)
{
	_cleanup_json_ struct json_object *o = NULL;
	struct json_object *ev;

	if (len == 0)
		return EXIT_OK;
	if (parse_object(line, len, &o) < 0)
		return transfer_error(ctl, -EBADMSG);
	if (!jget_bool(o, "ok", true))
		return reply_show(ctl, o, NULL); /* an error reply is never rendered */
	if (ctl->json)
		print_json(o);
	else if ((ev = jget_obj(o, "event"))) {
		if (render_sanitize(ev) < 0)
			return transfer_error(ctl, -ENOMEM);
		render_event(ev);
	}
	/* Whoever reads through a pipe sees each event as it happens. */
	fflush(stdout);
	return EXIT_OK;
}

/* Waits for the socket or a stop signal: 1 readable, 0 stop, -errno. */
static int wait_readable(int fd, int sfd)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };

	while (poll(p, 2, -1) < 0)
		if (errno != EINTR)
			return -errno;
	return p[1].revents ? 0 : 1;
}

/* Like conn_read_line, but without the I/O time limit, for replies that may
 * be minutes apart: -EINTR when a stop signal came on sfd (-1: none). */
static int conn_wait_line(struct conn *c, int sfd, char **ret, size_t *ret_len)
{
	for (;;) {
		if (conn_take_line(c, ret, ret_len))
			return 1;
		int r = wait_readable(c->fd, sfd);
		if (r == 0)
			return -EINTR;
		if (r > 0)
			r = conn_fill(c);
		if (r < 0)
			return r;
		if (r == 0) /* end of stream: what is left is the last line */
			return conn_take_rest(c, ret, ret_len);
	}
}

/* After the backlog each new event arrives as {"event":{...}}, until the
 * daemon closes the connection or the user interrupts: both are success. */
static int follow_events(const struct ctl *ctl, struct conn *c)
{
	_cleanup_close_ int sfd = stop_signal_fd();
	char *line;
	size_t len;
	int r;

	if (sfd < 0) {
		ctl_error(ctl, "cannot watch for SIGINT: %s", strerror(-sfd));
		return EXIT_ERROR;
	}
	for (;;) {
		r = conn_wait_line(c, sfd, &line, &len);
		if (r == 0 || r == -EINTR)
			return EXIT_OK;
		if (r < 0)
			return transfer_error(ctl, r);
		if ((r = follow_line(ctl, line, len)) != EXIT_OK)
			return r;
	}
}

static int cmd_events(const struct ctl *ctl, int argc, char **argv)
{
	struct proto_request req = { .cmd = CMD_EVENTS };
	_cleanup_(conn_done) struct conn c = CONN_INIT;
	_cleanup_json_ struct json_object *reply = NULL;
	struct cmd_opts o = { .limit = 50 };
	int r = command_options(argc, argv, "hfn", &o);

	if (r <= 0)
		return stop_status(r);
	if (o.first < argc)
		return stop_status(usage_error("events: unexpected argument '%s'", argv[o.first]));
	req.limit = o.limit;
	req.follow = o.follow;
	r = ctl_call(ctl, &req, &c, &reply);
	if (r == EXIT_OK)
		r = reply_show(ctl, reply, render_events);
	if (r != EXIT_OK || !req.follow)
		return r;
	fflush(stdout);
	return follow_events(ctl, &c);
}

static int policy_check(const struct ctl *ctl, const char *path)
{
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX];
	int r = policy_load(path, &p, err, sizeof(err));

	if (r >= 0)
		policy_free(&p);
	if (ctl->json) {
		_cleanup_json_ struct json_object *o = json_object_new_object();
		if (!o)
			return EXIT_ERROR;
		json_object_object_add(o, "ok", json_object_new_boolean(r >= 0));
		json_object_object_add(o, r >= 0 ? "path" : "error",
				       json_object_new_string(r >= 0 ? path : err));
		print_json(o);
	} else if (r < 0) {
		/* Already "file:line: reason", like a compiler's. */
		fprintf(stderr, "%s\n", err);
	} else {
		printf("%s: ok\n", path);
	}
	return r < 0 ? EXIT_ERROR : EXIT_OK;
}

static int cmd_policy(const struct ctl *ctl, int argc, char **argv)
{
	struct proto_request req = { .cmd = CMD_POLICY_SHOW };
	struct cmd_opts o = { 0 };
	int r = command_options(argc, argv, "h", &o);
	const char *verb;
	int nargs;

	if (r <= 0)
		return stop_status(r);
	verb = o.first < argc ? argv[o.first] : "";
	nargs = argc - o.first - 1;
	if (strcmp(verb, "check") == 0) {
		if (nargs != 1)
			return stop_status(usage_error("policy check: needs exactly one FILE"));
		return policy_check(ctl, argv[o.first + 1]);
	}
	if (strcmp(verb, "show") != 0 && strcmp(verb, "reload") != 0)
		return stop_status(usage_error("policy: wants check FILE, show or reload"));
	if (nargs != 0)
		return stop_status(usage_error("policy %s: unexpected argument '%s'", verb,
					       argv[o.first + 1]));
	if (strcmp(verb, "show") == 0)
		return call_and_show(ctl, &req, render_policy);
	req.cmd = CMD_POLICY_RELOAD;
	return call_and_show(ctl, &req, render_policy_reload);
}

/* --- paths */

/* Appends path to req's paths, stored in req->pathbuf from *used on. */
static int request_add_path(struct proto_request *req, size_t *used, const char *path)
{
	size_t len = strlen(path) + 1;

	if (req->n_paths == PROTO_MAX_PATHS || len > sizeof(req->pathbuf) - *used)
		return -E2BIG;
	memcpy(req->pathbuf + *used, path, len);
	req->paths[req->n_paths++] = req->pathbuf + *used;
	*used += len;
	return 0;
}

/* Resolves the n paths of argv into req: EXIT_OK, or the exit status of a
 * path that does not resolve or a list that does not fit one request (the
 * daemon refuses requests over PROTO_MAX_REQUEST bytes, escapes included). */
static int request_paths(const struct ctl *ctl, const char *what, int n, char **argv,
			 struct proto_request *req)
{
	char resolved[PATH_MAX], line[PROTO_MAX_REQUEST + 2];
	size_t used = 0;

	for (int i = 0; i < n; i++) {
		if (!realpath(argv[i], resolved)) {
			ctl_error(ctl, "%s: %s: %s", what, argv[i], strerror(errno));
			return EXIT_USAGE;
		}
		if (request_add_path(req, &used, resolved) < 0)
			break;
	}
	if (req->n_paths < (size_t)n || proto_format_request(req, line, sizeof(line)) == -ENOBUFS)
		return stop_status(
			usage_error("%s: too many or too long paths for one request", what));
	return EXIT_OK;
}

/* --- scan */

/* The self-overwriting progress line on stderr. */
struct progress {
	bool draw;  /* a terminal wants it */
	bool shown; /* something is on the line */
};

static void progress_draw(struct progress *p, struct json_object *counts)
{
	struct winsize ws;
	char line[256];
	int width = 79;

	if (!p->draw)
		return;
	/* One column spare: a line that reaches the margin wraps on some terminals. */
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		width = ws.ws_col - 1;
	render_scan_progress(counts, line, sizeof(line));
	fprintf(stderr, "\r%.*s\033[K", width, line);
	p->shown = true;
}

static void progress_clear(struct progress *p)
{
	if (p->shown)
		fputs("\r\033[K", stderr);
	p->shown = false;
}

/* Interrupted: clears the progress line and dies of the signal that came,
 * which tells the shell the scan did not finish (and the daemon stops it
 * when the connection closes). */
static int stop_by_signal(int sfd, struct progress *p)
{
	struct signalfd_siginfo si;
	sigset_t mask;
	int sig = read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) ? (int)si.ssi_signo : SIGINT;

	progress_clear(p);
	fflush(stdout);
	signal(sig, SIG_DFL);
	sigemptyset(&mask);
	sigaddset(&mask, sig);
	raise(sig); /* pending while blocked, delivered on unblocking */
	sigprocmask(SIG_UNBLOCK, &mask, NULL);
	return 128 + sig;
}

/* The final reply: the status says whether something was found. */
static int scan_done(const struct ctl *ctl, struct json_object *reply)
{
	int r = reply_show(ctl, reply, render_scan);

	if (r == EXIT_OK && scan_infected_count(reply) > 0)
		r = EXIT_ERROR;
	return r;
}

/* One line of a scan's replies: STREAM_MORE until the final one. */
static int scan_line(const struct ctl *ctl, struct progress *p, const char *line, size_t len)
{
	_cleanup_json_ struct json_object *o = NULL;
	struct json_object *counts;

	if (len == 0)
		return STREAM_MORE;
	if (parse_object(line, len, &o) < 0) {
		progress_clear(p);
		return transfer_error(ctl, -EBADMSG);
	}
	if (json_object_object_get_ex(o, "ok", NULL)) {
		progress_clear(p);
		return scan_done(ctl, o);
	}
	if (ctl->json) {
		print_json(o);
		fflush(stdout);
	} else if ((counts = jget_obj(o, "progress"))) {
		progress_draw(p, counts);
	}
	return STREAM_MORE;
}

/* Progress lines come at most twice a second while files are scanned, but
 * a scan without progress is silent until its end: no time limit here. */
static int scan_stream(const struct ctl *ctl, struct conn *c, struct progress *p)
{
	_cleanup_close_ int sfd = stop_signal_fd();
	char *line;
	size_t len;
	int r;

	if (sfd < 0) {
		ctl_error(ctl, "cannot watch for SIGINT: %s", strerror(-sfd));
		return EXIT_ERROR;
	}
	for (;;) {
		r = conn_wait_line(c, sfd, &line, &len);
		if (r == -EINTR)
			return stop_by_signal(sfd, p);
		if (r <= 0)
			progress_clear(p);
		if (r == 0) {
			ctl_error(ctl, "picketd closed %s before the scan finished", ctl->socket);
			return EXIT_NO_DAEMON;
		}
		if (r < 0)
			return transfer_error(ctl, r);
		if ((r = scan_line(ctl, p, line, len)) != STREAM_MORE)
			return r;
	}
}

static int cmd_scan(const struct ctl *ctl, int argc, char **argv)
{
	struct proto_request req = { .cmd = CMD_SCAN, .progress = isatty(STDOUT_FILENO) };
	_cleanup_(conn_done) struct conn c = CONN_INIT;
	struct cmd_opts o = { 0 };
	int r = command_options(argc, argv, "h", &o);

	if (r <= 0)
		return stop_status(r);
	if (o.first == argc)
		return stop_status(usage_error("scan: needs at least one PATH"));
	r = request_paths(ctl, "scan", argc - o.first, argv + o.first, &req);
	if (r == EXIT_OK)
		r = ctl_request(ctl, &req, &c);
	if (r != EXIT_OK)
		return r;
	struct progress p = { .draw = req.progress && !ctl->json && isatty(STDERR_FILENO) };
	return scan_stream(ctl, &c, &p);
}

/* --- defs */

/* Each file's outcome is worth seeing even when the install failed. */
static int defs_install_show(const struct ctl *ctl, struct json_object *reply)
{
	if (ctl->json || !jget_array(reply, "files"))
		return reply_show(ctl, reply, render_defs_install);
	if (render_sanitize(reply) < 0) {
		ctl_error(ctl, "cannot show the reply: %s", strerror(ENOMEM));
		return EXIT_ERROR;
	}
	render_defs_install(reply);
	fflush(stdout); /* the files, then why nothing was installed */
	return jget_bool(reply, "ok", false) ? EXIT_OK : reply_error(ctl, reply);
}

/* The daemon test-loads the new set before it answers (up to the policy's
 * defs_test_timeout, minutes for full databases): no time limit on that. */
static int defs_install(const struct ctl *ctl, int n, char **files)
{
	struct proto_request req = { .cmd = CMD_DEFS_INSTALL };
	_cleanup_(conn_done) struct conn c = CONN_INIT;
	_cleanup_json_ struct json_object *reply = NULL;
	char *line;
	size_t len;
	int r = request_paths(ctl, "defs install", n, files, &req);

	if (r == EXIT_OK)
		r = ctl_request(ctl, &req, &c);
	if (r != EXIT_OK)
		return r;
	/* No stop signal to watch (-1): Ctrl-C ends picketctl, not the install. */
	r = conn_wait_line(&c, -1, &line, &len);
	if (r <= 0)
		return transfer_error(ctl, r);
	r = parse_object(line, len, &reply);
	return r < 0 ? transfer_error(ctl, r) : defs_install_show(ctl, reply);
}

static int cmd_defs(const struct ctl *ctl, int argc, char **argv)
{
	struct proto_request req = { .cmd = CMD_DEFS_STATUS };
	struct cmd_opts o = { 0 };
	int r = command_options(argc, argv, "h", &o);
	const char *verb;
	int nargs;

	if (r <= 0)
		return stop_status(r);
	verb = o.first < argc ? argv[o.first] : "";
	nargs = argc - o.first - 1;
	if (strcmp(verb, "install") == 0) {
		if (nargs == 0)
			return stop_status(usage_error("defs install: needs at least one FILE"));
		return defs_install(ctl, nargs, argv + o.first + 1);
	}
	if (strcmp(verb, "status") != 0)
		return stop_status(usage_error("defs: wants status or install FILE..."));
	if (nargs != 0)
		return stop_status(
			usage_error("defs status: unexpected argument '%s'", argv[o.first + 1]));
	return call_and_show(ctl, &req, render_defs_status);
}

/* --- quarantine */

static bool qid_valid(const char *id)
{
	return strlen(id) == PROTO_QID_LEN && strspn(id, "0123456789abcdef") == PROTO_QID_LEN;
}

/* restore ID or delete ID. */
static int quarantine_item(const struct ctl *ctl, const char *verb, int nargs, char **args,
			   bool force)
{
	struct proto_request req = { .cmd = CMD_QUARANTINE_DELETE };
	bool restore = strcmp(verb, "restore") == 0;

	if (nargs != 1)
		return stop_status(usage_error("quarantine %s: needs exactly one ID", verb));
	if (force && !restore)
		return stop_status(usage_error("quarantine %s: --force applies to restore only", verb));
	if (!qid_valid(args[0]))
		return stop_status(usage_error("quarantine %s: '%.64s' is not a quarantine ID "
					       "(%d lowercase hex digits)",
					       verb, args[0], PROTO_QID_LEN));
	memcpy(req.qid, args[0], PROTO_QID_LEN + 1);
	if (!restore)
		return call_and_show(ctl, &req, render_quarantine_deleted);
	req.cmd = CMD_QUARANTINE_RESTORE;
	req.force = force;
	return call_and_show(ctl, &req, render_quarantine_restored);
}

static int cmd_quarantine(const struct ctl *ctl, int argc, char **argv)
{
	struct proto_request req = { .cmd = CMD_QUARANTINE_LIST };
	struct cmd_opts o = { 0 };
	int r = command_options(argc, argv, "hF", &o);
	const char *verb;
	int nargs;

	if (r <= 0)
		return stop_status(r);
	verb = o.first < argc ? argv[o.first] : "";
	nargs = argc - o.first - 1;
	if (strcmp(verb, "restore") == 0 || strcmp(verb, "delete") == 0)
		return quarantine_item(ctl, verb, nargs, argv + o.first + 1, o.force);
	if (strcmp(verb, "list") != 0)
		return stop_status(usage_error("quarantine: wants list, restore ID or delete ID"));
	if (nargs != 0)
		return stop_status(
			usage_error("quarantine list: unexpected argument '%s'", argv[o.first + 1]));
	if (o.force)
		return stop_status(usage_error("quarantine list: --force applies to restore only"));
	return call_and_show(ctl, &req, render_quarantine_list);
}

static int cmd_help(const struct ctl *ctl, int argc, char **argv)
{
	(void)ctl, (void)argc, (void)argv;
	usage(stdout);
	return EXIT_OK;
}

static const struct command {
	const char *name;
	int (*run)(const struct ctl *ctl, int argc, char **argv); /* returns the exit status */
} commands[] = {
	{ "status", cmd_status }, { "faults", cmd_faults },
	{ "health", cmd_health }, { "events", cmd_events },
	{ "policy", cmd_policy }, { "scan", cmd_scan },
	{ "defs", cmd_defs },     { "quarantine", cmd_quarantine },
	{ "help", cmd_help },
};

/* The options before the command: 1 to go on with the command at optind,
 * 0 when help or the version was shown, -EINVAL on a usage error (shown). */
static int parse_global(int argc, char **argv, struct ctl *ctl)
{
	enum { OPT_JSON = 0x100, OPT_RUN_DIR, OPT_VERSION };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "socket", required_argument, NULL, 's' },
		{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{},
	};
	int c;

	opterr = 0;
	/* '+': stop at the command, whose options are its own. */
	while ((c = getopt_long(argc, argv, "+:s:h", opts, NULL)) >= 0) {
		switch (c) {
		case OPT_JSON:
			ctl->json = true;
			break;
		case 's':
			ctl->socket = optarg;
			break;
		case OPT_RUN_DIR:
			ctl->run_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("picketctl %s\n", PICKET_VERSION);
			return 0;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt > 0 && optopt < 0x80)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind == argc)
		return usage_error("no command given");
	return 1;
}

/* -s wins, then --run-dir, then $PICKET_RUN_DIR, then the default. */
static int resolve_socket(struct ctl *ctl)
{
	const char *dir = ctl->run_dir ? ctl->run_dir : getenv("PICKET_RUN_DIR");
	int n;

	if (ctl->socket)
		return 0;
	if (!dir || !*dir)
		dir = DEFAULT_RUN_DIR;
	n = snprintf(ctl->socket_buf, sizeof(ctl->socket_buf), "%s/%s", dir, PROTO_SOCKET_NAME);
	if (n < 0 || (size_t)n >= sizeof(ctl->socket_buf))
		return usage_error("run directory '%.64s...' is too long", dir);
	ctl->socket = ctl->socket_buf;
	return 0;
}

static int run(int argc, char **argv)
{
	struct ctl ctl = { 0 };
	const char *name;
	int r;

	r = parse_global(argc, argv, &ctl);
	if (r <= 0)
		return stop_status(r);
	if (resolve_socket(&ctl) < 0)
		return EXIT_USAGE;
	name = argv[optind];
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(name, commands[i].name) == 0)
			return commands[i].run(&ctl, argc - optind, argv + optind);
	return stop_status(usage_error("unknown command '%s'", name));
}

int main(int argc, char **argv)
{
	int r = run(argc, argv);

	/* A full disk or a closed pipe must not pass for success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "picketctl: cannot write the output: %s\n", strerror(errno));
		return r != EXIT_OK ? r : EXIT_ERROR;
	}
	return r;
}
