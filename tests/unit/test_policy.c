/* Unit tests of src/common/policy.c: the shipped policy, defaults, every
 * refusal with its exact file:line message, and the JSON form. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "cleanup.h"
#include "log.h"
#include "policy.h"

#define NAME "test.conf"

static int load(const char *text, struct policy *p, char *err)
{
	return policy_load_string(text, NAME, p, err, POLICY_ERR_MAX);
}

/* The text is refused with exactly this message, and nothing is returned. */
static void assert_refused(const char *text, const char *want)
{
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(load(text, &p, err), -EINVAL);
	assert_string_equal(err, want);
	assert_null(p.path);
	assert_null(p.scan_user);
}

static struct json_object *jget(struct json_object *o, const char *group, const char *key)
{
	struct json_object *g = o, *v = NULL;
	if (group)
		assert_true(json_object_object_get_ex(o, group, &g));
	assert_true(json_object_object_get_ex(g, key, &v));
	return v;
}

static void test_shipped_policy_loads(void **state)
{
	(void)state;
	const char *path = SOURCE_ROOT "/etc/policy.conf";
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(policy_load(path, &p, err, sizeof(err)), 0);
	assert_string_equal(p.path, path);
	assert_true(p.monitor_file_copies_moves);
	assert_true(p.device_flow_correlation);
	assert_int_equal(p.n_process_exclusions, 0);
	assert_int_equal(p.n_path_exclusions, 2);
	assert_string_equal(p.path_exclusions[0], "/proc");
	assert_string_equal(p.path_exclusions[1], "/sys");
	assert_string_equal(p.scan_user, "picket-scan");
	assert_string_equal(p.scan_group, "picket-scan");
	assert_string_equal(p.admin_group, "picket-admin");
	assert_string_equal(p.install_prefix, "/opt/picket");
	assert_string_equal(p.btf_dir, "/opt/picket/lib/btf");
	assert_string_equal(p.min_kernel, "5.8");
	assert_int_equal(p.recheck_interval, 60);
	assert_int_equal(p.event_log_max_bytes, 10485760);
	assert_int_equal(p.event_log_keep, 5);
	assert_int_equal(p.event_log_alerts_max_bytes, 10485760);
	assert_int_equal(p.event_log_alerts_keep, 5);
	policy_free(&p);
}

static void test_shipped_policy_fault_windows(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(policy_load(SOURCE_ROOT "/etc/policy.conf", &p, err, sizeof(err)), 0);
	assert_int_equal(p.scan_crash_count, 3);
	assert_int_equal(p.scan_crash_window, 300);
	assert_int_equal(p.scan_calm, 300);
	assert_int_equal(p.scan_escalate, 600);
	assert_int_equal(p.overload_grace, 10);
	assert_int_equal(p.overload_calm, 30);
	assert_int_equal(p.queue_high_water, 8192);
	assert_int_equal(p.queue_low_water, 1024);
	assert_int_equal(p.defs_max_age, 604800);
	assert_int_equal(p.min_mem_mb, 256);
	policy_free(&p);
}

/* etc/policy.conf says "the value shown is the default": the shipped file
 * and an empty file give the same policy. */
static void test_shipped_policy_equals_defaults(void **state)
{
	(void)state;
	struct policy shipped = { 0 }, empty = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(policy_load(SOURCE_ROOT "/etc/policy.conf", &shipped, err, sizeof(err)), 0);
	assert_int_equal(load("", &empty, err), 0);
	struct json_object *a = policy_to_json(&shipped), *b = policy_to_json(&empty);
	json_object_object_del(a, "path");
	json_object_object_del(b, "path");
	assert_true(json_object_equal(a, b));
	json_object_put(a);
	json_object_put(b);
	policy_free(&shipped);
	policy_free(&empty);
}

static void test_empty_policy_gives_defaults(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(load("", &p, err), 0);
	assert_string_equal(p.path, NAME);
	assert_true(p.monitor_file_copies_moves);
	assert_true(p.device_flow_correlation);
	assert_int_equal(p.n_process_exclusions, 0);
	assert_int_equal(p.n_path_exclusions, 2);
	assert_string_equal(p.path_exclusions[0], "/proc");
	assert_string_equal(p.path_exclusions[1], "/sys");
	assert_string_equal(p.scan_user, "picket-scan");
	assert_string_equal(p.admin_group, "picket-admin");
	assert_string_equal(p.install_prefix, "/opt/picket");
	assert_string_equal(p.btf_dir, "/opt/picket/lib/btf");
	assert_string_equal(p.min_kernel, "5.8");
	assert_int_equal(p.recheck_interval, 60);
	assert_int_equal(p.event_log_max_bytes, 10 * 1024 * 1024);
	assert_int_equal(p.event_log_keep, 5);
	assert_int_equal(p.event_log_alerts_max_bytes, 10 * 1024 * 1024);
	assert_int_equal(p.event_log_alerts_keep, 5);
	assert_int_equal(p.queue_high_water, 8192);
	assert_int_equal(p.queue_low_water, 1024);
	policy_free(&p);
}

static void test_btf_dir_defaults_under_install_prefix(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(load("install_prefix = \"/usr/local/picket\";", &p, err), 0);
	assert_string_equal(p.install_prefix, "/usr/local/picket");
	assert_string_equal(p.btf_dir, "/usr/local/picket/lib/btf");
	policy_free(&p);
}

static void test_btf_dir_explicit_is_kept(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(load("install_prefix = \"/srv/p\";\nbtf_dir = \"/var/lib/btf\";", &p, err), 0);
	assert_string_equal(p.btf_dir, "/var/lib/btf");
	policy_free(&p);
}

static void test_settings_are_read(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";
	const char *text = "monitor_file_copies_moves = false;\n"
			   "device_flow_correlation = false;\n"
			   "process_exclusions = [ \"/usr/bin/rsync\", \"/usr/sbin/backupd\" ];\n"
			   "scan_user = \"av_scan\";\n"
			   "scan_group = \"av.scan\";\n"
			   "min_kernel = \"6.1\";\n"
			   "recheck_interval = 86400;\n"
			   "event_log = { max_bytes = 4096; keep = 100; alerts_max_bytes = 8192;"
			   " alerts_keep = 1; };\n"
			   "faults = { overload_grace = 0; queue_high_water = 3; queue_low_water = 2; };\n";

	assert_int_equal(load(text, &p, err), 0);
	assert_false(p.monitor_file_copies_moves);
	assert_false(p.device_flow_correlation);
	assert_int_equal(p.n_process_exclusions, 2);
	assert_string_equal(p.process_exclusions[1], "/usr/sbin/backupd");
	assert_string_equal(p.scan_user, "av_scan");
	assert_string_equal(p.scan_group, "av.scan");
	assert_string_equal(p.min_kernel, "6.1");
	assert_int_equal(p.recheck_interval, 86400);
	assert_int_equal(p.event_log_max_bytes, 4096);
	assert_int_equal(p.event_log_keep, 100);
	assert_int_equal(p.event_log_alerts_max_bytes, 8192);
	assert_int_equal(p.event_log_alerts_keep, 1);
	assert_int_equal(p.overload_grace, 0);
	assert_int_equal(p.queue_high_water, 3);
	assert_int_equal(p.queue_low_water, 2);
	policy_free(&p);
}

