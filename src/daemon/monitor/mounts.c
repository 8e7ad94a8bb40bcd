#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <libmount.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <uthash.h>

#include "cleanup.h"

/* Filesystems with nothing the monitor could scan, or where marking does
 * harm.  Kept on purpose: tmpfs and ramfs (/dev/shm, /tmp, /run: where
 * malware is staged), rootfs, overlay, every block filesystem.
 * devtmpfs holds device nodes: fanotify opens the file of every event for
 * its listener, and opening a device has effects (a watchdog starts, a tape
 * rewinds).  hugetlbfs files cannot be written with write(2).  autofs is
 * the trigger the real filesystem is mounted over. */
static const char *const pseudo_fstypes[] = {
	"anon_inodefs", "apparmorfs", "autofs", "bdev", "binder", "binfmt_misc", "bpf",
	"cgroup", "cgroup2", "configfs", "cpuset", "debugfs", "devfs", "devpts", "devtmpfs",
	"dmabuf", "efivarfs", "fusectl", "hugetlbfs", "ipathfs", "mqueue", "nfsd", "nsfs", "pidfs",
	"pipefs", "proc", "pstore", "resctrl", "rpc_pipefs", "securityfs", "selinuxfs",
	"smackfs", "sockfs", "spufs", "sysfs", "tracefs",
};

bool mounts_pseudo_fstype(const char *fstype)
{
	if (!fstype)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(pseudo_fstypes); i++)
		if (strcmp(fstype, pseudo_fstypes[i]) == 0)
			return true;
	return false;
}

/* FUSE, by any subtype ("fuse.sshfs", "fuseblk.ntfs"): every open, read and
 * stat there is answered by a process, which may be the attacker's and may
 * never answer.  fanotify opens the file of a close-write or permission
 * event in the reader's own read(2): a mark there lets that process stall
 * picketd's loop, or its permission thread and with it every execution on
 * the host.  fusectl is the kernel's own control filesystem (pseudo). */
bool mounts_userspace_fstype(const char *fstype)
{
	static const char *const types[] = { "fuse", "fuseblk" };
	if (!fstype)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		size_t n = strlen(types[i]);
		if (strncmp(fstype, types[i], n) == 0 && (fstype[n] == '\0' || fstype[n] == '.'))
			return true;
	}
	return false;
}

const char *mount_choice_name(enum mount_choice c)
{
	static const char *const names[] = {
		[MOUNT_WATCH] = "watched",
		[MOUNT_SAME_FS] = "same filesystem as another mount",
		[MOUNT_PSEUDO] = "pseudo filesystem",
		[MOUNT_USERSPACE] = "served from user space (FUSE)",
		[MOUNT_NETWORK] = "network filesystem (not in mounts_include)",
		[MOUNT_HIDDEN] = "overmounted",
		[MOUNT_EXCLUDED] = "in mounts_exclude",
		[MOUNT_NOT_INCLUDED] = "not in mounts_include",
		[MOUNT_HOST_FS] = "a filesystem the host has",
		[MOUNT_FUSE] = "FUSE in another mount namespace",
	};
	return (size_t)c < ARRAY_SIZE(names) ? names[c] : "?";
}

void mounts_free(struct mount_list *l)
{
	for (size_t i = 0; l->v && i < l->n; i++) {
		free(l->v[i].root);
		free(l->v[i].target);
		free(l->v[i].fstype);
		free(l->v[i].source);
	}
	free(l->v);
	*l = (struct mount_list){ 0 };
}

/* ------------------------------------------------------------------ parsing */

struct parse_err {
	int line; /* the first line libmount could not parse, 0 if none */
};

static int on_parse_error(struct libmnt_table *tb, const char *filename, int line)
{
	struct parse_err *pe = mnt_table_get_userdata(tb);
	(void)filename;
	if (pe && !pe->line)
		pe->line = line;
	return -EINVAL; /* stop at the first bad line */
}

static char *dup_or_null(const char *s, bool *oom)
{
	if (!s)
		return NULL;
	char *c = strdup(s);
	if (!c)
		*oom = true;
	return c;
}

/* One libmount entry into e; -EINVAL when it is no mountinfo line (libmount
 * guesses the format from the first line: text that is not mountinfo comes
 * back as fstab entries, without a root). */
