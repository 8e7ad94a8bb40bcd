/* proto.h - the control protocol between picketctl and picketd.
 *
 * One JSON object a line in each direction over the Unix socket
 * <run_dir>/picketd.sock.  Requests are at most PROTO_MAX_REQUEST bytes:
 *
 *   {"cmd":"status"}
 *   {"cmd":"faults","all":false}     active faults (all: every catalogued one)
 *   {"cmd":"fault","id":5}           one fault, with its remediation
 *   {"cmd":"events","limit":50,"follow":false}
 *   {"cmd":"policy_show"}
 *   {"cmd":"policy_reload"}
 *   {"cmd":"scan","paths":["/abs/path",...],"progress":true}
 *   {"cmd":"defs_status"}
 *   {"cmd":"defs_install","paths":["/abs/file.cvd",...]}
 *   {"cmd":"quarantine_list"}
 *   {"cmd":"quarantine_restore","qid":"0123456789abcdef","force":false}
 *   {"cmd":"quarantine_delete","qid":"0123456789abcdef"}
 *
 * Every reply has "ok": true with the command's fields, or "ok": false and
 * "error": "<reason>".  After a successful {"cmd":"events","follow":true}
 * the connection stays open and each new event arrives as {"event":{...}}.
 * A scan answers with {"progress":{...}} lines (when asked) and ends with
 * {"ok":true,"summary":{...},"detections":[...],"failures":[...]}.
 *
 * Each command belongs to one class (proto_cmd_class): the policy names the
 * group whose members, besides root, may send requests of that class. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define PROTO_MAX_REQUEST 4096
#define PROTO_SOCKET_NAME "picketd.sock"
#define PROTO_EVENTS_MAX 10000
#define PROTO_FAULT_ID_MAX 9999
#define PROTO_MAX_PATHS 64
#define PROTO_QID_LEN 16

enum proto_cmd {
	CMD_STATUS,
	CMD_FAULTS,
	CMD_FAULT,
	CMD_EVENTS,
	CMD_POLICY_SHOW,
	CMD_POLICY_RELOAD,
	CMD_SCAN,
	CMD_DEFS_STATUS,
	CMD_DEFS_INSTALL,
	CMD_QUARANTINE_LIST,
	CMD_QUARANTINE_RESTORE,
	CMD_QUARANTINE_DELETE,
};

/* Who may ask what: the policy's control.<name>_group for each class. */
enum proto_class {
	PROTO_CLASS_STATUS,     /* status, faults, events, policy_show, defs_status */
	PROTO_CLASS_SCAN,       /* scan */
	PROTO_CLASS_QUARANTINE, /* quarantine_list, _restore, _delete */
	PROTO_CLASS_DEFS,       /* defs_install */
	PROTO_CLASS_POLICY,     /* policy_reload */
	PROTO_CLASSES,
};

struct proto_request {
	enum proto_cmd cmd;
	bool all;      /* CMD_FAULTS */
	int id;        /* CMD_FAULT */
	int limit;     /* CMD_EVENTS: last N events, 1..PROTO_EVENTS_MAX */
	bool follow;   /* CMD_EVENTS */
	bool progress; /* CMD_SCAN */
	bool force;    /* CMD_QUARANTINE_RESTORE: replace an existing file */
	char qid[PROTO_QID_LEN + 1]; /* CMD_QUARANTINE_RESTORE, _DELETE */
	size_t n_paths;              /* CMD_SCAN, CMD_DEFS_INSTALL: absolute paths */
	const char *paths[PROTO_MAX_PATHS]; /* point into pathbuf */
	char pathbuf[PROTO_MAX_REQUEST];
};

/* Parses one request line (without its newline).  On error returns -EINVAL
 * (-EMSGSIZE when too long) and writes a reason fit for an error reply. */
int proto_parse_request(const char *line, size_t len, struct proto_request *ret, char *err,
			size_t errlen);
/* The request as a JSON line with its newline, into buf; its length or -ENOBUFS. */
int proto_format_request(const struct proto_request *req, char *buf, size_t len);
const char *proto_cmd_name(enum proto_cmd cmd);
enum proto_class proto_cmd_class(enum proto_cmd cmd);
/* "status", "scan", "quarantine", "defs", "policy". */
const char *proto_class_name(enum proto_class c);
