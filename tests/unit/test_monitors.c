/* Unit tests of src/daemon/monitor/monitors.c: how the three real-time
 * monitors follow the policy and the eBPF gate.  The monitors themselves are
 * fakes made through monitors_config.make[] (a struct monitor first, ops that
 * record every call), so what is tested is the dispatch: which ops are called,
 * in which order, with which context, and what the started hook, errors,
 * counts and status say about it. */
#include "testutil.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "monitor/monitors.h"

#define BLOCKED "not tried: fault 16: kernel 4.18.0 is older than the minimum 5.8"
#define FILE_ERR "fanotify: fanotify_init: Operation not permitted"

/* One call of the started hook. */
struct started_call {
	enum monitor_kind m;
	int r;
	bool err_null;
	char err[256];
};

/* Everything the fakes and the hook saw.  make[] gets only the context
 * (whose ud monitors.c takes for itself), so the fakes find it here. */
struct world {
	char trace[4096]; /* "op:name " per call, in call order */
	struct monitor *made[MON_COUNT];
	bool fail_make[MON_COUNT];
	/* What start and apply_policy return; start's error text. */
	int start_r[MON_COUNT];
	char start_err[MON_COUNT][128];
	int apply_r[MON_COUNT];
	struct monitor_counts counts[MON_COUNT];
	/* ctx->btf as start saw it ("(null)" for NULL). */
	char btf_at_start[MON_COUNT][PATH_MAX];
	struct started_call started[32];
	size_t n_started;
	/* ctx->count_source's calls: the ud it got and the last exe. */
	int n_sources;
	void *source_ud;
	char source_exe[256];
};

static struct world *W;

struct fake {
	struct monitor mon; /* first, as monitor.h requires */
	enum monitor_kind kind;
};

static enum monitor_kind kind_of(const struct monitor *m) { return ((const struct fake *)m)->kind; }

static void trace(const char *op, const struct monitor *m, const char *extra)
{
	size_t n = strlen(W->trace);
	snprintf(W->trace + n, sizeof(W->trace) - n, "%s:%s%s ", op, m->ops->name, extra ? extra : "");
}

static int fake_start(struct monitor *m, char *err, size_t errlen)
{
	enum monitor_kind k = kind_of(m);
	trace("start", m, NULL);
	snprintf(W->btf_at_start[k], sizeof(W->btf_at_start[k]), "%s",
		 m->ctx->btf ? m->ctx->btf : "(null)");
	if (W->start_r[k] < 0) {
		snprintf(err, errlen, "%s", W->start_err[k]);
		return W->start_r[k];
	}
	m->running = true;
	return 0;
}

static void fake_stop(struct monitor *m)
{
	trace("stop", m, NULL);
	m->running = false;
}

static int fake_apply_policy(struct monitor *m, char *err, size_t errlen)
{
	enum monitor_kind k = kind_of(m);
	trace("apply", m, NULL);
	if (W->apply_r[k] < 0)
		snprintf(err, errlen, "exclusions: map full");
	return W->apply_r[k];
}

static void fake_set_degraded(struct monitor *m, bool on)
{
	trace("degraded", m, on ? "=on" : "=off");
	m->degraded = on;
}

static void fake_counts(struct monitor *m, struct monitor_counts *ret)
{
	*ret = W->counts[kind_of(m)];
}

static struct json_object *fake_status(struct monitor *m)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "fake", json_object_new_string(m->ops->name));
	return o;
}

static void fake_sync(struct monitor *m) { trace("sync", m, NULL); }

static void fake_destroy(struct monitor *m)
{
	trace("destroy", m, NULL);
	W->made[kind_of(m)] = NULL;
	free(m);
}

#define FAKE_OPS(nm, bpf, syncfn)                                                           \
	{                                                                                   \
		.name = nm, .ebpf = bpf, .start = fake_start, .stop = fake_stop,            \
		.apply_policy = fake_apply_policy, .set_degraded = fake_set_degraded,       \
		.counts = fake_counts, .status = fake_status, .sync = syncfn,               \
		.destroy = fake_destroy,                                                    \
	}

