/* fsmon_marks.c - the file monitor's filesystem marks: one in each group on
 * every filesystem mounts.h selects, brought in line with the mount table
 * at start, on a reload and on every mount change (see fsmon.h); and the
 * catch-up scan of a filesystem marked after it was mounted. */
#include "fsmon_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "jsonutil.h"
#include "log.h"
#include "policy.h"

/* The mount of fs, opened and checked to be the one marked: -ESTALE when
 * something else is mounted there now. */
int fsmon_open_mount(const char *target, int mnt_id)
{
	int fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct statx stx;
	if (mnt_id > 0 && statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) == 0 &&
	    (stx.stx_mask & STATX_MNT_ID) && stx.stx_mnt_id != (uint64_t)mnt_id) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

static void unmarked_add(struct json_object *list, const char *mount, const char *fstype,
			 const char *what, int err, const char *why)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return;
	json_object_object_add(o, "mount", json_object_new_string(mount));
	if (fstype)
		json_object_object_add(o, "fstype", json_object_new_string(fstype));
	json_object_object_add(o, "events", json_object_new_string(what));
	if (err)
		json_object_object_add(o, "errno", json_object_new_int(err));
	json_object_object_add(o, "error", json_object_new_string(why ? why : strerror(err)));
	json_object_array_add(list, o);
}

/* "." from mfd: fanotify_mark takes no O_PATH descriptor without a name. */
int fsmon_mark(int group, unsigned flags, uint64_t mask, int mfd)
{
	if (fanotify_mark(group, flags | FAN_MARK_FILESYSTEM, mask, mfd, ".") < 0)
		return -errno;
	return 0;
}

int fsmon_mark_all(struct fsmon *f, int mfd, unsigned *ret_groups, int *ret_fid_err,
		   int *ret_perm_err)
{
	int r = fsmon_mark(f->notif.fd, FAN_MARK_ADD, NOTIF_MASK, mfd);
	if (r < 0)
		return r;
	*ret_groups = G_NOTIF;
	*ret_fid_err = *ret_perm_err = 0;
	r = fsmon_mark(f->fid.fd, FAN_MARK_ADD, FID_MASK, mfd);
	if (r < 0)
		*ret_fid_err = -r;
	else
		*ret_groups |= G_FID;
	if (f->perm) {
		r = fsmon_mark(f->perm->fd, FAN_MARK_ADD, PERM_MASK, mfd);
		if (r < 0)
			*ret_perm_err = -r;
		else
			*ret_groups |= G_PERM;
	}
	return 0;
}

/* Adds the marks of every group on one filesystem; 0 when at least the
 * close-write mark holds (the rest is reported in status), else -errno.
 * late: it was mounted while the monitor ran, its files are caught up. */
static int mark_fs(struct fsmon *f, const struct mount_entry *e, bool late,
		   struct fsmon_fs *ret)
{
	struct statfs sfs;
	int r;
	_cleanup_close_ int mfd = fsmon_open_mount(e->target, e->id);
	if (mfd < 0)
		return mfd;
	if (fstatfs(mfd, &sfs) < 0)
		return -errno;
	*ret = (struct fsmon_fs){ .major = e->major, .minor = e->minor, .mnt_id = e->id,
				  .fsid = sfs.f_fsid };
	r = fsmon_mark_all(f, mfd, &ret->groups, &ret->fid_err, &ret->perm_err);
	if (r < 0)
		return r;
	if (late && !e->network)
		fsmon_catch_up(f, mfd, e->target);
	return 0;
}

void fsmon_fs_free(struct fsmon_fs *fs)
{
	free(fs->mount);
	free(fs->fstype);
}

/* Removes our marks from a filesystem we no longer watch, through any mount
 * of it still there (none: it is unmounted and its marks went with it). */
static void unmark_fs(struct fsmon *f, const struct fsmon_fs *fs, const struct mount_list *l)
{
	for (size_t i = 0; i <= l->n; i++) {
		const char *target = i < l->n ? l->v[i].target : fs->mount;
		int id = i < l->n ? l->v[i].id : fs->mnt_id;
		if (i < l->n && (l->v[i].major != fs->major || l->v[i].minor != fs->minor ||
				 l->v[i].choice == MOUNT_HIDDEN))
			continue;
		_cleanup_close_ int mfd = fsmon_open_mount(target, id);
		if (mfd < 0)
			continue;
		fsmon_mark(f->notif.fd, FAN_MARK_REMOVE, NOTIF_MASK, mfd);
		if (fs->groups & G_FID)
			fsmon_mark(f->fid.fd, FAN_MARK_REMOVE, FID_MASK, mfd);
		if ((fs->groups & G_PERM) && f->perm)
			fsmon_mark(f->perm->fd, FAN_MARK_REMOVE, PERM_MASK, mfd);
		return;
	}
}