static int take_entry(struct libmnt_fs *fs, struct mount_entry *e)
{
	const char *root = mnt_fs_get_root(fs), *target = mnt_fs_get_target(fs);
	const char *fstype = mnt_fs_get_fstype(fs);
	bool oom = false;

	if (!root || !target || target[0] != '/' || !fstype || !fstype[0])
		return -EINVAL;
	dev_t dev = mnt_fs_get_devno(fs);
	*e = (struct mount_entry){
		.id = mnt_fs_get_id(fs),
		.parent = mnt_fs_get_parent_id(fs),
		.major = major(dev),
		.minor = minor(dev),
		.root = dup_or_null(root, &oom),
		.target = dup_or_null(target, &oom),
		.fstype = dup_or_null(fstype, &oom),
		.source = dup_or_null(mnt_fs_get_source(fs), &oom),
		.network = mnt_fs_is_netfs(fs) == 1,
	};
	return oom ? -ENOMEM : 0;
}

static int from_table(struct libmnt_table *tb, const char *name, struct mount_list *ret,
		      char *err, size_t errlen)
{
	int n = mnt_table_get_nents(tb);
	if (n > MOUNTS_MAX) {
		snprintf(err, errlen, "%s: %d mounts, at most %d handled", name, n, MOUNTS_MAX);
		return -E2BIG;
	}
	struct mount_list l = { .v = calloc(n > 0 ? (size_t)n : 1, sizeof(*l.v)) };
	if (!l.v)
		return -ENOMEM;
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	struct libmnt_fs *fs;
	int r = it ? 0 : -ENOMEM;
	while (r == 0 && mnt_table_next_fs(tb, it, &fs) == 0) {
		r = take_entry(fs, &l.v[l.n]);
		if (r == 0)
			l.n++;
		else if (r == -EINVAL)
			/* Mountinfo lines are never skipped, so this is line n + 1. */
			snprintf(err, errlen, "%s:%zu: not a mountinfo line", name, l.n + 1);
	}
	mnt_free_iter(it);
	if (r == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", name);
	if (r < 0) {
		l.n++; /* the half-taken entry is freed too (calloc'd, or partly set) */
		mounts_free(&l);
		return r;
	}
	*ret = l;
	return 0;
}

static int parse_stream(FILE *f, const char *name, struct mount_list *ret, char *err,
			size_t errlen)
{
	struct parse_err pe = { 0 };
	struct libmnt_table *tb = mnt_new_table();
	if (!tb) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	mnt_table_set_userdata(tb, &pe);
	mnt_table_set_parser_errcb(tb, on_parse_error);
	int r = mnt_table_parse_stream(tb, f, name);
	if (pe.line) {
		/* libmount reports the callback's verdict as success: ours decides. */
		snprintf(err, errlen, "%s:%d: malformed mountinfo line", name, pe.line);
		r = -EINVAL;
	} else if (r < 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(-r));
	} else {
		r = from_table(tb, name, ret, err, errlen);
	}
	mnt_unref_table(tb);
	return r;
}

int mounts_parse(const char *text, size_t len, const char *name, struct mount_list *ret,
		 char *err, size_t errlen)
{
	if (len == 0) { /* fmemopen refuses an empty buffer; no mounts is no error */
		*ret = (struct mount_list){ 0 };
		return 0;
	}
	_cleanup_fclose_ FILE *f = fmemopen((void *)text, len, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -errno;
	}
	return parse_stream(f, name, ret, err, errlen);
}

int mounts_read(const char *path, struct mount_list *ret, char *err, size_t errlen)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f) {
		int r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	return parse_stream(f, path, ret, err, errlen);
}

int mounts_read_fd(int fd, const char *name, struct mount_list *ret, char *err, size_t errlen)
{
	int r;
	/* The duplicate shares the offset: the held descriptor reads from the
	 * start next time too. */
	_cleanup_close_ int dup = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dup < 0 || lseek(dup, 0, SEEK_SET) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", name, strerror(-r));
		return r;
	}
	_cleanup_fclose_ FILE *f = fdopen(dup, "r");
	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", name, strerror(-r));
		return r;
	}
	dup = -1; /* the stream has it */
	return parse_stream(f, name, ret, err, errlen);
}