static void test_large_max_bytes_as_int64(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(load("event_log = { max_bytes = 1099511627776L; };", &p, err), 0);
	assert_int_equal(p.event_log_max_bytes, UINT64_C(1) << 40);
	policy_free(&p);
}

static void test_syntax_error_gives_libconfig_message_and_line(void **state)
{
	(void)state;
	assert_refused("recheck_interval = 60;\nscan_user = ;\n", NAME ":2: syntax error");
}

static void test_unknown_setting_refused(void **state)
{
	(void)state;
	assert_refused("scan_user = \"a\";\nscan_users = \"b\";\n",
		       NAME ":2: unknown setting 'scan_users'");
}

static void test_unknown_setting_in_group_refused(void **state)
{
	(void)state;
	assert_refused("faults = {\n  scan_calm = 5;\n  scan_calmness = 6;\n};\n",
		       NAME ":3: unknown setting 'scan_calmness'");
}

static void test_bool_given_string_refused(void **state)
{
	(void)state;
	assert_refused("monitor_file_copies_moves = \"yes\";",
		       NAME ":1: monitor_file_copies_moves: must be true or false");
}

static void test_number_given_string_refused(void **state)
{
	(void)state;
	assert_refused("\nrecheck_interval = \"60\";", NAME ":2: recheck_interval: must be a whole number");
}

static void test_number_given_float_refused(void **state)
{
	(void)state;
	assert_refused("recheck_interval = 1.5;", NAME ":1: recheck_interval: must be a whole number");
}

static void test_string_given_number_refused(void **state)
{
	(void)state;
	assert_refused("scan_user = 5;", NAME ":1: scan_user: must be a string");
}

static void test_group_given_scalar_refused(void **state)
{
	(void)state;
	assert_refused("event_log = 5;", NAME ":1: event_log: must be a group { ... }");
}

static void test_list_given_string_refused(void **state)
{
	(void)state;
	assert_refused("path_exclusions = \"/proc\";",
		       NAME ":1: path_exclusions: must be a list of paths, like [ \"/usr/bin/rsync\" ]");
}

static void test_list_entry_not_absolute_refused(void **state)
{
	(void)state;
	assert_refused("path_exclusions = [\n  \"/proc\",\n  \"tmp\" ];",
		       NAME ":3: path_exclusions: entry 2 must be an absolute path");
}

static void test_list_entry_not_string_refused(void **state)
{
	(void)state;
	assert_refused("process_exclusions = ( \"/bin/a\", 7 );",
		       NAME ":1: process_exclusions: entry 2 must be an absolute path");
}

static void test_recheck_interval_zero_out_of_range(void **state)
{
	(void)state;
	assert_refused("recheck_interval = 0;", NAME ":1: recheck_interval: 0 is out of range [1, 86400]");
}

static void test_negative_number_out_of_range(void **state)
{
	(void)state;
	assert_refused("faults = { scan_calm = -1; };",
		       NAME ":1: scan_calm: -1 is out of range [1, 86400]");
}

static void test_max_bytes_above_limit_out_of_range(void **state)
{
	(void)state;
	assert_refused("event_log = {\n max_bytes = 1099511627777L;\n};",
		       NAME ":2: max_bytes: 1099511627777 is out of range [4096, 1099511627776]");
}

static void test_keep_zero_out_of_range(void **state)
{
	(void)state;
	assert_refused("event_log = { keep = 0; };", NAME ":1: keep: 0 is out of range [1, 100]");
	assert_refused("event_log = { alerts_keep = 0; };",
		       NAME ":1: alerts_keep: 0 is out of range [1, 100]");
	assert_refused("event_log = { alerts_max_bytes = 4095; };",
		       NAME ":1: alerts_max_bytes: 4095 is out of range [4096, 1099511627776]");
}

static void test_bad_user_name_refused(void **state)
{
	(void)state;
	assert_refused("scan_user = \"bad user\";",
		       NAME ":1: scan_user: 'bad user' is not a valid user or group name");
}

static void test_leading_dash_group_name_refused(void **state)
{
	(void)state;
	assert_refused("admin_group = \"-wheel\";",
		       NAME ":1: admin_group: '-wheel' is not a valid user or group name");
}

static void test_too_long_user_name_refused(void **state)
{
	(void)state;
	assert_refused("scan_user = \"abcdefghijklmnopqrstuvwxyz0123456\";",
		       NAME ":1: scan_user: 'abcdefghijklmnopqrstuvwxyz0123456' is not a valid user or "
			    "group name");
}

static void test_relative_install_prefix_refused(void **state)
{
	(void)state;
	assert_refused("install_prefix = \"opt/picket\";",
		       NAME ":1: install_prefix: 'opt/picket' must be an absolute path");
}

static void test_bad_min_kernel_refused(void **state)
{
	(void)state;
	assert_refused("min_kernel = \"5\";",
		       NAME ":1: min_kernel: '5' must be MAJOR.MINOR, like \"5.8\"");
	assert_refused("min_kernel = \"5.8.1\";",
		       NAME ":1: min_kernel: '5.8.1' must be MAJOR.MINOR, like \"5.8\"");
}

static void test_low_water_not_below_high_water_refused(void **state)
{
	(void)state;
	assert_refused("faults = {\n  queue_high_water = 100;\n  queue_low_water = 100;\n};",
		       NAME ":3: faults.queue_low_water (100) must be below queue_high_water (100)");
}

static char *exclusions_text(int n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fputs("process_exclusions = [", f);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s\"/usr/bin/p%d\"", i ? ", " : " ", i);
	fputs(" ];\n", f);
	fclose(f);
	return buf;
}

static void test_1024_exclusions_accepted(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";
	char *text = exclusions_text(POLICY_MAX_EXCLUSIONS);

	assert_int_equal(load(text, &p, err), 0);
	assert_int_equal(p.n_process_exclusions, 1024);
	assert_string_equal(p.process_exclusions[1023], "/usr/bin/p1023");
	policy_free(&p);
	free(text);
}

