/* Unit tests of src/daemon/core/control.c: who may connect, the per-uid
 * cap, the slots kept for root, the request classes, the idle timeout and
 * the followers' membership check, with real peers of other uids (root only:
 * a child takes the uid, connects and hands the socket back). */
#include "testutil.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "core/control.h"
#include "jsonutil.h"

#define NOBODY 65534
#define OTHER 65533
#define ADMIN_GID 4242 /* nobody's group database has no such group */

struct fixture {
	char *dir;
	int epfd;
	struct control c;
	int handled;       /* requests that reached the handler */
	bool defer;        /* the handler answers later */
	struct control_client *deferred;
};

static int handle(const struct proto_request *req, struct control_client *cl, void *ud,
		  struct json_object **ret)
{
	struct fixture *f = ud;
	f->handled++;
	if (f->defer) {
		f->deferred = cl;
		return 1;
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(true));
	json_object_object_add(o, "cmd", json_object_new_string(proto_cmd_name(req->cmd)));
	*ret = o;
	return 0;
}

static void gone(struct control_client *cl, void *ud)
{
	struct fixture *f = ud;
	if (f->deferred == cl)
		f->deferred = NULL;
}

static void set_access(struct fixture *f, unsigned max_per_uid)
{
	struct control_access a = { .admin_gid = ADMIN_GID, .max_per_uid = max_per_uid,
				    .idle_timeout = 1, .member_check = 1 };
	for (int k = 0; k < PROTO_CLASSES; k++) {
		a.allow_gid[k] = k == PROTO_CLASS_POLICY ? (gid_t)-1 : ADMIN_GID;
		snprintf(a.allow_name[k], sizeof(a.allow_name[k]), "%s",
			 k == PROTO_CLASS_POLICY ? "nogroup" : "admins");
	}
	control_set_access(&f->c, &a);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	tu_tmpdir_setup((void **)&f->dir);
	assert_int_equal(chmod(f->dir, 0755), 0);
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_int_equal(control_open(&f->c, f->epfd, f->dir, handle, gone, f), 0);
	set_access(f, 2);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	control_close(&f->c);
	close(f->epfd);
	tu_tmpdir_teardown((void **)&f->dir);
	free(f);
	return 0;
}

static void pump(struct fixture *f)
{
	for (int i = 0; i < 5; i++)
		assert_int_equal(loop_run_once(f->epfd, 5), 0);
}

/* A connection made by a child with these credentials, handed back. */
static int connect_as(struct fixture *f, uid_t uid, gid_t gid, gid_t group)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/" PROTO_SOCKET_NAME, f->dir);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (setgroups(group ? 1 : 0, &group) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0 ||
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(1);
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct iovec iov = { "x", 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
				     .msg_controllen = sizeof(u.buf) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(fd));
		_exit(sendmsg(sv[1], &mh, 0) == 1 ? 0 : 1);
	}
	close(sv[1]);
	/* The daemon side must accept while the child waits: pump between. */
	int st;
	for (int i = 0; i < 100 && waitpid(pid, &st, WNOHANG) == 0; i++)
		pump(f);
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char x;
	struct iovec iov = { &x, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	assert_int_equal(recvmsg(sv[0], &mh, 0), 1);
	close(sv[0]);
	int fd;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(fd));
	pump(f);
	return fd;
}

/* What the daemon sent: the lines, then "EOF" if it closed; "" for nothing. */
static const char *heard(struct fixture *f, int fd)
{
	static char buf[8192];
	size_t used = 0;
	pump(f);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 0) <= 0)
			break;
		ssize_t k = recv(fd, buf + used, sizeof(buf) - 1 - used, MSG_DONTWAIT);
		if (k <= 0) {
			used += snprintf(buf + used, sizeof(buf) - used, "EOF");
			break;
		}
		used += k;
	}
	buf[used] = '\0';
	return buf;
}

static void say(int fd, const char *line)
{
	assert_int_equal(send(fd, line, strlen(line), MSG_NOSIGNAL), (ssize_t)strlen(line));
}

