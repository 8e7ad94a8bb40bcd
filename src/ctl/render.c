/* render.c - the human form of picketd's replies (render.h). */
#include "render.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "fault_catalog.h"

#define WRAP_WIDTH 78
#define STATUS_LABEL "%-11s" /* "Monitors:" and its padding up to the value column */
#define FAULT_LABEL "%-14s"  /* "Last cleared:" likewise */
#define FAULT_INDENT 14
#define TYPE_WIDTH 20 /* the longest event type, "scan_service_crashed" */
/* Scalars print bare; containers and strings needing quotes as plain JSON. */
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

const char *jget_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int64_t jget_int(struct json_object *o, const char *key, int64_t def)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return def;
	return json_object_get_int64(v);
}

bool jget_bool(struct json_object *o, const char *key, bool def)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
		return def;
	return json_object_get_boolean(v);
}

double jget_double(struct json_object *o, const char *key, double def)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) ||
	    (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)))
		return def;
	return json_object_get_double(v);
}

struct json_object *jget_obj(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}

struct json_object *jget_array(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

/* json_object_array_length() asserts on NULL; absent arrays count as empty. */
static size_t jlen(struct json_object *arr)
{
	return arr ? json_object_array_length(arr) : 0;
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static bool unsafe_byte(const unsigned char *s, size_t i, size_t len)
{
	/* C0, DEL, and C1 (U+0080..U+009F, two bytes in UTF-8): terminals act on them. */
	return s[i] < 0x20 || s[i] == 0x7f ||
	       (s[i] == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f);
}

/* Same length out as in, so the string is replaced in one piece. */
static int sanitize_string(struct json_object *s)
{
	const unsigned char *in = (const unsigned char *)json_object_get_string(s);
	size_t len = (size_t)json_object_get_string_len(s), i;

	for (i = 0; i < len && !unsafe_byte(in, i, len); i++)
		;
	if (i == len)
		return 0;
	_cleanup_free_ char *out = malloc(len + 1);
	if (!out)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		if (!unsafe_byte(in, i, len))
			out[i] = (char)in[i];
		else if (in[i] == '\t' || in[i] == '\n' || in[i] == '\r')
			out[i] = ' ';
		else if (in[i] == 0xc2)
			out[i] = out[i + 1] = '?', i++;
		else
			out[i] = '?';
	}
	out[len] = '\0';
	return json_object_set_string_len(s, out, (int)len) == 1 ? 0 : -ENOMEM; /* 1: set */
}

int render_sanitize(struct json_object *o)
{
	int r = 0;

	switch (json_object_get_type(o)) {
	case json_type_string:
		return sanitize_string(o);
	case json_type_array:
		for (size_t i = 0; i < jlen(o) && r >= 0; i++)
			r = render_sanitize(json_object_array_get_idx(o, i));
		return r;
	case json_type_object: {
		json_object_object_foreach(o, key, val)
		{
			(void)key; /* keys are the daemon's own field names */
			r = render_sanitize(val);
			if (r < 0)
				return r;
		}
		return 0;
	}
	default:
		return 0;
	}
}

/* Local time, "-" for 0: the daemon's "never". */
static void fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !localtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "-");
}

/* "2026-11-25T13:00:00.123Z" in local time like fmt_time, keeping the
 * fraction; anything else is shown as it came. */
static void fmt_event_time(const char *iso, char *buf, size_t len)
{
	struct tm tm = { 0 }, local;
	const char *rest = iso ? strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	size_t frac = rest && *rest == '.' ? 1 + strspn(rest + 1, "0123456789") : 0;
	time_t t;

	if (!rest || strcmp(rest + frac, "Z") != 0 || (t = timegm(&tm)) == (time_t)-1 ||
	    !localtime_r(&t, &local)) {
		snprintf(buf, len, "%s", or_dash(iso));
		return;
	}
	size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &local);
	snprintf(buf + n, len - n, "%.*s", (int)frac, rest);
}

