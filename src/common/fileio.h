/* fileio.h - file writes that are either complete or not there at all. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Writes all of data, retrying short writes and EINTR; 0 or -errno. */
int write_all(int fd, const void *data, size_t len);
/* Writes data to path through a temporary file in the same directory:
 * write, fsync, rename, fsync of the directory.  Readers see the old content
 * or the new, never a part. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Creates path and its missing parents with mode (existing ones untouched). */
int mkdir_p(const char *path, mode_t mode);
/* Reads a whole file of at most max bytes into a fresh NUL-terminated buffer
 * (the caller frees it); -EFBIG when larger. */
int read_file_all(const char *path, size_t max, char **ret, size_t *ret_len);
/* The same from an open descriptor, read from its current offset. */
int read_fd_all(int fd, size_t max, char **ret, size_t *ret_len);
