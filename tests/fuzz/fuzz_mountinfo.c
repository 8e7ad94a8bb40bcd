/* fuzz_mountinfo - mounts_parse() (libmount) and mounts_choose() on
 * arbitrary mountinfo text: the monitor's view of which filesystems to
 * mark.
 *
 * Checked: a failed parse leaves the list untouched and says why; a
 * successful one gives entries with a root, an absolute mount point and a
 * type; every choice is one of the enum; at most one mount per filesystem
 * (major:minor) is chosen for marking, never a pseudo or an overmounted one;
 * an excluded mount's filesystem is never marked. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "monitor/mounts.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup("fuzz", LOG_TARGET_STDERR, LOG_CRIT);
	return 0;
}

static void check_choice(const struct mount_list *l, char *const *exclude, size_t n_exclude)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct mount_entry *e = &l->v[i];
		if ((unsigned)e->choice > MOUNT_NOT_INCLUDED)
			abort();
		if (e->choice == MOUNT_WATCH && mounts_pseudo_fstype(e->fstype))
			abort();
		if (e->choice != MOUNT_WATCH)
			continue;
		for (size_t j = 0; j < l->n; j++) {
			const struct mount_entry *o = &l->v[j];
			if (j != i && o->choice == MOUNT_WATCH && o->major == e->major &&
			    o->minor == e->minor)
				abort(); /* one filesystem, two marks */
			for (size_t k = 0; k < n_exclude; k++)
				if (o->major == e->major && o->minor == e->minor &&
				    strcmp(o->target, exclude[k]) == 0)
					abort(); /* an excluded filesystem marked */
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mount_list l = { .n = 7 };
	char err[256] = "";
	int r = mounts_parse((const char *)data, size, "fuzz", &l, err, sizeof(err));
	if (r < 0) {
		if ((r != -EINVAL && r != -E2BIG && r != -ENOMEM) || !err[0] || l.n != 7 || l.v)
			abort();
		return 0;
	}
	for (size_t i = 0; i < l.n; i++)
		if (!l.v[i].root || !l.v[i].target || l.v[i].target[0] != '/' || !l.v[i].fstype)
			abort();
	char *include[] = { "/", "/tmp", "/a" };
	char *exclude[] = { "/b", "/tmp/" };
	mounts_choose(&l, NULL, 0, NULL, 0);
	check_choice(&l, NULL, 0);
	mounts_choose(&l, include, 3, exclude, 1);
	check_choice(&l, exclude, 1);
	mounts_choose(&l, NULL, 0, exclude + 1, 1);
	(void)mounts_watched(&l);
	(void)mounts_is_mount_point(&l, "/");
	mounts_free(&l);
	return 0;
}
