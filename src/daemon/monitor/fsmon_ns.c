/* fsmon_ns.c - other mount namespaces (see fsmon.h): each one found at an
 * execution the process monitor reports, or by a scan of /proc every
 * NS_SCAN_MS, is followed through the process it was found by: its mount
 * table (EPOLLPRI on a change) and its root.  The filesystems only it has
 * are marked and caught up; it is forgotten at the first scan that finds
 * no process (no thread) in it.  And the name of a file: its path as the
 * host sees it, or its path in its namespace with the namespace's id. */
#include "fsmon_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cleanup.h"
#include "core/proctable.h"
#include "exclude.h"
#include "fdpath.h"
#include "log.h"
#include "policy.h"

#define HOST_PATH_TRIES 8 /* host mounts of one filesystem tried to name a file */

/* The mount namespace of what dfd/rel names ("123" or "1/task/123" below
 * /proc): the inode of its ns/mnt, read from the link's text "mnt:[N]"
 * (half the cost of a stat, which makes the namespace's dentry). */
static int ns_at(int dfd, const char *rel, uint64_t *ret)
{
	char p[96], link[64], *end;
	snprintf(p, sizeof(p), "%s/ns/mnt", rel);
	ssize_t n = readlinkat(dfd, p, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	if (strncmp(link, "mnt:[", 5) != 0)
		return -EINVAL;
	errno = 0;
	unsigned long long id = strtoull(link + 5, &end, 10);
	if (errno || end == link + 5 || strcmp(end, "]") != 0)
		return -EINVAL;
	*ret = id;
	return 0;
}

static int ns_of_pid(pid_t pid, uint64_t *ret)
{
	char rel[32];
	snprintf(rel, sizeof(rel), "/proc/%d", (int)pid);
	return ns_at(AT_FDCWD, rel, ret);
}

static struct fsmon_ns *ns_find(const struct fsmon *f, uint64_t id)
{
	for (size_t i = 0; i < f->ns.n; i++)
		if (f->ns.v[i]->id == id)
			return f->ns.v[i];
	return NULL;
}

static void nsfs_free(struct fsmon_nsfs *fs)
{
	free(fs->mount);
	free(fs->fstype);
}

/* ------------------------------------------------------------------ marks */

/* Mount e of namespace ns, opened O_PATH through its root (symbolic links
 * and ".." stay inside it) and checked to be that mount. */
static int ns_open_mount(const struct fsmon_ns *ns, const char *target, int mnt_id)
{
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	struct statx stx;
	_cleanup_close_ int fd = (int)syscall(SYS_openat2, ns->root, target, &how, sizeof(how));
	if (fd < 0)
		return -errno;
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) < 0)
		return -errno;
	if (!(stx.stx_mask & STATX_MNT_ID) || stx.stx_mnt_id != (uint64_t)mnt_id)
		return -ESTALE;
	return TAKE_FD(fd);
}

/* Marks the filesystem of mount e in every group, through namespace ns;
 * late: files may be in it already (catch-up), false when marked again. */
static int ns_mark(struct fsmon_ns *ns, const struct mount_entry *e, bool late,
		   struct fsmon_nsfs *ret)
{
	struct fsmon *f = ns->f;
	struct statfs sfs;
	int fid_err, perm_err;
	char what[PATH_MAX + 64];
	_cleanup_close_ int mfd = ns_open_mount(ns, e->target, e->id);
	if (mfd < 0)
		return mfd;
	if (fstatfs(mfd, &sfs) < 0)
		return -errno;
	*ret = (struct fsmon_nsfs){ .mnt_id = e->id, .major = e->major, .minor = e->minor,
				    .fsid = sfs.f_fsid };
	int r = fsmon_mark_all(f, mfd, &ret->groups, &fid_err, &perm_err);
	if (r < 0)
		return r;
	ret->mount = strdup(e->target);
	ret->fstype = strdup(e->fstype);
	if (!ret->mount || !ret->fstype) {
		nsfs_free(ret);
		return -ENOMEM; /* marked, but not recorded: it is marked again next time */
	}
	log_info("file monitor: watching %s (%s) of mount namespace %llu%s%s", e->target,
		 e->fstype, (unsigned long long)ns->id, fid_err ? ", moves not seen: " : "",
		 fid_err ? strerror(fid_err) : "");
	snprintf(what, sizeof(what), "%s of mount namespace %llu", e->target,
		 (unsigned long long)ns->id);
	if (late && !e->network)
		fsmon_catch_up(f, mfd, what);
	return 0;
}