/* ----------------------------------------------------------------- choosing */

/* a and b name the same directory, trailing slashes aside. */
static bool same_path(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	while (na > 1 && a[na - 1] == '/')
		na--;
	while (nb > 1 && b[nb - 1] == '/')
		nb--;
	return na == nb && memcmp(a, b, na) == 0;
}

static bool listed(const char *target, char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (same_path(target, list[i]))
			return true;
	return false;
}

struct by_id {
	int id;
	size_t idx;
	UT_hash_handle hh;
};

struct by_dev {
	uint64_t dev;
	size_t pick;     /* the mount it is marked through, SIZE_MAX: none yet */
	bool excluded;   /* mounts_exclude names one of its mounts */
	bool included;   /* mounts_include names one of its visible mounts */
	UT_hash_handle hh;
};

enum { REACH_UNKNOWN, REACH_YES, REACH_NO, REACH_WALKING };

static bool parent_of(const struct mount_list *l, struct by_id *ids, size_t i, size_t *ret)
{
	struct by_id *p;
	int parent = l->v[i].parent;
	HASH_FIND_INT(ids, &parent, p);
	if (!p || p->idx == i)
		return false;
	*ret = p->idx;
	return true;
}

/* Whether a path reaches mount i: its parent is reached and nothing else
 * sits on the parent (but i itself).  Hidden: not reached, or covered by a
 * mount on its own mount point.  Each chain of parents is walked once,
 * without recursion (a chain can be MOUNTS_MAX long); a loop of parents
 * (corrupt input) counts as reached. */
static void mark_hidden(struct mount_list *l, struct by_id *ids, unsigned char *reach,
			size_t *coverer, size_t *chain)
{
	size_t p;
	for (size_t i = 0; i < l->n; i++)
		coverer[i] = SIZE_MAX;
	for (size_t i = 0; i < l->n; i++)
		if (parent_of(l, ids, i, &p) && strcmp(l->v[p].target, l->v[i].target) == 0)
			coverer[p] = i;
	for (size_t i = 0; i < l->n; i++) {
		size_t n = 0, at = i;
		bool top = true; /* reach of the node above the chain */
		for (;;) {
			if (reach[at] == REACH_YES || reach[at] == REACH_NO) {
				top = reach[at] == REACH_YES;
				break;
			}
			if (reach[at] == REACH_WALKING)
				break; /* a loop */
			reach[at] = REACH_WALKING;
			chain[n++] = at;
			if (!parent_of(l, ids, at, &at))
				break;
		}
		/* Down again: the chain's top has no (known) parent. */
		while (n--) {
			size_t k = chain[n];
			bool r = top;
			size_t par;
			if (r && parent_of(l, ids, k, &par) && reach[par] != REACH_WALKING &&
			    coverer[par] != SIZE_MAX && coverer[par] != k)
				r = false;
			reach[k] = r ? REACH_YES : REACH_NO;
			top = r;
		}
		if ((reach[i] == REACH_NO || coverer[i] != SIZE_MAX) &&
		    l->v[i].choice == MOUNT_WATCH)
			l->v[i].choice = MOUNT_HIDDEN;
	}
}

static uint64_t dev_of(const struct mount_entry *e)
{
	return (uint64_t)e->major << 32 | e->minor;
}

static void free_maps(struct by_id *ids, struct by_dev *devs)
{
	struct by_id *a, *atmp;
	struct by_dev *b, *btmp;
	HASH_ITER(hh, ids, a, atmp)
	{
		HASH_DEL(ids, a);
		free(a);
	}
	HASH_ITER(hh, devs, b, btmp)
	{
		HASH_DEL(devs, b);
		free(b);
	}
}

/* One record per filesystem: excluded, included, and the visible mount to
 * mark it through (its whole tree "/" preferred: paths read back through it
 * are then complete). */
