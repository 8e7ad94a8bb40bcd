#include "faults.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "fileio.h"
#include "jsonutil.h"
#include "log.h"

#define STATE_MAX_BYTES (256 * 1024)

int faults_init(struct faults *fs, const char *state_path, fault_emit_fn emit, void *ud)
{
	*fs = (struct faults){ .emit = emit, .ud = ud };
	if (fault_catalog_len > ARRAY_SIZE(fs->st))
		return -E2BIG;
	for (size_t i = 0; i < fault_catalog_len; i++)
		fs->st[i] = (struct fault_state){ .def = &fault_catalog[i],
						  .applies = true,
						  .severity = fault_catalog[i].severity };
	fs->n = fault_catalog_len;
	if (state_path && !(fs->state_path = strdup(state_path)))
		return -ENOMEM;
	return 0;
}

void faults_done(struct faults *fs)
{
	free(fs->state_path);
	fs->state_path = NULL;
}

static struct fault_state *find(struct faults *fs, int id)
{
	int i = fault_def_index(id);
	return i < 0 ? NULL : &fs->st[i];
}

const struct fault_state *faults_get(const struct faults *fs, int id)
{
	int i = fault_def_index(id);
	return i < 0 ? NULL : &fs->st[i];
}

bool faults_is_active(const struct faults *fs, int id)
{
	const struct fault_state *f = faults_get(fs, id);
	return f && f->active;
}

void faults_count(const struct faults *fs, unsigned counts[3])
{
	counts[0] = counts[1] = counts[2] = 0;
	for (size_t i = 0; i < fs->n; i++)
		if (fs->st[i].active)
			counts[fs->st[i].severity]++;
}

static void persist(struct faults *fs)
{
	int r = faults_save(fs);
	if (r < 0)
		log_error_errno(r, "Failed to save fault state to %s", fs->state_path);
	fs->dirty = false;
}

void faults_flush(struct faults *fs)
{
	if (fs->dirty)
		persist(fs);
}

static void set_text(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

int faults_raise_remedy(struct faults *fs, int id, const char *detail, const char *remedy)
{
	struct fault_state *f = find(fs, id);
	if (!f)
		return -ENOENT;
	if (!f->applies)
		return 0;
	bool changed = strcmp(f->detail, detail ? detail : "") != 0 ||
		       strcmp(f->remedy, remedy ? remedy : "") != 0;
	set_text(f->detail, sizeof(f->detail), detail);
	set_text(f->remedy, sizeof(f->remedy), remedy);
	if (f->active) {
		/* A detail that follows a count (events waiting, say) may change
		 * with every event: it is saved on the next tick, not each time. */
		if (changed)
			fs->dirty = true;
		return 0;
	}
	f->active = true;
	f->caused_by = 0;
	f->severity = f->def->severity;
	f->raised_at = time(NULL);
	f->raise_count++;
	persist(fs);
	if (fs->emit)
		fs->emit(FAULT_RAISED, f, fs->ud);
	return 1;
}

int faults_raise(struct faults *fs, int id, const char *detail)
{
	return faults_raise_remedy(fs, id, detail, NULL);
}

int faults_escalate(struct faults *fs, int id, enum fault_severity sev, const char *detail)
{
	struct fault_state *f = find(fs, id);
	if (!f)
		return -ENOENT;
	if (!f->active || f->severity >= sev)
		return 0;
	f->severity = sev;
	set_text(f->detail, sizeof(f->detail), detail);
	persist(fs);
	if (fs->emit)
		fs->emit(FAULT_RAISED, f, fs->ud);
	return 1;
}

int faults_clear(struct faults *fs, int id)
{
	struct fault_state *f = find(fs, id);
	if (!f)
		return -ENOENT;
	f->caused_by = 0;
	if (!f->active)
		return 0;
	f->active = false;
	f->cleared_at = time(NULL);
	persist(fs);
	if (fs->emit)
		fs->emit(FAULT_CLEARED, f, fs->ud);
	f->severity = f->def->severity;
	return 1;
}

int faults_set_applies(struct faults *fs, int id, bool applies)
{
	struct fault_state *f = find(fs, id);
	int r = 0;
	if (!f)
		return -ENOENT;
	if (!applies)
		r = faults_clear(fs, id);
	f->applies = applies;
	return r;
}

int faults_set_cause(struct faults *fs, int id, int cause)
{
	struct fault_state *f = find(fs, id);
	if (!f || (cause && !find(fs, cause)))
		return -ENOENT;
	int r = cause ? faults_clear(fs, id) : 0;
	f->caused_by = cause;
	return r;
}

void faults_relations_json(const struct faults *fs, int id, struct json_object *o)
{
	const struct fault_state *f = faults_get(fs, id);
	if (!f)
		return;
	if (f->caused_by && faults_is_active(fs, f->caused_by))
		json_object_object_add(o, "caused_by", json_object_new_int(f->caused_by));
	if (!f->active)
		return;
	struct json_object *affects = NULL;
	for (size_t i = 0; i < fs->n; i++)
		if (fs->st[i].caused_by == id) {
			if (!affects)
				affects = json_object_new_array();
			json_object_array_add(affects, json_object_new_int(fs->st[i].def->id));
		}
	if (affects)
		json_object_object_add(o, "affects", affects);
}

struct json_object *fault_state_to_json(const struct fault_state *f, bool with_remedy)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "id", json_object_new_int(f->def->id));
	json_object_object_add(o, "name", json_object_new_string(f->def->name));
	json_object_object_add(o, "severity",
			       json_object_new_string(fault_severity_name(f->severity)));
	json_object_object_add(o, "state", json_object_new_string(f->active ? "active" : "cleared"));
	json_object_object_add(o, "applies", json_object_new_boolean(f->applies));
	json_object_object_add(o, "detail", json_object_new_string(f->detail));
	json_object_object_add(o, "raised_at", json_object_new_int64(f->raised_at));
	json_object_object_add(o, "cleared_at", json_object_new_int64(f->cleared_at));
	json_object_object_add(o, "raise_count", json_object_new_int64(f->raise_count));
	if (with_remedy)
		json_object_object_add(o, "remediation",
				       json_object_new_string(f->remedy[0] ? f->remedy
									   : f->def->remediation));
	return o;
}

