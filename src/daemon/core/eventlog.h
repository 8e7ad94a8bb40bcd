/* eventlog.h - the connector's event log: one JSON object a line.
 *
 * Every event gets a sequence number and a UTC time, is kept in a bounded
 * in-memory ring for `picketctl events`, and is appended to the log file,
 * which is rotated by size (events.jsonl, events.jsonl.1, ...).  When the
 * file cannot be written, events wait in a bounded backlog that is flushed
 * on the next successful write; what overflows is counted as lost (fault 21).
 *
 * Text: every string written is valid UTF-8.  A string that is not keeps
 * its valid sequences, has U+FFFD for each other byte, and gets a sibling
 * member "<name>_b64" with its exact bytes in base64 (in an array: a sibling
 * array, the base64 at the same index, null elsewhere).  Control characters
 * are JSON escapes ("\u0001"), which decode to the same bytes. */
#pragma once

#include <json-c/json.h>
#include <stdint.h>
#include <stddef.h>

#define EVENTLOG_RING 1024
#define EVENTLOG_BACKLOG 4096

struct eventlog {
	char *path;
	uint64_t max_bytes;
	unsigned keep;
	int fd;
	uint64_t size;
	uint64_t seq;
	struct json_object *ring[EVENTLOG_RING];
	size_t ring_head; /* next slot */
	size_t ring_count;
	char *backlog[EVENTLOG_BACKLOG]; /* serialized lines not yet written */
	size_t backlog_count;
	uint64_t lost;
	int last_error; /* negative errno of the last failed write, 0 when healthy */
};

int eventlog_open(struct eventlog *el, const char *path, uint64_t max_bytes, unsigned keep);
void eventlog_close(struct eventlog *el);
void eventlog_set_limits(struct eventlog *el, uint64_t max_bytes, unsigned keep);
/* Creates an event of the given type with its seq and time filled in. */
struct json_object *eventlog_new(struct eventlog *el, const char *type);
/* Takes ownership of ev: makes its text valid (above), keeps it in the ring
 * and writes it (after any backlog).  Returns 0, or the negative errno of the failed write, in which
 * case the event waits in the backlog. */
int eventlog_append(struct eventlog *el, struct json_object *ev);
/* Retries the backlog; 0 when it is empty afterwards. */
int eventlog_flush(struct eventlog *el);
/* The last n events, oldest first, as a new JSON array. */
struct json_object *eventlog_recent(const struct eventlog *el, size_t n);
/* Makes every string in o valid UTF-8 by the rule above, in place: 0, or
 * -ENOMEM with the strings not yet handled left as they were. */
int eventlog_text_valid(struct json_object *o);
