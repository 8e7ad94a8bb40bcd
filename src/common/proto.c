#include "proto.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "jsonutil.h"

static const char *const cmd_names[] = {
	[CMD_STATUS] = "status",
	[CMD_FAULTS] = "faults",
	[CMD_FAULT] = "fault",
	[CMD_EVENTS] = "events",
	[CMD_POLICY_SHOW] = "policy_show",
	[CMD_POLICY_RELOAD] = "policy_reload",
	[CMD_SCAN] = "scan",
	[CMD_DEFS_STATUS] = "defs_status",
	[CMD_DEFS_INSTALL] = "defs_install",
	[CMD_QUARANTINE_LIST] = "quarantine_list",
	[CMD_QUARANTINE_RESTORE] = "quarantine_restore",
	[CMD_QUARANTINE_DELETE] = "quarantine_delete",
};

const char *proto_cmd_name(enum proto_cmd cmd)
{
	return (size_t)cmd < ARRAY_SIZE(cmd_names) ? cmd_names[cmd] : "?";
}

static const char *const class_names[] = {
	[PROTO_CLASS_STATUS] = "status",
	[PROTO_CLASS_SCAN] = "scan",
	[PROTO_CLASS_QUARANTINE] = "quarantine",
	[PROTO_CLASS_DEFS] = "defs",
	[PROTO_CLASS_POLICY] = "policy",
};

/* No default: a new command must be given its class here (-Wswitch). */
enum proto_class proto_cmd_class(enum proto_cmd cmd)
{
	switch (cmd) {
	case CMD_STATUS:
	case CMD_FAULTS:
	case CMD_FAULT:
	case CMD_EVENTS:
	case CMD_POLICY_SHOW:
	case CMD_DEFS_STATUS:
		return PROTO_CLASS_STATUS;
	case CMD_SCAN:
		return PROTO_CLASS_SCAN;
	case CMD_QUARANTINE_LIST:
	case CMD_QUARANTINE_RESTORE:
	case CMD_QUARANTINE_DELETE:
		return PROTO_CLASS_QUARANTINE;
	case CMD_DEFS_INSTALL:
		return PROTO_CLASS_DEFS;
	case CMD_POLICY_RELOAD:
		return PROTO_CLASS_POLICY;
	}
	return PROTO_CLASS_POLICY; /* not a command: the narrowest class */
}

const char *proto_class_name(enum proto_class c)
{
	return (size_t)c < ARRAY_SIZE(class_names) ? class_names[c] : "?";
}

static int field_bool(struct json_object *o, const char *key, bool *out, char *err, size_t errlen)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		snprintf(err, errlen, "'%s' must be true or false", key);
		return -EINVAL;
	}
	*out = json_object_get_boolean(v);
	return 0;
}

static int field_int(struct json_object *o, const char *key, int lo, int hi, int *out, char *err,
		     size_t errlen)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int)) {
		snprintf(err, errlen, "'%s' must be a whole number", key);
		return -EINVAL;
	}
	int64_t n = json_object_get_int64(v);
	if (n < lo || n > hi) {
		snprintf(err, errlen, "'%s' must be between %d and %d", key, lo, hi);
		return -EINVAL;
	}
	*out = (int)n;
	return 0;
}

/* paths: 1..PROTO_MAX_PATHS absolute paths, copied into req->pathbuf. */
static int field_paths(struct json_object *o, struct proto_request *req, char *err, size_t errlen)
{
	struct json_object *v;
	size_t used = 0;
	if (!json_object_object_get_ex(o, "paths", &v)) {
		snprintf(err, errlen, "'%s' needs \"paths\"", proto_cmd_name(req->cmd));
		return -EINVAL;
	}
	size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
	if (n == 0 || n > PROTO_MAX_PATHS) {
		snprintf(err, errlen, "'paths' must be a list of 1 to %d absolute paths",
			 PROTO_MAX_PATHS);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		const char *p = json_object_is_type(e, json_type_string) ? json_object_get_string(e)
									  : NULL;
		size_t len = p ? strlen(p) : 0;
		if (!p || p[0] != '/' || len + 1 > sizeof(req->pathbuf) - used) {
			snprintf(err, errlen, "'paths' entry %zu must be an absolute path", i + 1);
			return -EINVAL;
		}
		memcpy(req->pathbuf + used, p, len + 1);
		req->paths[i] = req->pathbuf + used;
		used += len + 1;
	}
	req->n_paths = n;
	return 0;
}

static int field_qid(struct json_object *o, struct proto_request *req, char *err, size_t errlen)
{
	struct json_object *v;
	const char *id = json_object_object_get_ex(o, "qid", &v) &&
					 json_object_is_type(v, json_type_string)
				 ? json_object_get_string(v)
				 : NULL;
	if (!id || strlen(id) != PROTO_QID_LEN || strspn(id, "0123456789abcdef") != PROTO_QID_LEN) {
		snprintf(err, errlen, "'qid' must be a quarantine id of %d hex digits", PROTO_QID_LEN);
		return -EINVAL;
	}
	memcpy(req->qid, id, PROTO_QID_LEN + 1);
	return 0;
}

/* Which fields each command accepts; anything else is refused so a typo in a
 * script is an error rather than a silent default. */
