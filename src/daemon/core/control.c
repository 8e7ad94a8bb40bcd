#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
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
	struct opener_creds creds;
	struct timespec since; /* accepted, or its last request came or was answered */
	bool busy;             /* a request is answered later (a scan) */
	bool follow;
	bool closing; /* close once the output is flushed */
	bool dead;    /* shut down: freed by its handler at the next wake-up */
	char in[PROTO_MAX_REQUEST + 1];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
};

static double elapsed(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) + (now.tv_nsec - since->tv_nsec) / 1e9;
}

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
	if (json_object_object_get_ex(o, "ok", NULL)) { /* the answer: idle from now */
		cl->busy = false;
		clock_gettime(CLOCK_MONOTONIC, &cl->since);
	}
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

/* Whether the peer may send this class of request. */
static bool request_allowed(struct control_client *cl, const struct proto_request *req)
{
	const struct control_access *a = &cl->c->access;
	enum proto_class k = proto_cmd_class(req->cmd);
	char msg[256];

	if (cl->creds.uid == 0 || opener_creds_in_group(&cl->creds, a->allow_gid[k]))
		return true;
	snprintf(msg, sizeof(msg),
		 "permission denied: '%s' needs root or a member of group '%s' (control.allow_%s)",
		 proto_cmd_name(req->cmd), a->allow_name[k], proto_class_name(k));
	log_notice("control: refused '%s' of pid %d uid %u: not in group '%s'",
		   proto_cmd_name(req->cmd), (int)cl->cred.pid, (unsigned)cl->creds.uid,
		   a->allow_name[k]);
	reply_error(cl, msg, false);
	return false;
}

static void handle_line(struct control_client *cl, const char *line, size_t len)
{
	struct proto_request req;
	char err[256];

	clock_gettime(CLOCK_MONOTONIC, &cl->since);
	if (proto_parse_request(line, len, &req, err, sizeof(err)) < 0) {
		log_notice("control: bad request from pid %d: %s", (int)cl->cred.pid, err);
		reply_error(cl, err, false);
		return;
	}
	if (!request_allowed(cl, &req))
		return;
	_cleanup_json_ struct json_object *reply = NULL;
	cl->busy = true; /* until the answer, maybe sent from inside the handler */
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

/* The peer's credentials as it connected; supplementary groups beyond
 * OPENER_MAX_GROUPS are left out (fewer groups never reach further). */
static int peer_creds(int fd, struct ucred *cred, struct opener_creds *ret)
{
	socklen_t len = sizeof(*cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) < 0)
		return -errno;
	*ret = (struct opener_creds){ .uid = cred->uid, .gid = cred->gid };
	len = sizeof(ret->groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, ret->groups, &len) < 0)
		log_debug("control: SO_PEERGROUPS of pid %d: %s", (int)cred->pid, strerror(errno));
	else
		ret->n_groups = len / sizeof(gid_t);
	return 0;
}

/* Why a non-root peer may not connect now, into msg; false when it may. */
static bool refused(const struct control *c, const struct opener_creds *cr, char *msg,
		    size_t len)
{
	unsigned mine = 0, others = 0;

	if (!opener_creds_in_group(cr, c->access.admin_gid)) {
		snprintf(msg, len, "permission denied: uid %u is neither root nor in the admin group",
			 (unsigned)cr->uid);
		return true;
	}
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		const struct control_client *cl = c->clients[i];
		if (cl && cl->creds.uid == cr->uid)
			mine++;
		else if (cl && cl->creds.uid != 0)
			others++;
	}
	if (mine >= c->access.max_per_uid)
		snprintf(msg, len,
			 "too many connections: uid %u has %u open (control.max_connections_per_uid)",
			 (unsigned)cr->uid, mine);
	else if (mine + others >= CONTROL_MAX_CLIENTS - CONTROL_ROOT_SLOTS)
		snprintf(msg, len, "too many connections: %u open to other users than root",
			 mine + others);
	else
		return false;
	return true;
}

/* One error line on a connection that gets no slot, then it is closed:
 * refusals cost no slot, so they cannot crowd root out. */
