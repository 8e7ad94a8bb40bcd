#include "defs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "cvd.h"
#include "fileio.h"
#include "log.h"

#define SETS "sets"
#define STAGING "staging"
#define REJECTED "rejected"
#define INCOMING "incoming"
#define SOURCE_XATTR "user.picket.source"
#define ACTIVE "active"
#define LKG "last-known-good"
#define STAGED_IN "in" /* staging/in: the copies of the inputs */
#define NAME_MAX_LEN 128

/* --- small helpers */

static void unlockp(int *fd)
{
	if (*fd >= 0)
		flock(*fd, LOCK_UN);
}
#define _cleanup_unlock_ _cleanup_(unlockp)

static int lock(const struct defs *d)
{
	return flock(d->fd, LOCK_EX) < 0 ? -errno : d->fd;
}

static void set_text(char *dst, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_text(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
}

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || c == '+';
}

/* A name safe to keep in the store: [A-Za-z0-9._+-], not starting with '.',
 * at most NAME_MAX_LEN characters.  Others are copied with '_' for bad bytes. */
static bool sanitize_name(const char *name, char out[NAME_MAX_LEN + 1])
{
	size_t len = strlen(name), k = 0;
	bool ok = len > 0 && len <= NAME_MAX_LEN && name[0] != '.';

	if (name[0] == '.' || len == 0)
		out[k++] = '_';
	for (size_t i = 0; i < len && k < NAME_MAX_LEN; i++) {
		ok = ok && name_char_ok(name[i]);
		out[k++] = name_char_ok(name[i]) ? name[i] : '_';
	}
	out[k] = '\0';
	return ok;
}

static size_t stem_len(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot ? (size_t)(dot - name) : strlen(name);
}

static bool same_db(const char *a, const char *b)
{
	size_t la = stem_len(a);
	return la == stem_len(b) && strncmp(a, b, la) == 0;
}

static int ensure_dir(int dfd, const char *name, mode_t mode)
{
	struct stat st;

	if (mkdirat(dfd, name, mode) < 0 && errno != EEXIST)
		return -errno;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((st.st_mode & 07777) != mode && fchmodat(dfd, name, mode, 0) < 0)
		return -errno;
	return 0;
}

static int open_dir_at(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Removes name below dfd and, if a directory, what it holds (depth levels
 * deep at most).  Never follows symlinks. */
static int rm_tree(int dfd, const char *name, int depth)
{
	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if ((errno != EISDIR && errno != EPERM) || depth <= 0)
		return -errno;
	int fd = open_dir_at(dfd, name);
	if (fd < 0)
		return fd;
	_cleanup_closedir_ DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			rm_tree(dirfd(dir), de->d_name, depth - 1);
	return unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
}

static int clear_dir(int dfd, const char *name)
{
	int fd = open_dir_at(dfd, name);
	if (fd < 0)
		return fd;
	_cleanup_closedir_ DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	int r = 0;
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			int k = rm_tree(dirfd(dir), de->d_name, 3);
			if (k < 0 && r == 0)
				r = k;
		}
	return r;
}

/* --- the symlinks */

/* The set id a symlink names ("sets/<id>"): -ENOENT if there is no link,
 * -EUCLEAN if it is not one of ours. */
static int read_link(int dfd, const char *link, char id[64])
{
	char buf[PATH_MAX], clean[NAME_MAX_LEN + 1];
	ssize_t k = readlinkat(dfd, link, buf, sizeof(buf) - 1);

	if (k < 0)
		return errno == EINVAL ? -EUCLEAN : -errno;
	buf[k] = '\0';
	if (strncmp(buf, SETS "/", strlen(SETS "/")) != 0)
		return -EUCLEAN;
	const char *s = buf + strlen(SETS "/");
	if (!sanitize_name(s, clean) || strlen(s) >= 64)
		return -EUCLEAN;
	snprintf(id, 64, "%s", s);
	return 0;
}

/* link := sets/<id>, atomically: a temporary symlink renamed over the old. */
static int switch_link(int dfd, const char *link, const char *id)
{
	char tmp[64], target[128];

	snprintf(tmp, sizeof(tmp), ".%s.tmp", link);
	snprintf(target, sizeof(target), SETS "/%s", id);
	if (unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT)
		return -errno;
	if (symlinkat(target, dfd, tmp) < 0)
		return -errno;
	if (renameat(dfd, tmp, dfd, link) < 0) {
		int r = -errno;
		unlinkat(dfd, tmp, 0);
		return r;
	}
	return fsync(dfd) < 0 ? -errno : 0;
}

