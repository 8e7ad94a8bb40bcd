/* Unit tests of src/daemon/core/eventlog.c: JSON lines with sequence
 * numbers, rotation by size, alerts in their own file, what rotation
 * removed counted by class, the in-memory rings, the backlog when writes
 * fail, and text that is always valid UTF-8 and keeps the exact bytes. */
#include "testutil.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "core/eventlog.h"
#include "jsonutil.h"
#include "log.h"

struct fixture {
	char *dir;
	char path[PATH_MAX];  /* events.jsonl */
	char apath[PATH_MAX]; /* alerts.jsonl */
	struct eventlog el;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	void *dir;

	if (!fx || tu_tmpdir_setup(&dir) < 0)
		return -1;
	fx->dir = dir;
	snprintf(fx->path, sizeof(fx->path), "%s/events.jsonl", fx->dir);
	snprintf(fx->apath, sizeof(fx->apath), "%s/alerts.jsonl", fx->dir);
	fx->el.file[EVENTLOG_EVENTS].fd = fx->el.file[EVENTLOG_ALERTS].fd = -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	void *dir = fx->dir;

	if (fx->el.file[EVENTLOG_EVENTS].path)
		eventlog_close(&fx->el);
	tu_tmpdir_teardown(&dir);
	free(fx);
	return 0;
}

/* Both files with these limits. */
static int open_in(struct eventlog *el, const char *dir, uint64_t max_bytes, unsigned keep)
{
	const struct eventlog_limits lim[EVENTLOG_FILES] = { { max_bytes, keep },
							     { max_bytes, keep } };
	return eventlog_open(el, dir, lim);
}

static int open_log(struct fixture *fx, uint64_t max_bytes, unsigned keep)
{
	return open_in(&fx->el, fx->dir, max_bytes, keep);
}

static void set_limits(struct eventlog *el, uint64_t max_bytes, unsigned keep)
{
	const struct eventlog_limits lim[EVENTLOG_FILES] = { { max_bytes, keep },
							     { max_bytes, keep } };
	eventlog_set_limits(el, lim);
}

static int append(struct eventlog *el, const char *type)
{
	struct json_object *ev = eventlog_new(el, type);
	assert_non_null(ev);
	return eventlog_append(el, ev);
}

static int64_t seq_of(struct json_object *ev)
{
	struct json_object *v;
	assert_true(json_object_object_get_ex(ev, "seq", &v));
	return json_object_get_int64(v);
}

/* The lines of a JSON-lines file, parsed; every line must be an object. */
static struct json_object *read_lines(const char *path)
{
	char *text = tu_read(path);
	struct json_object *arr = json_object_new_array();
	char *save = NULL;

	assert_non_null(text);
	assert_true(text[0] == '\0' || text[strlen(text) - 1] == '\n');
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct json_object *o = json_tokener_parse(line);
		if (!o || !json_object_is_type(o, json_type_object))
			fail_msg("not a JSON object line: '%s'", line);
		json_object_array_add(arr, o);
	}
	free(text);
	return arr;
}

/* The seq numbers in a log file, as "1,2,3". */
static void seqs_in(const char *path, char *out, size_t len)
{
	_cleanup_json_ struct json_object *arr = read_lines(path);
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		o += snprintf(out + o, len - o, "%s%lld", i ? "," : "",
			      (long long)seq_of(json_object_array_get_idx(arr, i)));
}

