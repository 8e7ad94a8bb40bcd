#include "engine.h"

#include <clamav.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

struct engine {
	struct cl_engine *cl;
	struct cl_scan_options opts;
	unsigned sigs;
	char version[ENGINE_TEXT_MAX];
};

/* libclamav reports through one process-wide callback, and the errors that
 * matter most (no temp directory) come with a NULL context, so the errors
 * logged since the last reset are counted here.  picket-scand has one
 * thread; _Thread_local keeps the count right should that change. */
#define CLMSG_LOG_MAX 8 /* messages logged per scan (or load): a file can make many */

static _Thread_local struct {
	unsigned errors;
	unsigned logged;
	char first[ENGINE_TEXT_MAX]; /* the first error (the cause, usually), without
				      * prefix or newline */
} clmsg;

/* Texts from libclamav can quote bytes of the definitions or of the file
 * ("Unknown type flag '\xc4'"); what goes to picketd and the log is
 * printable ASCII. */
static void make_printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

static void clmsg_reset(void)
{
	clmsg.errors = 0;
	clmsg.logged = 0;
	clmsg.first[0] = '\0';
}

static void on_clamav_msg(enum cl_msg severity, const char *fullmsg, const char *msg, void *ctx)
{
	char line[ENGINE_TEXT_MAX];
	size_t n;

	(void)fullmsg;
	(void)ctx;
	n = strcspn(msg ? msg : "", "\n");
	snprintf(line, sizeof(line), "%.*s", (int)n, msg ? msg : "");
	make_printable(line);
	if (severity == CL_MSG_ERROR && clmsg.errors++ == 0)
		memcpy(clmsg.first, line, sizeof(line));
	if (++clmsg.logged > CLMSG_LOG_MAX) {
		if (clmsg.logged == CLMSG_LOG_MAX + 1)
			log_warning("libclamav: more messages, not logged");
		return;
	}
	switch (severity) {
	case CL_MSG_ERROR:
		log_error("libclamav: %s", line);
		break;
	case CL_MSG_WARN:
		log_warning("libclamav: %s", line);
		break;
	default:
		log_debug("libclamav: %s", line);
		break;
	}
}

/* One scan's context, handed to the callbacks through cl_scandesc_callback. */
struct scan_ctx {
	char found[ENGINE_TEXT_MAX]; /* the first name the engine reported */
};

/* libclamav 1.4.6 answers CL_VIRUS with *virname NULL for a file over
 * max-filesize (Heuristics.Limits.Exceeded.MaxFileSize) unless this
 * callback is set; it gets the name either way. */
static void on_virus_found(int fd, const char *virname, void *context)
{
	struct scan_ctx *c = context;

	(void)fd;
	if (c && virname && !c->found[0])
		snprintf(c->found, sizeof(c->found), "%s", virname);
}

static int fail(struct engine_failure *f, enum scan_stage stage, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct engine_failure *f, enum scan_stage stage, int code, const char *fmt, ...)
{
	va_list ap;

	f->stage = stage;
	f->code = code;
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
	make_printable(f->text);
	return code < 0 ? code : -EIO;
}

/* libclamav's error text, with the first error it logged when there is one. */
static int fail_cl(struct engine_failure *f, enum scan_stage stage, cl_error_t rc, const char *what)
{
	if (clmsg.first[0])
		return fail(f, stage, rc, "%s: %s (%s)", what, cl_strerror(rc), clmsg.first);
	return fail(f, stage, rc, "%s: %s", what, cl_strerror(rc));
}

