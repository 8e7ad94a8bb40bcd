/* fuzz_faultstate - faults_load() on an arbitrary persisted state file.
 *
 * The input is written to <dir>/faults.json in a directory made once per
 * process.  A corrupt file must be moved aside to faults.json.corrupt with
 * -EBADMSG and every fault left cleared; a file that loads must save and
 * load again to the same registry.  Both files are removed after each run. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/faults.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[PATH_MAX], path[PATH_MAX], aside[PATH_MAX];

static void remove_files(void)
{
	unlink(path);
	unlink(aside);
}

static void remove_dir(void)
{
	remove_files();
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup("fuzz", LOG_TARGET_STDERR, LOG_CRIT);

	/* tmpfs when there is one: faults_save() fsyncs on every round trip. */
	const char *base = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	snprintf(dir, sizeof(dir), "%s/picket-fuzz-faults.XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		abort();
	}
	snprintf(path, sizeof(path), "%s/faults.json", dir);
	snprintf(aside, sizeof(aside), "%s.corrupt", path);
	atexit(remove_dir);
	return 0;
}

static void write_input(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	while (size > 0) {
		ssize_t k = write(fd, data, size);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			abort();
		data += k;
		size -= (size_t)k;
	}
	close(fd);
}

static bool same_state(const struct fault_state *a, const struct fault_state *b)
{
	return a->def == b->def && a->active == b->active && a->applies == b->applies &&
	       a->severity == b->severity && strcmp(a->detail, b->detail) == 0 &&
	       strcmp(a->remedy, b->remedy) == 0 && a->raised_at == b->raised_at &&
	       a->cleared_at == b->cleared_at && a->raise_count == b->raise_count;
}

static void check_loaded(const struct faults *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		const struct fault_state *f = &fs->st[i];
		if (strnlen(f->detail, sizeof(f->detail)) >= sizeof(f->detail) ||
		    strnlen(f->remedy, sizeof(f->remedy)) >= sizeof(f->remedy) ||
		    (unsigned)f->severity > FAULT_CRITICAL ||
		    (!f->active && f->severity != f->def->severity))
			abort();
	}
}

/* Saves the loaded registry and loads it into a fresh one: it must match. */
static void round_trip(const struct faults *fs)
{
	struct faults again;

	if (faults_save(fs) < 0)
		abort();
	if (faults_init(&again, path, NULL, NULL) < 0)
		abort();
	if (faults_load(&again) != 0)
		abort();
	for (size_t i = 0; i < fs->n; i++)
		if (!same_state(&fs->st[i], &again.st[i]))
			abort();
	faults_done(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct faults fs;
	int r;

	write_input(data, size);
	if (faults_init(&fs, path, NULL, NULL) < 0)
		abort();
	r = faults_load(&fs);
	if (r == 0) {
		check_loaded(&fs);
		round_trip(&fs);
	} else if (r == -EBADMSG) {
		for (size_t i = 0; i < fs.n; i++)
			if (fs.st[i].active)
				abort();
		if (access(path, F_OK) == 0 || access(aside, F_OK) != 0)
			abort();
	} else {
		abort();
	}
	faults_done(&fs);
	remove_files();
	return 0;
}