static void fmt_uptime(int64_t s, char *buf, size_t len)
{
	int64_t d, h, m;

	s = s < 0 ? 0 : s;
	d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, s %= 60;
	if (d)
		snprintf(buf, len, "%" PRId64 "d %" PRId64 "h %" PRId64 "m", d, h, m);
	else if (h)
		snprintf(buf, len, "%" PRId64 "h %" PRId64 "m %" PRId64 "s", h, m, s);
	else if (m)
		snprintf(buf, len, "%" PRId64 "m %" PRId64 "s", m, s);
	else
		snprintf(buf, len, "%" PRId64 "s", s);
}

/* Prints text word by word from column col, continuing at column indent
 * before WRAP_WIDTH, then a newline.  Past indent the line already has text,
 * so the first word gets a space.  A word longer than a line stays whole. */
static void print_wrapped(const char *text, int col, int indent)
{
	bool empty = col <= indent;

	for (const char *p = text; *p;) {
		if (*p == ' ') {
			p++;
			continue;
		}
		int w = (int)strcspn(p, " ");
		if (!empty && col + 1 + w > WRAP_WIDTH) {
			printf("\n%*s", indent, "");
			col = indent, empty = true;
		}
		col += printf("%s%.*s", empty ? "" : " ", w, p);
		empty = false;
		p += w;
	}
	putchar('\n');
}

/* A value for "key=value" and "key = value": bare when it is one clean
 * token, else as JSON so spaces, quotes and lists stay unambiguous. */
static void print_value(struct json_object *v)
{
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		if (*s && !s[strcspn(s, " \"'=\\")]) {
			fputs(s, stdout);
			return;
		}
	}
	fputs(json_object_to_json_string_ext(v, JSON_FLAGS), stdout);
}

static bool fault_active(struct json_object *f)
{
	const char *state = jget_str(f, "state");
	return state && strcmp(state, "active") == 0;
}

/* Active first, then by id: for json_object_array_sort(). */
static int fault_cmp(const void *a, const void *b)
{
	struct json_object *x = *(struct json_object *const *)a;
	struct json_object *y = *(struct json_object *const *)b;
	int64_t ix = jget_int(x, "id", 0), iy = jget_int(y, "id", 0);

	if (fault_active(x) != fault_active(y))
		return fault_active(x) ? -1 : 1;
	return (ix > iy) - (ix < iy);
}

/* "1 critical, 2 major": the non-zero counts, most severe first. */
static void fmt_counts(struct json_object *faults, char *buf, size_t len)
{
	static const char *const sev[] = { "critical", "major", "minor" };
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(sev) && n < len; i++) {
		int64_t c = jget_int(faults, sev[i], 0);
		if (c > 0)
			n += snprintf(buf + n, len - n, "%s%" PRId64 " %s", n ? ", " : "", c,
				      sev[i]);
	}
}


static void status_policy(struct json_object *p)
{
	char when[32];

	fmt_time(jget_int(p, "loaded_at", 0), when, sizeof(when));
	printf(STATUS_LABEL "%s (loaded %s)\n", "Policy:", or_dash(jget_str(p, "path")), when);
}

/* "exec 12, fork 30" from an {"exec":12,"fork":30} object. */
static void fmt_events(struct json_object *ev, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	json_object_object_foreach(ev, k, v) {
		int n = snprintf(out + used, len - used, "%s%s %" PRId64, used ? ", " : "", k,
				 json_object_get_int64(v));
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += n;
	}
}

/* Fault 18's view: the mode, the rate, what was lost, the busiest sources. */
static void status_overload(struct json_object *o)
{
	struct json_object *top = jget_array(o, "top_sources");
	if (!o)
		return;
	bool degraded = strcmp(or_dash(jget_str(o, "mode")), "degraded") == 0;
	printf(STATUS_LABEL "%s, %.0f events/s, %" PRId64 " lost, %" PRId64
	       " left out, scan queue %" PRId64 " (high-water %" PRId64 ")\n",
	       "Overload:",
	       degraded ? "yes: degraded mode, only the critical set is monitored"
			: "no: every event is monitored",
	       jget_double(o, "rate", 0), jget_int(o, "dropped", 0), jget_int(o, "suppressed", 0),
	       jget_int(o, "scan_queue", 0), jget_int(o, "scan_queue_high_water", 0));
	for (size_t i = 0; i < jlen(top) && i < 3; i++) {
		struct json_object *t = json_object_array_get_idx(top, i);
		printf(STATUS_LABEL "%s %.0f/s\n", i == 0 ? "Busiest:" : "",
		       or_dash(jget_str(t, "exe")), jget_double(t, "rate", 0));
	}
}