static void test_lines_parse_with_seq_time_and_type(void **state)
{
	struct fixture *fx = *state;
	const char *types[] = { "daemon_started", "fault_raised", "fault_cleared" };

	assert_int_equal(open_log(fx, 1 << 20, 5), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(append(&fx->el, types[i]), 0);
	_cleanup_json_ struct json_object *arr = read_lines(fx->path);
	assert_int_equal(json_object_array_length(arr), 3);
	for (size_t i = 0; i < 3; i++) {
		struct json_object *ev = json_object_array_get_idx(arr, i), *v;
		unsigned y, mo, d, h, mi, s, ms;
		char z = 0;
		assert_int_equal(seq_of(ev), i + 1);
		assert_true(json_object_object_get_ex(ev, "type", &v));
		assert_string_equal(json_object_get_string(v), types[i]);
		assert_true(json_object_object_get_ex(ev, "time", &v));
		assert_int_equal(strlen(json_object_get_string(v)), 24);
		assert_int_equal(sscanf(json_object_get_string(v), "%4u-%2u-%2uT%2u:%2u:%2u.%3u%c", &y,
					&mo, &d, &h, &mi, &s, &ms, &z),
				 8);
		assert_int_equal(z, 'Z');
	}
}

static void test_extra_fields_are_written(void **state)
{
	struct fixture *fx = *state;
	struct json_object *v;

	assert_int_equal(open_log(fx, 1 << 20, 5), 0);
	struct json_object *ev = eventlog_new(&fx->el, "policy_loaded");
	json_object_object_add(ev, "path", json_object_new_string("/etc/picket/policy.conf"));
	assert_int_equal(eventlog_append(&fx->el, ev), 0);
	_cleanup_json_ struct json_object *arr = read_lines(fx->path);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(arr, 0), "path", &v));
	assert_string_equal(json_object_get_string(v), "/etc/picket/policy.conf");
}

static void test_new_file_mode_0640(void **state)
{
	struct fixture *fx = *state;
	struct stat st;
	mode_t old = umask(022);

	int r = open_log(fx, 1 << 20, 5);
	umask(old);
	assert_int_equal(r, 0);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
}

static void test_reopen_appends(void **state)
{
	struct fixture *fx = *state;
	struct json_object *v;

	assert_int_equal(open_log(fx, 1 << 20, 5), 0);
	append(&fx->el, "a");
	append(&fx->el, "b");
	eventlog_close(&fx->el);
	assert_int_equal(open_log(fx, 1 << 20, 5), 0);
	append(&fx->el, "c");
	_cleanup_json_ struct json_object *arr = read_lines(fx->path);
	assert_int_equal(json_object_array_length(arr), 3);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(arr, 0), "type", &v));
	assert_string_equal(json_object_get_string(v), "a");
	assert_true(json_object_object_get_ex(json_object_array_get_idx(arr, 2), "type", &v));
	assert_string_equal(json_object_get_string(v), "c");
}

/* Two lines fit in max_bytes, three do not; keep 2.  Activity only:
 * alerts.jsonl stays empty. */
static void test_rotation_keeps_files(void **state)
{
	struct fixture *fx = *state;
	struct stat st;
	char seqs[64], p[PATH_MAX + 8];

	assert_int_equal(open_log(fx, 1 << 20, 2), 0);
	append(&fx->el, "exec");
	assert_int_equal(stat(fx->path, &st), 0);
	set_limits(&fx->el, 2 * st.st_size + st.st_size / 2, 2);
	for (int i = 2; i <= 7; i++)
		assert_int_equal(append(&fx->el, "exec"), 0);
	seqs_in(fx->path, seqs, sizeof(seqs));
	assert_string_equal(seqs, "7");
	snprintf(p, sizeof(p), "%s.1", fx->path);
	seqs_in(p, seqs, sizeof(seqs));
	assert_string_equal(seqs, "5,6");
	snprintf(p, sizeof(p), "%s.2", fx->path);
	seqs_in(p, seqs, sizeof(seqs));
	assert_string_equal(seqs, "3,4");
	snprintf(p, sizeof(p), "%s.3", fx->path);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(tu_count_entries(fx->dir), 4);
	seqs_in(fx->apath, seqs, sizeof(seqs));
	assert_string_equal(seqs, "");
	/* Seqs 1 and 2 fell off with the first events.jsonl.2. */
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].rotated[EVENTLOG_ACTIVITY], 2);
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].rotated[EVENTLOG_ALERT], 0);
}

