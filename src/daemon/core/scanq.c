#include "scanq.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <uthash.h>

#include "cleanup.h"

/* The bytes of a key that name a file's content. */
#define KEY_ID_LEN offsetof(struct scan_key, distrust)

/* Filesystems where every change of a file not open for writing moves its
 * ctime (measured on 6.18 for ext4, xfs and btrfs: a write through a fresh
 * shared mapping faults first, read before or not, and the fault stamps
 * the inode; multigrain ctime, so a write right after a stat moves it), or
 * whose content never changes.  Measured not so: tmpfs (a page mapped by a
 * read fault takes writes without one) and so overlayfs, which is tmpfs'
 * where its upper layer is.  fanotify's FAN_MODIFY comes for no write
 * through a mapping, and STATX_CHANGE_COOKIE is not given to user space. */
static const unsigned long trusted_fs[] = {
	EXT4_SUPER_MAGIC, /* ext2 and ext3 too */
	XFS_SUPER_MAGIC,
	BTRFS_SUPER_MAGIC,
	SQUASHFS_MAGIC,
	EROFS_SUPER_MAGIC_V1,
};

struct scan_cache_entry {
	struct scan_key key;
	struct verdict v;
	UT_hash_handle hh;
};

struct scan_suspect {
	struct scan_key key;
	unsigned crashes;
	UT_hash_handle hh;
};

int scanq_init(struct scanq *q, size_t max_jobs, size_t cache_max)
{
	*q = (struct scanq){ .max = max_jobs, .cache_max = cache_max, .next_id = 1 };
	return 0;
}

void scan_job_free(struct scan_job *job)
{
	if (!job)
		return;
	closep(&job->fd);
	free(job);
}

static void forget_all(struct scanq *q)
{
	struct scan_cache_entry *e, *tmp;
	struct scan_suspect *s, *stmp;
	HASH_ITER(hh, q->cache, e, tmp)
	{
		HASH_DEL(q->cache, e);
		free(e);
	}
	HASH_ITER(hh, q->suspects, s, stmp)
	{
		HASH_DEL(q->suspects, s);
		free(s);
	}
	q->cache_len = q->n_suspects = 0;
}

void scanq_done(struct scanq *q)
{
	struct scan_job *j;
	while ((j = scanq_pop(q)))
		scan_job_free(j);
	forget_all(q);
}

/* 0 when nobody holds fd's file open for writing (a read lease can be
 * taken: the kernel refuses it then, a writable shared mapping included),
 * else -EBUSY or why the probe failed.  A writer opening the file while
 * the lease is held waits until it is dropped, right after, and the kernel
 * tells the holder with a signal: SIGURG, whose default is to be ignored
 * (SIGIO's is to terminate). */
int scan_writers(int fd)
{
	if (fcntl(fd, F_SETSIG, SIGURG) < 0 || fcntl(fd, F_SETLEASE, F_RDLCK) < 0)
		return errno == EAGAIN ? -EBUSY : -errno;
	fcntl(fd, F_SETLEASE, F_UNLCK);
	return 0;
}

/* Whether fd's key tells every change of its content: 0, or why not. */
static int key_trust(int fd)
{
	struct statfs sfs;
	if (fstatfs(fd, &sfs) < 0)
		return -errno;
	for (size_t i = 0; i < ARRAY_SIZE(trusted_fs); i++)
		if ((unsigned long)sfs.f_type == trusted_fs[i])
			return scan_writers(fd);
	return -EOPNOTSUPP;
}

int scan_key_of(int fd, struct scan_key *ret)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	/* Zeroed first: the key is hashed as bytes, padding included. */
	memset(ret, 0, sizeof(*ret));
	ret->dev = st.st_dev;
	ret->ino = st.st_ino;
	ret->ctime_sec = st.st_ctim.tv_sec;
	ret->ctime_nsec = st.st_ctim.tv_nsec;
	ret->size = st.st_size;
	ret->distrust = key_trust(fd);
	return 0;
}