/* One line a monitor: its state, then what it runs on and has seen, or why
 * it is not running. */
static void status_monitors(struct json_object *mons)
{
	static const char *const names[] = { "file", "process", "network" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct json_object *m = jget_obj(mons, names[i]);
		const char *state = or_dash(jget_str(m, "state"));
		char events[256];
		int col = printf(STATUS_LABEL "%s: %s", i == 0 ? "Monitors:" : "", names[i], state);
		if (strcmp(state, "running") == 0) {
			fmt_events(jget_obj(m, "events"), events, sizeof(events));
			printf(" (%s%s%s%s%s; lost %" PRId64 ")", or_dash(jget_str(m, "backend")),
			       jget_str(m, "attribution") ? ", processes from " : "",
			       jget_str(m, "attribution") ? jget_str(m, "attribution") : "",
			       events[0] ? "; " : "", events, jget_int(m, "lost", 0));
			putchar('\n');
		} else if (jget_str(m, "error")) {
			putchar(':');
			print_wrapped(jget_str(m, "error"), col + 1, 13);
		} else {
			putchar('\n');
		}
	}
	status_overload(jget_obj(mons, "overload"));
}

static void status_scanner(struct json_object *s)
{
	const char *detail = jget_str(s, "detail");

	printf(STATUS_LABEL "%s", "Scanner:", or_dash(jget_str(s, "state")));
	if (detail && *detail)
		printf(" (%s)", detail);
	putchar('\n');
}

static void status_host(struct json_object *h)
{
	const char *root = jget_str(h, "root");

	printf(STATUS_LABEL "%s, kernel %s", "Host:", or_dash(jget_str(h, "os")),
	       or_dash(jget_str(h, "kernel")));
	/* A host view pointed at a test tree is worth seeing at a glance. */
	if (root && *root && strcmp(root, "/") != 0)
		printf(", root %s", root);
	putchar('\n');
}

/* The faults a root cause keeps from being raised on their own, under it. */
static void status_affects(struct json_object *affects)
{
	for (size_t i = 0; i < jlen(affects); i++) {
		int id = json_object_get_int(json_object_array_get_idx(affects, i));
		const struct fault_def *def = fault_def_find(id);
		printf("%14s%s ID %d - %s\n", "", i ? "   " : "->", id, def ? def->name : "?");
	}
}

static void status_faults(struct json_object *faults)
{
	struct json_object *active = jget_array(faults, "active");
	char counts[128];

	fmt_counts(faults, counts, sizeof(counts));
	printf(STATUS_LABEL "%s\n", "Faults:", counts[0] ? counts : "none");
	if (active)
		json_object_array_sort(active, fault_cmp);
	for (size_t i = 0; i < jlen(active); i++) {
		struct json_object *f = json_object_array_get_idx(active, i);
		const char *detail = jget_str(f, "detail");
		int col = printf("%11sID %" PRId64 " - %s: %s", "", jget_int(f, "id", 0),
				 or_dash(jget_str(f, "severity")), or_dash(jget_str(f, "name")));
		if (detail && *detail) {
			putchar(':');
			print_wrapped(detail, col + 1, 13);
		} else {
			putchar('\n');
		}
		status_affects(jget_array(f, "affects"));
	}
}

/* The connector's protection, from the worst active fault (FAULTS.md). */
static void status_protection(struct json_object *reply)
{
	const char *p = or_dash(jget_str(reply, "protection"));
	const char *why = strcmp(p, "impaired") == 0  ? ": a protection is off (critical fault)"
			  : strcmp(p, "reduced") == 0 ? ": a protection is degraded (see Faults)"
						      : "";
	printf(STATUS_LABEL "%s%s\n", "Protected:", p, why);
}

