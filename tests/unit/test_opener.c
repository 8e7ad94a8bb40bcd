/* Unit tests of src/daemon/core/opener.c: what a child with a client's
 * credentials opens and refuses, the removability it reports, the walk's
 * grants, the credentials and descriptors the child keeps, and every
 * malformed message refused by the receiver. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "core/opener.h"

#define NOBODY 65534
#define EXTRA_GID 4242 /* a supplementary group nobody has */

static const struct opener_creds nobody = { .uid = NOBODY, .gid = NOBODY };

/* The next message, waiting for it (at most 5 s). */
static int next(struct opener *o, struct opener_item *it)
{
	for (int i = 0; i < 500; i++) {
		int r = opener_next(o, it);
		if (r != 0)
			return r;
		struct pollfd p = { .fd = o->fd, .events = POLLIN };
		poll(&p, 1, 10);
	}
	return 0;
}

/* Walk results as "KIND path[ r]" lines (r: removable), sorted by the walk. */
static void walk_lines(const struct opener_creds *c, char *const *paths, opener_skip_fn skip,
		       char *out, size_t len)
{
	struct opener o;
	struct opener_item it;
	size_t used = 0;

	assert_int_equal(opener_walk(&o, c, paths, skip, NULL), 0);
	assert_int_equal(opener_want(&o, 1000), 0);
	out[0] = '\0';
	for (;;) {
		assert_int_equal(next(&o, &it), 1);
		if (it.kind == OPENER_END)
			break;
		const char *k = it.kind == OPENER_FILE	  ? "FILE"
				: it.kind == OPENER_ERROR ? "ERROR"
							  : "SKIPPED";
		used += snprintf(out + used, len - used, "%s %s%s%s\n", k, it.path,
				 it.kind == OPENER_ERROR ? " " : "",
				 it.kind == OPENER_ERROR ? strerror(-it.err)
				 : (it.flags & OPENER_REMOVABLE) ? " r"
								 : "");
		if (it.kind == OPENER_FILE) {
			assert_true(it.fd >= 0);
			assert_int_equal(it.dirfd, -1);
		}
		opener_item_close(&it);
	}
	opener_stop(&o);
}

static bool skip_excluded(const char *path, void *ud)
{
	(void)ud;
	return strstr(path, "excluded") != NULL;
}

static void test_walk_grants_and_skips(void **state)
{
	const char *dir = *state;
	struct opener_creds me = { 0 };
	struct opener o;
	struct opener_item it;
	char out[4096], want[4096];

	tu_write(dir, "a", "a");
	tu_write(dir, "sub/b", "b");
	tu_write(dir, "excluded/c", "c");
	tu_write(dir, "excluded-file", "d");
	assert_int_equal(mkfifo(tu_path(dir, "fifo"), 0644), 0);
	assert_int_equal(symlink("a", tu_path(dir, "link")), 0);
	const char *rel[] = { "excluded", "excluded-file", "a", "sub", "fifo", "link" };
	char *copy[7];
	for (int i = 0; i < 6; i++)
		copy[i] = strdup(tu_path(dir, rel[i]));
	copy[6] = NULL;

	/* Without a grant, no file comes: only what needs none. */
	assert_int_equal(opener_walk(&o, &me, copy, skip_excluded, NULL), 0);
	assert_int_equal(next(&o, &it), 1);
	assert_int_equal(it.kind, OPENER_SKIPPED);
	assert_string_equal(it.path, copy[0]);
	assert_int_equal(next(&o, &it), 1);
	assert_int_equal(it.kind, OPENER_SKIPPED);
	assert_string_equal(it.path, copy[1]);
	usleep(100 * 1000);
	assert_int_equal(opener_next(&o, &it), 0);
	assert_int_equal(opener_want(&o, 1), 0);
	assert_int_equal(next(&o, &it), 1);
	assert_int_equal(it.kind, OPENER_FILE);
	assert_string_equal(it.path, copy[2]);
	opener_item_close(&it);
	usleep(100 * 1000);
	assert_int_equal(opener_next(&o, &it), 0); /* sub/b waits for the next grant */
	opener_stop(&o);
	opener_stop(&o); /* harmless twice */
	assert_int_equal(opener_next(&o, &it), -EPIPE);

	/* In the roots' order; FIFOs and symlinks are no files to open.  Root
	 * may remove anything. */
	walk_lines(&me, copy, skip_excluded, out, sizeof(out));
	snprintf(want, sizeof(want), "SKIPPED %s\nSKIPPED %s\nFILE %s r\nFILE %s/b r\n", copy[0],
		 copy[1], copy[2], copy[3]);
	assert_string_equal(out, want);
	for (int i = 0; i < 6; i++)
		free(copy[i]);
}

