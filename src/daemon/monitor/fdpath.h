/* fdpath.h - the path of an open file, for the events that name it.
 *
 * The kernel says the path of a descriptor (/proc/self/fd) only up to
 * PATH_MAX; a file can lie deeper (directories created one inside the
 * other).  Then the path is rebuilt from the end, one directory up at a
 * time, by finding each directory's name in its parent, until the kernel
 * can say the rest or the buffer is full: what does not fit is left out at
 * the front and the text starts with FDPATH_ELIDED.  A file's own name is
 * found only in a directory that holds it (the caller's guess).  Nothing
 * here leaves the filesystem it starts on, so nothing waits on another. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define FDPATH_ELIDED "\u2026" /* the front of a path left out */
#define FDPATH_MAX_ENTRIES 65536 /* entries read in one directory to find a name */

/* The path of directory dfd, followed by "/name" unless name is NULL, in
 * buf (len bytes, at least 16); *ret_complete false when its front is left
 * out.  0, or -errno when not even name's directory could be told. */
/* The kernel's path of fd (readlink of /proc/self/fd/N): 0 or -errno
 * (-ENAMETOOLONG when it does not fit). */
int fdpath_kernel(int fd, char *buf, size_t len);
int fdpath_dir(int dfd, const char *name, char *buf, size_t len, bool *ret_complete);
/* The path of fd, an open file: the kernel's, else its name found in the
 * directory dir_hint (-1: none) and that directory's path as fdpath_dir
 * tells it.  0, or -errno (-ENAMETOOLONG when the kernel's was too long
 * and the hint did not hold the file). */
int fdpath_file(int fd, int dir_hint, char *buf, size_t len, bool *ret_complete);
