#include "procmon.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cleanup.h"
#include "ebpf.h"
#include "kexclude.h"
#include "kstats.h"
#include "log.h"
#include "procmon.skel.h"
#include "procmon_event.h"

struct procmon {
	struct monitor mon; /* first */
	struct procmon_bpf *skel;
	struct ring_buffer *rb;
	struct io_source src;
	unsigned ring_kb;   /* the ring buffer's size in force */
	size_t exclusions;  /* entries in the kernel's exclusion maps */
	uint64_t events[4]; /* consumed, by enum procmon_type */
};


static const char *const type_names[PROCMON_TYPE_MAX] = {
	[PROCMON_EXEC] = "exec",
	[PROCMON_FORK] = "fork",
	[PROCMON_EXIT] = "exit",
};

/* The executable's path: /proc/PID/exe while the process lives; for one
 * that is gone already (short-lived), the path execve was given, resolved
 * the same way when it was absolute, so both give the same answer. */
static void exe_path(const struct procmon_event *e, char *out, size_t len)
{
	char link[64], real[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/%d/exe", e->pid);
	ssize_t n = readlink(link, out, len - 1);
	if (n > 0) {
		out[n] = '\0';
		return;
	}
	if (e->filename[0] == '/' && realpath(e->filename, real))
		snprintf(out, len, "%s", real);
	else
		snprintf(out, len, "%s", e->filename);
}

static void emit(struct procmon *m, const struct procmon_event *e)
{
	bool wanted = (e->type == PROCMON_EXEC && m->mon.ctx->policy->log_exec) ||
		      (e->type == PROCMON_FORK && m->mon.ctx->policy->log_fork) ||
		      (e->type == PROCMON_EXIT && m->mon.ctx->policy->log_exit);
	if (!wanted)
		return;
	struct json_object *ev = events_new(m->mon.ctx->sink, type_names[e->type]);
	if (!ev) {
		events_emit(m->mon.ctx->sink, NULL);
		return;
	}
	struct json_object *proc = proctable_json(m->mon.ctx->procs, e->pid);
	if (proc && e->type == PROCMON_EXIT)
		json_object_object_add(proc, "exit_code", json_object_new_int(e->exit_code));
	json_object_object_add(ev, "process", proc);
	events_emit(m->mon.ctx->sink, ev);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct procmon *m = ctx;
	const struct procmon_event *e = data;
	char exe[PATH_MAX];
	time_t now = time(NULL);

	if (size < sizeof(*e) || e->type == 0 || e->type >= PROCMON_TYPE_MAX)
		return 0;
	bool excluded = e->flags & PROCMON_F_EXCLUDED;
	if (!excluded) {
		m->events[e->type]++;
		/* The source of an exec or a fork is the process that spawned it. */
		const struct proc_info *src =
			proctable_get(m->mon.ctx->procs, e->type == PROCMON_EXIT ? e->pid : e->ppid);
		monitor_count_source(m->mon.ctx, src ? src->exe : "");
	}
	struct proc_info p = { .pid = e->pid, .ppid = e->ppid, .uid = e->uid,
			       .start_ns = e->start_ns, .exe_dev = e->exe_dev,
			       .exe_ino = e->exe_ino };
	memcpy(p.comm, e->comm, sizeof(p.comm));
	p.comm[sizeof(p.comm) - 1] = '\0';
	int r = 0;
	switch (e->type) {
	case PROCMON_EXEC:
		exe_path(e, exe, sizeof(exe));
		p.exe = exe;
		r = proctable_exec(m->mon.ctx->procs, &p, e->args,
				   e->args_len < sizeof(e->args) ? e->args_len : sizeof(e->args));
		if (m->mon.ctx->proc_exec)
			m->mon.ctx->proc_exec(m->mon.ctx->exec_ud, e->pid);
		break;
	case PROCMON_FORK:
		r = proctable_fork(m->mon.ctx->procs, &p);
		break;
	case PROCMON_EXIT:
		emit(m, e); /* before the table marks it gone */
		proctable_exit(m->mon.ctx->procs, e->pid, now);
		return 0;
	}
	if (r < 0)
		log_error_errno(r, "process table: pid %d", e->pid);
	if (!excluded)
		emit(m, e);
	return 0;
}

static void on_readable(struct io_source *src, uint32_t events)
{
	struct procmon *m = src->obj;
	(void)events;
	if (!m->rb)
		return; /* stopped by an earlier handler of the same wakeup */
	int n = ring_buffer__consume(m->rb);
	if (n < 0)
		log_error_errno(n, "process monitor: ring buffer");
}

static struct procmon *procmon_of(struct monitor *mon)
{
	return (struct procmon *)mon;
}

static void stop(struct monitor *mon);
static void set_degraded(struct monitor *mon, bool on);

static int start(struct monitor *mon, char *err, size_t errlen)
{
	struct procmon *m = procmon_of(mon);
	const struct monitor_ctx *c = mon->ctx;
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = c->btf);
	const char *step = "open procmon";
	int r;

	m->skel = procmon_bpf__open_opts(&opts);
	if ((r = ebpf_errno(m->skel)) < 0)
		goto fail;
	step = "ring buffer size";
	if ((r = bpf_map__set_max_entries(m->skel->maps.events, c->policy->proc_ring_kb * 1024)) < 0)
		goto fail;
	m->ring_kb = c->policy->proc_ring_kb;
	step = "load procmon";
	if ((r = procmon_bpf__load(m->skel)) < 0)
		goto fail;
	step = "write exclusions";
	if ((r = kexclude_write(c->policy, m->skel->maps.excl_exe, m->skel->maps.excl_uid,
				m->skel->maps.excl_cgroup, &m->exclusions)) < 0)
		goto fail;
	step = "attach procmon tracepoints";
	if ((r = procmon_bpf__attach(m->skel)) < 0)
		goto fail;
	step = "ring buffer";
	m->rb = ring_buffer__new(bpf_map__fd(m->skel->maps.events), on_event, m, NULL);
	if ((r = ebpf_errno(m->rb)) < 0)
		goto fail;
	m->src = (struct io_source){ ring_buffer__epoll_fd(m->rb), on_readable, m };
	step = "epoll";
	if ((r = loop_add(c->epfd, &m->src, EPOLLIN)) < 0)
		goto fail;
	mon->running = true;
	set_degraded(mon, mon->degraded); /* a restart keeps the mode in force */
	return 0;
fail:
	stop(mon);
	return ebpf_fail(err, errlen, step, r);
}

