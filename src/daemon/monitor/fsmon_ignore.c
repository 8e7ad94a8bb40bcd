/* fsmon_ignore.c - path exclusions held in the kernel as ignore marks, in
 * line with the policy and the mount table (see fsmon.h). */
#include "fsmon_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "exclude.h"
#include "fdpath.h"
#include "jsonutil.h"
#include "log.h"
#include "policy.h"

#ifndef FAN_MARK_IGNORE
#define FAN_MARK_IGNORE 0x00000400
#define FAN_MARK_IGNORE_SURV (FAN_MARK_IGNORE | FAN_MARK_IGNORED_SURV_MODIFY)
#endif
#define IGNORE_LEGACY (FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY)

/* FAN_MARK_IGNORE (Linux 6.0) on a directory without
 * FAN_MARK_IGNORED_SURV_MODIFY is refused with EISDIR by a kernel that knows
 * the flag and with EINVAL by one that does not: nothing is marked.  Before
 * 6.0 a directory's ignore mask does not apply to its children: there only
 * mount points (and moves into a directory) are dropped in the kernel. */
unsigned fsmon_probe_ignore_flags(int group)
{
	int r = fanotify_mark(group, FAN_MARK_ADD | FAN_MARK_IGNORE, NOTIF_MASK, AT_FDCWD, "/");
	if (r < 0 && errno == EISDIR)
		return FAN_MARK_IGNORE_SURV;
	log_notice("file monitor: no FAN_MARK_IGNORE (Linux 6.0): files in excluded "
		   "directories are excluded in user space");
	return IGNORE_LEGACY;
}

static int group_fd(const struct fsmon *f, unsigned g)
{
	return g == G_NOTIF ? f->notif.fd : g == G_FID ? f->fid.fd : f->perm ? f->perm->fd : -1;
}

static const char *group_name(unsigned g)
{
	return g == G_NOTIF ? "close-write" : g == G_FID ? "move" : "exec";
}

/* Adds or removes (op) e's ignore mark in group g, on what fd is open on. */
static int ignore_mark(const struct fsmon *f, unsigned op, const struct fsmon_ignore *e,
		       unsigned g, int fd)
{
	bool on_mount = e->mount && g != G_FID;
	uint64_t mask = g == G_NOTIF ? NOTIF_MASK : g == G_FID ? FID_MASK : PERM_MASK;
	unsigned flags = op | f->ign_flags | (on_mount ? FAN_MARK_MOUNT : 0);
	if (fanotify_mark(group_fd(f, g), flags, mask | (on_mount ? 0 : FAN_EVENT_ON_CHILD), fd,
			  ".") < 0)
		return -errno;
	return 0;
}

/* The groups marking the filesystem of mount m, 0 when none does. */
static unsigned fs_groups(const struct fsmon *f, const struct mount_entry *m)
{
	for (size_t k = 0; m && k < f->n_fs; k++)
		if (f->fs[k].major == m->major && f->fs[k].minor == m->minor)
			return f->fs[k].groups;
	return 0;
}

static const struct mount_entry *mount_by_id(const struct mount_list *l, uint64_t id)
{
	for (size_t i = 0; i < l->n; i++)
		if ((uint64_t)l->v[i].id == id)
			return &l->v[i];
	return NULL;
}

/* The visible mount path p lies on, read from its text: a path on a
 * filesystem not watched (a hung NFS server, an automount point) is never
 * looked up. */
static const struct mount_entry *mount_of_text(const struct mount_list *l, const char *p)
{
	const struct mount_entry *best = NULL;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].choice != MOUNT_HIDDEN && path_under(p, l->v[i].target) &&
		    (!best || strlen(l->v[i].target) > strlen(best->target)))
			best = &l->v[i];
	return best;
}

/* Path exclusion p as the kernel can hold it: 0, e (path borrowed) and an
 * O_PATH descriptor of it in *ret_fd; or -errno and why it stays with user
 * space (where exclude_path() matches its text). */
