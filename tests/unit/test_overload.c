/* Unit tests of src/daemon/overload.c: fault 18's decisions from counts. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "health/overload.h"

static const struct overload_config cfg = {
	.grace = 3, .calm = 5, .queue_high = 100, .queue_low = 10, .rate_low = 50,
};

static enum overload_change tick(struct overload *o, double now, uint64_t seen, uint64_t dropped,
				 uint64_t queue)
{
	struct overload_sample s = { .seen = seen, .dropped = dropped, .queue = queue };
	return overload_tick(o, &cfg, now, &s);
}

static void test_quiet_stays_normal(void **state)
{
	(void)state;
	struct overload o;
	overload_init(&o, 0);
	for (int t = 1; t <= 20; t++)
		assert_int_equal(tick(&o, t, 10, 0, 5), OVERLOAD_SAME);
	assert_false(o.degraded);
	overload_done(&o);
}

static void test_drops_longer_than_grace_degrade(void **state)
{
	(void)state;
	struct overload o;
	overload_init(&o, 0);
	/* Hot from t=0: after 1 and 2 s still within the 3 s grace. */
	assert_int_equal(tick(&o, 1, 1000, 5, 0), OVERLOAD_SAME);
	assert_int_equal(tick(&o, 2, 1000, 5, 0), OVERLOAD_SAME);
	assert_int_equal(tick(&o, 3, 1000, 5, 0), OVERLOAD_ENTERED);
	assert_true(o.degraded);
	assert_int_equal(o.dropped_total, 15);
	overload_done(&o);
}

static void test_a_calm_tick_resets_the_grace(void **state)
{
	(void)state;
	struct overload o;
	overload_init(&o, 0);
	tick(&o, 1, 0, 1, 0);
	tick(&o, 2, 0, 1, 0);
	tick(&o, 3, 0, 0, 0); /* no drop, queue low: the stretch ends */
	/* The next stretch starts with the interval from 3 s. */
	assert_int_equal(tick(&o, 4, 0, 1, 0), OVERLOAD_SAME);
	assert_int_equal(tick(&o, 5, 0, 1, 0), OVERLOAD_SAME);
	assert_int_equal(tick(&o, 6, 0, 1, 0), OVERLOAD_ENTERED);
	overload_done(&o);
}

static void test_queue_above_high_water_degrades(void **state)
{
	(void)state;
	struct overload o;
	overload_init(&o, 0);
	tick(&o, 1, 0, 0, 101);
	tick(&o, 2, 0, 0, 500);
	assert_int_equal(tick(&o, 3, 0, 0, 101), OVERLOAD_ENTERED);
	assert_int_equal(o.queue_hwm, 500);
	overload_done(&o);
}

static void test_calm_for_the_calm_period_leaves(void **state)
{
	(void)state;
	struct overload o;
	overload_init(&o, 0);
	for (int t = 1; t <= 3; t++)
		tick(&o, t, 0, 1, 0);
	assert_true(o.degraded);
	/* Queue between low and high water: not calm, not hot. */
	assert_int_equal(tick(&o, 4, 0, 0, 50), OVERLOAD_SAME);
	/* A rate above rate_low (suppressed events count) is not calm either. */
	struct overload_sample busy = { .seen = 10, .suppressed = 100 };
	assert_int_equal(overload_tick(&o, &cfg, 5, &busy), OVERLOAD_SAME);
	for (int t = 6; t <= 9; t++)
		assert_int_equal(tick(&o, t, 20, 0, 3), OVERLOAD_SAME);
	assert_int_equal(tick(&o, 10, 20, 0, 3), OVERLOAD_LEFT);
	assert_false(o.degraded);
	overload_done(&o);
}

static void test_critical_drops_while_degraded_escalate_once(void **state)
{
	(void)state;
	struct overload o;
	overload_init(&o, 0);
	for (int t = 1; t <= 3; t++)
		tick(&o, t, 0, 1, 0);
	struct overload_sample s = { .dropped = 4, .critical_dropped = 2 };
	assert_int_equal(overload_tick(&o, &cfg, 4, &s), OVERLOAD_CRITICAL);
	assert_int_equal(overload_tick(&o, &cfg, 5, &s), OVERLOAD_SAME);
	assert_true(o.critical);
	for (int t = 6; t <= 10; t++)
		tick(&o, t, 0, 0, 0);
	assert_false(o.degraded);
	assert_false(o.critical);
	overload_done(&o);
}

static void test_top_sources_by_rate(void **state)
{
	(void)state;
	struct overload o;
	char detail[512];
	overload_init(&o, 0);
	for (int i = 0; i < 300; i++)
		overload_count(&o, "/usr/bin/flood");
	for (int i = 0; i < 20; i++)
		overload_count(&o, "/usr/bin/cp");
	overload_count(&o, NULL);
	for (int t = 1; t <= 6; t++)
		overload_count(&o, (char[]){ (char)('a' + t), 0 });
	tick(&o, 2, 327, 7, 0);
	assert_int_equal(o.n_top, OVERLOAD_TOP);
	assert_string_equal(o.top[0].exe, "/usr/bin/flood");
	assert_true(o.top[0].rate == 150.0);
	assert_string_equal(o.top[1].exe, "/usr/bin/cp");
	overload_detail(&o, detail, sizeof(detail));
	assert_non_null(strstr(detail, "7 events lost"));
	assert_non_null(strstr(detail, "top sources: /usr/bin/flood 150/s, /usr/bin/cp 10/s"));
	overload_done(&o);
}

static void test_sources_are_bounded(void **state)
{
	(void)state;
	struct overload o;
	char exe[32];
	overload_init(&o, 0);
	for (int i = 0; i < OVERLOAD_MAX_SOURCES + 100; i++) {
		snprintf(exe, sizeof(exe), "/bin/x%d", i);
		overload_count(&o, exe);
	}
	assert_int_equal(o.n_counts, OVERLOAD_MAX_SOURCES + 1); /* + "(other)" */
	tick(&o, 1, 0, 0, 0);
	assert_string_equal(o.top[0].exe, "(other)");
	assert_true(o.top[0].rate == 100.0);
	overload_done(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quiet_stays_normal),
		cmocka_unit_test(test_drops_longer_than_grace_degrade),
		cmocka_unit_test(test_a_calm_tick_resets_the_grace),
		cmocka_unit_test(test_queue_above_high_water_degrades),
		cmocka_unit_test(test_calm_for_the_calm_period_leaves),
		cmocka_unit_test(test_critical_drops_while_degraded_escalate_once),
		cmocka_unit_test(test_top_sources_by_rate),
		cmocka_unit_test(test_sources_are_bounded),
	};
	return cmocka_run_group_tests_name("overload", tests, NULL, NULL);
}
