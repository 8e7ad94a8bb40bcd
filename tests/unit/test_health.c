/* Unit tests of src/daemon/health/: the layer that raises and clears faults.
 *
 * Each test runs a real struct health over a real fault registry (no state
 * file, an emit callback that records each transition), an event log in a
 * mkdtemp directory with an event sink over it, a host view of a prepared
 * tree in that directory and the shipped policy, which tests shorten where
 * a fault's window would otherwise take minutes.  Fault 18 is fed by fake
 * monitors behind a real struct monitors (monitor/monitors.c). */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "health/health.h"
#include "log.h"

/* --- the fault registry's transitions ------------------------------------ */

struct transition {
	enum fault_transition t;
	int id;
	enum fault_severity severity;
	char detail[FAULT_DETAIL_MAX];
};

struct recorder {
	struct transition tr[256];
	size_t n;
};

static void on_emit(enum fault_transition t, const struct fault_state *f, void *ud)
{
	struct recorder *rec = ud;
	assert_true(rec->n < sizeof(rec->tr) / sizeof(rec->tr[0]));
	struct transition *x = &rec->tr[rec->n++];
	x->t = t;
	x->id = f->def->id;
	x->severity = f->severity;
	snprintf(x->detail, sizeof(x->detail), "%s", f->detail);
}

/* How many transitions of kind t fault id had. */
static int count(const struct recorder *rec, enum fault_transition t, int id)
{
	int n = 0;
	for (size_t i = 0; i < rec->n; i++)
		n += rec->tr[i].t == t && rec->tr[i].id == id;
	return n;
}

/* The last transition of fault id, NULL when none. */
static const struct transition *last(const struct recorder *rec, int id)
{
	for (size_t i = rec->n; i-- > 0;)
		if (rec->tr[i].id == id)
			return &rec->tr[i];
	return NULL;
}

/* --- fake monitors for fault 18 ------------------------------------------ */

struct fake {
	struct monitor mon; /* first, as monitor.h requires */
	enum monitor_kind kind;
};

/* What the fakes count and saw; make[] only gets the ctx, so it is here. */
static struct {
	struct monitor *made[MON_COUNT];
	struct monitor_counts counts[MON_COUNT];
	int degraded_calls[MON_COUNT];
	bool degraded_on[MON_COUNT];
} fakes;

static enum monitor_kind kind_of(const struct monitor *m) { return ((const struct fake *)m)->kind; }

static int fake_start(struct monitor *m, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	m->running = true;
	return 0;
}

static void fake_stop(struct monitor *m) { m->running = false; }

static int fake_apply_policy(struct monitor *m, char *err, size_t errlen)
{
	(void)m;
	(void)err;
	(void)errlen;
	return 0;
}

static void fake_set_degraded(struct monitor *m, bool on)
{
	fakes.degraded_calls[kind_of(m)]++;
	fakes.degraded_on[kind_of(m)] = on;
	m->degraded = on;
}

static void fake_counts(struct monitor *m, struct monitor_counts *ret)
{
	*ret = fakes.counts[kind_of(m)];
}

static struct json_object *fake_status(struct monitor *m)
{
	(void)m;
	return NULL;
}

static void fake_destroy(struct monitor *m)
{
	fakes.made[kind_of(m)] = NULL;
	free(m);
}

#define FAKE_OPS(nm, bpf)                                                                   \
	{                                                                                   \
		.name = nm, .ebpf = bpf, .start = fake_start, .stop = fake_stop,            \
		.apply_policy = fake_apply_policy, .set_degraded = fake_set_degraded,       \
		.counts = fake_counts, .status = fake_status, .destroy = fake_destroy,      \
	}

static const struct monitor_ops fake_ops[MON_COUNT] = {
	[MON_PROC] = FAKE_OPS("process", true),
	[MON_FILE] = FAKE_OPS("file", false),
	[MON_NET] = FAKE_OPS("network", true),
};

static struct monitor *make(enum monitor_kind k, const struct monitor_ctx *ctx)
{
	struct fake *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->mon = (struct monitor){ .ops = &fake_ops[k], .ctx = ctx };
	f->kind = k;
	fakes.made[k] = &f->mon;
	return &f->mon;
}

static struct monitor *make_proc(const struct monitor_ctx *ctx) { return make(MON_PROC, ctx); }
static struct monitor *make_file(const struct monitor_ctx *ctx) { return make(MON_FILE, ctx); }
static struct monitor *make_net(const struct monitor_ctx *ctx) { return make(MON_NET, ctx); }

/* --- the fixture ---------------------------------------------------------- */

struct fixture {
	char *dir;
	char log_path[PATH_MAX];
	char prefix[PATH_MAX];
	struct hostview hv;
	struct policy p;
	struct recorder rec;
	struct faults fs;
	struct eventlog el;
	struct event_sink sink;
	struct defs defs;
	int epfd;
	int metrics_calls;
	struct health *h;
	struct monitors *mons;
};