/* As the real ones: process and network need eBPF, file does not. */
static const struct monitor_ops fake_ops[MON_COUNT] = {
	[MON_PROC] = FAKE_OPS("process", true, fake_sync),
	[MON_FILE] = FAKE_OPS("file", false, NULL),
	[MON_NET] = FAKE_OPS("network", true, NULL),
};

static struct monitor *make(enum monitor_kind k, const struct monitor_ctx *ctx)
{
	if (W->fail_make[k])
		return NULL;
	struct fake *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->mon = (struct monitor){ .ops = &fake_ops[k], .ctx = ctx };
	f->kind = k;
	W->made[k] = &f->mon;
	return &f->mon;
}

static struct monitor *make_proc(const struct monitor_ctx *ctx) { return make(MON_PROC, ctx); }
static struct monitor *make_file(const struct monitor_ctx *ctx) { return make(MON_FILE, ctx); }
static struct monitor *make_net(const struct monitor_ctx *ctx) { return make(MON_NET, ctx); }

static void on_count_source(void *ud, const char *exe)
{
	W->n_sources++;
	W->source_ud = ud;
	snprintf(W->source_exe, sizeof(W->source_exe), "%s", exe);
}

static void on_started(void *ud, enum monitor_kind m, int r, const char *err)
{
	struct world *w = ud;
	assert_ptr_equal(w, W);
	assert_true(w->n_started < sizeof(w->started) / sizeof(w->started[0]));
	struct started_call *c = &w->started[w->n_started++];
	c->m = m;
	c->r = r;
	c->err_null = err == NULL;
	snprintf(c->err, sizeof(c->err), "%s", err ? err : "");
}

struct fixture {
	struct world w;
	struct policy p;
	struct monitors_config cfg;
	struct monitors *ms;
	int owner; /* stands for the struct health the ctx's ud names */
};

static const struct monitor_gate open_gate; /* eBPF allowed, the kernel's BTF */

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[POLICY_ERR_MAX];

	if (!fx)
		return -1;
	W = &fx->w;
	if (policy_load(SOURCE_ROOT "/etc/policy.conf", &fx->p, err, sizeof(err)) < 0) {
		fprintf(stderr, "policy: %s\n", err);
		free(fx);
		return -1;
	}
	fx->cfg = (struct monitors_config){
		.ctx = { .policy = &fx->p, .epfd = 42, .count_source = on_count_source,
			 .ud = &fx->owner },
		.make = { [MON_PROC] = make_proc, [MON_FILE] = make_file, [MON_NET] = make_net },
		.started = on_started,
		.ud = &fx->w,
	};
	if (monitors_new(&fx->cfg, &fx->ms) < 0) {
		policy_free(&fx->p);
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	monitors_free(fx->ms);
	policy_free(&fx->p);
	W = NULL;
	free(fx);
	return 0;
}

static void clear_trace(struct fixture *fx)
{
	fx->w.trace[0] = '\0';
	fx->w.n_started = 0;
}

static void assert_started(const struct started_call *c, enum monitor_kind m, int r, const char *err)
{
	assert_int_equal(c->m, m);
	assert_int_equal(c->r, r);
	if (!err) {
		assert_true(c->err_null);
	} else {
		assert_false(c->err_null);
		assert_string_equal(c->err, err);
	}
}

/* status["kind"]["key"] as a string, NULL when absent. */
static const char *status_str(struct json_object *st, const char *kind, const char *key)
{
	struct json_object *k, *v;
	assert_true(json_object_object_get_ex(st, kind, &k));
	if (!json_object_object_get_ex(k, key, &v))
		return NULL;
	return json_object_get_string(v);
}

/* --- construction ------------------------------------------------------- */

