#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonutil.h"
#include "log.h"
#include "picketd.h"

static struct json_object *reply_ok(void)
{
	struct json_object *o = json_object_new_object();
	if (o)
		json_object_object_add(o, "ok", json_object_new_boolean(true));
	return o;
}

static struct json_object *reply_error(const char *msg)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "ok", json_object_new_boolean(false));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

/* A fault as the control socket gives it: with its root cause or what it causes. */
static struct json_object *fault_json(const struct faults *fs, const struct fault_state *f,
				      bool with_remedy)
{
	struct json_object *o = fault_state_to_json(f, with_remedy);
	if (o)
		faults_relations_json(fs, f->def->id, o);
	return o;
}

/* Active faults first, then by id; `all` adds the cleared ones. */
static struct json_object *fault_list(const struct faults *fs, bool all)
{
	struct json_object *arr = json_object_new_array();
	for (int pass = 0; arr && pass < 2; pass++)
		for (size_t i = 0; i < fs->n; i++) {
			const struct fault_state *f = &fs->st[i];
			if (f->active == (pass == 0) && (f->active || all))
				json_object_array_add(arr, fault_json(fs, f, false));
		}
	return arr;
}

static struct json_object *cmd_status(struct picketd *d)
{
	struct json_object *o = reply_ok();
	char release[256] = "unknown";
	struct os_release os = { .pretty_name = "unknown" };
	unsigned counts[3];
	time_t now = time(NULL);

	if (!o)
		return NULL;
	faults_count(&d->faults, counts);
	(void)hostview_kernel_release(&d->hv, release, sizeof(release));
	(void)hostview_os_release(&d->hv, &os);

	json_object_object_add(o, "version", json_object_new_string(PICKET_VERSION));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "started_at", json_object_new_int64(d->started_at));
	json_object_object_add(o, "uptime", json_object_new_int64(now - d->started_at));
	/* FAULTS.md's severities: critical, a protection is off; major, one is
	 * degraded.  Not to be confused with fault 18's overload mode. */
	json_object_object_add(o, "protection",
			       json_object_new_string(counts[FAULT_CRITICAL]                  ? "impaired"
						      : counts[FAULT_MAJOR] || counts[FAULT_MINOR] ? "reduced"
														   : "full"));

	struct json_object *pol = json_object_new_object();
	json_object_object_add(pol, "path", json_object_new_string(d->policy.path));
	json_object_object_add(pol, "loaded_at", json_object_new_int64(d->policy_loaded_at));
	json_object_object_add(pol, "monitor_file_copies_moves",
			       json_object_new_boolean(d->policy.monitor_file_copies_moves));
	json_object_object_add(pol, "device_flow_correlation",
			       json_object_new_boolean(d->policy.device_flow_correlation));
	json_object_object_add(pol, "monitor_process_execution",
			       json_object_new_boolean(d->policy.monitor_process_execution));
	json_object_object_add(o, "policy", pol);
	struct json_object *mon = monitors_status(d->mons);
	json_object_object_add(mon, "overload", health_overload_status(d->health));
	json_object_object_add(o, "monitors", mon);
	json_object_object_add(o, "scanner", scan_status(d->scan));
	json_object_object_add(o, "event_log", eventlog_status(&d->events));

	struct json_object *host = json_object_new_object();
	json_object_object_add(host, "root",
			       json_object_new_string(hostview_is_real(&d->hv) ? "/" : d->hv.root));
	json_object_object_add(host, "kernel", json_object_new_string(release));
	json_object_object_add(host, "os", json_object_new_string(os.pretty_name));
	char missing[FAULT_DETAIL_MAX];
	health_kernel_missing(d->health, false, missing, sizeof(missing));
	json_object_object_add(host, "kernel_missing", json_object_new_string(missing));
	health_kernel_missing(d->health, true, missing, sizeof(missing));
	json_object_object_add(host, "kernel_missing_optional", json_object_new_string(missing));
	json_object_object_add(o, "host", host);

	struct json_object *fo = json_object_new_object();
	for (int s = FAULT_CRITICAL; s >= FAULT_MINOR; s--)
		json_object_object_add(fo, fault_severity_name(s), json_object_new_int(counts[s]));
	json_object_object_add(fo, "active", fault_list(&d->faults, false));
	json_object_object_add(o, "faults", fo);
	return o;
}