static void test_rotated_files_stay_under_max_bytes(void **state)
{
	struct fixture *fx = *state;
	struct stat st;
	char p[PATH_MAX + 8];

	assert_int_equal(open_log(fx, 4096, 3), 0);
	for (int i = 0; i < 300; i++)
		assert_int_equal(append(&fx->el, "fault_raised"), 0);
	/* An alert: in both files, each rotated the same way. */
	assert_int_equal(tu_count_entries(fx->dir), 8);
	for (int k = 1; k <= 3; k++) {
		for (int f = 0; f < EVENTLOG_FILES; f++) {
			snprintf(p, sizeof(p), "%s.%d", f ? fx->apath : fx->path, k);
			assert_int_equal(stat(p, &st), 0);
			assert_true(st.st_size <= 4096);
			assert_true(st.st_size > 4096 - 100);
		}
	}
}

static void test_recent_returns_last_n_oldest_first(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(open_log(fx, 1 << 20, 5), 0);
	for (int i = 0; i < 5; i++)
		append(&fx->el, "t");
	_cleanup_json_ struct json_object *arr = eventlog_recent(&fx->el, 3);
	assert_int_equal(json_object_array_length(arr), 3);
	assert_int_equal(seq_of(json_object_array_get_idx(arr, 0)), 3);
	assert_int_equal(seq_of(json_object_array_get_idx(arr, 2)), 5);
}

static void test_recent_more_than_held(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(open_log(fx, 1 << 20, 5), 0);
	_cleanup_json_ struct json_object *none = eventlog_recent(&fx->el, 10);
	assert_int_equal(json_object_array_length(none), 0);
	append(&fx->el, "t");
	append(&fx->el, "t");
	_cleanup_json_ struct json_object *arr = eventlog_recent(&fx->el, 10);
	assert_int_equal(json_object_array_length(arr), 2);
	assert_int_equal(seq_of(json_object_array_get_idx(arr, 0)), 1);
	_cleanup_json_ struct json_object *zero = eventlog_recent(&fx->el, 0);
	assert_int_equal(json_object_array_length(zero), 0);
}

static void test_recent_after_ring_wraps(void **state)
{
	struct fixture *fx = *state;
	const int n = EVENTLOG_RING + 6;

	assert_int_equal(open_log(fx, 1 << 30, 5), 0);
	for (int i = 0; i < n; i++)
		append(&fx->el, "t");
	_cleanup_json_ struct json_object *last = eventlog_recent(&fx->el, 2);
	assert_int_equal(seq_of(json_object_array_get_idx(last, 0)), n - 1);
	assert_int_equal(seq_of(json_object_array_get_idx(last, 1)), n);
	_cleanup_json_ struct json_object *all = eventlog_recent(&fx->el, 100000);
	assert_int_equal(json_object_array_length(all), EVENTLOG_RING);
	assert_int_equal(seq_of(json_object_array_get_idx(all, 0)), n - EVENTLOG_RING + 1);
	assert_int_equal(seq_of(json_object_array_get_idx(all, EVENTLOG_RING - 1)), n);
}

/* events.jsonl -> /dev/full: every write fails with ENOSPC. */
static void open_on_dev_full(struct fixture *fx)
{
	assert_int_equal(symlink("/dev/full", fx->path), 0);
	assert_int_equal(open_log(fx, 1 << 20, 5), 0);
}

static void test_write_failure_keeps_line_in_backlog(void **state)
{
	struct fixture *fx = *state;

	open_on_dev_full(fx);
	assert_int_equal(append(&fx->el, "fault_raised"), -ENOSPC);
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].backlog_count, 1);
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].last_error, -ENOSPC);
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].lost, 0);
	assert_non_null(strstr(fx->el.file[EVENTLOG_EVENTS].backlog[0], "\"type\":\"fault_raised\""));
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].backlog[0][strlen(fx->el.file[EVENTLOG_EVENTS].backlog[0]) - 1], '\n');
	assert_ptr_equal(eventlog_failing(&fx->el), &fx->el.file[EVENTLOG_EVENTS]);
	/* alerts.jsonl was written. */
	char seqs[16];
	seqs_in(fx->apath, seqs, sizeof(seqs));
	assert_string_equal(seqs, "1");
	_cleanup_json_ struct json_object *arr = eventlog_recent(&fx->el, 5);
	assert_int_equal(json_object_array_length(arr), 1);
	assert_int_equal(eventlog_flush(&fx->el), -ENOSPC);
}