static void on_metrics(void *ud)
{
	struct fixture *fx = ud;
	fx->metrics_calls++;
}

/* A struct health started at started_at (replacing the fixture's). */
static int health_up(struct fixture *fx, time_t started_at)
{
	struct health_config c = {
		.policy = &fx->p,
		.hv = &fx->hv,
		.epfd = fx->epfd,
		.faults = &fx->fs,
		.sink = &fx->sink,
		.log = &fx->el,
		.defs = &fx->defs,
		.prefix = fx->prefix,
		.started_at = started_at,
		.metrics = on_metrics,
		.ud = fx,
	};
	health_free(fx->h);
	fx->h = NULL;
	int r = health_new(&c, &fx->h);
	if (r < 0)
		return r;
	fx->sink.ud = fx->h;
	return 0;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[POLICY_ERR_MAX];
	void *dir;

	if (!fx || tu_tmpdir_setup(&dir) < 0)
		return -1;
	fx->dir = dir;
	fx->epfd = -1;
	fx->defs.fd = -1; /* no definitions store: fault 20 is not checked */
	memset(&fakes, 0, sizeof(fakes));
	/* The host: a scan user, and nothing else (no BTF, no kernel release). */
	tu_write(fx->dir, "host/etc/passwd",
		 "root:x:0:0:root:/root:/bin/bash\n"
		 "picket-scan:x:998:997::/nonexistent:/usr/sbin/nologin\n");
	tu_write(fx->dir, "host/etc/group", "root:x:0:\npicket-scan:x:997:\n");
	tu_mkdir(fx->dir, "prefix");
	snprintf(fx->prefix, sizeof(fx->prefix), "%s/prefix", fx->dir);
	snprintf(fx->log_path, sizeof(fx->log_path), "%s/log/events.jsonl", fx->dir);
	tu_mkdir(fx->dir, "log");
	if (hostview_init(&fx->hv, tu_path(fx->dir, "host")) < 0)
		return -1;
	if (policy_load(SOURCE_ROOT "/etc/policy.conf", &fx->p, err, sizeof(err)) < 0) {
		fprintf(stderr, "policy: %s\n", err);
		return -1;
	}
	if (faults_init(&fx->fs, NULL, on_emit, &fx->rec) < 0)
		return -1;
	const struct eventlog_limits lim[EVENTLOG_FILES] = { { 1 << 20, 2 }, { 1 << 20, 2 } };
	if (eventlog_open(&fx->el, tu_path(fx->dir, "log"), lim) < 0)
		return -1;
	fx->sink = (struct event_sink){ .log = &fx->el, .wrote = health_event_written };
	fx->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (fx->epfd < 0)
		return -1;
	if (health_up(fx, time(NULL)) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	void *dir = fx->dir;

	/* The health layer watches the monitors: it goes first. */
	health_free(fx->h);
	monitors_free(fx->mons);
	eventlog_close(&fx->el);
	faults_done(&fx->fs);
	policy_free(&fx->p);
	if (fx->epfd >= 0)
		close(fx->epfd);
	tu_tmpdir_teardown(&dir);
	free(fx);
	return 0;
}

/* Fake monitors, started through monitors_apply with the health layer's
 * started hook, and watched by it. */
static void watch_fake_monitors(struct fixture *fx)
{
	struct monitors_config c = {
		.ctx = { .policy = &fx->p, .epfd = fx->epfd, .sink = &fx->sink,
			 .count_source = health_count_source, .ud = fx->h },
		.make = { [MON_PROC] = make_proc, [MON_FILE] = make_file, [MON_NET] = make_net },
		.started = health_monitor_started,
		.ud = fx->h,
	};
	struct monitor_gate gate;
	assert_int_equal(monitors_new(&c, &fx->mons), 0);
	health_gate(fx->h, &gate);
	assert_string_equal(gate.ebpf_blocked, ""); /* no host re-check ran yet */
	monitors_apply(fx->mons, &gate);
	for (int m = 0; m < MON_COUNT; m++)
		assert_true(monitors_running(fx->mons, m));
	health_watch(fx->h, NULL, fx->mons);
}

/* Waits for the wall clock's next second (at most 1 s). */
static void next_second(void)
{
	time_t t = time(NULL);
	while (time(NULL) == t)
		usleep(2000);
}

static const char *active_detail(struct fixture *fx, int id)
{
	const struct fault_state *f = faults_get(&fx->fs, id);
	assert_non_null(f);
	assert_true(f->active);
	return f->detail;
}

/* --- fault 7: the scan service cannot start ------------------------------ */

#define START_ERR "picket-scand: not enough memory: 180 MiB available, the policy's min_mem_mb is 400"

static void test_scan_start_failed_raises_7(void **state)
{
	struct fixture *fx = *state;

	health_scan_start_failed(fx->h, START_ERR);
	assert_string_equal(active_detail(fx, FAULT_SCAN_START), START_ERR);
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_SCAN_START), 1);
	assert_int_equal(last(&fx->rec, FAULT_SCAN_START)->severity, FAULT_CRITICAL);
	assert_string_equal(last(&fx->rec, FAULT_SCAN_START)->detail, START_ERR);

	/* A second failure updates the detail without another event. */
	health_scan_start_failed(fx->h, "picket-scand: exec: No such file or directory");
	assert_string_equal(active_detail(fx, FAULT_SCAN_START),
			    "picket-scand: exec: No such file or directory");
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_SCAN_START), 1);
}