static struct json_object *cmd_fault(struct picketd *d, int id)
{
	const struct fault_state *f = faults_get(&d->faults, id);
	if (!f) {
		char msg[64];
		snprintf(msg, sizeof(msg), "no fault with id %d", id);
		return reply_error(msg);
	}
	struct json_object *o = reply_ok();
	if (o)
		json_object_object_add(o, "fault", fault_json(&d->faults, f, true));
	return o;
}

static struct json_object *cmd_policy_reload(struct picketd *d)
{
	char err[POLICY_ERR_MAX];
	if (picketd_reload_policy(d, err, sizeof(err)) < 0)
		return reply_error(err);
	struct json_object *o = reply_ok();
	struct json_object *pol = json_object_new_object();
	json_object_object_add(pol, "path", json_object_new_string(d->policy.path));
	json_object_object_add(o, "policy", pol);
	return o;
}

static struct json_object *with(struct json_object *o, const char *key, struct json_object *v)
{
	if (o)
		json_object_object_add(o, key, v);
	else
		json_object_put(v);
	return o;
}

static struct json_object *errno_reply(int r, const char *what)
{
	char msg[256];
	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(-r));
	return reply_error(msg);
}

struct entry_owner {
	char path[PATH_MAX];
	uid_t uid;
	gid_t gid;
	unsigned mode;
};

static int64_t get_int(struct json_object *o, const char *key, bool *ok)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		*ok = false;
	return *ok ? json_object_get_int64(v) : 0;
}

/* The entry's original path, owner and mode, from the store's own list. */
static int entry_owner(struct picketd *d, const char *qid, struct entry_owner *ret)
{
	_cleanup_json_ struct json_object *list = NULL;
	int r = quarantine_list(&d->quarantine, &list);
	if (r < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i), *v;
		if (!json_object_object_get_ex(e, "id", &v) || strcmp(json_object_get_string(v), qid))
			continue;
		bool ok = json_object_object_get_ex(e, "original_path", &v);
		if (ok)
			snprintf(ret->path, sizeof(ret->path), "%s", json_object_get_string(v));
		ret->uid = (uid_t)get_int(e, "uid", &ok);
		ret->gid = (gid_t)get_int(e, "gid", &ok);
		ret->mode = (unsigned)get_int(e, "mode", &ok);
		return ok ? 0 : -EBADMSG;
	}
	return -ENOENT;
}

/* A client that is not root restores or deletes only a file that was its
 * own (and not set-group-ID to a group it is not in), where it could create
 * or remove that file itself: an opener with its credentials checks the
 * directory.  NULL when it may, else the reply. */
static struct json_object *quarantine_refusal(struct picketd *d, const struct proto_request *req,
					      const struct opener_creds *cr)
{
	bool restore = req->cmd == CMD_QUARANTINE_RESTORE;
	char msg[PATH_MAX + 256];
	struct entry_owner e;
	struct opener_item it;

	if (cr->uid == 0)
		return NULL;
	int r = entry_owner(d, req->qid, &e);
	if (r < 0)
		return errno_reply(r, req->qid);
	if (e.uid != cr->uid) {
		snprintf(msg, sizeof(msg), "%s: permission denied: uid %u may not %s uid %u's file",
			 req->qid, (unsigned)cr->uid, restore ? "restore" : "delete",
			 (unsigned)e.uid);
		return reply_error(msg);
	}
	if (restore && (e.mode & S_ISGID) && !opener_creds_in_group(cr, e.gid)) {
		snprintf(msg, sizeof(msg),
			 "%s: permission denied: the file is set-group-ID to gid %u, which uid %u "
			 "is not in",
			 req->qid, (unsigned)e.gid, (unsigned)cr->uid);
		return reply_error(msg);
	}
	const char *one[] = { e.path };
	r = opener_run(cr, OPENER_MAY_REPLACE, one, 1, &it);
	if (r == 0 && it.kind == OPENER_OK)
		return NULL;
	if (r < 0)
		log_error_errno(r, "Quarantine %s of uid %u: cannot check %s", req->qid,
				(unsigned)cr->uid, e.path);
	else
		r = it.err;
	if (r != -EACCES && r != -EPERM)
		return errno_reply(r, req->qid);
	snprintf(msg, sizeof(msg), "%s: permission denied: uid %u may not %s %s itself", req->qid,
		 (unsigned)cr->uid, restore ? "create" : "remove", e.path);
	return reply_error(msg);
}