static void test_who_may_connect(void **state)
{
	struct fixture *f = *state;

	/* The socket's mode keeps outsiders away; the daemon refuses them too. */
	assert_int_equal(chmod(tu_path(f->dir, PROTO_SOCKET_NAME), 0666), 0);
	int outsider = connect_as(f, NOBODY, NOBODY, 0);
	assert_string_equal(heard(f, outsider),
			    "{\"ok\":false,\"error\":\"permission denied: uid 65534 is neither root "
			    "nor in the admin group\"}\nEOF");
	int a = connect_as(f, NOBODY, NOBODY, ADMIN_GID);
	int b = connect_as(f, NOBODY, ADMIN_GID, 0); /* the primary group counts too */
	assert_string_equal(heard(f, a), "");
	assert_string_equal(heard(f, b), "");
	int c = connect_as(f, NOBODY, NOBODY, ADMIN_GID);
	assert_string_equal(heard(f, c),
			    "{\"ok\":false,\"error\":\"too many connections: uid 65534 has 2 open "
			    "(control.max_connections_per_uid)\"}\nEOF");
	int other = connect_as(f, OTHER, OTHER, ADMIN_GID);
	assert_string_equal(heard(f, other), "");
	int root[4];
	for (int i = 0; i < 4; i++) {
		root[i] = connect_as(f, 0, 0, 0);
		assert_string_equal(heard(f, root[i]), "");
	}
	say(a, "{\"cmd\":\"status\"}\n");
	assert_string_equal(heard(f, a), "{\"ok\":true,\"cmd\":\"status\"}\n");
	close(a);
	pump(f);
	int d = connect_as(f, NOBODY, NOBODY, ADMIN_GID); /* a slot of its own is free again */
	assert_string_equal(heard(f, d), "");
	close(outsider), close(b), close(c), close(d), close(other);
	for (int i = 0; i < 4; i++)
		close(root[i]);
}

