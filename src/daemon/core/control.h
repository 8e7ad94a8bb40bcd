/* control.h - the control socket: accepts picketctl connections, checks the
 * peer, reads one request a line and writes one reply a line (proto.h).
 *
 * Transport only: the daemon answers each parsed request through the
 * callback.  A malformed, oversized or unknown request gets an error reply
 * and the daemon keeps serving.  Clients and their output buffers are
 * bounded.  A client is only ever freed from its own epoll handler, never
 * from inside a send, so module code holding a client pointer learns of its
 * end through the gone callback alone.
 *
 * Root is always served: CONTROL_ROOT_SLOTS of the connections are root's
 * alone, and root has no other limit.  Every other peer must be in the
 * admin group to connect, may hold access.max_per_uid connections, sends
 * each class of request (proto_cmd_class) only as a member of its group,
 * and is closed, with an error line, after access.idle_timeout seconds
 * without a request in progress (a request is answered by the line with
 * "ok"), or as a follower once the group database no longer has its user
 * in the admin and status groups (checked every access.member_check s). */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "loop.h"
#include "opener.h"
#include "proto.h"

#define CONTROL_MAX_CLIENTS 64
#define CONTROL_ROOT_SLOTS 8 /* of CONTROL_MAX_CLIENTS, for root only */
#define CONTROL_MAX_OUTPUT (8u << 20) /* a follower this far behind is dropped */
#define CONTROL_GROUP_NAME 33

/* Who may do what (the policy's admin_group and control { }).  A gid of
 * (gid_t)-1 allows root only. */
struct control_access {
	gid_t admin_gid; /* may connect */
	gid_t allow_gid[PROTO_CLASSES];
	char allow_name[PROTO_CLASSES][CONTROL_GROUP_NAME]; /* for error replies */
	unsigned max_per_uid;
	unsigned idle_timeout; /* seconds */
	unsigned member_check; /* seconds */
};

struct control_client;

/* Answers a request: 0 with *ret_reply set (ownership passes to control),
 * or 1 when the answer comes later through control_send (a scan). */
typedef int (*control_request_fn)(const struct proto_request *req, struct control_client *cl,
				  void *ud, struct json_object **ret_reply);
/* A client is going away: forget every reference to it. */
typedef void (*control_gone_fn)(struct control_client *cl, void *ud);

struct control {
	struct io_source listen;
	int epfd;
	char path[108];
	struct control_access access;
	unsigned ticks; /* since the last membership check */
	struct control_client *clients[CONTROL_MAX_CLIENTS];
	control_request_fn handle;
	control_gone_fn gone;
	void *ud;
};

/* Creates <run_dir>/picketd.sock (0660, root:root until control_set_access)
 * and registers it with epfd.  -EADDRINUSE when another picketd answers on it. */
int control_open(struct control *c, int epfd, const char *run_dir, control_request_fn handle,
		 control_gone_fn gone, void *ud);
void control_close(struct control *c);
/* Puts a policy's access in force; the socket's group becomes admin_gid's. */
void control_set_access(struct control *c, const struct control_access *a);
/* Once a second: idle connections, followers' membership. */
void control_tick(struct control *c);
/* The peer as it connected: uid, gid, supplementary groups. */
const struct opener_creds *control_client_creds(const struct control_client *cl);
/* Queues one line for a client (a deferred answer, progress).  A client that
 * falls too far behind is dropped; it is freed from its own handler later, so
 * the caller's pointer stays valid until then. */
void control_send(struct control_client *cl, struct json_object *o);
/* {"ok":false,"error":msg}; returns 0 so a handler can `return control_send_error(...)`. */
int control_send_error(struct control_client *cl, const char *msg);
/* Sends {"event":ev} to every following client. */
void control_broadcast(struct control *c, struct json_object *ev);