static void test_scan_ready_clears_7(void **state)
{
	struct fixture *fx = *state;

	health_scan_start_failed(fx->h, START_ERR);
	int metrics_before = fx->metrics_calls;
	health_scan_ready(fx->h, 1234, "");
	assert_false(faults_is_active(&fx->fs, FAULT_SCAN_START));
	assert_int_equal(count(&fx->rec, FAULT_CLEARED, FAULT_SCAN_START), 1);
	/* It re-checks the host, and the metrics are written again. */
	assert_true(fx->metrics_calls > metrics_before);

	health_scan_ready(fx->h, 1235, "");
	assert_int_equal(count(&fx->rec, FAULT_CLEARED, FAULT_SCAN_START), 1);
}

static void test_scan_ready_as_root_is_noted_in_5(void **state)
{
	struct fixture *fx = *state;

	health_scan_ready(fx->h, 1234, "the scan user does not exist");
	assert_non_null(strstr(active_detail(fx, FAULT_SCAN_USER),
			       "the scan service runs as root: the scan user does not exist"));
}

/* --- fault 6: the scan service keeps crashing ---------------------------- */

static void test_crashes_below_the_count_do_not_raise_6(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(fx->p.scan_crash_count, 3);
	assert_int_equal(fx->p.scan_crash_window, 300);
	health_scan_crashed(fx->h, "SIGSEGV", "/a", "");
	health_scan_crashed(fx->h, "SIGSEGV", "/b", "");
	assert_false(faults_is_active(&fx->fs, FAULT_SCAN_RESTARTING));
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_SCAN_RESTARTING), 0);

	health_scan_crashed(fx->h, "SIGABRT", "", ""); /* between scans */
	assert_string_equal(active_detail(fx, FAULT_SCAN_RESTARTING),
			    "3 crashes in 300 s; in the engine: /a, /b, (idle)");
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_SCAN_RESTARTING), 1);
	assert_int_equal(last(&fx->rec, FAULT_SCAN_RESTARTING)->severity, FAULT_MAJOR);

	/* A fourth: the detail grows, no second event. */
	health_scan_crashed(fx->h, "SIGSEGV", "/c", "");
	assert_string_equal(active_detail(fx, FAULT_SCAN_RESTARTING),
			    "4 crashes in 300 s; in the engine: /a, /b, (idle), /c");
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_SCAN_RESTARTING), 1);
}

static void test_crashes_out_of_the_window_fall_out(void **state)
{
	struct fixture *fx = *state;

	fx->p.scan_crash_count = 2;
	fx->p.scan_crash_window = 1;
	health_scan_crashed(fx->h, "SIGSEGV", "/old", "");
	next_second(); /* /old is now 1 s old: out of a 1 s window */
	health_scan_crashed(fx->h, "SIGSEGV", "/new", "");
	assert_false(faults_is_active(&fx->fs, FAULT_SCAN_RESTARTING));
	health_scan_crashed(fx->h, "SIGSEGV", "/newer", "");
	assert_string_equal(active_detail(fx, FAULT_SCAN_RESTARTING),
			    "2 crashes in 1 s; in the engine: /new, /newer");
}

static void test_tick_clears_6_after_calm(void **state)
{
	struct fixture *fx = *state;

	for (int i = 0; i < 3; i++)
		health_scan_crashed(fx->h, "SIGSEGV", "/x", "");
	assert_true(faults_is_active(&fx->fs, FAULT_SCAN_RESTARTING));

	/* Within scan_calm, and started just now: neither cleared nor critical. */
	health_tick(fx->h);
	assert_true(faults_is_active(&fx->fs, FAULT_SCAN_RESTARTING));
	assert_int_equal(faults_get(&fx->fs, FAULT_SCAN_RESTARTING)->severity, FAULT_MAJOR);
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_SCAN_RESTARTING), 1);

	fx->p.scan_calm = 0;
	health_tick(fx->h);
	assert_false(faults_is_active(&fx->fs, FAULT_SCAN_RESTARTING));
	assert_int_equal(count(&fx->rec, FAULT_CLEARED, FAULT_SCAN_RESTARTING), 1);

	/* The window starts over: one more crash is one, not four. */
	fx->p.scan_calm = 300;
	health_scan_crashed(fx->h, "SIGSEGV", "/y", "");
	health_scan_crashed(fx->h, "SIGSEGV", "/z", "");
	assert_false(faults_is_active(&fx->fs, FAULT_SCAN_RESTARTING));
	health_tick(fx->h); /* not active: nothing to do */
	assert_int_equal(count(&fx->rec, FAULT_CLEARED, FAULT_SCAN_RESTARTING), 1);
}