static bool ns_marked(const struct fsmon_ns *ns, const struct mount_entry *e)
{
	for (size_t i = 0; i < ns->n_fs; i++)
		if (ns->fs[i].major == e->major && ns->fs[i].minor == e->minor)
			return true;
	return false;
}

/* Forgets the filesystems whose mount is gone from l (their marks stay with
 * them while they live: an unmounted filesystem takes its marks along). */
static void ns_drop_gone(struct fsmon_ns *ns, const struct mount_list *l)
{
	size_t keep = 0;
	for (size_t i = 0; i < ns->n_fs; i++) {
		if (mounts_by_id(l, ns->fs[i].mnt_id)) {
			ns->fs[keep++] = ns->fs[i];
			continue;
		}
		log_info("file monitor: %s of mount namespace %llu is unmounted", ns->fs[i].mount,
			 (unsigned long long)ns->id);
		nsfs_free(&ns->fs[i]);
	}
	ns->n_fs = keep;
}

/* Reads the namespace's mount table and marks what is new in it. */
static void ns_sync(struct fsmon_ns *ns, bool late)
{
	struct fsmon *f = ns->f;
	struct mount_list l = { 0 };
	char err[256], name[64];
	snprintf(name, sizeof(name), "mountinfo of mount namespace %llu",
		 (unsigned long long)ns->id);
	int r = mounts_read_fd(f->ns.src[ns->slot].fd, name, &l, err, sizeof(err));
	if (r < 0) {
		log_warning_errno(r, "file monitor: %s", err);
		return;
	}
	mounts_choose(&l, NULL, 0, NULL, 0);
	mounts_choose_ns(&l, &f->host);
	ns_drop_gone(ns, &l);
	mounts_free(&ns->mounts);
	ns->mounts = l;
	for (size_t i = 0; i < l.n; i++) {
		const struct mount_entry *e = &l.v[i];
		struct fsmon_nsfs fs;
		if (e->choice != MOUNT_WATCH || ns_marked(ns, e))
			continue;
		struct fsmon_nsfs *grown = realloc(ns->fs, (ns->n_fs + 1) * sizeof(*ns->fs));
		if (!grown) {
			log_error_errno(-ENOMEM, "file monitor: %s of mount namespace %llu not marked",
					e->target, (unsigned long long)ns->id);
			continue;
		}
		ns->fs = grown;
		r = ns_mark(ns, e, late, &fs);
		if (r < 0) {
			log_warning_errno(r, "file monitor: cannot mark %s (%s) of mount namespace %llu",
					  e->target, e->fstype, (unsigned long long)ns->id);
			continue;
		}
		ns->fs[ns->n_fs++] = fs;
	}
}

static void on_ns_mountinfo(struct io_source *src, uint32_t events)
{
	struct fsmon *f = src->obj;
	size_t slot = (size_t)(src - f->ns.src);
	(void)events;
	if (src->fd < 0)
		return; /* forgotten by an earlier handler of the same wakeup */
	for (size_t i = 0; i < f->ns.n; i++)
		if (f->ns.v[i]->slot == slot) {
			ns_sync(f->ns.v[i], true);
			return;
		}
}

/* ---------------------------------------------------------- following */

static void ns_free(struct fsmon *f, struct fsmon_ns *ns)
{
	struct io_source *src = &f->ns.src[ns->slot];
	if (src->fd >= 0) {
		loop_del(f->mon.ctx->epfd, src);
		closep(&src->fd);
	}
	closep(&ns->root);
	for (size_t i = 0; i < ns->n_fs; i++)
		nsfs_free(&ns->fs[i]);
	free(ns->fs);
	mounts_free(&ns->mounts);
	free(ns);
}

