#include "eventlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "jsonutil.h"
#include "log.h"

static const char *const file_names[EVENTLOG_FILES] = {
	[EVENTLOG_EVENTS] = "events.jsonl",
	[EVENTLOG_ALERTS] = "alerts.jsonl",
};

/* One record per operation: the types a busy host, or one user, can make by
 * the hundred thousand.  Every other type is an alert. */
static const char *const activity_types[] = { "exec", "fork", "exit", "flow", "file_scan" };

enum eventlog_class eventlog_class_of(const char *type)
{
	for (size_t i = 0; i < ARRAY_SIZE(activity_types); i++)
		if (strcmp(type, activity_types[i]) == 0)
			return EVENTLOG_ACTIVITY;
	return EVENTLOG_ALERT;
}

/* ------------------------------------------------------------------ text */

/* The length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms,
 * no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0, k; i < n; i += k)
		if (!(k = utf8_seq(s + i, n - i)))
			return false;
	return true;
}

static int text_valid(struct json_object *v, struct json_object **ret_raw);

/* An invalid string becomes its rendition; *ret_raw its bytes in base64. */
static int string_valid(struct json_object *v, struct json_object **ret_raw)
{
	static const char fffd[] = "\xef\xbf\xbd";
	const unsigned char *s = (const unsigned char *)json_object_get_string(v);
	size_t n = json_object_get_string_len(v), o = 0;

	if (utf8_valid(s, n))
		return 0;
	if (n > INT_MAX / 4)
		return -E2BIG;
	_cleanup_free_ char *b64 = malloc(4 * ((n + 2) / 3) + 1);
	_cleanup_free_ char *text = malloc(3 * n + 1);
	if (!b64 || !text)
		return -ENOMEM;
	EVP_EncodeBlock((unsigned char *)b64, s, (int)n);
	for (size_t i = 0, k; i < n; i += k) {
		k = utf8_seq(s + i, n - i);
		if (k) {
			memcpy(text + o, s + i, k);
			o += k;
		} else {
			memcpy(text + o, fffd, 3);
			o += 3;
			k = 1;
		}
	}
	struct json_object *raw = json_object_new_string(b64);
	if (!raw || json_object_set_string_len(v, text, (int)o) == 0) {
		json_object_put(raw);
		return -ENOMEM;
	}
	*ret_raw = raw;
	return 0;
}

/* Elements' siblings go in one array of the same length. */
static int array_valid(struct json_object *a, struct json_object **ret_raw)
{
	size_t n = json_object_array_length(a);
	struct json_object *sib = NULL;
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		struct json_object *raw = NULL;
		r = text_valid(json_object_array_get_idx(a, i), &raw);
		if (!raw)
			continue;
		if (!sib && !(sib = json_object_new_array_ext((int)n)))
			r = -ENOMEM;
		if (!sib || json_object_array_put_idx(sib, i, raw) < 0) {
			json_object_put(raw);
			r = -ENOMEM;
		}
	}
	if (sib && json_object_array_length(sib) < n && json_object_array_put_idx(sib, n - 1, NULL) < 0)
		r = -ENOMEM;
	*ret_raw = sib;
	return r;
}

/* Members are added once the walk is over: adding may rehash the table. */
static int object_valid(struct json_object *o)
{
	_cleanup_json_ struct json_object *pending = NULL;
	int r = 0;

	json_object_object_foreach(o, key, val)
	{
		struct json_object *raw = NULL;
		r = text_valid(val, &raw);
		if (raw && !pending && !(pending = json_object_new_object()))
			r = -ENOMEM;
		if (raw && (!pending || json_object_object_add(pending, key, raw) < 0)) {
			json_object_put(raw);
			r = -ENOMEM;
		}
		if (r < 0)
			break;
	}
	if (!pending)
		return r;
	json_object_object_foreach(pending, k, raw)
	{
		_cleanup_free_ char *name = NULL;
		if (asprintf(&name, "%s_b64", k) < 0 ||
		    json_object_object_add(o, name, json_object_get(raw)) < 0)
			r = -ENOMEM;
	}
	return r;
}