/* Removes every set that neither active nor last-known-good names. */
static int prune_sets(struct defs *d)
{
	char active[64] = "", lkg[64] = "";
	int r;

	r = read_link(d->fd, ACTIVE, active);
	if (r < 0 && r != -ENOENT)
		return r; /* not sure what is in use: remove nothing */
	r = read_link(d->fd, LKG, lkg);
	if (r < 0 && r != -ENOENT)
		return r;
	int fd = open_dir_at(d->fd, SETS);
	if (fd < 0)
		return fd;
	_cleanup_closedir_ DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, active) == 0 || strcmp(de->d_name, lkg) == 0)
			continue;
		log_debug("defs: removing set %s", de->d_name);
		rm_tree(dirfd(dir), de->d_name, 2);
	}
	return 0;
}

/* --- rejected/ */

struct rej_entry {
	char name[NAME_MAX_LEN + 16];
	struct timespec mtime;
};

static int cmp_rej(const void *a, const void *b)
{
	const struct timespec *x = &((const struct rej_entry *)a)->mtime,
			      *y = &((const struct rej_entry *)b)->mtime;
	if (x->tv_sec != y->tv_sec)
		return x->tv_sec < y->tv_sec ? -1 : 1;
	return x->tv_nsec < y->tv_nsec ? -1 : x->tv_nsec > y->tv_nsec;
}

/* Keeps the DEFS_REJECTED_MAX newest rejections (by their .reason file). */
static void prune_rejected(int rfd)
{
	int fd = dup(rfd);
	if (fd < 0)
		return;
	_cleanup_closedir_ DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return;
	}
	rewinddir(dir);
	_cleanup_free_ struct rej_entry *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		struct stat st;
		if (len <= 7 || strcmp(de->d_name + len - 7, ".reason") != 0 ||
		    len >= sizeof(v->name) ||
		    fstatat(rfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (n == cap) {
			struct rej_entry *nv = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof(*v));
			if (!nv)
				return;
			v = nv;
		}
		snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
		v[n++].mtime = st.st_mtim;
	}
	if (n <= DEFS_REJECTED_MAX)
		return;
	qsort(v, n, sizeof(*v), cmp_rej);
	for (size_t i = 0; i < n - DEFS_REJECTED_MAX; i++) {
		unlinkat(rfd, v[i].name, 0);
		v[i].name[strlen(v[i].name) - 7] = '\0';
		unlinkat(rfd, v[i].name, 0);
	}
}

