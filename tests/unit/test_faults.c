/* Unit tests of src/daemon/faults.c: transitions and their events, applies,
 * escalation, counts, persistence and the refusal of a corrupt state file. */
#include "testutil.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/faults.h"
#include "jsonutil.h"
#include "log.h"

/* What the emit callback saw. */
struct seen {
	int raised, cleared;
	int last_id;
	enum fault_severity last_severity;
	bool last_active;
	char last_detail[FAULT_DETAIL_MAX];
};

static void on_emit(enum fault_transition t, const struct fault_state *f, void *ud)
{
	struct seen *s = ud;
	if (t == FAULT_RAISED)
		s->raised++;
	else
		s->cleared++;
	s->last_id = f->def->id;
	s->last_severity = f->severity;
	s->last_active = f->active;
	snprintf(s->last_detail, sizeof(s->last_detail), "%s", f->detail);
}

struct fixture {
	char *dir;
	char state_path[PATH_MAX];
	struct faults fs;
	struct seen seen;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	void *dir;

	if (!fx || tu_tmpdir_setup(&dir) < 0)
		return -1;
	fx->dir = dir;
	snprintf(fx->state_path, sizeof(fx->state_path), "%s/faults.json", fx->dir);
	if (faults_init(&fx->fs, NULL, on_emit, &fx->seen) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	void *dir = fx->dir;

	faults_done(&fx->fs);
	tu_tmpdir_teardown(&dir);
	free(fx);
	return 0;
}

/* A registry persisted at the fixture's state path. */
static void persisted(struct fixture *fx, struct faults *fs, struct seen *seen)
{
	assert_int_equal(faults_init(fs, fx->state_path, on_emit, seen), 0);
}

static void test_init_all_cleared_and_applicable(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(fx->fs.n, fault_catalog_len);
	for (size_t i = 0; i < fx->fs.n; i++) {
		assert_false(fx->fs.st[i].active);
		assert_true(fx->fs.st[i].applies);
		assert_int_equal(fx->fs.st[i].severity, fault_catalog[i].severity);
		assert_int_equal(fx->fs.st[i].raise_count, 0);
	}
}

static void test_raise_emits_once(void **state)
{
	struct fixture *fx = *state;
	time_t before = time(NULL);

	assert_int_equal(faults_raise(&fx->fs, 5, "scan user 'picket-scan' does not exist"), 1);
	assert_int_equal(fx->seen.raised, 1);
	assert_int_equal(fx->seen.last_id, 5);
	assert_true(fx->seen.last_active);
	assert_string_equal(fx->seen.last_detail, "scan user 'picket-scan' does not exist");
	const struct fault_state *f = faults_get(&fx->fs, 5);
	assert_true(f->active);
	assert_int_equal(f->raise_count, 1);
	assert_true(f->raised_at >= before && f->raised_at <= time(NULL));
	assert_true(faults_is_active(&fx->fs, 5));
}

static void test_reraise_updates_detail_without_event(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(faults_raise(&fx->fs, 18, "first"), 1);
	assert_int_equal(faults_raise(&fx->fs, 18, "second"), 0);
	assert_int_equal(fx->seen.raised, 1);
	assert_string_equal(faults_get(&fx->fs, 18)->detail, "second");
	assert_int_equal(faults_get(&fx->fs, 18)->raise_count, 1);
}

static void test_clear_emits_once(void **state)
{
	struct fixture *fx = *state;

	faults_raise(&fx->fs, 7, "x");
	assert_int_equal(faults_clear(&fx->fs, 7), 1);
	assert_int_equal(fx->seen.cleared, 1);
	assert_int_equal(fx->seen.last_id, 7);
	assert_false(fx->seen.last_active);
	assert_false(faults_is_active(&fx->fs, 7));
	assert_true(faults_get(&fx->fs, 7)->cleared_at > 0);
}

static void test_clear_of_cleared_emits_nothing(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(faults_clear(&fx->fs, 7), 0);
	faults_raise(&fx->fs, 7, "x");
	faults_clear(&fx->fs, 7);
	assert_int_equal(faults_clear(&fx->fs, 7), 0);
	assert_int_equal(fx->seen.cleared, 1);
}

static void test_raise_again_after_clear_counts(void **state)
{
	struct fixture *fx = *state;

	faults_raise(&fx->fs, 9, "a");
	faults_clear(&fx->fs, 9);
	assert_int_equal(faults_raise(&fx->fs, 9, "b"), 1);
	assert_int_equal(fx->seen.raised, 2);
	assert_int_equal(faults_get(&fx->fs, 9)->raise_count, 2);
}

static void test_unknown_id_is_enoent(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(faults_raise(&fx->fs, 10, "x"), -ENOENT);
	assert_int_equal(faults_clear(&fx->fs, 10), -ENOENT);
	assert_int_equal(faults_escalate(&fx->fs, 10, FAULT_CRITICAL, "x"), -ENOENT);
	assert_int_equal(faults_set_applies(&fx->fs, 10, false), -ENOENT);
	assert_null(faults_get(&fx->fs, 10));
	assert_false(faults_is_active(&fx->fs, 10));
	assert_int_equal(fx->seen.raised + fx->seen.cleared, 0);
}

static void test_long_detail_is_cut(void **state)
{
	struct fixture *fx = *state;
	char detail[FAULT_DETAIL_MAX * 2];

	memset(detail, 'd', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	faults_raise(&fx->fs, 5, detail);
	assert_int_equal(strlen(faults_get(&fx->fs, 5)->detail), FAULT_DETAIL_MAX - 1);
}

static void test_set_applies_false_clears_and_blocks(void **state)
{
	struct fixture *fx = *state;

	faults_raise(&fx->fs, 8, "fanotify_init: EPERM");
	assert_int_equal(faults_set_applies(&fx->fs, 8, false), 1);
	assert_int_equal(fx->seen.cleared, 1);
	assert_false(faults_is_active(&fx->fs, 8));
	assert_int_equal(faults_raise(&fx->fs, 8, "again"), 0);
	assert_false(faults_is_active(&fx->fs, 8));
	assert_int_equal(fx->seen.raised, 1);
	assert_false(faults_get(&fx->fs, 8)->applies);
}

static void test_set_applies_true_allows_raise(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(faults_set_applies(&fx->fs, 9, false), 0);
	assert_int_equal(fx->seen.cleared, 0);
	assert_int_equal(faults_set_applies(&fx->fs, 9, true), 0);
	assert_int_equal(faults_raise(&fx->fs, 9, "x"), 1);
}

static void test_escalate_raises_severity_with_event(void **state)
{
	struct fixture *fx = *state;

	faults_raise(&fx->fs, 6, "3 crashes in 300s");
	assert_int_equal(faults_escalate(&fx->fs, 6, FAULT_CRITICAL, "still crashing after 600s"), 1);
	assert_int_equal(fx->seen.raised, 2);
	assert_int_equal(fx->seen.last_severity, FAULT_CRITICAL);
	assert_string_equal(faults_get(&fx->fs, 6)->detail, "still crashing after 600s");
	assert_int_equal(faults_get(&fx->fs, 6)->raise_count, 1);
}

static void test_escalate_not_above_or_inactive_is_noop(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(faults_escalate(&fx->fs, 6, FAULT_CRITICAL, "x"), 0);
	faults_raise(&fx->fs, 6, "a");
	assert_int_equal(faults_escalate(&fx->fs, 6, FAULT_MAJOR, "b"), 0);
	assert_int_equal(faults_escalate(&fx->fs, 6, FAULT_MINOR, "b"), 0);
	assert_string_equal(faults_get(&fx->fs, 6)->detail, "a");
	assert_int_equal(fx->seen.raised, 1);
}

static void test_clear_resets_escalated_severity(void **state)
{
	struct fixture *fx = *state;

	faults_raise(&fx->fs, 6, "a");
	faults_escalate(&fx->fs, 6, FAULT_CRITICAL, "b");
	faults_clear(&fx->fs, 6);
	assert_int_equal(fx->seen.last_severity, FAULT_CRITICAL);
	assert_int_equal(faults_get(&fx->fs, 6)->severity, FAULT_MAJOR);
	faults_raise(&fx->fs, 6, "c");
	assert_int_equal(faults_get(&fx->fs, 6)->severity, FAULT_MAJOR);
}

static void test_count_by_severity(void **state)
{
	struct fixture *fx = *state;
	unsigned c[3] = { 9, 9, 9 };

	faults_count(&fx->fs, c);
	assert_int_equal(c[FAULT_MINOR] + c[FAULT_MAJOR] + c[FAULT_CRITICAL], 0);
	faults_raise(&fx->fs, 5, "");
	faults_raise(&fx->fs, 18, "");
	faults_raise(&fx->fs, 6, "");
	faults_raise(&fx->fs, 7, "");
	faults_escalate(&fx->fs, 6, FAULT_CRITICAL, "");
	faults_count(&fx->fs, c);
	assert_int_equal(c[FAULT_MINOR], 0);
	assert_int_equal(c[FAULT_MAJOR], 2);
	assert_int_equal(c[FAULT_CRITICAL], 2);
}

static void test_to_json_fields(void **state)
{
	struct fixture *fx = *state;
	struct json_object *v;

	faults_raise(&fx->fs, 19, "module missing");
	_cleanup_json_ struct json_object *o = fault_state_to_json(faults_get(&fx->fs, 19), true);
	assert_true(json_object_object_get_ex(o, "id", &v));
	assert_int_equal(json_object_get_int(v), 19);
	assert_true(json_object_object_get_ex(o, "name", &v));
	assert_string_equal(json_object_get_string(v), "SELinux policy missing or disabled");
	assert_true(json_object_object_get_ex(o, "severity", &v));
	assert_string_equal(json_object_get_string(v), "major");
	assert_true(json_object_object_get_ex(o, "state", &v));
	assert_string_equal(json_object_get_string(v), "active");
	assert_true(json_object_object_get_ex(o, "detail", &v));
	assert_string_equal(json_object_get_string(v), "module missing");
	assert_true(json_object_object_get_ex(o, "raise_count", &v));
	assert_int_equal(json_object_get_int(v), 1);
	assert_true(json_object_object_get_ex(o, "remediation", &v));
	assert_string_equal(json_object_get_string(v), fault_def_find(19)->remediation);
}

static void test_to_json_remedy_and_without(void **state)
{
	struct fixture *fx = *state;
	struct json_object *v;

	assert_int_equal(faults_raise_remedy(&fx->fs, 11, "no BTF", "install linux-headers"), 1);
	_cleanup_json_ struct json_object *o = fault_state_to_json(faults_get(&fx->fs, 11), true);
	assert_true(json_object_object_get_ex(o, "remediation", &v));
	assert_string_equal(json_object_get_string(v), "install linux-headers");
	_cleanup_json_ struct json_object *bare = fault_state_to_json(faults_get(&fx->fs, 11), false);
	assert_false(json_object_object_get_ex(bare, "remediation", NULL));
	_cleanup_json_ struct json_object *cleared = fault_state_to_json(faults_get(&fx->fs, 5), false);
	assert_true(json_object_object_get_ex(cleared, "state", &v));
	assert_string_equal(json_object_get_string(v), "cleared");
}

static void test_save_without_path_is_noop(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(faults_save(&fx->fs), 0);
	assert_int_equal(faults_load(&fx->fs), 0);
	assert_int_equal(tu_count_entries(fx->dir), 0);
}

static void test_transition_writes_state_file_0600(void **state)
{
	struct fixture *fx = *state;
	struct faults fs;
	struct seen seen = { 0 };
	struct stat st;

	persisted(fx, &fs, &seen);
	faults_raise(&fs, 5, "x");
	assert_int_equal(stat(fx->state_path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(tu_count_entries(fx->dir), 1);
	faults_done(&fs);
}

static void test_persistence_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct faults a, b;
	struct seen sa = { 0 }, sb = { 0 };

	persisted(fx, &a, &sa);
	faults_raise(&a, 5, "scan group 'picket-scan' does not exist");
	faults_raise_remedy(&a, 11, "no BTF", "install kernel-devel");
	faults_raise(&a, 6, "crashes");
	faults_escalate(&a, 6, FAULT_CRITICAL, "crashes, 600s");
	faults_raise(&a, 9, "gone");
	faults_clear(&a, 9);
	persisted(fx, &b, &sb);
	assert_int_equal(faults_load(&b), 0);
	assert_int_equal(sb.raised + sb.cleared, 0);
	for (size_t i = 0; i < a.n; i++) {
		const struct fault_state *x = &a.st[i], *y = &b.st[i];
		assert_int_equal(y->active, x->active);
		assert_int_equal(y->severity, x->severity);
		assert_string_equal(y->detail, x->detail);
		assert_string_equal(y->remedy, x->remedy);
		assert_int_equal(y->raised_at, x->raised_at);
		assert_int_equal(y->cleared_at, x->cleared_at);
		assert_int_equal(y->raise_count, x->raise_count);
	}
	assert_int_equal(faults_get(&b, 6)->severity, FAULT_CRITICAL);
	assert_string_equal(faults_get(&b, 11)->remedy, "install kernel-devel");
	faults_done(&a);
	faults_done(&b);
}

static void test_loaded_fault_reraise_is_silent(void **state)
{
	struct fixture *fx = *state;
	struct faults a, b;
	struct seen sa = { 0 }, sb = { 0 };

	persisted(fx, &a, &sa);
	faults_raise(&a, 16, "kernel 4.14.0 is older than the minimum 5.8");
	persisted(fx, &b, &sb);
	assert_int_equal(faults_load(&b), 0);
	assert_int_equal(faults_raise(&b, 16, "kernel 4.14.0 is older than the minimum 5.8"), 0);
	assert_int_equal(faults_clear(&b, 16), 1);
	assert_int_equal(sb.raised, 0);
	assert_int_equal(sb.cleared, 1);
	faults_done(&a);
	faults_done(&b);
}

static void test_missing_state_file_is_ok(void **state)
{
	struct fixture *fx = *state;
	struct faults fs;
	struct seen seen = { 0 };

	persisted(fx, &fs, &seen);
	assert_int_equal(faults_load(&fs), 0);
	assert_int_equal(tu_count_entries(fx->dir), 0);
	faults_done(&fs);
}

/* The text as the state file is refused: -EBADMSG, moved aside to .corrupt,
 * nothing emitted, every fault cleared. */
static void assert_corrupt(struct fixture *fx, const char *text)
{
	struct faults fs;
	struct seen seen = { 0 };
	char aside[PATH_MAX + 16];

	tu_write(fx->dir, "faults.json", text);
	persisted(fx, &fs, &seen);
	assert_int_equal(faults_load(&fs), -EBADMSG);
	assert_int_equal(access(fx->state_path, F_OK), -1);
	snprintf(aside, sizeof(aside), "%s.corrupt", fx->state_path);
	char *moved = tu_read(aside);
	assert_non_null(moved);
	assert_string_equal(moved, text);
	free(moved);
	for (size_t i = 0; i < fs.n; i++)
		assert_false(fs.st[i].active);
	assert_int_equal(seen.raised + seen.cleared, 0);
	faults_done(&fs);
}

static const char good_entry[] = "{\"id\":5,\"severity\":\"major\",\"state\":\"active\",\"detail\":\"d\","
				 "\"raised_at\":100,\"cleared_at\":0,\"raise_count\":1,\"remedy\":\"\"}";

static void test_corrupt_garbage(void **state)
{
	assert_corrupt(*state, "this is not JSON {");
}

static void test_corrupt_empty_file(void **state)
{
	assert_corrupt(*state, "");
}

static void test_corrupt_not_an_object(void **state)
{
	assert_corrupt(*state, "[1, 2, 3]");
}

static void test_corrupt_wrong_version(void **state)
{
	char text[1024];
	snprintf(text, sizeof(text), "{\"version\":2,\"faults\":[%s]}", good_entry);
	assert_corrupt(*state, text);
}

static void test_corrupt_unknown_id(void **state)
{
	assert_corrupt(*state, "{\"version\":1,\"faults\":[{\"id\":99,\"severity\":\"major\",\"state\":"
			       "\"active\",\"detail\":\"d\",\"raised_at\":1,\"cleared_at\":0,"
			       "\"raise_count\":1,\"remedy\":\"\"}]}");
}

static void test_corrupt_id_wrong_type(void **state)
{
	assert_corrupt(*state, "{\"version\":1,\"faults\":[{\"id\":\"5\",\"severity\":\"major\",\"state\":"
			       "\"active\",\"detail\":\"d\",\"raised_at\":1,\"cleared_at\":0,"
			       "\"raise_count\":1,\"remedy\":\"\"}]}");
}

static void test_corrupt_detail_wrong_type(void **state)
{
	assert_corrupt(*state, "{\"version\":1,\"faults\":[{\"id\":5,\"severity\":\"major\",\"state\":"
			       "\"active\",\"detail\":7,\"raised_at\":1,\"cleared_at\":0,"
			       "\"raise_count\":1,\"remedy\":\"\"}]}");
}

static void test_corrupt_unknown_severity(void **state)
{
	assert_corrupt(*state, "{\"version\":1,\"faults\":[{\"id\":5,\"severity\":\"extreme\",\"state\":"
			       "\"active\",\"detail\":\"d\",\"raised_at\":1,\"cleared_at\":0,"
			       "\"raise_count\":1,\"remedy\":\"\"}]}");
}

static void test_corrupt_negative_count(void **state)
{
	assert_corrupt(*state, "{\"version\":1,\"faults\":[{\"id\":5,\"severity\":\"major\",\"state\":"
			       "\"active\",\"detail\":\"d\",\"raised_at\":1,\"cleared_at\":0,"
			       "\"raise_count\":-1,\"remedy\":\"\"}]}");
}

static void test_corrupt_faults_not_array(void **state)
{
	assert_corrupt(*state, "{\"version\":1,\"faults\":{}}");
}

/* A bad entry after a good one: nothing of the good one is applied. */
static void test_corrupt_is_all_or_nothing(void **state)
{
	char text[1024];
	snprintf(text, sizeof(text), "{\"version\":1,\"faults\":[%s, {\"id\":6}]}", good_entry);
	assert_corrupt(*state, text);
}

static void test_valid_hand_written_state_loads(void **state)
{
	struct fixture *fx = *state;
	struct faults fs;
	struct seen seen = { 0 };
	char text[1024];

	snprintf(text, sizeof(text), "{\"version\":1,\"faults\":[%s]}", good_entry);
	tu_write(fx->dir, "faults.json", text);
	persisted(fx, &fs, &seen);
	assert_int_equal(faults_load(&fs), 0);
	assert_true(faults_is_active(&fs, 5));
	assert_string_equal(faults_get(&fs, 5)->detail, "d");
	assert_int_equal(faults_get(&fs, 5)->raised_at, 100);
	assert_false(faults_is_active(&fs, 6));
	faults_done(&fs);
}

/* One cause, one fault: the dependent is cleared and listed under its cause. */
static void test_set_cause_clears_and_relates(void **state)
{
	struct fixture *fx = *state;

	faults_raise(&fx->fs, FAULT_NET_MONITOR, "ebpf: not tried");
	faults_raise(&fx->fs, FAULT_KERNEL_INCOMPATIBLE, "kernel 4.14.0");
	fx->seen = (struct seen){ 0 };
	assert_int_equal(faults_set_cause(&fx->fs, FAULT_NET_MONITOR, FAULT_KERNEL_INCOMPATIBLE), 1);
	assert_int_equal(faults_set_cause(&fx->fs, FAULT_PROC_MONITOR, FAULT_KERNEL_INCOMPATIBLE), 0);
	assert_int_equal(fx->seen.cleared, 1);
	assert_false(faults_is_active(&fx->fs, FAULT_NET_MONITOR));

	_cleanup_json_ struct json_object *cause = json_object_new_object();
	faults_relations_json(&fx->fs, FAULT_KERNEL_INCOMPATIBLE, cause);
	assert_string_equal(json_object_to_json_string(cause), "{ \"affects\": [ 9, 22 ] }");
	_cleanup_json_ struct json_object *dep = json_object_new_object();
	faults_relations_json(&fx->fs, FAULT_PROC_MONITOR, dep);
	assert_string_equal(json_object_to_json_string(dep), "{ \"caused_by\": 16 }");

	/* The cause gone, nothing is related any more; a raise ends the relation. */
	faults_clear(&fx->fs, FAULT_KERNEL_INCOMPATIBLE);
	_cleanup_json_ struct json_object *after = json_object_new_object();
	faults_relations_json(&fx->fs, FAULT_PROC_MONITOR, after);
	assert_string_equal(json_object_to_json_string(after), "{ }");
	faults_raise(&fx->fs, FAULT_PROC_MONITOR, "ebpf: load procmon: Operation not permitted");
	assert_int_equal(faults_get(&fx->fs, FAULT_PROC_MONITOR)->caused_by, 0);
	assert_int_equal(faults_set_cause(&fx->fs, FAULT_PROC_MONITOR, 99), -ENOENT);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_init_all_cleared_and_applicable),
		T(test_raise_emits_once),
		T(test_reraise_updates_detail_without_event),
		T(test_clear_emits_once),
		T(test_clear_of_cleared_emits_nothing),
		T(test_raise_again_after_clear_counts),
		T(test_unknown_id_is_enoent),
		T(test_long_detail_is_cut),
		T(test_set_applies_false_clears_and_blocks),
		T(test_set_applies_true_allows_raise),
		T(test_escalate_raises_severity_with_event),
		T(test_escalate_not_above_or_inactive_is_noop),
		T(test_clear_resets_escalated_severity),
		T(test_count_by_severity),
		T(test_to_json_fields),
		T(test_to_json_remedy_and_without),
		T(test_save_without_path_is_noop),
		T(test_transition_writes_state_file_0600),
		T(test_persistence_round_trip),
		T(test_loaded_fault_reraise_is_silent),
		T(test_missing_state_file_is_ok),
		T(test_corrupt_garbage),
		T(test_corrupt_empty_file),
		T(test_corrupt_not_an_object),
		T(test_corrupt_wrong_version),
		T(test_corrupt_unknown_id),
		T(test_corrupt_id_wrong_type),
		T(test_corrupt_detail_wrong_type),
		T(test_corrupt_unknown_severity),
		T(test_corrupt_negative_count),
		T(test_corrupt_faults_not_array),
		T(test_corrupt_is_all_or_nothing),
		T(test_valid_hand_written_state_loads),
		T(test_set_cause_clears_and_relates),
	};
	log_set_level(LOG_CRIT);
	return cmocka_run_group_tests_name("faults", tests, NULL, NULL);
}
