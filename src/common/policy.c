#include "policy.h"

#include <errno.h>
#include <json-c/json.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cidr.h"
#include "cleanup.h"
#include "fileio.h"

enum kind {
	K_BOOL,
	K_UINT,
	K_U64,
	K_PATH,    /* absolute path */
	K_NAME,    /* user or group name */
	K_VERSION, /* MAJOR.MINOR */
	K_PATHLIST,
	K_GROUP,
	K_STRLIST, /* list of strings, checked by the cross check */
	K_UINTLIST, /* list of whole numbers in [min, max] */
	K_POW2,    /* a power of two in [min, max] */
	K_ENUM,    /* one of names[], stored as an int-sized enum */
};

struct field {
	const char *name;
	enum kind kind;
	size_t off;
	size_t count_off;            /* K_PATHLIST: where the count goes */
	uint64_t min, max;           /* K_UINT, K_U64 */
	const struct field *group;   /* K_GROUP: its fields, NULL-terminated */
	const char *const *names;    /* K_ENUM: the values, NULL-terminated */
};

#define F(n, k, lo, hi) { #n, k, offsetof(struct policy, n), 0, lo, hi, NULL, NULL }
#define FL(n) { #n, K_PATHLIST, offsetof(struct policy, n), offsetof(struct policy, n_##n), 0, 0, NULL, NULL }
#define FU(n, lo, hi) { #n, K_UINTLIST, offsetof(struct policy, n), offsetof(struct policy, n_##n), lo, hi, NULL, NULL }
#define FS(n) { #n, K_STRLIST, offsetof(struct policy, n), offsetof(struct policy, n_##n), 0, 0, NULL, NULL }
#define FG(n, tbl) { #n, K_GROUP, 0, 0, 0, 0, tbl, NULL }
#define FN(key, member, k, lo, hi) { key, k, offsetof(struct policy, member), 0, lo, hi, NULL, NULL }
#define FE(key, member, tbl) { key, K_ENUM, offsetof(struct policy, member), 0, 0, 0, NULL, tbl }

static const char *const action_names[] = {
	[POLICY_ACTION_AUDIT] = "audit",
	[POLICY_ACTION_QUARANTINE] = "quarantine",
	NULL,
};

static const char *const limits_names[] = {
	[POLICY_LIMITS_REPORT] = "report",
	[POLICY_LIMITS_QUARANTINE] = "quarantine",
	[POLICY_LIMITS_BLOCK] = "block",
	NULL,
};

static const char *const onexec_names[] = {
	[POLICY_ONEXEC_OFF] = "off",
	[POLICY_ONEXEC_AUDIT] = "audit",
	[POLICY_ONEXEC_BLOCK] = "block",
	NULL,
};

static const char *const netmode_names[] = {
	[POLICY_NET_AUDIT] = "audit",
	[POLICY_NET_BLOCK] = "block",
	NULL,
};

static const char *enum_name(const char *const *names, size_t n, int v)
{
	return v >= 0 && (size_t)v < n - 1 ? names[v] : "?";
}

const char *policy_action_name(enum policy_action a)
{
	return enum_name(action_names, ARRAY_SIZE(action_names), (int)a);
}

const char *policy_limits_name(enum policy_limits l)
{
	return enum_name(limits_names, ARRAY_SIZE(limits_names), (int)l);
}

const char *policy_onexec_name(enum policy_onexec m)
{
	return enum_name(onexec_names, ARRAY_SIZE(onexec_names), (int)m);
}

const char *policy_netmode_name(enum policy_netmode m)
{
	return enum_name(netmode_names, ARRAY_SIZE(netmode_names), (int)m);
}

static const struct field event_log_fields[] = {
	FN("max_bytes", event_log_max_bytes, K_U64, 4096, UINT64_C(1) << 40),
	FN("keep", event_log_keep, K_UINT, 1, 100),
	FN("alerts_max_bytes", event_log_alerts_max_bytes, K_U64, 4096, UINT64_C(1) << 40),
	FN("alerts_keep", event_log_alerts_keep, K_UINT, 1, 100),
	{ 0 },
};