static bool exists_at(int dfd, const char *name)
{
	struct stat st;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

/* Moves from_dfd/from (when from is not NULL) to rejected/<name>, or
 * rejected/<name>.<n> when taken, and writes <that>.reason next to it. */
static int reject(struct defs *d, int from_dfd, const char *from, const char *name,
		  const char *source, const char *reason)
{
	char clean[NAME_MAX_LEN + 1], dst[NAME_MAX_LEN + 16], rsn[NAME_MAX_LEN + 32], when[32];
	time_t now = time(NULL);
	struct tm tm;
	int r;

	sanitize_name(name, clean);
	_cleanup_close_ int rfd = open_dir_at(d->fd, REJECTED);
	if (rfd < 0)
		return rfd;
	for (unsigned i = 0;; i++) {
		if (i == 0)
			snprintf(dst, sizeof(dst), "%s", clean);
		else
			snprintf(dst, sizeof(dst), "%s.%u", clean, i);
		snprintf(rsn, sizeof(rsn), "%s.reason", dst);
		if (!exists_at(rfd, dst) && !exists_at(rfd, rsn))
			break;
		if (i >= 10000)
			return -EEXIST;
	}
	if (from && renameat(from_dfd, from, rfd, dst) < 0)
		return -errno;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	_cleanup_close_ int fd =
		openat(rfd, rsn, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	_cleanup_free_ char *text = NULL;
	if (asprintf(&text, "time: %s\nsource: %s\nfile: %s\nreason: %s\n", when,
		     source ? source : "-", from ? dst : "(not kept)", reason) < 0)
		return -ENOMEM;
	r = write_all(fd, text, strlen(text));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	log_debug("defs: rejected %s: %s", name, reason);
	prune_rejected(rfd);
	return r;
}

/* --- open/close */

int defs_open(struct defs *d, const char *state_dir)
{
	int r;

	*d = (struct defs){ .fd = -1 };
	if (asprintf(&d->root, "%s/defs", state_dir) < 0) {
		d->root = NULL;
		return -ENOMEM;
	}
	if (asprintf(&d->active, "%s/" ACTIVE, d->root) < 0) {
		d->active = NULL;
		r = -ENOMEM;
		goto fail;
	}
	r = mkdir_p(d->root, 0755);
	if (r < 0)
		goto fail;
	d->fd = open(d->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d->fd < 0) {
		r = -errno;
		goto fail;
	}
	if (fchmod(d->fd, 0755) < 0) {
		r = -errno;
		goto fail;
	}
	if ((r = ensure_dir(d->fd, SETS, 0755)) < 0 || (r = ensure_dir(d->fd, STAGING, 0700)) < 0 ||
	    (r = ensure_dir(d->fd, REJECTED, 0700)) < 0 ||
	    (r = ensure_dir(d->fd, INCOMING, 0700)) < 0)
		goto fail;
	{
		_cleanup_unlock_ int lk = lock(d);
		if (lk < 0) {
			r = lk;
			goto fail;
		}
		clear_dir(d->fd, STAGING);
		prune_sets(d);
	}
	return 0;
fail:
	defs_close(d);
	return r;
}

void defs_close(struct defs *d)
{
	closep(&d->fd);
	d->fd = -1;
	free(d->root);
	free(d->active);
	d->root = d->active = NULL;
}

const char *defs_active_dir(const struct defs *d)
{
	return d->active;
}

/* --- install */

struct input {
	char name[NAME_MAX_LEN + 1]; /* in staging/in, and in the set */
	bool staged;
	bool accepted;
	struct cvd_header hdr;
};

struct install {
	struct defs *d;
	const struct defs_install_opts *opts;
	struct defs_report *rep;
	struct input in[DEFS_FILES_MAX];
	int in_fd;              /* staging/in */
	int old_fd;             /* the active set, -1 if none */
	char old_id[64];        /* "" if none */
};

static int copy_fd(int src, int dst, unsigned long long max)
{
	const size_t bufsz = 1 << 20;
	_cleanup_free_ char *buf = malloc(bufsz);
	unsigned long long total = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t k = read(src, buf, bufsz);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		total += (unsigned long long)k;
		if (total > max)
			return -EFBIG;
		int r = write_all(dst, buf, (size_t)k);
		if (r < 0)
			return r;
	}
	return fsync(dst) < 0 ? -errno : 0;
}

/* Records file i as refused; moves its staged copy (if any) to rejected/. */
static int refuse(struct install *ins, size_t i, const char *path, const char *reason)
{
	struct input *in = &ins->in[i];
	int r;

	in->accepted = false;
	ins->rep->files[i].accepted = false;
	set_text(ins->rep->files[i].reason, sizeof(ins->rep->files[i].reason), "%s", reason);
	r = reject(ins->d, ins->in_fd, in->staged ? in->name : NULL, in->name, path, reason);
	in->staged = false;
	return r;
}

/* The header of the active set's file of the same database, if any. */
static bool old_version(struct install *ins, const char *name, unsigned *ret)
{
	if (ins->old_fd < 0)
		return false;
	_cleanup_close_ int fd = dup(ins->old_fd);
	if (fd < 0)
		return false;
	_cleanup_closedir_ DIR *dir = fdopendir(fd);
	if (!dir)
		return false;
	fd = -1;
	rewinddir(dir);
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' || !same_db(de->d_name, name))
			continue;
		_cleanup_close_ int f =
			openat(ins->old_fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		char head[CVD_HEADER_SIZE];
		struct cvd_header h;
		if (f < 0 || pread(f, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
		    cvd_header_parse(head, sizeof(head), &h, NULL, 0) < 0)
			continue;
		*ret = h.version;
		return true;
	}
	return false;
}

/* Checks input i, staged as dst: header, checksum, signature, version. */
static int check_staged(struct install *ins, size_t i, const char *path, int dst)
{
	struct input *in = &ins->in[i];
	struct defs_file_result *res = &ins->rep->files[i];
	char reason[512];
	int r;

	/* Where it came from travels with the inode, through every later set
	 * that hard-links it; a filesystem without user xattrs loses only this
	 * (status then says the source is unknown). */
	(void)fsetxattr(dst, SOURCE_XATTR, path, strlen(path), 0);
	r = cvd_check_file(dst, in->name, &ins->opts->check, &in->hdr, reason, sizeof(reason));
	if (r == -EBADMSG || r == -EINVAL)
		return refuse(ins, i, path, reason);
	if (r < 0)
		return r;
	unsigned old;
	if (old_version(ins, in->name, &old) && in->hdr.version < old) {
		set_text(reason, sizeof(reason),
			 "version %u is older than the active version %u of this database",
			 in->hdr.version, old);
		return refuse(ins, i, path, reason);
	}
	in->accepted = true;
	res->accepted = true;
	res->reason[0] = '\0';
	return 0;
}

static const char *type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return "a directory";
	case S_IFIFO:
		return "a FIFO";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFSOCK:
		return "a socket";
	case S_IFLNK:
		return "a symbolic link";
	default:
		return "of an unknown type";
	}
}

