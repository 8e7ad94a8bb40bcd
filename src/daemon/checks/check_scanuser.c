#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checks.h"
#include "cleanup.h"

void check_note(struct check_result *r, const char *fmt, ...)
{
	size_t n = strlen(r->detail);
	va_list ap;
	r->holds = true;
	if (n + 3 >= sizeof(r->detail))
		return;
	if (n > 0) {
		strcpy(r->detail + n, "; ");
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(r->detail + n, sizeof(r->detail) - n, fmt, ap);
	va_end(ap);
}

int check_scan_user(const struct hostview *hv, const struct policy *p, struct check_result *ret)
{
	struct hv_user u;
	struct hv_group g;
	int ru = hostview_user(hv, p->scan_user, &u);
	int rg = hostview_group(hv, p->scan_group, &g);

	if (ru == -ENOENT)
		check_note(ret, "scan user '%s' does not exist", p->scan_user);
	else if (ru < 0)
		check_note(ret, "scan user '%s' cannot be looked up: %s", p->scan_user, strerror(-ru));
	else if (u.uid == 0)
		check_note(ret, "scan user '%s' is uid 0", p->scan_user);
	if (rg == -ENOENT)
		check_note(ret, "scan group '%s' does not exist", p->scan_group);
	else if (rg < 0)
		check_note(ret, "scan group '%s' cannot be looked up: %s", p->scan_group, strerror(-rg));
	if (ru == 0 && rg == 0 && u.gid != g.gid)
		check_note(ret, "scan user '%s' has primary group %u, not '%s' (%u)", p->scan_user,
		    (unsigned)u.gid, p->scan_group, (unsigned)g.gid);
	return 0;
}

struct walk {
	struct check_result *ret;
	size_t seen, max, bad;
	check_visit_fn visit;
	void *ud;
};

static void check_dir(struct walk *w, const char *path, const struct stat *st)
{
	if (w->visit)
		w->visit(path, w->ud);
	mode_t perm = st->st_mode & 07777;
	if (st->st_uid == 0 && perm == 0755)
		return;
	if (w->bad++ < 3)
		check_note(w->ret, "install directory %s is mode %04o owner %u:%u, must be 0755 root:root",
		    path, (unsigned)perm, (unsigned)st->st_uid, (unsigned)st->st_gid);
}

static int walk_dir(struct walk *w, int dfd, const char *path)
{
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	struct dirent *de;
	if (!d) {
		close(dfd);
		return -errno;
	}
	while ((de = readdir(d))) {
		char sub[PATH_MAX];
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (++w->seen > w->max)
			return -E2BIG;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		check_dir(w, sub, &st);
		int fd = openat(dirfd(d), de->d_name,
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			check_note(w->ret, "install directory %s cannot be read: %s", sub, strerror(errno));
			continue;
		}
		int r = walk_dir(w, fd, sub);
		if (r < 0)
			return r;
	}
	return 0;
}

int check_install_tree(const char *prefix, size_t max_dirs, check_visit_fn visit, void *ud,
		       struct check_result *ret)
{
	struct walk w = { .ret = ret, .max = max_dirs, .visit = visit, .ud = ud };
	struct stat st;
	int fd = open(prefix, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		check_note(ret, "install prefix %s: %s", prefix, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 0;
	}
	check_dir(&w, prefix, &st);
	int r = walk_dir(&w, fd, prefix);
	if (r == -E2BIG)
		check_note(ret, "install tree %s has more than %zu directories; not all were checked",
		    prefix, max_dirs);
	else if (r < 0)
		check_note(ret, "install prefix %s cannot be read: %s", prefix, strerror(-r));
	if (w.bad > 3)
		check_note(ret, "and %zu more directories", w.bad - 3);
	return 0;
}