static int ignore_resolve(const struct fsmon *f, const struct mount_list *l, const char *p,
			  struct fsmon_ignore *e, int *ret_fd, char *why, size_t len)
{
	char real[PATH_MAX];
	struct statx stx;
	if (!fs_groups(f, mount_of_text(l, p))) {
		snprintf(why, len, "filesystem not watched");
		return -ENODEV;
	}
	/* No O_DIRECTORY: it would trigger an automount. */
	_cleanup_close_ int fd = open(p, O_PATH | O_CLOEXEC);
	int r = fd < 0 ? -errno : fdpath_kernel(fd, real, sizeof(real));
	if (r == 0 && statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_INO | STATX_MNT_ID, &stx) < 0)
		r = -errno;
	if (r == 0 && !S_ISDIR(stx.stx_mode))
		r = -ENOTDIR;
	if (r < 0) {
		snprintf(why, len, "%s", strerror(-r));
		return r;
	}
	if (!path_under(real, p) || !path_under(p, real)) {
		snprintf(why, len, "a symbolic link on the way to %s", real);
		return -ELOOP;
	}
	*e = (struct fsmon_ignore){ .path = (char *)p,
				    .mount = mounts_is_mount_point(l, p),
				    .mnt_id = (int)stx.stx_mnt_id,
				    .dev = makedev(stx.stx_dev_major, stx.stx_dev_minor),
				    .ino = stx.stx_ino,
				    .want = fs_groups(f, mount_by_id(l, stx.stx_mnt_id)) };
	if (!e->want) {
		snprintf(why, len, "filesystem not watched");
		return -ENODEV;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static bool ignore_same(const struct fsmon_ignore *a, const struct fsmon_ignore *b)
{
	return a->path && strcmp(a->path, b->path) == 0 && a->mount == b->mount &&
	       a->dev == b->dev && a->ino == b->ino && (!a->mount || a->mnt_id == b->mnt_id);
}

/* The handle of fd's directory (NULL when its filesystem gives none). */
static struct file_handle *handle_of(int fd, fsid_t *ret_fsid)
{
	struct statfs sfs;
	int mnt_id;
	struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	if (!fh)
		return NULL;
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (fstatfs(fd, &sfs) < 0 || name_to_handle_at(fd, "", fh, &mnt_id, AT_EMPTY_PATH) < 0) {
		free(fh);
		return NULL;
	}
	*ret_fsid = sfs.f_fsid;
	return fh;
}

/* e's directory as it is now: by its path while that leads to it, else (a
 * directory renamed) by its handle; -ENOENT when it is gone, and its marks
 * went with it.  A mount moved away keeps its mark until it is unmounted. */
static int ignore_reopen(struct fsmon *f, const struct fsmon_ignore *e)
{
	struct statx stx;
	_cleanup_close_ int fd = open(e->path, O_PATH | O_CLOEXEC);
	if (fd >= 0 && statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &stx) == 0 &&
	    makedev(stx.stx_dev_major, stx.stx_dev_minor) == e->dev && stx.stx_ino == e->ino &&
	    (!e->mount || stx.stx_mnt_id == (uint64_t)e->mnt_id))
		return TAKE_FD(fd);
	if (e->mount || !e->fh)
		return -ENOENT;
	return fsmon_open_dir(f, &e->fsid, e->fh);
}

static void ignore_free(struct fsmon_ignore *e)
{
	free(e->path);
	free(e->fh);
	e->path = NULL;
	e->fh = NULL;
}

/* Sets e's mark in every group it wants: again for one already set (an ADD
 * is idempotent, and another exclusion of the same directory may just have
 * removed it). */
static void ignore_add(struct fsmon *f, struct fsmon_ignore *e, int fd)
{
	for (unsigned g = G_NOTIF; g <= G_PERM; g <<= 1) {
		if (!(e->want & g))
			continue;
		int r = ignore_mark(f, FAN_MARK_ADD, e, g, fd);
		if (r == 0) {
			e->groups |= g;
			e->failed &= ~g;
			continue;
		}
		if (!(e->failed & g))
			log_warning_errno(r, "file monitor: %s: no ignore mark in the %s group: "
					     "excluded in user space", e->path, group_name(g));
		e->failed |= g;
	}
}

static void ignore_remove(struct fsmon *f, struct fsmon_ignore *e)
{
	_cleanup_close_ int fd = ignore_reopen(f, e);
	if (fd < 0) {
		log_info("file monitor: %s: gone, its ignore marks with it", e->path);
		return;
	}
	for (unsigned g = G_NOTIF; g <= G_PERM; g <<= 1) {
		if (!(e->groups & g))
			continue;
		int r = ignore_mark(f, FAN_MARK_REMOVE, e, g, fd);
		if (r < 0 && r != -ENOENT)
			log_warning_errno(r, "file monitor: %s: cannot remove the ignore mark of "
					     "the %s group", e->path, group_name(g));
	}
	log_info("file monitor: %s: ignore marks removed", e->path);
}

