/* cleanup.h - scope-bound ownership for descriptors, buffers and library
 * objects.  A local declared with one of these is released when it leaves
 * scope; TAKE_PTR / TAKE_FD hand ownership on. Destructors accept NULL / -1. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void freep(void *p) { free(*(void **)p); }
/* Leaves -1 behind: a source closed by one handler is seen as closed by
 * the next handler of the same wakeup, never read (or closed) again. */
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno; /* close() must not clobber the caller's errno */
		close(*fd);
		errno = saved;
		*fd = -1;
	}
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)

#define TAKE_PTR(p)                        \
	({                                 \
		__typeof__(p) _p_ = (p);   \
		(p) = NULL;                \
		_p_;                       \
	})
#define TAKE_FD(fd)                        \
	({                                 \
		int _fd_ = (fd);           \
		(fd) = -1;                 \
		_fd_;                      \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