static void test_new_makes_each_kind_with_the_shared_ctx(void **state)
{
	struct fixture *fx = *state;

	assert_string_equal(fx->w.trace, ""); /* nothing started yet */
	for (int m = 0; m < MON_COUNT; m++) {
		struct monitor *mon = fx->w.made[m];
		assert_non_null(mon);
		assert_ptr_equal(mon->ops, &fake_ops[m]);
		assert_ptr_equal(mon->ctx->policy, &fx->p);
		assert_int_equal(mon->ctx->epfd, 42);
		assert_non_null(mon->ctx->sync_procs);
		assert_null(mon->ctx->btf);
		/* The owner's ud stays for count_source: sync_procs has its own. */
		assert_ptr_equal(mon->ctx->ud, &fx->owner);
		assert_ptr_equal(mon->ctx->count_source, on_count_source);
		assert_ptr_not_equal(mon->ctx->sync_ud, &fx->owner);
		assert_ptr_equal(mon->ctx, fx->w.made[MON_PROC]->ctx); /* one ctx for all */
		assert_false(monitors_running(fx->ms, m));
		assert_true(monitors_wanted(fx->ms, m)); /* the shipped policy turns all on */
		assert_string_equal(monitors_error(fx->ms, m), "");
	}
	assert_string_equal(monitors_name(MON_PROC), "process");
	assert_string_equal(monitors_name(MON_FILE), "file");
	assert_string_equal(monitors_name(MON_NET), "network");
	assert_string_equal(monitors_name(MON_COUNT), "?");
}

static void test_new_failure_destroys_those_made(void **state)
{
	(void)state;
	struct world w = { .fail_make = { [MON_NET] = true } };
	struct world *saved = W;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX];
	struct monitors *ms = NULL;

	W = &w;
	assert_int_equal(policy_load_string("", "test", &p, err, sizeof(err)), 0);
	struct monitors_config c = {
		.ctx = { .policy = &p },
		.make = { make_proc, make_file, make_net },
	};
	assert_int_equal(monitors_new(&c, &ms), -ENOMEM);
	assert_null(ms);
	assert_string_equal(w.trace, "destroy:file destroy:process ");
	policy_free(&p);
	W = saved;
}

static void test_sync_procs_reaches_the_process_monitor(void **state)
{
	struct fixture *fx = *state;
	const struct monitor_ctx *ctx = fx->w.made[MON_FILE]->ctx;

	ctx->sync_procs(ctx->sync_ud);
	assert_string_equal(fx->w.trace, "sync:process ");
}

/* A monitor's events reach the owner's count_source with the owner's ud
 * (the health layer's, in picketd), not the struct monitors. */
static void test_count_source_gets_the_owners_ud(void **state)
{
	struct fixture *fx = *state;

	monitor_count_source(fx->w.made[MON_NET]->ctx, "/usr/bin/curl");
	assert_int_equal(fx->w.n_sources, 1);
	assert_ptr_equal(fx->w.source_ud, &fx->owner);
	assert_string_equal(fx->w.source_exe, "/usr/bin/curl");
}

/* --- monitors_apply: starting what the policy wants ---------------------- */

static void test_apply_starts_all_in_order(void **state)
{
	struct fixture *fx = *state;

	monitors_apply(fx->ms, &open_gate);
	assert_string_equal(fx->w.trace, "start:process start:file start:network ");
	assert_int_equal(fx->w.n_started, 3);
	assert_started(&fx->w.started[0], MON_PROC, 0, NULL);
	assert_started(&fx->w.started[1], MON_FILE, 0, NULL);
	assert_started(&fx->w.started[2], MON_NET, 0, NULL);
	for (int m = 0; m < MON_COUNT; m++) {
		assert_true(monitors_running(fx->ms, m));
		assert_string_equal(monitors_error(fx->ms, m), "");
		assert_string_equal(fx->w.btf_at_start[m], "(null)");
	}
}

