/* render.h - the human form of picketd's replies, printed to stdout (only
 * the files a scan could not read go to stderr, like clamscan's).
 *
 * Each renderer takes a successful reply object of proto.h ("ok": true) and
 * tolerates missing or mistyped fields: the daemon is written in parallel
 * with this tool, so an absent field prints as "-" rather than failing. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

/* Typed field lookups: NULL / def when the key is absent or of another type. */
const char *jget_str(struct json_object *o, const char *key);
int64_t jget_int(struct json_object *o, const char *key, int64_t def);
bool jget_bool(struct json_object *o, const char *key, bool def);
double jget_double(struct json_object *o, const char *key, double def); /* or an int */
struct json_object *jget_obj(struct json_object *o, const char *key);
struct json_object *jget_array(struct json_object *o, const char *key);

/* Fault details carry file and process names chosen by whoever writes files
 * on the host: every string of o has its control characters replaced before
 * it reaches a terminal.  0 or -ENOMEM. */
int render_sanitize(struct json_object *o);

/* One renderer per command. */
void render_status(struct json_object *reply);
void render_faults(struct json_object *reply);
void render_fault(struct json_object *reply);
void render_events(struct json_object *reply);
void render_event(struct json_object *event); /* one {"seq":...} object */
void render_policy(struct json_object *reply);
void render_policy_reload(struct json_object *reply);

/* health takes a "faults" reply: the count of active faults, then the line. */
unsigned health_active_count(struct json_object *reply);
void render_health(struct json_object *reply);

/* scan: the infected files (counted, or listed if more), then the lines. */
uint64_t scan_infected_count(struct json_object *reply);
void render_scan(struct json_object *reply);
/* One line, no newline, for a {"progress":{...}} object's value. */
void render_scan_progress(struct json_object *progress, char *buf, size_t len);

void render_defs_status(struct json_object *reply);
/* Each file's outcome, then the active set when "ok"; not the error. */
void render_defs_install(struct json_object *reply);

void render_quarantine_list(struct json_object *reply);
void render_quarantine_restored(struct json_object *reply);
void render_quarantine_deleted(struct json_object *reply);
