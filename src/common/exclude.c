#include "exclude.h"

#include <string.h>

#include "policy.h"

bool path_under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	while (n > 1 && prefix[n - 1] == '/')
		n--;
	if (n == 1 && prefix[0] == '/')
		return path[0] == '/';
	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
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