static void test_apply_starts_only_the_kinds_wanted(void **state)
{
	struct fixture *fx = *state;

	fx->p.device_flow_correlation = false;
	fx->p.monitor_process_execution = false;
	assert_false(monitors_wanted(fx->ms, MON_NET));
	assert_false(monitors_wanted(fx->ms, MON_PROC));
	monitors_apply(fx->ms, &open_gate);
	assert_string_equal(fx->w.trace, "start:file ");
	assert_int_equal(fx->w.n_started, 1);
	assert_started(&fx->w.started[0], MON_FILE, 0, NULL);
	assert_false(monitors_running(fx->ms, MON_PROC));
	assert_true(monitors_running(fx->ms, MON_FILE));
	assert_false(monitors_running(fx->ms, MON_NET));
}

static void test_policy_off_stops_the_running_and_clears_errors(void **state)
{
	struct fixture *fx = *state;

	fx->w.start_r[MON_FILE] = -EPERM;
	snprintf(fx->w.start_err[MON_FILE], sizeof(fx->w.start_err[0]), FILE_ERR);
	monitors_apply(fx->ms, &open_gate);
	assert_string_equal(monitors_error(fx->ms, MON_FILE), FILE_ERR);
	clear_trace(fx);

	/* The failed file monitor and the running network monitor turned off. */
	fx->p.monitor_file_copies_moves = false;
	fx->p.device_flow_correlation = false;
	monitors_apply(fx->ms, &open_gate);
	assert_string_equal(fx->w.trace, "apply:process stop:network ");
	assert_int_equal(fx->w.n_started, 0); /* no start attempt, no hook */
	assert_string_equal(monitors_error(fx->ms, MON_FILE), "");
	assert_string_equal(monitors_error(fx->ms, MON_NET), "");
	assert_false(monitors_running(fx->ms, MON_NET));
	assert_true(monitors_running(fx->ms, MON_PROC));

	/* And once off, a further apply leaves them alone. */
	clear_trace(fx);
	monitors_apply(fx->ms, &open_gate);
	assert_string_equal(fx->w.trace, "apply:process ");
}

/* --- a failing start, and monitors_retry --------------------------------- */

static void test_failed_start_is_reported(void **state)
{
	struct fixture *fx = *state;

	fx->w.start_r[MON_FILE] = -EPERM;
	snprintf(fx->w.start_err[MON_FILE], sizeof(fx->w.start_err[0]), FILE_ERR);
	monitors_apply(fx->ms, &open_gate);
	/* The failure does not keep the next kind from starting. */
	assert_string_equal(fx->w.trace, "start:process start:file start:network ");
	assert_false(monitors_running(fx->ms, MON_FILE));
	assert_string_equal(monitors_error(fx->ms, MON_FILE), FILE_ERR);
	assert_true(monitors_running(fx->ms, MON_PROC));
	assert_true(monitors_running(fx->ms, MON_NET));
	assert_string_equal(monitors_error(fx->ms, MON_PROC), "");
	assert_int_equal(fx->w.n_started, 3);
	assert_started(&fx->w.started[1], MON_FILE, -EPERM, FILE_ERR);
}

static void test_retry_retries_only_the_failed(void **state)
{
	struct fixture *fx = *state;

	fx->w.start_r[MON_FILE] = -EPERM;
	snprintf(fx->w.start_err[MON_FILE], sizeof(fx->w.start_err[0]), FILE_ERR);
	monitors_apply(fx->ms, &open_gate);
	clear_trace(fx);

	/* Still failing: tried again, the hook told again, the error kept. */
	monitors_retry(fx->ms, &open_gate);
	assert_string_equal(fx->w.trace, "start:file ");
	assert_int_equal(fx->w.n_started, 1);
	assert_started(&fx->w.started[0], MON_FILE, -EPERM, FILE_ERR);
	assert_string_equal(monitors_error(fx->ms, MON_FILE), FILE_ERR);

	/* Now it starts: the others' policy is not re-applied. */
	clear_trace(fx);
	fx->w.start_r[MON_FILE] = 0;
	monitors_retry(fx->ms, &open_gate);
	assert_string_equal(fx->w.trace, "start:file ");
	assert_int_equal(fx->w.n_started, 1);
	assert_started(&fx->w.started[0], MON_FILE, 0, NULL);
	assert_true(monitors_running(fx->ms, MON_FILE));
	assert_string_equal(monitors_error(fx->ms, MON_FILE), "");

	/* Nothing failed: a retry does nothing at all. */
	clear_trace(fx);
	monitors_retry(fx->ms, &open_gate);
	assert_string_equal(fx->w.trace, "");
	assert_int_equal(fx->w.n_started, 0);
}