static struct json_object *cmd_quarantine(struct picketd *d, const struct proto_request *req,
					  const struct opener_creds *cr)
{
	struct json_object *list = NULL;
	int r;
	if (req->cmd != CMD_QUARANTINE_LIST) {
		struct json_object *no = quarantine_refusal(d, req, cr);
		if (no)
			return no;
	}
	switch (req->cmd) {
	case CMD_QUARANTINE_LIST:
		r = quarantine_list(&d->quarantine, &list);
		return r < 0 ? errno_reply(r, "quarantine list") : with(reply_ok(), "items", list);
	case CMD_QUARANTINE_RESTORE:
		r = quarantine_restore(&d->quarantine, req->qid, req->force);
		break;
	default:
		r = quarantine_delete(&d->quarantine, req->qid);
		break;
	}
	if (r < 0)
		return errno_reply(r, req->qid);
	struct json_object *ev = events_new(&d->sink, req->cmd == CMD_QUARANTINE_RESTORE
								  ? "quarantine_restored"
								  : "quarantine_deleted");
	if (ev)
		json_object_object_add(ev, "qid", json_object_new_string(req->qid));
	events_emit(&d->sink, ev);
	return with(reply_ok(), "qid", json_object_new_string(req->qid));
}

int commands_handle(const struct proto_request *req, struct control_client *cl, void *ud,
		    struct json_object **ret_reply)
{
	struct picketd *d = ud;
	struct json_object *o = NULL;

	switch (req->cmd) {
	case CMD_STATUS:
		o = cmd_status(d);
		break;
	case CMD_FAULTS:
		o = with(reply_ok(), "faults", fault_list(&d->faults, req->all));
		break;
	case CMD_FAULT:
		o = cmd_fault(d, req->id);
		break;
	case CMD_EVENTS:
		o = with(reply_ok(), "events", eventlog_recent(&d->events, req->limit));
		break;
	case CMD_POLICY_SHOW:
		o = with(reply_ok(), "policy", policy_to_json(&d->policy));
		break;
	case CMD_POLICY_RELOAD:
		o = cmd_policy_reload(d);
		break;
	case CMD_SCAN: {
		int r = scan_session_start(d->scan, req, cl);
		if (r < 0)
			o = errno_reply(r, "scan");
		else
			return 1;
		break;
	}
	case CMD_DEFS_STATUS:
		o = scan_defs_status(d->scan);
		break;
	case CMD_DEFS_INSTALL:
		o = scan_defs_install(d->scan, req->paths, req->n_paths, control_client_creds(cl));
		break;
	case CMD_QUARANTINE_LIST:
	case CMD_QUARANTINE_RESTORE:
	case CMD_QUARANTINE_DELETE:
		o = cmd_quarantine(d, req, control_client_creds(cl));
		break;
	}
	if (!o)
		return -ENOMEM;
	*ret_reply = o;
	return 0;
}

void commands_client_gone(struct control_client *cl, void *ud)
{
	struct picketd *d = ud;
	scan_client_gone(d->scan, cl);
}