static void refuse(int fd, const char *msg)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	size_t len;
	if (!o)
		return;
	json_object_object_add(o, "ok", json_object_new_boolean(false));
	json_object_object_add(o, "error", json_object_new_string(msg));
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	struct iovec iov[2] = { { (void *)s, len }, { "\n", 1 } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	(void)sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static int free_slot(const struct control *c)
{
	for (int slot = 0; slot < CONTROL_MAX_CLIENTS; slot++)
		if (!c->clients[slot])
			return slot;
	return -1;
}

static void control_accept(struct io_source *src, uint32_t events)
{
	struct control *c = src->obj;
	struct opener_creds cr;
	struct ucred cred;
	char msg[160];
	int r;
	(void)events;
	for (;;) {
		_cleanup_close_ int fd = accept4(c->listen.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warning_errno(errno, "control: accept failed");
			return;
		}
		if ((r = peer_creds(fd, &cred, &cr)) < 0) {
			log_warning_errno(r, "control: SO_PEERCRED failed");
			continue;
		}
		if (cr.uid != 0 && refused(c, &cr, msg, sizeof(msg))) {
			log_notice("control: refused pid %d uid %u: %s", (int)cred.pid,
				   (unsigned)cr.uid, msg);
			refuse(fd, msg);
			continue;
		}
		int slot = free_slot(c);
		if (slot < 0) {
			log_warning("control: %d clients connected, refusing another",
				    CONTROL_MAX_CLIENTS);
			continue;
		}
		struct control_client *cl = calloc(1, sizeof(*cl));
		if (!cl)
			return;
		cl->c = c;
		cl->slot = slot;
		cl->cred = cred;
		cl->creds = cr;
		clock_gettime(CLOCK_MONOTONIC, &cl->since);
		cl->src = (struct io_source){ .fd = fd, .fn = client_io, .obj = cl };
		if (loop_add(c->epfd, &cl->src, EPOLLIN) < 0) {
			free(cl);
			continue;
		}
		c->clients[slot] = cl;
		TAKE_FD(fd);
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

int control_open(struct control *c, int epfd, const char *run_dir, control_request_fn handle,
		 control_gone_fn gone, void *ud)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r;

	*c = (struct control){ .listen.fd = -1, .epfd = epfd, .handle = handle, .gone = gone,
			       .ud = ud };
	c->access.admin_gid = (gid_t)-1;
	for (int k = 0; k < PROTO_CLASSES; k++)
		c->access.allow_gid[k] = (gid_t)-1;
	c->access.max_per_uid = 1;
	c->access.idle_timeout = c->access.member_check = 1;
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
	if (chown(c->path, 0, 0) < 0 || listen(fd, 16) < 0)
		return -errno;
	c->listen = (struct io_source){ .fd = fd, .fn = control_accept, .obj = c };
	r = loop_add(epfd, &c->listen, EPOLLIN);
	if (r < 0)
		return r;
	TAKE_FD(fd);
	return 0;
}

void control_set_access(struct control *c, const struct control_access *a)
{
	gid_t gid = a->admin_gid;
	c->access = *a;
	if (chown(c->path, 0, gid == (gid_t)-1 ? 0 : gid) < 0) /* no admin group: root only */
		log_warning_errno(errno, "control: failed to give %s to gid %u", c->path,
				  (unsigned)gid);
}

const struct opener_creds *control_client_creds(const struct control_client *cl)
{
	return &cl->creds;
}

/* Whether the group database has uid in gid now: a process keeps the
 * groups it started with, so its own are no answer. */
static bool user_in_group(uid_t uid, gid_t gid)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int n = OPENER_MAX_GROUPS;

	if (gid == (gid_t)-1 || getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return false;
	if (pw.pw_gid == gid)
		return true;
	_cleanup_free_ gid_t *groups = malloc(n * sizeof(gid_t));
	if (groups && getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0) {
		free(groups); /* n is now the count needed */
		groups = malloc(n * sizeof(gid_t));
		if (groups && getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
			n = 0;
	}
	for (int i = 0; groups && i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

static void check_follower(struct control *c, struct control_client *cl)
{
	const struct control_access *a = &c->access;
	char msg[160], group[CONTROL_GROUP_NAME + 8];
	const char *out = NULL;

	if (!user_in_group(cl->creds.uid, a->admin_gid))
		out = "the admin group";
	else if (!user_in_group(cl->creds.uid, a->allow_gid[PROTO_CLASS_STATUS])) {
		snprintf(group, sizeof(group), "group '%s'", a->allow_name[PROTO_CLASS_STATUS]);
		out = group;
	}
	if (!out)
		return;
	snprintf(msg, sizeof(msg), "permission denied: uid %u is no longer in %s",
		 (unsigned)cl->creds.uid, out);
	log_notice("control: ending the event stream of pid %d: %s", (int)cl->cred.pid, msg);
	reply_error(cl, msg, true);
}

void control_tick(struct control *c)
{
	bool check = ++c->ticks >= c->access.member_check;
	char msg[128];

	if (check)
		c->ticks = 0;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct control_client *cl = c->clients[i];
		if (!cl || cl->dead || cl->closing || cl->creds.uid == 0)
			continue;
		if (cl->follow) {
			if (check)
				check_follower(c, cl);
		} else if (!cl->busy && elapsed(&cl->since) >= c->access.idle_timeout) {
			snprintf(msg, sizeof(msg),
				 "closed after %u s without a request (control.idle_timeout)",
				 c->access.idle_timeout);
			log_info("control: pid %d uid %u: %s", (int)cl->cred.pid,
				 (unsigned)cl->creds.uid, msg);
			reply_error(cl, msg, true);
		}
	}
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
