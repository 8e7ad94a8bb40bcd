#include "proctable.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"

struct proc_entry {
	struct proc_info info;
	UT_hash_handle hh;
};

static void entry_free(struct proc_entry *e)
{
	if (!e)
		return;
	free(e->info.exe);
	free(e->info.argv);
	free(e);
}

int proctable_init(struct proctable *t, size_t max, const char *proc_root)
{
	*t = (struct proctable){ .max = max ? max : 1 };
	snprintf(t->proc_root, sizeof(t->proc_root), "%s", proc_root ? proc_root : "/proc");
	return 0;
}

void proctable_done(struct proctable *t)
{
	struct proc_entry *e, *tmp;
	HASH_ITER(hh, t->byp, e, tmp) {
		HASH_DEL(t->byp, e);
		entry_free(e);
	}
	t->len = 0;
}

static void remove_entry(struct proctable *t, struct proc_entry *e)
{
	HASH_DEL(t->byp, e);
	entry_free(e);
	t->len--;
}

/* Makes room for one more: exited processes first, then the oldest. */
static void make_room(struct proctable *t)
{
	struct proc_entry *e, *tmp;
	if (t->len < t->max)
		return;
	HASH_ITER(hh, t->byp, e, tmp) {
		if (e->info.exited) {
			remove_entry(t, e);
			t->evicted++;
			if (t->len < t->max)
				return;
		}
	}
	while (t->len >= t->max && t->byp) {
		remove_entry(t, t->byp); /* insertion order: the head is the oldest */
		t->evicted++;
	}
}

/* The entry for pid, created empty when it is not there. */
static struct proc_entry *entry_for(struct proctable *t, pid_t pid)
{
	struct proc_entry *e;
	HASH_FIND_INT(t->byp, &pid, e);
	if (e)
		return e;
	make_room(t);
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->info.pid = pid;
	e->info.exe = strdup("");
	e->info.argv = strdup("");
	if (!e->info.exe || !e->info.argv) {
		entry_free(e);
		return NULL;
	}
	HASH_ADD_INT(t->byp, info.pid, e);
	t->len++;
	return e;
}

