#include "loop.h"

#include <errno.h>
#include <stddef.h>
#include <sys/epoll.h>

int loop_add(int epfd, struct io_source *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };
	return epoll_ctl(epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0 ? -errno : 0;
}

int loop_mod(int epfd, struct io_source *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };
	return epoll_ctl(epfd, EPOLL_CTL_MOD, src->fd, &ev) < 0 ? -errno : 0;
}

void loop_del(int epfd, struct io_source *src)
{
	/* Only fails for an fd that was never added or is closed: nothing to undo. */
	(void)epoll_ctl(epfd, EPOLL_CTL_DEL, src->fd, NULL);
}

int loop_run_once(int epfd, int timeout_ms)
{
	struct epoll_event evs[32];
	int n = epoll_wait(epfd, evs, 32, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct io_source *src = evs[i].data.ptr;
		/* An earlier handler of this batch may have closed it (the scan
		 * service's exit closes its socket): its event is stale. */
		if (src->fd < 0)
			continue;
		src->fn(src, evs[i].events);
	}
	return 0;
}