static void test_1025_exclusions_refused(void **state)
{
	(void)state;
	char *text = exclusions_text(POLICY_MAX_EXCLUSIONS + 1);

	assert_refused(text, NAME ":1: process_exclusions: 1025 entries, at most 1024 allowed");
	free(text);
}

static void test_missing_file_is_enoent(void **state)
{
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";
	const char *path = tu_path(*state, "nope.conf");
	char want[POLICY_ERR_MAX];

	assert_int_equal(policy_load(path, &p, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);
	assert_null(p.path);
}

static void test_file_error_names_file_and_line(void **state)
{
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "", want[POLICY_ERR_MAX];

	tu_write(*state, "bad.conf", "# comment\n\nrecheck_interval = 0;\n");
	const char *path = tu_path(*state, "bad.conf");
	assert_int_equal(policy_load(path, &p, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:3: recheck_interval: 0 is out of range [1, 86400]", path);
	assert_string_equal(err, want);
}

static void test_failed_load_leaves_policy_untouched(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(load("scan_user = \"first\";", &p, err), 0);
	struct policy before = p;
	assert_int_equal(load("scan_user = \"second\";\nbogus = 1;", &p, err), -EINVAL);
	assert_memory_equal(&p, &before, sizeof(p));
	assert_string_equal(p.scan_user, "first");
	policy_free(&p);
}

static void test_small_error_buffer_is_terminated(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[8];

	memset(err, 'x', sizeof(err));
	assert_int_equal(policy_load_string("recheck_interval = 0;", NAME, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(memchr(err, '\0', sizeof(err)));
}

static void test_to_json_values(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(load("path_exclusions = [ \"/proc\" ];\nevent_log = { keep = 7; };", &p, err), 0);
	struct json_object *o = policy_to_json(&p);
	assert_string_equal(json_object_get_string(jget(o, NULL, "path")), NAME);
	assert_true(json_object_get_boolean(jget(o, NULL, "monitor_file_copies_moves")));
	assert_int_equal(json_object_array_length(jget(o, NULL, "path_exclusions")), 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(
				    jget(o, NULL, "path_exclusions"), 0)),
			    "/proc");
	assert_int_equal(json_object_array_length(jget(o, NULL, "process_exclusions")), 0);
	assert_string_equal(json_object_get_string(jget(o, NULL, "btf_dir")), "/opt/picket/lib/btf");
	assert_int_equal(json_object_get_int64(jget(o, NULL, "recheck_interval")), 60);
	assert_int_equal(json_object_get_int64(jget(o, "event_log", "keep")), 7);
	assert_int_equal(json_object_get_int64(jget(o, "event_log", "max_bytes")), 10485760);
	assert_int_equal(json_object_get_int64(jget(o, "faults", "queue_high_water")), 8192);
	assert_int_equal(json_object_get_int64(jget(o, "faults", "min_mem_mb")), 256);
	json_object_put(o);
	policy_free(&p);
}

/* The monitors' settings (file_monitor, process_monitor, network_monitor and
 * monitor_process_execution), as etc/policy.conf documents their defaults. */
static void test_monitor_defaults(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(load("", &p, err), 0);
	assert_true(p.monitor_process_execution);
	assert_int_equal(p.n_mounts_include, 0);
	assert_int_equal(p.n_mounts_exclude, 0);
	assert_int_equal(p.on_execute, POLICY_ONEXEC_OFF);
	assert_int_equal(p.perm_timeout_ms, 2000);
	assert_false(p.report_clean);
	assert_true(p.mount_namespaces);
	assert_true(p.log_exec);
	assert_false(p.log_fork);
	assert_false(p.log_exit);
	assert_int_equal(p.proc_table_max, 65536);
	assert_int_equal(p.net_mode, POLICY_NET_AUDIT);
	assert_int_equal(p.n_blocklist, 0);
	assert_null(p.blocklist_file);
	assert_int_equal(p.n_blocklist_cidrs, 0);
	assert_null(p.blocklist_cidrs);
	assert_false(p.log_closed);
	assert_int_equal(p.udp_interval, 60);
	policy_free(&p);
}

static void test_shipped_policy_monitor_settings(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(policy_load(SOURCE_ROOT "/etc/policy.conf", &p, err, sizeof(err)), 0);
	assert_true(p.monitor_process_execution);
	assert_int_equal(p.on_execute, POLICY_ONEXEC_OFF);
	assert_int_equal(p.perm_timeout_ms, 2000);
	assert_true(p.mount_namespaces);
	assert_int_equal(p.proc_table_max, 65536);
	assert_int_equal(p.net_mode, POLICY_NET_AUDIT);
	assert_int_equal(p.n_blocklist_cidrs, 0);
	assert_null(p.blocklist_file); /* commented out in the shipped file */
	assert_int_equal(p.udp_interval, 60);
	policy_free(&p);
}

static void test_monitor_settings_are_read(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";
	const char *text = "monitor_process_execution = false;\n"
			   "file_monitor = {\n"
			   "  mounts_include = [ \"/\", \"/home\" ];\n"
			   "  mounts_exclude = [ \"/mnt/nfs\" ];\n"
			   "  on_execute = \"block\";\n"
			   "  perm_timeout_ms = 500;\n"
			   "  report_clean = true;\n"
			   "  mount_namespaces = false;\n"
			   "};\n"
			   "process_monitor = { log_exec = false; log_fork = true; log_exit = true;"
			   " table_max = 1024; };\n"
			   "network_monitor = { mode = \"block\"; blocklist = [ \"192.0.2.0/24\" ];"
			   " log_closed = true; udp_interval = 0; };\n";

	assert_int_equal(load(text, &p, err), 0);
	assert_false(p.monitor_process_execution);
	assert_int_equal(p.n_mounts_include, 2);
	assert_string_equal(p.mounts_include[0], "/");
	assert_string_equal(p.mounts_include[1], "/home");
	assert_int_equal(p.n_mounts_exclude, 1);
	assert_string_equal(p.mounts_exclude[0], "/mnt/nfs");
	assert_int_equal(p.on_execute, POLICY_ONEXEC_BLOCK);
	assert_int_equal(p.perm_timeout_ms, 500);
	assert_true(p.report_clean);
	assert_false(p.mount_namespaces);
	assert_false(p.log_exec);
	assert_true(p.log_fork);
	assert_true(p.log_exit);
	assert_int_equal(p.proc_table_max, 1024);
	assert_int_equal(p.net_mode, POLICY_NET_BLOCK);
	assert_int_equal(p.n_blocklist, 1);
	assert_string_equal(p.blocklist[0], "192.0.2.0/24");
	assert_int_equal(p.n_blocklist_cidrs, 1);
	assert_true(p.log_closed);
	assert_int_equal(p.udp_interval, 0);
	policy_free(&p);
}

static void test_on_execute_values(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		enum policy_onexec v;
	} cases[] = {
		{ "off", POLICY_ONEXEC_OFF },
		{ "audit", POLICY_ONEXEC_AUDIT },
		{ "block", POLICY_ONEXEC_BLOCK },
	};
	char text[128], err[POLICY_ERR_MAX] = "";

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy p = { 0 };
		snprintf(text, sizeof(text), "file_monitor = { on_execute = \"%s\"; };", cases[i].name);
		assert_int_equal(load(text, &p, err), 0);
		assert_int_equal(p.on_execute, cases[i].v);
		assert_string_equal(policy_onexec_name(p.on_execute), cases[i].name);
		policy_free(&p);
	}
	assert_string_equal(policy_onexec_name((enum policy_onexec)3), "?");
	assert_string_equal(policy_onexec_name((enum policy_onexec)-1), "?");
}

static void test_on_execute_bad_value_refused(void **state)
{
	(void)state;
	assert_refused("file_monitor = {\n  on_execute = \"deny\";\n};",
		       NAME ":2: on_execute: must be one of \"off\", \"audit\", \"block\"");
	assert_refused("file_monitor = { on_execute = \"Block\"; };",
		       NAME ":1: on_execute: must be one of \"off\", \"audit\", \"block\"");
	assert_refused("file_monitor = { on_execute = \"\"; };",
		       NAME ":1: on_execute: must be one of \"off\", \"audit\", \"block\"");
	assert_refused("file_monitor = { on_execute = 2; };",
		       NAME ":1: on_execute: must be one of \"off\", \"audit\", \"block\"");
	assert_refused("file_monitor = { on_execute = true; };",
		       NAME ":1: on_execute: must be one of \"off\", \"audit\", \"block\"");
}

static void test_net_mode_values(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(load("network_monitor = { mode = \"block\"; };", &p, err), 0);
	assert_int_equal(p.net_mode, POLICY_NET_BLOCK);
	assert_string_equal(policy_netmode_name(p.net_mode), "block");
	policy_free(&p);
	assert_int_equal(load("network_monitor = { mode = \"audit\"; };", &p, err), 0);
	assert_int_equal(p.net_mode, POLICY_NET_AUDIT);
	assert_string_equal(policy_netmode_name(p.net_mode), "audit");
	policy_free(&p);
	assert_string_equal(policy_netmode_name((enum policy_netmode)2), "?");
}

static void test_net_mode_bad_value_refused(void **state)
{
	(void)state;
	assert_refused("network_monitor = {\n  log_closed = true;\n  mode = \"drop\";\n};",
		       NAME ":3: mode: must be one of \"audit\", \"block\"");
	assert_refused("network_monitor = { mode = \"off\"; };",
		       NAME ":1: mode: must be one of \"audit\", \"block\"");
}

static void test_scan_action_values_and_bad_value(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(load("scan = { action = \"quarantine\"; };", &p, err), 0);
	assert_int_equal(p.scan_action, POLICY_ACTION_QUARANTINE);
	assert_string_equal(policy_action_name(p.scan_action), "quarantine");
	assert_string_equal(policy_action_name(POLICY_ACTION_AUDIT), "audit");
	assert_string_equal(policy_action_name((enum policy_action)2), "?");
	policy_free(&p);
	assert_refused("scan = {\n  action = \"delete\";\n};",
		       NAME ":2: action: must be one of \"audit\", \"quarantine\"");
}

static void test_scan_limits_action_values_and_bad_value(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(load("", &p, err), 0);
	assert_int_equal(p.scan_limits_action, POLICY_LIMITS_REPORT);
	policy_free(&p);
	assert_int_equal(load("scan = { limits_action = \"block\"; };", &p, err), 0);
	assert_int_equal(p.scan_limits_action, POLICY_LIMITS_BLOCK);
	assert_string_equal(policy_limits_name(p.scan_limits_action), "block");
	assert_string_equal(policy_limits_name(POLICY_LIMITS_QUARANTINE), "quarantine");
	assert_string_equal(policy_limits_name((enum policy_limits)3), "?");
	policy_free(&p);
	assert_refused("scan = {\n  limits_action = \"audit\";\n};",
		       NAME ":2: limits_action: must be one of \"report\", \"quarantine\", \"block\"");
}

static void test_perm_timeout_ms_range(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(load("file_monitor = { perm_timeout_ms = 10; };", &p, err), 0);
	assert_int_equal(p.perm_timeout_ms, 10);
	policy_free(&p);
	assert_int_equal(load("file_monitor = { perm_timeout_ms = 60000; };", &p, err), 0);
	assert_int_equal(p.perm_timeout_ms, 60000);
	policy_free(&p);
	assert_refused("file_monitor = { perm_timeout_ms = 9; };",
		       NAME ":1: perm_timeout_ms: 9 is out of range [10, 60000]");
	assert_refused("file_monitor = {\n perm_timeout_ms = 60001;\n};",
		       NAME ":2: perm_timeout_ms: 60001 is out of range [10, 60000]");
	assert_refused("file_monitor = { perm_timeout_ms = -1; };",
		       NAME ":1: perm_timeout_ms: -1 is out of range [10, 60000]");
	assert_refused("file_monitor = { perm_timeout_ms = \"2000\"; };",
		       NAME ":1: perm_timeout_ms: must be a whole number");
}

static void test_table_max_and_udp_interval_ranges(void **state)
{
	(void)state;
	assert_refused("process_monitor = { table_max = 1023; };",
		       NAME ":1: table_max: 1023 is out of range [1024, 4194304]");
	assert_refused("process_monitor = { table_max = 4194305; };",
		       NAME ":1: table_max: 4194305 is out of range [1024, 4194304]");
	assert_refused("network_monitor = { udp_interval = 86401; };",
		       NAME ":1: udp_interval: 86401 is out of range [0, 86400]");
}

static void test_monitor_bools_and_lists_checked(void **state)
{
	(void)state;
	assert_refused("monitor_process_execution = 1;",
		       NAME ":1: monitor_process_execution: must be true or false");
	assert_refused("process_monitor = { log_fork = \"yes\"; };",
		       NAME ":1: log_fork: must be true or false");
	assert_refused("file_monitor = { mounts_include = [ \"/\", \"home\" ]; };",
		       NAME ":1: mounts_include: entry 2 must be an absolute path");
	assert_refused("file_monitor = { mounts_exclude = \"/mnt\"; };",
		       NAME ":1: mounts_exclude: must be a list of paths, like [ \"/usr/bin/rsync\" ]");
	assert_refused("network_monitor = {\n  blocklists = [ ];\n};",
		       NAME ":2: unknown setting 'blocklists'");
	assert_refused("file_monitor = 1;", NAME ":1: file_monitor: must be a group { ... }");
	/* Settings belong to their group. */
	assert_refused("process_monitor = { mode = \"block\"; };", NAME ":1: unknown setting 'mode'");
	assert_refused("table_max = 2048;", NAME ":1: unknown setting 'table_max'");
}

static void assert_cidr(const struct cidr *c, int family, unsigned prefix, const char *text)
{
	char buf[CIDR_STR_MAX];

	assert_int_equal(c->family, family);
	assert_int_equal(c->prefix, prefix);
	cidr_format(c, buf, sizeof(buf));
	assert_string_equal(buf, text);
}

static void test_blocklist_parsed_into_cidrs(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";
	const char *text = "network_monitor = { blocklist = [ \"192.0.2.7\", \"10.0.0.0/8\","
			   " \"2001:db8::/32\", \"::1\", \"0.0.0.0/0\", \"fe80::1/128\" ]; };";

	assert_int_equal(load(text, &p, err), 0);
	assert_int_equal(p.n_blocklist, 6);
	assert_string_equal(p.blocklist[1], "10.0.0.0/8"); /* as written */
	assert_int_equal(p.n_blocklist_cidrs, 6);
	assert_cidr(&p.blocklist_cidrs[0], AF_INET, 32, "192.0.2.7");
	assert_cidr(&p.blocklist_cidrs[1], AF_INET, 8, "10.0.0.0/8");
	assert_cidr(&p.blocklist_cidrs[2], AF_INET6, 32, "2001:db8::/32");
	assert_cidr(&p.blocklist_cidrs[3], AF_INET6, 128, "::1");
	assert_cidr(&p.blocklist_cidrs[4], AF_INET, 0, "0.0.0.0/0");
	assert_cidr(&p.blocklist_cidrs[5], AF_INET6, 128, "fe80::1");

	uint8_t a4[4], a6[16];
	assert_int_equal(inet_pton(AF_INET, "10.200.3.4", a4), 1);
	assert_true(cidr_contains(&p.blocklist_cidrs[1], AF_INET, a4));
	assert_false(cidr_contains(&p.blocklist_cidrs[0], AF_INET, a4));
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:ffff::9", a6), 1);
	assert_true(cidr_contains(&p.blocklist_cidrs[2], AF_INET6, a6));
	assert_false(cidr_contains(&p.blocklist_cidrs[1], AF_INET6, a6));
	policy_free(&p);
}

static void test_blocklist_bad_entry_refused(void **state)
{
	(void)state;
#define BAD(s) "network_monitor.blocklist: '" s "' is not an IP address or CIDR range, like " \
	       "\"192.0.2.7\" or \"10.0.0.0/8\""
	/* The line of the entry.  (libconfig dates a list element by the token
	 * after it: a last element with "]" on the next line gets that line.) */
	assert_refused("network_monitor = {\n  blocklist = [\n    \"192.0.2.7\",\n"
		       "    \"10.0.0.1/8\",\n    \"192.0.2.8\"\n  ];\n};",
		       NAME ":4: " BAD("10.0.0.1/8"));
	assert_refused("network_monitor = { blocklist = [ \"example.com\" ]; };",
		       NAME ":1: " BAD("example.com"));
	assert_refused("network_monitor = { blocklist = [ \"10.0.0.0/33\" ]; };",
		       NAME ":1: " BAD("10.0.0.0/33"));
	assert_refused("network_monitor = { blocklist = [ \"2001:db8::/129\" ]; };",
		       NAME ":1: " BAD("2001:db8::/129"));
	assert_refused("network_monitor = { blocklist = [ \"256.1.1.1\" ]; };",
		       NAME ":1: " BAD("256.1.1.1"));
	assert_refused("network_monitor = { blocklist = [ \"192.0.2.0/\" ]; };",
		       NAME ":1: " BAD("192.0.2.0/"));
	assert_refused("network_monitor = { blocklist = [ \"192.0.2.0/-1\" ]; };",
		       NAME ":1: " BAD("192.0.2.0/-1"));
	assert_refused("network_monitor = { blocklist = [ \" 192.0.2.7\" ]; };",
		       NAME ":1: " BAD(" 192.0.2.7"));
	assert_refused("network_monitor = { blocklist = [ \"\" ]; };", NAME ":1: " BAD(""));
#undef BAD
}

static void test_blocklist_not_strings_refused(void **state)
{
	(void)state;
	assert_refused("network_monitor = { blocklist = ( \"192.0.2.7\", 7 ); };",
		       NAME ":1: blocklist: entry 2 must be a string");
	assert_refused("network_monitor = { blocklist = \"192.0.2.7\"; };",
		       NAME ":1: blocklist: must be a list of strings, like [ \"192.0.2.0/24\" ]");
}

/* A policy whose network_monitor reads the list file path (line 3). */
static void blocklist_policy(char *buf, size_t len, const char *inline_list, const char *path)
{
	snprintf(buf, len, "network_monitor = {\n  blocklist = [ %s ];\n  blocklist_file = \"%s\";\n};\n",
		 inline_list, path);
}

static void test_blocklist_file_read_and_appended(void **state)
{
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "", text[1024];

	tu_write(*state, "block.txt",
		 "# picket blocklist\n"
		 "\n"
		 "192.0.2.0/24\n"
		 "   198.51.100.7   # a single host\n"
		 "\t2001:db8:1::/48\r\n"
		 "   \n"
		 "# the end\n"
		 "203.0.113.0/25"); /* no final newline */
	const char *path = tu_path(*state, "block.txt");
	blocklist_policy(text, sizeof(text), "\"10.0.0.0/8\"", path);
	assert_int_equal(load(text, &p, err), 0);
	assert_string_equal(p.blocklist_file, path);
	assert_int_equal(p.n_blocklist, 1);
	assert_int_equal(p.n_blocklist_cidrs, 5);
	assert_cidr(&p.blocklist_cidrs[0], AF_INET, 8, "10.0.0.0/8"); /* the policy's first */
	assert_cidr(&p.blocklist_cidrs[1], AF_INET, 24, "192.0.2.0/24");
	assert_cidr(&p.blocklist_cidrs[2], AF_INET, 32, "198.51.100.7");
	assert_cidr(&p.blocklist_cidrs[3], AF_INET6, 48, "2001:db8:1::/48");
	assert_cidr(&p.blocklist_cidrs[4], AF_INET, 25, "203.0.113.0/25");
	policy_free(&p);
}

static void test_blocklist_file_alone_and_empty(void **state)
{
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "", text[1024];

	tu_write(*state, "one.txt", "192.0.2.1\n");
	snprintf(text, sizeof(text), "network_monitor = { blocklist_file = \"%s\"; };",
		 tu_path(*state, "one.txt"));
	assert_int_equal(load(text, &p, err), 0);
	assert_int_equal(p.n_blocklist, 0);
	assert_int_equal(p.n_blocklist_cidrs, 1);
	assert_cidr(&p.blocklist_cidrs[0], AF_INET, 32, "192.0.2.1");
	policy_free(&p);

	tu_write(*state, "empty.txt", "# nothing blocked yet\n\n");
	blocklist_policy(text, sizeof(text), "\"192.0.2.9\"", tu_path(*state, "empty.txt"));
	assert_int_equal(load(text, &p, err), 0);
	assert_int_equal(p.n_blocklist_cidrs, 1);
	assert_cidr(&p.blocklist_cidrs[0], AF_INET, 32, "192.0.2.9");
	policy_free(&p);

	tu_write(*state, "zero.txt", "");
	blocklist_policy(text, sizeof(text), "", tu_path(*state, "zero.txt"));
	assert_int_equal(load(text, &p, err), 0);
	assert_int_equal(p.n_blocklist_cidrs, 0);
	policy_free(&p);
}

static void test_blocklist_file_bad_line_refused(void **state)
{
	char text[1024], want[POLICY_ERR_MAX];

	tu_write(*state, "bad.txt", "10.0.0.0/8\n# comment\n\nnot-an-ip  # typo\n192.0.2.1\n");
	const char *path = tu_path(*state, "bad.txt");
	blocklist_policy(text, sizeof(text), "\"192.0.2.7\"", path);
	snprintf(want, sizeof(want),
		 NAME ":3: network_monitor.blocklist_file: %s: line 4: 'not-an-ip' is not an IP "
		      "address or CIDR range",
		 path);
	assert_refused(text, want);

	tu_write(*state, "host.txt", "10.0.0.1/8\n");
	path = tu_path(*state, "host.txt");
	blocklist_policy(text, sizeof(text), "", path);
	snprintf(want, sizeof(want),
		 NAME ":3: network_monitor.blocklist_file: %s: line 1: '10.0.0.1/8' is not an IP "
		      "address or CIDR range",
		 path);
	assert_refused(text, want);
}

static void test_blocklist_file_missing_refused(void **state)
{
	char text[1024], want[POLICY_ERR_MAX];
	const char *path = tu_path(*state, "missing.txt");

	blocklist_policy(text, sizeof(text), "\"192.0.2.7\"", path);
	snprintf(want, sizeof(want), NAME ":3: network_monitor.blocklist_file: %s: %s", path,
		 strerror(ENOENT));
	assert_refused(text, want);

	/* A directory is not a list. */
	tu_mkdir(*state, "dir.txt");
	path = tu_path(*state, "dir.txt");
	blocklist_policy(text, sizeof(text), "", path);
	snprintf(want, sizeof(want), NAME ":3: network_monitor.blocklist_file: %s: %s", path,
		 strerror(EISDIR));
	assert_refused(text, want);
}

static void test_blocklist_file_relative_refused(void **state)
{
	(void)state;
	assert_refused("network_monitor = { blocklist_file = \"blocklist.txt\"; };",
		       NAME ":1: blocklist_file: 'blocklist.txt' must be an absolute path");
}

/* n distinct ranges, one a line. */
static void write_ranges(const char *root, const char *rel, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "10.%zu.%zu.0/24\n", (i >> 8) & 0xff, i & 0xff);
	fclose(f);
	tu_write(root, rel, buf);
	free(buf);
}

static void test_blocklist_max_entries(void **state)
{
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "", text[1024], want[POLICY_ERR_MAX];

	/* Exactly POLICY_MAX_BLOCKLIST in all: accepted. */
	write_ranges(*state, "full.txt", POLICY_MAX_BLOCKLIST - 2);
	blocklist_policy(text, sizeof(text), "\"192.0.2.1\", \"192.0.2.2\"",
			 tu_path(*state, "full.txt"));
	assert_int_equal(load(text, &p, err), 0);
	assert_int_equal(p.n_blocklist_cidrs, POLICY_MAX_BLOCKLIST);
	assert_cidr(&p.blocklist_cidrs[POLICY_MAX_BLOCKLIST - 1], AF_INET, 24, "10.255.253.0/24");
	policy_free(&p);

	/* One more, counting the policy's own entries: refused on that line. */
	write_ranges(*state, "over.txt", POLICY_MAX_BLOCKLIST - 1);
	const char *path = tu_path(*state, "over.txt");
	blocklist_policy(text, sizeof(text), "\"192.0.2.1\", \"192.0.2.2\"", path);
	snprintf(want, sizeof(want),
		 NAME ":3: network_monitor.blocklist_file: %s: line %d: more than %d entries", path,
		 POLICY_MAX_BLOCKLIST - 1, POLICY_MAX_BLOCKLIST);
	assert_refused(text, want);

	/* The file alone past the bound. */
	write_ranges(*state, "big.txt", POLICY_MAX_BLOCKLIST + 1);
	path = tu_path(*state, "big.txt");
	blocklist_policy(text, sizeof(text), "", path);
	snprintf(want, sizeof(want),
		 NAME ":3: network_monitor.blocklist_file: %s: line %d: more than %d entries", path,
		 POLICY_MAX_BLOCKLIST + 1, POLICY_MAX_BLOCKLIST);
	assert_refused(text, want);
}

static char *inline_blocklist_text(int n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fputs("network_monitor = { blocklist = [", f);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s\"10.%d.%d.0/24\"", i ? ", " : " ", (i >> 8) & 0xff, i & 0xff);
	fputs(" ]; };\n", f);
	fclose(f);
	return buf;
}