/* Writes a message as a child would, with fds attached. */
static void send_raw(int fd, const void *data, size_t len, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)data, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds) {
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	assert_true(sendmsg(fd, &mh, 0) == (ssize_t)len);
}

struct raw {
	uint32_t kind;
	int32_t err;
	uint32_t flags;
	uint32_t path_len;
	char path[32];
};

static int count_fds(void)
{
	return tu_count_entries("/proc/self/fd");
}

/* The receiver trusts no byte of the child's: any user can run this one. */
static void test_malformed_messages_refused(void **state)
{
	const char *dir = *state;
	int sv[2], pipefd[2];
	struct opener_item it;

	tu_write(dir, "f", "x");
	_cleanup_close_ int file = open(tu_path(dir, "f"), O_RDONLY | O_CLOEXEC);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	struct opener o = { .pid = 0, .fd = sv[0], .nfds = 1 };
	assert_int_equal(fcntl(o.fd, F_SETFL, O_NONBLOCK), 0);
	int before = count_fds();
	int two[2] = { file, file };

	struct raw ok = { OPENER_FILE, 0, OPENER_REMOVABLE, 2, "/f" };
	const struct {
		struct raw m;
		size_t len;
		const int *fds;
		size_t nfds;
	} bad[] = {
		{ ok, 3, &file, 1 },                                   /* shorter than a header */
		{ ok, 16 + 1, &file, 1 },                              /* path_len says 2, 1 came */
		{ ok, 16 + 3, &file, 1 },                              /* 1 more than path_len */
		{ { 99, 0, 0, 2, "/f" }, 18, NULL, 0 },                /* no such kind */
		{ ok, 18, NULL, 0 },                                   /* a file without its fd */
		{ ok, 18, two, 2 },                                    /* one fd too many */
		{ ok, 18, &pipefd[0], 1 },                             /* not a regular file */
		{ { OPENER_FILE, 0, 0x80, 2, "/f" }, 18, &file, 1 },   /* unknown flag */
		{ { OPENER_ERROR, 0, 0, 2, "/f" }, 18, NULL, 0 },      /* an error without errno */
		{ { OPENER_ERROR, 5000, 0, 2, "/f" }, 18, NULL, 0 },   /* no such errno */
		{ { OPENER_ERROR, EACCES, 0, 2, "/f" }, 18, &file, 1 },/* an error with an fd */
		{ { OPENER_END, 0, 0, 2, "\0f" }, 18, NULL, 0 },       /* a NUL in the path */
		{ { OPENER_END, 0, 0, 4096, "" }, 16, NULL, 0 },       /* path_len too long */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		send_raw(sv[1], &bad[i].m, bad[i].len, bad[i].fds, bad[i].nfds);
		assert_int_equal(opener_next(&o, &it), -EPROTO);
		/* No descriptor of a refused message stays open. */
		assert_int_equal(count_fds(), before);
	}
	send_raw(sv[1], &ok, 18, &file, 1);
	assert_int_equal(opener_next(&o, &it), 1);
	assert_int_equal(it.kind, OPENER_FILE);
	assert_string_equal(it.path, "/f");
	assert_int_equal(it.flags, OPENER_REMOVABLE);
	opener_item_close(&it);
	struct raw err = { OPENER_ERROR, EACCES, 0, 2, "/f" };
	send_raw(sv[1], &err, 18, NULL, 0);
	assert_int_equal(opener_next(&o, &it), 1);
	assert_int_equal(it.err, -EACCES);
	assert_int_equal(opener_next(&o, &it), 0);
	/* A child gone with grants it never read resets the connection:
	 * that is an early end like any other. */
	assert_int_equal(opener_want(&o, 1), 0);
	close(sv[1]);
	assert_int_equal(opener_next(&o, &it), -EPIPE);
	close(pipefd[0]);
	close(pipefd[1]);
	opener_stop(&o);
}

static void make(const char *dir, const char *rel, uid_t uid, mode_t mode)
{
	tu_write(dir, rel, "content\n");
	assert_int_equal(chown(tu_path(dir, rel), uid, uid), 0);
	assert_int_equal(chmod(tu_path(dir, rel), mode), 0);
}

static void make_dir(const char *dir, const char *rel, uid_t uid, mode_t mode)
{
	tu_mkdir(dir, rel);
	assert_int_equal(chown(tu_path(dir, rel), uid, uid), 0);
	assert_int_equal(chmod(tu_path(dir, rel), mode), 0);
}