static bool key_allowed(enum proto_cmd cmd, const char *key)
{
	if (strcmp(key, "cmd") == 0)
		return true;
	switch (cmd) {
	case CMD_FAULTS:
		return strcmp(key, "all") == 0;
	case CMD_FAULT:
		return strcmp(key, "id") == 0;
	case CMD_EVENTS:
		return strcmp(key, "limit") == 0 || strcmp(key, "follow") == 0;
	case CMD_SCAN:
		return strcmp(key, "paths") == 0 || strcmp(key, "progress") == 0;
	case CMD_DEFS_INSTALL:
		return strcmp(key, "paths") == 0;
	case CMD_QUARANTINE_RESTORE:
		return strcmp(key, "qid") == 0 || strcmp(key, "force") == 0;
	case CMD_QUARANTINE_DELETE:
		return strcmp(key, "qid") == 0;
	default:
		return false;
	}
}

int proto_parse_request(const char *line, size_t len, struct proto_request *ret, char *err,
			size_t errlen)
{
	struct proto_request req = { .limit = 50 };
	struct json_object *v;
	enum json_tokener_error jerr;
	int r;

	if (len > PROTO_MAX_REQUEST) {
		snprintf(err, errlen, "request too long (%zu bytes, at most %d)", len,
			 PROTO_MAX_REQUEST);
		return -EMSGSIZE;
	}
	if (memchr(line, '\0', len)) {
		snprintf(err, errlen, "request contains a NUL byte");
		return -EINVAL;
	}
	_cleanup_json_ struct json_object *o = NULL;
	{
		_cleanup_(json_tokener_freep) struct json_tokener *tok = json_tokener_new_ex(16);
		if (!tok)
			return -ENOMEM;
		o = json_tokener_parse_ex(tok, line, (int)len);
		jerr = json_tokener_get_error(tok);
		if (jerr == json_tokener_success && json_tokener_get_parse_end(tok) != len) {
			snprintf(err, errlen, "trailing data after the request object");
			return -EINVAL;
		}
	}
	if (!o || jerr != json_tokener_success) {
		snprintf(err, errlen, "malformed JSON: %s",
			 jerr == json_tokener_continue ? "unexpected end of request"
						       : json_tokener_error_desc(jerr));
		return -EINVAL;
	}
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "request must be a JSON object");
		return -EINVAL;
	}
	if (!json_object_object_get_ex(o, "cmd", &v) || !json_object_is_type(v, json_type_string)) {
		snprintf(err, errlen, "request has no \"cmd\" string");
		return -EINVAL;
	}
	const char *name = json_object_get_string(v);
	size_t i;
	for (i = 0; i < ARRAY_SIZE(cmd_names); i++)
		if (strcmp(name, cmd_names[i]) == 0)
			break;
	if (i == ARRAY_SIZE(cmd_names)) {
		snprintf(err, errlen, "unknown command '%.64s'", name);
		return -EINVAL;
	}
	req.cmd = (enum proto_cmd)i;
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		if (!key_allowed(req.cmd, key)) {
			snprintf(err, errlen, "'%.64s' is not a field of '%s'", key, name);
			return -EINVAL;
		}
	}
	if ((r = field_bool(o, "all", &req.all, err, errlen)) < 0 ||
	    (r = field_bool(o, "follow", &req.follow, err, errlen)) < 0 ||
	    (r = field_bool(o, "progress", &req.progress, err, errlen)) < 0 ||
	    (r = field_bool(o, "force", &req.force, err, errlen)) < 0 ||
	    (r = field_int(o, "limit", 1, PROTO_EVENTS_MAX, &req.limit, err, errlen)) < 0 ||
	    (r = field_int(o, "id", 1, PROTO_FAULT_ID_MAX, &req.id, err, errlen)) < 0)
		return r;
	if (req.cmd == CMD_FAULT && req.id == 0) {
		snprintf(err, errlen, "'fault' needs an \"id\"");
		return -EINVAL;
	}
	if ((req.cmd == CMD_SCAN || req.cmd == CMD_DEFS_INSTALL) &&
	    (r = field_paths(o, &req, err, errlen)) < 0)
		return r;
	if ((req.cmd == CMD_QUARANTINE_RESTORE || req.cmd == CMD_QUARANTINE_DELETE) &&
	    (r = field_qid(o, &req, err, errlen)) < 0)
		return r;
	*ret = req;
	/* The paths point into the caller's copy, not into the local one. */
	for (size_t i = 0; i < req.n_paths; i++)
		ret->paths[i] = ret->pathbuf + (req.paths[i] - req.pathbuf);
	return 0;
}

int proto_format_request(const struct proto_request *req, char *buf, size_t len)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "cmd", json_object_new_string(proto_cmd_name(req->cmd)));
	switch (req->cmd) {
	case CMD_FAULTS:
		json_object_object_add(o, "all", json_object_new_boolean(req->all));
		break;
	case CMD_FAULT:
		json_object_object_add(o, "id", json_object_new_int(req->id));
		break;
	case CMD_EVENTS:
		json_object_object_add(o, "limit", json_object_new_int(req->limit));
		json_object_object_add(o, "follow", json_object_new_boolean(req->follow));
		break;
	case CMD_SCAN:
	case CMD_DEFS_INSTALL: {
		struct json_object *arr = json_object_new_array();
		for (size_t i = 0; i < req->n_paths; i++)
			json_object_array_add(arr, json_object_new_string(req->paths[i]));
		json_object_object_add(o, "paths", arr);
		if (req->cmd == CMD_SCAN)
			json_object_object_add(o, "progress", json_object_new_boolean(req->progress));
		break;
	}
	case CMD_QUARANTINE_RESTORE:
		json_object_object_add(o, "force", json_object_new_boolean(req->force));
		/* fall through */
	case CMD_QUARANTINE_DELETE:
		json_object_object_add(o, "qid", json_object_new_string(req->qid));
		break;
	default:
		break;
	}
	int n = snprintf(buf, len, "%s\n",
			 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
	if (n < 0 || (size_t)n >= len)
		return -ENOBUFS;
	return n;
}
