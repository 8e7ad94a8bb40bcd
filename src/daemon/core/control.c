#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "eventlog.h"
#include "jsonutil.h"
#include "log.h"

struct control_client {
	struct io_source src;
	struct control *c;
	int slot;
	struct ucred cred;
	bool follow;
	bool closing; /* close once the output is flushed */
	bool dead;    /* shut down: freed by its handler at the next wake-up */
	char in[PROTO_MAX_REQUEST + 1];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
};

static void client_free(struct control_client *cl)
{
	if (cl->c->gone)
		cl->c->gone(cl, cl->c->ud);
	loop_del(cl->c->epfd, &cl->src);
	close(cl->src.fd);
	cl->c->clients[cl->slot] = NULL;
	free(cl->out);
	free(cl);
}

/* Ends a client without freeing it: its handler sees the hang-up and frees it. */
static void client_kill(struct control_client *cl)
{
	if (cl->dead)
		return;
	cl->dead = true;
	shutdown(cl->src.fd, SHUT_RDWR);
	(void)loop_mod(cl->c->epfd, &cl->src, EPOLLIN);
}

static void client_flush(struct control_client *cl)
{
	while (!cl->dead && cl->out_off < cl->out_len) {
		ssize_t k = send(cl->src.fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			log_debug("control: client pid %d went away: %s", (int)cl->cred.pid,
				  strerror(errno));
			client_kill(cl);
			return;
		}
		cl->out_off += k;
	}
	if (cl->dead)
		return;
	if (cl->out_off == cl->out_len) {
		cl->out_off = cl->out_len = 0;
		if (cl->closing) {
			client_kill(cl);
			return;
		}
	}
	/* Poll for writability only while something is queued. */
	uint32_t ev = EPOLLIN | (cl->out_len ? EPOLLOUT : 0);
	if (loop_mod(cl->c->epfd, &cl->src, ev) < 0)
		client_kill(cl);
}

/* Queues one line; false when the client is gone or was dropped for falling behind. */
static bool client_queue(struct control_client *cl, struct json_object *o)
{
	size_t len;
	if (cl->dead)
		return false;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	if (cl->out_len + len + 1 > CONTROL_MAX_OUTPUT) {
		log_warning("control: dropping client pid %d: %zu bytes of output pending",
			    (int)cl->cred.pid, cl->out_len);
		client_kill(cl);
		return false;
	}
	char *n = realloc(cl->out, cl->out_len + len + 1);
	if (!n) {
		client_kill(cl);
		return false;
	}
	cl->out = n;
	memcpy(cl->out + cl->out_len, s, len);
	cl->out[cl->out_len + len] = '\n';
	cl->out_len += len + 1;
	return true;
}

void control_send(struct control_client *cl, struct json_object *o)
{
	/* Replies carry paths and names from outside, as events do. */
	int r = eventlog_text_valid(o);
	if (r < 0)
		log_error_errno(r, "control: a reply keeps text that is not UTF-8");
	if (client_queue(cl, o))
		client_flush(cl);
}

static void reply_error(struct control_client *cl, const char *msg, bool close_after)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	if (!o)
		return;
	json_object_object_add(o, "ok", json_object_new_boolean(false));
	json_object_object_add(o, "error", json_object_new_string(msg));
	cl->closing = close_after;
	control_send(cl, o);
}

int control_send_error(struct control_client *cl, const char *msg)
{
	reply_error(cl, msg, false);
	return 0;
}

static void handle_line(struct control_client *cl, const char *line, size_t len)
{
	struct proto_request req;
	char err[256];

	if (proto_parse_request(line, len, &req, err, sizeof(err)) < 0) {
		log_notice("control: bad request from pid %d: %s", (int)cl->cred.pid, err);
		reply_error(cl, err, false);
		return;
	}
	_cleanup_json_ struct json_object *reply = NULL;
	int r = cl->c->handle(&req, cl, cl->c->ud, &reply);
	if (r > 0)
		return; /* answered later, through control_send */
	if (r < 0 || !reply) {
		reply_error(cl, r < 0 ? strerror(-r) : "out of memory", false);
		return;
	}
	struct json_object *ok;
	if (req.cmd == CMD_EVENTS && req.follow && json_object_object_get_ex(reply, "ok", &ok) &&
	    json_object_get_boolean(ok))
		cl->follow = true;
	control_send(cl, reply);
}