static void test_backlog_overflow_counts_lost(void **state)
{
	struct fixture *fx = *state;

	open_on_dev_full(fx);
	for (int i = 0; i < EVENTLOG_BACKLOG + 3; i++)
		assert_int_equal(append(&fx->el, "t"), -ENOSPC);
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].backlog_count, EVENTLOG_BACKLOG);
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].lost, 3);
	assert_int_equal(eventlog_lost(&fx->el), 3);
	/* The oldest were dropped: the backlog starts at seq 4. */
	_cleanup_json_ struct json_object *first = json_tokener_parse(fx->el.file[EVENTLOG_EVENTS].backlog[0]);
	assert_int_equal(seq_of(first), 4);
}

static void test_unopenable_log_recovers_when_fixed(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX + 16], seqs[64];

	snprintf(path, sizeof(path), "%s/log/events.jsonl", fx->dir);
	assert_int_equal(open_in(&fx->el, tu_path(fx->dir, "log"), 1 << 20, 5), -ENOENT);
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].last_error, -ENOENT);
	assert_int_equal(append(&fx->el, "a"), -ENOENT);
	assert_int_equal(append(&fx->el, "b"), -ENOENT);
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].backlog_count, 2);
	assert_int_equal(fx->el.file[EVENTLOG_ALERTS].backlog_count, 2);
	tu_mkdir(fx->dir, "log");
	assert_int_equal(eventlog_flush(&fx->el), 0);
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].backlog_count, 0);
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].last_error, 0);
	assert_null(eventlog_failing(&fx->el));
	assert_int_equal(append(&fx->el, "c"), 0);
	seqs_in(path, seqs, sizeof(seqs));
	assert_string_equal(seqs, "1,2,3");
}

static void test_close_flushes_backlog(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX + 16], seqs[64];

	snprintf(path, sizeof(path), "%s/log/events.jsonl", fx->dir);
	open_in(&fx->el, tu_path(fx->dir, "log"), 1 << 20, 5);
	append(&fx->el, "a");
	tu_mkdir(fx->dir, "log");
	eventlog_close(&fx->el);
	seqs_in(path, seqs, sizeof(seqs));
	assert_string_equal(seqs, "1");
}

/* A file size limit cuts the write short: the partial line is removed, the
 * event waits, and it is written whole once the limit is lifted. */
static void test_partial_write_cut_back_then_flushed(void **state)
{
	struct fixture *fx = *state;
	struct rlimit old, lim;
	struct stat st;
	char seqs[64];

	assert_int_equal(open_log(fx, 1 << 20, 5), 0);
	append(&fx->el, "a");
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
	lim = (struct rlimit){ .rlim_cur = st.st_size + 10, .rlim_max = old.rlim_max };
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	int r = append(&fx->el, "b");
	struct stat after;
	stat(fx->path, &after);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, oldsig);
	assert_int_equal(r, -ENOSPC);
	assert_int_equal(after.st_size, st.st_size);
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].backlog_count, 1);
	assert_int_equal(eventlog_flush(&fx->el), 0);
	seqs_in(fx->path, seqs, sizeof(seqs));
	assert_string_equal(seqs, "1,2");
}

