/* fake-scand - a scan service that misbehaves, for the end-to-end tests of
 * picketd's supervisor (tests/e2e/adversarial_scand.bats): what a
 * picket-scand taken over by a hostile file could send.
 *
 * picketd starts it with --scand in place of picket-scand.  It answers READY
 * (as uid/gid 65534, or as root for "escape") and PING like the real one; at the first SCAN (or right
 * after READY for "unsolicited") it does what FAKE_SCAND_MODE says:
 *   verdict-range    a VERDICT with result 7
 *   failed-inflight  FAILED while the file is in flight
 *   second-ready     READY again
 *   wrong-id         INFECTED for another request id
 *   unsolicited      INFECTED while no file is in flight
 *   sigsys           picket-scand's sandbox, then getuid(): its filter stops it
 *   escape           stays root without capabilities (the fault 5 fallback), takes
 *                    picket-scand's sandbox and tries to write, create, unlink,
 *                    chmod and then rename FAKE_SCAND_VICTIM; what each got goes
 *                    to stderr, the rename is trapped
 * and then waits for picketd to end it.  At its start it creates the file
 * FAKE_SCAND_ONCE; when that file exists (the restart), and for --test-load,
 * it executes the real service, FAKE_SCAND_REAL, instead. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"
#include "scanproto.h"

#define NOBODY 65534

static void send_or_die(const struct scan_msg *m)
{
	int r = scan_msg_send(SCAN_FD, m, -1);

	if (r < 0) {
		fprintf(stderr, "fake-scand: send: %s\n", strerror(-r));
		exit(3);
	}
}

static void become_real(char **argv)
{
	const char *real = getenv("FAKE_SCAND_REAL");

	if (!real) {
		fprintf(stderr, "fake-scand: FAKE_SCAND_REAL is not set\n");
		exit(2);
	}
	argv[0] = (char *)real;
	execv(real, argv);
	fprintf(stderr, "fake-scand: %s: %s\n", real, strerror(errno));
	exit(2);
}

static struct scan_msg ready_msg(void)
{
	struct scan_msg m = { .type = SCAN_MSG_READY, .uid = NOBODY, .gid = NOBODY, .sigs = 1 };

	scan_msg_set_text(&m, "fake-scand 1");
	return m;
}

static const char *outcome(long r)
{
	return r < 0 ? strerrorname_np(errno) : "done";
}

/* What a taken-over root service would try first: the victim's content,
 * a new file beside it, its name, its mode, a directory. */
static void escape(const char *tmpdir)
{
	const char *victim = getenv("FAKE_SCAND_VICTIM");
	char beside[PATH_MAX], moved[PATH_MAX];

	if (!victim || sandbox_apply(tmpdir) < 0)
		exit(1);
	snprintf(beside, sizeof(beside), "%s.new", victim);
	snprintf(moved, sizeof(moved), "%s.moved", victim);
	fprintf(stderr, "fake-scand escape: write=%s", outcome(open(victim, O_WRONLY | O_TRUNC)));
	fprintf(stderr, " create=%s", outcome(open(beside, O_WRONLY | O_CREAT | O_EXCL, 0644)));
	fprintf(stderr, " unlink=%s", outcome(unlink(victim)));
	fprintf(stderr, " chmod=%s", outcome(chmod(victim, 04777)));
	fprintf(stderr, " mkdir=%s\n", outcome(mkdir(moved, 0755)));
	rename(victim, moved);
	exit(4); /* not reached: the filter stops rename */
}

/* argv's value of --tmpdir, as picketd passes it. */
static const char *tmpdir_arg(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--tmpdir"))
			return argv[i + 1];
	return NULL;
}

/* Root, but no capability left: what picket-scand is when the scan user
 * is unusable. */
static void drop_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };

	for (int c = 0; c <= CAP_LAST_CAP; c++)
		prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	if (syscall(SYS_capset, &h, d) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		fprintf(stderr, "fake-scand: dropping capabilities: %s\n", strerror(errno));
		exit(1);
	}
}

/* The misbehaviour of mode for the request req (NULL: none in flight). */
static void misbehave(const char *mode, const struct scan_msg *req)
{
	struct scan_msg m = { .type = SCAN_MSG_VERDICT, .id = req ? req->id : 1 };

	if (!strcmp(mode, "verdict-range")) {
		m.result = 7;
	} else if (!strcmp(mode, "failed-inflight")) {
		m = (struct scan_msg){ .type = SCAN_MSG_FAILED, .result = SCAN_STAGE_DEFS_LOAD };
		scan_msg_set_text(&m, "fake: definitions gone");
	} else if (!strcmp(mode, "second-ready")) {
		m = ready_msg();
	} else if (!strcmp(mode, "wrong-id") || !strcmp(mode, "unsolicited")) {
		m.id = req ? req->id + 1 : 1;
		m.result = SCAN_INFECTED;
		scan_msg_set_text(&m, "Fake.Not.In.Flight");
	} else if (!strcmp(mode, "sigsys")) {
		if (sandbox_apply(NULL) < 0)
			exit(1);
		syscall(SYS_getuid);
		exit(4); /* not reached: the filter stops getuid */
	} else {
		fprintf(stderr, "fake-scand: unknown FAKE_SCAND_MODE '%s'\n", mode);
		exit(2);
	}
	send_or_die(&m);
}

int main(int argc, char **argv)
{
	const char *mode = getenv("FAKE_SCAND_MODE");
	const char *once = getenv("FAKE_SCAND_ONCE");

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--test-load"))
			become_real(argv);
	if (!mode || (once && access(once, F_OK) == 0))
		become_real(argv);
	int fd = once ? open(once, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) : -1;
	if (fd >= 0)
		close(fd);

	bool as_root = !strcmp(mode, "escape");
	struct scan_msg ready = ready_msg();
	if (as_root) {
		drop_caps();
		ready.uid = ready.gid = 0;
		ready.flags = SCAN_READY_AS_ROOT;
		scan_msg_set_text(&ready, "fake-scand 1|fake-scand stays root");
	} else if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		   setresuid(NOBODY, NOBODY, NOBODY) < 0 ||
		   prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		/* As the real one does: never root, never a way back. */
		fprintf(stderr, "fake-scand: dropping to %d: %s\n", NOBODY, strerror(errno));
		return 1;
	}
	send_or_die(&ready);
	if (!strcmp(mode, "unsolicited"))
		misbehave(mode, NULL);
	for (;;) {
		struct scan_msg m;
		int fd = -1, r = scan_msg_recv(SCAN_FD, &m, &fd);

		if (r < 0)
			return r == -ECONNRESET ? 0 : 3;
		if (fd >= 0)
			close(fd);
		if (m.type == SCAN_MSG_PING)
			send_or_die(&(struct scan_msg){ .type = SCAN_MSG_PONG, .id = m.id });
		else if (m.type == SCAN_MSG_SCAN && as_root)
			escape(tmpdir_arg(argc, argv));
		else if (m.type == SCAN_MSG_SCAN)
			misbehave(mode, &m);
	}
}