static const struct field fault_fields[] = {
	F(scan_crash_count, K_UINT, 1, 1000),
	F(scan_crash_window, K_UINT, 1, 86400),
	F(scan_calm, K_UINT, 1, 86400),
	F(scan_escalate, K_UINT, 1, 86400 * 7),
	F(overload_grace, K_UINT, 0, 3600),
	F(overload_calm, K_UINT, 1, 3600),
	F(queue_high_water, K_UINT, 2, 1u << 24),
	F(queue_low_water, K_UINT, 1, 1u << 24),
	F(rate_low_water, K_UINT, 1, 1u << 30),
	F(defs_max_age, K_UINT, 3600, 86400 * 365),
	F(min_mem_mb, K_UINT, 0, 1u << 20),
	{ 0 },
};

static const struct field scan_fields[] = {
	FE("action", scan_action, action_names),
	FE("limits_action", scan_limits_action, limits_names),
	FN("allow_unsigned_defs", allow_unsigned_defs, K_BOOL, 0, 0),
	FN("max_filesize_mb", scan_max_filesize_mb, K_UINT, 1, 4096),
	FN("max_scansize_mb", scan_max_scansize_mb, K_UINT, 1, 16384),
	FN("max_scantime_ms", scan_max_scantime_ms, K_UINT, 100, 3600 * 1000),
	FN("max_recursion", scan_max_recursion, K_UINT, 1, 64),
	FN("max_files", scan_max_files, K_UINT, 1, 1000000),
	FN("cache_entries", scan_cache_entries, K_UINT, 16, 1u << 24),
	FN("queue_max", scan_queue_max, K_UINT, 1, 1u << 20),
	FN("timeout", scan_timeout, K_UINT, 1, 3600),
	FN("defs_test_mem_mb", defs_test_mem_mb, K_UINT, 64, 1u << 20),
	FN("defs_test_timeout", defs_test_timeout, K_UINT, 1, 3600),
	{ 0 },
};

static const struct field file_monitor_fields[] = {
	FL(mounts_include),
	FL(mounts_exclude),
	FE("on_execute", on_execute, onexec_names),
	F(perm_timeout_ms, K_UINT, 10, 60000),
	F(report_clean, K_BOOL, 0, 0),
	F(mount_namespaces, K_BOOL, 0, 0),
	FL(critical_paths),
	{ 0 },
};

static const struct field process_monitor_fields[] = {
	F(log_exec, K_BOOL, 0, 0),
	F(log_fork, K_BOOL, 0, 0),
	F(log_exit, K_BOOL, 0, 0),
	FN("table_max", proc_table_max, K_UINT, 1024, 1u << 22),
	FN("ring_buffer_kb", proc_ring_kb, K_POW2, 4, 1u << 20),
	{ 0 },
};

static const struct field network_monitor_fields[] = {
	FE("mode", net_mode, netmode_names),
	FS(blocklist),
	F(blocklist_file, K_PATH, 0, 0),
	F(log_closed, K_BOOL, 0, 0),
	F(udp_interval, K_UINT, 0, 86400),
	FN("ring_buffer_kb", net_ring_kb, K_POW2, 4, 1u << 20),
	{ 0 },
};

static const struct field control_fields[] = {
	F(allow_status, K_NAME, 0, 0),
	F(allow_scan, K_NAME, 0, 0),
	F(allow_quarantine, K_NAME, 0, 0),
	F(allow_defs, K_NAME, 0, 0),
	F(allow_policy, K_NAME, 0, 0),
	/* 56: the control socket's 64 connections less the 8 kept for root. */
	FN("max_connections_per_uid", control_max_per_uid, K_UINT, 1, 56),
	FN("idle_timeout", control_idle_timeout, K_UINT, 1, 3600),
	FN("membership_check", control_member_check, K_UINT, 1, 3600),
	{ 0 },
};