static int set_str(char **dst, const char *v)
{
	char *copy = strdup(v ? v : "");
	if (!copy)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

/* NUL-separated argv to one line, arguments joined by spaces. */
static char *join_args(const char *args, size_t len)
{
	char *out = malloc(len + 1);
	if (!out)
		return NULL;
	memcpy(out, args, len);
	out[len] = '\0';
	while (len > 0 && out[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len; i++)
		if (out[i] == '\0')
			out[i] = ' ';
	out[len] = '\0';
	return out;
}

int proctable_exec(struct proctable *t, const struct proc_info *p, const char *argv,
		   size_t args_len)
{
	struct proc_entry *e = entry_for(t, p->pid);
	if (!e)
		return -ENOMEM;
	char *joined = join_args(argv, args_len);
	if (!joined || set_str(&e->info.exe, p->exe) < 0) {
		free(joined);
		return -ENOMEM;
	}
	free(e->info.argv);
	e->info.argv = joined;
	e->info.ppid = p->ppid;
	e->info.uid = p->uid;
	e->info.start_ns = p->start_ns;
	e->info.exe_dev = p->exe_dev;
	e->info.exe_ino = p->exe_ino;
	e->info.exited = 0;
	memcpy(e->info.comm, p->comm, sizeof(e->info.comm));
	e->info.comm[sizeof(e->info.comm) - 1] = '\0';
	return 0;
}

/* A child runs its parent's program until it calls exec. */
int proctable_fork(struct proctable *t, const struct proc_info *p)
{
	struct proc_entry *parent;
	_cleanup_free_ char *exe = NULL, *argv = NULL;
	uint64_t dev = 0, ino = 0;
	/* Copied first: making room for the child may evict the parent. */
	HASH_FIND_INT(t->byp, &p->ppid, parent);
	if (parent) {
		exe = strdup(parent->info.exe);
		argv = strdup(parent->info.argv);
		if (!exe || !argv)
			return -ENOMEM;
		dev = parent->info.exe_dev;
		ino = parent->info.exe_ino;
	}
	struct proc_entry *e = entry_for(t, p->pid);
	if (!e)
		return -ENOMEM;
	if (exe) {
		free(e->info.exe);
		free(e->info.argv);
		e->info.exe = TAKE_PTR(exe);
		e->info.argv = TAKE_PTR(argv);
		e->info.exe_dev = dev;
		e->info.exe_ino = ino;
	}
	e->info.ppid = p->ppid;
	e->info.uid = p->uid;
	e->info.start_ns = p->start_ns;
	e->info.exited = 0;
	memcpy(e->info.comm, p->comm, sizeof(e->info.comm));
	e->info.comm[sizeof(e->info.comm) - 1] = '\0';
	return 0;
}

void proctable_exit(struct proctable *t, pid_t pid, time_t now)
{
	struct proc_entry *e;
	HASH_FIND_INT(t->byp, &pid, e);
	if (e)
		e->info.exited = now;
}

void proctable_expire(struct proctable *t, time_t now)
{
	struct proc_entry *e, *tmp;
	HASH_ITER(hh, t->byp, e, tmp)
		if (e->info.exited && now - e->info.exited > PROCTABLE_LINGER)
			remove_entry(t, e);
}

/* Fields 4 (ppid) and 22 (start time in clock ticks) of /proc/PID/stat;
 * the command name in parentheses may hold spaces and ')'. */
static int parse_stat(const char *text, pid_t *ppid, uint64_t *start_ns)
{
	const char *p = strrchr(text, ')');
	unsigned long long ticks;
	int pp;
	if (!p || sscanf(p + 1, " %*c %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
				"%*s %*s %*s %llu",
			 &pp, &ticks) != 2)
		return -EINVAL;
	long hz = sysconf(_SC_CLK_TCK);
	*ppid = pp;
	*start_ns = ticks * (1000000000ULL / (unsigned long long)(hz > 0 ? hz : 100));
	return 0;
}

static int read_small(const char *root, pid_t pid, const char *name, char **ret, size_t *ret_len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%d/%s", root, (int)pid, name);
	return read_file_all(path, 64 * 1024, ret, ret_len);
}

/* One process from proc_root; -ENOENT when it is gone. */
static int load_from_proc(struct proctable *t, pid_t pid)
{
	_cleanup_free_ char *stat = NULL, *status = NULL, *cmdline = NULL;
	char path[PATH_MAX], exe[PATH_MAX] = "";
	struct proc_info p = { .pid = pid };
	size_t cmd_len = 0;
	int r;

	r = read_small(t->proc_root, pid, "stat", &stat, NULL);
	if (r < 0)
		return r;
	r = parse_stat(stat, &p.ppid, &p.start_ns);
	if (r < 0)
		return r;
	if (read_small(t->proc_root, pid, "status", &status, NULL) == 0) {
		const char *uid = strstr(status, "\nUid:");
		const char *name = strncmp(status, "Name:", 5) == 0 ? status + 5 : NULL;
		if (uid)
			p.uid = (uid_t)strtoul(uid + 5, NULL, 10);
		if (name) {
			name += strspn(name, " \t");
			size_t n = strcspn(name, "\n");
			snprintf(p.comm, sizeof(p.comm), "%.*s", (int)n, name);
		}
	}
	(void)read_small(t->proc_root, pid, "cmdline", &cmdline, &cmd_len);
	snprintf(path, sizeof(path), "%s/%d/exe", t->proc_root, (int)pid);
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	p.exe = exe;
	return proctable_exec(t, &p, cmdline ? cmdline : "", cmdline ? cmd_len : 0);
}

int proctable_seed(struct proctable *t)
{
	_cleanup_closedir_ DIR *dir = opendir(t->proc_root);
	struct dirent *de;
	if (!dir)
		return -errno;
	while ((de = readdir(dir)) && t->len < t->max) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		int r = load_from_proc(t, (pid_t)strtol(de->d_name, NULL, 10));
		if (r == -ENOMEM)
			return r; /* others: the process went away meanwhile */
	}
	return 0;
}

const struct proc_info *proctable_get(struct proctable *t, pid_t pid)
{
	struct proc_entry *e;
	if (pid <= 0)
		return NULL;
	HASH_FIND_INT(t->byp, &pid, e);
	if (e)
		return &e->info;
	t->misses++;
	if (load_from_proc(t, pid) < 0)
		return NULL;
	HASH_FIND_INT(t->byp, &pid, e);
	return e ? &e->info : NULL;
}

struct json_object *proctable_json(struct proctable *t, pid_t pid)
{
	const struct proc_info *p = proctable_get(t, pid);
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "pid", json_object_new_int(pid));
	if (!p)
		return o;
	json_object_object_add(o, "ppid", json_object_new_int(p->ppid));
	json_object_object_add(o, "uid", json_object_new_int64(p->uid));
	json_object_object_add(o, "exe", json_object_new_string(p->exe));
	json_object_object_add(o, "comm", json_object_new_string(p->comm));
	json_object_object_add(o, "argv", json_object_new_string(p->argv));
	return o;
}