/* The policy's own blocklist is a list like the exclusions, capped at
 * POLICY_MAX_EXCLUSIONS entries: larger lists go in blocklist_file. */
static void test_blocklist_inline_capped_at_list_limit(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";
	char *text = inline_blocklist_text(POLICY_MAX_EXCLUSIONS);

	assert_int_equal(load(text, &p, err), 0);
	assert_int_equal(p.n_blocklist_cidrs, POLICY_MAX_EXCLUSIONS);
	assert_cidr(&p.blocklist_cidrs[1023], AF_INET, 24, "10.3.255.0/24");
	policy_free(&p);
	free(text);

	text = inline_blocklist_text(POLICY_MAX_EXCLUSIONS + 1);
	assert_refused(text, NAME ":1: blocklist: 1025 entries, at most 1024 allowed");
	free(text);
}

static void test_to_json_monitor_groups(void **state)
{
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "", text[1024];
	struct json_object *v;

	assert_int_equal(load("", &p, err), 0);
	struct json_object *o = policy_to_json(&p);
	assert_true(json_object_get_boolean(jget(o, NULL, "monitor_process_execution")));
	assert_int_equal(json_object_array_length(jget(o, "file_monitor", "mounts_include")), 0);
	assert_int_equal(json_object_array_length(jget(o, "file_monitor", "mounts_exclude")), 0);
	assert_string_equal(json_object_get_string(jget(o, "file_monitor", "on_execute")), "off");
	assert_int_equal(json_object_get_int64(jget(o, "file_monitor", "perm_timeout_ms")), 2000);
	assert_false(json_object_get_boolean(jget(o, "file_monitor", "report_clean")));
	assert_true(json_object_get_boolean(jget(o, "process_monitor", "log_exec")));
	assert_false(json_object_get_boolean(jget(o, "process_monitor", "log_fork")));
	assert_false(json_object_get_boolean(jget(o, "process_monitor", "log_exit")));
	assert_int_equal(json_object_get_int64(jget(o, "process_monitor", "table_max")), 65536);
	assert_string_equal(json_object_get_string(jget(o, "network_monitor", "mode")), "audit");
	assert_int_equal(json_object_array_length(jget(o, "network_monitor", "blocklist")), 0);
	assert_false(json_object_get_boolean(jget(o, "network_monitor", "log_closed")));
	assert_int_equal(json_object_get_int64(jget(o, "network_monitor", "udp_interval")), 60);
	/* An unset list file is left out rather than written as "". */
	assert_false(json_object_object_get_ex(jget(o, NULL, "network_monitor"), "blocklist_file", &v));
	json_object_put(o);
	policy_free(&p);

	tu_write(*state, "bl.txt", "192.0.2.0/24\n");
	snprintf(text, sizeof(text),
		 "file_monitor = { on_execute = \"audit\"; mounts_exclude = [ \"/mnt\" ]; };\n"
		 "network_monitor = { mode = \"block\"; blocklist = [ \"::1\" ];"
		 " blocklist_file = \"%s\"; };\n",
		 tu_path(*state, "bl.txt"));
	assert_int_equal(load(text, &p, err), 0);
	o = policy_to_json(&p);
	assert_string_equal(json_object_get_string(jget(o, "file_monitor", "on_execute")), "audit");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(
				    jget(o, "file_monitor", "mounts_exclude"), 0)),
			    "/mnt");
	assert_string_equal(json_object_get_string(jget(o, "network_monitor", "mode")), "block");
	v = jget(o, "network_monitor", "blocklist");
	assert_int_equal(json_object_array_length(v), 1); /* as written, not the file's */
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), "::1");
	assert_string_equal(json_object_get_string(jget(o, "network_monitor", "blocklist_file")),
			    tu_path(*state, "bl.txt"));
	json_object_put(o);
	policy_free(&p);
}