static void test_tick_escalates_6_long_after_start(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(health_up(fx, time(NULL) - 1000), 0); /* scan_escalate is 600 */
	health_scan_crashed(fx->h, "SIGSEGV", "/a", "");
	health_scan_crashed(fx->h, "SIGSEGV", "/b", "");
	health_scan_crashed(fx->h, "SIGSEGV", "/c", "");
	assert_int_equal(faults_get(&fx->fs, FAULT_SCAN_RESTARTING)->severity, FAULT_MAJOR);

	health_tick(fx->h);
	const struct fault_state *f = faults_get(&fx->fs, FAULT_SCAN_RESTARTING);
	assert_true(f->active);
	assert_int_equal(f->severity, FAULT_CRITICAL);
	assert_string_equal(f->detail, "user intervention needed: 3 crashes in 300 s; in the "
				       "engine: /a, /b, /c");
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_SCAN_RESTARTING), 2);
	assert_int_equal(last(&fx->rec, FAULT_SCAN_RESTARTING)->severity, FAULT_CRITICAL);

	/* Once critical, later ticks neither emit nor prefix again. */
	health_tick(fx->h);
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_SCAN_RESTARTING), 2);
	assert_string_equal(f->detail, "user intervention needed: 3 crashes in 300 s; in the "
				       "engine: /a, /b, /c");

	/* Calm wins over escalation; the next raise is major again. */
	fx->p.scan_calm = 0;
	health_tick(fx->h);
	assert_false(f->active);
	fx->p.scan_calm = 300;
	for (int i = 0; i < 3; i++)
		health_scan_crashed(fx->h, "SIGSEGV", "/d", "");
	assert_int_equal(f->severity, FAULT_MAJOR);
}

/* A crash after the escalation keeps what the escalation said. */
static void test_crash_after_escalation_keeps_the_prefix(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(health_up(fx, time(NULL) - 1000), 0);
	for (int i = 0; i < 3; i++)
		health_scan_crashed(fx->h, "SIGSEGV", "/a", "");
	health_tick(fx->h);
	health_scan_crashed(fx->h, "SIGSEGV", "/b", "");
	const struct fault_state *f = faults_get(&fx->fs, FAULT_SCAN_RESTARTING);
	assert_int_equal(f->severity, FAULT_CRITICAL);
	assert_string_equal(f->detail, "user intervention needed: 4 crashes in 300 s; in the "
				       "engine: /a, /a, /a, /b");
}

/* A crash by the scan service's own filter names the syscall it stopped. */
static void test_crash_by_the_filter_names_the_syscall(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(health_up(fx, time(NULL)), 0);
	health_scan_crashed(fx->h, "SIGSEGV", "/a", "");
	health_scan_crashed(fx->h, "SIGSEGV", "/b", "");
	health_scan_crashed(fx->h, "SIGSYS", "/c", "syscall 96 (gettimeofday)");
	assert_string_equal(active_detail(fx, FAULT_SCAN_RESTARTING),
			    "3 crashes in 300 s; in the engine: /a, /b, /c (seccomp stopped syscall "
			    "96 (gettimeofday))");
}

/* A full window drops the oldest crash: the newest files are the suspects. */
static void test_full_window_keeps_the_newest(void **state)
{
	struct fixture *fx = *state;
	char path[32];

	assert_int_equal(health_up(fx, time(NULL)), 0);
	for (int i = 0; i < 70; i++) {
		snprintf(path, sizeof(path), "/f%d", i);
		health_scan_crashed(fx->h, "SIGSEGV", path, "");
	}
	const struct fault_state *f = faults_get(&fx->fs, FAULT_SCAN_RESTARTING);
	assert_non_null(strstr(f->detail, "64 crashes in 300 s; in the engine: /f6, /f7,"));
	assert_null(strstr(f->detail, "/f5,"));
}

static void test_no_escalation_when_calm_has_passed(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(health_up(fx, time(NULL) - 1000), 0);
	for (int i = 0; i < 3; i++)
		health_scan_crashed(fx->h, "SIGSEGV", "/a", "");
	fx->p.scan_calm = 0;
	health_tick(fx->h);
	assert_false(faults_is_active(&fx->fs, FAULT_SCAN_RESTARTING));
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_SCAN_RESTARTING), 1);
}

/* --- fault 21: the event log cannot be written --------------------------- */

