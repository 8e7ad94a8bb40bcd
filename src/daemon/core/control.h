/* control.h - the control socket: accepts picketctl connections, checks the
 * peer, reads one request a line and writes one reply a line (proto.h).
 *
 * Transport only: the daemon answers each parsed request through the
 * callback.  A malformed, oversized or unknown request gets an error reply
 * and the daemon keeps serving.  Clients and their output buffers are
 * bounded.  A client is only ever freed from its own epoll handler, never
 * from inside a send, so module code holding a client pointer learns of its
 * end through the gone callback alone. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "loop.h"
#include "proto.h"

#define CONTROL_MAX_CLIENTS 64
#define CONTROL_MAX_OUTPUT (8u << 20) /* a follower this far behind is dropped */

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
	gid_t admin_gid; /* (gid_t)-1: root only */
	struct control_client *clients[CONTROL_MAX_CLIENTS];
	control_request_fn handle;
	control_gone_fn gone;
	void *ud;
};

/* Creates <run_dir>/picketd.sock (0660, root:admin group) and registers it
 * with epfd.  -EADDRINUSE when another picketd answers on it. */
int control_open(struct control *c, int epfd, const char *run_dir, gid_t admin_gid,
		 control_request_fn handle, control_gone_fn gone, void *ud);
void control_close(struct control *c);
void control_set_admin_gid(struct control *c, gid_t gid);
/* Queues one line for a client (a deferred answer, progress).  A client that
 * falls too far behind is dropped; it is freed from its own handler later, so
 * the caller's pointer stays valid until then. */
void control_send(struct control_client *cl, struct json_object *o);
/* {"ok":false,"error":msg}; returns 0 so a handler can `return control_send_error(...)`. */
int control_send_error(struct control_client *cl, const char *msg);
/* Sends {"event":ev} to every following client. */
void control_broadcast(struct control *c, struct json_object *ev);
