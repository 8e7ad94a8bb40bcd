/* defs.h - the virus definitions store, <state_dir>/defs:
 *
 *   sets/<id>/        installed sets, never modified once installed
 *                     (dirs 0755, files 0644: the scan user reads them)
 *   active            symlink -> sets/<id>, what picket-scand loads
 *   last-known-good   symlink -> sets/<id>, the set active before it
 *   staging/          work area (0700)
 *   rejected/         refused files, each with <file>.reason (time, source,
 *                     reason); at most DEFS_REJECTED_MAX files, oldest go first
 *   incoming/         drop folder picketd watches (0700)
 *
 * Symlinks switch atomically (a temporary symlink renamed over the old), so
 * active always names a complete set.  A set holds at most DEFS_FILES_MAX files,
 * one per database: a new X.cvd, X.cld or X.cud replaces the set's X.* .
 * Not thread-safe; operations take an flock on the defs directory. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cvd.h"

#define DEFS_FILES_MAX 64
#define DEFS_REJECTED_MAX 64
#define DEFS_FILE_SIZE_MAX (2ULL << 30) /* bytes */

struct defs {
	int fd;       /* <state_dir>/defs, O_DIRECTORY */
	char *root;   /* <state_dir>/defs */
	char *active; /* <state_dir>/defs/active */
};

struct defs_install_opts {
	/* How each file is checked (cvd_check_file): allow_unsigned is the
	 * policy's allow_unsigned_defs, the ids those of the scan user. */
	struct cvd_check_opts check;
	/* Test-loads the candidate set dir (sets/<id>, readable by the scan user);
	 * 0 if it loads, else negative with a reason in err.  Required. */
	int (*stability)(const char *set_dir, char *err, size_t errlen, void *ud);
	void *ud;
};

/* One file to install.  path names it: its last component is the file's name
 * in the set, and it is recorded as the source.  fd < 0: the store opens
 * path itself (O_PATH, checked, then reopened read-only through
 * /proc/self/fd).  fd >= 0: a descriptor the caller owns and keeps, used as
 * it is, never reopened: it must be open for reading (O_PATH and O_WRONLY
 * are refused) and is read with pread. */
struct defs_input {
	const char *path;
	int fd;
};

struct defs_file_result {
	char name[256];
	bool accepted;
	char reason[512]; /* why it was rejected */
};

struct defs_report {
	size_t n; /* one entry per input path, in order */
	struct defs_file_result files[DEFS_FILES_MAX];
	char set_id[64]; /* the set that became active, "" if none */
};

struct defs_file_status {
	char name[256];
	bool header_ok; /* false: the fields below are zero */
	unsigned version, sigs;
	char build_time[64];
	uint64_t stime;
	char source[256]; /* the path it was installed from, "" if unknown */
};

struct defs_status {
	char set_id[64];
	size_t n_files;
	struct defs_file_status files[DEFS_FILES_MAX];
	uint64_t total_sigs;
	uint64_t newest_stime;      /* of the newest file, 0 if none */
	char newest_build_time[64];
	int64_t age;                /* now - newest_stime, seconds */
	time_t installed_at;
	bool has_last_known_good;
	char last_known_good_id[64];
};

/* Creates the layout under <state_dir>/defs (idempotent, modes enforced), and
 * removes leftovers of an interrupted install (staging, unreferenced sets). */
int defs_open(struct defs *d, const char *state_dir);
void defs_close(struct defs *d);

/* Installs the definitions files in[0..n) (n <= DEFS_FILES_MAX; the files
 * are copied, never trusted in place, and left where they are).  Each is
 * refused before a byte is read when it is not a regular file (a FIFO or a
 * device is never opened for reading), is on a kernel interface filesystem
 * (proc, sysfs, debugfs, ...) or on FUSE, or is larger than
 * DEFS_FILE_SIZE_MAX; then exactly its size is copied to staging (a file
 * that grows or shrinks meanwhile is refused), checked with cvd_check_file,
 * and refused if older than the active version of the same database;
 * refused files go to rejected/.  The new set is the active set plus the
 * accepted files; it must pass opts->stability, else its new files are
 * rejected with that reason.  Then last-known-good := active, active := new
 * set, and unreferenced sets are removed.  rep (optional) gets the outcome
 * of each file.
 * 0: a new set is active.  -EBADMSG: nothing was accepted.  Other -errno: I/O
 * error.  In every failure the active set is unchanged. */
int defs_install(struct defs *d, const struct defs_input *in, size_t n,
		 const struct defs_install_opts *opts, struct defs_report *rep);

/* The active set failed to load: its files that are not in last-known-good
 * go to rejected/ with reason, then active := last-known-good.  -ENOENT if
 * there is no last-known-good distinct from the active set. */
int defs_rollback(struct defs *d, const char *reason);

/* Describes the active set; -ENOENT when nothing is installed. */
int defs_status(const struct defs *d, struct defs_status *ret);

/* <state_dir>/defs/active: the path picket-scand loads. */
const char *defs_active_dir(const struct defs *d);