static void test_file_size_limit_reached_then_flushed(void **state)
{
	struct fixture *fx = *state;
	struct rlimit old, lim;
	struct stat st;
	char seqs[64];

	assert_int_equal(open_log(fx, 1 << 20, 5), 0);
	append(&fx->el, "a");
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
	lim = (struct rlimit){ .rlim_cur = st.st_size, .rlim_max = old.rlim_max };
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	int r1 = append(&fx->el, "b");
	int r2 = append(&fx->el, "c");
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, oldsig);
	assert_int_equal(r1, -EFBIG);
	assert_int_equal(r2, -EFBIG);
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].backlog_count, 2);
	assert_int_equal(eventlog_flush(&fx->el), 0);
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].last_error, 0);
	seqs_in(fx->path, seqs, sizeof(seqs));
	assert_string_equal(seqs, "1,2,3");
}

/* ------------------------------------------------------------------ text */

/* Strict UTF-8 (RFC 3629), written apart from the code under test. */
static bool strict_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t cp;
		size_t len;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0)
			len = 2, cp = s[i] & 0x1f;
		else if ((s[i] & 0xf0) == 0xe0)
			len = 3, cp = s[i] & 0x0f;
		else if ((s[i] & 0xf8) == 0xf0)
			len = 4, cp = s[i] & 0x07;
		else
			return false;
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
		if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_get_string(v);
}

/* Invalid bytes become U+FFFD each, the exact bytes go to "<key>_b64";
 * controls and valid multibyte text stay (JSON escapes them losslessly). */
static void test_text_invalid_utf8_gets_rendition_and_b64(void **state)
{
	(void)state;
	static const struct {
		const char *raw, *text, *b64;
	} cases[] = {
		{ "a\xff\x01\nb\xc3\xa9", "a\xef\xbf\xbd\x01\nb\xc3\xa9", "Yf8BCmLDqQ==" },
		/* overlong '/', a surrogate, past U+10FFFF, a cut sequence */
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", "wK8=" },
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "7aCA" },
		{ "\xf4\x90\x80\x80x", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx", "9JCAgHg=" },
		{ "\xf0\x9f\x98\x80\xe2\x82", "\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd", "8J+YgOKC" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_json_ struct json_object *o = json_object_new_object();
		json_object_object_add(o, "path", json_object_new_string(cases[i].raw));
		assert_int_equal(eventlog_text_valid(o), 0);
		assert_string_equal(str_of(o, "path"), cases[i].text);
		assert_string_equal(str_of(o, "path_b64"), cases[i].b64);
		size_t len;
		const char *line = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
		assert_true(strict_utf8((const unsigned char *)line, len));
		/* Made valid once, it stays as it is. */
		assert_int_equal(eventlog_text_valid(o), 0);
		assert_int_equal(json_object_object_length(o), 2);
	}
}

static void test_text_valid_strings_untouched(void **state)
{
	(void)state;
	_cleanup_json_ struct json_object *o = json_object_new_object();
	json_object_object_add(o, "path", json_object_new_string("/tmp/\\xff caf\xc3\xa9 \x1b[31m\x7f"));
	json_object_object_add(o, "n", json_object_new_int(3));
	assert_int_equal(eventlog_text_valid(o), 0);
	assert_int_equal(json_object_object_length(o), 2);
	assert_string_equal(str_of(o, "path"), "/tmp/\\xff caf\xc3\xa9 \x1b[31m\x7f");
	/* Controls are \u escapes in the line: no raw ESC, no raw newline. */
	const char *line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	assert_null(strchr(line, '\x1b'));
	assert_non_null(strstr(line, "\\u001b[31m"));
}

/* Nested: the process object of an event, and an array of strings. */
static void test_text_nested_objects_and_arrays(void **state)
{
	(void)state;
	_cleanup_json_ struct json_object *ev = json_object_new_object();
	struct json_object *proc = json_object_new_object(), *list = json_object_new_array();
	json_object_object_add(proc, "exe", json_object_new_string("/w/t\xff"));
	json_object_object_add(proc, "comm", json_object_new_string("t\xff"));
	json_object_object_add(proc, "argv", json_object_new_string("/w/t\xff \xfe"));
	json_object_object_add(proc, "pid", json_object_new_int(7));
	json_object_object_add(ev, "process", proc);
	json_object_array_add(list, json_object_new_string("ok"));
	json_object_array_add(list, json_object_new_string("\xff"));
	json_object_array_add(list, json_object_new_int(3));
	json_object_object_add(ev, "files", list);
	assert_int_equal(eventlog_text_valid(ev), 0);
	assert_string_equal(str_of(proc, "exe"), "/w/t\xef\xbf\xbd");
	assert_string_equal(str_of(proc, "exe_b64"), "L3cvdP8=");
	assert_string_equal(str_of(proc, "comm_b64"), "dP8=");
	assert_string_equal(str_of(proc, "argv_b64"), "L3cvdP8g/g==");
	assert_int_equal(json_object_object_length(proc), 7);
	assert_string_equal(json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN),
			    "[\"ok\",\"\xef\xbf\xbd\",3]");
	struct json_object *sib;
	assert_true(json_object_object_get_ex(ev, "files_b64", &sib));
	assert_string_equal(json_object_to_json_string_ext(sib, JSON_C_TO_STRING_PLAIN),
			    "[null,\"\\/w==\",null]");
}