/* The JSON form written back as libconfig text (every number as int64). */
static void write_cfg_value(FILE *f, struct json_object *v);
static void write_cfg_settings(FILE *f, struct json_object *o)
{
	json_object_object_foreach(o, key, v)
	{
		if (strcmp(key, "path") == 0)
			continue;
		fprintf(f, "%s = ", key);
		write_cfg_value(f, v);
		fputs(";\n", f);
	}
}

static void write_cfg_value(FILE *f, struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		fputs(json_object_get_boolean(v) ? "true" : "false", f);
		break;
	case json_type_int:
		fprintf(f, "%" PRId64 "L", json_object_get_int64(v));
		break;
	case json_type_string:
		fprintf(f, "\"%s\"", json_object_get_string(v));
		break;
	case json_type_array:
		fputs("[ ", f);
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			fputs(i ? ", " : "", f);
			write_cfg_value(f, json_object_array_get_idx(v, i));
		}
		fputs(" ]", f);
		break;
	case json_type_object:
		fputs("{\n", f);
		write_cfg_settings(f, v);
		fputs("}", f);
		break;
	default:
		fail_msg("unexpected JSON type in policy_to_json");
	}
}

static void test_to_json_round_trips(void **state)
{
	struct policy a = { 0 }, b = { 0 };
	char err[POLICY_ERR_MAX] = "", *text = NULL, src[2048];
	size_t len = 0;

	tu_write(*state, "blocklist.txt", "# feed\n198.51.100.0/24\n2001:db8:2::/48\n");
	snprintf(src, sizeof(src),
		 "monitor_file_copies_moves = false;\n"
		 "monitor_process_execution = false;\n"
		 "process_exclusions = [ \"/usr/bin/rsync\" ];\n"
		 "path_exclusions = [ \"/proc\", \"/srv/cache\" ];\n"
		 "admin_group = \"wheel\";\n"
		 "install_prefix = \"/usr/local/picket\";\n"
		 "min_kernel = \"5.15\";\n"
		 "event_log = { max_bytes = 5000000000L; keep = 9; };\n"
		 "faults = { scan_crash_count = 4; defs_max_age = 3600; min_mem_mb = 0; };\n"
		 "file_monitor = { mounts_include = [ \"/\", \"/home\" ]; mounts_exclude = [ \"/mnt\" ];"
		 " on_execute = \"block\"; perm_timeout_ms = 750; report_clean = true; };\n"
		 "process_monitor = { log_exec = false; log_fork = true; log_exit = true;"
		 " table_max = 4096; };\n"
		 "network_monitor = { mode = \"block\"; blocklist = [ \"192.0.2.0/24\", \"::1\" ];"
		 " blocklist_file = \"%s\"; log_closed = true; udp_interval = 0; };\n"
		 "scan = { action = \"quarantine\"; };\n",
		 tu_path(*state, "blocklist.txt"));

	assert_int_equal(load(src, &a, err), 0);
	struct json_object *ja = policy_to_json(&a);
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	write_cfg_settings(f, ja);
	fclose(f);
	assert_int_equal(load(text, &b, err), 0);
	struct json_object *jb = policy_to_json(&b);
	assert_true(json_object_equal(ja, jb));
	assert_int_equal(b.event_log_max_bytes, UINT64_C(5000000000));
	assert_string_equal(b.btf_dir, "/usr/local/picket/lib/btf");
	assert_int_equal(b.on_execute, POLICY_ONEXEC_BLOCK);
	assert_int_equal(b.net_mode, POLICY_NET_BLOCK);
	assert_int_equal(b.scan_action, POLICY_ACTION_QUARANTINE);
	assert_int_equal(b.n_blocklist_cidrs, 4); /* the file read again */
	assert_string_equal(b.blocklist_file, a.blocklist_file);
	json_object_put(ja);
	json_object_put(jb);
	free(text);
	policy_free(&a);
	policy_free(&b);
}

