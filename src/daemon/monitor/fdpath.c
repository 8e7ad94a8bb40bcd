/* fdpath.c - the path of an open file, also past PATH_MAX (see fdpath.h). */
#include "fdpath.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

/* statx flags that ask no filesystem anything (a FUSE server included) and
 * trigger no automount. */
#define QUIET_STATX (AT_STATX_DONT_SYNC | AT_NO_AUTOMOUNT | AT_SYMLINK_NOFOLLOW)

/* A path rebuilt from its end: the text is buf + at .. buf + len - 1, with
 * room kept at the front for FDPATH_ELIDED. */
struct tail {
	char *buf;
	size_t len, at;
	bool full; /* something was left out */
};

static size_t room(const struct tail *t)
{
	return t->at - (sizeof(FDPATH_ELIDED) - 1);
}

/* Puts s in front; when it does not fit, the end of s from a '/' on (a
 * whole component), and the tail is full: nothing more goes in front. */
static void prepend(struct tail *t, const char *s)
{
	size_t n = strlen(s);
	if (t->full)
		return;
	if (n > room(t)) {
		const char *cut = strchr(s + n - room(t), '/');
		n = cut ? strlen(cut) : 0;
		s = cut;
		t->full = true;
	}
	if (!n)
		return;
	t->at -= n;
	memcpy(t->buf + t->at, s, n);
}

int fdpath_kernel(int fd, char *buf, size_t len)
{
	char link[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, buf, len - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= len - 1)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

static int quiet_statx(int dfd, const char *name, unsigned mask, struct statx *ret)
{
	int flags = QUIET_STATX | (name[0] ? 0 : AT_EMPTY_PATH);
	if (statx(dfd, name, flags, mask, ret) < 0)
		return -errno;
	return 0;
}

static bool same_inode(const struct statx *a, const struct statx *b)
{
	return a->stx_ino == b->stx_ino && a->stx_dev_major == b->stx_dev_major &&
	       a->stx_dev_minor == b->stx_dev_minor;
}

/* The name under which directory dfd holds the inode of want (not "." or
 * ".."), in name (NAME_MAX + 1 bytes): 0 or -errno (-ENOENT: none).  The
 * entries' inode numbers first; where a filesystem reports others there
 * (overlayfs), each entry is looked at. */
static int name_in(int dfd, const struct statx *want, char *name)
{
	for (int pass = 0; pass < 2; pass++) {
		int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return -errno;
		_cleanup_closedir_ DIR *d = fdopendir(fd);
		if (!d) {
			close(fd);
			return -errno;
		}
		struct dirent *e;
		size_t seen = 0;
		while ((e = readdir(d)) && seen++ < FDPATH_MAX_ENTRIES) {
			struct statx stx;
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			if (pass == 0 && e->d_ino != want->stx_ino)
				continue;
			if (quiet_statx(fd, e->d_name, STATX_INO, &stx) == 0 && same_inode(&stx, want)) {
				snprintf(name, NAME_MAX + 1, "%s", e->d_name);
				return 0;
			}
		}
	}
	return -ENOENT;
}

/* Directory cur's parent, as an O_PATH descriptor, and cur's name there:
 * the parent's descriptor, or -errno (-EXDEV: cur is the root of its
 * mount, whose parent is another filesystem). */
static int up(int cur, char *name)
{
	struct statx me, parent;
	int r = quiet_statx(cur, "", STATX_INO | STATX_MNT_ID, &me);
	if (r < 0)
		return r;
	_cleanup_close_ int pfd = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	r = quiet_statx(pfd, "", STATX_INO | STATX_MNT_ID, &parent);
	if (r < 0)
		return r;
	if (parent.stx_mnt_id != me.stx_mnt_id || same_inode(&parent, &me))
		return -EXDEV;
	r = name_in(pfd, &me, name);
	if (r < 0)
		return r;
	return TAKE_FD(pfd);
}

int fdpath_dir(int dfd, const char *name, char *buf, size_t len, bool *ret_complete)
{
	struct tail t = { .buf = buf, .len = len, .at = len - 1 };
	char dir[PATH_MAX], comp[NAME_MAX + 1];
	int r;

	if (len < 16)
		return -ENOBUFS;
	buf[len - 1] = '\0';
	if (name) {
		prepend(&t, name);
		prepend(&t, "/");
	}
	_cleanup_close_ int cur = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return -errno;
	while (!t.full) {
		r = fdpath_kernel(cur, dir, sizeof(dir));
		if (r == 0) {
			/* "/" followed by "/name" is "/name". */
			if (strcmp(dir, "/") != 0 || t.at == len - 1)
				prepend(&t, dir);
			break;
		}
		if (r != -ENAMETOOLONG)
			return r;
		int parent = up(cur, comp);
		if (parent < 0) {
			t.full = true; /* the front cannot be told */
			break;
		}
		closep(&cur);
		cur = parent;
		prepend(&t, comp);
		prepend(&t, "/");
	}
	if (t.full) {
		t.at -= sizeof(FDPATH_ELIDED) - 1;
		memcpy(buf + t.at, FDPATH_ELIDED, sizeof(FDPATH_ELIDED) - 1);
	}
	memmove(buf, buf + t.at, len - t.at);
	*ret_complete = !t.full;
	return 0;
}

int fdpath_file(int fd, int dir_hint, char *buf, size_t len, bool *ret_complete)
{
	char name[NAME_MAX + 1];
	struct statx me, hint;
	int r = fdpath_kernel(fd, buf, len);
	if (r == 0) {
		*ret_complete = true;
		return 0;
	}
	if (r != -ENAMETOOLONG || dir_hint < 0)
		return r;
	/* The hint is read only on the file's own filesystem. */
	if (quiet_statx(fd, "", STATX_INO, &me) < 0 ||
	    quiet_statx(dir_hint, "", STATX_INO, &hint) < 0 ||
	    hint.stx_dev_major != me.stx_dev_major || hint.stx_dev_minor != me.stx_dev_minor ||
	    name_in(dir_hint, &me, name) < 0)
		return -ENAMETOOLONG;
	return fdpath_dir(dir_hint, name, buf, len, ret_complete);
}
