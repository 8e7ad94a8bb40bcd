/* Unit tests of src/common/policy.c: the shipped policy, defaults, every
 * refusal with its exact file:line message, and the JSON form. */
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
			   "event_log = { max_bytes = 4096; keep = 100; };\n"
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
	(void)state;
	struct policy a = { 0 }, b = { 0 };
	char err[POLICY_ERR_MAX] = "", *text = NULL;
	size_t len = 0;
	const char *src = "monitor_file_copies_moves = false;\n"
			  "process_exclusions = [ \"/usr/bin/rsync\" ];\n"
			  "path_exclusions = [ \"/proc\", \"/srv/cache\" ];\n"
			  "admin_group = \"wheel\";\n"
			  "install_prefix = \"/usr/local/picket\";\n"
			  "min_kernel = \"5.15\";\n"
			  "event_log = { max_bytes = 5000000000L; keep = 9; };\n"
			  "faults = { scan_crash_count = 4; defs_max_age = 3600; min_mem_mb = 0; };\n";

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
	json_object_put(ja);
	json_object_put(jb);
	free(text);
	policy_free(&a);
	policy_free(&b);
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
		T(test_to_json_values),
		T(test_to_json_round_trips),
		T(test_free_tolerates_null_and_zeroed),
	};
	log_set_level(LOG_CRIT);
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