static void test_retry_skips_kinds_the_policy_turns_off(void **state)
{
	struct fixture *fx = *state;

	fx->w.start_r[MON_NET] = -ENOENT;
	snprintf(fx->w.start_err[MON_NET], sizeof(fx->w.start_err[0]), "ebpf: load: No such file");
	monitors_apply(fx->ms, &open_gate);
	clear_trace(fx);
	fx->p.device_flow_correlation = false;
	monitors_retry(fx->ms, &open_gate);
	assert_string_equal(fx->w.trace, "");
	assert_int_equal(fx->w.n_started, 0);
}

/* --- the eBPF gate ------------------------------------------------------- */

static void test_gate_keeps_ebpf_monitors_from_starting(void **state)
{
	struct fixture *fx = *state;
	struct monitor_gate g = { .ebpf_blocked = BLOCKED };

	monitors_apply(fx->ms, &g);
	assert_string_equal(fx->w.trace, "start:file ");
	assert_true(monitors_running(fx->ms, MON_FILE));
	assert_false(monitors_running(fx->ms, MON_PROC));
	assert_false(monitors_running(fx->ms, MON_NET));
	assert_string_equal(monitors_error(fx->ms, MON_PROC), "ebpf: " BLOCKED);
	assert_string_equal(monitors_error(fx->ms, MON_NET), "ebpf: " BLOCKED);
	assert_string_equal(monitors_error(fx->ms, MON_FILE), "");
	assert_int_equal(fx->w.n_started, 3);
	assert_started(&fx->w.started[0], MON_PROC, -EOPNOTSUPP, "ebpf: " BLOCKED);
	assert_started(&fx->w.started[1], MON_FILE, 0, NULL);
	assert_started(&fx->w.started[2], MON_NET, -EOPNOTSUPP, "ebpf: " BLOCKED);

	/* The gate opens: the retry starts the two eBPF monitors. */
	clear_trace(fx);
	monitors_retry(fx->ms, &open_gate);
	assert_string_equal(fx->w.trace, "start:process start:network ");
	for (int m = 0; m < MON_COUNT; m++) {
		assert_true(monitors_running(fx->ms, m));
		assert_string_equal(monitors_error(fx->ms, m), "");
	}
}

static void test_gate_btf_is_the_ctx_btf_at_start(void **state)
{
	struct fixture *fx = *state;
	struct monitor_gate g = { .btf = "/opt/picket/lib/btf/6.1.0-13-amd64.btf" };

	monitors_apply(fx->ms, &g);
	for (int m = 0; m < MON_COUNT; m++)
		assert_string_equal(fx->w.btf_at_start[m], "/opt/picket/lib/btf/6.1.0-13-amd64.btf");
	assert_string_equal(fx->w.made[MON_PROC]->ctx->btf, "/opt/picket/lib/btf/6.1.0-13-amd64.btf");

	/* Back to the kernel's own BTF: NULL, not "". */
	monitors_stop(fx->ms);
	monitors_apply(fx->ms, &open_gate);
	for (int m = 0; m < MON_COUNT; m++)
		assert_string_equal(fx->w.btf_at_start[m], "(null)");
	assert_null(fx->w.made[MON_PROC]->ctx->btf);
}