static void stop(struct monitor *mon)
{
	struct procmon *m = procmon_of(mon);
	if (mon->running)
		loop_del(mon->ctx->epfd, &m->src);
	ring_buffer__free(m->rb);
	procmon_bpf__destroy(m->skel);
	m->rb = NULL;
	m->skel = NULL;
	mon->running = false;
}

static int apply_policy(struct monitor *mon, char *err, size_t errlen)
{
	struct procmon *m = procmon_of(mon);
	const struct policy *p = mon->ctx->policy;
	int r = kexclude_write(p, m->skel->maps.excl_exe, m->skel->maps.excl_uid,
			       m->skel->maps.excl_cgroup, &m->exclusions);
	if (r < 0)
		return ebpf_fail(err, errlen, "write exclusions", r);
	if (p->proc_ring_kb != m->ring_kb) {
		snprintf(err, errlen, "ring_buffer_kb %u takes effect when the monitor restarts",
			 p->proc_ring_kb);
		return -EAGAIN;
	}
	return 0;
}

static void set_degraded(struct monitor *mon, bool on)
{
	struct procmon *m = procmon_of(mon);
	struct procmon_config c = { .degraded = on };
	uint32_t zero = 0;
	if (!mon->running)
		return;
	if (bpf_map__update_elem(m->skel->maps.settings, &zero, sizeof(zero), &c, sizeof(c), 0) < 0)
		log_error_errno(errno, "process monitor: cannot switch degraded mode %s",
				on ? "on" : "off");
	mon->degraded = on;
}

/* The kernel's counters of each type, summed over CPUs. */
static void kernel_stats(struct procmon *m, struct kstats out[PROCMON_TYPE_MAX])
{
	kstats_read(m->mon.running ? m->skel->maps.stats : NULL, PROCMON_TYPE_MAX, out);
}

static void counts(struct monitor *mon, struct monitor_counts *ret)
{
	struct procmon *m = procmon_of(mon);
	struct kstats st[PROCMON_TYPE_MAX];
	kernel_stats(m, st);
	*ret = (struct monitor_counts){ 0 };
	for (int t = PROCMON_EXEC; t < PROCMON_TYPE_MAX; t++) {
		ret->seen += m->events[t];
		ret->dropped += st[t].dropped;
		ret->excluded += st[t].excluded;
		ret->suppressed += st[t].suppressed;
	}
	ret->critical_dropped = st[PROCMON_EXEC].dropped;
}

/* [{"pid":..,"exe":..,"type":..,"lost":..}] of the processes whose events
 * were lost, by type, busiest first (at most 10). */
