/* hangfs.c - a FUSE filesystem whose open() does not answer, for the file
 * monitor's end-to-end tests (adversarial_fsmon.bats): what an unprivileged
 * user can mount to stall whoever opens a file there.
 *
 *   picket-hangfs [--stat] STOPFILE MOUNTPOINT [FUSE OPTIONS]
 *
 * One flat directory held in memory.  Files can be created, written,
 * stat'ed, listed and removed at once; every open(2) of an existing file
 * (and opendir of the root) waits until STOPFILE exists, then fails with
 * EIO, so a test can release whatever waits before it unmounts.  With
 * --stat, a stat of the root waits too. */
#define FUSE_USE_VERSION 31

#include <errno.h>
#include <fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 64
#define NAME_MAX_LEN 255

struct node {
	char name[NAME_MAX_LEN + 1];
	mode_t mode;
	size_t size;
	struct timespec mtime;
};

struct hangfs {
	pthread_mutex_t lock;
	const char *stop;
	bool hang_stat;
	struct node files[MAX_FILES];
	size_t n;
};

static struct hangfs *fs(void)
{
	return fuse_get_context()->private_data;
}

/* Waits until the stop file exists. */
static int hang(void)
{
	while (access(fs()->stop, F_OK) < 0)
		usleep(50000);
	return -EIO;
}

static struct node *find(const char *path)
{
	struct hangfs *h = fs();
	if (path[0] != '/')
		return NULL;
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->files[i].name, path + 1) == 0)
			return &h->files[i];
	return NULL;
}

static int hang_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	st->st_uid = getuid();
	st->st_gid = getgid();
	if (strcmp(path, "/") == 0) {
		if (fs()->hang_stat)
			return hang();
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	pthread_mutex_lock(&fs()->lock);
	struct node *n = find(path);
	if (n) {
		st->st_mode = S_IFREG | n->mode;
		st->st_nlink = 1;
		st->st_size = (off_t)n->size;
		st->st_mtim = st->st_ctim = n->mtime;
	}
	pthread_mutex_unlock(&fs()->lock);
	return n ? 0 : -ENOENT;
}

static int hang_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct hangfs *h = fs();
	int r = 0;
	(void)fi;
	if (strlen(path + 1) > NAME_MAX_LEN || strchr(path + 1, '/'))
		return -ENAMETOOLONG;
	pthread_mutex_lock(&h->lock);
	if (find(path)) {
		r = -EEXIST;
	} else if (h->n == MAX_FILES) {
		r = -ENOSPC;
	} else {
		struct node *n = &h->files[h->n++];
		snprintf(n->name, sizeof(n->name), "%s", path + 1);
		n->mode = mode & 07777;
		n->size = 0;
		clock_gettime(CLOCK_REALTIME, &n->mtime);
	}
	pthread_mutex_unlock(&h->lock);
	return r;
}

static int hang_open(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return hang();
}

static int hang_opendir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return hang();
}

static int hang_write(const char *path, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	(void)buf;
	(void)fi;
	pthread_mutex_lock(&fs()->lock);
	struct node *n = find(path);
	if (n && (size_t)off + size > n->size)
		n->size = (size_t)off + size;
	pthread_mutex_unlock(&fs()->lock);
	return n ? (int)size : -ENOENT;
}

static int hang_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)fi;
	pthread_mutex_lock(&fs()->lock);
	struct node *n = find(path);
	if (n)
		n->size = (size_t)size;
	pthread_mutex_unlock(&fs()->lock);
	return n ? 0 : -ENOENT;
}

static int hang_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	(void)tv;
	(void)fi;
	pthread_mutex_lock(&fs()->lock);
	struct node *n = find(path);
	if (n)
		clock_gettime(CLOCK_REALTIME, &n->mtime);
	pthread_mutex_unlock(&fs()->lock);
	return n ? 0 : -ENOENT;
}

static int hang_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)fi;
	pthread_mutex_lock(&fs()->lock);
	struct node *n = find(path);
	if (n)
		n->mode = mode & 07777;
	pthread_mutex_unlock(&fs()->lock);
	return n ? 0 : -ENOENT;
}

static int hang_unlink(const char *path)
{
	struct hangfs *h = fs();
	pthread_mutex_lock(&h->lock);
	struct node *n = find(path);
	if (n)
		*n = h->files[--h->n];
	pthread_mutex_unlock(&h->lock);
	return n ? 0 : -ENOENT;
}

static void *hang_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	/* No attribute or entry caching: every stat asks, like a hostile server. */
	cfg->attr_timeout = 0;
	cfg->entry_timeout = 0;
	cfg->negative_timeout = 0;
	return fuse_get_context()->private_data;
}

static const struct fuse_operations ops = {
	.init = hang_init,
	.getattr = hang_getattr,
	.create = hang_create,
	.open = hang_open,
	.opendir = hang_opendir,
	.write = hang_write,
	.truncate = hang_truncate,
	.utimens = hang_utimens,
	.chmod = hang_chmod,
	.unlink = hang_unlink,
};

int main(int argc, char **argv)
{
	static struct hangfs h = { .lock = PTHREAD_MUTEX_INITIALIZER };
	if (argc > 1 && strcmp(argv[1], "--stat") == 0) {
		h.hang_stat = true;
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: %s [--stat] STOPFILE MOUNTPOINT [FUSE OPTIONS]\n", argv[0]);
		return 2;
	}
	h.stop = argv[1];
	/* fuse_main takes the program name, then the mount point and options. */
	argv[1] = argv[0];
	return fuse_main(argc - 1, argv + 1, &ops, &h);
}
