/* Unit tests of src/daemon/core/loop.c: each ready source's handler runs
 * once per wait, and a source closed by an earlier handler of the same
 * wait is not called with its stale event. */
#include "testutil.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cleanup.h"
#include "core/loop.h"

struct pair {
	struct io_source a, b;
	int calls_a, calls_b;
	int wfd_a, wfd_b;
};

/* Whichever of the two runs first closes the other, as the scan service's
 * exit (its pidfd) closes its socket. */
static void on_a(struct io_source *src, uint32_t events)
{
	struct pair *p = src->obj;
	(void)events;
	p->calls_a++;
	if (p->calls_b == 0)
		closep(&p->b.fd);
}

static void on_b(struct io_source *src, uint32_t events)
{
	struct pair *p = src->obj;
	(void)events;
	p->calls_b++;
	if (p->calls_a == 0)
		closep(&p->a.fd);
}

static void test_closed_source_not_called(void **state)
{
	int pa[2], pb[2];
	struct pair p = { 0 };
	(void)state;
	_cleanup_close_ int ep = epoll_create1(EPOLL_CLOEXEC);
	assert_true(ep >= 0);
	assert_int_equal(pipe2(pa, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pb, O_CLOEXEC), 0);
	p.a = (struct io_source){ .fd = pa[0], .fn = on_a, .obj = &p };
	p.b = (struct io_source){ .fd = pb[0], .fn = on_b, .obj = &p };
	assert_int_equal(loop_add(ep, &p.a, EPOLLIN), 0);
	assert_int_equal(loop_add(ep, &p.b, EPOLLIN), 0);
	assert_int_equal(write(pa[1], "x", 1), 1);
	assert_int_equal(write(pb[1], "x", 1), 1);
	assert_int_equal(loop_run_once(ep, 1000), 0);
	/* Both were ready in one wait; only the first one's handler ran. */
	assert_int_equal(p.calls_a + p.calls_b, 1);
	assert_true(p.a.fd < 0 || p.b.fd < 0);
	closep(&p.a.fd);
	closep(&p.b.fd);
	close(pa[1]);
	close(pb[1]);
}

static void count(struct io_source *src, uint32_t events)
{
	int *calls = src->obj;
	assert_true(events & EPOLLIN);
	(*calls)++;
}

static void test_each_ready_source_once(void **state)
{
	int pa[2], calls = 0;
	(void)state;
	_cleanup_close_ int ep = epoll_create1(EPOLL_CLOEXEC);
	assert_true(ep >= 0);
	assert_int_equal(pipe2(pa, O_CLOEXEC), 0);
	struct io_source s = { .fd = pa[0], .fn = count, .obj = &calls };
	assert_int_equal(loop_add(ep, &s, EPOLLIN), 0);
	/* Nothing ready: the wait times out and calls nothing. */
	assert_int_equal(loop_run_once(ep, 10), 0);
	assert_int_equal(calls, 0);
	assert_int_equal(write(pa[1], "x", 1), 1);
	assert_int_equal(loop_run_once(ep, 1000), 0);
	assert_int_equal(calls, 1);
	/* Deleted, it is not called although still readable. */
	loop_del(ep, &s);
	assert_int_equal(loop_run_once(ep, 10), 0);
	assert_int_equal(calls, 1);
	close(pa[0]);
	close(pa[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_closed_source_not_called),
		cmocka_unit_test(test_each_ready_source_once),
	};
	return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
