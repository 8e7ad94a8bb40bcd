/* control.h - the control socket: accepts picketctl connections, checks the
 * peer, reads one request a line and writes one reply a line (proto.h).
 *
 * Transport only: the daemon answers each parsed request through the
 * callback.  A malformed, oversized or unknown request gets an error reply
 * and the connection is closed; the daemon keeps serving.  Clients and their
 * output buffers are bounded. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "loop.h"
#include "proto.h"

#define CONTROL_MAX_CLIENTS 64
#define CONTROL_MAX_OUTPUT (8u << 20) /* a follower this far behind is dropped */

struct control_client;

/* Returns the reply (ownership passes to the caller of the callback). */
typedef struct json_object *(*control_request_fn)(const struct proto_request *req, void *ud);

struct control {
	struct io_source listen;
	int epfd;
	char path[108];
	gid_t admin_gid; /* (gid_t)-1: root only */
	struct control_client *clients[CONTROL_MAX_CLIENTS];
	control_request_fn handle;
	void *ud;
};

/* Creates <run_dir>/picketd.sock (0660, root:admin group) and registers it
 * with epfd.  -EADDRINUSE when another picketd answers on it. */
int control_open(struct control *c, int epfd, const char *run_dir, gid_t admin_gid,
		 control_request_fn handle, void *ud);
void control_close(struct control *c);
void control_set_admin_gid(struct control *c, gid_t gid);
/* Sends {"event":ev} to every following client. */
void control_broadcast(struct control *c, struct json_object *ev);