/* Follows namespace id through pid (a thread id will do). */
static int ns_follow(struct fsmon *f, pid_t pid, uint64_t id)
{
	struct fsmon_nsset *s = &f->ns;
	char p[64];
	uint64_t again = 0;
	int r;

	if (s->n >= NS_MAX) {
		s->not_followed++;
		if (fsmon_rl_allow(&s->rl_full, RL_BURST_CONDITION))
			log_warning("file monitor: %zu mount namespaces followed already: the "
				    "filesystems only mount namespace %llu (pid %d) has are not "
				    "watched", s->n, (unsigned long long)id, (int)pid);
		return -E2BIG;
	}
	size_t slot = 0;
	while (s->src[slot].fd >= 0) /* fewer than NS_MAX are used */
		slot++;
	struct fsmon_ns *ns = calloc(1, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	*ns = (struct fsmon_ns){ .f = f, .id = id, .root = -1, .slot = slot, .seen = true };
	struct io_source *src = &s->src[slot];
	snprintf(p, sizeof(p), "/proc/%d/root", (int)pid);
	ns->root = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	snprintf(p, sizeof(p), "/proc/%d/mountinfo", (int)pid);
	src->fd = open(p, O_RDONLY | O_CLOEXEC);
	/* Both opened in namespace id: pid is still in it afterwards. */
	r = ns->root < 0 || src->fd < 0 ? -errno : ns_of_pid(pid, &again);
	if (r == 0 && again != id)
		r = -ESRCH;
	if (r == 0)
		r = loop_add(f->mon.ctx->epfd, src, EPOLLPRI);
	if (r < 0) {
		log_debug("file monitor: mount namespace %llu of pid %d not followed: %s",
			  (unsigned long long)id, (int)pid, strerror(-r));
		ns_free(f, ns);
		return r;
	}
	s->v[s->n++] = ns;
	log_info("file monitor: following mount namespace %llu (pid %d)", (unsigned long long)id,
		 (int)pid);
	ns_sync(ns, true);
	return 0;
}

void fsmon_ns_see(struct fsmon *f, pid_t pid)
{
	uint64_t id = 0;
	if (!f->ns.on || pid <= 0 || ns_of_pid(pid, &id) < 0 || id == f->ns.self || ns_find(f, id))
		return;
	ns_follow(f, pid, id);
}

/* One task of the scan (rel below /proc): its namespace is seen. */
static void scan_task(struct fsmon *f, int proc, const char *rel, pid_t tid)
{
	uint64_t id = 0;
	if (ns_at(proc, rel, &id) < 0 || id == f->ns.self)
		return;
	struct fsmon_ns *ns = ns_find(f, id);
	if (ns)
		ns->seen = true;
	else
		ns_follow(f, tid, id);
}

static bool all_digits(const char *s)
{
	for (const char *c = s; *c; c++)
		if (!isdigit((unsigned char)*c))
			return false;
	return *s != '\0';
}

/* Every thread of process pid: a thread can have a mount namespace of its
 * own (unshare(CLONE_FS | CLONE_NEWNS)). */
static void scan_process(struct fsmon *f, int proc, int pid)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "%d/task", pid);
	int fd = openat(proc, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (all_digits(de->d_name)) {
			int tid = atoi(de->d_name);
			snprintf(rel, sizeof(rel), "%d/task/%d", pid, tid);
			scan_task(f, proc, rel, tid);
		}
}

/* New namespaces are followed, those with no process left forgotten. */
static void ns_scan(struct fsmon *f)
{
	struct fsmon_nsset *s = &f->ns;
	_cleanup_closedir_ DIR *d = opendir("/proc");
	if (!d) {
		log_warning_errno(-errno, "file monitor: /proc: mount namespaces not scanned");
		return;
	}
	for (size_t i = 0; i < s->n; i++)
		s->v[i]->seen = false;
	struct dirent *de;
	while ((de = readdir(d)))
		if (all_digits(de->d_name))
			scan_process(f, dirfd(d), atoi(de->d_name));
	size_t keep = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i]->seen) {
			s->v[keep++] = s->v[i];
			continue;
		}
		log_info("file monitor: mount namespace %llu has no process left: no longer "
			 "followed", (unsigned long long)s->v[i]->id);
		ns_free(f, s->v[i]);
	}
	s->n = keep;
}

