/* ondemand.c - `picketctl scan PATH...`: an opener child with the client's
 * credentials (core/opener.h) walks the paths and opens every regular file,
 * picketd hands the descriptors to the scan service and streams progress
 * and a summary back to the client.  A client scans only what it could
 * read, and a detection is quarantined only where it could have removed
 * the file itself.
 *
 * The walk is incremental: at most ONDEMAND_WINDOW files of one session are
 * granted to the opener or wait in the scan queue at a time, and more are
 * granted as verdicts come back, so a scan of / neither floods the queue
 * nor stalls the event loop. */
#include "scan_int.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "jsonutil.h"
#include "log.h"

#define PROGRESS_INTERVAL_MS 500
#define ONDEMAND_WINDOW 64
#define ONDEMAND_MAX_REPORTED 1000 /* detections and errors listed in the summary */
#define ONDEMAND_READ_BATCH 256    /* messages taken per wake-up: the loop serves others too */

struct ondemand {
	struct scan_owner owner; /* first: the supervisor hands it back */
	struct scan *scan;
	struct control_client *client; /* NULL once it went away */
	struct opener walker;
	struct io_source src; /* the walker's socket, in the loop until OPENER_END */
	char first[PATH_MAX]; /* the first path asked for, to name a walk that broke */
	bool progress;
	bool walked;  /* the walker is done */
	bool reading; /* verdicts from the cache arrive inside scan_submit */
	unsigned pending; /* submitted, verdict not yet back */
	unsigned granted; /* files the walker may still send */
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

/* The walk is over: the walker leaves the loop and is reaped. */
static void walk_over(struct ondemand *s)
{
	if (s->walked)
		return;
	s->walked = true;
	loop_del(s->scan->c.epfd, &s->src);
	opener_stop(&s->walker);
}

static void session_free(struct ondemand *s)
{
	walk_over(s);
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

/* Runs in the walker: policy is its copy of the policy in force. */
static bool excluded(const char *path, void *policy)
{
	const struct policy *p = policy;
	for (size_t i = 0; i < p->n_path_exclusions; i++) {
		size_t n = strlen(p->path_exclusions[i]);
		if (strncmp(path, p->path_exclusions[i], n) == 0 &&
		    (path[n] == '/' || path[n] == '\0' || p->path_exclusions[i][n - 1] == '/'))
			return true;
	}
	return false;
}

/* Finishes the session when the walk is over and nothing is pending, else
 * grants the walker more files once half the window is free: s may be
 * freed on return. */
static void advance(struct ondemand *s)
{
	if (s->walked && s->pending == 0) {
		finish_session(s);
		return;
	}
	unsigned used = s->pending + s->granted;
	if (s->walked || used > ONDEMAND_WINDOW / 2)
		return;
	int r = opener_want(&s->walker, ONDEMAND_WINDOW - used);
	if (r < 0)
		log_debug("on-demand scan: the walker took no more files: %s", strerror(-r));
	else
		s->granted = ONDEMAND_WINDOW - s->pending;
}

static void take_file(struct ondemand *s, struct opener_item *it)
{
	struct stat st;
	int fd = TAKE_FD(it->fd);

	if (s->granted)
		s->granted--;
	if (fstat(fd, &st) < 0) {
		s->errors++;
		note(s->failures, it->path, "error", strerror(errno));
		close(fd);
		return;
	}
	s->pending++;
	s->bytes += st.st_size;
	int r = scan_submit(s->scan, fd, it->path, &s->owner,
			    it->flags & OPENER_REMOVABLE ? 0 : SCAN_KEEP);
	if (r < 0) {
		s->pending--;
		s->errors++;
		note(s->failures, it->path, "error", strerror(-r));
	}
}

/* One message of the walker; false once the walk is over. */
static bool take(struct ondemand *s)
{
	struct opener_item it;
	int r = opener_next(&s->walker, &it);

	if (r == 0)
		return false;
	if (r < 0) {
		log_warning_errno(r, "on-demand scan of uid %u: the walk ended early",
				  (unsigned)control_client_creds(s->client)->uid);
		s->errors++;
		note(s->failures, s->first, "error",
		     r == -EPIPE ? "the walk ended before it was done" : strerror(-r));
		walk_over(s);
		return false;
	}
	switch (it.kind) {
	case OPENER_FILE:
		take_file(s, &it);
		break;
	case OPENER_ERROR:
		s->errors++;
		note(s->failures, it.path, "error", strerror(-it.err));
		break;
	case OPENER_SKIPPED:
		s->skipped++;
		break;
	default:
		walk_over(s);
		return false;
	}
	opener_item_close(&it);
	return true;
}

static void on_walker(struct io_source *src, uint32_t events)
{
	struct ondemand *s = src->obj;
	(void)events;
	if (!s->client) { /* its client went away: freed here, from its own handler */
		unlink_session(s->scan, s);
		session_free(s);
		return;
	}
	s->reading = true;
	for (int i = 0; i < ONDEMAND_READ_BATCH && take(s); i++)
		;
	s->reading = false;
	advance(s);
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
	if (s->reading)
		return;
	progress(s);
	advance(s);
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
	snprintf(s->first, sizeof(s->first), "%s", req->paths[0]);
	s->walked = true; /* until the walker runs */
	s->detections = json_object_new_array();
	s->failures = json_object_new_array();
	s->not_scanned = json_object_new_array();
	if (!s->detections || !s->failures || !s->not_scanned) {
		session_free(s);
		return -ENOMEM;
	}
	const struct opener_creds *cr = control_client_creds(client);
	int r = opener_walk(&s->walker, cr, paths, excluded, (void *)sc->c.policy);
	if (r < 0) {
		session_free(s);
		return log_error_errno(r, "on-demand scan of uid %u: cannot start the walk",
				       (unsigned)cr->uid);
	}
	s->src = (struct io_source){ .fd = s->walker.fd, .fn = on_walker, .obj = s };
	r = loop_add(sc->c.epfd, &s->src, EPOLLIN);
	if (r < 0) {
		opener_stop(&s->walker);
		session_free(s);
		return r;
	}
	s->walked = false;
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	s->last_progress = s->started;
	s->next = sc->sessions;
	sc->sessions = s;
	advance(s);
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
		s->client = NULL;
		if (!s->walked) {
			/* Its socket may have an event waiting in this very wake-up:
			 * the walker is killed, its handler sees the end and frees. */
			kill(s->walker.pid, SIGKILL);
			continue;
		}
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
