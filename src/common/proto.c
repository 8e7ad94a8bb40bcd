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
};

const char *proto_cmd_name(enum proto_cmd cmd)
{
	return (size_t)cmd < ARRAY_SIZE(cmd_names) ? cmd_names[cmd] : "?";
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
	    (r = field_int(o, "limit", 1, PROTO_EVENTS_MAX, &req.limit, err, errlen)) < 0 ||
	    (r = field_int(o, "id", 1, PROTO_FAULT_ID_MAX, &req.id, err, errlen)) < 0)
		return r;
	if (req.cmd == CMD_FAULT && req.id == 0) {
		snprintf(err, errlen, "'fault' needs an \"id\"");
		return -EINVAL;
	}
	*ret = req;
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
	default:
		break;
	}
	int n = snprintf(buf, len, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	if (n < 0 || (size_t)n >= len)
		return -ENOBUFS;
	return n;
}
