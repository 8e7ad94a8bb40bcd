#include "scanproto.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Room for more descriptors than a message may carry, so that extras are
 * received (and closed) instead of left to MSG_CTRUNC alone. */
#define SCAN_MAX_RECV_FDS 8

static bool type_known(uint32_t type)
{
	return type >= SCAN_MSG_READY && type <= SCAN_MSG_PONG;
}

static bool text_terminated(const struct scan_msg *m)
{
	return memchr(m->text, '\0', sizeof(m->text)) != NULL;
}

int scan_msg_send(int sock, const struct scan_msg *msg, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = sizeof(*msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (!type_known(msg->type) || !text_terminated(msg))
		return -EINVAL;
	if ((msg->type == SCAN_MSG_SCAN) != (fd >= 0))
		return -EINVAL;
	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* SOCK_SEQPACKET sends a message whole or not at all. */
	return n == (ssize_t)sizeof(*msg) ? 0 : -EIO;
}

static void close_all(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* Collects every SCM_RIGHTS descriptor of mh into fds; -EBADMSG for any
 * other control message (the descriptors found are still returned in *n). */
static int collect_fds(struct msghdr *mh, int *fds, int *n)
{
	int r = 0;

	*n = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0)) {
			r = -EBADMSG;
			continue;
		}
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && *n < SCAN_MAX_RECV_FDS; i++)
			memcpy(&fds[(*n)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	return r;
}

int scan_msg_recv(int sock, struct scan_msg *ret, int *ret_fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * SCAN_MAX_RECV_FDS)];
	} ctl;
	struct scan_msg m;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh;
	int fds[SCAN_MAX_RECV_FDS], nfds = 0;
	ssize_t n;
	int r;

	do {
		mh = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		/* MSG_TRUNC: n is the real length of the message even when it
		 * is longer than the buffer. */
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_TRUNC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	r = collect_fds(&mh, fds, &nfds);
	if (n == 0 && nfds == 0)
		return -ECONNRESET; /* end of stream (or an empty message: the same to us) */
	if (r == 0 && (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)))
		r = -EBADMSG;
	if (r == 0 && (n != (ssize_t)sizeof(m) || !type_known(m.type) || !text_terminated(&m)))
		r = -EBADMSG;
	/* Exactly one descriptor with SCAN, none with anything else. */
	if (r == 0 && nfds != (m.type == SCAN_MSG_SCAN ? 1 : 0))
		r = -EBADMSG;
	if (r < 0) {
		close_all(fds, nfds);
		return r;
	}

	int fd = nfds ? fds[0] : -1;
	if (ret_fd)
		*ret_fd = fd;
	else if (fd >= 0)
		close(fd);
	*ret = m;
	return 0;
}

void scan_msg_set_text(struct scan_msg *msg, const char *s)
{
	size_t n = s ? strnlen(s, sizeof(msg->text) - 1) : 0;

	if (n)
		memcpy(msg->text, s, n);
	memset(msg->text + n, 0, sizeof(msg->text) - n);
}

const char *scan_stage_name(enum scan_stage s)
{
	switch (s) {
	case SCAN_STAGE_ARGS:
		return "args";
	case SCAN_STAGE_PRIVDROP:
		return "privdrop";
	case SCAN_STAGE_ENGINE_INIT:
		return "engine-init";
	case SCAN_STAGE_DEFS_LOAD:
		return "defs-load";
	case SCAN_STAGE_DEFS_EMPTY:
		return "defs-empty";
	case SCAN_STAGE_COMPILE:
		return "compile";
	case SCAN_STAGE_TMPDIR:
		return "tmpdir";
	case SCAN_STAGE_SANDBOX:
		return "sandbox";
	}
	return "unknown";
}