/* Tries what libclamav does at every scan: create a directory inside. */
static int check_tmpdir(const char *dir, struct engine_failure *f)
{
	char probe[PATH_MAX];
	struct stat st;

	if (stat(dir, &st) < 0)
		return fail(f, SCAN_STAGE_TMPDIR, -errno, "temp dir %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(f, SCAN_STAGE_TMPDIR, -ENOTDIR, "temp dir %s is not a directory", dir);
	if ((size_t)snprintf(probe, sizeof(probe), "%s/.picket-scand-probe.XXXXXX", dir) >= sizeof(probe))
		return fail(f, SCAN_STAGE_TMPDIR, -ENAMETOOLONG, "temp dir %s: path too long", dir);
	if (!mkdtemp(probe))
		return fail(f, SCAN_STAGE_TMPDIR, -errno, "temp dir %s is not writable: %s", dir,
			    strerror(errno));
	if (rmdir(probe) < 0)
		return fail(f, SCAN_STAGE_TMPDIR, -errno, "temp dir %s: cannot remove %s: %s", dir,
			    probe, strerror(errno));
	return 0;
}

static bool is_container(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && (!strcmp(name + n - 4, ".cvd") || !strcmp(name + n - 4, ".cld") ||
			 !strcmp(name + n - 4, ".cud"));
}

struct newest {
	unsigned stime, version;
	char desc[ENGINE_TEXT_MAX];
};

static void consider(const char *path, const char *name, struct newest *best)
{
	struct cl_cvd *h = cl_cvdhead(path);

	if (!h)
		return;
	if (!best->desc[0] || h->stime > best->stime ||
	    (h->stime == best->stime && h->version > best->version)) {
		best->stime = h->stime;
		best->version = h->version;
		snprintf(best->desc, sizeof(best->desc), "%s %u (%s)", name, h->version,
			 h->time ? h->time : "?");
	}
	cl_cvdfree(h);
}

/* The header of the newest container (by build time) names the set. */
static void defs_version(const char *defs, char *buf, size_t len)
{
	struct newest best = { 0 };
	struct stat st;

	if (stat(defs, &st) == 0 && S_ISDIR(st.st_mode)) {
		_cleanup_closedir_ DIR *d = opendir(defs);
		struct dirent *de;
		char path[PATH_MAX];

		while (d && (de = readdir(d)))
			if (is_container(de->d_name) &&
			    (size_t)snprintf(path, sizeof(path), "%s/%s", defs, de->d_name) < sizeof(path))
				consider(path, de->d_name, &best);
	} else if (is_container(defs)) {
		const char *slash = strrchr(defs, '/');
		consider(defs, slash ? slash + 1 : defs, &best);
	}
	snprintf(buf, len, "%s", best.desc[0] ? best.desc : "unversioned");
	make_printable(buf);
	for (char *p = buf; *p; p++)
		if (*p == SCAN_READY_TEXT_SEP)
			*p = '_';
}

static int set_limits(struct cl_engine *cl, const struct engine_config *cfg, struct engine_failure *f)
{
	const struct {
		enum cl_engine_field field;
		long long value;
		const char *name;
	} limits[] = {
		{ CL_ENGINE_MAX_FILESIZE, (long long)cfg->max_filesize, "max-filesize" },
		{ CL_ENGINE_MAX_SCANSIZE, (long long)cfg->max_scansize, "max-scansize" },
		{ CL_ENGINE_MAX_SCANTIME, cfg->max_scantime, "max-scantime" },
		{ CL_ENGINE_MAX_RECURSION, cfg->max_recursion, "max-recursion" },
		{ CL_ENGINE_MAX_FILES, cfg->max_files, "max-files" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(limits); i++) {
		cl_error_t rc = cl_engine_set_num(cl, limits[i].field, limits[i].value);
		if (rc != CL_SUCCESS)
			return fail(f, SCAN_STAGE_ENGINE_INIT, rc, "%s %lld: %s", limits[i].name,
				    limits[i].value, cl_strerror(rc));
	}
	return 0;
}

static int engine_build(struct engine *e, const struct engine_config *cfg, struct engine_failure *f)
{
	cl_error_t rc;
	int r;

	e->cl = cl_engine_new();
	if (!e->cl)
		return fail(f, SCAN_STAGE_ENGINE_INIT, -ENOMEM, "cl_engine_new failed");
	r = set_limits(e->cl, cfg, f);
	if (r < 0)
		return r;
	cl_engine_set_clcb_virus_found(e->cl, on_virus_found);
	if (cfg->tmpdir) {
		r = check_tmpdir(cfg->tmpdir, f);
		if (r < 0)
			return r;
		rc = cl_engine_set_str(e->cl, CL_ENGINE_TMPDIR, cfg->tmpdir);
		if (rc != CL_SUCCESS)
			return fail_cl(f, SCAN_STAGE_TMPDIR, rc, cfg->tmpdir);
	}

	clmsg_reset();
	rc = cl_load(cfg->defs, e->cl, &e->sigs, CL_DB_STDOPT);
	if (rc != CL_SUCCESS)
		return fail_cl(f, SCAN_STAGE_DEFS_LOAD, rc, cfg->defs);
	if (e->sigs == 0)
		return fail(f, SCAN_STAGE_DEFS_EMPTY, -ENODATA,
			    "%s: no signatures loaded: scanning would pass every file", cfg->defs);
	clmsg_reset();
	rc = cl_engine_compile(e->cl);
	if (rc != CL_SUCCESS)
		return fail_cl(f, SCAN_STAGE_COMPILE, rc, "cl_engine_compile");
	defs_version(cfg->defs, e->version, sizeof(e->version));

	/* Every parser.  Heuristic alerts, and among them "exceeds max": a file
	 * that hits a limit (size, nesting, scan time) otherwise comes back
	 * CL_CLEAN without having been scanned whole; this way it is reported
	 * as Heuristics.Limits.Exceeded.* instead.  Heuristic names only win
	 * when no real signature matched. */
	e->opts = (struct cl_scan_options){
		.parse = ~0u,
		.general = CL_SCAN_GENERAL_HEURISTICS,
		.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX,
	};
	return 0;
}

int engine_open(const struct engine_config *cfg, struct engine **ret, struct engine_failure *fail_out)
{
	static bool initialized;
	struct engine_failure f = { 0 };
	struct engine *e;
	cl_error_t rc;
	int r;

	if (!initialized) {
		cl_set_clcb_msg(on_clamav_msg); /* before cl_init, to see its messages too */
		clmsg_reset();
		rc = cl_init(CL_INIT_DEFAULT);
		if (rc != CL_SUCCESS) {
			r = fail_cl(&f, SCAN_STAGE_ENGINE_INIT, rc, "cl_init");
			*fail_out = f;
			return r;
		}
		initialized = true;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		fail(fail_out, SCAN_STAGE_ENGINE_INIT, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	r = engine_build(e, cfg, &f);
	if (r < 0) {
		engine_free(e); /* a failed cl_load may have loaded some: never reuse it */
		*fail_out = f;
		return r;
	}
	*ret = e;
	return 0;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	if (e->cl)
		cl_engine_free(e->cl);
	free(e);
}

unsigned engine_sigs(const struct engine *e) { return e->sigs; }

const char *engine_version(const struct engine *e) { return e->version; }

static uint64_t elapsed_usec(const struct timespec *a, const struct timespec *b)
{
	int64_t us = (int64_t)(b->tv_sec - a->tv_sec) * 1000000 + (b->tv_nsec - a->tv_nsec) / 1000;
	return us < 0 ? 0 : (uint64_t)us;
}

int engine_scan(struct engine *e, int fd, struct engine_verdict *ret)
{
	struct engine_verdict v = { .result = SCAN_ERROR };
	struct scan_ctx ctx = { .found = "" };
	struct timespec t0, t1;
	const char *name = NULL;
	unsigned long scanned = 0;
	struct stat st;
	cl_error_t rc;

	if (fstat(fd, &st) < 0) {
		v.code = -errno;
		snprintf(v.text, sizeof(v.text), "fstat: %s", strerror(errno));
		goto out;
	}
	/* A FIFO or a device could block the service forever. */
	if (!S_ISREG(st.st_mode)) {
		v.code = -EINVAL;
		snprintf(v.text, sizeof(v.text), "not a regular file");
		goto out;
	}

	clmsg_reset();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = cl_scandesc_callback(fd, NULL, &name, &scanned, e->cl, &e->opts, &ctx);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	uint64_t us = elapsed_usec(&t0, &t1);
	v.usec = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	v.bytes = (uint64_t)scanned * CL_COUNT_PRECISION;

	if (rc == CL_VIRUS) {
		snprintf(v.text, sizeof(v.text), "%s",
			 name ? name : ctx.found[0] ? ctx.found : "unknown");
		/* A limit's name only wins when no signature matched. */
		v.result = strncmp(v.text, SCAN_LIMIT_PREFIX, strlen(SCAN_LIMIT_PREFIX)) == 0
				   ? SCAN_LIMIT
				   : SCAN_INFECTED;
	} else if (rc == CL_CLEAN && clmsg.errors == 0) {
		v.result = SCAN_CLEAN;
	} else if (rc == CL_CLEAN) {
		/* Fail closed: libclamav logged an error, so "clean" may mean
		 * "not scanned" (e.g. the temp dir vanished). */
		v.code = 0;
		snprintf(v.text, sizeof(v.text), "%s", clmsg.first);
	} else {
		v.code = rc;
		if (clmsg.first[0])
			snprintf(v.text, sizeof(v.text), "%s (%s)", cl_strerror(rc), clmsg.first);
		else
			snprintf(v.text, sizeof(v.text), "%s", cl_strerror(rc));
	}
out:
	make_printable(v.text);
	*ret = v;
	return 0;
}