static struct json_object *lost_sources(struct procmon *m)
{
	struct { struct procmon_lost_key k; uint64_t n; } top[10];
	size_t n_top = 0;
	struct procmon_lost_key key, prev_key, *prev = NULL;
	uint64_t val;
	struct json_object *a = json_object_new_array();
	while (m->mon.running && bpf_map__get_next_key(m->skel->maps.lost_by_source, prev, &key,
						   sizeof(key)) == 0) {
		prev_key = key;
		prev = &prev_key;
		if (bpf_map__lookup_elem(m->skel->maps.lost_by_source, &key, sizeof(key), &val,
					 sizeof(val), 0) < 0)
			continue;
		size_t i = n_top;
		while (i > 0 && top[i - 1].n < val)
			i--;
		if (i >= ARRAY_SIZE(top))
			continue;
		size_t last = n_top < ARRAY_SIZE(top) ? n_top : ARRAY_SIZE(top) - 1;
		memmove(&top[i + 1], &top[i], (last - i) * sizeof(top[0]));
		top[i].k = key;
		top[i].n = val;
		if (n_top < ARRAY_SIZE(top))
			n_top++;
	}
	for (size_t i = 0; i < n_top; i++) {
		struct json_object *o = proctable_json(m->mon.ctx->procs, (pid_t)top[i].k.pid);
		json_object_object_add(o, "type", json_object_new_string(
						  top[i].k.type < PROCMON_TYPE_MAX && type_names[top[i].k.type]
							  ? type_names[top[i].k.type]
							  : "?"));
		json_object_object_add(o, "lost", json_object_new_uint64(top[i].n));
		json_object_array_add(a, o);
	}
	return a;
}

/* Reads what the kernel has queued, so the process table knows a process
 * that has just started (before another monitor names it). */
static void sync_queue(struct monitor *mon)
{
	struct procmon *m = procmon_of(mon);
	if (mon->running && m->rb)
		ring_buffer__consume(m->rb);
}

static struct json_object *status(struct monitor *mon)
{
	struct procmon *m = procmon_of(mon);
	struct kstats st[PROCMON_TYPE_MAX];
	struct json_object *o = json_object_new_object();
	struct json_object *ev = json_object_new_object();
	struct json_object *lost = json_object_new_object();
	struct json_object *excl = json_object_new_object();
	struct json_object *supp = json_object_new_object();
	kernel_stats(m, st);
	for (int t = PROCMON_EXEC; t < PROCMON_TYPE_MAX; t++) {
		json_object_object_add(ev, type_names[t], json_object_new_uint64(m->events[t]));
		json_object_object_add(lost, type_names[t], json_object_new_uint64(st[t].dropped));
		json_object_object_add(excl, type_names[t], json_object_new_uint64(st[t].excluded));
		json_object_object_add(supp, type_names[t], json_object_new_uint64(st[t].suppressed));
	}
	struct monitor_counts c;
	counts(mon, &c);
	json_object_object_add(o, "backend", json_object_new_string("ebpf"));
	json_object_object_add(o, "events", ev);
	json_object_object_add(o, "dropped_by_type", lost);
	json_object_object_add(o, "excluded_by_type", excl);
	json_object_object_add(o, "suppressed_by_type", supp);
	json_object_object_add(o, "lost", json_object_new_uint64(c.dropped));
	json_object_object_add(o, "dropped", json_object_new_uint64(c.dropped));
	json_object_object_add(o, "excluded", json_object_new_uint64(c.excluded));
	json_object_object_add(o, "suppressed", json_object_new_uint64(c.suppressed));
	json_object_object_add(o, "degraded", json_object_new_boolean(mon->degraded));
	json_object_object_add(o, "exclusions", json_object_new_uint64(m->exclusions));
	json_object_object_add(o, "ring_buffer_kb", json_object_new_uint64(m->ring_kb));
	json_object_object_add(o, "table", json_object_new_uint64(m->mon.ctx->procs->len));
	json_object_object_add(o, "lost_by_source", lost_sources(m));
	return o;
}

static void destroy(struct monitor *mon)
{
	stop(mon);
	free(procmon_of(mon));
}

static const struct monitor_ops procmon_ops = {
	.name = "process",
	.ebpf = true,
	.start = start,
	.stop = stop,
	.apply_policy = apply_policy,
	.set_degraded = set_degraded,
	.counts = counts,
	.status = status,
	.sync = sync_queue,
	.destroy = destroy,
};

struct monitor *procmon_new(const struct monitor_ctx *ctx)
{
	struct procmon *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->mon = (struct monitor){ .ops = &procmon_ops, .ctx = ctx };
	m->src.fd = -1;
	return &m->mon;
}