/* Each log file: its size, what rotation removed, what waits or was lost. */
static void status_event_log(struct json_object *el)
{
	static const char *const files[] = { "events", "alerts" };
	for (size_t i = 0; el && i < ARRAY_SIZE(files); i++) {
		struct json_object *f = jget_obj(el, files[i]), *rot = jget_obj(f, "rotated");
		const char *path = or_dash(jget_str(f, "path")), *slash = strrchr(path, '/');
		printf(STATUS_LABEL "%s: %" PRId64 " bytes; rotated out: ", i == 0 ? "Event log:" : "",
		       slash ? slash + 1 : path, jget_int(f, "bytes", 0));
		if (i == 0)
			printf("%" PRId64 " activity, ", jget_int(rot, "activity", 0));
		printf("%" PRId64 " alerts", jget_int(rot, "alert", 0));
		if (jget_int(f, "waiting", 0) || jget_int(f, "lost", 0))
			printf("; %" PRId64 " waiting, %" PRId64 " lost", jget_int(f, "waiting", 0),
			       jget_int(f, "lost", 0));
		if (jget_str(f, "error"))
			printf("; %s", jget_str(f, "error"));
		putchar('\n');
	}
}

void render_status(struct json_object *reply)
{
	char up[64];

	fmt_uptime(jget_int(reply, "uptime", 0), up, sizeof(up));
	printf("picketd %s: running (pid %" PRId64 ", up %s)\n",
	       or_dash(jget_str(reply, "version")), jget_int(reply, "pid", 0), up);
	status_protection(reply);
	status_policy(jget_obj(reply, "policy"));
	status_monitors(jget_obj(reply, "monitors"));
	status_scanner(jget_obj(reply, "scanner"));
	status_event_log(jget_obj(reply, "event_log"));
	status_host(jget_obj(reply, "host"));
	status_faults(jget_obj(reply, "faults"));
}

static void fault_row(struct json_object *f)
{
	bool active = fault_active(f);
	const char *detail = jget_str(f, "detail");
	char since[32];

	fmt_time(jget_int(f, active ? "raised_at" : "cleared_at", 0), since, sizeof(since));
	printf("%-3" PRId64 " %-9s %-8s %-20s %s\n", jget_int(f, "id", 0),
	       or_dash(jget_str(f, "severity")), or_dash(jget_str(f, "state")), since,
	       or_dash(jget_str(f, "name")));
	if (active && detail && *detail) {
		fputs("    ", stdout);
		print_wrapped(detail, 4, 4);
	}
}

void render_faults(struct json_object *reply)
{
	struct json_object *faults = jget_array(reply, "faults");

	if (!jlen(faults)) {
		puts("no active faults");
		return;
	}
	json_object_array_sort(faults, fault_cmp);
	printf("%-3s %-9s %-8s %-20s %s\n", "ID", "SEVERITY", "STATE", "SINCE", "NAME");
	for (size_t i = 0; i < jlen(faults); i++)
		fault_row(json_object_array_get_idx(faults, i));
}

static void fault_field(const char *label, const char *text)
{
	printf(FAULT_LABEL, label);
	print_wrapped(or_dash(text), FAULT_INDENT, FAULT_INDENT);
}

void render_fault(struct json_object *reply)
{
	struct json_object *f = jget_obj(reply, "fault");
	char raised[32], cleared[32];

	fmt_time(jget_int(f, "raised_at", 0), raised, sizeof(raised));
	fmt_time(jget_int(f, "cleared_at", 0), cleared, sizeof(cleared));
	printf("Fault %" PRId64 ": %s\n", jget_int(f, "id", 0), or_dash(jget_str(f, "name")));
	printf(FAULT_LABEL "%s\n", "Severity:", or_dash(jget_str(f, "severity")));
	printf(FAULT_LABEL "%s\n", "State:", or_dash(jget_str(f, "state")));
	printf(FAULT_LABEL "%s\n", "Applies:",
	       jget_bool(f, "applies", true) ? "yes" : "no (its feature is off in the policy)");
	printf(FAULT_LABEL "%s\n", "Last raised:", raised);
	printf(FAULT_LABEL "%s\n", "Last cleared:", cleared);
	printf(FAULT_LABEL "%" PRId64 "\n", "Times raised:", jget_int(f, "raise_count", 0));
	fault_field("Detail:", jget_str(f, "detail"));
	fault_field("Remediation:", jget_str(f, "remediation"));
}