static bool picked(const struct mount_list *l, const struct fsmon_fs *fs)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].choice == MOUNT_WATCH && l->v[i].major == fs->major &&
		    l->v[i].minor == fs->minor && strcmp(l->v[i].target, fs->mount) == 0)
			return true;
	return false;
}

static bool marked(const struct fsmon *f, const struct mount_entry *e)
{
	for (size_t i = 0; i < f->n_fs; i++)
		if (f->fs[i].major == e->major && f->fs[i].minor == e->minor &&
		    strcmp(f->fs[i].mount, e->target) == 0)
			return true;
	return false;
}

static void drop_unpicked(struct fsmon *f, const struct mount_list *l)
{
	size_t keep = 0;
	for (size_t i = 0; i < f->n_fs; i++) {
		if (picked(l, &f->fs[i])) {
			f->fs[keep++] = f->fs[i];
			continue;
		}
		log_info("file monitor: no longer watching %s", f->fs[i].mount);
		unmark_fs(f, &f->fs[i], l);
		fsmon_fs_free(&f->fs[i]);
	}
	f->n_fs = keep;
}

static void add_picked(struct fsmon *f, const struct mount_list *l, struct json_object *unmarked,
		       bool late)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct mount_entry *e = &l->v[i];
		struct fsmon_fs fs;
		if (e->choice != MOUNT_WATCH || marked(f, e))
			continue;
		int r = mark_fs(f, e, late, &fs);
		if (r < 0) {
			log_warning_errno(r, "file monitor: cannot mark %s (%s)", e->target, e->fstype);
			unmarked_add(unmarked, e->target, e->fstype, "all", -r, NULL);
			continue;
		}
		struct fsmon_fs *grown = realloc(f->fs, (f->n_fs + 1) * sizeof(*f->fs));
		fs.mount = strdup(e->target);
		fs.fstype = strdup(e->fstype);
		if (!grown || !fs.mount || !fs.fstype) {
			if (grown)
				f->fs = grown;
			/* Marked but not recorded: events still resolve by path. */
			fsmon_fs_free(&fs);
			continue;
		}
		f->fs = grown;
		f->fs[f->n_fs++] = fs;
		log_info("file monitor: watching %s (%s)%s%s", e->target, e->fstype,
			 fs.fid_err ? ", moves not seen: " : "", fs.fid_err ? strerror(fs.fid_err) : "");
	}
}

/* mounts_include entries that name no mount point, for status. */
static void unmarked_not_mounts(const struct policy *p, const struct mount_list *l,
				struct json_object *unmarked)
{
	for (size_t i = 0; i < p->n_mounts_include; i++)
		if (!mounts_is_mount_point(l, p->mounts_include[i]))
			unmarked_add(unmarked, p->mounts_include[i], NULL, "all", 0,
				     "not a mount point");
}

/* The groups without a mark on a filesystem that is marked, for status. */
static void unmarked_groups(const struct fsmon *f, struct json_object *unmarked)
{
	for (size_t i = 0; i < f->n_fs; i++) {
		if (f->fs[i].fid_err)
			unmarked_add(unmarked, f->fs[i].mount, f->fs[i].fstype, "moves",
				     f->fs[i].fid_err, NULL);
		if (f->fs[i].perm_err)
			unmarked_add(unmarked, f->fs[i].mount, f->fs[i].fstype, "exec",
				     f->fs[i].perm_err, NULL);
	}
}

/* No filesystem is marked: err says why, from the first one left unmarked,
 * else from the mount selection (n_mounts: the mount table's size). */
static int none_marked(struct json_object *unmarked, size_t n_mounts, char *err, size_t errlen)
{
	size_t n = json_object_array_length(unmarked);
	struct json_object *first = n ? json_object_array_get_idx(unmarked, 0) : NULL;
	struct json_object *m = NULL, *e = NULL;
	if (first && json_object_object_get_ex(first, "mount", &m) &&
	    json_object_object_get_ex(first, "error", &e))
		snprintf(err, errlen, "fanotify: fanotify_mark: %s: %s", json_object_get_string(m),
			 json_object_get_string(e));
	else
		snprintf(err, errlen, "fanotify: no filesystem to watch (%zu mounts, "
				      "mounts_include/mounts_exclude leave none)", n_mounts);
	return -ENODEV;
}

/* Reads the mount table again and brings the marks in line: filesystems no
 * longer selected lose theirs, new ones get them (and, while running, a
 * catch-up scan).  The number of filesystems marked, or -errno with err
 * set. */
