/* mounts.h - which filesystems the file monitor marks.
 *
 * The mount table is read from mountinfo (with libmount) and every mount is
 * given a choice: its filesystem is marked through it, through another of
 * its mounts (a filesystem mounted twice is marked once), or not at all, and
 * why.  Never marked: pseudo filesystems (no files to scan, or device nodes
 * the kernel would open for each event), filesystems served from user space
 * (FUSE: an open there may never return, and fanotify opens the file of an
 * event in its reader), not even when mounts_include names them, and
 * overmounted mounts (no path reaches them).  Network filesystems are marked only when mounts_include
 * names them.  mounts_include and mounts_exclude name mount points; each
 * selects or removes the whole filesystem mounted there, and an exclusion
 * wins.
 *
 * Another mount namespace's table (/proc/PID/mountinfo, its mount points
 * as that process sees them) marks only the filesystems the host has no
 * mount of: the host's own are the host table's choice.  FUSE there is
 * never marked: its daemon is the namespace's, and fanotify opens each
 * file for us. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define MOUNTS_MAX 65536 /* mountinfo entries; more is refused */

enum mount_choice {
	MOUNT_WATCH,        /* its filesystem is marked through this mount */
	MOUNT_SAME_FS,      /* ... through another mount of the same filesystem */
	MOUNT_PSEUDO,       /* proc, sysfs, cgroup, devtmpfs ...: never */
	MOUNT_USERSPACE,    /* fuse, fuseblk, fuse.*: never */
	MOUNT_NETWORK,      /* nfs, cifs ...: only when mounts_include names it */
	MOUNT_HIDDEN,       /* another mount sits on the same mount point */
	MOUNT_EXCLUDED,     /* mounts_exclude names a mount of its filesystem */
	MOUNT_NOT_INCLUDED, /* mounts_include names no mount of its filesystem */
	MOUNT_HOST_FS,      /* another namespace's mount of a filesystem the host has */
	MOUNT_FUSE,         /* FUSE in another namespace */
};

struct mount_entry {
	int id, parent;
	unsigned major, minor; /* the filesystem */
	char *root;   /* the directory of the filesystem mounted here */
	char *target; /* the mount point */
	char *fstype;
	char *source;
	bool network;
	enum mount_choice choice;
};

struct mount_list {
	struct mount_entry *v;
	size_t n;
};

/* Parses mountinfo text.  On failure returns -EINVAL (-E2BIG past
 * MOUNTS_MAX, -ENOMEM), leaves *ret untouched and err says
 * "name:line: reason". */
int mounts_parse(const char *text, size_t len, const char *name, struct mount_list *ret,
		 char *err, size_t errlen);
/* The same from a file (the daemon: /proc/self/mountinfo). */
int mounts_read(const char *path, struct mount_list *ret, char *err, size_t errlen);
/* The same from an open mountinfo, read again from its start (one held
 * for EPOLLPRI); name is for err. */
int mounts_read_fd(int fd, const char *name, struct mount_list *ret, char *err, size_t errlen);
void mounts_free(struct mount_list *l);

/* Sets each entry's choice from the policy's lists (NULL, 0: none). */
void mounts_choose(struct mount_list *l, char *const *include, size_t n_include,
		   char *const *exclude, size_t n_exclude);
/* The same for another namespace's table l, after mounts_choose(l, none):
 * its mounts of filesystems host has become MOUNT_HOST_FS, FUSE MOUNT_FUSE. */
void mounts_choose_ns(struct mount_list *l, const struct mount_list *host);
/* The entry of mount id, NULL when none. */
const struct mount_entry *mounts_by_id(const struct mount_list *l, int id);
/* Whether l has a mount of the filesystem major:minor. */
bool mounts_has_fs(const struct mount_list *l, unsigned major, unsigned minor);
/* Whether path is the mount point of a visible mount. */
bool mounts_is_mount_point(const struct mount_list *l, const char *path);
/* The number of entries marked with MOUNT_WATCH. */
size_t mounts_watched(const struct mount_list *l);

bool mounts_pseudo_fstype(const char *fstype);
bool mounts_userspace_fstype(const char *fstype);
const char *mount_choice_name(enum mount_choice c);