#define FUSE_MAGIC 0x65735546 /* these two are not in linux/magic.h */
#define CONFIGFS_MAGIC 0x62656570

/* Filesystems whose "regular files" are kernel interfaces: reading one can
 * block (trace_pipe) or consume what it reads (kmsg). */
static const struct {
	long magic;
	const char *name;
} kernel_fs[] = {
	{ PROC_SUPER_MAGIC, "proc" },
	{ SYSFS_MAGIC, "sysfs" },
	{ DEBUGFS_MAGIC, "debugfs" },
	{ TRACEFS_MAGIC, "tracefs" },
	{ SECURITYFS_MAGIC, "securityfs" },
	{ CGROUP_SUPER_MAGIC, "cgroup" },
	{ CGROUP2_SUPER_MAGIC, "cgroup2" },
	{ BPF_FS_MAGIC, "bpf" },
	{ EFIVARFS_MAGIC, "efivarfs" },
	{ PSTOREFS_MAGIC, "pstore" },
	{ SELINUX_MAGIC, "selinuxfs" },
	{ SMACK_MAGIC, "smackfs" },
	{ CONFIGFS_MAGIC, "configfs" },
};

/* Why the file open on fd (O_PATH will do) cannot be read as definitions:
 * false with reason set, or true with its stat. */
static bool readable_input(int fd, struct stat *st, char *reason, size_t len)
{
	struct statfs fs;

	if (fstat(fd, st) < 0 || fstatfs(fd, &fs) < 0) {
		set_text(reason, len, "cannot stat: %s", strerror(errno));
		return false;
	}
	if (S_ISLNK(st->st_mode)) {
		set_text(reason, len, "is a symbolic link");
		return false;
	}
	if (!S_ISREG(st->st_mode)) {
		set_text(reason, len, "not a regular file: %s", type_name(st->st_mode));
		return false;
	}
	for (size_t k = 0; k < ARRAY_SIZE(kernel_fs); k++)
		if ((long)fs.f_type == kernel_fs[k].magic) {
			set_text(reason, len, "on %s, a kernel interface filesystem", kernel_fs[k].name);
			return false;
		}
	if ((long)fs.f_type == FUSE_MAGIC) {
		set_text(reason, len, "on a FUSE filesystem, whose reads may never return");
		return false;
	}
	if ((unsigned long long)st->st_size > DEFS_FILE_SIZE_MAX) {
		set_text(reason, len, "larger than the 2 GiB limit");
		return false;
	}
	return true;
}

/* A read-only descriptor on input src with its stat, or -1 with reason.  A
 * path is opened O_PATH and checked before it is reopened for reading; a
 * caller's descriptor is checked and duplicated, never reopened. */