static bool skipped_before(struct json_object *list, const char *p, const char *why)
{
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *o = json_object_array_get_idx(list, i), *a, *b;
		if (json_object_object_get_ex(o, "path", &a) &&
		    json_object_object_get_ex(o, "reason", &b) &&
		    strcmp(json_object_get_string(a), p) == 0 &&
		    strcmp(json_object_get_string(b), why) == 0)
			return true;
	}
	return false;
}

/* An exclusion the kernel does not hold: listed in status, logged when new
 * (a missing path at info: perhaps a typing error in the policy). */
static void ignore_skip(struct fsmon *f, struct json_object *list, const char *p, int err,
			const char *why)
{
	struct json_object *o = json_object_new_object();
	if (!skipped_before(f->ign_skipped, p, why)) {
		if (err == -ENODEV)
			log_debug("file monitor: path exclusion %s: %s", p, why);
		else
			log_info("file monitor: path exclusion %s: %s: excluded in user space only",
				 p, why);
	}
	if (!o)
		return;
	json_object_object_add(o, "path", json_object_new_string(p));
	json_object_object_add(o, "reason", json_object_new_string(why));
	json_object_array_add(list, o);
}

/* Resolves every path exclusion into next[] (fds[] aligned): an ignore mark
 * already set for the same object moves over from f->ign, a new one gets
 * its path and handle.  The number resolved. */
static size_t ignore_want(struct fsmon *f, const struct mount_list *l,
			  struct fsmon_ignore *next, int *fds, struct json_object *skipped)
{
	const struct policy *policy = f->mon.ctx->policy;
	size_t n = 0;
	char why[PATH_MAX + 64];
	for (size_t i = 0; i < policy->n_path_exclusions; i++) {
		const char *p = policy->path_exclusions[i];
		struct fsmon_ignore e;
		int r = ignore_resolve(f, l, p, &e, &fds[n], why, sizeof(why));
		if (r < 0) {
			ignore_skip(f, skipped, p, r, why);
			continue;
		}
		size_t k = 0;
		while (k < f->n_ign && !ignore_same(&f->ign[k], &e))
			k++;
		if (k < f->n_ign) {
			next[n] = f->ign[k];
			next[n].want = e.want;
			f->ign[k].path = NULL; /* moved */
		} else {
			next[n] = e;
			next[n].path = strdup(p);
			if (!next[n].path) {
				closep(&fds[n]);
				continue;
			}
			next[n].fh = e.mount ? NULL : handle_of(fds[n], &next[n].fsid);
			log_info("file monitor: %s: ignore marks on its %s", p,
				 e.mount ? "mount" : "directory");
		}
		n++;
	}
	return n;
}

/* Brings the ignore marks in line with the path exclusions and the mount
 * table.  Marks no longer wanted go first (for a moment more events reach
 * user space, which excludes them: none is lost), then the wanted ones. */
void fsmon_ignore_sync(struct fsmon *f, const struct mount_list *l)
{
	const struct policy *policy = f->mon.ctx->policy;
	size_t max = policy->n_path_exclusions ? policy->n_path_exclusions : 1;
	struct fsmon_ignore *next = calloc(max, sizeof(*next));
	_cleanup_free_ int *fds = calloc(max, sizeof(*fds));
	struct json_object *skipped = json_object_new_array();
	if (!next || !fds || !skipped) {
		log_error_errno(ENOMEM, "file monitor: ignore marks not updated");
		free(next);
		json_object_put(skipped);
		return;
	}
	size_t n = ignore_want(f, l, next, fds, skipped);
	for (size_t i = 0; i < f->n_ign; i++)
		if (f->ign[i].path) {
			ignore_remove(f, &f->ign[i]);
			ignore_free(&f->ign[i]);
		}
	free(f->ign);
	f->ign = next;
	f->n_ign = n;
	for (size_t i = 0; i < n; i++) {
		ignore_add(f, &f->ign[i], fds[i]);
		close(fds[i]);
	}
	json_object_put(f->ign_skipped);
	f->ign_skipped = skipped;
}

void fsmon_ignore_release(struct fsmon *f)
{
	for (size_t i = 0; i < f->n_ign; i++)
		ignore_free(&f->ign[i]);
	free(f->ign);
	f->ign = NULL;
	f->n_ign = 0;
	json_object_put(f->ign_skipped);
	f->ign_skipped = NULL;
}