static void test_event_write_failure_raises_21(void **state)
{
	struct fixture *fx = *state;
	char want[PATH_MAX + 128];

	/* The hook reads which file failed from the log itself. */
	struct eventlog_file *f = &fx->el.file[EVENTLOG_EVENTS];
	f->last_error = -ENOSPC;
	health_event_written(fx->h, -ENOSPC);
	snprintf(want, sizeof(want), "%s: No space left on device; 0 events waiting in memory, 0 lost",
		 fx->log_path);
	assert_string_equal(active_detail(fx, FAULT_EVENT_LOG), want);
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_EVENT_LOG), 1);

	/* Failing again: one raise only, the detail follows. */
	f->last_error = -EIO;
	health_event_written(fx->h, -EIO);
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_EVENT_LOG), 1);
	assert_non_null(strstr(active_detail(fx, FAULT_EVENT_LOG), ": Input/output error;"));

	f->last_error = 0;
	health_event_written(fx->h, 0);
	assert_false(faults_is_active(&fx->fs, FAULT_EVENT_LOG));
	assert_int_equal(count(&fx->rec, FAULT_CLEARED, FAULT_EVENT_LOG), 1);
	health_event_written(fx->h, 0);
	assert_int_equal(count(&fx->rec, FAULT_CLEARED, FAULT_EVENT_LOG), 1);
}

/* Through the sink: a write that really fails (the log's descriptor is
 * /dev/full) raises 21 with the event waiting; the re-check retries it into
 * the reopened file and clears 21. */
static void test_event_sink_failure_and_retry(void **state)
{
	struct fixture *fx = *state;
	char want[PATH_MAX + 128];

	int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
	if (full < 0)
		fail_msg("/dev/full: %s", strerror(errno));
	int logfd = fx->el.file[EVENTLOG_EVENTS].fd;
	assert_true(logfd >= 0);
	assert_int_equal(dup2(full, logfd), logfd);
	close(full);

	struct json_object *ev = events_new(&fx->sink, "test_event");
	assert_non_null(ev);
	events_emit(&fx->sink, ev);
	snprintf(want, sizeof(want), "%s: No space left on device; 1 events waiting in memory, 0 lost",
		 fx->log_path);
	assert_string_equal(active_detail(fx, FAULT_EVENT_LOG), want);
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].backlog_count, 1);

	health_recheck(fx->h);
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].backlog_count, 0);
	assert_false(faults_is_active(&fx->fs, FAULT_EVENT_LOG));
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_EVENT_LOG), 1);
	assert_int_equal(count(&fx->rec, FAULT_CLEARED, FAULT_EVENT_LOG), 1);
	char *text = tu_read(fx->log_path);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"type\":\"test_event\""));
	free(text);
}

/* --- faults 8, 9, 22: a monitor's start ---------------------------------- */

#define NET_ERR "ebpf: load netmon: Operation not permitted"
#define FILE_ERR "fanotify: fanotify_init: Operation not permitted"

static void test_network_monitor_failure_raises_9(void **state)
{
	struct fixture *fx = *state;

	health_monitor_started(fx->h, MON_NET, -EPERM, NET_ERR);
	assert_string_equal(active_detail(fx, FAULT_NET_MONITOR), NET_ERR);
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_NET_MONITOR), 1);
	assert_false(faults_is_active(&fx->fs, FAULT_FILE_MONITOR));
	assert_false(faults_is_active(&fx->fs, FAULT_PROC_MONITOR));

	health_monitor_started(fx->h, MON_NET, -EPERM, NET_ERR);
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_NET_MONITOR), 1);

	health_monitor_started(fx->h, MON_NET, 0, NULL);
	assert_false(faults_is_active(&fx->fs, FAULT_NET_MONITOR));
	assert_int_equal(count(&fx->rec, FAULT_CLEARED, FAULT_NET_MONITOR), 1);
}

static void test_process_monitor_failure_raises_22(void **state)
{
	struct fixture *fx = *state;

	health_monitor_started(fx->h, MON_PROC, -ENOENT, "ebpf: open procmon: No such file or directory");
	assert_string_equal(active_detail(fx, FAULT_PROC_MONITOR),
			    "ebpf: open procmon: No such file or directory");
	health_monitor_started(fx->h, MON_PROC, 0, NULL);
	assert_false(faults_is_active(&fx->fs, FAULT_PROC_MONITOR));
}

static void test_file_monitor_detail_names_the_attribution(void **state)
{
	struct fixture *fx = *state;

	/* No monitors watched yet. */
	health_monitor_started(fx->h, MON_FILE, -EPERM, FILE_ERR);
	assert_string_equal(active_detail(fx, FAULT_FILE_MONITOR),
			    FILE_ERR "; process attribution: /proc only");
	health_monitor_started(fx->h, MON_FILE, 0, NULL);
	assert_false(faults_is_active(&fx->fs, FAULT_FILE_MONITOR));
	assert_int_equal(count(&fx->rec, FAULT_CLEARED, FAULT_FILE_MONITOR), 1);

	/* The process monitor runs: processes are named by eBPF. */
	watch_fake_monitors(fx);
	health_monitor_started(fx->h, MON_FILE, -EPERM, FILE_ERR);
	assert_string_equal(active_detail(fx, FAULT_FILE_MONITOR),
			    FILE_ERR "; process attribution: ebpf");
	health_monitor_started(fx->h, MON_FILE, 0, NULL);

	/* It stopped: /proc only again. */
	fx->p.monitor_process_execution = false;
	monitors_apply(fx->mons, &(struct monitor_gate){ 0 });
	assert_false(monitors_running(fx->mons, MON_PROC));
	health_monitor_started(fx->h, MON_FILE, -EPERM, FILE_ERR);
	assert_string_equal(active_detail(fx, FAULT_FILE_MONITOR),
			    FILE_ERR "; process attribution: /proc only");
}