int fsmon_remark(struct fsmon *f, char *err, size_t errlen)
{
	const struct policy *policy = f->mon.ctx->policy;
	struct mount_list l = { 0 };
	char perr[256];
	int r = mounts_read(MOUNTINFO, &l, perr, sizeof(perr));
	if (r < 0) {
		snprintf(err, errlen, "fanotify: mount table: %s", perr);
		return r;
	}
	mounts_choose(&l, policy->mounts_include, policy->n_mounts_include,
		      policy->mounts_exclude, policy->n_mounts_exclude);
	struct json_object *unmarked = json_object_new_array();
	if (!unmarked) {
		mounts_free(&l);
		return -ENOMEM;
	}
	unmarked_not_mounts(policy, &l, unmarked);
	mounts_free(&f->host);
	f->host = l;
	drop_unpicked(f, &f->host);
	add_picked(f, &f->host, unmarked, f->mon.running);
	fsmon_ignore_sync(f, &f->host);
	unmarked_groups(f, unmarked);
	json_object_put(f->unmarked);
	f->unmarked = unmarked;
	return f->n_fs ? (int)f->n_fs : none_marked(unmarked, f->host.n, err, errlen);
}

void fsmon_on_mountinfo(struct io_source *src, uint32_t events)
{
	struct fsmon *f = src->obj;
	char err[256];
	(void)events;
	if (src->fd < 0)
		return;
	log_debug("file monitor: the mount table changed");
	if (fsmon_remark(f, err, sizeof(err)) < 0)
		log_warning("file monitor: after a mount change: %s", err);
}

/* ---------------------------------------------------------------- catch-up */

static void caught_add(struct fsmon *f, const struct scan_key *k)
{
	f->caught_last = time(NULL);
	f->caught[f->caught_next] = (struct fsmon_caught){ .key = *k, .at = f->caught_last };
	f->caught_next = (f->caught_next + 1) % CATCHUP_FILES;
}

bool fsmon_caught_up(struct fsmon *f, int fd)
{
	time_t now = time(NULL);
	struct scan_key k;
	if (!f->caught_last || now - f->caught_last > CATCHUP_KEEP || scan_key_of(fd, &k) < 0)
		return false;
	for (size_t i = 0; i < CATCHUP_FILES; i++)
		if (f->caught[i].at && now - f->caught[i].at <= CATCHUP_KEEP &&
		    memcmp(&f->caught[i].key, &k, sizeof(k)) == 0)
			return true;
	return false;
}

/* One regular file of a catch-up walk, by name in directory dfd: opened
 * through an O_PATH descriptor checked to be the file stat'ed (never a
 * device or FIFO swapped in), scanned as an event without a process. */
static bool catch_up_file(struct fsmon *f, int dfd, const char *name, const struct stat *st)
{
	struct stat now;
	char link[64];
	struct scan_key k;
	_cleanup_close_ int pfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0 || fstat(pfd, &now) < 0 || !S_ISREG(now.st_mode) || now.st_dev != st->st_dev ||
	    now.st_ino != st->st_ino)
		return false;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", pfd);
	int fd = open(link, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOATIME | O_CLOEXEC);
	/* Still open for writing: its close_write, now that the mark is set,
	 * scans it whole; scanned here as well it would be two detections. */
	if (fd < 0 || scan_writers(fd) == -EBUSY || scan_key_of(fd, &k) < 0) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	f->c.caught_up++;
	fsmon_file_event(f, fd, NULL, 0, "catch_up");
	caught_add(f, &k);
	return true;
}

/* A directory of the walk, opened below dfd without following a link. */
static DIR *walk_open(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (fd >= 0 && !d)
		close(fd);
	return d;
}

/* Depth first, on mfd's filesystem only (a mount below is its own). */
void fsmon_catch_up(struct fsmon *f, int mfd, const char *what)
{
	DIR *stack[CATCHUP_DEPTH];
	size_t depth = 0, entries = 0, files = 0;
	time_t since = time(NULL) - CATCHUP_AGE;
	struct stat top, st;
	if (fstat(mfd, &top) < 0 || !(stack[0] = walk_open(mfd, ".")))
		return;
	depth = 1;
	while (depth > 0 && entries < CATCHUP_ENTRIES && files < CATCHUP_FILES) {
		struct dirent *de = readdir(stack[depth - 1]);
		if (!de) {
			closedir(stack[--depth]);
			continue;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		entries++;
		int dfd = dirfd(stack[depth - 1]);
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != top.st_dev)
			continue;
		if (S_ISDIR(st.st_mode) && depth < CATCHUP_DEPTH) {
			DIR *d = walk_open(dfd, de->d_name);
			if (d)
				stack[depth++] = d;
		} else if (S_ISREG(st.st_mode) && st.st_ctime >= since) {
			files += catch_up_file(f, dfd, de->d_name, &st);
		}
	}
	if (depth > 0)
		log_info("file monitor: %s: catch-up stopped after %zu entries, %zu files", what,
			 entries, files);
	while (depth > 0)
		closedir(stack[--depth]);
	if (files)
		log_info("file monitor: %s: %zu files written before it was marked are scanned",
			 what, files);
}
