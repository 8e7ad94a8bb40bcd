/* scan.c - the scan layer's front (scan.h): the queue and its cache, the
 * supervisor, the sessions and the incoming folder, behind one handle. */
#include "scan.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "scan_int.h"

int scan_new(const struct scan_config *c, struct scan **ret)
{
	struct scan *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->c = *c;
	s->sock.fd = s->pidfd.fd = s->timer.fd = s->incoming.fd = -1;
	snprintf(s->scand_path, sizeof(s->scand_path), "%s", c->scand_path);
	snprintf(s->tmpdir, sizeof(s->tmpdir), "%s/scan-tmp", c->run_dir);
	r = scanq_init(&s->q, c->policy->scan_queue_max, c->policy->scan_cache_entries);
	if (r < 0) {
		free(s);
		return log_error_errno(r, "Failed to set up the scan queue");
	}
	r = definstall_setup(s);
	if (r < 0) {
		log_error_errno(r, "Failed to watch %s", s->incoming_dir);
		scan_free(s);
		return r;
	}
	r = supervisor_init(s);
	if (r < 0) {
		log_error_errno(r, "Failed to set up the scan service supervisor");
		scan_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void scan_free(struct scan *s)
{
	if (!s)
		return;
	ondemand_done(s);
	supervisor_done(s);
	definstall_done(s);
	scanq_done(&s->q);
	free(s);
}

void scan_tick(struct scan *s) { supervisor_tick(s); }

int scan_submit(struct scan *s, int fd, const char *path, struct scan_owner *owner,
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
	if (scanq_cached(&s->q, &key, &v)) {
		struct scan_job tmp = { .fd = fd, .key = key, .owner = owner,
					.keep = flags & SCAN_KEEP };
		snprintf(tmp.path, sizeof(tmp.path), "%s", path);
		if (v.result == SCAN_INFECTED)
			detection_report(s, &tmp, &v);
		else if (v.result == SCAN_LIMIT)
			limit_report(s, &tmp, &v);
		owner->done(owner, &tmp, &v);
		close(fd);
		return 0;
	}
	r = scanq_push(&s->q, fd, path, &key, owner, &job);
	if (r == -EDEADLK) {
		v = (struct verdict){ .result = SCAN_ERROR, .code = r };
		snprintf(v.text, sizeof(v.text), "skipped: crashed the scan engine twice");
		struct scan_job tmp = { .fd = -1, .key = key, .owner = owner };
		snprintf(tmp.path, sizeof(tmp.path), "%s", path);
		owner->done(owner, &tmp, &v);
		return 0;
	}
	if (r < 0)
		return r;
	job->keep = flags & SCAN_KEEP;
	if (flags & SCAN_URGENT)
		scanq_promote(&s->q, job);
	if (s->state != SVC_READY) {
		/* Scanning is off: the job waits for the service, the owner learns why. */
		log_debug("scan of %s queued while the scan service is %s", path,
			  svc_state_name(s->state));
	}
	supervisor_send_next(s);
	return 0;
}

void scan_cancel(struct scan *s, struct scan_owner *owner)
{
	scanq_cancel_owner(&s->q, owner);
	if (s->inflight && s->inflight->owner == owner)
		s->inflight->owner = NULL; /* its verdict still feeds the cache */
}

bool scan_verdict_refuses(const struct scan *s, const struct verdict *v)
{
	return v->result == SCAN_INFECTED ||
	       (v->result == SCAN_LIMIT && s->c.policy->scan_limits_action != POLICY_LIMITS_REPORT);
}

int scan_cached(struct scan *s, const struct scan_key *k, struct verdict *ret)
{
	return scanq_cached(&s->q, k, ret);
}

enum svc_state scan_state(const struct scan *s) { return s->state; }

const char *scan_state_detail(const struct scan *s) { return s->state_detail; }

pid_t scan_pid(const struct scan *s) { return s->pid; }

size_t scan_queue_len(const struct scan *s) { return s->q.len; }

struct json_object *scan_status(const struct scan *s)
{
	struct json_object *o = json_object_new_object();
	const char *detail = s->state != SVC_READY ? s->state_detail
			     : s->as_root[0]      ? "running as root"
						  : "running as the scan user";
	json_object_object_add(o, "state", json_object_new_string(svc_state_name(s->state)));
	json_object_object_add(o, "detail", json_object_new_string(detail));
	json_object_object_add(o, "pid", json_object_new_int(s->pid));
	json_object_object_add(o, "signatures", json_object_new_int64(s->ready.sigs));
	json_object_object_add(o, "scans", json_object_new_uint64(s->scans));
	json_object_object_add(o, "detections", json_object_new_uint64(s->detections));
	json_object_object_add(o, "errors", json_object_new_uint64(s->errors));
	json_object_object_add(o, "limits", json_object_new_uint64(s->limits));
	json_object_object_add(o, "last_scan", json_object_new_int64(s->last_scan));
	json_object_object_add(o, "queued", json_object_new_uint64(s->q.len));
	json_object_object_add(o, "cache_hits", json_object_new_uint64(s->q.hits));
	json_object_object_add(o, "action", json_object_new_string(
						    policy_action_name(s->c.policy->scan_action)));
	return o;
}
