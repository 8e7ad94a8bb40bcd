/* eventlog.h - the connector's event log: one JSON object a line.
 *
 * Every event gets a sequence number and a UTC time and is appended to
 * events.jsonl.  Alerts, every type but the records of single operations
 * (exec, fork, exit, flow, file_scan), are appended to alerts.jsonl too,
 * which rotates on its own limits: a flood of activity cannot rotate them
 * away.  Each file rotates by size (x.jsonl, x.jsonl.1, ...); the events in
 * the file that falls off are counted by class.  Recent events stay in
 * memory for `picketctl events`, in one bounded ring per class.  When a file
 * cannot be written, its lines wait in a bounded backlog flushed on the next
 * successful write; what overflows is counted as lost (fault 21).
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

#define EVENTLOG_RING 1024 /* per class */
#define EVENTLOG_BACKLOG 4096 /* per file */

enum eventlog_class { EVENTLOG_ACTIVITY, EVENTLOG_ALERT, EVENTLOG_CLASSES };
enum eventlog_which { EVENTLOG_EVENTS, EVENTLOG_ALERTS, EVENTLOG_FILES };

struct eventlog_limits {
	uint64_t max_bytes;
	unsigned keep; /* rotated files, >= 1 */
};

struct eventlog_file {
	char *path;
	struct eventlog_limits lim;
	int fd;
	uint64_t size;
	char *backlog[EVENTLOG_BACKLOG]; /* serialized lines not yet written */
	size_t backlog_count;
	uint64_t lost;
	uint64_t rotated[EVENTLOG_CLASSES]; /* events in the files rotation removed */
	int last_error; /* negative errno of the last failed write, 0 when healthy */
};

struct eventlog_ring {
	struct json_object *ev[EVENTLOG_RING];
	size_t head; /* next slot */
	size_t count;
};

struct eventlog {
	struct eventlog_file file[EVENTLOG_FILES];
	uint64_t seq;
	uint64_t lost; /* events that never became a line */
	struct eventlog_ring ring[EVENTLOG_CLASSES];
};

/* events.jsonl and alerts.jsonl in dir; limits per enum eventlog_which.
 * On an error but -ENOMEM the log is usable: its lines wait in memory. */
int eventlog_open(struct eventlog *el, const char *dir,
		  const struct eventlog_limits lim[EVENTLOG_FILES]);
void eventlog_close(struct eventlog *el);
void eventlog_set_limits(struct eventlog *el, const struct eventlog_limits lim[EVENTLOG_FILES]);
enum eventlog_class eventlog_class_of(const char *type);
/* Creates an event of the given type with its seq and time filled in. */
struct json_object *eventlog_new(struct eventlog *el, const char *type);
/* Takes ownership of ev: makes its text valid (above), keeps it in the ring
 * and writes it (after any backlog).  Returns 0, or the negative errno of a
 * failed write, in which case the line waits in that file's backlog. */
int eventlog_append(struct eventlog *el, struct json_object *ev);
/* Retries the backlogs; 0 when they are empty afterwards. */
int eventlog_flush(struct eventlog *el);
/* The file whose last write failed (events.jsonl first), or NULL. */
const struct eventlog_file *eventlog_failing(const struct eventlog *el);
/* Events and lines lost, all files. */
uint64_t eventlog_lost(const struct eventlog *el);
/* The last n events the rings hold, oldest first, as a new JSON array. */
struct json_object *eventlog_recent(const struct eventlog *el, size_t n);
/* Each file's size, limits, backlog, losses and rotated counts. */
struct json_object *eventlog_status(const struct eventlog *el);
/* Makes every string in o valid UTF-8 by the rule above, in place: 0, or
 * -ENOMEM with the strings not yet handled left as they were. */
int eventlog_text_valid(struct json_object *o);
