#include "kexclude.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "cleanup.h"
#include "exclude_key.h"
#include "log.h"
#include "mounts.h"
#include "policy.h"

int cgroup2_root(char *out, size_t len)
{
	struct mount_list l = { 0 };
	char err[256];
	int r = mounts_read("/proc/self/mountinfo", &l, err, sizeof(err));
	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(l.v[i].fstype, "cgroup2") == 0 && strcmp(l.v[i].root, "/") == 0) {
			r = snprintf(out, len, "%s", l.v[i].target) < (int)len ? 0 : -ENAMETOOLONG;
			break;
		}
	mounts_free(&l);
	return r;
}

/* A map's wanted keys: the new set is added before the stale keys go, so a
 * reload never leaves a moment without the exclusions that stay. */
struct keyset {
	unsigned char k[EXCLUDE_MAX][sizeof(struct exclude_exe_key)];
	size_t n, size;
};

static bool keyset_has(const struct keyset *ks, const void *key)
{
	for (size_t i = 0; i < ks->n; i++)
		if (memcmp(ks->k[i], key, ks->size) == 0)
			return true;
	return false;
}

static void keyset_add(struct keyset *ks, const void *key)
{
	if (ks->n < EXCLUDE_MAX && !keyset_has(ks, key))
		memcpy(ks->k[ks->n++], key, ks->size);
}

static int sync_map(struct bpf_map *m, const struct keyset *want)
{
	unsigned char one = 1, key[sizeof(want->k[0])], prev[sizeof(want->k[0])];
	struct keyset *stale = calloc(1, sizeof(*stale));
	void *p = NULL;
	int r = 0;
	if (!stale)
		return -ENOMEM;
	stale->size = want->size;
	for (size_t i = 0; i < want->n && r == 0; i++)
		if (bpf_map__update_elem(m, want->k[i], want->size, &one, sizeof(one), BPF_ANY) < 0)
			r = -errno;
	while (r == 0 && bpf_map__get_next_key(m, p, key, want->size) == 0) {
		if (!keyset_has(want, key))
			keyset_add(stale, key);
		memcpy(prev, key, want->size);
		p = prev;
	}
	for (size_t i = 0; i < stale->n && r == 0; i++)
		if (bpf_map__delete_elem(m, stale->k[i], want->size, 0) < 0 && errno != ENOENT)
			r = -errno;
	free(stale);
	return r;
}

int kexclude_write(const struct policy *p, struct bpf_map *exe, struct bpf_map *uid,
		   struct bpf_map *cgroup, size_t *ret_n)
{
	char root[PATH_MAX], path[PATH_MAX];
	struct stat st;
	int r;
	_cleanup_free_ struct keyset *ke = calloc(1, sizeof(*ke));
	_cleanup_free_ struct keyset *ku = calloc(1, sizeof(*ku));
	_cleanup_free_ struct keyset *kc = calloc(1, sizeof(*kc));
	if (!ke || !ku || !kc)
		return -ENOMEM;
	ke->size = sizeof(struct exclude_exe_key);
	ku->size = sizeof(uint32_t);
	kc->size = sizeof(uint64_t);
	for (size_t i = 0; i < p->n_process_exclusions; i++) {
		if (stat(p->process_exclusions[i], &st) < 0) {
			log_warning_errno(errno, "process exclusion %s: not excluded in the kernel",
					  p->process_exclusions[i]);
			continue;
		}
		struct exclude_exe_key k = {
			.dev = ((unsigned long long)major(st.st_dev) << 20) | minor(st.st_dev),
			.ino = st.st_ino,
		};
		keyset_add(ke, &k);
	}
	for (size_t i = 0; i < p->n_process_exclusion_uids; i++) {
		uint32_t u = p->process_exclusion_uids[i];
		keyset_add(ku, &u);
	}
	if (p->n_process_exclusion_cgroups && (r = cgroup2_root(root, sizeof(root))) < 0)
		return r;
	for (size_t i = 0; i < p->n_process_exclusion_cgroups; i++) {
		/* A cgroup-v2 directory's inode number is the cgroup id. */
		snprintf(path, sizeof(path), "%s%s", root, p->process_exclusion_cgroups[i]);
		if (stat(path, &st) < 0) {
			log_warning_errno(errno, "cgroup exclusion %s: not excluded in the kernel",
					  path);
			continue;
		}
		uint64_t id = st.st_ino;
		keyset_add(kc, &id);
	}
	if ((r = sync_map(exe, ke)) < 0 || (r = sync_map(uid, ku)) < 0 || (r = sync_map(cgroup, kc)) < 0)
		return r;
	if (ret_n)
		*ret_n = ke->n + ku->n + kc->n;
	return 0;
}
