#include "overload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct overload_count {
	char exe[256];
	uint64_t n;
	UT_hash_handle hh;
};

void overload_init(struct overload *o, double now)
{
	*o = (struct overload){ .last_tick = now, .window_start = now };
}

static void drop_counts(struct overload *o)
{
	struct overload_count *c, *tmp;
	HASH_ITER(hh, o->counts, c, tmp) {
		HASH_DEL(o->counts, c);
		free(c);
	}
	o->n_counts = 0;
}

void overload_done(struct overload *o)
{
	drop_counts(o);
}

void overload_count(struct overload *o, const char *exe)
{
	struct overload_count *c;
	/* Past the bound, new executables share one line: the count stays whole. */
	if (!exe || !*exe)
		exe = "(unknown)";
	HASH_FIND_STR(o->counts, exe, c);
	if (!c && o->n_counts >= OVERLOAD_MAX_SOURCES) {
		exe = "(other)";
		HASH_FIND_STR(o->counts, exe, c);
	}
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return;
		snprintf(c->exe, sizeof(c->exe), "%s", exe);
		HASH_ADD_STR(o->counts, exe, c);
		o->n_counts++;
	}
	c->n++;
}

/* The window's busiest sources become the top list; the counts restart. */
static void close_window(struct overload *o, double now)
{
	double span = now - o->window_start > 0 ? now - o->window_start : 1;
	struct overload_count *c, *tmp;
	o->n_top = 0;
	HASH_ITER(hh, o->counts, c, tmp) {
		double rate = c->n / span;
		size_t i = o->n_top;
		while (i > 0 && o->top[i - 1].rate < rate)
			i--;
		if (i >= OVERLOAD_TOP)
			continue;
		size_t last = o->n_top < OVERLOAD_TOP ? o->n_top : OVERLOAD_TOP - 1;
		memmove(&o->top[i + 1], &o->top[i], (last - i) * sizeof(o->top[0]));
		snprintf(o->top[i].exe, sizeof(o->top[i].exe), "%s", c->exe);
		o->top[i].rate = rate;
		if (o->n_top < OVERLOAD_TOP)
			o->n_top++;
	}
	drop_counts(o);
	o->window_start = now;
}

enum overload_change overload_tick(struct overload *o, const struct overload_config *c, double now,
				   const struct overload_sample *s)
{
	double dt = now - o->last_tick > 0 ? now - o->last_tick : 1;
	double start = o->last_tick;
	enum overload_change change = OVERLOAD_SAME;

	o->rate = (s->seen + s->suppressed) / dt;
	o->seen_total += s->seen;
	o->suppressed_total += s->suppressed;
	o->dropped_total += s->dropped;
	if (s->queue > o->queue_hwm)
		o->queue_hwm = s->queue;
	o->last_tick = now;
	close_window(o, now);

	bool hot = s->dropped > 0 || s->queue > c->queue_high;
	bool calm = s->dropped == 0 && s->queue <= c->queue_low && o->rate <= c->rate_low;
	if (!o->degraded) {
		if (!hot) {
			o->hot = false;
			return OVERLOAD_SAME;
		}
		if (!o->hot) {
			o->hot = true;
			o->hot_since = start;
		}
		if (now - o->hot_since >= c->grace) {
			o->degraded = true;
			o->calm = false;
			change = OVERLOAD_ENTERED;
		}
		return change;
	}
	if (s->critical_dropped > 0 && !o->critical) {
		o->critical = true;
		change = OVERLOAD_CRITICAL;
	}
	if (!calm) {
		o->calm = false;
		return change;
	}
	if (!o->calm) {
		o->calm = true;
		o->calm_since = start;
	}
	if (now - o->calm_since >= c->calm) {
		o->degraded = false;
		o->critical = false;
		o->hot = false;
		o->calm = false;
		change = OVERLOAD_LEFT;
	}
	return change;
}

void overload_detail(const struct overload *o, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%llu events lost, scan queue high-water %llu, %.0f events/s",
			 (unsigned long long)o->dropped_total, (unsigned long long)o->queue_hwm,
			 o->rate);
	for (size_t i = 0; i < o->n_top && n >= 0 && (size_t)n < len; i++)
		n += snprintf(buf + n, len - n, "%s%s %.0f/s", i ? ", " : "; top sources: ",
			      o->top[i].exe, o->top[i].rate);
}
