/* quarantine.h - the root-only store of detected files.
 *
 * <dir> (mode 0700, owned by the daemon's user) holds per item <id>.data, the
 * file's content (mode 0600), and <id>.json, its metadata written atomically:
 * id, original_path, path_on_host, dir_dev, dir_ino, dir_handle (when the
 * filesystem gives one), uid, gid, mode, size, sha256, signature,
 * quarantined_at (epoch seconds) and, when given, detected_by.  An id is 16 lowercase hex
 * digits from getrandom(); every id from a caller is checked (-EINVAL) before
 * it becomes part of a path.  Every call is 0 or a negative errno.  Opening
 * removes leftovers of an interrupted add (data without metadata, temp files).
 * Not thread-safe: one event loop owns the store. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define QUARANTINE_ID_LEN 16
#define QUARANTINE_TEXT_MAX 4096 /* signature and detected_by, bytes incl. NUL */

struct quarantine {
	int dfd; /* the store directory */
	char *dir;
	uint64_t max_bytes; /* largest file taken, -EFBIG above */
	unsigned max_items; /* entries kept, -ENOSPC at the limit */
};

/* Creates dir (0700) when missing and tightens its mode; refuses one that is
 * not owned by the effective uid (-EPERM) or is a symlink (-ELOOP).  Both
 * limits must be > 0 (-EINVAL).  On failure q is left closed; closing it
 * again is harmless (but not closing a q that was never opened). */
int quarantine_open(struct quarantine *q, const char *dir, uint64_t max_bytes,
		    unsigned max_items);
void quarantine_close(struct quarantine *q);

/* Stores the content read from fd (a regular file; its offset is not moved),
 * then unlinks the absolute path only if it still names fd's inode: when it
 * does not (replaced, renamed, removed, now a symlink) the copy is dropped,
 * nothing is unlinked, and -ESTALE is returned.  On any error the store and
 * the path are as before.  Other hard links of the file are not touched.
 * original_path is the parent as the kernel resolved it plus the name; the
 * parent's identity is recorded (device, inode, file handle), and
 * path_on_host says whether original_path, looked up from picketd's own
 * root, is that directory: false for a file reached through another mount
 * namespace (/proc/<pid>/root/...), whose kernel path is that namespace's. */
int quarantine_add(struct quarantine *q, int fd, const char *path, const char *signature,
		   char ret_id[QUARANTINE_ID_LEN + 1]);
/* As quarantine_add, also recording detected_by (free text, may be NULL). */
int quarantine_add_detected(struct quarantine *q, int fd, const char *path,
			    const char *signature, const char *detected_by,
			    char ret_id[QUARANTINE_ID_LEN + 1]);

/* A new JSON array of the entries' metadata, oldest first (ties by id);
 * unreadable or inconsistent entries are skipped and logged at debug. */
int quarantine_list(struct quarantine *q, struct json_object **ret);

/* Puts the file back where it was taken from with its content, uid, gid
 * and mode less the set-uid, set-gid and sticky bits, through a temp file in
 * the same directory renamed into place, then removes the entry.  The
 * directory is original_path's parent looked up from picketd's own root
 * without following symlinks or /proc's magic links, and must be the one
 * recorded.  -EXDEV when path_on_host is false, -ESTALE when the directory
 * is another one (replaced since) or the entry records none, -EBADMSG when
 * the data does not match the recorded sha256/size (all checked before
 * anything is written), -ENOENT when the directory is gone, -ELOOP when a
 * component of the path is a symlink, -EEXIST when the path exists and
 * !force (force replaces it).  Each refusal is logged with its reason. */
int quarantine_restore(struct quarantine *q, const char *id, bool force);

/* Removes the entry; -ENOENT when there is none. */
int quarantine_delete(struct quarantine *q, const char *id);

/* Whether id is exactly 16 lowercase hex digits. */
bool quarantine_id_valid(const char *id);