static int text_valid(struct json_object *v, struct json_object **ret_raw)
{
	*ret_raw = NULL;
	switch (json_object_get_type(v)) {
	case json_type_string:
		return string_valid(v, ret_raw);
	case json_type_array:
		return array_valid(v, ret_raw);
	case json_type_object:
		return object_valid(v);
	default:
		return 0;
	}
}

int eventlog_text_valid(struct json_object *o)
{
	struct json_object *raw = NULL;
	int r = text_valid(o, &raw);
	/* A bare string or array has no member to carry its bytes. */
	json_object_put(raw);
	return r;
}

/* ----------------------------------------------------------------- files */

static int open_file(struct eventlog_file *f)
{
	struct stat st;
	int fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	f->fd = fd;
	f->size = st.st_size;
	return 0;
}

/* The seq of the file's last event, so numbers go on across restarts. */
static uint64_t last_seq(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[8192];
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return 0;
	size_t want = (uint64_t)st.st_size < sizeof(buf) - 1 ? (size_t)st.st_size : sizeof(buf) - 1;
	ssize_t k = pread(fd, buf, want, st.st_size - want);
	if (k <= 0)
		return 0;
	buf[k] = '\0';
	while (k > 0 && buf[k - 1] == '\n')
		buf[--k] = '\0';
	char *line = strrchr(buf, '\n');
	unsigned long long seq;
	if (sscanf(line ? line + 1 : buf, "{\"seq\":%llu", &seq) != 1)
		return 0;
	return seq;
}

int eventlog_open(struct eventlog *el, const char *dir,
		  const struct eventlog_limits lim[EVENTLOG_FILES])
{
	int ret = 0;

	*el = (struct eventlog){ .file = { { .fd = -1 }, { .fd = -1 } } };
	for (int i = 0; i < EVENTLOG_FILES; i++) {
		struct eventlog_file *f = &el->file[i];
		f->lim = lim[i];
		if (asprintf(&f->path, "%s/%s", dir, file_names[i]) < 0) {
			f->path = NULL;
			return -ENOMEM;
		}
		int r = open_file(f);
		if (r < 0) {
			f->last_error = r;
			ret = ret ? ret : r;
			continue;
		}
		uint64_t seq = last_seq(f->path);
		if (seq > el->seq)
			el->seq = seq;
	}
	return ret;
}

void eventlog_close(struct eventlog *el)
{
	eventlog_flush(el);
	for (int i = 0; i < EVENTLOG_FILES; i++) {
		struct eventlog_file *f = &el->file[i];
		closep(&f->fd);
		for (size_t k = 0; k < f->backlog_count; k++)
			free(f->backlog[k]);
		free(f->path);
	}
	for (int c = 0; c < EVENTLOG_CLASSES; c++)
		for (size_t k = 0; k < EVENTLOG_RING; k++)
			json_object_put(el->ring[c].ev[k]);
	*el = (struct eventlog){ .file = { { .fd = -1 }, { .fd = -1 } } };
}

void eventlog_set_limits(struct eventlog *el, const struct eventlog_limits lim[EVENTLOG_FILES])
{
	for (int i = 0; i < EVENTLOG_FILES; i++)
		el->file[i].lim = lim[i];
}

struct json_object *eventlog_new(struct eventlog *el, const char *type)
{
	struct timespec ts;
	struct tm tm;
	char stamp[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + n, sizeof(stamp) - n, ".%03ldZ", ts.tv_nsec / 1000000);

	struct json_object *ev = json_object_new_object();
	if (!ev)
		return NULL;
	json_object_object_add(ev, "seq", json_object_new_uint64(++el->seq));
	json_object_object_add(ev, "time", json_object_new_string(stamp));
	json_object_object_add(ev, "type", json_object_new_string(type));
	return ev;
}

/* The events of the file rotation is about to remove, counted by class from
 * the type each line starts with (eventlog_new puts it third).  Reads the
 * whole file once per rotation: as many bytes as were written into it. */