/* Through the log: the line on disk is strict UTF-8 and the ring holds
 * the same event. */
static void test_append_writes_valid_utf8(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(open_log(fx, 1 << 20, 5), 0);
	struct json_object *ev = eventlog_new(&fx->el, "detection");
	json_object_object_add(ev, "path", json_object_new_string("/w/a\xff\x01\nb\xc3\xa9"));
	assert_int_equal(eventlog_append(&fx->el, ev), 0);
	const char *paths[] = { fx->path, fx->apath };
	for (int f = 0; f < 2; f++) {
		_cleanup_free_ char *text = tu_read(paths[f]);
		assert_non_null(text);
		assert_true(strict_utf8((const unsigned char *)text, strlen(text)));
		assert_int_equal(strchr(text, '\n') - text, strlen(text) - 1);
		_cleanup_json_ struct json_object *o = json_tokener_parse(text);
		assert_string_equal(str_of(o, "path_b64"), "L3cvYf8BCmLDqQ==");
	}
	_cleanup_json_ struct json_object *recent = eventlog_recent(&fx->el, 1);
	assert_string_equal(str_of(json_object_array_get_idx(recent, 0), "path_b64"),
			    "L3cvYf8BCmLDqQ==");
}

/* --------------------------------------------------------------- classes */

static void test_class_of_types(void **state)
{
	(void)state;
	const char *activity[] = { "exec", "fork", "exit", "flow", "file_scan" };
	const char *alert[] = { "detection",    "exec_blocked",	      "exec_detected",
				"exec_unscanned", "exec_timeout",     "fault_raised",
				"fault_cleared",  "scan_service_crashed", "defs_rejected",
				"quarantine_restored", "policy_loaded", "file_scan_error",
				"fsmon_overflow", "daemon_started",   "a_type_added_later" };
	for (size_t i = 0; i < sizeof(activity) / sizeof(activity[0]); i++)
		assert_int_equal(eventlog_class_of(activity[i]), EVENTLOG_ACTIVITY);
	for (size_t i = 0; i < sizeof(alert) / sizeof(alert[0]); i++)
		assert_int_equal(eventlog_class_of(alert[i]), EVENTLOG_ALERT);
}

/* The count of each type in a file, as "type:n,..." in first-seen order. */
static void types_in(const char *path, char *out, size_t len)
{
	_cleanup_json_ struct json_object *arr = read_lines(path);
	char types[16][32];
	int counts[16], n = 0;
	size_t o = 0;

	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		const char *t = str_of(json_object_array_get_idx(arr, i), "type");
		int k = 0;
		while (k < n && strcmp(types[k], t) != 0)
			k++;
		if (k == n) {
			assert_true(n < 16);
			snprintf(types[n], sizeof(types[n]), "%s", t);
			counts[n++] = 0;
		}
		counts[k]++;
	}
	out[0] = '\0';
	for (int k = 0; k < n; k++)
		o += snprintf(out + o, len - o, "%s%s:%d", k ? "," : "", types[k], counts[k]);
}

