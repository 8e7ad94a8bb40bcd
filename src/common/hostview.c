#include "hostview.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

int hostview_init(struct hostview *hv, const char *root)
{
	struct stat st;

	if (!root || strcmp(root, "/") == 0 || root[0] == '\0') {
		hv->root[0] = '\0';
		return 0;
	}
	if (root[0] != '/')
		return -EINVAL;
	if (stat(root, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	size_t n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	if (n >= sizeof(hv->root))
		return -ENAMETOOLONG;
	memcpy(hv->root, root, n);
	hv->root[n] = '\0';
	return 0;
}

bool hostview_is_real(const struct hostview *hv) { return hv->root[0] == '\0'; }

int hostview_path(const struct hostview *hv, const char *abs, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%s", hv->root, abs);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

bool hostview_exists(const struct hostview *hv, const char *abs)
{
	char p[PATH_MAX];
	return hostview_path(hv, abs, p, sizeof(p)) == 0 && access(p, F_OK) == 0;
}

int hostview_read(const struct hostview *hv, const char *abs, char *buf, size_t len)
{
	char p[PATH_MAX];
	size_t used = 0;
	int r;

	if (len == 0)
		return -EINVAL;
	r = hostview_path(hv, abs, p, sizeof(p));
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (used == len - 1) {
			char extra;
			if (read(fd, &extra, 1) > 0)
				return -EFBIG;
			break;
		}
		ssize_t k = read(fd, buf + used, len - 1 - used);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		used += k;
	}
	while (used > 0 && buf[used - 1] == '\n')
		used--;
	buf[used] = '\0';
	return (int)used;
}

int hostview_kernel_release(const struct hostview *hv, char *buf, size_t len)
{
	int r = hostview_read(hv, "/proc/sys/kernel/osrelease", buf, len);
	if (r == 0)
		return -ENODATA;
	return r < 0 ? r : 0;
}

int hostview_mem_available(const struct hostview *hv, uint64_t *ret_kib)
{
	char buf[8192];
	int r = hostview_read(hv, "/proc/meminfo", buf, sizeof(buf));
	if (r < 0)
		return r;
	const char *p = strstr(buf, "MemAvailable:");
	unsigned long long kib;
	if (!p || sscanf(p, "MemAvailable: %llu kB", &kib) != 1)
		return -ENODATA;
	*ret_kib = kib;
	return 0;
}

/* os-release values are shell-style: optionally quoted, with \-escapes. */
static void unquote(const char *v, char *out, size_t len)
{
	size_t o = 0;
	char q = (*v == '"' || *v == '\'') ? *v++ : 0;
	for (; *v && o + 1 < len; v++) {
		if (q && *v == q)
			break;
		if (q == '"' && *v == '\\' && v[1])
			v++;
		out[o++] = *v;
	}
	out[o] = '\0';
}

int env_file_get(const char *text, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);
	const char *line = text;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);
		if (n > klen && strncmp(line, key, klen) == 0 && line[klen] == '=') {
			char v[512];
			size_t vn = n - klen - 1;
			if (vn >= sizeof(v))
				return -E2BIG;
			memcpy(v, line + klen + 1, vn);
			v[vn] = '\0';
			unquote(v, out, len);
			return 0;
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

int os_release_parse(const char *text, struct os_release *ret)
{
	struct os_release r = { 0 };

	if (env_file_get(text, "ID", r.id, sizeof(r.id)) < 0 || r.id[0] == '\0')
		return -EINVAL;
	/* The others are optional: a missing one stays empty. */
	(void)env_file_get(text, "ID_LIKE", r.id_like, sizeof(r.id_like));
	(void)env_file_get(text, "VERSION_ID", r.version_id, sizeof(r.version_id));
	(void)env_file_get(text, "PRETTY_NAME", r.pretty_name, sizeof(r.pretty_name));
	*ret = r;
	return 0;
}

int hostview_os_release(const struct hostview *hv, struct os_release *ret)
{
	char buf[8192];
	int r = hostview_read(hv, "/etc/os-release", buf, sizeof(buf));
	if (r == -ENOENT)
		r = hostview_read(hv, "/usr/lib/os-release", buf, sizeof(buf));
	if (r < 0)
		return r;
	return os_release_parse(buf, ret);
}

static FILE *open_db(const struct hostview *hv, const char *abs)
{
	char p[PATH_MAX];
	if (hostview_path(hv, abs, p, sizeof(p)) < 0) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return fopen(p, "re");
}

static int copy_name(char *dst, size_t len, const char *src)
{
	if (strlen(src) >= len)
		return -ENAMETOOLONG;
	strcpy(dst, src);
	return 0;
}

int hostview_user(const struct hostview *hv, const char *name, struct hv_user *ret)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (hostview_is_real(hv)) {
		int e = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
		if (e)
			return -e;
	} else {
		_cleanup_fclose_ FILE *f = open_db(hv, "/etc/passwd");
		if (!f)
			return -errno;
		while (fgetpwent_r(f, &pw, buf, sizeof(buf), &res) == 0)
			if (strcmp(pw.pw_name, name) == 0)
				break;
	}
	if (!res)
		return -ENOENT;
	ret->uid = res->pw_uid;
	ret->gid = res->pw_gid;
	return copy_name(ret->name, sizeof(ret->name), res->pw_name);
}

int hostview_group(const struct hostview *hv, const char *name, struct hv_group *ret)
{
	struct group gr, *res = NULL;
	char buf[16384];

	if (hostview_is_real(hv)) {
		int e = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
		if (e)
			return -e;
	} else {
		_cleanup_fclose_ FILE *f = open_db(hv, "/etc/group");
		if (!f)
			return -errno;
		while (fgetgrent_r(f, &gr, buf, sizeof(buf), &res) == 0)
			if (strcmp(gr.gr_name, name) == 0)
				break;
	}
	if (!res)
		return -ENOENT;
	ret->gid = res->gr_gid;
	return copy_name(ret->name, sizeof(ret->name), res->gr_name);
}