/* Reads what is there and answers each complete line. */
static void client_read(struct control_client *cl)
{
	for (;;) {
		ssize_t k = recv(cl->src.fd, cl->in + cl->in_len, sizeof(cl->in) - cl->in_len,
				 MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			return;
		if (k <= 0) {
			client_free(cl);
			return;
		}
		cl->in_len += k;
		char *nl;
		while (!cl->closing && !cl->dead && (nl = memchr(cl->in, '\n', cl->in_len))) {
			size_t len = nl - cl->in;
			handle_line(cl, cl->in, len);
			memmove(cl->in, nl + 1, cl->in_len - len - 1);
			cl->in_len -= len + 1;
		}
		if (cl->in_len == sizeof(cl->in)) {
			char msg[96];
			snprintf(msg, sizeof(msg), "request too long (more than %d bytes)",
				 PROTO_MAX_REQUEST);
			log_notice("control: oversized request from pid %d", (int)cl->cred.pid);
			cl->in_len = 0;
			reply_error(cl, msg, true);
			return;
		}
		if (cl->closing || cl->dead)
			return;
	}
}

static void client_io(struct io_source *src, uint32_t events)
{
	struct control_client *cl = src->obj;
	if (cl->dead) {
		client_free(cl);
		return;
	}
	if (events & EPOLLOUT)
		client_flush(cl);
	if (cl->dead) {
		client_free(cl);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		client_read(cl);
}

static bool peer_allowed(const struct control *c, int fd, const struct ucred *cred)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (cred->uid == 0)
		return true;
	if (c->admin_gid == (gid_t)-1)
		return false;
	if (cred->gid == c->admin_gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == c->admin_gid)
			return true;
	return false;
}

static void control_accept(struct io_source *src, uint32_t events)
{
	struct control *c = src->obj;
	(void)events;
	for (;;) {
		_cleanup_close_ int fd = accept4(c->listen.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warning_errno(errno, "control: accept failed");
			return;
		}
		int slot = 0;
		while (slot < CONTROL_MAX_CLIENTS && c->clients[slot])
			slot++;
		if (slot == CONTROL_MAX_CLIENTS) {
			log_warning("control: %d clients connected, refusing another",
				    CONTROL_MAX_CLIENTS);
			continue;
		}
		struct control_client *cl = calloc(1, sizeof(*cl));
		socklen_t len = sizeof(struct ucred);
		if (!cl)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cl->cred, &len) < 0) {
			log_warning_errno(errno, "control: SO_PEERCRED failed");
			free(cl);
			continue;
		}
		cl->c = c;
		cl->slot = slot;
		cl->src = (struct io_source){ .fd = fd, .fn = client_io, .obj = cl };
		if (loop_add(c->epfd, &cl->src, EPOLLIN) < 0) {
			free(cl);
			continue;
		}
		c->clients[slot] = cl;
		bool ok = peer_allowed(c, fd, &cl->cred);
		TAKE_FD(fd);
		if (!ok) {
			char msg[160];
			snprintf(msg, sizeof(msg),
				 "permission denied: uid %u is neither root nor in the admin group",
				 (unsigned)cl->cred.uid);
			log_notice("control: refused pid %d uid %u", (int)cl->cred.pid,
				   (unsigned)cl->cred.uid);
			reply_error(cl, msg, true);
		}
	}
}

/* Another daemon answering on the path means we must not steal it. */
static int socket_in_use(const struct sockaddr_un *sa)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return -EADDRINUSE;
	return 0;
}

int control_open(struct control *c, int epfd, const char *run_dir, gid_t admin_gid,
		 control_request_fn handle, control_gone_fn gone, void *ud)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r;

	*c = (struct control){ .listen.fd = -1, .epfd = epfd, .admin_gid = admin_gid,
			       .handle = handle, .gone = gone, .ud = ud };
	if (snprintf(c->path, sizeof(c->path), "%s/" PROTO_SOCKET_NAME, run_dir) >=
	    (int)sizeof(c->path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, c->path, sizeof(c->path));
	r = socket_in_use(&sa);
	if (r < 0)
		return r;
	if (unlink(c->path) < 0 && errno != ENOENT)
		return -errno;
	_cleanup_close_ int fd =
		socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	mode_t old = umask(0117);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (r < 0)
		return r;
	if (chown(c->path, 0, admin_gid) < 0 || listen(fd, 16) < 0)
		return -errno;
	c->listen = (struct io_source){ .fd = fd, .fn = control_accept, .obj = c };
	r = loop_add(epfd, &c->listen, EPOLLIN);
	if (r < 0)
		return r;
	TAKE_FD(fd);
	return 0;
}

void control_set_admin_gid(struct control *c, gid_t gid)
{
	c->admin_gid = gid;
	if (chown(c->path, 0, gid == (gid_t)-1 ? 0 : gid) < 0) /* no admin group: root only */
		log_warning_errno(errno, "control: failed to give %s to gid %u", c->path,
				  (unsigned)gid);
}

void control_close(struct control *c)
{
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->clients[i])
			client_free(c->clients[i]);
	if (c->listen.fd >= 0) {
		loop_del(c->epfd, &c->listen);
		close(c->listen.fd);
		unlink(c->path);
		c->listen.fd = -1;
	}
}

void control_broadcast(struct control *c, struct json_object *ev)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	if (!o)
		return;
	json_object_object_add(o, "event", json_object_get(ev));
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct control_client *cl = c->clients[i];
		if (cl && cl->follow && !cl->closing)
			control_send(cl, o);
	}
}