static void on_scan_timer(struct io_source *src, uint32_t events)
{
	struct fsmon *f = src->obj;
	uint64_t ticks;
	(void)events;
	if (src->fd < 0)
		return;
	if (read(src->fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_debug("file monitor: mount namespace timer: %s", strerror(errno));
	ns_scan(f);
}

/* mounts_include names the only filesystems watched: none of these. */
static bool ns_wanted(const struct policy *p)
{
	return p->mount_namespaces && p->n_mounts_include == 0;
}

void fsmon_ns_init(struct fsmon *f)
{
	f->ns.timer = (struct io_source){ -1, on_scan_timer, f };
	for (size_t i = 0; i < NS_MAX; i++)
		f->ns.src[i] = (struct io_source){ -1, on_ns_mountinfo, f };
}

void fsmon_ns_start(struct fsmon *f)
{
	struct fsmon_nsset *s = &f->ns;
	struct itimerspec every = { .it_interval = { NS_SCAN_MS / 1000, NS_SCAN_MS % 1000 * 1000000 },
				    .it_value = { NS_SCAN_MS / 1000, NS_SCAN_MS % 1000 * 1000000 } };
	int r;
	if (s->on || !ns_wanted(f->mon.ctx->policy))
		return;
	if ((r = ns_of_pid(getpid(), &s->self)) < 0) {
		log_error_errno(r, "file monitor: /proc/self/ns/mnt: other mount namespaces are "
				   "not followed");
		return;
	}
	s->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	r = s->timer.fd < 0 ? -errno : 0;
	if (r == 0 && timerfd_settime(s->timer.fd, 0, &every, NULL) < 0)
		r = -errno;
	if (r == 0)
		r = loop_add(f->mon.ctx->epfd, &s->timer, EPOLLIN);
	if (r < 0) {
		log_error_errno(r, "file monitor: timer: other mount namespaces are not followed");
		closep(&s->timer.fd);
		return;
	}
	s->on = true;
	ns_scan(f);
}

void fsmon_ns_stop(struct fsmon *f)
{
	struct fsmon_nsset *s = &f->ns;
	for (size_t i = 0; i < s->n; i++)
		ns_free(f, s->v[i]);
	s->n = 0;
	if (s->timer.fd >= 0) {
		loop_del(f->mon.ctx->epfd, &s->timer);
		closep(&s->timer.fd);
	}
	s->on = false;
	s->not_followed = 0;
}

/* Marked again: the groups may have changed (on_execute). */
void fsmon_ns_apply(struct fsmon *f)
{
	struct fsmon_nsset *s = &f->ns;
	if (!ns_wanted(f->mon.ctx->policy)) {
		if (s->on)
			log_notice("file monitor: other mount namespaces are no longer followed");
		fsmon_ns_stop(f);
		return;
	}
	if (!s->on) {
		fsmon_ns_start(f);
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		struct fsmon_ns *ns = s->v[i];
		for (size_t k = 0; k < ns->n_fs; k++)
			nsfs_free(&ns->fs[k]);
		ns->n_fs = 0;
		ns_sync(ns, false);
	}
}

/* ----------------------------------------------------------------- names */

/* The filesystem of mount mnt_id as mountinfo names it (a btrfs file's
 * st_dev is its subvolume's): from the namespaces' tables, else the file's. */
static void mount_dev(const struct fsmon *f, uint64_t mnt_id, const struct statx *stx,
		      unsigned *ret_major, unsigned *ret_minor)
{
	*ret_major = stx->stx_dev_major;
	*ret_minor = stx->stx_dev_minor;
	for (size_t i = 0; i < f->ns.n; i++) {
		const struct mount_entry *e = mounts_by_id(&f->ns.v[i]->mounts, (int)mnt_id);
		if (e) {
			*ret_major = e->major;
			*ret_minor = e->minor;
			return;
		}
	}
}

/* The host's path of the file of fd, on a filesystem the host has mounted:
 * the file found again through a host mount of it by its handle, and the
 * path that gives checked to lead to that file through that mount. */
static int host_path(const struct fsmon *f, int fd, const struct statx *stx, char *path,
		     size_t len)
{
	unsigned major, minor;
	struct {
		struct file_handle fh;
		unsigned char bytes[MAX_HANDLE_SZ];
	} h = { .fh.handle_bytes = MAX_HANDLE_SZ };
	struct statx at;
	int mnt_id, tries = 0;
	mount_dev(f, stx->stx_mnt_id, stx, &major, &minor);
	if (!mounts_has_fs(&f->host, major, minor))
		return -ENOENT;
	if (name_to_handle_at(fd, "", &h.fh, &mnt_id, AT_EMPTY_PATH) < 0)
		return -errno;
	/* Mounts of the whole filesystem first: any file has a path there. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < f->host.n && tries < HOST_PATH_TRIES; i++) {
			const struct mount_entry *e = &f->host.v[i];
			if (e->major != major || e->minor != minor || e->choice == MOUNT_HIDDEN ||
			    (strcmp(e->root, "/") == 0) != (pass == 0))
				continue;
			tries++;
			_cleanup_close_ int mfd = fsmon_open_mount(e->target, e->id);
			_cleanup_close_ int hfd = mfd < 0 ? -1
							   : open_by_handle_at(mfd, &h.fh,
									       O_PATH | O_CLOEXEC);
			if (hfd < 0 || fdpath_kernel(hfd, path, len) < 0)
				continue;
			if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC,
				  STATX_INO | STATX_MNT_ID, &at) == 0 &&
			    at.stx_ino == stx->stx_ino && at.stx_dev_major == stx->stx_dev_major &&
			    at.stx_dev_minor == stx->stx_dev_minor &&
			    at.stx_mnt_id == (uint64_t)e->id)
				return 0;
		}
	return -ENOENT;
}

/* The namespace whose table has mount mnt_id; else pid's (the writer is
 * most likely in it); 0 when neither is known. */
static uint64_t ns_of_mount(const struct fsmon *f, uint64_t mnt_id, pid_t pid)
{
	uint64_t id = 0;
	for (size_t i = 0; i < f->ns.n; i++)
		if (mounts_by_id(&f->ns.v[i]->mounts, (int)mnt_id))
			return f->ns.v[i]->id;
	if (pid > 0 && ns_of_pid(pid, &id) == 0 && id != f->ns.self)
		return id;
	return 0;
}

int fsmon_name(struct fsmon *f, int fd, const char *known_path, pid_t pid, char *path,
	       size_t len, struct fsmon_where *ret)
{
	struct statx stx;
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_INO | STATX_MNT_ID, &stx) < 0)
		return -errno;
	/* A kernel without STATX_MNT_ID (before 5.8) has the host's paths only. */
	if (!(stx.stx_mask & STATX_MNT_ID) || mounts_by_id(&f->host, (int)stx.stx_mnt_id)) {
		/* A path too deep to tell is told in part (fdpath.h), never a
		 * reason to let the file through. */
		if (known_path)
			snprintf(path, len, "%s", known_path);
		else
			fsmon_event_path(fd, pid, path, len);
		*ret = (struct fsmon_where){ .host = true };
		return 0;
	}
	/* A mount of another namespace, or one detached from every tree. */
	if (host_path(f, fd, &stx, path, len) == 0) {
		*ret = (struct fsmon_where){ .host = true };
		return 0;
	}
	fsmon_event_path(fd, pid, path, len);
	*ret = (struct fsmon_where){ .mnt_ns = ns_of_mount(f, stx.stx_mnt_id, pid) };
	return 0;
}

/* The kernel's encoding of a device number, as the process monitor has it. */
static uint64_t kdev(dev_t d)
{
	return (uint64_t)major(d) << 20 | minor(d);
}

bool fsmon_exclude_process(struct fsmon *f, pid_t pid, const struct proc_info *pi)
{
	char link[64];
	struct stat want, have;
	if (!pi || !exclude_process(f->mon.ctx->policy, pi->exe) || stat(pi->exe, &want) < 0)
		return false;
	/* The running program itself while it lives; else what its exec said. */
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	if (stat(link, &have) == 0)
		return have.st_dev == want.st_dev && have.st_ino == want.st_ino;
	return pi->exe_ino && pi->exe_dev == kdev(want.st_dev) && pi->exe_ino == want.st_ino;
}

int fsmon_ns_open_dir(struct fsmon *f, const fsid_t *fsid, struct file_handle *fh)
{
	for (size_t i = 0; i < f->ns.n; i++) {
		const struct fsmon_ns *ns = f->ns.v[i];
		for (size_t k = 0; k < ns->n_fs; k++) {
			if (memcmp(&ns->fs[k].fsid, fsid, sizeof(*fsid)) != 0)
				continue;
			_cleanup_close_ int mfd = ns_open_mount(ns, ns->fs[k].mount, ns->fs[k].mnt_id);
			int dfd = mfd < 0 ? -1 : open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
			if (dfd >= 0)
				return dfd;
		}
	}
	return -ESTALE;
}

/* ---------------------------------------------------------------- status */

void fsmon_ns_status(const struct fsmon *f, struct json_object *o)
{
	const struct fsmon_nsset *s = &f->ns;
	struct json_object *ns = json_object_new_object(), *fs = json_object_new_array();
	if (!ns || !fs) {
		json_object_put(ns);
		json_object_put(fs);
		return;
	}
	for (size_t i = 0; i < s->n; i++)
		for (size_t k = 0; k < s->v[i]->n_fs; k++) {
			struct json_object *e = json_object_new_object();
			if (!e)
				continue;
			json_object_object_add(e, "mount", json_object_new_string(s->v[i]->fs[k].mount));
			json_object_object_add(e, "fstype",
					       json_object_new_string(s->v[i]->fs[k].fstype));
			json_object_object_add(e, "mount_namespace", json_object_new_uint64(s->v[i]->id));
			json_object_array_add(fs, e);
		}
	json_object_object_add(ns, "followed", json_object_new_boolean(s->on));
	json_object_object_add(ns, "namespaces", json_object_new_uint64(s->n));
	json_object_object_add(ns, "not_followed", json_object_new_uint64(s->not_followed));
	json_object_object_add(ns, "filesystems", fs);
	json_object_object_add(o, "mount_namespaces", ns);
}
