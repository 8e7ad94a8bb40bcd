/* ondemand.c - `picketctl scan PATH...`: walks the paths, opens every
 * regular file as root, hands the descriptors to the scan service, and
 * streams progress and a summary back to the client.
 *
 * The walk is incremental: at most ONDEMAND_WINDOW files of one session wait
 * in the scan queue at a time, and the next batch is walked as verdicts come
 * back, so a scan of / neither floods the queue nor stalls the event loop. */
#include "scan_int.h"

#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "jsonutil.h"
#include "log.h"

#define PROGRESS_INTERVAL_MS 500
#define ONDEMAND_WINDOW 64
#define ONDEMAND_MAX_REPORTED 1000 /* detections and errors listed in the summary */

struct ondemand {
	struct scan_owner owner; /* first: the supervisor hands it back */
	struct scan *scan;
	struct control_client *client;
	FTS *fts;
	bool progress;
	bool walking;
	unsigned pending; /* submitted, verdict not yet back */
	uint64_t files, bytes, infected, errors, skipped, limits;
	struct timespec started, last_progress;
	struct json_object *detections; /* [{path, signature}] */
	struct json_object *failures;   /* [{path, error}] */
	struct json_object *not_scanned; /* [{path, limit}]: a scan limit stopped them */
	struct ondemand *next;
};

static double since(const struct timespec *a)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - a->tv_sec) + (now.tv_nsec - a->tv_nsec) / 1e9;
}

static void note(struct json_object *list, const char *path, const char *key, const char *text)
{
	if (json_object_array_length(list) >= ONDEMAND_MAX_REPORTED)
		return;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "path", json_object_new_string(path));
	json_object_object_add(o, key, json_object_new_string(text));
	json_object_array_add(list, o);
}

static struct json_object *counts(const struct ondemand *s)
{
	struct json_object *o = json_object_new_object();
	double secs = since(&s->started);
	json_object_object_add(o, "files", json_object_new_uint64(s->files));
	json_object_object_add(o, "bytes", json_object_new_uint64(s->bytes));
	json_object_object_add(o, "infected", json_object_new_uint64(s->infected));
	json_object_object_add(o, "errors", json_object_new_uint64(s->errors));
	json_object_object_add(o, "skipped", json_object_new_uint64(s->skipped));
	json_object_object_add(o, "limits", json_object_new_uint64(s->limits));
	json_object_object_add(o, "seconds", json_object_new_double(secs));
	json_object_object_add(o, "mb_per_s",
			       json_object_new_double(secs > 0 ? s->bytes / 1048576.0 / secs : 0));
	return o;
}

static void unlink_session(struct scan *sc, struct ondemand *s)
{
	for (struct ondemand **pp = &sc->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
}

static void session_free(struct ondemand *s)
{
	if (s->fts)
		fts_close(s->fts);
	json_object_put(s->detections);
	json_object_put(s->failures);
	json_object_put(s->not_scanned);
	free(s);
}

static void finish_session(struct ondemand *s)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	if (o && s->client) {
		json_object_object_add(o, "ok", json_object_new_boolean(true));
		json_object_object_add(o, "summary", counts(s));
		json_object_object_add(o, "detections", json_object_get(s->detections));
		json_object_object_add(o, "failures", json_object_get(s->failures));
		json_object_object_add(o, "not_scanned", json_object_get(s->not_scanned));
		control_send(s->client, o);
	}
	log_info("on-demand scan: %llu files, %llu infected, %llu errors",
		 (unsigned long long)s->files, (unsigned long long)s->infected,
		 (unsigned long long)s->errors);
	unlink_session(s->scan, s);
	session_free(s);
}

static bool excluded(const struct policy *p, const char *path)
{
	for (size_t i = 0; i < p->n_path_exclusions; i++) {
		size_t n = strlen(p->path_exclusions[i]);
		if (strncmp(path, p->path_exclusions[i], n) == 0 &&
		    (path[n] == '/' || path[n] == '\0' || p->path_exclusions[i][n - 1] == '/'))
			return true;
	}
	return false;
}

static void on_verdict(struct scan_owner *o, struct scan_job *job, const struct verdict *v);

/* Opens one regular file without following links or blocking on a FIFO that
 * replaced it, and without touching its access time where root may. */