static void test_walk_as_nobody(void **state)
{
	const char *dir = *state;
	char out[4096], want[4096];

	assert_int_equal(chmod(dir, 0755), 0);
	make_dir(dir, "root", 0, 0755);
	make(dir, "root/public", 0, 0644);
	make(dir, "root/secret", 0, 0600);
	make_dir(dir, "root/private", 0, 0700);
	make(dir, "root/private/x", 0, 0644);
	make_dir(dir, "mine", NOBODY, 0755);
	make(dir, "mine/roots", 0, 0644);
	make_dir(dir, "sticky", 0, 01777);
	make(dir, "sticky/roots", 0, 0644);
	make(dir, "sticky/own", NOBODY, 0644);
	make_dir(dir, "sticky-own", NOBODY, 01755);
	make(dir, "sticky-own/roots", 0, 0644);
	char *paths[] = { strdup(tu_path(dir, "root/public")), strdup(tu_path(dir, "root/secret")),
			  strdup(tu_path(dir, "root/private")), strdup(tu_path(dir, "mine")),
			  strdup(tu_path(dir, "sticky/roots")), strdup(tu_path(dir, "sticky/own")),
			  strdup(tu_path(dir, "sticky-own")), NULL };

	walk_lines(&nobody, paths, NULL, out, sizeof(out));
	snprintf(want, sizeof(want),
		 "FILE %s/root/public\n"
		 "ERROR %s/root/secret Permission denied\n"
		 "ERROR %s/root/private Permission denied\n"
		 "FILE %s/mine/roots r\n"
		 "FILE %s/sticky/roots\n"
		 "FILE %s/sticky/own r\n"
		 "FILE %s/sticky-own/roots r\n",
		 dir, dir, dir, dir, dir, dir, dir);
	if (strlen(out) != strlen(want))
		fail_msg("walked:\n%swant:\n%s", out, want);
	for (char *line = strtok(want, "\n"); line; line = strtok(NULL, "\n"))
		if (!strstr(out, line))
			fail_msg("missing '%s' in:\n%s", line, out);
	for (int i = 0; paths[i]; i++)
		free(paths[i]);
}

static void status_line(pid_t pid, const char *field, char *out, size_t len)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0 && line[strlen(field)] == ':') {
			char *v = line + strlen(field) + 1;
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(out, len, "%s", v);
		}
	fclose(f);
}

/* The child holds nothing of ours but its socket, and no way back to root. */
static void test_child_keeps_nothing(void **state)
{
	const char *dir = *state;
	struct opener_creds c = { .uid = NOBODY, .gid = NOBODY, .n_groups = 1,
				  .groups = { EXTRA_GID } };
	struct opener o;
	struct opener_item it;
	char v[256], fddir[64];

	assert_int_equal(chmod(dir, 0755), 0);
	make(dir, "f", 0, 0644);
	_cleanup_close_ int mine = open(dir, O_RDONLY | O_DIRECTORY); /* not to be inherited */
	char *paths[] = { strdup(tu_path(dir, "f")), NULL };
	assert_true(mine >= 0);
	assert_int_equal(opener_walk(&o, &c, paths, NULL, NULL), 0);
	/* The child waits for a grant: look at it. */
	usleep(200 * 1000);
	status_line(o.pid, "Uid", v, sizeof(v));
	assert_string_equal(v, "65534\t65534\t65534\t65534");
	status_line(o.pid, "Gid", v, sizeof(v));
	assert_string_equal(v, "65534\t65534\t65534\t65534");
	status_line(o.pid, "Groups", v, sizeof(v));
	assert_string_equal(v, "4242 ");
	status_line(o.pid, "CapEff", v, sizeof(v));
	assert_string_equal(v, "0000000000000000");
	status_line(o.pid, "CapPrm", v, sizeof(v));
	assert_string_equal(v, "0000000000000000");
	snprintf(fddir, sizeof(fddir), "/proc/%d/fd", (int)o.pid);
	_cleanup_closedir_ DIR *d = opendir(fddir);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			assert_true(atoi(de->d_name) <= 3);
	assert_int_equal(opener_want(&o, 1), 0);
	assert_int_equal(next(&o, &it), 1);
	assert_int_equal(it.kind, OPENER_FILE);
	opener_item_close(&it);
	assert_int_equal(next(&o, &it), 1);
	assert_int_equal(it.kind, OPENER_END);
	opener_stop(&o);
	free(paths[0]);
}