/* --- monitors_apply on running monitors ---------------------------------- */

static void test_apply_on_running_reapplies_the_policy(void **state)
{
	struct fixture *fx = *state;

	monitors_apply(fx->ms, &open_gate);
	clear_trace(fx);
	fx->w.apply_r[MON_FILE] = -EINVAL;
	monitors_apply(fx->ms, &open_gate);
	assert_string_equal(fx->w.trace, "apply:process apply:file apply:network ");
	assert_int_equal(fx->w.n_started, 0);
	/* A policy not fully in force does not stop the monitor. */
	for (int m = 0; m < MON_COUNT; m++) {
		assert_true(monitors_running(fx->ms, m));
		assert_string_equal(monitors_error(fx->ms, m), "");
	}
}

/* --- degraded mode, counts, stop ----------------------------------------- */

static void test_set_degraded_reaches_every_monitor(void **state)
{
	struct fixture *fx = *state;

	/* Also while stopped: they keep it for their next start. */
	monitors_set_degraded(fx->ms, true);
	assert_string_equal(fx->w.trace,
			    "degraded:process=on degraded:network=on degraded:file=on ");
	for (int m = 0; m < MON_COUNT; m++)
		assert_true(fx->w.made[m]->degraded);

	monitors_apply(fx->ms, &open_gate);
	clear_trace(fx);
	monitors_set_degraded(fx->ms, false);
	assert_string_equal(fx->w.trace,
			    "degraded:process=off degraded:network=off degraded:file=off ");
	for (int m = 0; m < MON_COUNT; m++)
		assert_false(fx->w.made[m]->degraded);
}

static void test_counts_are_zero_unless_running(void **state)
{
	struct fixture *fx = *state;
	struct monitor_counts c;

	for (int m = 0; m < MON_COUNT; m++)
		fx->w.counts[m] = (struct monitor_counts){
			.seen = 100 + m, .dropped = 10 + m, .critical_dropped = 1 + m,
			.suppressed = 20 + m, .excluded = 30 + m, .queue = 40 + m,
		};
	for (int m = 0; m < MON_COUNT; m++) {
		memset(&c, 0xff, sizeof(c));
		monitors_counts(fx->ms, m, &c);
		assert_int_equal(c.seen + c.dropped + c.critical_dropped + c.suppressed + c.excluded +
					 c.queue,
				 0);
	}
	fx->w.start_r[MON_NET] = -EPERM;
	snprintf(fx->w.start_err[MON_NET], sizeof(fx->w.start_err[0]), "ebpf: attach: EPERM");
	monitors_apply(fx->ms, &open_gate);
	for (int m = MON_PROC; m <= MON_FILE; m++) {
		monitors_counts(fx->ms, m, &c);
		assert_memory_equal(&c, &fx->w.counts[m], sizeof(c));
	}
	memset(&c, 0xff, sizeof(c));
	monitors_counts(fx->ms, MON_NET, &c);
	assert_int_equal(c.seen, 0);
	assert_int_equal(c.dropped, 0);
	assert_int_equal(c.queue, 0);
}

static void test_stop_stops_the_running_in_reverse_order(void **state)
{
	struct fixture *fx = *state;

	fx->w.start_r[MON_FILE] = -EPERM;
	snprintf(fx->w.start_err[MON_FILE], sizeof(fx->w.start_err[0]), FILE_ERR);
	monitors_apply(fx->ms, &open_gate);
	clear_trace(fx);
	monitors_stop(fx->ms);
	assert_string_equal(fx->w.trace, "stop:network stop:process ");
	for (int m = 0; m < MON_COUNT; m++)
		assert_false(monitors_running(fx->ms, m));
}

/* --- status -------------------------------------------------------------- */

