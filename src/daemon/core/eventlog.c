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

static int open_log(struct eventlog *el)
{
	struct stat st;
	int fd = open(el->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	el->fd = fd;
	el->size = st.st_size;
	return 0;
}

/* The seq of the file's last event, so numbers go on across restarts. */
static uint64_t last_seq(int fd, uint64_t size)
{
	char buf[8192];
	size_t want = size < sizeof(buf) - 1 ? size : sizeof(buf) - 1;
	ssize_t k = pread(fd, buf, want, size - want);
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

int eventlog_open(struct eventlog *el, const char *path, uint64_t max_bytes, unsigned keep)
{
	*el = (struct eventlog){ .fd = -1, .max_bytes = max_bytes, .keep = keep };
	el->path = strdup(path);
	if (!el->path)
		return -ENOMEM;
	int r = open_log(el);
	if (r == 0) {
		_cleanup_close_ int rfd = open(path, O_RDONLY | O_CLOEXEC);
		if (rfd >= 0)
			el->seq = last_seq(rfd, el->size);
	}
	if (r < 0)
		el->last_error = r;
	return r;
}

void eventlog_close(struct eventlog *el)
{
	eventlog_flush(el);
	if (el->fd >= 0)
		close(el->fd);
	for (size_t i = 0; i < EVENTLOG_RING; i++)
		json_object_put(el->ring[i]);
	for (size_t i = 0; i < el->backlog_count; i++)
		free(el->backlog[i]);
	free(el->path);
	*el = (struct eventlog){ .fd = -1 };
}

void eventlog_set_limits(struct eventlog *el, uint64_t max_bytes, unsigned keep)
{
	el->max_bytes = max_bytes;
	el->keep = keep;
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

/* events.jsonl.(k-1) -> .k, ..., events.jsonl -> .1; the oldest falls off. */
static int rotate(struct eventlog *el)
{
	char from[PATH_MAX], to[PATH_MAX];

	close(el->fd);
	el->fd = -1;
	for (unsigned k = el->keep; k >= 1; k--) {
		if (k == 1)
			snprintf(from, sizeof(from), "%s", el->path);
		else
			snprintf(from, sizeof(from), "%s.%u", el->path, k - 1);
		snprintf(to, sizeof(to), "%s.%u", el->path, k);
		if (rename(from, to) < 0 && errno != ENOENT)
			log_warning_errno(errno, "Failed to rotate %s to %s", from, to);
	}
	return open_log(el);
}

static int write_line(struct eventlog *el, const char *line)
{
	size_t len = strlen(line);
	int r;

	if (el->fd < 0 && (r = open_log(el)) < 0)
		return r;
	if (el->size > 0 && el->size + len > el->max_bytes && (r = rotate(el)) < 0)
		return r;
	ssize_t k = write(el->fd, line, len);
	if (k < 0)
		return -errno;
	if ((size_t)k != len) {
		/* A torn line would corrupt the JSON-lines file: cut it back off. */
		if (ftruncate(el->fd, el->size) < 0)
			log_warning_errno(errno, "Failed to cut a partial event from %s", el->path);
		return -ENOSPC;
	}
	el->size += len;
	return 0;
}

int eventlog_flush(struct eventlog *el)
{
	size_t done = 0;
	int r = 0;

	while (done < el->backlog_count) {
		r = write_line(el, el->backlog[done]);
		if (r < 0) {
			/* Reopen on the next try: the file may have been replaced meanwhile. */
			if (el->fd >= 0) {
				close(el->fd);
				el->fd = -1;
			}
			break;
		}
		free(el->backlog[done++]);
	}
	memmove(el->backlog, el->backlog + done, (el->backlog_count - done) * sizeof(char *));
	el->backlog_count -= done;
	el->last_error = r;
	return r;
}

static void backlog_push(struct eventlog *el, char *line)
{
	if (el->backlog_count == EVENTLOG_BACKLOG) {
		free(el->backlog[0]);
		memmove(el->backlog, el->backlog + 1, (EVENTLOG_BACKLOG - 1) * sizeof(char *));
		el->backlog_count--;
		el->lost++;
	}
	el->backlog[el->backlog_count++] = line;
}

int eventlog_append(struct eventlog *el, struct json_object *ev)
{
	char *line = NULL;

	int r = eventlog_text_valid(ev);
	if (r < 0)
		log_error_errno(r, "Event log: event %llu keeps text that is not UTF-8",
				(unsigned long long)el->seq);
	if (asprintf(&line, "%s\n", json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN)) < 0) {
		json_object_put(ev);
		el->lost++;
		return -ENOMEM;
	}
	json_object_put(el->ring[el->ring_head]);
	el->ring[el->ring_head] = ev;
	el->ring_head = (el->ring_head + 1) % EVENTLOG_RING;
	if (el->ring_count < EVENTLOG_RING)
		el->ring_count++;

	backlog_push(el, line);
	return eventlog_flush(el);
}

struct json_object *eventlog_recent(const struct eventlog *el, size_t n)
{
	struct json_object *arr = json_object_new_array();
	if (!arr)
		return NULL;
	if (n > el->ring_count)
		n = el->ring_count;
	for (size_t i = 0; i < n; i++) {
		size_t idx = (el->ring_head + EVENTLOG_RING - n + i) % EVENTLOG_RING;
		json_object_array_add(arr, json_object_get(el->ring[idx]));
	}
	return arr;
}