static int group_by_fs(struct mount_list *l, struct by_dev **devs, char *const *include,
		       size_t n_include, char *const *exclude, size_t n_exclude)
{
	for (size_t i = 0; i < l->n; i++) {
		struct mount_entry *e = &l->v[i];
		uint64_t dev = dev_of(e);
		struct by_dev *g;
		HASH_FIND(hh, *devs, &dev, sizeof(dev), g);
		if (!g) {
			g = calloc(1, sizeof(*g));
			if (!g)
				return -ENOMEM;
			g->dev = dev;
			g->pick = SIZE_MAX;
			HASH_ADD(hh, *devs, dev, sizeof(g->dev), g);
		}
		if (listed(e->target, exclude, n_exclude))
			g->excluded = true;
		if (e->choice != MOUNT_WATCH)
			continue; /* pseudo or hidden */
		if (listed(e->target, include, n_include))
			g->included = true;
		if (g->pick == SIZE_MAX ||
		    (strcmp(l->v[g->pick].root, "/") != 0 && strcmp(e->root, "/") == 0))
			g->pick = i;
	}
	return 0;
}

void mounts_choose(struct mount_list *l, char *const *include, size_t n_include,
		   char *const *exclude, size_t n_exclude)
{
	struct by_id *ids = NULL, *id;
	struct by_dev *devs = NULL, *g;
	size_t n = l->n ? l->n : 1;
	unsigned char *reach = calloc(n, 1);
	size_t *coverer = calloc(n, sizeof(size_t));
	size_t *chain = calloc(n, sizeof(size_t));
	bool ok = reach && coverer && chain;

	for (size_t i = 0; i < l->n; i++)
		l->v[i].choice = mounts_pseudo_fstype(l->v[i].fstype)	   ? MOUNT_PSEUDO
				 : mounts_userspace_fstype(l->v[i].fstype) ? MOUNT_USERSPACE
									   : MOUNT_WATCH;
	for (size_t i = 0; ok && i < l->n; i++) {
		HASH_FIND_INT(ids, &l->v[i].id, id);
		if (id)
			continue; /* a duplicate id (corrupt input): the first one counts */
		id = calloc(1, sizeof(*id));
		if (!id) {
			ok = false;
			break;
		}
		id->id = l->v[i].id;
		id->idx = i;
		HASH_ADD_INT(ids, id, id);
	}
	if (ok)
		mark_hidden(l, ids, reach, coverer, chain);
	if (ok && group_by_fs(l, &devs, include, n_include, exclude, n_exclude) < 0)
		ok = false;
	for (size_t i = 0; i < l->n; i++) {
		struct mount_entry *e = &l->v[i];
		if (e->choice != MOUNT_WATCH)
			continue;
		uint64_t dev = dev_of(e);
		g = NULL;
		if (ok)
			HASH_FIND(hh, devs, &dev, sizeof(dev), g);
		if (!g)
			e->choice = MOUNT_NOT_INCLUDED; /* out of memory: mark nothing rather than guess */
		else if (g->excluded)
			e->choice = MOUNT_EXCLUDED;
		else if (n_include && !g->included)
			e->choice = MOUNT_NOT_INCLUDED;
		else if (e->network && !g->included)
			e->choice = MOUNT_NETWORK;
		else if (g->pick != i)
			e->choice = MOUNT_SAME_FS;
	}
	free_maps(ids, devs);
	free(reach);
	free(coverer);
	free(chain);
}

void mounts_choose_ns(struct mount_list *l, const struct mount_list *host)
{
	for (size_t i = 0; i < l->n; i++) {
		struct mount_entry *e = &l->v[i];
		if (e->choice == MOUNT_PSEUDO)
			continue;
		if (mounts_has_fs(host, e->major, e->minor))
			e->choice = MOUNT_HOST_FS;
		else if (mounts_userspace_fstype(e->fstype))
			e->choice = MOUNT_FUSE;
	}
}

const struct mount_entry *mounts_by_id(const struct mount_list *l, int id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].id == id)
			return &l->v[i];
	return NULL;
}

bool mounts_has_fs(const struct mount_list *l, unsigned major, unsigned minor)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].major == major && l->v[i].minor == minor)
			return true;
	return false;
}

bool mounts_is_mount_point(const struct mount_list *l, const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].choice != MOUNT_HIDDEN && same_path(l->v[i].target, path))
			return true;
	return false;
}

size_t mounts_watched(const struct mount_list *l)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += l->v[i].choice == MOUNT_WATCH;
	return n;
}
