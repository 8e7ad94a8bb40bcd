/* Unit tests of src/common/scanproto.c over a real
 * socketpair(AF_UNIX, SOCK_SEQPACKET): round trips with and without a
 * descriptor, and every malformed message the receiver must reject without
 * leaking a descriptor. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "scanproto.h"

struct pair {
	int a, b; /* a sends, b receives */
};

static int setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	int sv[2];

	if (!p || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	p->a = sv[0];
	p->b = sv[1];
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	if (p->a >= 0)
		close(p->a);
	close(p->b);
	free(p);
	return 0;
}

static int open_fds(void)
{
	return tu_count_entries("/proc/self/fd");
}

/* A scratch file with some content; unlinked at once, the descriptor stays. */
static int scratch_file(void)
{
	char path[] = "/tmp/test_scanproto.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, "scan me", 7), 7);
	return fd;
}

/* Sends raw bytes with any number of descriptors, bypassing scan_msg_send's checks. */
static void send_raw(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	char ctl[CMSG_SPACE(sizeof(int) * 16)];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	assert_true(nfds <= 16);
	if (nfds > 0) {
		memset(ctl, 0, sizeof(ctl));
		mh.msg_control = ctl;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	assert_int_equal(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

static struct scan_msg sample(uint32_t type)
{
	struct scan_msg m = { .type = type, .flags = 5, .id = 0x1122334455667788ull,
			      .result = SCAN_INFECTED, .code = -2, .uid = 997, .gid = 996,
			      .sigs = 3, .usec = 880, .bytes = 1ull << 40 };
	scan_msg_set_text(&m, "Picket.Test.EICAR.UNOFFICIAL");
	return m;
}

/* The receiver's outputs hold these until a message is accepted. */
static void assert_untouched(const struct scan_msg *m, int fd)
{
	assert_int_equal(m->type, 0xdead);
	assert_int_equal(fd, -77);
}

static void expect_bad(struct pair *p)
{
	struct scan_msg got = { .type = 0xdead };
	int fd = -77;

	assert_int_equal(scan_msg_recv(p->b, &got, &fd), -EBADMSG);
	assert_untouched(&got, fd);
}

static void test_round_trip_without_fd(void **state)
{
	struct pair *p = *state;
	struct scan_msg m = sample(SCAN_MSG_VERDICT), got;
	int fd = -77;

	assert_int_equal(scan_msg_send(p->a, &m, -1), 0);
	assert_int_equal(scan_msg_recv(p->b, &got, &fd), 0);
	assert_int_equal(fd, -1);
	assert_memory_equal(&got, &m, sizeof(m));
}

static void test_every_type_round_trips(void **state)
{
	struct pair *p = *state;
	const uint32_t types[] = { SCAN_MSG_READY, SCAN_MSG_FAILED, SCAN_MSG_VERDICT, SCAN_MSG_PING,
				   SCAN_MSG_PONG };

	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		struct scan_msg m = sample(types[i]), got;
		assert_int_equal(scan_msg_send(p->a, &m, -1), 0);
		assert_int_equal(scan_msg_recv(p->b, &got, NULL), 0);
		assert_memory_equal(&got, &m, sizeof(m));
	}
}

static void test_round_trip_with_fd(void **state)
{
	struct pair *p = *state;
	struct scan_msg m = sample(SCAN_MSG_SCAN), got;
	struct stat sent, recvd;
	int file = scratch_file(), fd = -1;

	assert_int_equal(scan_msg_send(p->a, &m, file), 0);
	assert_int_equal(scan_msg_recv(p->b, &got, &fd), 0);
	assert_memory_equal(&got, &m, sizeof(m));
	assert_true(fd >= 0);
	assert_int_not_equal(fd, file);
	assert_int_equal(fstat(file, &sent), 0);
	assert_int_equal(fstat(fd, &recvd), 0);
	assert_int_equal(sent.st_dev, recvd.st_dev);
	assert_int_equal(sent.st_ino, recvd.st_ino);
	/* MSG_CMSG_CLOEXEC */
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	char buf[8] = "";
	assert_int_equal(pread(fd, buf, 7, 0), 7);
	assert_string_equal(buf, "scan me");
	close(fd);
	close(file);
}

static void test_null_ret_fd_closes_the_descriptor(void **state)
{
	struct pair *p = *state;
	struct scan_msg m = sample(SCAN_MSG_SCAN), got;
	int file = scratch_file();
	int before = open_fds();

	assert_int_equal(scan_msg_send(p->a, &m, file), 0);
	assert_int_equal(scan_msg_recv(p->b, &got, NULL), 0);
	assert_int_equal(open_fds(), before);
	close(file);
}

static void test_wrong_size_is_ebadmsg(void **state)
{
	struct pair *p = *state;
	struct scan_msg m = sample(SCAN_MSG_PING);
	char big[sizeof(struct scan_msg) + 1];

	send_raw(p->a, "0123456789", 10, NULL, 0);
	expect_bad(p);
	/* One byte more than a message: seen through MSG_TRUNC, not cut to fit. */
	memcpy(big, &m, sizeof(m));
	big[sizeof(m)] = 'x';
	send_raw(p->a, big, sizeof(big), NULL, 0);
	expect_bad(p);
	/* One byte less. */
	send_raw(p->a, &m, sizeof(m) - 1, NULL, 0);
	expect_bad(p);
	/* The stream goes on: the next good message is received. */
	assert_int_equal(scan_msg_send(p->a, &m, -1), 0);
	struct scan_msg got;
	assert_int_equal(scan_msg_recv(p->b, &got, NULL), 0);
	assert_int_equal(got.type, SCAN_MSG_PING);
}

static void test_wrong_size_with_fd_closes_it(void **state)
{
	struct pair *p = *state;
	int file = scratch_file();
	int before = open_fds();

	send_raw(p->a, "0123456789", 10, &file, 1);
	expect_bad(p);
	assert_int_equal(open_fds(), before);
	close(file);
}

static void test_unknown_type_is_ebadmsg(void **state)
{
	struct pair *p = *state;
	const uint32_t bad[] = { 0, SCAN_MSG_SIGSYS + 1, 0xffffffffu };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct scan_msg m = sample(SCAN_MSG_PING);
		m.type = bad[i];
		send_raw(p->a, &m, sizeof(m), NULL, 0);
		expect_bad(p);
	}
}

static void test_unterminated_text_is_ebadmsg(void **state)
{
	struct pair *p = *state;
	struct scan_msg m = sample(SCAN_MSG_VERDICT);

	memset(m.text, 'A', sizeof(m.text));
	send_raw(p->a, &m, sizeof(m), NULL, 0);
	expect_bad(p);
	/* A NUL in the last byte is enough. */
	m.text[sizeof(m.text) - 1] = '\0';
	send_raw(p->a, &m, sizeof(m), NULL, 0);
	struct scan_msg got;
	assert_int_equal(scan_msg_recv(p->b, &got, NULL), 0);
	assert_int_equal(strlen(got.text), sizeof(got.text) - 1);
}

static void test_two_fds_are_ebadmsg_without_leak(void **state)
{
	struct pair *p = *state;
	struct scan_msg m = sample(SCAN_MSG_SCAN);
	int files[2] = { scratch_file(), scratch_file() };
	int before = open_fds();

	send_raw(p->a, &m, sizeof(m), files, 2);
	expect_bad(p);
	assert_int_equal(open_fds(), before);

	/* More than the receiver has room for (8): MSG_CTRUNC, the kernel
	 * drops the rest; still refused, nothing left open. */
	int many[12];
	for (int i = 0; i < 12; i++)
		many[i] = files[i % 2];
	send_raw(p->a, &m, sizeof(m), many, 12);
	expect_bad(p);
	assert_int_equal(open_fds(), before);
	close(files[0]);
	close(files[1]);
}

static void test_fd_rules_per_type(void **state)
{
	struct pair *p = *state;
	int file = scratch_file();
	int before = open_fds();

	/* A PING with a descriptor: refused, and the descriptor closed. */
	struct scan_msg ping = sample(SCAN_MSG_PING);
	send_raw(p->a, &ping, sizeof(ping), &file, 1);
	expect_bad(p);
	assert_int_equal(open_fds(), before);
	/* A SCAN without one. */
	struct scan_msg scan = sample(SCAN_MSG_SCAN);
	send_raw(p->a, &scan, sizeof(scan), NULL, 0);
	expect_bad(p);
	close(file);
}

static void test_send_refuses_what_recv_rejects(void **state)
{
	struct pair *p = *state;
	struct scan_msg m = sample(SCAN_MSG_PING);
	int file = scratch_file();

	assert_int_equal(scan_msg_send(p->a, &m, file), -EINVAL);
	m.type = SCAN_MSG_SCAN;
	assert_int_equal(scan_msg_send(p->a, &m, -1), -EINVAL);
	m.type = 0;
	assert_int_equal(scan_msg_send(p->a, &m, -1), -EINVAL);
	m = sample(SCAN_MSG_VERDICT);
	memset(m.text, 'A', sizeof(m.text));
	assert_int_equal(scan_msg_send(p->a, &m, -1), -EINVAL);
	/* Nothing was sent. */
	assert_int_equal(fcntl(p->b, F_SETFL, O_NONBLOCK), 0);
	struct scan_msg got;
	assert_int_equal(scan_msg_recv(p->b, &got, NULL), -EAGAIN);
	close(file);
}

static void test_eof_is_econnreset(void **state)
{
	struct pair *p = *state;
	struct scan_msg got = { .type = 0xdead };
	int fd = -77;

	close(p->a);
	p->a = -1;
	assert_int_equal(scan_msg_recv(p->b, &got, &fd), -ECONNRESET);
	assert_untouched(&got, fd);
}

static void test_nonblocking_empty_is_eagain(void **state)
{
	struct pair *p = *state;
	struct scan_msg got = { .type = 0xdead };
	int fd = -77;

	assert_int_equal(fcntl(p->b, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(scan_msg_recv(p->b, &got, &fd), -EAGAIN);
	assert_untouched(&got, fd);
}

static void test_send_to_closed_peer_is_epipe(void **state)
{
	struct pair *p = *state;
	struct scan_msg m = sample(SCAN_MSG_PONG);

	/* MSG_NOSIGNAL: with SIGPIPE at its default this test would die. */
	signal(SIGPIPE, SIG_DFL);
	close(p->b);
	p->b = socket(AF_UNIX, SOCK_SEQPACKET, 0); /* for teardown */
	assert_int_equal(scan_msg_send(p->a, &m, -1), -EPIPE);
}

static void test_set_text(void **state)
{
	struct scan_msg m;
	char long_text[400];

	(void)state;
	memset(&m, 'x', sizeof(m));
	memset(long_text, 'n', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	scan_msg_set_text(&m, long_text);
	assert_int_equal(strlen(m.text), sizeof(m.text) - 1);
	scan_msg_set_text(&m, "short");
	assert_string_equal(m.text, "short");
	/* The rest is zeroed: nothing of an earlier text goes out. */
	for (size_t i = strlen("short"); i < sizeof(m.text); i++)
		assert_int_equal(m.text[i], 0);
	scan_msg_set_text(&m, NULL);
	assert_string_equal(m.text, "");
}

static void test_stage_names(void **state)
{
	(void)state;
	assert_string_equal(scan_stage_name(SCAN_STAGE_ARGS), "args");
	assert_string_equal(scan_stage_name(SCAN_STAGE_PRIVDROP), "privdrop");
	assert_string_equal(scan_stage_name(SCAN_STAGE_ENGINE_INIT), "engine-init");
	assert_string_equal(scan_stage_name(SCAN_STAGE_DEFS_LOAD), "defs-load");
	assert_string_equal(scan_stage_name(SCAN_STAGE_DEFS_EMPTY), "defs-empty");
	assert_string_equal(scan_stage_name(SCAN_STAGE_COMPILE), "compile");
	assert_string_equal(scan_stage_name(SCAN_STAGE_TMPDIR), "tmpdir");
	assert_string_equal(scan_stage_name(SCAN_STAGE_SANDBOX), "sandbox");
	assert_string_equal(scan_stage_name(0), "unknown");
	assert_string_equal(scan_stage_name(99), "unknown");
}


/* ------------------------------------------------- scan_msg_check */

static const struct scan_expect starting = { .starting = true };
static const struct scan_expect idle = { 0 };
static const struct scan_expect busy = { .inflight = true, .inflight_id = 42 };
static const struct scan_expect pinged = { .ping = true, .ping_id = 7 };

static struct scan_msg msg(uint32_t type, uint64_t id, int32_t result, const char *text)
{
	struct scan_msg m = { .type = type, .id = id, .result = result };
	scan_msg_set_text(&m, text);
	return m;
}

static struct scan_msg ready(uint32_t uid, const char *text)
{
	struct scan_msg m = { .type = SCAN_MSG_READY, .uid = uid, .gid = uid, .sigs = 2,
			      .flags = uid == 0 ? SCAN_READY_AS_ROOT : 0 };
	scan_msg_set_text(&m, text);
	return m;
}

/* check: 0 expected when want is NULL, else -EBADMSG and why == want. */
static void check(const struct scan_msg *m, const struct scan_expect *e, const char *want)
{
	char why[160] = "";
	int r = scan_msg_check(m, e, why, sizeof(why));

	if (!want) {
		if (r != 0)
			fail_msg("refused: %s", why);
		return;
	}
	assert_int_equal(r, -EBADMSG);
	assert_string_equal(why, want);
}

static void test_check_legal_messages(void **state)
{
	(void)state;
	struct scan_msg m = ready(990, "picket.cud 1");
	check(&m, &starting, NULL);
	m = ready(0, "picket.cud 1|scan user 'x' does not exist");
	check(&m, &starting, NULL);
	m = msg(SCAN_MSG_FAILED, 0, SCAN_STAGE_DEFS_LOAD, "Malformed database");
	m.code = 4;
	check(&m, &starting, NULL);
	m = msg(SCAN_MSG_VERDICT, 42, SCAN_CLEAN, "");
	m.usec = 10;
	m.bytes = 4096;
	check(&m, &busy, NULL);
	m = msg(SCAN_MSG_VERDICT, 42, SCAN_INFECTED, "Eicar-Signature");
	check(&m, &busy, NULL);
	m = msg(SCAN_MSG_VERDICT, 42, SCAN_LIMIT, "Heuristics.Limits.Exceeded.MaxFiles");
	check(&m, &busy, NULL);
	m = msg(SCAN_MSG_VERDICT, 42, SCAN_ERROR, "CL_EMEM");
	m.code = -12;
	check(&m, &busy, NULL);
	m = msg(SCAN_MSG_PONG, 7, 0, "");
	check(&m, &pinged, NULL);
	m = msg(SCAN_MSG_SIGSYS, 0, 96, "");
	m.code = (int32_t)0xc000003e;
	check(&m, &idle, NULL);
	check(&m, &starting, NULL);
	check(&m, &busy, NULL);
}

/* The state machine: what is legal in which state. */
static void test_check_out_of_turn(void **state)
{
	(void)state;
	struct scan_msg m = ready(990, "v");
	check(&m, &idle, "READY again while ready");
	check(&m, &busy, "READY again while ready");
	m = msg(SCAN_MSG_FAILED, 0, SCAN_STAGE_DEFS_LOAD, "gone");
	check(&m, &busy, "FAILED after READY");
	check(&m, &idle, "FAILED after READY");
	m = msg(SCAN_MSG_VERDICT, 42, SCAN_CLEAN, "");
	check(&m, &starting, "VERDICT before READY");
	check(&m, &idle, "VERDICT for request 42 while no file is in flight");
	m = msg(SCAN_MSG_VERDICT, 43, SCAN_INFECTED, "Eicar-Signature");
	check(&m, &busy, "VERDICT for request 43, not for the file in flight (42)");
	m = msg(SCAN_MSG_PONG, 7, 0, "");
	check(&m, &idle, "PONG 7 for no ping pending");
	check(&m, &starting, "PONG 7 for no ping pending");
	m = msg(SCAN_MSG_PONG, 8, 0, "");
	check(&m, &pinged, "PONG 8 for no ping pending");
	m = msg(SCAN_MSG_SCAN, 42, 0, "");
	check(&m, &busy, "message type 3 (SCAN) is not the scan service's");
	m = msg(SCAN_MSG_PING, 1, 0, "");
	check(&m, &idle, "message type 5 (PING) is not the scan service's");
	m = msg(99, 1, 0, "");
	check(&m, &idle, "message type 99 (?) is not the scan service's");
}

static void test_check_ranges_and_fields(void **state)
{
	(void)state;
	struct scan_msg m = msg(SCAN_MSG_VERDICT, 42, 7, "");
	check(&m, &busy, "VERDICT result 7 out of range");
	m.result = -1;
	check(&m, &busy, "VERDICT result -1 out of range");
	m = msg(SCAN_MSG_VERDICT, 42, SCAN_CLEAN, "Eicar-Signature");
	check(&m, &busy, "VERDICT clean with a code or a text");
	m = msg(SCAN_MSG_VERDICT, 42, SCAN_INFECTED, "");
	check(&m, &busy, "VERDICT infected with a code or without a name");
	m = msg(SCAN_MSG_VERDICT, 42, SCAN_LIMIT, "Eicar-Signature");
	check(&m, &busy, "VERDICT limit with a code or not named Heuristics.Limits.Exceeded.*");
	m = msg(SCAN_MSG_VERDICT, 42, SCAN_CLEAN, "");
	m.flags = 1;
	check(&m, &busy, "VERDICT with flags set");
	m.flags = 0;
	m.uid = 1;
	check(&m, &busy, "VERDICT with uid/gid/sigs set");
	m = msg(SCAN_MSG_FAILED, 0, 0, "x");
	check(&m, &starting, "FAILED stage 0 out of range");
	m.result = SCAN_STAGE_SANDBOX + 1;
	check(&m, &starting, "FAILED stage 9 out of range");
	m = msg(SCAN_MSG_FAILED, 3, SCAN_STAGE_ARGS, "x");
	check(&m, &starting, "FAILED with id set");
	m = msg(SCAN_MSG_PONG, 7, 0, "hello");
	check(&m, &pinged, "PONG with text set");
	m = msg(SCAN_MSG_PONG, 7, 1, "");
	check(&m, &pinged, "PONG with result set");
	m = msg(SCAN_MSG_SIGSYS, 0, -5, "");
	check(&m, &idle, "SIGSYS syscall -5 out of range");
	m = msg(SCAN_MSG_SIGSYS, 0, 96, "");
	m.usec = 1;
	check(&m, &idle, "SIGSYS with usec/bytes set");
}

static void test_check_ready_fields(void **state)
{
	(void)state;
	struct scan_msg m = ready(990, "v");
	m.flags = 0x2;
	check(&m, &starting, "READY flags 0x2 unknown");
	m = ready(990, "v");
	m.flags = SCAN_READY_AS_ROOT;
	check(&m, &starting, "READY uid 990 contradicts the as-root flag");
	m = ready(0, "v|why");
	m.flags = 0;
	check(&m, &starting, "READY uid 0 without the as-root flag");
	m = ready(990, "v");
	m.gid = 0;
	check(&m, &starting, "READY gid 0 as uid 990");
	m = ready(990, "v");
	m.sigs = 0;
	check(&m, &starting, "READY with no signature");
	m = ready(0, "v");
	check(&m, &starting, "READY text lacks the '|' of the as-root flag");
	m = ready(990, "v|x");
	check(&m, &starting, "READY text has the '|' of the as-root flag");
	m = ready(990, "v");
	m.id = 1;
	check(&m, &starting, "READY with id set");
}

/* Text: printable ASCII, and nothing hidden after the NUL. */
static void test_check_text(void **state)
{
	(void)state;
	struct scan_msg m = msg(SCAN_MSG_VERDICT, 42, SCAN_INFECTED, "Eicar\nfake log line");
	check(&m, &busy, "VERDICT text not printable ASCII ending in zeroes");
	m = msg(SCAN_MSG_VERDICT, 42, SCAN_INFECTED, "Eicar");
	m.text[100] = 'x';
	check(&m, &busy, "VERDICT text not printable ASCII ending in zeroes");
	m = msg(SCAN_MSG_VERDICT, 42, SCAN_INFECTED, "Eicar");
	m.text[2] = (char)0xc3;
	check(&m, &busy, "VERDICT text not printable ASCII ending in zeroes");
	memset(m.text, 'A', sizeof(m.text));
	check(&m, &busy, "VERDICT text not printable ASCII ending in zeroes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip_without_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_type_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_with_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_ret_fd_closes_the_descriptor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_size_is_ebadmsg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_size_with_fd_closes_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_type_is_ebadmsg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unterminated_text_is_ebadmsg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_fds_are_ebadmsg_without_leak, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_rules_per_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_refuses_what_recv_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof_is_econnreset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonblocking_empty_is_eagain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_to_closed_peer_is_epipe, setup, teardown),
		cmocka_unit_test(test_set_text),
		cmocka_unit_test(test_stage_names),
		cmocka_unit_test(test_check_legal_messages),
		cmocka_unit_test(test_check_out_of_turn),
		cmocka_unit_test(test_check_ranges_and_fields),
		cmocka_unit_test(test_check_ready_fields),
		cmocka_unit_test(test_check_text),
	};
	return cmocka_run_group_tests_name("scanproto", tests, NULL, NULL);
}