/* Before the first part of the summary: pad the type column, which is
 * left unpadded when nothing follows so lines carry no trailing blanks. */
static void summary_sep(bool *first, int type_len)
{
	if (*first)
		printf("%*s  ", type_len < TYPE_WIDTH ? TYPE_WIDTH - type_len : 0, "");
	else
		putchar(' ');
	*first = false;
}

void render_event(struct json_object *ev)
{
	struct json_object *fault = jget_obj(ev, "fault");
	const char *type = or_dash(jget_str(ev, "type"));
	int type_len = (int)strlen(type);
	bool first = true;
	char when[64];

	if (!json_object_is_type(ev, json_type_object))
		return; /* foreach below needs an object; nothing to show otherwise */
	fmt_event_time(jget_str(ev, "time"), when, sizeof(when));
	printf("%s  %s", when, type);
	if (fault) {
		const char *detail = jget_str(fault, "detail");
		summary_sep(&first, type_len);
		printf("ID %" PRId64 " (%s) %s", jget_int(fault, "id", 0),
		       or_dash(jget_str(fault, "severity")), or_dash(jget_str(fault, "name")));
		if (detail && *detail)
			printf(": %s", detail);
	}
	json_object_object_foreach(ev, key, val)
	{
		if (!strcmp(key, "seq") || !strcmp(key, "time") || !strcmp(key, "type") ||
		    (fault && !strcmp(key, "fault")))
			continue;
		summary_sep(&first, type_len);
		printf("%s=", key);
		print_value(val);
	}
	putchar('\n');
}

void render_events(struct json_object *reply)
{
	struct json_object *events = jget_array(reply, "events");

	for (size_t i = 0; i < jlen(events); i++)
		render_event(json_object_array_get_idx(events, i));
}

/* Nested groups print as "group.key = value", like the policy file's paths. */
static void policy_lines(struct json_object *o, const char *prefix)
{
	if (!o)
		return;
	json_object_object_foreach(o, key, val)
	{
		if (json_object_is_type(val, json_type_object)) {
			_cleanup_free_ char *sub = NULL;
			if (asprintf(&sub, "%s%s.", prefix, key) < 0)
				sub = NULL;
			policy_lines(val, sub ? sub : "?.");
			continue;
		}
		printf("%s%s = ", prefix, key);
		print_value(val);
		putchar('\n');
	}
}

void render_policy(struct json_object *reply)
{
	policy_lines(jget_obj(reply, "policy"), "");
}

void render_policy_reload(struct json_object *reply)
{
	printf("policy reloaded from %s\n", or_dash(jget_str(jget_obj(reply, "policy"), "path")));
}

unsigned health_active_count(struct json_object *reply)
{
	struct json_object *faults = jget_array(reply, "faults");
	unsigned n = 0;

	for (size_t i = 0; i < jlen(faults); i++)
		n += fault_active(json_object_array_get_idx(faults, i));
	return n;
}

void render_health(struct json_object *reply)
{
	struct json_object *faults = jget_array(reply, "faults");
	unsigned n = health_active_count(reply);
	const char *sep = " ";

	if (n == 0) {
		puts("healthy");
		return;
	}
	json_object_array_sort(faults, fault_cmp);
	printf("unhealthy: %u active fault(s):", n);
	for (size_t i = 0; i < jlen(faults); i++) {
		struct json_object *f = json_object_array_get_idx(faults, i);
		if (!fault_active(f))
			continue;
		printf("%s%" PRId64 " %s", sep, jget_int(f, "id", 0),
		       or_dash(jget_str(f, "severity")));
		sep = ", ";
	}
	putchar('\n');
}

/* --- scan */

#define MB 1048576.0 /* as the daemon counts mb_per_s, and clamscan its MB */

