#include "scanproto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Room for more descriptors than a message may carry, so that extras are
 * received (and closed) instead of left to MSG_CTRUNC alone. */
#define SCAN_MAX_RECV_FDS 8

static bool type_known(uint32_t type)
{
	return type >= SCAN_MSG_READY && type <= SCAN_MSG_SIGSYS;
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

static const char *type_name(uint32_t t)
{
	static const char *const names[] = { "?", "READY", "FAILED", "SCAN", "VERDICT",
					      "PING", "PONG", "SIGSYS" };
	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

static int bad(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* Printable ASCII up to the NUL, zeroes after it: what scan_msg_set_text
 * makes, so nothing travels hidden behind the terminator. */
static bool text_clean(const struct scan_msg *m)
{
	size_t n = strnlen(m->text, sizeof(m->text));

	if (n == sizeof(m->text))
		return false;
	for (size_t i = 0; i < n; i++)
		if (m->text[i] < 0x20 || m->text[i] > 0x7e)
			return false;
	for (size_t i = n; i < sizeof(m->text); i++)
		if (m->text[i])
			return false;
	return true;
}

/* The fields a type does not use must be zero.  Bits: which are used. */
enum {
	F_FLAGS = 1 << 0,
	F_ID = 1 << 1,
	F_RESULT = 1 << 2,
	F_CODE = 1 << 3,
	F_IDS = 1 << 4, /* uid, gid, sigs */
	F_STATS = 1 << 5, /* usec, bytes */
	F_TEXT = 1 << 6,
};

static const char *unused_field_set(const struct scan_msg *m, unsigned used)
{
	if (!(used & F_FLAGS) && m->flags)
		return "flags";
	if (!(used & F_ID) && m->id)
		return "id";
	if (!(used & F_RESULT) && m->result)
		return "result";
	if (!(used & F_CODE) && m->code)
		return "code";
	if (!(used & F_IDS) && (m->uid || m->gid || m->sigs))
		return "uid/gid/sigs";
	if (!(used & F_STATS) && (m->usec || m->bytes))
		return "usec/bytes";
	if (!(used & F_TEXT) && m->text[0])
		return "text";
	return NULL;
}

static int check_ready(const struct scan_msg *m, char *why, size_t len)
{
	bool as_root = m->flags & SCAN_READY_AS_ROOT;
	bool sep = strchr(m->text, SCAN_READY_TEXT_SEP) != NULL;

	if (m->flags & ~SCAN_READY_AS_ROOT)
		return bad(why, len, "READY flags 0x%x unknown", m->flags);
	if (as_root != (m->uid == 0))
		return bad(why, len, "READY uid %u %s the as-root flag", m->uid,
			   as_root ? "contradicts" : "without");
	if (m->gid == 0 && !as_root)
		return bad(why, len, "READY gid 0 as uid %u", m->uid);
	if (m->sigs == 0)
		return bad(why, len, "READY with no signature");
	if (as_root != sep)
		return bad(why, len, "READY text %s the '%c' of the as-root flag",
			   sep ? "has" : "lacks", SCAN_READY_TEXT_SEP);
	return 0;
}

static int check_verdict(const struct scan_msg *m, const struct scan_expect *e, char *why,
			 size_t len)
{
	if (!e->inflight)
		return bad(why, len, "VERDICT for request %llu while no file is in flight",
			   (unsigned long long)m->id);
	if (m->id != e->inflight_id)
		return bad(why, len, "VERDICT for request %llu, not for the file in flight (%llu)",
			   (unsigned long long)m->id, (unsigned long long)e->inflight_id);
	switch (m->result) {
	case SCAN_CLEAN:
		if (m->code || m->text[0])
			return bad(why, len, "VERDICT clean with a code or a text");
		return 0;
	case SCAN_INFECTED:
		if (m->code || !m->text[0])
			return bad(why, len, "VERDICT infected with a code or without a name");
		return 0;
	case SCAN_LIMIT:
		if (m->code || strncmp(m->text, SCAN_LIMIT_PREFIX, strlen(SCAN_LIMIT_PREFIX)) != 0)
			return bad(why, len, "VERDICT limit with a code or not named %s.*",
				   SCAN_LIMIT_PREFIX);
		return 0;
	case SCAN_ERROR:
		return 0;
	}
	return bad(why, len, "VERDICT result %d out of range", m->result);
}

int scan_msg_check(const struct scan_msg *m, const struct scan_expect *e, char *why, size_t len)
{
	static const unsigned used[] = {
		[SCAN_MSG_READY] = F_FLAGS | F_IDS | F_TEXT,
		[SCAN_MSG_FAILED] = F_RESULT | F_CODE | F_TEXT,
		[SCAN_MSG_VERDICT] = F_ID | F_RESULT | F_CODE | F_STATS | F_TEXT,
		[SCAN_MSG_PONG] = F_ID,
		[SCAN_MSG_SIGSYS] = F_RESULT | F_CODE,
	};
	const char *field;

	if (!type_known(m->type) || m->type == SCAN_MSG_SCAN || m->type == SCAN_MSG_PING)
		return bad(why, len, "message type %u (%s) is not the scan service's", m->type,
			   type_name(m->type));
	if (!text_clean(m))
		return bad(why, len, "%s text not printable ASCII ending in zeroes",
			   type_name(m->type));
	field = unused_field_set(m, used[m->type]);
	if (field)
		return bad(why, len, "%s with %s set", type_name(m->type), field);
	switch (m->type) {
	case SCAN_MSG_READY:
		if (!e->starting)
			return bad(why, len, "READY again while ready");
		return check_ready(m, why, len);
	case SCAN_MSG_FAILED:
		if (!e->starting)
			return bad(why, len, "FAILED after READY");
		if (m->result < SCAN_STAGE_ARGS || m->result > SCAN_STAGE_SANDBOX)
			return bad(why, len, "FAILED stage %d out of range", m->result);
		return 0;
	case SCAN_MSG_VERDICT:
		if (e->starting)
			return bad(why, len, "VERDICT before READY");
		return check_verdict(m, e, why, len);
	case SCAN_MSG_PONG:
		if (e->starting || !e->ping || m->id != e->ping_id)
			return bad(why, len, "PONG %llu for no ping pending",
				   (unsigned long long)m->id);
		return 0;
	case SCAN_MSG_SIGSYS:
		if (m->result < 0)
			return bad(why, len, "SIGSYS syscall %d out of range", m->result);
		return 0;
	}
	return bad(why, len, "message type %u unknown", m->type);
}
