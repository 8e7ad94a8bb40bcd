/* picket-scand - the privilege-separated scan service (protocol: scanproto.h).
 *
 * picketd starts it with its end of a SOCK_SEQPACKET socketpair as fd 3.
 * In this order it: drops to the scan user (privdrop.c), sets no_new_privs
 * and drops every capability, loads and compiles the definitions
 * (engine.c), locks itself into a seccomp allowlist (sandbox.c), sends
 * READY, then answers SCAN and PING until picketd closes the socket.  It
 * never opens a file it scans: each arrives as a descriptor.
 *
 * With --test-load it loads and compiles the definitions, prints sigs=N and
 * exits: the stability check of new definitions, run by picketd in a
 * memory-limited child before they are activated (fault 7). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <clamav.h>

#include "engine.h"
#include "log.h"
#include "privdrop.h"
#include "sandbox.h"
#include "scanproto.h"

#define EXIT_FAILED 1    /* FAILED sent, or the test load failed */
#define EXIT_USAGE 2     /* bad command line, or fd 3 is not our socket */
#define EXIT_PROTOCOL 3  /* a malformed message, or the socket broke */

struct args {
	struct engine_config engine;
	const char *user, *group;
	bool test_load;
	int verbose;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: picket-scand --defs DIR [OPTION...]\n"
		"The scan service of picket, started by picketd with a SOCK_SEQPACKET socket as fd 3.\n"
		"\n"
		"  --defs DIR            definitions (.cvd/.cld/.cud), loaded with cl_load\n"
		"  --tmpdir DIR          libclamav's temp directory, writable by the scan user\n"
		"                        (default: $TMPDIR, else /tmp)\n"
		"  --user NAME           scan user (default picket-scan)\n"
		"  --group NAME          scan group, the user's primary group (default picket-scan)\n"
		"  --max-filesize BYTES  larger files are not scanned (default 104857600)\n"
		"  --max-scansize BYTES  data scanned per file, archives unpacked (default 419430400)\n"
		"  --max-scantime MS     time per file (default 120000)\n"
		"  --max-recursion N     archive nesting depth (default 17)\n"
		"  --max-files N         members scanned per archive (default 10000)\n"
		"  --test-load           load and compile the definitions, print sigs=N, exit\n"
		"  -v, --verbose         debug logging (twice: libclamav's debug output too)\n"
		"  -h, --help            this text\n"
		"\n"
		"Exit: 0 end of stream or test load passed; 1 start failed (FAILED sent) or test\n"
		"load failed; 2 bad command line or fd 3 not a SOCK_SEQPACKET socket; 3 protocol error.\n");
}