static void test_monitor_fault_off_under_the_policy_is_not_raised(void **state)
{
	struct fixture *fx = *state;

	health_monitor_started(fx->h, MON_NET, -EPERM, NET_ERR);
	assert_true(faults_is_active(&fx->fs, FAULT_NET_MONITOR));

	/* Turning the feature off clears the active fault ... */
	fx->p.device_flow_correlation = false;
	health_apply_policy(fx->h);
	assert_false(faults_get(&fx->fs, FAULT_NET_MONITOR)->applies);
	assert_false(faults_is_active(&fx->fs, FAULT_NET_MONITOR));
	assert_int_equal(count(&fx->rec, FAULT_CLEARED, FAULT_NET_MONITOR), 1);

	/* ... and a later failure does not raise it. */
	health_monitor_started(fx->h, MON_NET, -EPERM, NET_ERR);
	assert_false(faults_is_active(&fx->fs, FAULT_NET_MONITOR));
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_NET_MONITOR), 1);

	/* On again: it can be raised again. */
	fx->p.device_flow_correlation = true;
	health_apply_policy(fx->h);
	health_monitor_started(fx->h, MON_NET, -EPERM, NET_ERR);
	assert_true(faults_is_active(&fx->fs, FAULT_NET_MONITOR));
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_NET_MONITOR), 2);
}

/* --- health_apply_policy -------------------------------------------------- */

static void test_apply_policy_follows_the_features(void **state)
{
	struct fixture *fx = *state;

	health_apply_policy(fx->h);
	for (size_t i = 0; i < fault_catalog_len; i++)
		assert_true(faults_get(&fx->fs, fault_catalog[i].id)->applies);

	fx->p.monitor_file_copies_moves = false;
	health_apply_policy(fx->h);
	assert_false(faults_get(&fx->fs, FAULT_FILE_MONITOR)->applies);
	assert_true(faults_get(&fx->fs, FAULT_NET_MONITOR)->applies);
	assert_true(faults_get(&fx->fs, FAULT_PROC_MONITOR)->applies);
	assert_true(faults_get(&fx->fs, FAULT_OVERLOAD)->applies);
	health_monitor_started(fx->h, MON_FILE, -EPERM, FILE_ERR);
	assert_false(faults_is_active(&fx->fs, FAULT_FILE_MONITOR));

	/* No monitor at all: nothing that depends on one applies. */
	fx->p.device_flow_correlation = false;
	fx->p.monitor_process_execution = false;
	health_apply_policy(fx->h);
	assert_false(faults_get(&fx->fs, FAULT_NET_MONITOR)->applies);
	assert_false(faults_get(&fx->fs, FAULT_PROC_MONITOR)->applies);
	assert_false(faults_get(&fx->fs, FAULT_OVERLOAD)->applies);
	assert_false(faults_get(&fx->fs, FAULT_KERNEL_BTF)->applies);
	assert_false(faults_get(&fx->fs, FAULT_KERNEL_INCOMPATIBLE)->applies);
	assert_false(faults_get(&fx->fs, FAULT_SELINUX)->applies);
	assert_true(faults_get(&fx->fs, FAULT_SCAN_USER)->applies);
	assert_true(faults_get(&fx->fs, FAULT_SCAN_RESTARTING)->applies);
	assert_true(faults_get(&fx->fs, FAULT_SCAN_START)->applies);
	assert_true(faults_get(&fx->fs, FAULT_DEFS_OUTDATED)->applies);
	assert_true(faults_get(&fx->fs, FAULT_EVENT_LOG)->applies);

	fx->p.monitor_file_copies_moves = true;
	health_apply_policy(fx->h);
	assert_true(faults_get(&fx->fs, FAULT_FILE_MONITOR)->applies);
	assert_true(faults_get(&fx->fs, FAULT_OVERLOAD)->applies);
}

/* --- the eBPF gate -------------------------------------------------------- */

