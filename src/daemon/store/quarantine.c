#include "quarantine.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"
#include "jsonutil.h"
#include "log.h"

#define META_MAX (64 * 1024)
#define IO_BUF (64 * 1024)
#define COPY_CHUNK (1024 * 1024)
#define SHA256_HEX 64
#define NAME_LEN 48 /* "<id>.json.tmpXXXXXX" and the restore temp name fit */
#define HANDLE_HEX (16 + 2 * MAX_HANDLE_SZ)

static inline void evp_md_ctx_freep(EVP_MD_CTX **c) { EVP_MD_CTX_free(*c); }

/* Which directory a file was taken from: its device and inode, and its
 * file handle where the filesystem gives one (it tells a directory from a
 * later one that reuses the inode number). */
struct dir_id {
	bool known;
	uint64_t dev, ino;
	char handle[HANDLE_HEX]; /* "<type>:<hex bytes>", "" without a handle */
};

/* The parsed, checked fields of one metadata object (strings point into it). */
struct meta {
	const char *path;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	uint64_t size;
	const char *sha256;
	struct dir_id dir; /* dir.known false: an entry from before it was recorded */
	bool path_on_host;
};

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool quarantine_id_valid(const char *id)
{
	/* A NUL is not hex, so a short id stops the scan before reading past it. */
	return id && is_lower_hex(id, QUARANTINE_ID_LEN) && id[QUARANTINE_ID_LEN] == '\0';
}

static void entry_name(char name[NAME_LEN], const char *id, const char *ext)
{
	snprintf(name, NAME_LEN, "%s.%s", id, ext);
}

/* Whether name is "<id>.<ext>" followed by exactly tail_len more bytes. */
static bool name_is(const char *name, const char *ext, size_t tail_len,
		    char id[QUARANTINE_ID_LEN + 1])
{
	size_t n = strlen(name), e = strlen(ext);
	if (n != QUARANTINE_ID_LEN + 1 + e + tail_len || !is_lower_hex(name, QUARANTINE_ID_LEN) ||
	    name[QUARANTINE_ID_LEN] != '.' || strncmp(name + QUARANTINE_ID_LEN + 1, ext, e) != 0)
		return false;
	memcpy(id, name, QUARANTINE_ID_LEN);
	id[QUARANTINE_ID_LEN] = '\0';
	return true;
}