/* "PATH: TEXT" for each {path, key} of list. */
static void path_lines(FILE *f, struct json_object *list, const char *key, const char *suffix)
{
	for (size_t i = 0; i < jlen(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		fprintf(f, "%s: %s%s\n", or_dash(jget_str(e, "path")), or_dash(jget_str(e, key)),
			suffix);
	}
}

/* The daemon lists a bounded number: a cut list must not pass for complete. */
static void unlisted(FILE *f, int64_t count, size_t listed, const char *what)
{
	if (count > (int64_t)listed)
		fprintf(f, "(%" PRId64 " more %s not listed)\n", count - (int64_t)listed, what);
}

uint64_t scan_infected_count(struct json_object *reply)
{
	int64_t n = jget_int(jget_obj(reply, "summary"), "infected", 0);
	size_t listed = jlen(jget_array(reply, "detections"));

	return n > 0 && (uint64_t)n > listed ? (uint64_t)n : listed;
}

void render_scan(struct json_object *reply)
{
	struct json_object *sum = jget_obj(reply, "summary");
	struct json_object *found = jget_array(reply, "detections");
	struct json_object *failed = jget_array(reply, "failures");
	struct json_object *limits = jget_array(reply, "not_scanned");

	path_lines(stdout, found, "signature", " FOUND");
	unlisted(stdout, jget_int(sum, "infected", 0), jlen(found), "infected files");
	for (size_t i = 0; i < jlen(limits); i++) {
		struct json_object *e = json_object_array_get_idx(limits, i);
		printf("%s: not scanned: limit (%s)\n", or_dash(jget_str(e, "path")),
		       or_dash(jget_str(e, "limit")));
	}
	unlisted(stdout, jget_int(sum, "limits", 0), jlen(limits), "files not scanned");
	fflush(stdout); /* before stderr, for whoever reads both on one terminal */
	path_lines(stderr, failed, "error", "");
	unlisted(stderr, jget_int(sum, "errors", 0), jlen(failed), "errors");
	if (jlen(found) || jlen(failed) || jlen(limits))
		putchar('\n');
	puts("----------- SCAN SUMMARY -----------");
	printf("Scanned files: %" PRId64 "\n", jget_int(sum, "files", 0));
	printf("Infected files: %" PRId64 "\n", jget_int(sum, "infected", 0));
	printf("Errors: %" PRId64 "\n", jget_int(sum, "errors", 0));
	printf("Skipped: %" PRId64 "\n", jget_int(sum, "skipped", 0));
	printf("Not scanned (limits): %" PRId64 "\n", jget_int(sum, "limits", 0));
	printf("Data scanned: %.2f MB\n", (double)jget_int(sum, "bytes", 0) / MB);
	printf("Time: %.3f s (%.2f MB/s)\n", jget_double(sum, "seconds", 0),
	       jget_double(sum, "mb_per_s", 0));
}

void render_scan_progress(struct json_object *p, char *buf, size_t len)
{
	char took[64];

	fmt_uptime((int64_t)jget_double(p, "seconds", 0), took, sizeof(took));
	/* The counts first: a narrow terminal cuts the end. */
	snprintf(buf, len,
		 "Scanning: %" PRId64 " files, %" PRId64 " infected, %" PRId64 " errors, %" PRId64
		 " skipped, %.1f MB, %.1f MB/s, %s",
		 jget_int(p, "files", 0), jget_int(p, "infected", 0), jget_int(p, "errors", 0),
		 jget_int(p, "skipped", 0), (double)jget_int(p, "bytes", 0) / MB,
		 jget_double(p, "mb_per_s", 0), took);
}

/* --- definitions */

#define DEFS_LABEL "%-17s" /* "Last known good:" and its padding */

static const char *plural(int64_t n)
{
	return n == 1 ? "" : "s";
}

/* An age to the minute: "3d 4h", "2h 3m", "5m", "under a minute". */
static void fmt_age(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		snprintf(buf, len, "in the future: check the clock");
	else if (s >= 86400)
		snprintf(buf, len, "%" PRId64 "d %" PRId64 "h", s / 86400, s / 3600 % 24);
	else if (s >= 3600)
		snprintf(buf, len, "%" PRId64 "h %" PRId64 "m", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(buf, len, "%" PRId64 "m", s / 60);
	else
		snprintf(buf, len, "under a minute");
}

static void defs_files(struct json_object *files)
{
	int width = 0;

	for (size_t i = 0; i < jlen(files); i++) {
		int w = (int)strlen(or_dash(jget_str(json_object_array_get_idx(files, i), "name")));
		width = w > width ? w : width;
	}
	for (size_t i = 0; i < jlen(files); i++) {
		struct json_object *f = json_object_array_get_idx(files, i);
		int64_t sigs = jget_int(f, "signatures", 0);
		printf("  %-*s  version %" PRId64 "  %" PRId64 " signature%s  built %s  from %s\n",
		       width, or_dash(jget_str(f, "name")), jget_int(f, "version", 0), sigs,
		       plural(sigs), or_dash(jget_str(f, "build_time")),
		       or_dash(jget_str(f, "source")));
	}
}

void render_defs_status(struct json_object *reply)
{
	int64_t sigs = jget_int(reply, "signatures", 0);
	int64_t loaded = jget_int(reply, "loaded_signatures", 0);
	const char *built = jget_str(reply, "build_time");
	const char *lkg = jget_str(reply, "last_known_good"); /* "": none */
	char age[64], installed[32];

	fmt_age(jget_int(reply, "age", 0), age, sizeof(age));
	fmt_time(jget_int(reply, "installed_at", 0), installed, sizeof(installed));
	printf(DEFS_LABEL "set %s, %" PRId64 " signature%s (", "Definitions:",
	       or_dash(jget_str(reply, "set")), sigs, plural(sigs));
	if (loaded > 0)
		printf("%" PRId64 " loaded by the scan service)\n", loaded);
	else
		puts("none loaded by the scan service)");
	printf(DEFS_LABEL "%s", "Newest build:", or_dash(built));
	if (built && *built)
		printf(" (age %s)", age);
	putchar('\n');
	printf(DEFS_LABEL "%s\n", "Installed:", installed);
	printf(DEFS_LABEL "%s\n", "Last known good:", lkg && *lkg ? lkg : "none");
	defs_files(jget_array(reply, "files"));
}

void render_defs_install(struct json_object *reply)
{
	struct json_object *files = jget_array(reply, "files");

	for (size_t i = 0; i < jlen(files); i++) {
		struct json_object *f = json_object_array_get_idx(files, i);
		if (jget_bool(f, "accepted", false))
			printf("%s: accepted\n", or_dash(jget_str(f, "name")));
		else
			printf("%s: rejected: %s\n", or_dash(jget_str(f, "name")),
			       or_dash(jget_str(f, "reason")));
	}
	if (jget_bool(reply, "ok", false))
		printf("definitions set %s is active\n", or_dash(jget_str(reply, "set")));
}

/* --- quarantine */

#define SIG_WIDTH_MAX 40 /* longer signatures push the path right */

void render_quarantine_list(struct json_object *reply)
{
	struct json_object *items = jget_array(reply, "items");
	int width = (int)strlen("SIGNATURE");
	char when[32];

	if (!jlen(items)) {
		puts("quarantine is empty");
		return;
	}
	for (size_t i = 0; i < jlen(items); i++) {
		int w = (int)strlen(or_dash(jget_str(json_object_array_get_idx(items, i), "signature")));
		width = w > width && w <= SIG_WIDTH_MAX ? w : width;
	}
	printf("%-16s  %-19s  %-*s  %s\n", "ID", "DATE", width, "SIGNATURE", "ORIGINAL PATH");
	for (size_t i = 0; i < jlen(items); i++) {
		struct json_object *q = json_object_array_get_idx(items, i);
		fmt_time(jget_int(q, "quarantined_at", 0), when, sizeof(when));
		printf("%-16s  %-19s  %-*s  %s\n", or_dash(jget_str(q, "id")), when, width,
		       or_dash(jget_str(q, "signature")), or_dash(jget_str(q, "original_path")));
	}
}

void render_quarantine_restored(struct json_object *reply)
{
	printf("restored %s\n", or_dash(jget_str(reply, "qid")));
}

void render_quarantine_deleted(struct json_object *reply)
{
	printf("deleted %s\n", or_dash(jget_str(reply, "qid")));
}
