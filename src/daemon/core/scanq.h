/* scanq.h - files waiting for the scan service, and the verdicts known.
 *
 * Jobs own the descriptor picketd opened for them.  The verdict cache is
 * keyed by (device, inode, ctime, size) and emptied whenever the active
 * definitions change, so an unchanged file is not scanned twice with the
 * same definitions.  The key vouches for content only where every change
 * moves ctime: a write through a page already mapped shared, writable and
 * dirty moves nothing, so no verdict is cached nor believed while anyone
 * holds the file open for writing (a writable mapping does), and none on
 * a filesystem where a write through a fresh mapping may not move ctime
 * either: only ext2/3/4, xfs and btrfs (measured), squashfs and erofs
 * (read-only) are trusted; tmpfs, overlayfs, FUSE, network filesystems
 * and the rest are scanned every time.  Files that were in the engine when the scan service
 * crashed are counted: a suspect (two crashes) is not scanned again until
 * the definitions change (fault 6).  Every structure here is bounded. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "scanproto.h"

#define SCANQ_SUSPECT_CRASHES 2
#define SCANQ_MAX_SUSPECTS 256

struct scan_key {
	uint64_t dev, ino;
	int64_t ctime_sec;
	int64_t ctime_nsec;
	int64_t size;
	/* Not part of the identity: 0 when the key tells every change of the
	 * content, else why not (-EBUSY: open for writing somewhere,
	 * -EOPNOTSUPP: its filesystem is not trusted, or the probe's -errno). */
	int32_t distrust;
	int32_t pad;
};

struct verdict {
	enum scan_result result;
	int code;       /* SCAN_ERROR: negative errno or libclamav code */
	char text[256]; /* signature name or error reason */
};

struct scan_job {
	uint64_t id;
	int fd;
	char path[PATH_MAX];
	struct scan_key key;
	void *owner; /* who is told the verdict (a scan session, a monitor) */
	bool keep;   /* never quarantined: its owner could not remove the file */
	struct scan_job *next;
};

struct scan_cache_entry;
struct scan_suspect;

struct scanq {
	struct scan_job *head, *tail;
	size_t len, max;
	uint64_t next_id;
	struct scan_cache_entry *cache;
	size_t cache_len, cache_max;
	struct scan_suspect *suspects;
	size_t n_suspects;
	uint64_t hits, misses;
};

int scanq_init(struct scanq *q, size_t max_jobs, size_t cache_max);
void scanq_done(struct scanq *q);
/* The key of an open file (opened read-only: the probe for writers is a
 * read lease, taken and dropped at once). */
int scan_key_of(int fd, struct scan_key *ret);
/* -EBUSY when someone holds fd's file open for writing (fd read-only), 0
 * when nobody does, or the probe's -errno. */
int scan_writers(int fd);

/* Looks the file up: 1 and *ret when its verdict is cached, 0 when not
 * (always 0 for a key that is distrusted). */
int scanq_cached(struct scanq *q, const struct scan_key *k, struct verdict *ret);
/* Queues a scan of fd (ownership of fd passes to the job, also on error).
 * -ENOSPC when the queue is full, -EDEADLK when the file is a suspect. */
int scanq_push(struct scanq *q, int fd, const char *path, const struct scan_key *k, void *owner,
	       struct scan_job **ret_job);
/* Moves a queued job to the front (an execution waits on its verdict). */
void scanq_promote(struct scanq *q, struct scan_job *job);
/* The next job to send, or NULL; the caller owns it until it is done. */
struct scan_job *scanq_pop(struct scanq *q);
/* Puts a job back at the front (it was in flight when the service died). */
void scanq_unpop(struct scanq *q, struct scan_job *job);
void scan_job_free(struct scan_job *job);
/* Drops every queued job whose owner is owner, closing their descriptors. */
size_t scanq_cancel_owner(struct scanq *q, void *owner);

/* Remembers a clean or infected verdict (errors and distrusted keys are
 * not cached). */
void scanq_cache_put(struct scanq *q, const struct scan_key *k, const struct verdict *v);
/* The definitions changed: forget every verdict and every suspect. */
void scanq_defs_changed(struct scanq *q);
/* The service crashed while scanning k: returns how often that happened. */
unsigned scanq_note_crash(struct scanq *q, const struct scan_key *k);
bool scanq_is_suspect(const struct scanq *q, const struct scan_key *k);