/* Every user but root together takes CONTROL_MAX_CLIENTS - CONTROL_ROOT_SLOTS. */
static void test_slots_kept_for_root(void **state)
{
	struct fixture *f = *state;
	int fds[CONTROL_MAX_CLIENTS + 2], n = 0;

	set_access(f, CONTROL_MAX_CLIENTS - CONTROL_ROOT_SLOTS);
	for (int i = 0; i < CONTROL_MAX_CLIENTS - CONTROL_ROOT_SLOTS; i++) {
		fds[n] = connect_as(f, NOBODY, NOBODY, ADMIN_GID);
		assert_string_equal(heard(f, fds[n++]), "");
	}
	int other = connect_as(f, OTHER, OTHER, ADMIN_GID);
	assert_string_equal(heard(f, other), "{\"ok\":false,\"error\":\"too many connections: 56 "
					     "open to other users than root\"}\nEOF");
	for (int i = 0; i < CONTROL_ROOT_SLOTS; i++) {
		fds[n] = connect_as(f, 0, 0, 0);
		say(fds[n], "{\"cmd\":\"status\"}\n");
		assert_string_equal(heard(f, fds[n++]), "{\"ok\":true,\"cmd\":\"status\"}\n");
	}
	/* Full: even root is closed (without a slot there is nothing to say it on). */
	int last = connect_as(f, 0, 0, 0);
	assert_string_equal(heard(f, last), "EOF");
	close(other), close(last);
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static void test_request_classes(void **state)
{
	struct fixture *f = *state;
	int m = connect_as(f, NOBODY, NOBODY, ADMIN_GID);
	int root = connect_as(f, 0, 0, 0);

	say(m, "{\"cmd\":\"policy_reload\"}\n");
	assert_string_equal(heard(f, m),
			    "{\"ok\":false,\"error\":\"permission denied: 'policy_reload' needs root "
			    "or a member of group 'nogroup' (control.allow_policy)\"}\n");
	assert_int_equal(f->handled, 0);
	say(m, "{\"cmd\":\"scan\",\"paths\":[\"/\"]}\n");
	f->defer = true;
	assert_string_equal(heard(f, m), "");
	assert_int_equal(f->handled, 1);
	f->defer = false;
	say(root, "{\"cmd\":\"policy_reload\"}\n");
	assert_string_equal(heard(f, root), "{\"ok\":true,\"cmd\":\"policy_reload\"}\n");
	assert_int_equal(f->handled, 2);
	const struct opener_creds *cr = control_client_creds(f->deferred);
	assert_int_equal(cr->uid, NOBODY);
	assert_int_equal(cr->gid, NOBODY);
	assert_int_equal(cr->n_groups, 1);
	assert_int_equal(cr->groups[0], ADMIN_GID);
	close(m), close(root);
	pump(f);
	assert_null(f->deferred);
}

static void tick_for(struct fixture *f, int ms)
{
	for (int t = 0; t < ms; t += 250) {
		usleep(250 * 1000);
		control_tick(&f->c);
		pump(f);
	}
}

static void test_idle_timeout(void **state)
{
	struct fixture *f = *state;
	const char *closed = "{\"ok\":false,\"error\":\"closed after 1 s without a request "
			     "(control.idle_timeout)\"}\nEOF";
	int idle = connect_as(f, NOBODY, NOBODY, ADMIN_GID);
	int partial = connect_as(f, OTHER, OTHER, ADMIN_GID);
	int root = connect_as(f, 0, 0, 0);
	say(partial, "{\"cmd\":");
	tick_for(f, 1500);
	assert_string_equal(heard(f, idle), closed);
	assert_string_equal(heard(f, partial), closed);
	assert_string_equal(heard(f, root), "");

	/* A request answered later keeps the connection until its answer. */
	int busy = connect_as(f, NOBODY, NOBODY, ADMIN_GID);
	f->defer = true;
	say(busy, "{\"cmd\":\"scan\",\"paths\":[\"/\"]}\n");
	pump(f);
	f->defer = false;
	tick_for(f, 1500);
	assert_string_equal(heard(f, busy), "");
	_cleanup_json_ struct json_object *progress = json_object_new_object();
	json_object_object_add(progress, "progress", json_object_new_object());
	control_send(f->deferred, progress); /* no "ok": not the answer yet */
	tick_for(f, 1000);
	assert_string_equal(heard(f, busy), "{\"progress\":{}}\n");
	_cleanup_json_ struct json_object *done = json_object_new_object();
	json_object_object_add(done, "ok", json_object_new_boolean(true));
	control_send(f->deferred, done);
	tick_for(f, 500);
	assert_string_equal(heard(f, busy), "{\"ok\":true}\n");
	tick_for(f, 1000);
	assert_string_equal(heard(f, busy), closed);
	close(idle), close(partial), close(root), close(busy);
}

/* The group database is asked, not the peer's groups at connect: nobody is
 * in no group ADMIN_GID there, so its stream ends at the first check. */
static void test_follower_membership(void **state)
{
	struct fixture *f = *state;
	int m = connect_as(f, NOBODY, NOBODY, ADMIN_GID);
	int root = connect_as(f, 0, 0, 0);

	assert_null(getgrgid(ADMIN_GID));
	say(m, "{\"cmd\":\"events\",\"follow\":true}\n");
	say(root, "{\"cmd\":\"events\",\"follow\":true}\n");
	assert_string_equal(heard(f, m), "{\"ok\":true,\"cmd\":\"events\"}\n");
	assert_string_equal(heard(f, root), "{\"ok\":true,\"cmd\":\"events\"}\n");
	control_tick(&f->c);
	assert_string_equal(heard(f, m), "{\"ok\":false,\"error\":\"permission denied: uid 65534 "
					 "is no longer in the admin group\"}\nEOF");
	/* Followers are not idle: root's stream goes on. */
	tick_for(f, 1500);
	_cleanup_json_ struct json_object *ev = json_object_new_object();
	control_broadcast(&f->c, ev);
	assert_string_equal(heard(f, root), "{\"event\":{}}\n");
	close(m), close(root);
}

int main(void)
{
	const struct CMUnitTest none[] = {};
	const struct CMUnitTest root_only[] = {
		cmocka_unit_test_setup_teardown(test_who_may_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slots_kept_for_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_classes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follower_membership, setup, teardown),
	};
	return TU_RUN("control", none, root_only);
}
