/* opener.h - files opened with a control client's own credentials.
 *
 * picketd is root, but what a non-root client asks for must reach only what
 * that client could reach.  An opener is a child forked for one request.
 * Unless the client is root it takes the client's uid, gid and
 * supplementary groups (real, effective and saved: there is no way back),
 * and it is not dumpable.  It keeps no descriptor of picketd's but its end
 * of a SOCK_SEQPACKET socketpair, dies with picketd, and answers in typed
 * messages, each length-checked by the receiver, files as SCM_RIGHTS.
 *
 * A walk (opener_walk) runs beside the event loop: the receiver grants
 * files in batches (opener_want) and takes what arrived (opener_next) when
 * the socket is readable; the child stops when it runs out of grants.
 * opener_run does a short list of paths and waits for the answers, at most
 * OPENER_TIMEOUT_MS. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define OPENER_MAX_GROUPS 256
#define OPENER_TIMEOUT_MS 5000

struct opener_creds {
	uid_t uid;
	gid_t gid;
	size_t n_groups;
	gid_t groups[OPENER_MAX_GROUPS];
};
/* Whether gid is c's primary or a supplementary group; (gid_t)-1 never is. */
bool opener_creds_in_group(const struct opener_creds *c, gid_t gid);

enum opener_kind {
	OPENER_FILE = 1, /* fd: a regular file, read-only; OPENER_OPEN adds dirfd (O_PATH) */
	OPENER_OK,       /* OPENER_MAY_REPLACE: the client may */
	OPENER_ERROR,    /* err: why not */
	OPENER_SKIPPED,  /* the walk's skip callback left it out */
	OPENER_END,      /* the walk is over */
};

#define OPENER_REMOVABLE 0x1 /* OPENER_FILE of a walk: the client could unlink it */

struct opener_item {
	enum opener_kind kind;
	int fd, dirfd; /* the receiver's to close; -1 when none came */
	int err;       /* OPENER_ERROR: a negative errno */
	unsigned flags;
	char path[PATH_MAX];
};

enum opener_op {
	/* The file, opened read-only without following a symlink, and its
	 * directory, as the file was looked up in it. */
	OPENER_OPEN,
	/* Whether the client could create the path or unlink what is there:
	 * write and search permission on its directory, and in a sticky
	 * directory, owning the directory or the file. */
	OPENER_MAY_REPLACE,
};

/* Called in the child for each directory and file of a walk. */
typedef bool (*opener_skip_fn)(const char *path, void *ud);

struct opener {
	pid_t pid;
	int fd;   /* our end, non-blocking; -1 once stopped */
	int nfds; /* descriptors an OPENER_FILE carries */
};

/* Starts walking paths (NULL-terminated) without following symlinks. */
int opener_walk(struct opener *o, const struct opener_creds *c, char *const *paths,
		opener_skip_fn skip, void *ud);
/* Grants n more files. */
int opener_want(struct opener *o, unsigned n);
/* 1 and *ret when a message was there, 0 when none is yet, -EPROTO for a
 * malformed one, -EPIPE when the child ended without OPENER_END. */
int opener_next(struct opener *o, struct opener_item *ret);
/* Ends the child (killed if it still runs) and reaps it; harmless twice. */
void opener_stop(struct opener *o);

/* op on each of paths[0..n) as c: ret[i] is paths[i]'s OPENER_FILE,
 * OPENER_OK or OPENER_ERROR.  -ETIMEDOUT after OPENER_TIMEOUT_MS. */
int opener_run(const struct opener_creds *c, enum opener_op op, const char *const *paths,
	       size_t n, struct opener_item *ret);
void opener_item_close(struct opener_item *it);