int scanq_cached(struct scanq *q, const struct scan_key *k, struct verdict *ret)
{
	struct scan_cache_entry *e = NULL;
	if (!k->distrust)
		HASH_FIND(hh, q->cache, k, KEY_ID_LEN, e);
	if (!e) {
		q->misses++;
		return 0;
	}
	q->hits++;
	/* Move to the back: eviction takes the least recently used from the front. */
	HASH_DEL(q->cache, e);
	HASH_ADD(hh, q->cache, key, KEY_ID_LEN, e);
	*ret = e->v;
	return 1;
}

void scanq_cache_put(struct scanq *q, const struct scan_key *k, const struct verdict *v)
{
	struct scan_cache_entry *e;
	if (v->result == SCAN_ERROR || q->cache_max == 0 || k->distrust)
		return;
	HASH_FIND(hh, q->cache, k, KEY_ID_LEN, e);
	if (e) {
		e->v = *v;
		return;
	}
	if (q->cache_len >= q->cache_max) {
		struct scan_cache_entry *oldest = q->cache;
		HASH_DEL(q->cache, oldest);
		free(oldest);
		q->cache_len--;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return; /* a cache miss later costs a scan, nothing more */
	e->key = *k;
	e->v = *v;
	HASH_ADD(hh, q->cache, key, KEY_ID_LEN, e);
	q->cache_len++;
}

void scanq_defs_changed(struct scanq *q) { forget_all(q); }

unsigned scanq_note_crash(struct scanq *q, const struct scan_key *k)
{
	struct scan_suspect *s;
	HASH_FIND(hh, q->suspects, k, KEY_ID_LEN, s);
	if (!s) {
		if (q->n_suspects >= SCANQ_MAX_SUSPECTS)
			return 1;
		s = calloc(1, sizeof(*s));
		if (!s)
			return 1;
		s->key = *k;
		HASH_ADD(hh, q->suspects, key, KEY_ID_LEN, s);
		q->n_suspects++;
	}
	return ++s->crashes;
}

bool scanq_is_suspect(const struct scanq *q, const struct scan_key *k)
{
	struct scan_suspect *s;
	HASH_FIND(hh, q->suspects, k, KEY_ID_LEN, s);
	return s && s->crashes >= SCANQ_SUSPECT_CRASHES;
}

int scanq_push(struct scanq *q, int fd, const char *path, const struct scan_key *k, void *owner,
	       struct scan_job **ret_job)
{
	_cleanup_close_ int owned = fd;
	if (scanq_is_suspect(q, k))
		return -EDEADLK;
	if (q->len >= q->max)
		return -ENOSPC;
	struct scan_job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->id = q->next_id++;
	j->fd = TAKE_FD(owned);
	snprintf(j->path, sizeof(j->path), "%s", path);
	j->key = *k;
	j->owner = owner;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->len++;
	if (ret_job)
		*ret_job = j;
	return 0;
}

void scanq_promote(struct scanq *q, struct scan_job *job)
{
	struct scan_job *prev = NULL;
	for (struct scan_job *j = q->head; j; prev = j, j = j->next) {
		if (j != job)
			continue;
		if (!prev)
			return; /* already first */
		prev->next = j->next;
		if (q->tail == j)
			q->tail = prev;
		j->next = q->head;
		q->head = j;
		return;
	}
}

struct scan_job *scanq_pop(struct scanq *q)
{
	struct scan_job *j = q->head;
	if (!j)
		return NULL;
	q->head = j->next;
	if (!q->head)
		q->tail = NULL;
	j->next = NULL;
	q->len--;
	return j;
}

void scanq_unpop(struct scanq *q, struct scan_job *job)
{
	job->next = q->head;
	q->head = job;
	if (!q->tail)
		q->tail = job;
	q->len++;
}

size_t scanq_cancel_owner(struct scanq *q, void *owner)
{
	struct scan_job **pp = &q->head, *prev = NULL;
	size_t n = 0;
	while (*pp) {
		struct scan_job *j = *pp;
		if (j->owner == owner) {
			*pp = j->next;
			scan_job_free(j);
			q->len--;
			n++;
			continue;
		}
		prev = j;
		pp = &j->next;
	}
	q->tail = prev;
	return n;
}
