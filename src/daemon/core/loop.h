/* loop.h - the epoll event loop's sources: one handler per source. */
#pragma once

#include <stdint.h>

struct io_source;
typedef void (*io_handler_fn)(struct io_source *src, uint32_t events);

struct io_source {
	int fd;
	io_handler_fn fn;
	void *obj; /* the module object the handler works on */
};

int loop_add(int epfd, struct io_source *src, uint32_t events);
int loop_mod(int epfd, struct io_source *src, uint32_t events);
void loop_del(int epfd, struct io_source *src);
/* Waits once and calls each ready source's handler, except a source whose
 * fd an earlier handler of the same wait set to -1; -errno on failure.  A
 * handler that frees another source must loop_del it first and must not
 * free it before this wait's batch is done. */
int loop_run_once(int epfd, int timeout_ms);
