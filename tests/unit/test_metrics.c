/* Unit tests of src/daemon/metrics.c: the Prometheus textfile. */
#include "testutil.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/faults.h"
#include "core/metrics.h"

struct fixture {
	char *dir;
	struct faults fs;
	struct metrics_extra x;
	char *text;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	void *dir;

	if (!fx || tu_tmpdir_setup(&dir) < 0)
		return -1;
	fx->dir = dir;
	if (faults_init(&fx->fs, NULL, NULL, NULL) < 0)
		return -1;
	fx->x = (struct metrics_extra){ .started_at = 1700000000, .events_total = 42, .events_lost = 3 };
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	void *dir = fx->dir;

	free(fx->text);
	faults_done(&fx->fs);
	tu_tmpdir_teardown(&dir);
	free(fx);
	return 0;
}

static const char *render(struct fixture *fx)
{
	free(fx->text);
	fx->text = NULL;
	assert_int_equal(metrics_render(&fx->fs, &fx->x, &fx->text), 0);
	assert_non_null(fx->text);
	return fx->text;
}

/* The text has this exact line. */
static void assert_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *s = text; (s = strstr(s, line)); s++)
		if ((s == text || s[-1] == '\n') && s[n] == '\n')
			return;
	fail_msg("line not found: %s", line);
}

static int count_prefix(const char *text, const char *prefix)
{
	int n = 0;
	for (const char *line = text; *line;) {
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			n++;
		const char *nl = strchr(line, '\n');
		if (!nl)
			break;
		line = nl + 1;
	}
	return n;
}

static void test_every_fault_has_active_line(void **state)
{
	struct fixture *fx = *state;
	const char *t = render(fx);

	assert_int_equal(count_prefix(t, "picket_fault_active{"), (int)fault_catalog_len);
	assert_int_equal(count_prefix(t, "picket_fault_raised_total{"), (int)fault_catalog_len);
	assert_line(t, "picket_fault_active{id=\"5\",name=\"Scan-as-user unavailable\",severity=\"major\"} 0");
	assert_line(t, "picket_fault_active{id=\"7\",name=\"Scan service failed to start\","
		       "severity=\"critical\"} 0");
	assert_line(t, "picket_fault_raised_total{id=\"5\"} 0");
}

static void test_raised_fault_is_1(void **state)
{
	struct fixture *fx = *state;

	faults_raise(&fx->fs, 5, "scan user 'picket-scan' does not exist");
	const char *t = render(fx);
	assert_line(t, "picket_fault_active{id=\"5\",name=\"Scan-as-user unavailable\",severity=\"major\"} 1");
	assert_line(t, "picket_fault_raised_total{id=\"5\"} 1");
	assert_line(t, "picket_fault_active{id=\"6\",name=\"Scan service restarting frequently\","
		       "severity=\"major\"} 0");
}

static void test_cleared_fault_back_to_0_count_kept(void **state)
{
	struct fixture *fx = *state;

	faults_raise(&fx->fs, 5, "x");
	faults_clear(&fx->fs, 5);
	faults_raise(&fx->fs, 5, "x");
	faults_clear(&fx->fs, 5);
	const char *t = render(fx);
	assert_line(t, "picket_fault_active{id=\"5\",name=\"Scan-as-user unavailable\",severity=\"major\"} 0");
	assert_line(t, "picket_fault_raised_total{id=\"5\"} 2");
}

static void test_severity_counts(void **state)
{
	struct fixture *fx = *state;

	faults_raise(&fx->fs, 5, "");
	faults_raise(&fx->fs, 18, "");
	faults_raise(&fx->fs, 8, "");
	const char *t = render(fx);
	assert_line(t, "picket_faults_active{severity=\"critical\"} 1");
	assert_line(t, "picket_faults_active{severity=\"major\"} 2");
	assert_line(t, "picket_faults_active{severity=\"minor\"} 0");
}

static void test_escalated_severity_shown(void **state)
{
	struct fixture *fx = *state;

	faults_raise(&fx->fs, 6, "");
	faults_escalate(&fx->fs, 6, FAULT_CRITICAL, "");
	const char *t = render(fx);
	assert_line(t, "picket_fault_active{id=\"6\",name=\"Scan service restarting frequently\","
		       "severity=\"critical\"} 1");
	assert_line(t, "picket_faults_active{severity=\"critical\"} 1");
	assert_line(t, "picket_faults_active{severity=\"major\"} 0");
}

static void test_extra_values(void **state)
{
	struct fixture *fx = *state;
	const char *t = render(fx);

	assert_line(t, "picket_start_time_seconds 1700000000");
	assert_line(t, "picket_events_total 42");
	assert_line(t, "picket_events_lost_total 3");
}