static void count_dropped(struct eventlog_file *f)
{
	char path[PATH_MAX];
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	char type[64];

	snprintf(path, sizeof(path), "%s.%u", f->path, f->lim.keep);
	_cleanup_fclose_ FILE *in = fopen(path, "re");
	if (!in) {
		if (errno != ENOENT)
			log_warning_errno(errno, "Failed to count the events in %s", path);
		return;
	}
	while (getline(&line, &cap, in) > 0) {
		if (sscanf(line, "{\"seq\":%*[0-9],\"time\":\"%*[^\"]\",\"type\":\"%63[^\"]\"", type) != 1)
			type[0] = '\0';
		f->rotated[eventlog_class_of(type)]++;
	}
}

/* x.(k-1) -> x.k, ..., x -> x.1; the oldest falls off. */
static int rotate(struct eventlog_file *f)
{
	char from[PATH_MAX], to[PATH_MAX];

	closep(&f->fd);
	count_dropped(f);
	for (unsigned k = f->lim.keep; k >= 1; k--) {
		if (k == 1)
			snprintf(from, sizeof(from), "%s", f->path);
		else
			snprintf(from, sizeof(from), "%s.%u", f->path, k - 1);
		snprintf(to, sizeof(to), "%s.%u", f->path, k);
		if (rename(from, to) < 0 && errno != ENOENT)
			log_warning_errno(errno, "Failed to rotate %s to %s", from, to);
	}
	return open_file(f);
}

static int write_line(struct eventlog_file *f, const char *line)
{
	size_t len = strlen(line);
	int r;

	if (f->fd < 0 && (r = open_file(f)) < 0)
		return r;
	if (f->size > 0 && f->size + len > f->lim.max_bytes && (r = rotate(f)) < 0)
		return r;
	ssize_t k = write(f->fd, line, len);
	if (k < 0)
		return -errno;
	if ((size_t)k != len) {
		/* A torn line would corrupt the JSON-lines file: cut it back off. */
		if (ftruncate(f->fd, f->size) < 0)
			log_warning_errno(errno, "Failed to cut a partial event from %s", f->path);
		return -ENOSPC;
	}
	f->size += len;
	return 0;
}

static int flush_file(struct eventlog_file *f)
{
	size_t done = 0;
	int r = 0;

	while (done < f->backlog_count) {
		r = write_line(f, f->backlog[done]);
		if (r < 0) {
			/* Reopen on the next try: the file may have been replaced meanwhile. */
			closep(&f->fd);
			break;
		}
		free(f->backlog[done++]);
	}
	memmove(f->backlog, f->backlog + done, (f->backlog_count - done) * sizeof(char *));
	f->backlog_count -= done;
	f->last_error = r;
	return r;
}

int eventlog_flush(struct eventlog *el)
{
	int ret = 0;
	for (int i = 0; i < EVENTLOG_FILES; i++) {
		int r = flush_file(&el->file[i]);
		ret = ret ? ret : r;
	}
	return ret;
}

static void backlog_push(struct eventlog_file *f, char *line)
{
	if (!line) {
		f->lost++;
		return;
	}
	if (f->backlog_count == EVENTLOG_BACKLOG) {
		free(f->backlog[0]);
		memmove(f->backlog, f->backlog + 1, (EVENTLOG_BACKLOG - 1) * sizeof(char *));
		f->backlog_count--;
		f->lost++;
	}
	f->backlog[f->backlog_count++] = line;
}

static void ring_push(struct eventlog_ring *ring, struct json_object *ev)
{
	json_object_put(ring->ev[ring->head]);
	ring->ev[ring->head] = ev;
	ring->head = (ring->head + 1) % EVENTLOG_RING;
	if (ring->count < EVENTLOG_RING)
		ring->count++;
}

static uint64_t seq_of(struct json_object *ev)
{
	struct json_object *v;
	return json_object_object_get_ex(ev, "seq", &v) ? json_object_get_uint64(v) : 0;
}