/* A flood of activity rotates events.jsonl over and over; the detection
 * and the fault stay in alerts.jsonl, and what fell off is counted. */
static void test_flood_cannot_rotate_alerts_away(void **state)
{
	struct fixture *fx = *state;
	const struct eventlog_limits lim[EVENTLOG_FILES] = { { 4096, 1 }, { 4096, 1 } };
	char types[256], p[PATH_MAX + 8];

	assert_int_equal(eventlog_open(&fx->el, fx->dir, lim), 0);
	assert_int_equal(append(&fx->el, "detection"), 0);
	assert_int_equal(append(&fx->el, "fault_raised"), 0);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(append(&fx->el, "exec"), 0);
	types_in(fx->apath, types, sizeof(types));
	assert_string_equal(types, "detection:1,fault_raised:1");
	snprintf(p, sizeof(p), "%s.1", fx->apath);
	assert_int_equal(access(p, F_OK), -1);
	/* What is left of the flood, plus what rotation removed, is all of it. */
	_cleanup_json_ struct json_object *now = read_lines(fx->path);
	snprintf(p, sizeof(p), "%s.1", fx->path);
	_cleanup_json_ struct json_object *prev = read_lines(p);
	size_t kept = json_object_array_length(now) + json_object_array_length(prev);
	const struct eventlog_file *ev = &fx->el.file[EVENTLOG_EVENTS];
	assert_int_equal(ev->rotated[EVENTLOG_ALERT], 2);
	assert_int_equal(ev->rotated[EVENTLOG_ACTIVITY] + kept, 2000);
	assert_int_equal(seq_of(json_object_array_get_idx(prev, 0)),
			 2 + ev->rotated[EVENTLOG_ACTIVITY] + 1);
	assert_int_equal(fx->el.file[EVENTLOG_ALERTS].rotated[EVENTLOG_ALERT], 0);
}

/* Counted from the file that falls off, so a restart changes nothing. */
static void test_rotated_count_across_restart(void **state)
{
	struct fixture *fx = *state;
	const struct eventlog_limits lim[EVENTLOG_FILES] = { { 1 << 20, 1 }, { 1 << 20, 1 } };

	assert_int_equal(eventlog_open(&fx->el, fx->dir, lim), 0);
	for (int i = 0; i < 5; i++)
		append(&fx->el, "flow");
	append(&fx->el, "exec_blocked");
	eventlog_close(&fx->el);
	/* Each next line rotates: the first moves the six to .1, the second
	 * drops them. */
	assert_int_equal(open_log(fx, 1, 1), 0);
	append(&fx->el, "exec");
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].rotated[EVENTLOG_ACTIVITY], 0);
	append(&fx->el, "exec");
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].rotated[EVENTLOG_ACTIVITY], 5);
	assert_int_equal(fx->el.file[EVENTLOG_EVENTS].rotated[EVENTLOG_ALERT], 1);
	assert_int_equal(fx->el.seq, 8);
}

/* seq goes on from the newer of the two files. */
static void test_seq_goes_on_from_either_file(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(open_log(fx, 1 << 20, 5), 0);
	append(&fx->el, "exec");
	append(&fx->el, "detection");
	append(&fx->el, "exec");
	eventlog_close(&fx->el);
	assert_int_equal(unlink(fx->path), 0);
	assert_int_equal(open_log(fx, 1 << 20, 5), 0);
	assert_int_equal(fx->el.seq, 2);
}