static void test_gate_follows_faults_16_and_11(void **state)
{
	struct fixture *fx = *state;
	struct monitor_gate g;

	faults_raise(&fx->fs, FAULT_KERNEL_BTF, "no BTF");
	health_gate(fx->h, &g);
	assert_string_equal(g.ebpf_blocked, "not tried: fault 11: no BTF");
	assert_string_equal(g.btf, "");
	/* 16 is the root cause when both hold. */
	faults_raise(&fx->fs, FAULT_KERNEL_INCOMPATIBLE, "kernel 4.18.0 is older than 5.8");
	health_gate(fx->h, &g);
	assert_string_equal(g.ebpf_blocked, "not tried: fault 16: kernel 4.18.0 is older than 5.8");
	faults_clear(&fx->fs, FAULT_KERNEL_INCOMPATIBLE);
	faults_clear(&fx->fs, FAULT_KERNEL_BTF);

	/* Neither: the kernel's own BTF when it has one ... */
	tu_write(fx->dir, "host/sys/kernel/btf/vmlinux", "BTF");
	tu_write(fx->dir, "host/proc/sys/kernel/osrelease", "6.1.0-13-amd64\n");
	health_gate(fx->h, &g);
	assert_string_equal(g.ebpf_blocked, "");
	assert_string_equal(g.btf, "");
	/* ... else the BTF directory's file for this release, in the view. */
	unlink(tu_path(fx->dir, "host/sys/kernel/btf/vmlinux"));
	tu_write(fx->dir, "host/opt/picket/lib/btf/6.1.0-13-amd64.btf", "BTF");
	health_gate(fx->h, &g);
	assert_string_equal(g.ebpf_blocked, "");
	assert_string_equal(g.btf, tu_path(fx->dir, "host/opt/picket/lib/btf/6.1.0-13-amd64.btf"));
}

/* --- fault 18: overload, through health_second ---------------------------- */

static void test_second_without_monitors_does_nothing(void **state)
{
	struct fixture *fx = *state;

	fx->p.overload_grace = 0;
	health_second(fx->h);
	assert_false(faults_is_active(&fx->fs, FAULT_OVERLOAD));
	assert_false(health_degraded(fx->h));
}

static bool log_has_event(struct fixture *fx, const char *type, const char *detail_prefix)
{
	struct json_object *recent = eventlog_recent(&fx->el, EVENTLOG_RING);
	bool found = false;
	for (size_t i = 0; i < json_object_array_length(recent) && !found; i++) {
		struct json_object *ev = json_object_array_get_idx(recent, i), *t, *d;
		if (json_object_object_get_ex(ev, "type", &t) &&
		    strcmp(json_object_get_string(t), type) == 0 &&
		    json_object_object_get_ex(ev, "detail", &d) &&
		    strncmp(json_object_get_string(d), detail_prefix, strlen(detail_prefix)) == 0)
			found = true;
	}
	json_object_put(recent);
	return found;
}

static uint64_t status_u64(struct json_object *st, const char *key)
{
	struct json_object *v;
	assert_true(json_object_object_get_ex(st, key, &v));
	return json_object_get_uint64(v);
}

static void test_drops_past_the_grace_raise_18_and_degrade(void **state)
{
	struct fixture *fx = *state;

	fx->p.overload_grace = 1;
	fx->p.overload_calm = 0;
	watch_fake_monitors(fx);

	/* Dropping, but not yet for the grace period. */
	fakes.counts[MON_FILE] = (struct monitor_counts){ .seen = 100, .dropped = 5 };
	health_second(fx->h);
	assert_false(faults_is_active(&fx->fs, FAULT_OVERLOAD));
	assert_false(health_degraded(fx->h));
	for (int m = 0; m < MON_COUNT; m++)
		assert_int_equal(fakes.degraded_calls[m], 0);

	/* Still dropping a second later: overloaded. */
	usleep(1100 * 1000);
	fakes.counts[MON_FILE] = (struct monitor_counts){ .seen = 200, .dropped = 8 };
	fakes.counts[MON_NET] = (struct monitor_counts){ .seen = 50, .dropped = 2 };
	/* Each event's source, as a monitor tells it: through its ctx. */
	for (int i = 0; i < 40; i++)
		monitor_count_source(fakes.made[MON_FILE]->ctx, "/usr/bin/flood");
	monitor_count_source(fakes.made[MON_NET]->ctx, "/usr/bin/curl");
	int metrics_before = fx->metrics_calls;
	health_second(fx->h);
	const char *detail = active_detail(fx, FAULT_OVERLOAD);
	assert_true(strncmp(detail, "10 events lost, scan queue high-water 0, ", 41) == 0);
	assert_non_null(strstr(detail, "; top sources: /usr/bin/flood "));
	assert_non_null(strstr(detail, ", /usr/bin/curl "));
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_OVERLOAD), 1);
	assert_int_equal(last(&fx->rec, FAULT_OVERLOAD)->severity, FAULT_MAJOR);
	assert_true(health_degraded(fx->h));
	assert_true(fx->metrics_calls > metrics_before);
	for (int m = 0; m < MON_COUNT; m++) {
		assert_int_equal(fakes.degraded_calls[m], 1);
		assert_true(fakes.degraded_on[m]);
	}
	assert_true(log_has_event(fx, "mode_degraded", "10 events lost"));
	struct json_object *st = health_overload_status(fx->h);
	assert_string_equal(json_object_get_string(json_object_object_get(st, "mode")), "degraded");
	assert_int_equal(status_u64(st, "dropped"), 10);
	assert_int_equal(status_u64(st, "seen"), 250);
	json_object_put(st);

	/* Critical-set events lost while degraded: critical, once. */
	fakes.counts[MON_PROC] = (struct monitor_counts){ .seen = 10, .dropped = 3, .critical_dropped = 3 };
	health_second(fx->h);
	assert_int_equal(faults_get(&fx->fs, FAULT_OVERLOAD)->severity, FAULT_CRITICAL);
	assert_int_equal(count(&fx->rec, FAULT_RAISED, FAULT_OVERLOAD), 2);
	health_second(fx->h); /* no new drops, counts unchanged: calm, and calm is 0 s */

	/* Calm: full mode again, every monitor told. */
	assert_false(faults_is_active(&fx->fs, FAULT_OVERLOAD));
	assert_int_equal(count(&fx->rec, FAULT_CLEARED, FAULT_OVERLOAD), 1);
	assert_false(health_degraded(fx->h));
	for (int m = 0; m < MON_COUNT; m++) {
		assert_int_equal(fakes.degraded_calls[m], 2);
		assert_false(fakes.degraded_on[m]);
	}
	assert_true(log_has_event(fx, "mode_full", "13 events lost"));
	st = health_overload_status(fx->h);
	assert_string_equal(json_object_get_string(json_object_object_get(st, "mode")), "full");
	json_object_put(st);
}