/* Per file and class; alerts.jsonl holds alerts only. */
static void test_events_rotated(void **state)
{
	struct fixture *fx = *state;
	struct metrics_extra x = { .started_at = 1 };
	x.events_rotated[EVENTLOG_EVENTS][EVENTLOG_ACTIVITY] = 2000;
	x.events_rotated[EVENTLOG_EVENTS][EVENTLOG_ALERT] = 2;
	x.events_rotated[EVENTLOG_ALERTS][EVENTLOG_ALERT] = 1;
	char *t = NULL;
	assert_int_equal(metrics_render(&fx->fs, &x, &t), 0);
	assert_line(t, "picket_events_rotated_total{log=\"events\",class=\"activity\"} 2000");
	assert_line(t, "picket_events_rotated_total{log=\"events\",class=\"alert\"} 2");
	assert_line(t, "picket_events_rotated_total{log=\"alerts\",class=\"alert\"} 1");
	assert_int_equal(count_prefix(t, "picket_events_rotated_total{"), 3);
	free(t);
}

static void test_monitor_counters(void **state)
{
	struct fixture *fx = *state;
	struct metrics_extra x = { .started_at = 1, .degraded = true, .n_mon = 2 };
	x.mon[0] = (struct metrics_monitor){ "process", true, { .seen = 10, .dropped = 2 } };
	x.mon[1] = (struct metrics_monitor){ "network", false, { .excluded = 7, .suppressed = 5 } };
	char *t = NULL;
	assert_int_equal(metrics_render(&fx->fs, &x, &t), 0);
	assert_line(t, "picket_mode_degraded 1");
	assert_line(t, "picket_monitor_running{monitor=\"process\"} 1");
	assert_line(t, "picket_monitor_running{monitor=\"network\"} 0");
	assert_line(t, "picket_monitor_events_seen_total{monitor=\"process\"} 10");
	assert_line(t, "picket_monitor_events_dropped_total{monitor=\"process\"} 2");
	assert_line(t, "picket_monitor_events_excluded_total{monitor=\"network\"} 7");
	assert_line(t, "picket_monitor_events_suppressed_total{monitor=\"network\"} 5");
	assert_line(t, "# TYPE picket_monitor_events_dropped_total counter");
	free(t);
}

static void test_help_and_type_for_each_metric(void **state)
{
	struct fixture *fx = *state;
	const char *t = render(fx);

	assert_int_equal(count_prefix(t, "# HELP "), 8);
	assert_int_equal(count_prefix(t, "# TYPE "), 8);
	assert_line(t, "# TYPE picket_mode_degraded gauge");
	assert_line(t, "# TYPE picket_fault_active gauge");
	assert_line(t, "# TYPE picket_fault_raised_total counter");
	assert_line(t, "# TYPE picket_faults_active gauge");
	assert_line(t, "# TYPE picket_events_lost_total counter");
	assert_line(t, "# TYPE picket_events_rotated_total counter");
	assert_int_equal(t[strlen(t) - 1], '\n');
}

/* Label values are escaped as the exposition format asks: a fault_def of our
 * own stands in for a catalogue entry. */
static void test_label_values_escaped(void **state)
{
	struct fixture *fx = *state;
	static const struct fault_def odd = { .id = 99,
					      .name = "a \"quoted\" back\\slash\nnewline",
					      .severity = FAULT_MINOR,
					      .feature = FEATURE_ALWAYS,
					      .remediation = "Nothing." };

	fx->fs.st[0].def = &odd;
	fx->fs.st[0].severity = FAULT_MINOR;
	fx->fs.st[0].active = true;
	const char *t = render(fx);
	assert_line(t, "picket_fault_active{id=\"99\",name=\"a \\\"quoted\\\" back\\\\slash\\nnewline\","
		       "severity=\"minor\"} 1");
	assert_line(t, "picket_faults_active{severity=\"minor\"} 1");
}

static void test_write_file_matches_render(void **state)
{
	struct fixture *fx = *state;
	const char *path = tu_path(fx->dir, "picket.prom");
	struct stat st;

	faults_raise(&fx->fs, 19, "");
	assert_int_equal(metrics_write(path, &fx->fs, &fx->x), 0);
	char *file = tu_read(path);
	assert_string_equal(file, render(fx));
	free(file);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(tu_count_entries(fx->dir), 1);
}

static void test_write_into_missing_dir_fails(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(metrics_write(tu_path(fx->dir, "no/picket.prom"), &fx->fs, &fx->x), -ENOENT);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_every_fault_has_active_line),
		T(test_raised_fault_is_1),
		T(test_cleared_fault_back_to_0_count_kept),
		T(test_severity_counts),
		T(test_escalated_severity_shown),
		T(test_extra_values),
		T(test_events_rotated),
		T(test_monitor_counters),
		T(test_help_and_type_for_each_metric),
		T(test_label_values_escaped),
		T(test_write_file_matches_render),
		T(test_write_into_missing_dir_fails),
	};
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
