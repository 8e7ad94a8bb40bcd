#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tu_tmpdir_setup(void **state)
{
	const char *base = getenv("TMPDIR");
	char tmpl[PATH_MAX];

	snprintf(tmpl, sizeof(tmpl), "%s/picket-unit.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpl))
		return -1;
	*state = strdup(tmpl);
	return *state ? 0 : -1;
}

int tu_tmpdir_teardown(void **state)
{
	tu_rm_rf(*state);
	free(*state);
	*state = NULL;
	return 0;
}

const char *tu_path(const char *root, const char *rel)
{
	static char bufs[8][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 8];

	assert_true(snprintf(b, PATH_MAX, "%s/%s", root, rel) < PATH_MAX);
	return b;
}

void tu_mkdir(const char *root, const char *rel)
{
	char p[PATH_MAX];

	assert_true(snprintf(p, sizeof(p), "%s/%s", root, rel) < (int)sizeof(p));
	for (char *s = p + strlen(root) + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				fail_msg("mkdir %s: %s", p, strerror(errno));
			*s = c;
			if (c == '\0')
				break;
		}
	}
}

void tu_write(const char *root, const char *rel, const char *text)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	FILE *f;

	if (slash) {
		assert_true((size_t)(slash - rel) < sizeof(dir));
		memcpy(dir, rel, slash - rel);
		dir[slash - rel] = '\0';
		tu_mkdir(root, dir);
	}
	f = fopen(tu_path(root, rel), "we");
	if (!f)
		fail_msg("open %s/%s: %s", root, rel, strerror(errno));
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

char *tu_read(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int c;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &len);
	assert_non_null(m);
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(f);
	fclose(m);
	return buf;
}

int tu_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D || flag == FTW_DNR)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Makes every directory below path searchable and writable first, so a test
 * that took permissions away (as non-root) can still be cleaned up. */
static int open_up(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D || flag == FTW_DNR)
		chmod(path, (st->st_mode & 07777) | 0700);
	return 0;
}

void tu_rm_rf(const char *path)
{
	if (!path)
		return;
	chmod(path, 0700);
	nftw(path, open_up, 16, FTW_PHYS);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int tu_is_root(void) { return geteuid() == 0; }

int tu_run_group(const char *name, const struct CMUnitTest *tests, size_t n,
		 const struct CMUnitTest *root_only, size_t n_root)
{
	struct CMUnitTest *all = calloc(n + n_root, sizeof(*all));
	size_t k = 0;
	int r;

	if (!all)
		return 1;
	for (size_t i = 0; i < n; i++)
		all[k++] = tests[i];
	for (size_t i = 0; i < n_root; i++) {
		if (tu_is_root())
			all[k++] = root_only[i];
		else
			printf("# skipped (needs root): %s\n", root_only[i].name);
	}
	fflush(stdout);
	r = _cmocka_run_group_tests(name, all, k, NULL, NULL);
	free(all);
	return r;
}