static int bad_arg(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad_arg(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A decimal number in 1..max, nothing else. */
static int parse_num(const char *s, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v == 0 || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

enum {
	OPT_DEFS = 0x100,
	OPT_TMPDIR,
	OPT_USER,
	OPT_GROUP,
	OPT_MAX_FILESIZE,
	OPT_MAX_SCANSIZE,
	OPT_MAX_SCANTIME,
	OPT_MAX_RECURSION,
	OPT_MAX_FILES,
	OPT_TEST_LOAD,
};

static int parse_args(int argc, char **argv, struct args *a, char *err, size_t errlen)
{
	static const struct option opts[] = {
		{ "defs", required_argument, NULL, OPT_DEFS },
		{ "tmpdir", required_argument, NULL, OPT_TMPDIR },
		{ "user", required_argument, NULL, OPT_USER },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "max-filesize", required_argument, NULL, OPT_MAX_FILESIZE },
		{ "max-scansize", required_argument, NULL, OPT_MAX_SCANSIZE },
		{ "max-scantime", required_argument, NULL, OPT_MAX_SCANTIME },
		{ "max-recursion", required_argument, NULL, OPT_MAX_RECURSION },
		{ "max-files", required_argument, NULL, OPT_MAX_FILES },
		{ "test-load", no_argument, NULL, OPT_TEST_LOAD },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*a = (struct args){ .engine = { ENGINE_CONFIG_DEFAULTS },
			    .user = "picket-scan",
			    .group = "picket-scan" };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		uint64_t n = 0;
		bool numeric = c >= OPT_MAX_FILESIZE && c <= OPT_MAX_FILES;
		uint64_t max = c == OPT_MAX_FILESIZE || c == OPT_MAX_SCANSIZE ? INT64_MAX : UINT32_MAX;

		if (numeric && parse_num(optarg, max, &n) < 0)
			return bad_arg(err, errlen, "--%s: '%s' is not a number from 1 to %llu",
				       opts[c - OPT_DEFS].name, optarg, (unsigned long long)max);
		switch (c) {
		case OPT_DEFS:
			a->engine.defs = optarg;
			break;
		case OPT_TMPDIR:
			a->engine.tmpdir = optarg;
			break;
		case OPT_USER:
			a->user = optarg;
			break;
		case OPT_GROUP:
			a->group = optarg;
			break;
		case OPT_MAX_FILESIZE:
			a->engine.max_filesize = n;
			break;
		case OPT_MAX_SCANSIZE:
			a->engine.max_scansize = n;
			break;
		case OPT_MAX_SCANTIME:
			a->engine.max_scantime = n;
			break;
		case OPT_MAX_RECURSION:
			a->engine.max_recursion = n;
			break;
		case OPT_MAX_FILES:
			a->engine.max_files = n;
			break;
		case OPT_TEST_LOAD:
			a->test_load = true;
			break;
		case 'v':
			a->verbose++;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			return bad_arg(err, errlen, "%s needs an argument", argv[optind - 1]);
		default:
			return bad_arg(err, errlen, "unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad_arg(err, errlen, "unexpected argument '%s'", argv[optind]);
	if (!a->engine.defs || !*a->engine.defs)
		return bad_arg(err, errlen, "--defs DIR is required");
	if (!*a->user || !*a->group)
		return bad_arg(err, errlen, "--user and --group must not be empty");
	return 0;
}

static bool is_seqpacket(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_SEQPACKET;
}

/* Sends FAILED; the reason was logged by the caller. */
static int send_failed(int sock, enum scan_stage stage, int code, const char *text)
{
	struct scan_msg m = { .type = SCAN_MSG_FAILED, .result = stage, .code = code };
	int r;

	scan_msg_set_text(&m, text);
	r = scan_msg_send(sock, &m, -1);
	if (r < 0)
		log_error_errno(r, "sending FAILED to picketd");
	return EXIT_FAILED;
}

static int startup_failed(int sock, enum scan_stage stage, int code, const char *text)
{
	log_error("start failed at %s: %s", scan_stage_name(stage), text);
	return send_failed(sock, stage, code, text);
}

static int send_reply(int sock, const struct scan_msg *m)
{
	int r = scan_msg_send(sock, m, -1);

	if (r == -EPIPE || r == -ECONNRESET) {
		log_info("picketd closed the socket");
		return 0;
	}
	if (r < 0)
		return log_error_errno(r, "sending to picketd");
	return 1;
}

static int handle_scan(int sock, struct engine *e, const struct scan_msg *req, int fd)
{
	struct scan_msg m = { .type = SCAN_MSG_VERDICT, .id = req->id };
	struct engine_verdict v;

	engine_scan(e, fd, &v);
	close(fd);
	m.result = v.result;
	m.code = v.code;
	m.bytes = v.bytes;
	m.usec = v.usec;
	scan_msg_set_text(&m, v.text);
	if (v.result == SCAN_ERROR)
		log_warning("scan %llu: error %d: %s", (unsigned long long)req->id, v.code, v.text);
	else
		log_debug("scan %llu: %s %s (%u us)", (unsigned long long)req->id,
			  v.result == SCAN_INFECTED ? "infected"
			  : v.result == SCAN_LIMIT  ? "limit"
						    : "clean",
			  v.text, v.usec);
	return send_reply(sock, &m);
}

/* Answers messages until end of stream; returns the exit status. */
static int serve(int sock, struct engine *e)
{
	for (;;) {
		struct scan_msg m;
		int fd = -1, r;

		r = scan_msg_recv(sock, &m, &fd);
		if (r == -ECONNRESET) {
			log_info("end of stream: exiting");
			return 0;
		}
		if (r == -EBADMSG) {
			log_error("malformed message from picketd: exiting");
			return EXIT_PROTOCOL;
		}
		if (r < 0) {
			log_error_errno(r, "receiving from picketd");
			return EXIT_PROTOCOL;
		}
		switch (m.type) {
		case SCAN_MSG_SCAN:
			r = handle_scan(sock, e, &m, fd);
			break;
		case SCAN_MSG_PING:
			r = send_reply(sock, &(struct scan_msg){ .type = SCAN_MSG_PONG, .id = m.id });
			break;
		default:
			log_error("unexpected message type %u from picketd: exiting", (unsigned)m.type);
			return EXIT_PROTOCOL;
		}
		if (r <= 0)
			return r == 0 ? 0 : EXIT_PROTOCOL;
	}
}

static int service(const struct args *a, int sock)
{
	struct engine_config cfg = a->engine;
	struct engine_failure f;
	struct engine *e = NULL;
	char why[200] = "", text[256];
	int r;

	if (!cfg.tmpdir)
		cfg.tmpdir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	/* Nothing untrusted has been read yet: drop first. */
	r = privdrop_user(a->user, a->group, why, sizeof(why));
	if (r < 0)
		return startup_failed(sock, SCAN_STAGE_PRIVDROP, r, "switching to the scan user did not hold");
	if (r > 0)
		log_warning("%s: the scan service runs as uid %u%s", why, (unsigned)geteuid(),
			    geteuid() == 0 ? " (fault 5)" : "");
	r = privdrop_caps();
	if (r < 0)
		return startup_failed(sock, SCAN_STAGE_PRIVDROP, r, "dropping capabilities failed");

	r = engine_open(&cfg, &e, &f);
	if (r < 0)
		return startup_failed(sock, f.stage, f.code, f.text);

	/* Before the filter, which has no get*id. */
	struct scan_msg ready = { .type = SCAN_MSG_READY,
				  .uid = geteuid(),
				  .gid = getegid(),
				  .sigs = engine_sigs(e) };
	if (geteuid() == 0) {
		ready.flags |= SCAN_READY_AS_ROOT;
		snprintf(text, sizeof(text), "%s%c%s", engine_version(e), SCAN_READY_TEXT_SEP,
			 why[0] ? why : "running as root");
	} else {
		snprintf(text, sizeof(text), "%s", engine_version(e));
	}
	scan_msg_set_text(&ready, text);

	r = sandbox_apply(cfg.tmpdir);
	if (r < 0) {
		engine_free(e);
		return startup_failed(sock, SCAN_STAGE_SANDBOX, r, "installing the seccomp filter failed");
	}
	log_info("ready: %u signatures, %s, uid %u gid %u", ready.sigs, engine_version(e),
		 (unsigned)ready.uid, (unsigned)ready.gid);
	r = send_reply(sock, &ready);
	if (r > 0)
		r = serve(sock, e);
	else
		r = r == 0 ? 0 : EXIT_PROTOCOL;
	engine_free(e);
	return r;
}

static int test_load(const struct args *a)
{
	struct engine_failure f;
	struct engine *e = NULL;
	char why[200] = "";
	int r;

	if (geteuid() == 0) {
		r = privdrop_user(a->user, a->group, why, sizeof(why));
		if (r < 0)
			return EXIT_FAILED;
		if (r > 0)
			log_info("test load as root: %s", why);
	}
	if (privdrop_caps() < 0)
		return EXIT_FAILED;
	/* Nothing is scanned, so the temp dir is neither checked nor used: a
	 * problem there must not reject good definitions. */
	struct engine_config cfg = a->engine;
	cfg.tmpdir = NULL;
	r = engine_open(&cfg, &e, &f);
	if (r < 0) {
		log_error("%s: %s", scan_stage_name(f.stage), f.text);
		return EXIT_FAILED;
	}
	printf("sigs=%u\n", engine_sigs(e));
	engine_free(e);
	return fflush(stdout) == 0 ? 0 : EXIT_FAILED;
}

int main(int argc, char **argv)
{
	struct args a;
	char err[256];
	int r;

	log_setup("picket-scand", LOG_TARGET_STDERR, LOG_INFO);
	r = parse_args(argc, argv, &a, err, sizeof(err));
	if (a.verbose)
		log_set_level(LOG_DEBUG);
	if (a.verbose > 1)
		cl_debug();
	if (r < 0) {
		log_error("%s (see --help)", err);
		if (!a.test_load && is_seqpacket(SCAN_FD))
			send_failed(SCAN_FD, SCAN_STAGE_ARGS, r, err);
		return EXIT_USAGE;
	}
	if (a.test_load)
		return test_load(&a);

	if (!is_seqpacket(SCAN_FD)) {
		log_error("fd %d is not a SOCK_SEQPACKET socket: picket-scand is started by picketd",
			  SCAN_FD);
		return EXIT_USAGE;
	}
	/* Only stdin/out/err and the socket cross into the sandbox. */
	if (close_range(SCAN_FD + 1, ~0u, 0) < 0)
		log_debug("close_range: %s", strerror(errno));
	return service(&a, SCAN_FD);
}