static void test_run_open(void **state)
{
	const char *dir = *state;
	struct opener_item it[6];
	struct stat a, b;

	assert_int_equal(chmod(dir, 0755), 0);
	make(dir, "public.cvd", 0, 0644);
	make(dir, "secret.cvd", 0, 0600);
	assert_int_equal(symlink("public.cvd", tu_path(dir, "link.cvd")), 0);
	assert_int_equal(mkfifo(tu_path(dir, "fifo.cvd"), 0666), 0);
	char *p[6];
	const char *rel[] = { "public.cvd", "secret.cvd", "link.cvd", "fifo.cvd", "missing.cvd" };
	for (int i = 0; i < 5; i++)
		p[i] = strdup(tu_path(dir, rel[i]));
	p[5] = strdup("relative.cvd");

	assert_int_equal(opener_run(&nobody, OPENER_OPEN, (const char *const *)p, 6, it), 0);
	assert_int_equal(it[0].kind, OPENER_FILE);
	assert_int_equal(fstat(it[0].fd, &a), 0);
	assert_int_equal(fstatat(it[0].dirfd, "public.cvd", &b, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(a.st_ino == b.st_ino && S_ISREG(a.st_mode));
	const int want[] = { 0, -EACCES, -ELOOP, -EINVAL, -ENOENT, -EINVAL };
	for (int i = 1; i < 6; i++) {
		assert_int_equal(it[i].kind, OPENER_ERROR);
		assert_int_equal(it[i].err, want[i]);
		assert_int_equal(it[i].fd, -1);
	}
	for (int i = 0; i < 6; i++) {
		opener_item_close(&it[i]);
		free(p[i]);
	}
	/* Root keeps its reach. */
	const char *secret[] = { tu_path(dir, "secret.cvd") };
	struct opener_creds root = { 0 };
	assert_int_equal(opener_run(&root, OPENER_OPEN, secret, 1, it), 0);
	assert_int_equal(it[0].kind, OPENER_FILE);
	opener_item_close(&it[0]);
}

static void test_run_may_replace(void **state)
{
	const char *dir = *state;
	struct opener_item it[6];

	assert_int_equal(chmod(dir, 0755), 0);
	make_dir(dir, "mine", NOBODY, 0755);
	make_dir(dir, "roots", 0, 0755);
	make_dir(dir, "sticky", 0, 01777);
	make(dir, "sticky/roots", 0, 0644);
	make(dir, "sticky/own", NOBODY, 0644);
	const char *rel[] = { "mine/new", "roots/new", "sticky/roots", "sticky/own", "sticky/new",
			      "gone/new" };
	char *p[6];
	for (int i = 0; i < 6; i++)
		p[i] = strdup(tu_path(dir, rel[i]));

	assert_int_equal(opener_run(&nobody, OPENER_MAY_REPLACE, (const char *const *)p, 6, it), 0);
	const int want[] = { 0, -EACCES, -EPERM, 0, 0, -ENOENT };
	for (int i = 0; i < 6; i++) {
		assert_int_equal(it[i].kind, want[i] ? OPENER_ERROR : OPENER_OK);
		assert_int_equal(it[i].err, want[i]);
		free(p[i]);
	}
}

static void *blocker(void *arg)
{
	int *fds = arg;
	char c;
	(void)!read(fds[0], &c, 1);
	return NULL;
}

/* picketd has threads (the fanotify permission thread): the child of a
 * threaded process still drops and opens. */
static void test_opener_in_threaded_process(void **state)
{
	const char *dir = *state;
	int fds[2];
	pthread_t t;
	struct opener_item it;

	assert_int_equal(chmod(dir, 0755), 0);
	make(dir, "secret", 0, 0600);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(pthread_create(&t, NULL, blocker, fds), 0);
	const char *p[] = { tu_path(dir, "secret") };
	for (int i = 0; i < 20; i++) {
		assert_int_equal(opener_run(&nobody, OPENER_OPEN, p, 1, &it), 0);
		assert_int_equal(it.err, -EACCES);
	}
	assert_int_equal(write(fds[1], "x", 1), 1);
	pthread_join(t, NULL);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_malformed_messages_refused, tu_tmpdir_setup,
						tu_tmpdir_teardown),
	};
	/* Only root can take another user's credentials, as picketd does. */
	const struct CMUnitTest root_only[] = {
		cmocka_unit_test_setup_teardown(test_walk_grants_and_skips, tu_tmpdir_setup,
						tu_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_walk_as_nobody, tu_tmpdir_setup,
						tu_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_child_keeps_nothing, tu_tmpdir_setup,
						tu_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_run_open, tu_tmpdir_setup, tu_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_run_may_replace, tu_tmpdir_setup,
						tu_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_opener_in_threaded_process, tu_tmpdir_setup,
						tu_tmpdir_teardown),
	};
	return TU_RUN("opener", tests, root_only);
}