static void test_control_defaults_follow_admin_group(void **state)
{
	(void)state;
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";

	assert_int_equal(load("", &p, err), 0);
	const char *allow[] = { p.allow_status, p.allow_scan, p.allow_quarantine, p.allow_defs,
				p.allow_policy };
	for (size_t i = 0; i < ARRAY_SIZE(allow); i++)
		assert_string_equal(allow[i], "picket-admin");
	assert_int_equal(p.control_max_per_uid, 8);
	assert_int_equal(p.control_idle_timeout, 30);
	assert_int_equal(p.control_member_check, 10);
	policy_free(&p);

	/* Unset, a class is admin_group's, whatever admin_group is. */
	assert_int_equal(load("admin_group = \"ops\";\ncontrol = { allow_scan = \"scanners\"; "
			      "allow_policy = \"root\"; max_connections_per_uid = 2; "
			      "idle_timeout = 1; membership_check = 3600; };",
			      &p, err),
			 0);
	assert_string_equal(p.allow_status, "ops");
	assert_string_equal(p.allow_scan, "scanners");
	assert_string_equal(p.allow_quarantine, "ops");
	assert_string_equal(p.allow_defs, "ops");
	assert_string_equal(p.allow_policy, "root");
	assert_int_equal(p.control_max_per_uid, 2);
	assert_int_equal(p.control_idle_timeout, 1);
	assert_int_equal(p.control_member_check, 3600);
	struct json_object *o = policy_to_json(&p), *c, *v;
	assert_true(json_object_object_get_ex(o, "control", &c));
	assert_true(json_object_object_get_ex(c, "allow_defs", &v));
	assert_string_equal(json_object_get_string(v), "ops");
	assert_true(json_object_object_get_ex(c, "max_connections_per_uid", &v));
	assert_int_equal(json_object_get_int(v), 2);
	json_object_put(o);
	policy_free(&p);
}