static void test_status_states_errors_and_attribution(void **state)
{
	struct fixture *fx = *state;

	fx->p.device_flow_correlation = false;
	fx->w.start_r[MON_FILE] = -EPERM;
	snprintf(fx->w.start_err[MON_FILE], sizeof(fx->w.start_err[0]), FILE_ERR);
	monitors_apply(fx->ms, &open_gate);

	struct json_object *st = monitors_status(fx->ms);
	assert_non_null(st);
	assert_int_equal(json_object_object_length(st), 3);
	/* Running: the monitor's own status, with the state added. */
	assert_string_equal(status_str(st, "process", "state"), "running");
	assert_string_equal(status_str(st, "process", "fake"), "process");
	assert_null(status_str(st, "process", "error"));
	assert_null(status_str(st, "process", "ebpf"));
	/* Failed: its error; attribution by the running process monitor. */
	assert_string_equal(status_str(st, "file", "state"), "failed");
	assert_string_equal(status_str(st, "file", "error"), FILE_ERR);
	assert_string_equal(status_str(st, "file", "attribution"), "ebpf");
	assert_null(status_str(st, "file", "fake"));
	/* Off. */
	assert_string_equal(status_str(st, "network", "state"), "off");
	assert_null(status_str(st, "network", "error"));
	assert_null(status_str(st, "network", "attribution"));
	json_object_put(st);
}

static void test_status_under_the_gate(void **state)
{
	struct fixture *fx = *state;
	struct monitor_gate g = { .ebpf_blocked = BLOCKED };

	monitors_apply(fx->ms, &g);
	struct json_object *st = monitors_status(fx->ms);
	assert_string_equal(status_str(st, "process", "state"), "failed");
	assert_string_equal(status_str(st, "process", "error"), "ebpf: " BLOCKED);
	assert_string_equal(status_str(st, "process", "ebpf"), BLOCKED);
	assert_string_equal(status_str(st, "network", "state"), "failed");
	assert_string_equal(status_str(st, "network", "ebpf"), BLOCKED);
	assert_string_equal(status_str(st, "file", "state"), "running");
	assert_string_equal(status_str(st, "file", "fake"), "file");
	assert_string_equal(status_str(st, "file", "attribution"), "proc");
	assert_null(status_str(st, "file", "ebpf")); /* fanotify needs no eBPF */
	assert_null(status_str(st, "file", "error"));
	json_object_put(st);
}

/* --- free ---------------------------------------------------------------- */

static void test_free_destroys_all_three(void **state)
{
	struct fixture *fx = *state;

	monitors_apply(fx->ms, &open_gate);
	clear_trace(fx);
	monitors_free(fx->ms);
	fx->ms = NULL;
	assert_string_equal(fx->w.trace, "destroy:network destroy:file destroy:process ");
	for (int m = 0; m < MON_COUNT; m++)
		assert_null(fx->w.made[m]);
	monitors_free(NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_new_makes_each_kind_with_the_shared_ctx),
		T(test_new_failure_destroys_those_made),
		T(test_sync_procs_reaches_the_process_monitor),
		T(test_count_source_gets_the_owners_ud),
		T(test_apply_starts_all_in_order),
		T(test_apply_starts_only_the_kinds_wanted),
		T(test_policy_off_stops_the_running_and_clears_errors),
		T(test_failed_start_is_reported),
		T(test_retry_retries_only_the_failed),
		T(test_retry_skips_kinds_the_policy_turns_off),
		T(test_gate_keeps_ebpf_monitors_from_starting),
		T(test_gate_btf_is_the_ctx_btf_at_start),
		T(test_apply_on_running_reapplies_the_policy),
		T(test_set_degraded_reaches_every_monitor),
		T(test_counts_are_zero_unless_running),
		T(test_stop_stops_the_running_in_reverse_order),
		T(test_status_states_errors_and_attribution),
		T(test_status_under_the_gate),
		T(test_free_destroys_all_three),
	};
	log_set_level(LOG_CRIT);
	return cmocka_run_group_tests_name("monitors", tests, NULL, NULL);
}