static int random_hex(char *out, size_t nbytes)
{
	uint8_t b[32];
	size_t got = 0;

	if (nbytes > sizeof(b))
		return -EINVAL;
	while (got < nbytes) {
		ssize_t k = getrandom(b + got, nbytes - got, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		got += k;
	}
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/* SHA-256 and length of fd's whole content, read with pread. */
static int sha256_fd(int fd, uint64_t *ret_size, char ret_hex[SHA256_HEX + 1])
{
	_cleanup_(evp_md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	_cleanup_free_ uint8_t *buf = malloc(IO_BUF);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	uint64_t off = 0;

	if (!ctx || !buf)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		return -EIO;
	for (;;) {
		ssize_t k = pread(fd, buf, IO_BUF, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, k) != 1)
			return -EIO;
		off += k;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen * 2 != SHA256_HEX)
		return -EIO;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(ret_hex + 2 * i, 3, "%02x", md[i]);
	*ret_size = off;
	return 0;
}

enum copy_method { COPY_RANGE, COPY_SENDFILE, COPY_READ };

/* Appends in's content (from offset 0; in's own file offset, which may be
 * shared with another process, is not moved) to out.  -EFBIG when in holds
 * more than limit bytes. */
static int copy_data(int in, int out, uint64_t limit, uint64_t *ret_copied)
{
	enum copy_method how = COPY_RANGE;
	_cleanup_free_ char *buf = NULL;
	off_t off = 0;

	for (;;) {
		uint64_t left = limit - (uint64_t)off + 1; /* one byte more shows growth */
		size_t want = left < COPY_CHUNK ? left : COPY_CHUNK;
		ssize_t k;

		if (how == COPY_RANGE) {
			k = copy_file_range(in, &off, out, NULL, want, 0);
			if (k < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				      errno == EOPNOTSUPP)) {
				how = COPY_SENDFILE;
				continue;
			}
		} else if (how == COPY_SENDFILE) {
			k = sendfile(out, in, &off, want);
			if (k < 0 && (errno == EINVAL || errno == ENOSYS)) {
				how = COPY_READ;
				continue;
			}
		} else {
			if (!buf && !(buf = malloc(IO_BUF)))
				return -ENOMEM;
			k = pread(in, buf, want < IO_BUF ? want : IO_BUF, off);
			if (k > 0) {
				int r = write_all(out, buf, k);
				if (r < 0)
					return r;
				off += k;
			}
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0) {
			/* Some filesystems report 0 early to the in-kernel copies: a
			 * plain read confirms the end. */
			if (how == COPY_READ)
				break;
			how = COPY_READ;
			continue;
		}
		if ((uint64_t)off > limit)
			return -EFBIG;
	}
	*ret_copied = off;
	return 0;
}

/* "/a/b/c" -> parent "/a/b", base "c".  Only absolute paths naming an entry. */
static int split_path(const char *path, char parent[PATH_MAX], const char **ret_base)
{
	if (!path || path[0] != '/')
		return -EINVAL;
	if (strlen(path) >= PATH_MAX)
		return -ENAMETOOLONG;
	const char *slash = strrchr(path, '/'), *base = slash + 1;
	size_t plen = slash == path ? 1 : (size_t)(slash - path);
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return -EINVAL;
	if (strlen(base) > NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(parent, path, plen);
	parent[plen] = '\0';
	*ret_base = base;
	return 0;
}

static DIR *open_listing(struct quarantine *q)
{
	int fd = openat(q->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (fd >= 0 && !d)
		closep(&fd);
	return d;
}

static bool entry_exists(struct quarantine *q, const char *id, const char *ext)
{
	char name[NAME_LEN];
	struct stat st;
	entry_name(name, id, ext);
	return fstatat(q->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Leftovers of an add cut short: data without metadata, metadata temp files. */
static void sweep(struct quarantine *q)
{
	_cleanup_closedir_ DIR *d = open_listing(q);
	char id[QUARANTINE_ID_LEN + 1];
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		bool tmp = name_is(de->d_name, "json.tmp", 6, id); /* write_file_atomic's */
		if (!tmp && !(name_is(de->d_name, "data", 0, id) && !entry_exists(q, id, "json")))
			continue;
		if (unlinkat(q->dfd, de->d_name, 0) < 0)
			log_msg_errno(LOG_DEBUG, errno, "quarantine %s: failed to remove leftover %s",
				      q->dir, de->d_name);
		else
			log_debug("quarantine %s: removed leftover %s", q->dir, de->d_name);
	}
}

static int count_items(struct quarantine *q)
{
	_cleanup_closedir_ DIR *d = open_listing(q);
	char id[QUARANTINE_ID_LEN + 1];
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (name_is(de->d_name, "json", 0, id))
			n++;
	return n;
}

static int open_store(struct quarantine *q, const char *dir)
{
	struct stat st;
	int r;

	if (!(q->dir = strdup(dir)))
		return -ENOMEM;
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	q->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (q->dfd < 0) {
		/* O_DIRECTORY|O_NOFOLLOW reports a symlink as ENOTDIR. */
		r = -errno;
		if (r == -ENOTDIR && lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
			r = -ELOOP;
		return r;
	}
	if (fstat(q->dfd, &st) < 0)
		return -errno;
	if (st.st_uid != geteuid())
		return -EPERM;
	if ((st.st_mode & 07777) != 0700 && fchmod(q->dfd, 0700) < 0)
		return -errno;
	sweep(q);
	return 0;
}

int quarantine_open(struct quarantine *q, const char *dir, uint64_t max_bytes,
		    unsigned max_items)
{
	*q = (struct quarantine){ .dfd = -1, .max_bytes = max_bytes, .max_items = max_items };
	if (!dir || !*dir || max_bytes == 0 || max_bytes > INT64_MAX || max_items == 0 ||
	    max_items > INT_MAX)
		return -EINVAL;
	int r = open_store(q, dir);
	if (r < 0)
		quarantine_close(q);
	return r;
}

void quarantine_close(struct quarantine *q)
{
	closep(&q->dfd);
	free(q->dir);
	*q = (struct quarantine){ .dfd = -1 };
}

/* Removes <id>.json, then <id>.data; -ENOENT when neither was there. */
static int remove_entry(struct quarantine *q, const char *id)
{
	static const char *const exts[] = { "json", "data" };
	char name[NAME_LEN];
	bool found = false;

	for (size_t i = 0; i < ARRAY_SIZE(exts); i++) {
		entry_name(name, id, exts[i]);
		if (unlinkat(q->dfd, name, 0) == 0)
			found = true;
		else if (errno != ENOENT)
			return -errno;
	}
	if (!found)
		return -ENOENT;
	return fsync(q->dfd) < 0 ? -errno : 0;
}

/* Creates <id>.data (0600) under a fresh id that no entry uses. */
static int create_data(struct quarantine *q, char id[QUARANTINE_ID_LEN + 1])
{
	char name[NAME_LEN];

	for (int tries = 0; tries < 8; tries++) {
		int r = random_hex(id, QUARANTINE_ID_LEN / 2);
		if (r < 0)
			return r;
		if (entry_exists(q, id, "json"))
			continue;
		entry_name(name, id, "data");
		int fd = openat(q->dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* Copies fd into a new <id>.data, durable, with its length and SHA-256. */
static int store_data(struct quarantine *q, int fd, char id[QUARANTINE_ID_LEN + 1],
		      uint64_t *ret_size, char ret_sha[SHA256_HEX + 1])
{
	uint64_t copied = 0, hashed = 0;
	char name[NAME_LEN];
	int r;

	_cleanup_close_ int out = create_data(q, id);
	if (out < 0)
		return out;
	r = fchmod(out, 0600) < 0 ? -errno : 0;
	if (r == 0)
		r = copy_data(fd, out, q->max_bytes, &copied);
	if (r == 0 && fsync(out) < 0)
		r = -errno;
	if (r == 0)
		r = sha256_fd(out, &hashed, ret_sha);
	if (r == 0 && hashed != copied)
		r = -EIO;
	if (r < 0) {
		entry_name(name, id, "data");
		unlinkat(q->dfd, name, 0);
		return r;
	}
	*ret_size = copied;
	return 0;
}

static int write_meta(struct quarantine *q, const char *id, const char *original_path,
		      const struct dir_id *dir, bool on_host, const struct stat *st, uint64_t size,
		      const char *sha, const char *signature, const char *detected_by)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	char path[PATH_MAX];
	size_t len;

	if (!o)
		return -ENOMEM;
	if (snprintf(path, sizeof(path), "%s/%s.json", q->dir, id) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "original_path", json_object_new_string(original_path));
	json_object_object_add(o, "path_on_host", json_object_new_boolean(on_host));
	json_object_object_add(o, "dir_dev", json_object_new_uint64(dir->dev));
	json_object_object_add(o, "dir_ino", json_object_new_uint64(dir->ino));
	if (dir->handle[0])
		json_object_object_add(o, "dir_handle", json_object_new_string(dir->handle));
	json_object_object_add(o, "uid", json_object_new_int64(st->st_uid));
	json_object_object_add(o, "gid", json_object_new_int64(st->st_gid));
	json_object_object_add(o, "mode", json_object_new_int(st->st_mode & 07777));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)size));
	json_object_object_add(o, "sha256", json_object_new_string(sha));
	json_object_object_add(o, "signature", json_object_new_string(signature));
	json_object_object_add(o, "quarantined_at", json_object_new_int64(time(NULL)));
	if (detected_by)
		json_object_object_add(o, "detected_by", json_object_new_string(detected_by));
	const char *s = json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (!s)
		return -ENOMEM;
	return write_file_atomic(path, s, len, 0600);
}

/* The identity of the directory open on dfd. */
static int dir_identity(int dfd, struct dir_id *ret)
{
	_Alignas(struct file_handle) unsigned char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	struct file_handle *fh = (struct file_handle *)buf;
	struct dir_id id = { .known = true };
	struct stat st;
	int mount_id;

	if (fstat(dfd, &st) < 0)
		return -errno;
	id.dev = st.st_dev;
	id.ino = st.st_ino;
	fh->handle_bytes = MAX_HANDLE_SZ;
	/* No handle (EOPNOTSUPP: the filesystem gives none): device and inode. */
	if (name_to_handle_at(dfd, "", fh, &mount_id, AT_EMPTY_PATH) == 0) {
		size_t k = (size_t)snprintf(id.handle, sizeof(id.handle), "%d:", fh->handle_type);
		for (unsigned i = 0; i < fh->handle_bytes && k + 2 < sizeof(id.handle); i++, k += 2)
			snprintf(id.handle + k, sizeof(id.handle) - k, "%02x", fh->f_handle[i]);
	}
	*ret = id;
	return 0;
}

/* Whether now is the directory recorded as was. */
static bool same_dir(const struct dir_id *was, const struct dir_id *now)
{
	return was->known && now->known && was->dev == now->dev && was->ino == now->ino &&
	       (!was->handle[0] || strcmp(was->handle, now->handle) == 0);
}

/* A directory by its absolute path from picketd's own root, refusing
 * symlinks and /proc's magic links (/proc/<pid>/root would lead into another
 * mount namespace) on the way.  Not RESOLVE_NO_XDEV: a path from / crosses
 * mounts (/home).  openat2: Linux 5.6. */
static int open_dir_nofollow(const char *dir)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, dir, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

/* Whether path's parent, looked up from picketd's root, is the directory
 * dir: false when the file was reached through another mount namespace
 * (its kernel path is that namespace's view) or the directory is gone. */
static bool on_host(const char *path, const struct dir_id *dir)
{
	char parent[PATH_MAX];
	const char *base;
	struct dir_id here;

	if (split_path(path, parent, &base) < 0)
		return false;
	_cleanup_close_ int fd = open_dir_nofollow(parent);
	return fd >= 0 && dir_identity(fd, &here) == 0 && same_dir(dir, &here);
}

/* The path to record: the parent as the kernel resolved it, plus base. */
static void resolved_path(int pfd, const char *path, const char *base, char out[PATH_MAX])
{
	char proc[64], dir[PATH_MAX];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	ssize_t k = readlink(proc, dir, sizeof(dir) - 1);
	if (k > 0 && (size_t)k < sizeof(dir) - 1 && dir[0] == '/') {
		dir[k] = '\0';
		if (snprintf(out, PATH_MAX, "%s%s%s", dir, k > 1 ? "/" : "", base) < PATH_MAX)
			return;
	}
	snprintf(out, PATH_MAX, "%s", path);
}

/* Unlinks base in pfd only when it is the inode st describes. */
static int unlink_if_same(int pfd, const char *base, const struct stat *st)
{
	struct stat cur;

	if (fstatat(pfd, base, &cur, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? -ESTALE : -errno;
	if (cur.st_dev != st->st_dev || cur.st_ino != st->st_ino)
		return -ESTALE;
	return unlinkat(pfd, base, 0) < 0 ? -errno : 0;
}

int quarantine_add_detected(struct quarantine *q, int fd, const char *path,
			    const char *signature, const char *detected_by,
			    char ret_id[QUARANTINE_ID_LEN + 1])
{
	char id[QUARANTINE_ID_LEN + 1], parent[PATH_MAX], original[PATH_MAX];
	char sha[SHA256_HEX + 1];
	struct dir_id dir;
	const char *base;
	uint64_t size;
	struct stat st;
	int r;

	if (fd < 0 || !signature || strnlen(signature, QUARANTINE_TEXT_MAX) == QUARANTINE_TEXT_MAX ||
	    (detected_by && strnlen(detected_by, QUARANTINE_TEXT_MAX) == QUARANTINE_TEXT_MAX))
		return -EINVAL;
	r = split_path(path, parent, &base);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > q->max_bytes)
		return -EFBIG;
	r = count_items(q);
	if (r < 0)
		return r;
	if ((unsigned)r >= q->max_items)
		return -ENOSPC;
	/* Checking and unlinking relative to one parent descriptor: a swapped
	 * parent directory cannot redirect the unlink elsewhere. */
	_cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ESTALE : -errno;
	r = dir_identity(pfd, &dir);
	if (r < 0)
		return r;
	resolved_path(pfd, path, base, original);
	bool host = on_host(original, &dir);
	if (!host)
		log_debug("quarantine: %s: %s is not that directory on this host (another mount "
			  "namespace?): the entry will not be restored", path, original);

	r = store_data(q, fd, id, &size, sha);
	if (r < 0)
		return r;
	r = write_meta(q, id, original, &dir, host, &st, size, sha, signature, detected_by);
	if (r == 0)
		r = unlink_if_same(pfd, base, &st);
	if (r < 0) {
		remove_entry(q, id);
		return r;
	}
	if (fsync(pfd) < 0)
		log_msg_errno(LOG_DEBUG, errno, "quarantine: failed to sync the directory of %s", path);
	memcpy(ret_id, id, sizeof(id));
	return 0;
}

int quarantine_add(struct quarantine *q, int fd, const char *path, const char *signature,
		   char ret_id[QUARANTINE_ID_LEN + 1])
{
	return quarantine_add_detected(q, fd, path, signature, NULL, ret_id);
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool get_int(struct json_object *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return *out >= min && *out <= max;
}

static bool get_u64(struct json_object *o, const char *key, uint64_t *out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_uint64(v);
	return true;
}

/* The directory the file was taken from; an entry written before it was
 * recorded has none (dir.known false) and is not restored. */
static int parse_dir(struct json_object *o, struct meta *m)
{
	struct json_object *v;
	const char *h;

	m->dir = (struct dir_id){ .known = false };
	m->path_on_host = false;
	if (!json_object_object_get_ex(o, "dir_dev", &v))
		return 0;
	if (!get_u64(o, "dir_dev", &m->dir.dev) || !get_u64(o, "dir_ino", &m->dir.ino) ||
	    !json_object_object_get_ex(o, "path_on_host", &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return -EBADMSG;
	m->path_on_host = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "dir_handle", &v)) {
		if (!(h = get_str(o, "dir_handle")) || !*h || strlen(h) >= sizeof(m->dir.handle))
			return -EBADMSG;
		snprintf(m->dir.handle, sizeof(m->dir.handle), "%s", h);
	}
	m->dir.known = true;
	return 0;
}

static int parse_meta(struct json_object *o, const char *id, struct meta *m)
{
	int64_t uid, gid, mode, size, at;
	const char *s, *base;
	char parent[PATH_MAX];
	struct json_object *v;

	if (!json_object_is_type(o, json_type_object) || !(s = get_str(o, "id")) ||
	    strcmp(s, id) != 0 || !(m->path = get_str(o, "original_path")) ||
	    split_path(m->path, parent, &base) < 0 ||
	    !get_int(o, "uid", 0, (int64_t)UINT32_MAX - 1, &uid) ||
	    !get_int(o, "gid", 0, (int64_t)UINT32_MAX - 1, &gid) ||
	    !get_int(o, "mode", 0, 07777, &mode) || !get_int(o, "size", 0, INT64_MAX, &size) ||
	    !get_int(o, "quarantined_at", INT64_MIN, INT64_MAX, &at) ||
	    !(m->sha256 = get_str(o, "sha256")) || strlen(m->sha256) != SHA256_HEX ||
	    !is_lower_hex(m->sha256, SHA256_HEX) || !get_str(o, "signature") ||
	    (json_object_object_get_ex(o, "detected_by", &v) && !json_object_is_type(v, json_type_string)) ||
	    parse_dir(o, m) < 0)
		return -EBADMSG;
	m->uid = (uid_t)uid;
	m->gid = (gid_t)gid;
	m->mode = (mode_t)mode;
	m->size = (uint64_t)size;
	return 0;
}

/* <id>.json, parsed and checked; -ENOENT when missing, -EBADMSG when corrupt. */
static int load_meta(struct quarantine *q, const char *id, struct json_object **ret, struct meta *m)
{
	char name[NAME_LEN];
	struct stat st;
	size_t used = 0;

	entry_name(name, id, "json");
	_cleanup_close_ int fd = openat(q->dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EBADMSG : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	_cleanup_free_ char *text = NULL;
	int r = read_fd_all(fd, META_MAX, &text, &used);
	if (r == -EFBIG)
		return -EBADMSG;
	if (r < 0)
		return r;
	if (strlen(text) != used)
		return -EBADMSG;
	_cleanup_json_ struct json_object *o = json_tokener_parse(text);
	if (!o || parse_meta(o, id, m) < 0)
		return -EBADMSG;
	*ret = TAKE_PTR(o);
	return 0;
}

static int64_t get_at(struct json_object *o)
{
	struct json_object *v;
	return json_object_object_get_ex(o, "quarantined_at", &v) ? json_object_get_int64(v) : 0;
}

static int by_time_then_id(const void *a, const void *b)
{
	struct json_object *x = *(struct json_object *const *)a, *y = *(struct json_object *const *)b;
	int64_t tx = get_at(x), ty = get_at(y);
	if (tx != ty)
		return tx < ty ? -1 : 1;
	return strcmp(get_str(x, "id"), get_str(y, "id"));
}

int quarantine_list(struct quarantine *q, struct json_object **ret)
{
	_cleanup_json_ struct json_object *arr = json_object_new_array();
	char id[QUARANTINE_ID_LEN + 1];
	struct dirent *de;

	if (!arr)
		return -ENOMEM;
	_cleanup_closedir_ DIR *d = open_listing(q);
	if (!d)
		return -errno;
	for (errno = 0; (de = readdir(d)); errno = 0) {
		struct json_object *o = NULL;
		struct meta m;
		if (!name_is(de->d_name, "json", 0, id))
			continue;
		int r = load_meta(q, id, &o, &m);
		if (r == 0 && !entry_exists(q, id, "data"))
			r = -EBADMSG;
		if (r < 0) {
			log_msg_errno(LOG_DEBUG, r, "quarantine %s: skipping entry %s", q->dir, id);
			json_object_put(o);
			continue;
		}
		if (json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			return -ENOMEM;
		}
	}
	if (errno != 0)
		return -errno;
	json_object_array_sort(arr, by_time_then_id);
	*ret = TAKE_PTR(arr);
	return 0;
}

/* A new temp file beside the target, named so that it cannot collide. */
static int create_restore_tmp(int pfd, char name[NAME_LEN])
{
	char hex[QUARANTINE_ID_LEN + 1];
	int r = random_hex(hex, QUARANTINE_ID_LEN / 2);
	if (r < 0)
		return r;
	snprintf(name, NAME_LEN, ".picket-restore-%s", hex);
	int fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

static int move_into_place(int pfd, const char *tmp, const char *base, bool force)
{
	if (force)
		return renameat(pfd, tmp, pfd, base) < 0 ? -errno : 0;
	if (renameat2(pfd, tmp, pfd, base, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL)
		return -errno;
	/* No RENAME_NOREPLACE on this filesystem: link() refuses to replace too. */
	if (linkat(pfd, tmp, pfd, base, 0) < 0)
		return -errno;
	unlinkat(pfd, tmp, 0);
	return 0;
}

/* Writes data's content to a temp file in pfd with m's owner and mode, then
 * moves it to base.  Never set-uid or set-gid: restoring is no way to make a
 * privileged program; the sticky bit goes too (it means nothing on a file). */
static int write_back(int data, int pfd, const char *base, const struct meta *m, bool force)
{
	char tmp[NAME_LEN];
	uint64_t copied = 0;
	mode_t mode = m->mode & 0777;

	_cleanup_close_ int out = create_restore_tmp(pfd, tmp);
	if (out < 0)
		return out;
	int r = copy_data(data, out, m->size, &copied);
	if (r == 0 && copied != m->size)
		r = -EBADMSG;
	/* fchmod after fchown: a change of owner may clear mode bits. */
	if (r == 0 && fchown(out, m->uid, m->gid) < 0)
		r = -errno;
	if (r == 0 && fchmod(out, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(out) < 0)
		r = -errno;
	if (r == 0)
		r = move_into_place(pfd, tmp, base, force);
	if (r < 0)
		unlinkat(pfd, tmp, 0);
	return r;
}

/* Refusals that the entry alone decides. */
static int check_target(const struct meta *m, const char *id, const char *parent)
{
	if (!m->dir.known) {
		log_notice("quarantine: not restoring %s to %s: the entry does not record which "
			   "directory it was taken from", id, m->path);
		return -ESTALE;
	}
	if (!m->path_on_host) {
		log_notice("quarantine: not restoring %s to %s: it was taken from another "
			   "directory than this host's %s (another mount namespace)",
			   id, m->path, parent);
		return -EXDEV;
	}
	return 0;
}

int quarantine_restore(struct quarantine *q, const char *id, bool force)
{
	_cleanup_json_ struct json_object *meta = NULL;
	char name[NAME_LEN], parent[PATH_MAX], sha[SHA256_HEX + 1];
	struct dir_id now;
	const char *base;
	uint64_t size;
	struct stat st;
	struct meta m;
	int r;

	if (!quarantine_id_valid(id))
		return -EINVAL;
	r = load_meta(q, id, &meta, &m);
	if (r < 0)
		return r;
	entry_name(name, id, "data");
	_cleanup_close_ int data = openat(q->dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (data < 0)
		return errno == ENOENT || errno == ELOOP ? -EBADMSG : -errno;
	r = sha256_fd(data, &size, sha);
	if (r < 0)
		return r;
	if (size != m.size || strcmp(sha, m.sha256) != 0)
		return -EBADMSG;

	r = split_path(m.path, parent, &base);
	if (r < 0)
		return r;
	r = check_target(&m, id, parent);
	if (r < 0)
		return r;
	_cleanup_close_ int pfd = open_dir_nofollow(parent);
	if (pfd < 0)
		return pfd;
	r = dir_identity(pfd, &now);
	if (r < 0)
		return r;
	if (!same_dir(&m.dir, &now)) {
		log_notice("quarantine: not restoring %s to %s: that is no longer the directory it "
			   "was taken from (device %" PRIu64 " inode %" PRIu64 ", now %" PRIu64
			   " %" PRIu64 ")",
			   id, m.path, m.dir.dev, m.dir.ino, now.dev, now.ino);
		return -ESTALE;
	}
	if (!force) {
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return -EEXIST;
		if (errno != ENOENT)
			return -errno;
	}
	r = write_back(data, pfd, base, &m, force);
	if (r < 0)
		return r;
	if (m.mode & 07000)
		log_notice("quarantine: restored %s without its set-uid, set-gid and sticky bits "
			   "(mode %04o, was %04o)", m.path, (unsigned)(m.mode & 0777), (unsigned)m.mode);
	if (fsync(pfd) < 0)
		log_msg_errno(LOG_DEBUG, errno, "quarantine: failed to sync the directory of %s", m.path);
	/* The file is back; a stale entry is a smaller harm than a lost file. */
	r = remove_entry(q, id);
	if (r < 0)
		log_msg_errno(LOG_DEBUG, r, "quarantine %s: restored %s but failed to remove entry %s",
			      q->dir, m.path, id);
	return 0;
}

int quarantine_delete(struct quarantine *q, const char *id)
{
	if (!quarantine_id_valid(id))
		return -EINVAL;
	return remove_entry(q, id);
}
