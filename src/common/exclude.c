#include "exclude.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "policy.h"

int path_normalize(const char *path, char *out, size_t len)
{
	size_t n = 0;
	if (!path || path[0] != '/')
		return -EINVAL;
	if (len < 2)
		return -ENAMETOOLONG;
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		size_t c = strcspn(p, "/");
		if (c == 0 || (c == 1 && p[0] == '.')) {
			p += c;
			continue;
		}
		if (c == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 0 && out[--n] != '/')
				; /* back to the slash before the last component */
			p += c;
			continue;
		}
		if (n + 1 + c >= len)
			return -ENAMETOOLONG;
		out[n] = '/';
		memcpy(out + n + 1, p, c);
		n += 1 + c;
		p += c;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return 0;
}

bool path_under(const char *path, const char *prefix)
{
	char a[PATH_MAX], b[PATH_MAX];
	if (path_normalize(path, a, sizeof(a)) < 0 || path_normalize(prefix, b, sizeof(b)) < 0)
		return false;
	size_t n = strlen(b);
	if (n == 1)
		return true; /* "/" */
	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

bool exclude_path(const struct policy *p, const char *path)
{
	for (size_t i = 0; i < p->n_path_exclusions; i++)
		if (path_under(path, p->path_exclusions[i]))
			return true;
	return false;
}

bool exclude_process(const struct policy *p, const char *exe)
{
	if (!exe || !*exe)
		return false;
	for (size_t i = 0; i < p->n_process_exclusions; i++)
		if (strcmp(exe, p->process_exclusions[i]) == 0)
			return true;
	return false;
}