int eventlog_append(struct eventlog *el, struct json_object *ev)
{
	struct json_object *t;
	char *line = NULL;

	int r = eventlog_text_valid(ev);
	if (r < 0)
		log_error_errno(r, "Event log: event %llu keeps text that is not UTF-8",
				(unsigned long long)seq_of(ev));
	if (asprintf(&line, "%s\n", json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN)) < 0) {
		json_object_put(ev);
		el->lost++;
		return -ENOMEM;
	}
	enum eventlog_class c = json_object_object_get_ex(ev, "type", &t)
					? eventlog_class_of(json_object_get_string(t))
					: EVENTLOG_ALERT;
	ring_push(&el->ring[c], ev);
	if (c == EVENTLOG_ALERT)
		backlog_push(&el->file[EVENTLOG_ALERTS], strdup(line));
	backlog_push(&el->file[EVENTLOG_EVENTS], line);
	return eventlog_flush(el);
}

const struct eventlog_file *eventlog_failing(const struct eventlog *el)
{
	for (int i = 0; i < EVENTLOG_FILES; i++)
		if (el->file[i].last_error < 0)
			return &el->file[i];
	return NULL;
}

uint64_t eventlog_lost(const struct eventlog *el)
{
	uint64_t n = el->lost;
	for (int i = 0; i < EVENTLOG_FILES; i++)
		n += el->file[i].lost;
	return n;
}

/* The k-th newest event of a ring (0: the newest); k < count. */
static struct json_object *ring_at(const struct eventlog_ring *ring, size_t k)
{
	return ring->ev[(ring->head + 2 * EVENTLOG_RING - 1 - k) % EVENTLOG_RING];
}

struct json_object *eventlog_recent(const struct eventlog *el, size_t n)
{
	const struct eventlog_ring *act = &el->ring[EVENTLOG_ACTIVITY], *al = &el->ring[EVENTLOG_ALERT];
	size_t i = 0, j = 0;

	struct json_object *arr = json_object_new_array();
	if (!arr)
		return NULL;
	if (n > act->count + al->count)
		n = act->count + al->count;
	/* Newest first from both rings, by seq; then turned around. */
	for (size_t k = 0; k < n; k++) {
		bool from_act = j == al->count ||
				(i < act->count && seq_of(ring_at(act, i)) > seq_of(ring_at(al, j)));
		struct json_object *ev = from_act ? ring_at(act, i++) : ring_at(al, j++);
		json_object_array_put_idx(arr, n - 1 - k, json_object_get(ev));
	}
	return arr;
}

static struct json_object *file_status(const struct eventlog_file *f)
{
	struct json_object *o = json_object_new_object(), *rot = json_object_new_object();
	if (!o || !rot) {
		json_object_put(o);
		json_object_put(rot);
		return NULL;
	}
	json_object_object_add(o, "path", json_object_new_string(f->path));
	json_object_object_add(o, "bytes", json_object_new_uint64(f->size));
	json_object_object_add(o, "max_bytes", json_object_new_uint64(f->lim.max_bytes));
	json_object_object_add(o, "keep", json_object_new_uint64(f->lim.keep));
	json_object_object_add(o, "waiting", json_object_new_uint64(f->backlog_count));
	json_object_object_add(o, "lost", json_object_new_uint64(f->lost));
	json_object_object_add(rot, "activity", json_object_new_uint64(f->rotated[EVENTLOG_ACTIVITY]));
	json_object_object_add(rot, "alert", json_object_new_uint64(f->rotated[EVENTLOG_ALERT]));
	json_object_object_add(o, "rotated", rot);
	if (f->last_error < 0)
		json_object_object_add(o, "error", json_object_new_string(strerror(-f->last_error)));
	return o;
}

struct json_object *eventlog_status(const struct eventlog *el)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "events", file_status(&el->file[EVENTLOG_EVENTS]));
	json_object_object_add(o, "alerts", file_status(&el->file[EVENTLOG_ALERTS]));
	return o;
}