/* The rings: alerts outlive a flood in memory too; recent merges by seq. */
static void test_recent_keeps_alerts_through_a_flood(void **state)
{
	struct fixture *fx = *state;
	const int n = EVENTLOG_RING + 10;

	assert_int_equal(open_log(fx, 1 << 30, 5), 0);
	append(&fx->el, "fault_raised");
	append(&fx->el, "exec");
	append(&fx->el, "detection");
	for (int i = 0; i < n; i++)
		append(&fx->el, "exec");
	_cleanup_json_ struct json_object *last = eventlog_recent(&fx->el, 2);
	assert_int_equal(seq_of(json_object_array_get_idx(last, 0)), n + 2);
	assert_int_equal(seq_of(json_object_array_get_idx(last, 1)), n + 3);
	_cleanup_json_ struct json_object *all = eventlog_recent(&fx->el, 100000);
	assert_int_equal(json_object_array_length(all), EVENTLOG_RING + 2);
	assert_string_equal(str_of(json_object_array_get_idx(all, 0), "type"), "fault_raised");
	assert_string_equal(str_of(json_object_array_get_idx(all, 1), "type"), "detection");
	for (size_t i = 1; i < json_object_array_length(all); i++)
		assert_true(seq_of(json_object_array_get_idx(all, i - 1)) <
			    seq_of(json_object_array_get_idx(all, i)));
	assert_int_equal(seq_of(json_object_array_get_idx(all, 2)), n + 3 - EVENTLOG_RING + 1);
}

/* alerts.jsonl unwritable, events.jsonl fine: the failure is reported for
 * alerts.jsonl, and every event still reaches events.jsonl. */
static void test_alerts_file_failure_is_its_own(void **state)
{
	struct fixture *fx = *state;
	char seqs[64];

	assert_int_equal(symlink("/dev/full", fx->apath), 0);
	assert_int_equal(open_log(fx, 1 << 20, 5), 0);
	assert_int_equal(append(&fx->el, "exec"), 0);
	assert_int_equal(append(&fx->el, "detection"), -ENOSPC);
	assert_ptr_equal(eventlog_failing(&fx->el), &fx->el.file[EVENTLOG_ALERTS]);
	assert_int_equal(fx->el.file[EVENTLOG_ALERTS].backlog_count, 1);
	seqs_in(fx->path, seqs, sizeof(seqs));
	assert_string_equal(seqs, "1,2");
	_cleanup_json_ struct json_object *st = eventlog_status(&fx->el);
	struct json_object *a, *v;
	assert_true(json_object_object_get_ex(st, "alerts", &a));
	assert_string_equal(str_of(a, "path"), fx->apath);
	assert_string_equal(str_of(a, "error"), strerror(ENOSPC));
	assert_true(json_object_object_get_ex(a, "waiting", &v));
	assert_int_equal(json_object_get_int64(v), 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_lines_parse_with_seq_time_and_type),
		T(test_extra_fields_are_written),
		T(test_new_file_mode_0640),
		T(test_reopen_appends),
		T(test_rotation_keeps_files),
		T(test_rotated_files_stay_under_max_bytes),
		T(test_recent_returns_last_n_oldest_first),
		T(test_recent_more_than_held),
		T(test_recent_after_ring_wraps),
		T(test_write_failure_keeps_line_in_backlog),
		T(test_backlog_overflow_counts_lost),
		T(test_unopenable_log_recovers_when_fixed),
		T(test_close_flushes_backlog),
		T(test_partial_write_cut_back_then_flushed),
		T(test_file_size_limit_reached_then_flushed),
		T(test_text_invalid_utf8_gets_rendition_and_b64),
		T(test_text_valid_strings_untouched),
		T(test_text_nested_objects_and_arrays),
		T(test_append_writes_valid_utf8),
		T(test_class_of_types),
		T(test_flood_cannot_rotate_alerts_away),
		T(test_rotated_count_across_restart),
		T(test_seq_goes_on_from_either_file),
		T(test_recent_keeps_alerts_through_a_flood),
		T(test_alerts_file_failure_is_its_own),
	};
	log_set_level(LOG_CRIT);
	return cmocka_run_group_tests_name("eventlog", tests, NULL, NULL);
}
