/* testutil.h - helpers shared by the unit tests: scratch directories built
 * per test and removed after it, and small file helpers that fail the test
 * (through cmocka) rather than return errors. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

/* cmocka setup/teardown: *state becomes a fresh mkdtemp directory (a char *),
 * removed with everything in it afterwards. */
int tu_tmpdir_setup(void **state);
int tu_tmpdir_teardown(void **state);

/* "<root>/<rel>" into a static rotating buffer (valid for a few calls). */
const char *tu_path(const char *root, const char *rel);
/* Creates <root>/<rel> and its parents, mode 0755. */
void tu_mkdir(const char *root, const char *rel);
/* Writes text to <root>/<rel>, creating the parent directories. */
void tu_write(const char *root, const char *rel, const char *text);
/* The whole content of a file, as a new string; NULL when it cannot be read. */
char *tu_read(const char *path);
/* Number of entries (besides . and ..) in a directory, -1 if unreadable. */
int tu_count_entries(const char *dir);
/* rm -rf; tolerates a missing path. */
void tu_rm_rf(const char *path);
/* Whether the tests run as root (ownership and chown need it). */
int tu_is_root(void);

/* Runs tests, then root_only when running as root.  cmocka 1.1.5 prints a
 * skip() as "not ok N # SKIP", which TAP readers (meson, scripts/check.sh)
 * count as a failure, so tests that need root are left out of the plan when
 * not root, each named in a "# skipped (needs root): name" comment. */
int tu_run_group(const char *name, const struct CMUnitTest *tests, size_t n,
		 const struct CMUnitTest *root_only, size_t n_root);
#define TU_RUN(name, tests, root_only)                                                      \
	tu_run_group(name, tests, sizeof(tests) / sizeof((tests)[0]), root_only,           \
		     sizeof(root_only) / sizeof((root_only)[0]))