static int open_file(const char *path)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
	int fd = open(path, flags | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(path, flags);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/* Walks on until the window is full or the walk is over, then finishes the
 * session when nothing is pending: s may be freed on return. */
static void walk(struct ondemand *s)
{
	FTSENT *e;
	s->walking = true; /* cached verdicts arrive inside scan_submit */
	while (s->fts && s->pending < ONDEMAND_WINDOW && (e = fts_read(s->fts))) {
		if (e->fts_info == FTS_D && excluded(s->scan->c.policy, e->fts_path)) {
			fts_set(s->fts, e, FTS_SKIP);
			s->skipped++;
			continue;
		}
		if (e->fts_info == FTS_DNR || e->fts_info == FTS_ERR || e->fts_info == FTS_NS) {
			s->errors++;
			note(s->failures, e->fts_path, "error", strerror(e->fts_errno));
			continue;
		}
		if (e->fts_info != FTS_F)
			continue;
		if (excluded(s->scan->c.policy, e->fts_path)) {
			s->skipped++;
			continue;
		}
		int fd = open_file(e->fts_path);
		if (fd < 0) {
			s->errors++;
			note(s->failures, e->fts_path, "error", strerror(-fd));
			continue;
		}
		s->pending++;
		s->bytes += e->fts_statp->st_size;
		int r = scan_submit(s->scan, fd, e->fts_path, &s->owner, 0);
		if (r < 0) {
			s->pending--;
			s->errors++;
			note(s->failures, e->fts_path, "error", strerror(-r));
		}
	}
	s->walking = false;
	if (s->fts && s->pending < ONDEMAND_WINDOW) {
		fts_close(s->fts); /* fts_read returned NULL: the walk is over */
		s->fts = NULL;
	}
	if (!s->fts && s->pending == 0)
		finish_session(s);
}

static void progress(struct ondemand *s)
{
	if (!s->progress || !s->client)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (now.tv_sec - s->last_progress.tv_sec) * 1000 +
		  (now.tv_nsec - s->last_progress.tv_nsec) / 1000000;
	if (ms < PROGRESS_INTERVAL_MS)
		return;
	s->last_progress = now;
	_cleanup_json_ struct json_object *o = json_object_new_object();
	if (o) {
		json_object_object_add(o, "progress", counts(s));
		control_send(s->client, o);
	}
}

static void on_verdict(struct scan_owner *o, struct scan_job *job, const struct verdict *v)
{
	struct ondemand *s = (struct ondemand *)o;
	s->pending--;
	s->files++;
	if (v->result == SCAN_INFECTED) {
		s->infected++;
		note(s->detections, job->path, "signature", v->text);
	} else if (v->result == SCAN_ERROR) {
		s->errors++;
		note(s->failures, job->path, "error", v->text);
	} else if (v->result == SCAN_LIMIT) {
		s->limits++;
		note(s->not_scanned, job->path, "limit", v->text);
	}
	if (s->walking)
		return;
	progress(s);
	if (s->pending < ONDEMAND_WINDOW / 2 || !s->fts)
		walk(s);
}

int scan_session_start(struct scan *sc, const struct proto_request *req,
		       struct control_client *client)
{
	/* A service that could not start says why (fault 7's detail). */
	if (sc->state != SVC_READY && sc->state_detail[0]) {
		char msg[sizeof(sc->state_detail) + 64];
		snprintf(msg, sizeof(msg), "scanning is off: %s", sc->state_detail);
		return control_send_error(client, msg);
	}
	struct ondemand *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	char *paths[PROTO_MAX_PATHS + 1] = { 0 };
	for (size_t i = 0; i < req->n_paths; i++)
		paths[i] = (char *)req->paths[i];
	s->owner.done = on_verdict;
	s->scan = sc;
	s->client = client;
	s->progress = req->progress;
	s->detections = json_object_new_array();
	s->failures = json_object_new_array();
	s->not_scanned = json_object_new_array();
	s->fts = fts_open(paths, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
	if (!s->fts || !s->detections || !s->failures || !s->not_scanned) {
		int r = -errno;
		session_free(s);
		return r ? r : -ENOMEM;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	s->last_progress = s->started;
	s->next = sc->sessions;
	sc->sessions = s;
	walk(s);
	return 0;
}

void scan_client_gone(struct scan *sc, struct control_client *client)
{
	struct ondemand *s = sc->sessions, *next;
	for (; s; s = next) {
		next = s->next;
		if (s->client != client)
			continue;
		scan_cancel(sc, &s->owner);
		unlink_session(sc, s);
		session_free(s);
	}
}

void ondemand_done(struct scan *sc)
{
	while (sc->sessions) {
		struct ondemand *s = sc->sessions;
		scan_cancel(sc, &s->owner);
		sc->sessions = s->next;
		session_free(s);
	}
}
