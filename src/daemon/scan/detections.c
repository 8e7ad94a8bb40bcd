/* detections.c - an infected verdict becomes one detection event, with the
 * file quarantined first when the policy says so; a file a scan limit
 * stopped becomes a scan_limit event instead, quarantined only when
 * scan_limits_action says so.  The owner of the job adds what it knows (the
 * process, the trigger). */
#include "scan_int.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "log.h"

void detection_report(struct scan *s, struct scan_job *job, const struct verdict *v)
{
	char qid[QUARANTINE_ID_LEN + 1] = "";
	const char *action = "audit";
	int r = 0;

	if (s->c.policy->scan_action == POLICY_ACTION_QUARANTINE) {
		/* A client's scan moves only what the client could have moved. */
		r = job->keep	 ? -EACCES
		    : job->fd >= 0 ? quarantine_add(s->c.quarantine, job->fd, job->path, v->text, qid)
				   : -EBADF;
		action = r < 0 ? "quarantine_failed" : "quarantined";
		if (r < 0)
			log_error_errno(r, "Failed to quarantine %s", job->path);
	}
	log_warning("Detection: %s: %s (%s)", job->path, v->text, action);
	struct json_object *ev = events_new(s->c.sink, "detection");
	if (!ev) {
		events_emit(s->c.sink, NULL);
		return;
	}
	json_object_object_add(ev, "path", json_object_new_string(job->path));
	json_object_object_add(ev, "signature", json_object_new_string(v->text));
	json_object_object_add(ev, "action", json_object_new_string(action));
	if (qid[0])
		json_object_object_add(ev, "qid", json_object_new_string(qid));
	if (r < 0)
		json_object_object_add(ev, "error", json_object_new_string(strerror(-r)));
	struct scan_owner *owner = job->owner;
	if (owner && owner->annotate)
		owner->annotate(owner, job, ev);
	events_emit(s->c.sink, ev);
}

void limit_report(struct scan *s, struct scan_job *job, const struct verdict *v)
{
	char qid[QUARANTINE_ID_LEN + 1] = "";
	const char *action = "reported";
	const char *limit = v->text;
	int r = 0;

	if (strncmp(limit, SCAN_LIMIT_PREFIX ".", strlen(SCAN_LIMIT_PREFIX ".")) == 0)
		limit += strlen(SCAN_LIMIT_PREFIX ".");
	if (s->c.policy->scan_limits_action == POLICY_LIMITS_QUARANTINE) {
		r = job->fd >= 0 ? quarantine_add(s->c.quarantine, job->fd, job->path, v->text, qid)
				 : -EBADF;
		action = r < 0 ? "quarantine_failed" : "quarantined";
		if (r < 0)
			log_error_errno(r, "Failed to quarantine %s", job->path);
	}
	log_notice("Not scanned: %s: limit %s (%s)", job->path, limit, action);
	struct json_object *ev = events_new(s->c.sink, "scan_limit");
	if (!ev) {
		events_emit(s->c.sink, NULL);
		return;
	}
	json_object_object_add(ev, "path", json_object_new_string(job->path));
	json_object_object_add(ev, "limit", json_object_new_string(limit));
	json_object_object_add(ev, "name", json_object_new_string(v->text));
	json_object_object_add(ev, "action", json_object_new_string(action));
	if (qid[0])
		json_object_object_add(ev, "qid", json_object_new_string(qid));
	if (r < 0)
		json_object_object_add(ev, "error", json_object_new_string(strerror(-r)));
	struct scan_owner *owner = job->owner;
	if (owner && owner->annotate)
		owner->annotate(owner, job, ev);
	events_emit(s->c.sink, ev);
}