int faults_save(const struct faults *fs)
{
	if (!fs->state_path)
		return 0;
	_cleanup_json_ struct json_object *root = json_object_new_object();
	struct json_object *arr = json_object_new_array();
	if (!root || !arr) {
		json_object_put(arr);
		return -ENOMEM;
	}
	json_object_object_add(root, "version", json_object_new_int(1));
	json_object_object_add(root, "faults", arr);
	for (size_t i = 0; i < fs->n; i++) {
		const struct fault_state *f = &fs->st[i];
		struct json_object *o = fault_state_to_json(f, false);
		if (!o)
			return -ENOMEM;
		json_object_object_add(o, "remedy", json_object_new_string(f->remedy));
		json_object_array_add(arr, o);
	}
	size_t len;
	const char *s = json_object_to_json_string_length(root, JSON_C_TO_STRING_PRETTY, &len);
	return write_file_atomic(fs->state_path, s, len, 0600);
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool get_i64(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

/* Fills staged[] from the document; nothing in fs changes unless all of it is valid. */
static int parse_state(struct json_object *root, struct fault_state *staged, size_t n)
{
	struct json_object *arr;
	int64_t version;

	if (!json_object_is_type(root, json_type_object) || !get_i64(root, "version", &version) ||
	    version != 1 || !json_object_object_get_ex(root, "faults", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return -EBADMSG;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		int64_t id, raised, cleared, count;
		const char *state, *detail, *sev, *remedy;
		if (!json_object_is_type(o, json_type_object) || !get_i64(o, "id", &id) ||
		    !get_i64(o, "raised_at", &raised) || !get_i64(o, "cleared_at", &cleared) ||
		    !get_i64(o, "raise_count", &count) || !(state = get_str(o, "state")) ||
		    !(detail = get_str(o, "detail")) || !(sev = get_str(o, "severity")) ||
		    !(remedy = get_str(o, "remedy")))
			return -EBADMSG;
		int idx = fault_def_index((int)id);
		int s = fault_severity_from_name(sev);
		if (idx < 0 || (size_t)idx >= n || s < 0 || count < 0 || count > UINT_MAX)
			return -EBADMSG;
		struct fault_state *f = &staged[idx];
		f->active = strcmp(state, "active") == 0;
		f->severity = f->active ? (enum fault_severity)s : f->def->severity;
		set_text(f->detail, sizeof(f->detail), detail);
		set_text(f->remedy, sizeof(f->remedy), remedy);
		f->raised_at = raised;
		f->cleared_at = cleared;
		f->raise_count = (unsigned)count;
	}
	return 0;
}

int faults_load(struct faults *fs)
{
	_cleanup_free_ char *text = NULL;
	int r;

	if (!fs->state_path)
		return 0;
	r = read_file_all(fs->state_path, STATE_MAX_BYTES, &text, NULL);
	if (r == -ENOENT)
		return 0;
	if (r >= 0) {
		_cleanup_json_ struct json_object *root = json_tokener_parse(text);
		struct fault_state staged[ARRAY_SIZE(fs->st)];
		memcpy(staged, fs->st, sizeof(staged));
		r = root ? parse_state(root, staged, fs->n) : -EBADMSG;
		if (r == 0) {
			memcpy(fs->st, staged, sizeof(staged));
			return 0;
		}
	}
	for (size_t i = 0; i < fs->n; i++) {
		struct fault_state *f = &fs->st[i];
		*f = (struct fault_state){ .def = f->def, .applies = f->applies,
					   .severity = f->def->severity };
	}
	char aside[PATH_MAX];
	snprintf(aside, sizeof(aside), "%s.corrupt", fs->state_path);
	if (rename(fs->state_path, aside) < 0)
		log_warning_errno(errno, "Failed to move %s aside", fs->state_path);
	log_error_errno(r, "Fault state %s is unreadable, moved to %s; starting with no faults",
			fs->state_path, aside);
	return -EBADMSG;
}
