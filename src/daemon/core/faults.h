/* faults.h - the live fault registry: raise, clear, persist (FAULTS.md).
 *
 * One entry per catalogued fault.  A raise of an active fault only updates
 * its detail; a fault that does not apply under the policy is cleared and
 * cannot be raised.  Each transition is handed to the emit callback exactly
 * once, so picketd can write the event log, the journal and the metrics
 * (core/events.h).  Only the health layer raises and clears.
 * The registry is persisted as JSON (atomically) after every transition. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <time.h>

#include "fault_catalog.h"

#define FAULT_DETAIL_MAX 512
#define FAULT_REMEDY_MAX 768

struct fault_state {
	const struct fault_def *def;
	bool active;
	bool applies;
	enum fault_severity severity; /* may rise above def->severity */
	char detail[FAULT_DETAIL_MAX];
	char remedy[FAULT_REMEDY_MAX]; /* condition-specific remediation, "" = catalogue's */
	time_t raised_at;              /* last raise, 0 = never */
	time_t cleared_at;             /* last clear, 0 = never */
	unsigned raise_count;
	int caused_by; /* its condition holds because of this active fault, 0: none */
};

enum fault_transition {
	FAULT_RAISED,
	FAULT_CLEARED,
};

typedef void (*fault_emit_fn)(enum fault_transition t, const struct fault_state *f, void *ud);

struct faults {
	struct fault_state st[16];
	size_t n;
	char *state_path; /* NULL: not persisted */
	bool dirty;       /* a detail changed since the last save */
	fault_emit_fn emit;
	void *ud;
};

/* Saves a detail-only change (faults_flush); raises and clears are saved at once. */
void faults_flush(struct faults *fs);
/* state_path may be NULL.  Every fault starts cleared and applicable. */
int faults_init(struct faults *fs, const char *state_path, fault_emit_fn emit, void *ud);
void faults_done(struct faults *fs);
/* Loads persisted state without emitting: faults active before a restart are
 * active again until a re-check clears them.  A missing file is not an error;
 * an unreadable or corrupt one is moved aside to <path>.corrupt and -EBADMSG
 * is returned, leaving every fault cleared. */
int faults_load(struct faults *fs);
int faults_save(const struct faults *fs);

/* Returns 1 when the fault became active (an event was emitted), 0 when it
 * was already active or does not apply, -ENOENT for an unknown id. */
int faults_raise(struct faults *fs, int id, const char *detail);
/* As faults_raise with a condition-specific remediation text. */
int faults_raise_remedy(struct faults *fs, int id, const char *detail, const char *remedy);
/* Raises the current severity of an active fault (fault 6's escalation). */
int faults_escalate(struct faults *fs, int id, enum fault_severity sev, const char *detail);
/* Returns 1 when the fault was active and is now cleared, else 0. */
int faults_clear(struct faults *fs, int id);
/* Whether the policy enables the fault's feature; false clears it. */
int faults_set_applies(struct faults *fs, int id, bool applies);
/* One cause, one fault (FAULTS.md, "Root causes"): id's condition holds
 * because of fault cause, so id is cleared (if active) and listed under
 * cause instead; cause 0 ends that.  A raise or clear of id ends it too. */
int faults_set_cause(struct faults *fs, int id, int cause);

const struct fault_state *faults_get(const struct faults *fs, int id);
bool faults_is_active(const struct faults *fs, int id);
/* Active count by severity (array indexed by enum fault_severity). */
void faults_count(const struct faults *fs, unsigned counts[3]);

/* The JSON form shared by the control socket, the state file and events. */
struct json_object *fault_state_to_json(const struct fault_state *f, bool with_remedy);
/* Adds "caused_by" (id's active cause) or "affects" ([the faults it
 * causes]) to o, the control socket's form of fault id. */
void faults_relations_json(const struct faults *fs, int id, struct json_object *o);