static const struct field root_fields[] = {
	F(monitor_file_copies_moves, K_BOOL, 0, 0),
	F(device_flow_correlation, K_BOOL, 0, 0),
	F(monitor_process_execution, K_BOOL, 0, 0),
	FL(process_exclusions),
	FL(path_exclusions),
	FU(process_exclusion_uids, 0, UINT32_MAX - 1),
	FL(process_exclusion_cgroups),
	F(scan_user, K_NAME, 0, 0),
	F(scan_group, K_NAME, 0, 0),
	F(admin_group, K_NAME, 0, 0),
	F(install_prefix, K_PATH, 0, 0),
	F(btf_dir, K_PATH, 0, 0),
	F(min_kernel, K_VERSION, 0, 0),
	F(recheck_interval, K_UINT, 1, 86400),
	FG(event_log, event_log_fields),
	FG(faults, fault_fields),
	FG(file_monitor, file_monitor_fields),
	FG(process_monitor, process_monitor_fields),
	FG(network_monitor, network_monitor_fields),
	FG(scan, scan_fields),
	FG(control, control_fields),
	{ 0 },
};

struct parse {
	const char *name;
	char *err;
	size_t errlen;
};

static int fail(struct parse *ps, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct parse *ps, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;
	/* A setting from an @include'd file names that file. */
	const char *file = s && config_setting_source_file(s) ? config_setting_source_file(s)
							      : ps->name;
	int n = snprintf(ps->err, ps->errlen, "%s:%u: ", file,
			 s ? config_setting_source_line(s) : 0);
	if (n < 0 || (size_t)n >= ps->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->errlen - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool valid_name(const char *s)
{
	/* The portable user/group name set of POSIX plus '-' not leading. */
	size_t n = strlen(s);
	if (n == 0 || n > 32 || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '_' || s[i] == '-' || s[i] == '.' || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

static bool valid_path(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n < PATH_MAX && s[0] == '/';
}

static bool valid_version(const char *s)
{
	unsigned a, b;
	int end = 0;
	return sscanf(s, "%3u.%3u%n", &a, &b, &end) == 2 && s[end] == '\0';
}

static int set_string(struct parse *ps, const config_setting_t *s, const struct field *f,
		      struct policy *p)
{
	const char *v = config_setting_get_string(s);
	if (!v)
		return fail(ps, s, "%s: must be a string", f->name);
	if (f->kind == K_NAME && !valid_name(v))
		return fail(ps, s, "%s: '%s' is not a valid user or group name", f->name, v);
	if (f->kind == K_PATH && !valid_path(v))
		return fail(ps, s, "%s: '%s' must be an absolute path", f->name, v);
	if (f->kind == K_VERSION && !valid_version(v))
		return fail(ps, s, "%s: '%s' must be MAJOR.MINOR, like \"5.8\"", f->name, v);
	char **dst = (char **)((char *)p + f->off);
	char *copy = strdup(v);
	if (!copy)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

static int set_enum(struct parse *ps, const config_setting_t *s, const struct field *f,
		    struct policy *p)
{
	const char *v = config_setting_get_string(s);
	char choices[128] = "";
	for (size_t i = 0; f->names[i]; i++) {
		if (v && strcmp(v, f->names[i]) == 0) {
			*(int *)((char *)p + f->off) = (int)i;
			return 0;
		}
		size_t used = strlen(choices);
		snprintf(choices + used, sizeof(choices) - used, "%s\"%s\"", i ? ", " : "",
			 f->names[i]);
	}
	return fail(ps, s, "%s: must be one of %s", f->name, choices);
}

static int set_pathlist(struct parse *ps, const config_setting_t *s, const struct field *f,
			struct policy *p)
{
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return fail(ps, s, "%s: must be a list of %s", f->name,
			    f->kind == K_PATHLIST ? "paths, like [ \"/usr/bin/rsync\" ]"
						  : "strings, like [ \"192.0.2.0/24\" ]");
	int n = config_setting_length(s);
	if (n > POLICY_MAX_EXCLUSIONS)
		return fail(ps, s, "%s: %d entries, at most %d allowed", f->name, n,
			    POLICY_MAX_EXCLUSIONS);
	char ***dst = (char ***)((char *)p + f->off);
	size_t *count = (size_t *)((char *)p + f->count_off);
	char **list = calloc(n + 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		const char *v = config_setting_get_string(e);
		if (!v || (f->kind == K_PATHLIST && !valid_path(v))) {
			for (int j = 0; j < i; j++)
				free(list[j]);
			free(list);
			return fail(ps, e, "%s: entry %d must be %s", f->name, i + 1,
				    f->kind == K_PATHLIST ? "an absolute path" : "a string");
		}
		list[i] = strdup(v);
		if (!list[i]) {
			for (int j = 0; j < i; j++)
				free(list[j]);
			free(list);
			return -ENOMEM;
		}
	}
	for (size_t j = 0; j < *count; j++)
		free((*dst)[j]);
	free(*dst);
	*dst = list;
	*count = n;
	return 0;
}

static int set_uintlist(struct parse *ps, const config_setting_t *s, const struct field *f,
			struct policy *p)
{
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return fail(ps, s, "%s: must be a list of whole numbers, like [ 33, 1001 ]", f->name);
	int n = config_setting_length(s);
	if (n > POLICY_MAX_EXCLUSIONS)
		return fail(ps, s, "%s: %d entries, at most %d allowed", f->name, n,
			    POLICY_MAX_EXCLUSIONS);
	_cleanup_free_ unsigned *list = calloc(n + 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		int t = config_setting_type(e);
		long long v = config_setting_get_int64(e);
		if ((t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) || v < 0 ||
		    (uint64_t)v < f->min || (uint64_t)v > f->max)
			return fail(ps, e, "%s: entry %d must be a whole number in [%llu, %llu]",
				    f->name, i + 1, (unsigned long long)f->min,
				    (unsigned long long)f->max);
		list[i] = (unsigned)v;
	}
	unsigned **dst = (unsigned **)((char *)p + f->off);
	free(*dst);
	*dst = TAKE_PTR(list);
	*(size_t *)((char *)p + f->count_off) = n;
	return 0;
}

static int set_number(struct parse *ps, const config_setting_t *s, const struct field *f,
		      struct policy *p)
{
	int t = config_setting_type(s);
	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
		return fail(ps, s, "%s: must be a whole number", f->name);
	long long v = config_setting_get_int64(s);
	if (v < 0 || (uint64_t)v < f->min || (uint64_t)v > f->max)
		return fail(ps, s, "%s: %lld is out of range [%llu, %llu]", f->name, v,
			    (unsigned long long)f->min, (unsigned long long)f->max);
	if (f->kind == K_POW2 && (v & (v - 1)) != 0)
		return fail(ps, s, "%s: %lld is not a power of two", f->name, v);
	if (f->kind == K_UINT || f->kind == K_POW2)
		*(unsigned *)((char *)p + f->off) = (unsigned)v;
	else
		*(uint64_t *)((char *)p + f->off) = (uint64_t)v;
	return 0;
}

static int parse_group(struct parse *ps, const config_setting_t *grp, const struct field *fields,
		       struct policy *p)
{
	int n = config_setting_length(grp);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(grp, i);
		const char *name = config_setting_name(s);
		const struct field *f = fields;
		int r = 0;

		while (f->name && strcmp(f->name, name) != 0)
			f++;
		if (!f->name)
			return fail(ps, s, "unknown setting '%s'", name);
		switch (f->kind) {
		case K_BOOL:
			if (config_setting_type(s) != CONFIG_TYPE_BOOL)
				return fail(ps, s, "%s: must be true or false", name);
			*(bool *)((char *)p + f->off) = config_setting_get_bool(s);
			break;
		case K_UINT:
		case K_U64:
		case K_POW2:
			r = set_number(ps, s, f, p);
			break;
		case K_UINTLIST:
			r = set_uintlist(ps, s, f, p);
			break;
		case K_PATH:
		case K_NAME:
		case K_VERSION:
			r = set_string(ps, s, f, p);
			break;
		case K_PATHLIST:
			r = set_pathlist(ps, s, f, p);
			break;
		case K_GROUP:
			if (!config_setting_is_group(s))
				return fail(ps, s, "%s: must be a group { ... }", name);
			r = parse_group(ps, s, f->group, p);
			break;
		case K_STRLIST:
			r = set_pathlist(ps, s, f, p);
			break;
		case K_ENUM:
			r = set_enum(ps, s, f, p);
			break;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int default_list(char ***list, size_t *n, const char *const *items, size_t count)
{
	*list = calloc(count + 1, sizeof(char *));
	if (!*list)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		if (!((*list)[i] = strdup(items[i])))
			return -ENOMEM;
		*n = i + 1;
	}
	return 0;
}

static int policy_defaults(struct policy *p)
{
	*p = (struct policy){
		.monitor_file_copies_moves = true,
		.device_flow_correlation = true,
		.monitor_process_execution = true,
		.on_execute = POLICY_ONEXEC_OFF,
		.perm_timeout_ms = 2000,
		.mount_namespaces = true,
		.log_exec = true,
		.proc_table_max = 65536,
		.net_mode = POLICY_NET_AUDIT,
		.udp_interval = 60,
		.scan_user = strdup("picket-scan"),
		.scan_group = strdup("picket-scan"),
		.admin_group = strdup("picket-admin"),
		.install_prefix = strdup("/opt/picket"),
		.min_kernel = strdup("5.8"),
		.recheck_interval = 60,
		.event_log_max_bytes = 10 * 1024 * 1024,
		.event_log_keep = 5,
		.event_log_alerts_max_bytes = 10 * 1024 * 1024,
		.event_log_alerts_keep = 5,
		.scan_crash_count = 3,
		.scan_crash_window = 300,
		.scan_calm = 300,
		.scan_escalate = 600,
		.overload_grace = 10,
		.overload_calm = 30,
		.queue_high_water = 8192,
		.queue_low_water = 1024,
		.rate_low_water = 2000,
		.proc_ring_kb = 4096,
		.net_ring_kb = 4096,
		.defs_max_age = 7 * 86400,
		.min_mem_mb = 256,
		.scan_action = POLICY_ACTION_AUDIT,
		.scan_limits_action = POLICY_LIMITS_REPORT,
		.scan_max_filesize_mb = 100,
		.scan_max_scansize_mb = 400,
		.scan_max_scantime_ms = 120000,
		.scan_max_recursion = 17,
		.scan_max_files = 10000,
		.scan_cache_entries = 65536,
		.scan_queue_max = 4096,
		.scan_timeout = 180,
		.defs_test_mem_mb = 2048,
		.defs_test_timeout = 300,
		.control_max_per_uid = 8,
		.control_idle_timeout = 30,
		.control_member_check = 10,
	};
	if (!p->scan_user || !p->scan_group || !p->admin_group || !p->install_prefix ||
	    !p->min_kernel)
		return -ENOMEM;
	/* Pseudo filesystems hold no files to scan.  /dev and /run are not
	 * left out: /dev/shm and /run are where fileless malware stages. */
	static const char *const excl[] = { "/proc", "/sys" };
	/* What degraded mode still scans on access: where programs, libraries,
	 * boot files, system configuration and root's keys live. */
	static const char *const critical[] = { "/bin", "/boot", "/etc", "/lib", "/lib64",
						"/root/.ssh", "/sbin", "/usr/bin", "/usr/lib",
						"/usr/lib64", "/usr/local/bin", "/usr/local/sbin",
						"/usr/sbin" };
	int r = default_list(&p->path_exclusions, &p->n_path_exclusions, excl, ARRAY_SIZE(excl));
	if (r < 0)
		return r;
	return default_list(&p->critical_paths, &p->n_critical_paths, critical,
			    ARRAY_SIZE(critical));
}

/* The blocklist's entries and its list file, parsed into blocklist_cidrs. */
static int parse_blocklist(struct parse *ps, const config_t *cfg, struct policy *p)
{
	const config_setting_t *list = config_lookup(cfg, "network_monitor.blocklist");
	char err[256];
	int r;

	if (p->n_blocklist) {
		p->blocklist_cidrs = calloc(p->n_blocklist, sizeof(*p->blocklist_cidrs));
		if (!p->blocklist_cidrs)
			return -ENOMEM;
	}
	for (size_t i = 0; i < p->n_blocklist; i++) {
		if (cidr_parse(p->blocklist[i], &p->blocklist_cidrs[i]) < 0)
			return fail(ps, list ? config_setting_get_elem(list, i) : NULL,
				    "network_monitor.blocklist: '%s' is not an IP address or CIDR "
				    "range, like \"192.0.2.7\" or \"10.0.0.0/8\"",
				    p->blocklist[i]);
		p->n_blocklist_cidrs = i + 1;
	}
	if (!p->blocklist_file)
		return 0;
	_cleanup_free_ char *text = NULL;
	r = read_file_all(p->blocklist_file, 1 << 24, &text, NULL);
	if (r < 0)
		return fail(ps, config_lookup(cfg, "network_monitor.blocklist_file"),
			    "network_monitor.blocklist_file: %s: %s", p->blocklist_file,
			    strerror(-r));
	r = cidr_parse_list(text, &p->blocklist_cidrs, &p->n_blocklist_cidrs, POLICY_MAX_BLOCKLIST,
			    err, sizeof(err));
	if (r == -EINVAL)
		return fail(ps, config_lookup(cfg, "network_monitor.blocklist_file"),
			    "network_monitor.blocklist_file: %s: %s", p->blocklist_file, err);
	return r;
}

/* Rules that span settings, checked once all are read. */
static int policy_cross_check(struct parse *ps, const config_t *cfg, struct policy *p)
{
	int r = parse_blocklist(ps, cfg, p);
	if (r < 0)
		return r;
	const config_setting_t *low = config_lookup(cfg, "faults.queue_low_water");
	if (p->queue_low_water >= p->queue_high_water)
		return fail(ps, low ? low : config_lookup(cfg, "faults.queue_high_water"),
			    "faults.queue_low_water (%u) must be below queue_high_water (%u)",
			    p->queue_low_water, p->queue_high_water);
	if (!p->btf_dir) {
		if (asprintf(&p->btf_dir, "%s/lib/btf", p->install_prefix) < 0) {
			p->btf_dir = NULL;
			return -ENOMEM;
		}
	}
	/* A class without its own group is admin_group's. */
	char **groups[] = { &p->allow_status, &p->allow_scan, &p->allow_quarantine,
			    &p->allow_defs, &p->allow_policy };
	for (size_t i = 0; i < ARRAY_SIZE(groups); i++)
		if (!*groups[i] && !(*groups[i] = strdup(p->admin_group)))
			return -ENOMEM;
	return 0;
}

static int policy_parse(config_t *cfg, int read_ok, const char *name, struct policy *ret,
			char *err, size_t errlen)
{
	struct parse ps = { name, err, errlen };
	struct policy p;
	int r;

	if (!read_ok) {
		if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
			return -errno ? -errno : -EIO;
		snprintf(err, errlen, "%s:%d: %s",
			 config_error_file(cfg) ? config_error_file(cfg) : name,
			 config_error_line(cfg), config_error_text(cfg));
		return -EINVAL;
	}
	r = policy_defaults(&p);
	if (r >= 0)
		r = parse_group(&ps, config_root_setting(cfg), root_fields, &p);
	if (r >= 0)
		r = policy_cross_check(&ps, cfg, &p);
	if (r >= 0 && !(p.path = strdup(name)))
		r = -ENOMEM;
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(err, errlen, "%s: out of memory", name);
		policy_free(&p);
		return r;
	}
	*ret = p;
	return 0;
}

int policy_load(const char *path, struct policy *ret, char *err, size_t errlen)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	struct stat st;
	config_t cfg;
	int r;

	if (!f || fstat(fileno(f), &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	/* libconfig's scanner exit()s on a read error such as a directory's EISDIR. */
	if (!S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		snprintf(err, errlen, "%s: %s", path,
			 S_ISDIR(st.st_mode) ? strerror(EISDIR) : "not a regular file");
		return r;
	}
	config_init(&cfg);
	/* @include "x.conf" resolves beside the policy file, not in the daemon's cwd. */
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		config_set_include_dir(&cfg, dir[0] ? dir : "/");
	}
	r = policy_parse(&cfg, config_read(&cfg, f), path, ret, err, errlen);
	if (r < 0 && r != -EINVAL && r != -ENOMEM)
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
	config_destroy(&cfg);
	return r;
}

int policy_load_string(const char *text, const char *name, struct policy *ret, char *err,
		       size_t errlen)
{
	config_t cfg;
	int r;

	config_init(&cfg);
	r = policy_parse(&cfg, config_read_string(&cfg, text), name, ret, err, errlen);
	config_destroy(&cfg);
	return r;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	free(p->path);
	free_list(p->process_exclusions, p->n_process_exclusions);
	free_list(p->path_exclusions, p->n_path_exclusions);
	free(p->scan_user);
	free(p->scan_group);
	free(p->admin_group);
	free(p->allow_status);
	free(p->allow_scan);
	free(p->allow_quarantine);
	free(p->allow_defs);
	free(p->allow_policy);
	free(p->install_prefix);
	free(p->btf_dir);
	free(p->min_kernel);
	free(p->process_exclusion_uids);
	free_list(p->process_exclusion_cgroups, p->n_process_exclusion_cgroups);
	free_list(p->critical_paths, p->n_critical_paths);
	free_list(p->mounts_include, p->n_mounts_include);
	free_list(p->mounts_exclude, p->n_mounts_exclude);
	free_list(p->blocklist, p->n_blocklist);
	free(p->blocklist_file);
	free(p->blocklist_cidrs);
	*p = (struct policy){ 0 };
}

static void json_fields(struct json_object *o, const struct field *fields, const struct policy *p)
{
	for (const struct field *f = fields; f->name; f++) {
		const char *base = (const char *)p + f->off;
		struct json_object *v = NULL;
		switch (f->kind) {
		case K_BOOL:
			v = json_object_new_boolean(*(const bool *)base);
			break;
		case K_UINT:
		case K_POW2:
			v = json_object_new_uint64(*(const unsigned *)base);
			break;
		case K_UINTLIST: {
			const unsigned *list = *(unsigned *const *)base;
			size_t n = *(const size_t *)((const char *)p + f->count_off);
			v = json_object_new_array_ext((int)n);
			for (size_t i = 0; i < n; i++)
				json_object_array_add(v, json_object_new_uint64(list[i]));
			break;
		}
		case K_U64:
			v = json_object_new_uint64(*(const uint64_t *)base);
			break;
		case K_PATH:
		case K_NAME:
		case K_VERSION:
			if (!*(char *const *)base)
				continue; /* an optional path that is not set */
			v = json_object_new_string(*(char *const *)base);
			break;
		case K_PATHLIST:
		case K_STRLIST: {
			char *const *list = *(char **const *)base;
			size_t n = *(const size_t *)((const char *)p + f->count_off);
			v = json_object_new_array_ext((int)n);
			for (size_t i = 0; i < n; i++)
				json_object_array_add(v, json_object_new_string(list[i]));
			break;
		}
		case K_GROUP:
			v = json_object_new_object();
			json_fields(v, f->group, p);
			break;
		case K_ENUM:
			v = json_object_new_string(f->names[*(const int *)base]);
			break;
		}
		json_object_object_add(o, f->name, v);
	}
}

struct json_object *policy_to_json(const struct policy *p)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "path", json_object_new_string(p->path ? p->path : ""));
	json_fields(o, root_fields, p);
	return o;
}
