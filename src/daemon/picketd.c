#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"
#include "jsonutil.h"
#include "log.h"
#include "core/metrics.h"
#include "picketd.h"

#define QUARANTINE_MAX_ITEMS 10000

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: picketd [OPTIONS]\n"
		"The picket connector daemon (runs as root).\n\n"
		"  -f, --foreground        stay in the foreground and log to stderr\n"
		"  -c, --policy FILE       policy file (default /etc/picket/policy.conf)\n"
		"      --state-dir DIR     fault state and definitions (default /var/lib/picket)\n"
		"      --run-dir DIR       control socket (default /run/picket)\n"
		"      --log-dir DIR       event log (default /var/log/picket)\n"
		"      --prefix DIR        install prefix, overriding the policy's install_prefix\n"
		"      --host-root DIR     read the host's /proc, /sys, /etc, /var/lib/selinux under DIR\n"
		"      --metrics-file FILE Prometheus textfile (default STATE_DIR/picket.prom)\n"
		"      --scand FILE        the scan service binary (default " PICKET_SCAND ")\n"
		"  -v, --verbose           log debug messages\n"
		"  -h, --help              show this help\n"
		"      --version           show the version\n");
}

static int parse_args(int argc, char **argv, struct picketd_options *o)
{
	enum { OPT_STATE = 256, OPT_RUN, OPT_LOG, OPT_PREFIX, OPT_HOST, OPT_METRICS, OPT_SCAND,
	       OPT_VERSION };
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "policy", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, OPT_STATE },
		{ "run-dir", required_argument, NULL, OPT_RUN },
		{ "log-dir", required_argument, NULL, OPT_LOG },
		{ "prefix", required_argument, NULL, OPT_PREFIX },
		{ "host-root", required_argument, NULL, OPT_HOST },
		{ "metrics-file", required_argument, NULL, OPT_METRICS },
		{ "scand", required_argument, NULL, OPT_SCAND },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	int c;

	*o = (struct picketd_options){
		.policy_path = "/etc/picket/policy.conf",
		.state_dir = "/var/lib/picket",
		.run_dir = "/run/picket",
		.log_dir = "/var/log/picket",
		.scand_path = PICKET_SCAND,
	};
	while ((c = getopt_long(argc, argv, "fc:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': o->foreground = true; break;
		case 'c': o->policy_path = optarg; break;
		case OPT_STATE: o->state_dir = optarg; break;
		case OPT_RUN: o->run_dir = optarg; break;
		case OPT_LOG: o->log_dir = optarg; break;
		case OPT_PREFIX: o->prefix = optarg; break;
		case OPT_HOST: o->host_root = optarg; break;
		case OPT_METRICS: o->metrics_path = optarg; break;
		case OPT_SCAND: o->scand_path = optarg; break;
		case 'v': o->verbose = true; break;
		case 'h': usage(stdout); exit(EXIT_SUCCESS);
		case OPT_VERSION: printf("picketd %s\n", PICKET_VERSION); exit(EXIT_SUCCESS);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "picketd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* The control groups are real system groups: they are matched against the
 * real credentials of socket peers, so they are never read through the
 * host view.  (gid_t)-1 and the reason in why when there is none. */
static gid_t group_gid(const char *name, const char **why)
{
	struct group gr, *res = NULL;
	char buf[16384];
	int e = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
	if (!res) {
		*why = e ? strerror(e) : "no such group";
		return (gid_t)-1;
	}
	return res->gr_gid;
}

/* Who may use the control socket, and for what, by the policy. */
static void control_access_apply(struct picketd *d)
{
	const struct policy *p = &d->policy;
	const char *const allow[PROTO_CLASSES] = {
		[PROTO_CLASS_STATUS] = p->allow_status,
		[PROTO_CLASS_SCAN] = p->allow_scan,
		[PROTO_CLASS_QUARANTINE] = p->allow_quarantine,
		[PROTO_CLASS_DEFS] = p->allow_defs,
		[PROTO_CLASS_POLICY] = p->allow_policy,
	};
	struct control_access a = { .max_per_uid = p->control_max_per_uid,
				    .idle_timeout = p->control_idle_timeout,
				    .member_check = p->control_member_check };
	const char *why = "";

	a.admin_gid = group_gid(p->admin_group, &why);
	if (a.admin_gid == (gid_t)-1)
		log_warning("Admin group '%s' not found (%s): the control socket is root only",
			    p->admin_group, why);
	for (int k = 0; k < PROTO_CLASSES; k++) {
		snprintf(a.allow_name[k], sizeof(a.allow_name[k]), "%s", allow[k]);
		a.allow_gid[k] = group_gid(allow[k], &why);
		if (a.allow_gid[k] == (gid_t)-1 && strcmp(allow[k], p->admin_group) != 0)
			log_warning("Group '%s' of control.allow_%s not found (%s): %s requests "
				    "are root's only",
				    allow[k], proto_class_name(k), why, proto_class_name(k));
	}
	control_set_access(&d->control, &a);
}

static int arm_timer(struct picketd *d)
{
	struct itimerspec its = {
		.it_interval.tv_sec = d->policy.recheck_interval,
		.it_value.tv_sec = d->policy.recheck_interval,
	};
	return timerfd_settime(d->timer.fd, 0, &its, NULL) < 0 ? -errno : 0;
}

static void log_limits(const struct policy *p, struct eventlog_limits lim[EVENTLOG_FILES])
{
	lim[EVENTLOG_EVENTS] = (struct eventlog_limits){ p->event_log_max_bytes, p->event_log_keep };
	lim[EVENTLOG_ALERTS] = (struct eventlog_limits){ p->event_log_alerts_max_bytes,
							 p->event_log_alerts_keep };
}

/* Puts the policy in force: every setting that lives outside struct policy. */
static void policy_apply(struct picketd *d)
{
	struct eventlog_limits lim[EVENTLOG_FILES];
	int r;

	log_limits(&d->policy, lim);
	eventlog_set_limits(&d->events, lim);
	control_access_apply(d);
	r = arm_timer(d);
	if (r < 0)
		log_error_errno(r, "Failed to arm the re-check timer");
	health_apply_policy(d->health);
	health_recheck(d->health);
	struct monitor_gate gate;
	health_gate(d->health, &gate);
	monitors_apply(d->mons, &gate);
}

int picketd_reload_policy(struct picketd *d, char *err, size_t errlen)
{
	struct policy next = { 0 };
	struct json_object *ev;
	int r;

	sd_notify(0, "RELOADING=1");
	r = policy_load(d->opt.policy_path, &next, err, errlen);
	if (r < 0) {
		log_error("Policy reload refused, the previous policy stays in force: %s", err);
		ev = events_new(&d->sink, "policy_rejected");
		if (ev) {
			json_object_object_add(ev, "path", json_object_new_string(d->opt.policy_path));
			json_object_object_add(ev, "error", json_object_new_string(err));
		}
		events_emit(&d->sink, ev);
		sd_notify(0, "READY=1");
		return r;
	}
	policy_free(&d->policy);
	d->policy = next;
	d->policy_loaded_at = time(NULL);
	log_notice("Policy loaded from %s", d->policy.path);
	ev = events_new(&d->sink, "policy_loaded");
	if (ev)
		json_object_object_add(ev, "path", json_object_new_string(d->policy.path));
	events_emit(&d->sink, ev);
	policy_apply(d);
	sd_notify(0, "READY=1");
	return 0;
}

static void on_signal(struct io_source *src, uint32_t events)
{
	struct picketd *d = src->obj;
	struct signalfd_siginfo si;
	char err[POLICY_ERR_MAX];
	(void)events;

	while (read(src->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP: reloading the policy");
			picketd_reload_policy(d, err, sizeof(err));
		} else {
			log_info("Signal %u: stopping", si.ssi_signo);
			d->stop = true;
		}
	}
}

static void on_timer(struct io_source *src, uint32_t events)
{
	struct picketd *d = src->obj;
	uint64_t ticks;
	(void)events;
	if (read(src->fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_warning_errno(errno, "timerfd read failed");
	health_recheck(d->health);
	scan_tick(d->scan);
	health_tick(d->health);
	proctable_expire(&d->procs, time(NULL));
	/* Retries the monitors that failed, behind the gate as it is now. */
	struct monitor_gate gate;
	health_gate(d->health, &gate);
	monitors_retry(d->mons, &gate);
}

static void on_tick(struct io_source *src, uint32_t events)
{
	struct picketd *d = src->obj;
	uint64_t ticks;
	(void)events;
	if (read(src->fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_warning_errno(errno, "timerfd read failed");
	health_second(d->health);
	faults_flush(&d->faults);
	control_tick(&d->control);
}

static int setup_dirs(const struct picketd_options *o)
{
	const struct {
		const char *path;
		mode_t mode;
	} dirs[] = { { o->state_dir, 0755 }, { o->run_dir, 0755 }, { o->log_dir, 0750 } };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		int r = mkdir_p(dirs[i].path, dirs[i].mode);
		if (r < 0)
			return log_error_errno(r, "Failed to create %s", dirs[i].path);
	}
	/* The scan user must reach the definitions below the state dir; what
	 * is private there (fault state, quarantine) has its own tight mode. */
	if (chmod(o->state_dir, 0755) < 0)
		return log_error_errno(errno, "Failed to set the mode of %s", o->state_dir);
	return 0;
}

static int setup_sources(struct picketd *d)
{
	sigset_t mask;
	int r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return log_error_errno(errno, "sigprocmask failed");
	signal(SIGPIPE, SIG_IGN);

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->sig = (struct io_source){ signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC), on_signal, d };
	d->timer = (struct io_source){ timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC),
				       on_timer, d };
	d->tick = (struct io_source){ timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC),
				      on_tick, d };
	if (d->epfd < 0 || d->sig.fd < 0 || d->timer.fd < 0 || d->tick.fd < 0)
		return log_error_errno(errno, "Failed to create the event loop's descriptors");
	if ((r = loop_add(d->epfd, &d->sig, EPOLLIN)) < 0 ||
	    (r = loop_add(d->epfd, &d->timer, EPOLLIN)) < 0 ||
	    (r = loop_add(d->epfd, &d->tick, EPOLLIN)) < 0)
		return log_error_errno(r, "epoll_ctl failed");
	struct itimerspec second = { .it_interval.tv_sec = 1, .it_value.tv_sec = 1 };
	if (timerfd_settime(d->tick.fd, 0, &second, NULL) < 0)
		return log_error_errno(errno, "Failed to arm the one-second tick");
	return 0;
}

/* The metrics file: faults, events, monitors and the overload mode. */
static void write_metrics(void *ud)
{
	struct picketd *d = ud;
	struct metrics_extra x = {
		.started_at = d->started_at,
		.events_total = d->events.seq,
		.events_lost = eventlog_lost(&d->events),
		.degraded = d->health && health_degraded(d->health),
	};
	for (int i = 0; i < EVENTLOG_FILES; i++)
		memcpy(x.events_rotated[i], d->events.file[i].rotated, sizeof(x.events_rotated[i]));
	if (d->mons) {
		x.n_mon = MON_COUNT;
		for (int m = 0; m < MON_COUNT; m++) {
			x.mon[m].name = monitors_name(m);
			x.mon[m].running = monitors_running(d->mons, m);
			monitors_counts(d->mons, m, &x.mon[m].c);
		}
	}
	int r = metrics_write(d->metrics_path, &d->faults, &x);
	if (r < 0)
		log_error_errno(r, "Failed to write metrics file %s", d->metrics_path);
}

static void on_fault(enum fault_transition t, const struct fault_state *f, void *ud)
{
	struct picketd *d = ud;
	events_fault(&d->sink, t, f);
	write_metrics(d);
}

/* The event log and the fault registry, and the health layer that follows
 * both: from here on every event and every fault is accounted for. */
static int setup_state(struct picketd *d)
{
	struct eventlog_limits lim[EVENTLOG_FILES];
	char path[PATH_MAX];
	int r;

	log_limits(&d->policy, lim);
	r = eventlog_open(&d->events, d->opt.log_dir, lim);
	if (r == -ENOMEM)
		return log_error_errno(r, "Failed to set up the event log");
	if (r < 0)
		log_error_errno(r, "Failed to open the event log in %s; events are kept in memory",
				d->opt.log_dir);
	d->sink = (struct event_sink){ .log = &d->events, .control = &d->control };
	snprintf(path, sizeof(path), "%s/faults.json", d->opt.state_dir);
	r = faults_init(&d->faults, path, on_fault, d);
	if (r < 0)
		return log_error_errno(r, "Failed to set up the fault registry");
	if (d->opt.metrics_path)
		snprintf(d->metrics_path, sizeof(d->metrics_path), "%s", d->opt.metrics_path);
	else
		snprintf(d->metrics_path, sizeof(d->metrics_path), "%s/picket.prom",
			 d->opt.state_dir);
	struct health_config hc = {
		.policy = &d->policy, .hv = &d->hv, .epfd = d->epfd, .faults = &d->faults,
		.sink = &d->sink, .log = &d->events, .defs = &d->defs, .prefix = d->opt.prefix,
		.started_at = d->started_at, .metrics = write_metrics, .ud = d,
	};
	r = health_new(&hc, &d->health);
	if (r < 0)
		return log_error_errno(r, "Failed to set up the health checks");
	d->sink.wrote = health_event_written;
	d->sink.ud = d->health;
	r = faults_load(&d->faults);
	if (r == -EBADMSG) {
		struct json_object *ev = events_new(&d->sink, "fault_state_reset");
		if (ev)
			json_object_object_add(ev, "path", json_object_new_string(path));
		events_emit(&d->sink, ev);
	}
	return 0;
}

static int setup_stores(struct picketd *d)
{
	char path[PATH_MAX];
	int r;

	r = defs_open(&d->defs, d->opt.state_dir);
	if (r < 0)
		return log_error_errno(r, "Failed to open the definitions store in %s",
				       d->opt.state_dir);
	snprintf(path, sizeof(path), "%s/quarantine", d->opt.state_dir);
	r = quarantine_open(&d->quarantine, path, (uint64_t)d->policy.scan_max_filesize_mb << 20,
			    QUARANTINE_MAX_ITEMS);
	if (r < 0)
		return log_error_errno(r, "Failed to open the quarantine %s", path);
	return 0;
}

static int setup_proctable(struct picketd *d)
{
	int r = proctable_init(&d->procs, d->policy.proc_table_max, "/proc");
	if (r < 0)
		return log_error_errno(r, "Failed to set up the process table");
	r = proctable_seed(&d->procs);
	if (r < 0)
		log_warning_errno(r, "Process table: reading /proc failed; processes are looked up "
				  "as they appear");
	return 0;
}

/* The scan service and the monitors, each told where to report to health. */
static int setup_layers(struct picketd *d)
{
	struct scan_config sc = {
		.policy = &d->policy, .hv = &d->hv, .epfd = d->epfd, .sink = &d->sink,
		.defs = &d->defs, .quarantine = &d->quarantine, .scand_path = d->opt.scand_path,
		.run_dir = d->opt.run_dir, .state_dir = d->opt.state_dir,
		.hooks = { .ready = health_scan_ready, .crashed = health_scan_crashed,
			   .start_failed = health_scan_start_failed, .ud = d->health },
	};
	int r = scan_new(&sc, &d->scan);
	if (r < 0)
		return r;
	struct monitors_config mc = {
		.ctx = { .policy = &d->policy, .epfd = d->epfd, .sink = &d->sink,
			 .procs = &d->procs, .scan = d->scan,
			 .own_dirs = { d->opt.state_dir, d->opt.log_dir, d->opt.run_dir },
			 .count_source = health_count_source, .ud = d->health },
		.started = health_monitor_started,
		.ud = d->health,
	};
	r = monitors_new(&mc, &d->mons);
	if (r < 0)
		return log_error_errno(r, "Failed to set up the monitors");
	health_watch(d->health, d->scan, d->mons);
	return 0;
}

static int picketd_start(struct picketd *d)
{
	char err[POLICY_ERR_MAX];
	int r;

	r = policy_load(d->opt.policy_path, &d->policy, err, sizeof(err));
	if (r < 0) {
		log_error("Refusing to start with an invalid policy: %s", err);
		return r;
	}
	d->policy_loaded_at = d->started_at = time(NULL);
	r = hostview_init(&d->hv, d->opt.host_root);
	if (r < 0)
		return log_error_errno(r, "Host view root %s is unusable", d->opt.host_root);
	if ((r = setup_dirs(&d->opt)) < 0 || (r = setup_sources(d)) < 0)
		return r;
	/* First: another picketd on the socket owns the log and the state too. */
	r = control_open(&d->control, d->epfd, d->opt.run_dir, commands_handle,
			 commands_client_gone, d);
	if (r == -EADDRINUSE)
		return log_error_errno(r, "Another picketd answers on %s/" PROTO_SOCKET_NAME,
				       d->opt.run_dir);
	if (r < 0)
		return log_error_errno(r, "Failed to open the control socket in %s", d->opt.run_dir);
	if ((r = setup_state(d)) < 0)
		return r;
	if ((r = setup_stores(d)) < 0 || (r = setup_proctable(d)) < 0)
		return r;

	struct json_object *ev = events_new(&d->sink, "daemon_started");
	if (ev) {
		json_object_object_add(ev, "version", json_object_new_string(PICKET_VERSION));
		json_object_object_add(ev, "pid", json_object_new_int(getpid()));
		json_object_object_add(ev, "policy", json_object_new_string(d->policy.path));
	}
	events_emit(&d->sink, ev);
	log_notice("picketd %s started, policy %s", PICKET_VERSION, d->policy.path);
	if ((r = setup_layers(d)) < 0)
		return r;
	policy_apply(d);
	sd_notify(0, "READY=1");
	return 0;
}

static void picketd_stop(struct picketd *d)
{
	sd_notify(0, "STOPPING=1");
	if (d->events.file[EVENTLOG_EVENTS].path)
		events_emit(&d->sink, events_new(&d->sink, "daemon_stopping"));
	control_close(&d->control);
	monitors_free(TAKE_PTR(d->mons));
	scan_free(TAKE_PTR(d->scan));
	quarantine_close(&d->quarantine);
	defs_close(&d->defs);
	proctable_done(&d->procs);
	int r = faults_save(&d->faults);
	if (r < 0)
		log_error_errno(r, "Failed to save the fault state");
	faults_done(&d->faults);
	health_free(TAKE_PTR(d->health));
	eventlog_close(&d->events);
	policy_free(&d->policy);
	closep(&d->sig.fd);
	closep(&d->timer.fd);
	closep(&d->tick.fd);
	closep(&d->epfd);
}

int main(int argc, char **argv)
{
	struct picketd d = { .epfd = -1,
			     .sig.fd = -1,
			     .timer.fd = -1,
			     .tick.fd = -1,
			     .events.file = { { .fd = -1 }, { .fd = -1 } },
			     .defs.fd = -1,
			     .quarantine.dfd = -1,
			     .control.listen.fd = -1 };
	int r;

	if (parse_args(argc, argv, &d.opt) < 0)
		return 2;
	log_setup("picketd", d.opt.foreground ? LOG_TARGET_STDERR : LOG_TARGET_SYSTEM,
		  d.opt.verbose ? LOG_DEBUG : LOG_INFO);
	if (geteuid() != 0) {
		log_error("picketd must run as root");
		return 1;
	}
	r = picketd_start(&d);
	while (r >= 0 && !d.stop)
		r = loop_run_once(d.epfd, -1);
	if (r < 0)
		log_error_errno(r, "picketd stopping on error");
	picketd_stop(&d);
	return r < 0 ? 1 : 0;
}