static void test_control_settings_checked(void **state)
{
	(void)state;
	assert_refused("control = { allow_scan = \"bad group\"; };",
		       NAME ":1: allow_scan: 'bad group' is not a valid user or group name");
	assert_refused("control = { allow_defs = 5; };", NAME ":1: allow_defs: must be a string");
	assert_refused("control = { max_connections_per_uid = 0; };",
		       NAME ":1: max_connections_per_uid: 0 is out of range [1, 56]");
	assert_refused("control = { max_connections_per_uid = 57; };",
		       NAME ":1: max_connections_per_uid: 57 is out of range [1, 56]");
	assert_refused("control = { idle_timeout = 0; };",
		       NAME ":1: idle_timeout: 0 is out of range [1, 3600]");
	assert_refused("control = { membership_check = 3601; };",
		       NAME ":1: membership_check: 3601 is out of range [1, 3600]");
	assert_refused("control = { allow_reload = \"x\"; };", NAME ":1: unknown setting 'allow_reload'");
	assert_refused("control = 1;", NAME ":1: control: must be a group { ... }");
}

static void test_free_tolerates_null_and_zeroed(void **state)
{
	(void)state;
	struct policy p = { 0 };
	policy_free(NULL);
	policy_free(&p);
	policy_free(&p);
	assert_null(p.path);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_tmpdir_setup, tu_tmpdir_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_shipped_policy_loads),
		T(test_shipped_policy_fault_windows),
		T(test_shipped_policy_equals_defaults),
		T(test_empty_policy_gives_defaults),
		T(test_btf_dir_defaults_under_install_prefix),
		T(test_btf_dir_explicit_is_kept),
		T(test_settings_are_read),
		T(test_large_max_bytes_as_int64),
		T(test_syntax_error_gives_libconfig_message_and_line),
		T(test_unknown_setting_refused),
		T(test_unknown_setting_in_group_refused),
		T(test_bool_given_string_refused),
		T(test_number_given_string_refused),
		T(test_number_given_float_refused),
		T(test_string_given_number_refused),
		T(test_group_given_scalar_refused),
		T(test_list_given_string_refused),
		T(test_list_entry_not_absolute_refused),
		T(test_list_entry_not_string_refused),
		T(test_recheck_interval_zero_out_of_range),
		T(test_negative_number_out_of_range),
		T(test_max_bytes_above_limit_out_of_range),
		T(test_keep_zero_out_of_range),
		T(test_bad_user_name_refused),
		T(test_leading_dash_group_name_refused),
		T(test_too_long_user_name_refused),
		T(test_relative_install_prefix_refused),
		T(test_bad_min_kernel_refused),
		T(test_low_water_not_below_high_water_refused),
		T(test_1024_exclusions_accepted),
		T(test_1025_exclusions_refused),
		T(test_missing_file_is_enoent),
		T(test_file_error_names_file_and_line),
		T(test_failed_load_leaves_policy_untouched),
		T(test_small_error_buffer_is_terminated),
		T(test_monitor_defaults),
		T(test_shipped_policy_monitor_settings),
		T(test_monitor_settings_are_read),
		T(test_on_execute_values),
		T(test_on_execute_bad_value_refused),
		T(test_net_mode_values),
		T(test_net_mode_bad_value_refused),
		T(test_scan_action_values_and_bad_value),
		T(test_scan_limits_action_values_and_bad_value),
		T(test_perm_timeout_ms_range),
		T(test_table_max_and_udp_interval_ranges),
		T(test_monitor_bools_and_lists_checked),
		T(test_blocklist_parsed_into_cidrs),
		T(test_blocklist_bad_entry_refused),
		T(test_blocklist_not_strings_refused),
		T(test_blocklist_file_read_and_appended),
		T(test_blocklist_file_alone_and_empty),
		T(test_blocklist_file_bad_line_refused),
		T(test_blocklist_file_missing_refused),
		T(test_blocklist_file_relative_refused),
		T(test_blocklist_max_entries),
		T(test_blocklist_inline_capped_at_list_limit),
		T(test_to_json_monitor_groups),
		T(test_to_json_values),
		T(test_to_json_round_trips),
		T(test_control_defaults_follow_admin_group),
		T(test_control_settings_checked),
		T(test_free_tolerates_null_and_zeroed),
	};
	log_set_level(LOG_CRIT);
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
