/* Unit tests of src/common/fault_catalog.c: the fixed numbering and names of
 * FAULTS.md, lookups and severity names, and the fields docs/faults.md is
 * generated from (tests/docs/faultdoc). */
#include "testutil.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fault_catalog.h"

struct expect {
	int id;
	const char *name;
	enum fault_severity severity;
	enum fault_feature feature;
};

static const struct expect expected[] = {
	{ 5, "Scan-as-user unavailable", FAULT_MAJOR, FEATURE_ALWAYS },
	{ 6, "Scan service restarting frequently", FAULT_MAJOR, FEATURE_ALWAYS },
	{ 7, "Scan service failed to start", FAULT_CRITICAL, FEATURE_ALWAYS },
	{ 8, "Real-time filesystem monitor failed to start", FAULT_CRITICAL, FEATURE_FILE_MONITOR },
	{ 9, "Real-time network monitor failed to start", FAULT_CRITICAL, FEATURE_NET_MONITOR },
	{ 11, "Kernel type information missing", FAULT_MAJOR, FEATURE_EBPF },
	{ 16, "Incompatible kernel", FAULT_CRITICAL, FEATURE_ANY_MONITOR },
	{ 18, "Event monitoring overloaded", FAULT_MAJOR, FEATURE_ANY_MONITOR },
	{ 19, "SELinux policy missing or disabled", FAULT_MAJOR, FEATURE_EBPF },
	{ 20, "Virus definitions out of date", FAULT_MAJOR, FEATURE_ALWAYS },
	{ 21, "Event log cannot be written", FAULT_MAJOR, FEATURE_ALWAYS },
	{ 22, "Process execution monitor failed to start", FAULT_MAJOR, FEATURE_PROC_MONITOR },
};

static void test_catalogue_has_the_fixed_faults_in_order(void **state)
{
	(void)state;
	assert_int_equal(fault_catalog_len, sizeof(expected) / sizeof(expected[0]));
	for (size_t i = 0; i < fault_catalog_len; i++) {
		assert_int_equal(fault_catalog[i].id, expected[i].id);
		assert_string_equal(fault_catalog[i].name, expected[i].name);
		assert_int_equal(fault_catalog[i].severity, expected[i].severity);
		assert_int_equal(fault_catalog[i].feature, expected[i].feature);
	}
}

static void test_enum_ids_match_numbers(void **state)
{
	(void)state;
	assert_int_equal(FAULT_SCAN_USER, 5);
	assert_int_equal(FAULT_KERNEL_BTF, 11);
	assert_int_equal(FAULT_KERNEL_INCOMPATIBLE, 16);
	assert_int_equal(FAULT_OVERLOAD, 18);
	assert_int_equal(FAULT_SELINUX, 19);
	assert_int_equal(FAULT_EVENT_LOG, 21);
}

static void test_every_remediation_is_sentences(void **state)
{
	(void)state;
	for (size_t i = 0; i < fault_catalog_len; i++) {
		const char *r = fault_catalog[i].remediation;
		assert_non_null(r);
		assert_true(strlen(r) > 20);
		assert_int_equal(r[strlen(r) - 1], '.');
	}
}

static void test_remediations_name_what_faults_md_asks(void **state)
{
	(void)state;
	assert_non_null(strstr(fault_def_find(5)->remediation, "0755"));
	assert_non_null(strstr(fault_def_find(5)->remediation, "USERGROUPS_ENAB"));
	assert_non_null(strstr(fault_def_find(19)->remediation,
			       "allow unconfined_service_t self:bpf { map_create map_read map_write "
			       "prog_load prog_run };"));
	assert_non_null(strstr(fault_def_find(18)->remediation, "process_exclusions"));
}

static bool nonempty_under(const char *path, const char *dir)
{
	return path && strncmp(path, dir, strlen(dir)) == 0 && strlen(path) > strlen(dir);
}

/* docs/faults.md is printed from these fields: each entry says what the
 * condition costs, which daemon file detects it and which health file raises
 * and clears it. */
static void test_every_entry_is_documented(void **state)
{
	(void)state;
	for (size_t i = 0; i < fault_catalog_len; i++) {
		const struct fault_def *d = &fault_catalog[i];
		const char *s = d->description;

		if (!s || !*s || s[strlen(s) - 1] != '.')
			fail_msg("fault %d: description empty or not ending in '.'", d->id);
		if (!nonempty_under(d->detected_in, "src/daemon/"))
			fail_msg("fault %d: detected_in \"%s\" is not under src/daemon/", d->id,
				 d->detected_in ? d->detected_in : "(null)");
		if (!nonempty_under(d->raised_in, "src/daemon/health/"))
			fail_msg("fault %d: raised_in \"%s\" is not under src/daemon/health/",
				 d->id, d->raised_in ? d->raised_in : "(null)");
	}
}

static void test_find_known_and_unknown(void **state)
{
	(void)state;
	const struct fault_def *d = fault_def_find(16);
	assert_non_null(d);
	assert_int_equal(d->id, 16);
	assert_ptr_equal(d, &fault_catalog[6]);
	assert_null(fault_def_find(10));
	assert_null(fault_def_find(0));
	assert_null(fault_def_find(-5));
}

static void test_index_known_and_unknown(void **state)
{
	(void)state;
	assert_int_equal(fault_def_index(5), 0);
	assert_int_equal(fault_def_index(21), 10);
	assert_int_equal(fault_def_index(17), -ENOENT);
}

static void test_severity_names(void **state)
{
	(void)state;
	assert_string_equal(fault_severity_name(FAULT_MINOR), "minor");
	assert_string_equal(fault_severity_name(FAULT_MAJOR), "major");
	assert_string_equal(fault_severity_name(FAULT_CRITICAL), "critical");
	assert_string_equal(fault_severity_name((enum fault_severity)7), "unknown");
}

static void test_severity_from_name(void **state)
{
	(void)state;
	assert_int_equal(fault_severity_from_name("minor"), FAULT_MINOR);
	assert_int_equal(fault_severity_from_name("major"), FAULT_MAJOR);
	assert_int_equal(fault_severity_from_name("critical"), FAULT_CRITICAL);
	assert_int_equal(fault_severity_from_name("Major"), -EINVAL);
	assert_int_equal(fault_severity_from_name(""), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalogue_has_the_fixed_faults_in_order),
		cmocka_unit_test(test_enum_ids_match_numbers),
		cmocka_unit_test(test_every_remediation_is_sentences),
		cmocka_unit_test(test_remediations_name_what_faults_md_asks),
		cmocka_unit_test(test_every_entry_is_documented),
		cmocka_unit_test(test_find_known_and_unknown),
		cmocka_unit_test(test_index_known_and_unknown),
		cmocka_unit_test(test_severity_names),
		cmocka_unit_test(test_severity_from_name),
	};
	return cmocka_run_group_tests_name("fault_catalog", tests, NULL, NULL);
}