static void test_not_calm_while_still_busy(void **state)
{
	struct fixture *fx = *state;

	fx->p.overload_grace = 0;
	fx->p.overload_calm = 0;
	fx->p.rate_low_water = 10;
	watch_fake_monitors(fx);
	fakes.counts[MON_NET] = (struct monitor_counts){ .seen = 1, .dropped = 1 };
	health_second(fx->h);
	assert_true(faults_is_active(&fx->fs, FAULT_OVERLOAD));

	/* No drops, but far more than 10 events/s: still degraded. */
	fakes.counts[MON_NET].seen += 100000;
	health_second(fx->h);
	assert_true(faults_is_active(&fx->fs, FAULT_OVERLOAD));
	assert_true(health_degraded(fx->h));
	/* Events the kernel left out in degraded mode count too. */
	fakes.counts[MON_NET].suppressed += 100000;
	health_second(fx->h);
	assert_true(health_degraded(fx->h));

	health_second(fx->h); /* quiet */
	assert_false(faults_is_active(&fx->fs, FAULT_OVERLOAD));
}

static void test_a_restarted_monitor_counts_from_zero(void **state)
{
	struct fixture *fx = *state;

	/* The shipped 10 s grace: counted, not raised. */
	watch_fake_monitors(fx);
	fakes.counts[MON_FILE] = (struct monitor_counts){ .seen = 1000, .dropped = 10 };
	health_second(fx->h);
	/* The file monitor restarted: its totals begin again, below the last. */
	fakes.counts[MON_FILE] = (struct monitor_counts){ .seen = 30, .dropped = 2 };
	health_second(fx->h);
	struct json_object *st = health_overload_status(fx->h);
	assert_int_equal(status_u64(st, "seen"), 1030);
	assert_int_equal(status_u64(st, "dropped"), 12);
	json_object_put(st);

	/* Stopped: it counts nothing, and again from zero when back. */
	fx->p.monitor_file_copies_moves = false;
	monitors_apply(fx->mons, &(struct monitor_gate){ 0 });
	health_second(fx->h);
	fx->p.monitor_file_copies_moves = true;
	monitors_apply(fx->mons, &(struct monitor_gate){ 0 });
	fakes.counts[MON_FILE] = (struct monitor_counts){ .seen = 5, .dropped = 1 };
	health_second(fx->h);
	st = health_overload_status(fx->h);
	assert_int_equal(status_u64(st, "seen"), 1035);
	assert_int_equal(status_u64(st, "dropped"), 13);
	json_object_put(st);
	assert_false(faults_is_active(&fx->fs, FAULT_OVERLOAD));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_scan_start_failed_raises_7),
		T(test_scan_ready_clears_7),
		T(test_scan_ready_as_root_is_noted_in_5),
		T(test_crashes_below_the_count_do_not_raise_6),
		T(test_crashes_out_of_the_window_fall_out),
		T(test_tick_clears_6_after_calm),
		T(test_tick_escalates_6_long_after_start),
		T(test_crash_after_escalation_keeps_the_prefix),
		T(test_full_window_keeps_the_newest),
		T(test_crash_by_the_filter_names_the_syscall),
		T(test_no_escalation_when_calm_has_passed),
		T(test_event_write_failure_raises_21),
		T(test_event_sink_failure_and_retry),
		T(test_network_monitor_failure_raises_9),
		T(test_process_monitor_failure_raises_22),
		T(test_file_monitor_detail_names_the_attribution),
		T(test_monitor_fault_off_under_the_policy_is_not_raised),
		T(test_apply_policy_follows_the_features),
		T(test_gate_follows_faults_16_and_11),
		T(test_second_without_monitors_does_nothing),
		T(test_drops_past_the_grace_raise_18_and_degrade),
		T(test_not_calm_while_still_busy),
		T(test_a_restarted_monitor_counts_from_zero),
	};
	log_set_level(LOG_CRIT);
	return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}