static int open_input(const struct defs_input *src, struct stat *st, char *reason, size_t len)
{
	char proc[64];
	struct stat again;

	if (src->fd >= 0) {
		int fl = fcntl(src->fd, F_GETFL);
		if (fl < 0) {
			set_text(reason, len, "bad descriptor: %s", strerror(errno));
			return -1;
		}
		if (!readable_input(src->fd, st, reason, len))
			return -1;
		if ((fl & O_PATH) || (fl & O_ACCMODE) == O_WRONLY) {
			set_text(reason, len, "the descriptor is not open for reading");
			return -1;
		}
		int fd = fcntl(src->fd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			set_text(reason, len, "cannot duplicate the descriptor: %s", strerror(errno));
		return fd;
	}
	_cleanup_close_ int pfd = open(src->path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0) {
		set_text(reason, len, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (!readable_input(pfd, st, reason, len))
		return -1;
	/* The same inode, now for reading; O_NONBLOCK: a lease holder makes
	 * the open fail instead of wait. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	int fd = open(proc, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		set_text(reason, len, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &again) < 0 || again.st_dev != st->st_dev || again.st_ino != st->st_ino) {
		close(fd);
		set_text(reason, len, "changed while being opened");
		return -1;
	}
	return fd;
}

/* Copies exactly size bytes of src (pread: its offset stays) to dst.  A
 * refusal (the file's fault) is 1 with reason, an error of the store <0. */
static int copy_input(int src, int dst, off_t size, char *reason, size_t len)
{
	const size_t bufsz = 1 << 20;
	_cleanup_free_ char *buf = malloc(bufsz);
	off_t off = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		/* At the end, one byte more shows a file that grew. */
		off_t left = size - off;
		size_t want = left <= 0 ? 1 : left < (off_t)bufsz ? (size_t)left : bufsz;
		ssize_t k = pread(src, buf, want, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			set_text(reason, len, "cannot read: %s", strerror(errno));
			return 1;
		}
		if (k == 0 && off < size) {
			set_text(reason, len, "changed while being read: shorter than its size");
			return 1;
		}
		if (k == 0)
			break;
		if (off >= size) {
			set_text(reason, len, "changed while being read: longer than its size");
			return 1;
		}
		int r = write_all(dst, buf, (size_t)k);
		if (r < 0)
			return r;
		off += k;
	}
	return fsync(dst) < 0 ? -errno : 0;
}

/* Stages and checks input i.  <0 only for errors of the store itself. */
static int take_input(struct install *ins, size_t i, const struct defs_input *src)
{
	struct input *in = &ins->in[i];
	struct defs_file_result *res = &ins->rep->files[i];
	const char *path = src->path;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char reason[512];
	struct stat st;
	int r;

	set_text(res->name, sizeof(res->name), "%s", base);
	bool ok = sanitize_name(base, in->name);
	if (!ok)
		return refuse(ins, i, path, "invalid file name");
	for (size_t k = 0; k < i; k++) {
		const struct input *o = &ins->in[k];
		if ((o->staged || o->accepted) && same_db(o->name, in->name))
			return refuse(ins, i, path,
				      "another file of this update is the same database");
	}
	_cleanup_close_ int fd = open_input(src, &st, reason, sizeof(reason));
	if (fd < 0)
		return refuse(ins, i, path, reason);

	/* 0644: the check reopens it as the scan user; staging/ keeps others out. */
	_cleanup_close_ int dst = openat(ins->in_fd, in->name,
					 O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (dst < 0)
		return -errno;
	in->staged = true;
	r = fchmod(dst, 0644) < 0 ? -errno : 0;
	if (r == 0)
		r = copy_input(fd, dst, st.st_size, reason, sizeof(reason));
	if (r == 1) { /* keep no partial copy */
		unlinkat(ins->in_fd, in->name, 0);
		in->staged = false;
		return refuse(ins, i, path, reason);
	}
	if (r < 0)
		return r;
	return check_staged(ins, i, path, dst);
}

static bool replaced(const struct install *ins, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (ins->in[i].accepted && same_db(ins->in[i].name, name))
			return true;
	return false;
}

static int link_or_copy(int from_dfd, int to_dfd, const char *name)
{
	if (linkat(from_dfd, name, to_dfd, name, 0) == 0)
		return 0;
	if (errno != EXDEV && errno != EPERM && errno != EMLINK)
		return -errno;
	_cleanup_close_ int src = openat(from_dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0)
		return -errno;
	_cleanup_close_ int dst =
		openat(to_dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (dst < 0)
		return -errno;
	int r = copy_fd(src, dst, DEFS_FILE_SIZE_MAX);
	if (r == 0 && fchmod(dst, 0644) < 0)
		r = -errno;
	return r;
}

/* Builds staging/<id>: the active set's files that are not replaced, plus
 * the accepted ones; then moves it to sets/<id>. */
static int build_set(struct install *ins, size_t n, const char *id, time_t now)
{
	struct defs *d = ins->d;
	size_t count = 0;
	int r;

	_cleanup_close_ int sfd = open_dir_at(d->fd, STAGING);
	if (sfd < 0)
		return sfd;
	if (mkdirat(sfd, id, 0700) < 0)
		return -errno;
	_cleanup_close_ int cfd = open_dir_at(sfd, id);
	if (cfd < 0)
		return cfd;

	if (ins->old_fd >= 0) {
		int fd = dup(ins->old_fd);
		if (fd < 0)
			return -errno;
		_cleanup_closedir_ DIR *dir = fdopendir(fd);
		if (!dir) {
			close(fd);
			return -errno;
		}
		rewinddir(dir);
		struct dirent *de;
		while ((de = readdir(dir))) {
			if (de->d_name[0] == '.' || replaced(ins, n, de->d_name))
				continue;
			if (++count > DEFS_FILES_MAX)
				return -E2BIG;
			if ((r = link_or_copy(ins->old_fd, cfd, de->d_name)) < 0)
				return r;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!ins->in[i].accepted)
			continue;
		if (++count > DEFS_FILES_MAX)
			return -E2BIG;
		if (fchmodat(ins->in_fd, ins->in[i].name, 0644, 0) < 0 ||
		    renameat(ins->in_fd, ins->in[i].name, cfd, ins->in[i].name) < 0)
			return -errno;
		ins->in[i].staged = false;
	}
	struct timespec ts[2] = { { .tv_sec = now }, { .tv_sec = now } };
	if (fchmod(cfd, 0755) < 0 || futimens(cfd, ts) < 0 || fsync(cfd) < 0)
		return -errno;
	_cleanup_close_ int setsfd = open_dir_at(d->fd, SETS);
	if (setsfd < 0)
		return setsfd;
	if (renameat(sfd, id, setsfd, id) < 0)
		return -errno;
	return fsync(setsfd) < 0 ? -errno : 0;
}

static int new_set_id(struct defs *d, time_t now, char id[64])
{
	char stamp[32];
	struct tm tm;

	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
	_cleanup_close_ int setsfd = open_dir_at(d->fd, SETS);
	if (setsfd < 0)
		return setsfd;
	for (unsigned i = 1; i < 100000; i++) {
		snprintf(id, 64, "%s-%u", stamp, i);
		if (!exists_at(setsfd, id))
			return 0;
	}
	return -EEXIST;
}

/* The candidate failed its test load: its new files go to rejected/. */
static int unstable(struct install *ins, size_t n, const struct defs_input *src, const char *id,
		    const char *why)
{
	char reason[512];
	int r = 0;

	set_text(reason, sizeof(reason), "test load failed: %s", why);
	_cleanup_close_ int setfd = -1;
	{
		_cleanup_close_ int setsfd = open_dir_at(ins->d->fd, SETS);
		if (setsfd >= 0)
			setfd = open_dir_at(setsfd, id);
	}
	for (size_t i = 0; i < n; i++) {
		if (!ins->in[i].accepted)
			continue;
		ins->in[i].accepted = false;
		ins->rep->files[i].accepted = false;
		set_text(ins->rep->files[i].reason, sizeof(ins->rep->files[i].reason), "%s",
			 reason);
		int k = reject(ins->d, setfd, setfd >= 0 ? ins->in[i].name : NULL, ins->in[i].name,
			       src[i].path, reason);
		if (k < 0 && r == 0)
			r = k;
	}
	return r;
}

/* The active set, if any, as the one the new set builds on. */
static int open_active(struct install *ins)
{
	struct defs *d = ins->d;
	int r = read_link(d->fd, ACTIVE, ins->old_id);
	if (r == -ENOENT)
		ins->old_id[0] = '\0';
	else if (r < 0)
		return r;
	if (ins->old_id[0]) {
		_cleanup_close_ int setsfd = open_dir_at(d->fd, SETS);
		if (setsfd < 0)
			return setsfd;
		ins->old_fd = open_dir_at(setsfd, ins->old_id);
		if (ins->old_fd == -ENOENT) /* dangling: start from nothing */
			ins->old_id[0] = '\0';
		else if (ins->old_fd < 0)
			return ins->old_fd;
	}
	return 0;
}

/* Stages and checks every input; -EBADMSG when none is accepted. */
static int stage_inputs(struct install *ins, const struct defs_input *src, size_t n)
{
	struct defs *d = ins->d;
	size_t accepted = 0;
	int r;

	if (mkdirat(d->fd, STAGING "/" STAGED_IN, 0700) < 0)
		return -errno;
	ins->in_fd = open_dir_at(d->fd, STAGING "/" STAGED_IN);
	if (ins->in_fd < 0)
		return ins->in_fd;
	ins->rep->n = n;
	for (size_t i = 0; i < n; i++) {
		if ((r = take_input(ins, i, &src[i])) < 0)
			return r;
		accepted += ins->in[i].accepted;
	}
	return accepted ? 0 : -EBADMSG;
}

static int install_locked(struct install *ins, const struct defs_input *src, size_t n)
{
	struct defs *d = ins->d;
	char id[64], set_dir[PATH_MAX], why[512] = "";
	time_t now = time(NULL);
	int r;

	clear_dir(d->fd, STAGING);
	prune_sets(d);
	if ((r = open_active(ins)) < 0 || (r = stage_inputs(ins, src, n)) < 0)
		return r;

	if ((r = new_set_id(d, now, id)) < 0)
		return r;
	r = build_set(ins, n, id, now);
	if (r == -E2BIG) {
		set_text(why, sizeof(why), "the set would hold more than %d files", DEFS_FILES_MAX);
		for (size_t i = 0; i < n; i++)
			if (ins->in[i].accepted && (r = refuse(ins, i, src[i].path, why)) < 0)
				return r;
		return -EBADMSG;
	}
	if (r < 0)
		return r;

	snprintf(set_dir, sizeof(set_dir), "%s/" SETS "/%s", d->root, id);
	r = ins->opts->stability(set_dir, why, sizeof(why), ins->opts->ud);
	if (r < 0) {
		if (!why[0])
			set_text(why, sizeof(why), "%s", strerror(-r));
		r = unstable(ins, n, src, id, why);
		prune_sets(d);
		return r < 0 ? r : -EBADMSG;
	}

	if (ins->old_id[0] && (r = switch_link(d->fd, LKG, ins->old_id)) < 0)
		return r;
	if ((r = switch_link(d->fd, ACTIVE, id)) < 0)
		return r;
	log_debug("defs: set %s is active (was %s)", id, ins->old_id[0] ? ins->old_id : "none");
	set_text(ins->rep->set_id, sizeof(ins->rep->set_id), "%s", id);
	return 0;
}

int defs_install(struct defs *d, const struct defs_input *src, size_t n,
		 const struct defs_install_opts *opts, struct defs_report *rep)
{
	if (!opts || !opts->stability || (n > 0 && !src))
		return -EINVAL;
	if (n > DEFS_FILES_MAX)
		return -E2BIG;
	for (size_t i = 0; i < n; i++)
		if (!src[i].path)
			return -EINVAL;
	_cleanup_free_ struct defs_report *own = NULL;
	if (!rep && !(rep = own = malloc(sizeof(*rep))))
		return -ENOMEM;
	memset(rep, 0, sizeof(*rep));
	_cleanup_free_ struct install *ins = calloc(1, sizeof(*ins));
	if (!ins)
		return -ENOMEM;
	*ins = (struct install){ .d = d, .opts = opts, .rep = rep, .in_fd = -1, .old_fd = -1 };
	if (n == 0)
		return -EBADMSG;

	_cleanup_unlock_ int lk = lock(d);
	if (lk < 0)
		return lk;
	int r = install_locked(ins, src, n);
	closep(&ins->in_fd);
	closep(&ins->old_fd);
	clear_dir(d->fd, STAGING);
	prune_sets(d);
	return r;
}

/* --- rollback */

int defs_rollback(struct defs *d, const char *reason)
{
	char active[64], lkg[64], why[512];
	int r;

	_cleanup_unlock_ int lk = lock(d);
	if (lk < 0)
		return lk;
	if ((r = read_link(d->fd, ACTIVE, active)) < 0 || (r = read_link(d->fd, LKG, lkg)) < 0)
		return r;
	if (strcmp(active, lkg) == 0)
		return -ENOENT;
	_cleanup_close_ int setsfd = open_dir_at(d->fd, SETS);
	if (setsfd < 0)
		return setsfd;
	_cleanup_close_ int lfd = open_dir_at(setsfd, lkg);
	if (lfd < 0)
		return lfd == -ENOENT ? -ENOENT : lfd;
	_cleanup_close_ int afd = open_dir_at(setsfd, active);

	if ((r = switch_link(d->fd, ACTIVE, lkg)) < 0)
		return r;
	log_debug("defs: rolled back from set %s to %s: %s", active, lkg, reason);
	if (afd < 0) /* dangling active: nothing to move aside */
		return prune_sets(d);

	set_text(why, sizeof(why), "rollback: %s", reason ? reason : "the set failed to load");
	int fd = dup(afd);
	if (fd < 0)
		return -errno;
	_cleanup_closedir_ DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(dir))) {
		struct stat sa, sl;
		if (de->d_name[0] == '.' || fstatat(afd, de->d_name, &sa, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (fstatat(lfd, de->d_name, &sl, AT_SYMLINK_NOFOLLOW) == 0 &&
		    sa.st_dev == sl.st_dev && sa.st_ino == sl.st_ino)
			continue; /* the same file as in last-known-good */
		int k = reject(d, afd, de->d_name, de->d_name, NULL, why);
		if (k < 0 && r == 0)
			r = k;
	}
	int k = prune_sets(d);
	return r < 0 ? r : k;
}

/* --- status */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(((const struct defs_file_status *)a)->name,
		      ((const struct defs_file_status *)b)->name);
}

static void file_status(int setfd, struct defs_file_status *f)
{
	char head[CVD_HEADER_SIZE];
	struct cvd_header h;
	_cleanup_close_ int fd = openat(setfd, f->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return;
	ssize_t n = fgetxattr(fd, SOURCE_XATTR, f->source, sizeof(f->source) - 1);
	f->source[n > 0 ? n : 0] = '\0';
	if (pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    cvd_header_parse(head, sizeof(head), &h, NULL, 0) < 0)
		return;
	f->header_ok = true;
	f->version = h.version;
	f->sigs = h.sigs;
	f->stime = h.stime;
	snprintf(f->build_time, sizeof(f->build_time), "%s", h.build_time);
}

int defs_status(const struct defs *d, struct defs_status *ret)
{
	_cleanup_free_ struct defs_status *s = calloc(1, sizeof(*s));
	struct stat st;
	int r;

	if (!s)
		return -ENOMEM;
	if ((r = read_link(d->fd, ACTIVE, s->set_id)) < 0)
		return r;
	_cleanup_close_ int setsfd = open_dir_at(d->fd, SETS);
	if (setsfd < 0)
		return setsfd;
	int setfd = open_dir_at(setsfd, s->set_id);
	if (setfd < 0)
		return setfd;
	_cleanup_closedir_ DIR *dir = fdopendir(setfd);
	if (!dir) {
		close(setfd);
		return -errno;
	}
	if (fstat(setfd, &st) < 0)
		return -errno;
	s->installed_at = st.st_mtime;

	struct dirent *de;
	while ((de = readdir(dir)) && s->n_files < DEFS_FILES_MAX) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(s->files[s->n_files++].name, sizeof(s->files[0].name), "%s", de->d_name);
	}
	qsort(s->files, s->n_files, sizeof(s->files[0]), cmp_names);
	for (size_t i = 0; i < s->n_files; i++) {
		struct defs_file_status *f = &s->files[i];
		file_status(setfd, f);
		s->total_sigs += f->sigs;
		if (f->header_ok && f->stime >= s->newest_stime) {
			s->newest_stime = f->stime;
			snprintf(s->newest_build_time, sizeof(s->newest_build_time), "%s",
				 f->build_time);
		}
	}
	s->age = s->newest_stime ? (int64_t)time(NULL) - (int64_t)s->newest_stime : 0;

	if (read_link(d->fd, LKG, s->last_known_good_id) == 0 &&
	    exists_at(setsfd, s->last_known_good_id))
		s->has_last_known_good = true;
	else
		s->last_known_good_id[0] = '\0';
	*ret = *s;
	return 0;
}
