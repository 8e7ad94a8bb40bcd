#include "opener.h"

#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

#define CHILD_SOCK 3
#define MAX_FDS 2

/* One message from the child; path_len bytes of path follow, no NUL. */
struct msg {
	uint32_t kind;
	int32_t err; /* OPENER_ERROR: a positive errno */
	uint32_t flags;
	uint32_t path_len;
};

struct walk_args {
	char *const *paths;
	opener_skip_fn skip;
	void *ud;
	uid_t uid;
};

struct run_args {
	enum opener_op op;
	const char *const *paths;
	size_t n;
	uid_t uid;
};

bool opener_creds_in_group(const struct opener_creds *c, gid_t gid)
{
	if (gid == (gid_t)-1)
		return false;
	if (c->gid == gid)
		return true;
	for (size_t i = 0; i < c->n_groups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

/* ------------------------------------------------------------ the child */

/* Blocking: the child waits for room.  An error means picketd went away. */
static void child_send(enum opener_kind kind, int err, unsigned flags, const char *path,
		       const int *fds, size_t nfds)
{
	size_t len = path ? strnlen(path, PATH_MAX - 1) : 0;
	struct msg m = { kind, err, flags, (uint32_t)len };
	struct iovec iov[2] = { { &m, sizeof(m) }, { (void *)path, len } };
	union {
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	if (nfds) {
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	while (sendmsg(CHILD_SOCK, &mh, MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		/* The user has too many descriptors in flight: this one is an error. */
		if (errno == ETOOMANYREFS && nfds) {
			child_send(OPENER_ERROR, ETOOMANYREFS, 0, path, NULL, 0);
			return;
		}
		_exit(1);
	}
}

/* A regular file, looked up without following a last symlink and checked
 * before it is opened for reading: a FIFO or a device is never opened. */
static int open_regular(int dirfd, const char *name)
{
	char proc[64];
	struct stat st;

	_cleanup_close_ int p = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (p < 0)
		return -errno;
	if (fstat(p, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	/* Reopening checks read permission on this very inode. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", p);
	int flags = O_RDONLY | O_NOCTTY | O_CLOEXEC;
	int fd = open(proc, flags | O_NOATIME);
	if (fd < 0 && errno == EPERM) /* O_NOATIME is the owner's */
		fd = open(proc, flags);
	return fd < 0 ? -errno : fd;
}

/* "/a/b/c" -> dir "/a/b", base "c". */
static int split(const char *path, char dir[PATH_MAX], const char **ret_base)
{
	const char *slash = strrchr(path, '/');
	if (!slash || path[0] != '/')
		return -EINVAL;
	const char *base = slash + 1;
	size_t dlen = slash == path ? 1 : (size_t)(slash - path);
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return -EINVAL;
	if (dlen >= PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	*ret_base = base;
	return 0;
}

/* Whether uid may unlink an entry owned by fuid in dir (stat dst). */
static int may_unlink(const char *dir, const struct stat *dst, uid_t fuid, uid_t uid)
{
	if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0)
		return -errno;
	if ((dst->st_mode & S_ISVTX) && dst->st_uid != uid && fuid != uid)
		return -EPERM;
	return 0;
}

static int may_replace(const char *path, uid_t uid)
{
	char dir[PATH_MAX];
	const char *base;
	struct stat dst, st;
	int r = split(path, dir, &base);

	if (r < 0)
		return r;
	if (stat(dir, &dst) < 0)
		return -errno;
	if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return -errno;
		st.st_uid = uid; /* nothing there: only the directory counts */
	}
	return may_unlink(dir, &dst, st.st_uid, uid);
}

/* A walked file's removability; a directory's answer is kept in its
 * fts_number (1 writable, 2 not) for the files below it. */
static bool walk_removable(const struct walk_args *a, FTSENT *e)
{
	FTSENT *parent = e->fts_parent;
	char dir[PATH_MAX];
	const char *base;
	struct stat dst;

	if (a->uid == 0)
		return true;
	if (e->fts_level > FTS_ROOTLEVEL && parent && parent->fts_pathlen < PATH_MAX) {
		if (!parent->fts_number) {
			/* fts_path is the walk's shared buffer: the parent is its start. */
			memcpy(dir, parent->fts_path, parent->fts_pathlen);
			dir[parent->fts_pathlen] = '\0';
			parent->fts_number =
				faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == 0 ? 1 : 2;
		}
		const struct stat *pst = parent->fts_statp;
		return parent->fts_number == 1 &&
		       (!(pst->st_mode & S_ISVTX) || pst->st_uid == a->uid ||
			e->fts_statp->st_uid == a->uid);
	}
	return split(e->fts_path, dir, &base) == 0 && stat(dir, &dst) == 0 &&
	       may_unlink(dir, &dst, e->fts_statp->st_uid, a->uid) == 0;
}

static void wait_grant(unsigned *credit)
{
	uint32_t n;
	while (*credit == 0) {
		ssize_t k = recv(CHILD_SOCK, &n, sizeof(n), 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k != (ssize_t)sizeof(n))
			_exit(0); /* the receiver stopped */
		*credit += n;
	}
}

static void child_walk(const void *arg)
{
	const struct walk_args *a = arg;
	unsigned credit = 0;
	FTSENT *e;

	FTS *fts = fts_open(a->paths, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
	if (!fts) {
		child_send(OPENER_ERROR, errno, 0, a->paths[0], NULL, 0);
		child_send(OPENER_END, 0, 0, NULL, NULL, 0);
		return;
	}
	errno = 0;
	while ((e = fts_read(fts))) {
		if (e->fts_info == FTS_D && a->skip && a->skip(e->fts_path, a->ud)) {
			fts_set(fts, e, FTS_SKIP);
			child_send(OPENER_SKIPPED, 0, 0, e->fts_path, NULL, 0);
		} else if (e->fts_info == FTS_DNR || e->fts_info == FTS_ERR || e->fts_info == FTS_NS) {
			child_send(OPENER_ERROR, e->fts_errno, 0, e->fts_path, NULL, 0);
		} else if (e->fts_info == FTS_F && a->skip && a->skip(e->fts_path, a->ud)) {
			child_send(OPENER_SKIPPED, 0, 0, e->fts_path, NULL, 0);
		} else if (e->fts_info == FTS_F) {
			wait_grant(&credit);
			int fd = open_regular(AT_FDCWD, e->fts_path);
			if (fd < 0) {
				child_send(OPENER_ERROR, -fd, 0, e->fts_path, NULL, 0);
			} else {
				unsigned flags = walk_removable(a, e) ? OPENER_REMOVABLE : 0;
				child_send(OPENER_FILE, 0, flags, e->fts_path, &fd, 1);
				close(fd);
				credit--;
			}
		}
		errno = 0;
	}
	if (errno)
		child_send(OPENER_ERROR, errno, 0, a->paths[0], NULL, 0);
	child_send(OPENER_END, 0, 0, NULL, NULL, 0);
}

static void child_open(const char *path)
{
	char dir[PATH_MAX];
	const char *base;
	int r = split(path, dir, &base);
	if (r < 0) {
		child_send(OPENER_ERROR, -r, 0, path, NULL, 0);
		return;
	}
	int fds[2] = { -1, open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC) };
	if (fds[1] < 0) {
		child_send(OPENER_ERROR, errno, 0, path, NULL, 0);
		return;
	}
	fds[0] = open_regular(fds[1], base);
	if (fds[0] < 0)
		child_send(OPENER_ERROR, -fds[0], 0, path, NULL, 0);
	else
		child_send(OPENER_FILE, 0, 0, path, fds, 2);
	closep(&fds[0]);
	closep(&fds[1]);
}

static void child_run(const void *arg)
{
	const struct run_args *a = arg;
	for (size_t i = 0; i < a->n; i++) {
		if (a->op == OPENER_OPEN) {
			child_open(a->paths[i]);
			continue;
		}
		int r = may_replace(a->paths[i], a->uid);
		child_send(r < 0 ? OPENER_ERROR : OPENER_OK, r < 0 ? -r : 0, 0, a->paths[i], NULL, 0);
	}
	child_send(OPENER_END, 0, 0, NULL, NULL, 0);
}

/* The client's credentials, for good: a setresuid back to root must fail. */
static int drop(const struct opener_creds *c)
{
	if (prctl(PR_SET_DUMPABLE, 0) < 0 || setgroups(c->n_groups, c->groups) < 0 ||
	    setresgid(c->gid, c->gid, c->gid) < 0 || setresuid(c->uid, c->uid, c->uid) < 0)
		return -errno;
	if (setresuid(0, 0, 0) == 0)
		return -EPERM;
	return 0;
}

static _Noreturn void child_main(int sock, pid_t parent, const struct opener_creds *c,
				 void (*body)(const void *), const void *arg)
{
	sigset_t none;

	if (sock != CHILD_SOCK && dup2(sock, CHILD_SOCK) < 0)
		_exit(127);
	close_range(CHILD_SOCK + 1, ~0U, 0); /* nothing of picketd's stays open */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	if (c->uid != 0 && drop(c) < 0)
		_exit(126);
	body(arg);
	_exit(0);
}

/* ----------------------------------------------------------- the parent */

static int spawn(struct opener *o, const struct opener_creds *c, int nfds,
		 void (*body)(const void *), const void *arg)
{
	int sv[2];
	pid_t parent = getpid();

	*o = (struct opener){ .fd = -1, .nfds = nfds };
	if (c->n_groups > OPENER_MAX_GROUPS)
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0)
		child_main(sv[1], parent, c, body, arg);
	close(sv[1]);
	o->pid = pid;
	o->fd = sv[0];
	if (fcntl(o->fd, F_SETFL, O_NONBLOCK) < 0) {
		int r = -errno;
		opener_stop(o);
		return r;
	}
	return 0;
}

int opener_walk(struct opener *o, const struct opener_creds *c, char *const *paths,
		opener_skip_fn skip, void *ud)
{
	struct walk_args a = { paths, skip, ud, c->uid };
	/* The child has its own copy of a: it may go out of scope here. */
	return spawn(o, c, 1, child_walk, &a);
}

int opener_want(struct opener *o, unsigned n)
{
	uint32_t v = n;
	if (o->fd < 0)
		return -EPIPE;
	while (send(o->fd, &v, sizeof(v), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static bool valid(const struct opener *o, const struct msg *m, size_t nfds)
{
	switch (m->kind) {
	case OPENER_FILE:
		return m->err == 0 && nfds == (size_t)o->nfds && (m->flags & ~OPENER_REMOVABLE) == 0;
	case OPENER_ERROR:
		return m->err > 0 && m->err < 4096 && nfds == 0 && m->flags == 0;
	case OPENER_OK:
	case OPENER_SKIPPED:
	case OPENER_END:
		return m->err == 0 && nfds == 0 && m->flags == 0;
	default:
		return false;
	}
}

/* The descriptors of a message, at most MAX_FDS; more is a malformed one. */
static int take_fds(struct msghdr *mh, int fds[MAX_FDS], size_t *ret_n)
{
	size_t n = 0;
	bool extra = false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (n < MAX_FDS)
				fds[n++] = fd;
			else {
				close(fd);
				extra = true;
			}
		}
	}
	*ret_n = n;
	return extra ? -EPROTO : 0;
}

static bool is_type(int fd, mode_t type)
{
	struct stat st;
	return fd < 0 || (fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == type);
}

int opener_next(struct opener *o, struct opener_item *ret)
{
	struct msg m;
	char path[PATH_MAX];
	struct iovec iov[2] = { { &m, sizeof(m) }, { path, sizeof(path) } };
	union {
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	int fds[MAX_FDS] = { -1, -1 };
	size_t nfds;
	ssize_t k;

	if (o->fd < 0)
		return -EPIPE;
	do
		k = recvmsg(o->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (k < 0 && errno == EINTR);
	/* A child gone with grants unread resets the connection: it ended. */
	if (k < 0 && errno == ECONNRESET)
		return -EPIPE;
	if (k < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (k == 0)
		return -EPIPE;
	int r = take_fds(&mh, fds, &nfds);
	if (r == 0 && ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)k < sizeof(m) ||
		       m.path_len >= PATH_MAX || (size_t)k != sizeof(m) + m.path_len ||
		       memchr(path, '\0', m.path_len) || !valid(o, &m, nfds) ||
		       !is_type(fds[0], S_IFREG) || !is_type(fds[1], S_IFDIR)))
		r = -EPROTO;
	if (r < 0) {
		closep(&fds[0]);
		closep(&fds[1]);
		return r;
	}
	ret->kind = (enum opener_kind)m.kind;
	ret->fd = fds[0];
	ret->dirfd = fds[1];
	ret->err = -m.err;
	ret->flags = m.flags;
	memcpy(ret->path, path, m.path_len);
	ret->path[m.path_len] = '\0';
	return 1;
}

void opener_stop(struct opener *o)
{
	if (o->pid > 0) {
		/* Done or not: a reaped child's pid cannot have been reused yet. */
		kill(o->pid, SIGKILL);
		while (waitpid(o->pid, NULL, 0) < 0 && errno == EINTR)
			;
		o->pid = 0;
	}
	closep(&o->fd);
}

void opener_item_close(struct opener_item *it)
{
	closep(&it->fd);
	closep(&it->dirfd);
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? ms : 0;
}

/* The n answers, then OPENER_END; anything else is a malformed reply.  The
 * answers taken are ret's, also on failure. */
static int collect(struct opener *o, enum opener_op op, const char *const *paths, size_t n,
		   struct opener_item *ret)
{
	enum opener_kind yes = op == OPENER_OPEN ? OPENER_FILE : OPENER_OK;
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += OPENER_TIMEOUT_MS / 1000;
	for (size_t got = 0;;) {
		struct opener_item it = { .fd = -1, .dirfd = -1 };
		int r = opener_next(o, &it);
		if (r == 0) {
			struct pollfd p = { .fd = o->fd, .events = POLLIN };
			long ms = ms_left(&deadline);
			if (ms == 0)
				return -ETIMEDOUT;
			if (poll(&p, 1, (int)ms) < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		if (r < 0)
			return r;
		if (got == n) {
			opener_item_close(&it);
			return it.kind == OPENER_END ? 0 : -EPROTO;
		}
		ret[got++] = it;
		if (strcmp(it.path, paths[got - 1]) != 0 ||
		    (it.kind != yes && it.kind != OPENER_ERROR))
			return -EPROTO;
	}
}

int opener_run(const struct opener_creds *c, enum opener_op op, const char *const *paths,
	       size_t n, struct opener_item *ret)
{
	struct run_args a = { op, paths, n, c->uid };
	struct opener o;

	for (size_t i = 0; i < n; i++)
		ret[i] = (struct opener_item){ .fd = -1, .dirfd = -1 };
	if (n == 0)
		return 0;
	int r = spawn(&o, c, 2, child_run, &a);
	if (r < 0)
		return r;
	r = collect(&o, op, paths, n, ret);
	opener_stop(&o);
	if (r < 0)
		for (size_t i = 0; i < n; i++)
			opener_item_close(&ret[i]);
	return r;
}
