/* Unit tests of src/daemon/proctable.c: seeding from a prepared proc tree
 * (stat with a hostile command name, status, cmdline, the exe link), the
 * monitor's exec, fork and exit, the linger before a process is forgotten,
 * loading on a miss, the size bound and its eviction order, and the JSON form
 * an event carries. */
#include "testutil.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "core/proctable.h"

/* One process of the fake proc tree. */
struct fake {
	pid_t pid, ppid;
	const char *comm; /* in stat's parentheses and status's Name: */
	uid_t uid;
	unsigned long long ticks; /* stat field 22 */
	const char *cmdline;      /* NUL-separated, cmdline_len bytes; NULL: no file */
	size_t cmdline_len;
	const char *exe; /* the exe link's target; NULL: no link */
};

static void write_bytes(const char *root, const char *rel, const void *data, size_t len)
{
	FILE *f = fopen(tu_path(root, rel), "we");

	if (!f)
		fail_msg("open %s/%s", root, rel);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_stat(const char *root, pid_t pid, const char *text)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "%d/stat", (int)pid);
	tu_write(root, rel, text);
}

/* <pid>/stat, status, cmdline and exe as the kernel writes them. */
static void fake_proc(const char *root, const struct fake *f)
{
	char rel[64], text[1024];

	snprintf(text, sizeof(text),
		 "%d (%s) S %d %d %d 0 -1 4194560 120 0 3 0 5 7 0 0 20 0 1 0 %llu 2433024 250 "
		 "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n",
		 (int)f->pid, f->comm, (int)f->ppid, (int)f->pid, (int)f->pid, f->ticks);
	write_stat(root, f->pid, text);
	snprintf(rel, sizeof(rel), "%d/status", (int)f->pid);
	snprintf(text, sizeof(text),
		 "Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t%d\nNgid:\t0\nPid:\t%d\n"
		 "PPid:\t%d\nTracerPid:\t0\nUid:\t%u\t%u\t%u\t%u\nGid:\t100\t100\t100\t100\n"
		 "FDSize:\t64\n",
		 f->comm, (int)f->pid, (int)f->pid, (int)f->ppid, (unsigned)f->uid, (unsigned)f->uid,
		 (unsigned)f->uid, (unsigned)f->uid);
	tu_write(root, rel, text);
	if (f->cmdline) {
		snprintf(rel, sizeof(rel), "%d/cmdline", (int)f->pid);
		write_bytes(root, rel, f->cmdline, f->cmdline_len);
	}
	if (f->exe) {
		snprintf(rel, sizeof(rel), "%d/exe", (int)f->pid);
		if (symlink(f->exe, tu_path(root, rel)) < 0)
			fail_msg("symlink %s: %s", rel, strerror(errno));
	}
}

#define CMDLINE(s) s, sizeof(s) - 1 /* a literal with its embedded NULs */

static const struct fake init_proc = {
	.pid = 1, .ppid = 0, .comm = "systemd", .uid = 0, .ticks = 2,
	.cmdline = "/sbin/init\0splash\0", .cmdline_len = sizeof("/sbin/init\0splash\0") - 1,
	.exe = "/usr/lib/systemd/systemd",
};

/* A command name with spaces, parentheses and digits: only the last ')'
 * ends it ("2 (x" would otherwise read as the ppid). */
static const struct fake odd_proc = {
	.pid = 42, .ppid = 1, .comm = "my prog) 2 (x", .uid = 1000, .ticks = 123456,
	.cmdline = "true\0--flag\0a b\0", .cmdline_len = sizeof("true\0--flag\0a b\0") - 1,
	.exe = "/usr/bin/true",
};

static uint64_t ticks_ns(unsigned long long ticks)
{
	long hz = sysconf(_SC_CLK_TCK);
	return ticks * (1000000000ULL / (unsigned long long)(hz > 0 ? hz : 100));
}

static void init(struct proctable *t, size_t max, const char *root)
{
	assert_int_equal(proctable_init(t, max, root), 0);
}

/* A process as the monitor reports an exec. */
static void exec_proc(struct proctable *t, pid_t pid, pid_t ppid, const char *exe,
		      const char *args, size_t args_len)
{
	struct proc_info p = { .pid = pid, .ppid = ppid, .uid = 1000, .exe = (char *)exe };

	snprintf(p.comm, sizeof(p.comm), "c%d", (int)pid);
	assert_int_equal(proctable_exec(t, &p, args, args_len), 0);
}

static void exec_simple(struct proctable *t, pid_t pid)
{
	exec_proc(t, pid, 1, "/usr/bin/sleep", CMDLINE("sleep\0" "100\0"));
}

/* Whether pid is in the table, without loading it (the proc root given to
 * these tests is empty, so a miss finds nothing). */
static bool known(struct proctable *t, pid_t pid)
{
	return proctable_get(t, pid) != NULL;
}

static void test_init_defaults(void **state)
{
	(void)state;
	struct proctable t;

	init(&t, 0, NULL);
	assert_int_equal(t.max, 1);
	assert_string_equal(t.proc_root, "/proc");
	assert_int_equal(t.len, 0);
	assert_int_equal(t.evicted, 0);
	assert_int_equal(t.misses, 0);
	proctable_done(&t);

	init(&t, 100, *state);
	assert_int_equal(t.max, 100);
	assert_string_equal(t.proc_root, *state);
	proctable_done(&t);
}

static void test_seed_reads_proc_tree(void **state)
{
	struct proctable t;

	fake_proc(*state, &init_proc);
	fake_proc(*state, &odd_proc);
	/* Not processes: skipped. */
	tu_mkdir(*state, "sys/kernel");
	tu_write(*state, "version", "Linux version 6.1\n");
	assert_int_equal(symlink("42", tu_path(*state, "self")), 0);

	init(&t, 16, *state);
	assert_int_equal(proctable_seed(&t), 0);
	assert_int_equal(t.len, 2);

	const struct proc_info *p = proctable_get(&t, 42);
	assert_non_null(p);
	assert_int_equal(p->pid, 42);
	assert_int_equal(p->ppid, 1);
	assert_int_equal(p->uid, 1000);
	assert_string_equal(p->exe, "/usr/bin/true");
	assert_string_equal(p->argv, "true --flag a b");
	assert_string_equal(p->comm, "my prog) 2 (x");
	assert_int_equal(p->start_ns, ticks_ns(123456));
	assert_int_equal(p->exited, 0);

	p = proctable_get(&t, 1);
	assert_non_null(p);
	assert_int_equal(p->ppid, 0);
	assert_int_equal(p->uid, 0);
	assert_string_equal(p->exe, "/usr/lib/systemd/systemd");
	assert_string_equal(p->argv, "/sbin/init splash");
	assert_string_equal(p->comm, "systemd");
	assert_int_equal(t.misses, 0); /* both were seeded */
	proctable_done(&t);
}

static void test_seed_skips_broken_processes(void **state)
{
	struct proctable t;

	fake_proc(*state, &odd_proc);
	write_stat(*state, 50, "garbage\n");           /* no ')' */
	write_stat(*state, 51, "51 (short) S 1 2 3\n"); /* too few fields */
	tu_mkdir(*state, "52");                         /* gone meanwhile: no stat */
	init(&t, 16, *state);
	assert_int_equal(proctable_seed(&t), 0);
	assert_int_equal(t.len, 1);
	assert_non_null(proctable_get(&t, 42));
	assert_null(proctable_get(&t, 50));
	assert_null(proctable_get(&t, 51));
	assert_null(proctable_get(&t, 52));
	assert_int_equal(t.len, 1);
	proctable_done(&t);
}

static void test_seed_missing_root_is_enoent(void **state)
{
	struct proctable t;

	init(&t, 16, tu_path(*state, "missing"));
	assert_int_equal(proctable_seed(&t), -ENOENT);
	assert_int_equal(t.len, 0);
	proctable_done(&t);
}

static void test_seed_stops_at_max(void **state)
{
	struct proctable t;

	for (pid_t pid = 100; pid < 110; pid++) {
		struct fake f = odd_proc;
		f.pid = pid;
		fake_proc(*state, &f);
	}
	init(&t, 4, *state);
	assert_int_equal(proctable_seed(&t), 0);
	assert_int_equal(t.len, 4);
	assert_int_equal(t.evicted, 0);
	proctable_done(&t);
}

/* A kernel thread: stat only, or an empty cmdline and no readable exe. */
static void test_load_with_only_stat(void **state)
{
	struct proctable t;

	write_stat(*state, 2, "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 "
			      "7 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 1 0 0\n");
	write_bytes(*state, "2/cmdline", "", 0);
	init(&t, 16, *state);
	const struct proc_info *p = proctable_get(&t, 2);
	assert_non_null(p);
	assert_int_equal(p->ppid, 0);
	assert_int_equal(p->uid, 0);
	assert_int_equal(p->start_ns, ticks_ns(7));
	assert_string_equal(p->exe, "");
	assert_string_equal(p->argv, "");
	assert_string_equal(p->comm, ""); /* comm comes from status */
	proctable_done(&t);
}

static void test_load_truncates_long_comm(void **state)
{
	struct proctable t;
	struct fake f = odd_proc;

	f.comm = "abcdefghijklmnopqrstuvwxyz";
	fake_proc(*state, &f);
	init(&t, 16, *state);
	const struct proc_info *p = proctable_get(&t, 42);
	assert_non_null(p);
	assert_string_equal(p->comm, "abcdefghijklmno");
	proctable_done(&t);
}

/* The cmdline of a process that rewrote its arguments has no final NUL. */
static void test_load_cmdline_without_final_nul(void **state)
{
	struct proctable t;
	struct fake f = odd_proc;

	f.cmdline = "sshd: user@pts/0";
	f.cmdline_len = strlen(f.cmdline);
	fake_proc(*state, &f);
	init(&t, 16, *state);
	const struct proc_info *p = proctable_get(&t, 42);
	assert_non_null(p);
	assert_string_equal(p->argv, "sshd: user@pts/0");
	proctable_done(&t);
}

static void test_exec_replaces_exe_argv_ppid(void **state)
{
	struct proctable t;

	fake_proc(*state, &odd_proc);
	init(&t, 16, *state);
	assert_int_equal(proctable_seed(&t), 0);

	struct proc_info n = { .pid = 42, .ppid = 7, .uid = 33, .start_ns = 99, .exe_dev = 0x803,
			       .exe_ino = 4242, .exe = (char *)"/usr/bin/python3", .comm = "python3" };
	assert_int_equal(proctable_exec(&t, &n, CMDLINE("python3\0-c\0print(1)\0")), 0);
	assert_int_equal(t.len, 1);
	const struct proc_info *p = proctable_get(&t, 42);
	assert_non_null(p);
	assert_int_equal(p->ppid, 7);
	assert_int_equal(p->uid, 33);
	assert_int_equal(p->start_ns, 99);
	assert_int_equal(p->exe_dev, 0x803);
	assert_int_equal(p->exe_ino, 4242);
	assert_string_equal(p->exe, "/usr/bin/python3");
	assert_string_equal(p->argv, "python3 -c print(1)");
	assert_string_equal(p->comm, "python3");
	proctable_done(&t);
}

static void test_exec_argv_truncated_without_nul(void **state)
{
	struct proctable t;

	init(&t, 16, *state);
	/* Cut in the middle of the last argument, as the eBPF buffer does. */
	exec_proc(&t, 10, 1, "/bin/x", "ab\0cd\0ef", 7);
	assert_string_equal(proctable_get(&t, 10)->argv, "ab cd e");
	/* Several trailing NULs are all dropped. */
	exec_proc(&t, 11, 1, "/bin/x", "a\0\0\0", 4);
	assert_string_equal(proctable_get(&t, 11)->argv, "a");
	/* No arguments at all. */
	exec_proc(&t, 12, 1, "/bin/x", "", 0);
	assert_string_equal(proctable_get(&t, 12)->argv, "");
	/* Empty arguments keep their place. */
	exec_proc(&t, 13, 1, "/bin/x", CMDLINE("a\0\0b\0"));
	assert_string_equal(proctable_get(&t, 13)->argv, "a  b");
	proctable_done(&t);
}

static void test_exec_null_exe_and_long_comm(void **state)
{
	struct proctable t;
	struct proc_info n = { .pid = 5, .ppid = 1, .exe = NULL };

	memset(n.comm, 'z', sizeof(n.comm)); /* not terminated */
	init(&t, 16, *state);
	assert_int_equal(proctable_exec(&t, &n, CMDLINE("z\0")), 0);
	const struct proc_info *p = proctable_get(&t, 5);
	assert_non_null(p);
	assert_string_equal(p->exe, "");
	assert_int_equal(strlen(p->comm), sizeof(p->comm) - 1);
	proctable_done(&t);
}

static void test_exec_revives_exited_pid(void **state)
{
	struct proctable t;

	init(&t, 16, *state);
	exec_simple(&t, 10);
	proctable_exit(&t, 10, 1000);
	assert_int_equal(proctable_get(&t, 10)->exited, 1000);
	exec_proc(&t, 10, 3, "/usr/bin/new", CMDLINE("new\0"));
	const struct proc_info *p = proctable_get(&t, 10);
	assert_int_equal(p->exited, 0);
	assert_string_equal(p->exe, "/usr/bin/new");
	proctable_expire(&t, 1000 + PROCTABLE_LINGER + 100);
	assert_true(known(&t, 10));
	proctable_done(&t);
}

static void test_fork_copies_parent_program(void **state)
{
	struct proctable t;

	init(&t, 16, *state);
	struct proc_info parent = { .pid = 100, .ppid = 1, .uid = 1000, .exe_dev = 8, .exe_ino = 77,
				    .exe = (char *)"/usr/bin/bash", .comm = "bash" };
	assert_int_equal(proctable_exec(&t, &parent, CMDLINE("bash\0-c\0make\0")), 0);

	struct proc_info child = { .pid = 101, .ppid = 100, .uid = 1001, .start_ns = 555,
				   .comm = "bash" };
	assert_int_equal(proctable_fork(&t, &child), 0);
	assert_int_equal(t.len, 2);

	const struct proc_info *c = proctable_get(&t, 101);
	assert_non_null(c);
	assert_int_equal(c->ppid, 100);
	assert_int_equal(c->uid, 1001);
	assert_int_equal(c->start_ns, 555);
	assert_string_equal(c->exe, "/usr/bin/bash");
	assert_string_equal(c->argv, "bash -c make");
	assert_int_equal(c->exe_dev, 8);
	assert_int_equal(c->exe_ino, 77);
	assert_string_equal(c->comm, "bash");
	const char *child_exe = c->exe;

	const struct proc_info *p = proctable_get(&t, 100);
	assert_ptr_not_equal(p->exe, child_exe); /* copies, not shared */
	assert_int_equal(p->ppid, 1);
	assert_int_equal(p->uid, 1000);

	/* The child's exec replaces what it inherited; the parent keeps its own. */
	exec_proc(&t, 101, 100, "/usr/bin/make", CMDLINE("make\0all\0"));
	assert_string_equal(proctable_get(&t, 101)->argv, "make all");
	assert_string_equal(proctable_get(&t, 100)->argv, "bash -c make");
	assert_string_equal(proctable_get(&t, 100)->exe, "/usr/bin/bash");
	assert_int_equal(t.misses, 0);
	proctable_done(&t);
}

static void test_fork_of_unknown_parent(void **state)
{
	struct proctable t;

	init(&t, 16, *state);
	struct proc_info child = { .pid = 201, .ppid = 200, .uid = 5, .comm = "worker" };
	assert_int_equal(proctable_fork(&t, &child), 0);
	const struct proc_info *c = proctable_get(&t, 201);
	assert_non_null(c);
	assert_int_equal(c->ppid, 200);
	assert_int_equal(c->uid, 5);
	assert_string_equal(c->exe, "");
	assert_string_equal(c->argv, "");
	assert_string_equal(c->comm, "worker");
	assert_int_equal(t.len, 1);
	proctable_done(&t);
}

/* Making room for the child may evict the parent: no use of freed memory.
 * (The child then does not inherit the parent's program; see the report.) */
static void test_fork_when_parent_is_evicted(void **state)
{
	struct proctable t;

	init(&t, 1, *state);
	exec_proc(&t, 300, 1, "/usr/bin/bash", CMDLINE("bash\0"));
	struct proc_info child = { .pid = 301, .ppid = 300, .comm = "bash" };
	assert_int_equal(proctable_fork(&t, &child), 0);
	assert_int_equal(t.len, 1);
	assert_int_equal(t.evicted, 1);
	const struct proc_info *c = proctable_get(&t, 301);
	assert_non_null(c);
	assert_int_equal(c->ppid, 300);
	proctable_done(&t);
}

static void test_exit_marks_and_expire_waits_linger(void **state)
{
	struct proctable t;

	init(&t, 16, *state);
	exec_simple(&t, 10);
	exec_simple(&t, 11);
	proctable_exit(&t, 10, 1000);
	assert_int_equal(proctable_get(&t, 10)->exited, 1000);
	assert_int_equal(proctable_get(&t, 11)->exited, 0);

	proctable_expire(&t, 1000);
	assert_int_equal(t.len, 2);
	proctable_expire(&t, 1000 + PROCTABLE_LINGER);
	assert_int_equal(t.len, 2); /* still within the linger */
	assert_string_equal(proctable_get(&t, 10)->exe, "/usr/bin/sleep");

	proctable_expire(&t, 1000 + PROCTABLE_LINGER + 1);
	assert_int_equal(t.len, 1);
	assert_int_equal(t.evicted, 0); /* expiry is not eviction */
	assert_int_equal(t.misses, 0);
	assert_false(known(&t, 10)); /* gone, and not in proc_root */
	assert_int_equal(t.misses, 1);
	assert_true(known(&t, 11));
	proctable_done(&t);
}

static void test_exit_of_unknown_pid_is_ignored(void **state)
{
	struct proctable t;

	init(&t, 16, *state);
	proctable_exit(&t, 999, 1000);
	assert_int_equal(t.len, 0);
	proctable_done(&t);
}

static void test_expire_keeps_running_processes(void **state)
{
	struct proctable t;

	init(&t, 16, *state);
	exec_simple(&t, 10);
	proctable_expire(&t, 1000000000);
	assert_int_equal(t.len, 1);
	assert_true(known(&t, 10));
	proctable_done(&t);
}

static void test_get_miss_loads_from_proc_root(void **state)
{
	struct proctable t;

	fake_proc(*state, &odd_proc);
	init(&t, 16, *state);
	const struct proc_info *p = proctable_get(&t, 42);
	assert_non_null(p);
	assert_int_equal(t.misses, 1);
	assert_int_equal(t.len, 1);
	assert_int_equal(p->ppid, 1);
	assert_string_equal(p->exe, "/usr/bin/true");
	assert_string_equal(p->argv, "true --flag a b");
	/* Known now: no second miss. */
	assert_non_null(proctable_get(&t, 42));
	assert_int_equal(t.misses, 1);
	proctable_done(&t);
}

static void test_get_unknown_pid_is_null(void **state)
{
	struct proctable t;

	init(&t, 16, *state);
	assert_null(proctable_get(&t, 12345));
	assert_int_equal(t.misses, 1);
	assert_int_equal(t.len, 0);
	assert_null(proctable_get(&t, 12345));
	assert_int_equal(t.misses, 2);
	/* Not a pid: not looked up at all. */
	assert_null(proctable_get(&t, 0));
	assert_null(proctable_get(&t, -1));
	assert_int_equal(t.misses, 2);
	proctable_done(&t);
}

static void test_bound_evicts_exited_first(void **state)
{
	struct proctable t;

	init(&t, 3, *state);
	exec_simple(&t, 1);
	exec_simple(&t, 2);
	exec_simple(&t, 3);
	proctable_exit(&t, 3, 1000);
	exec_simple(&t, 4);
	assert_int_equal(t.len, 3);
	assert_int_equal(t.evicted, 1);
	assert_true(known(&t, 1)); /* the oldest, but running */
	assert_true(known(&t, 2));
	assert_false(known(&t, 3));
	assert_true(known(&t, 4));
	proctable_done(&t);
}

static void test_bound_evicts_oldest_exited_only_as_needed(void **state)
{
	struct proctable t;

	init(&t, 4, *state);
	exec_simple(&t, 1);
	exec_simple(&t, 2);
	exec_simple(&t, 3);
	exec_simple(&t, 4);
	proctable_exit(&t, 4, 1000);
	proctable_exit(&t, 2, 1001);
	exec_simple(&t, 5);
	assert_int_equal(t.len, 4);
	assert_int_equal(t.evicted, 1);
	assert_false(known(&t, 2)); /* the older entry of the two exited */
	assert_true(known(&t, 4));
	exec_simple(&t, 6);
	assert_int_equal(t.evicted, 2);
	assert_false(known(&t, 4));
	assert_true(known(&t, 1));
	assert_true(known(&t, 3));
	assert_true(known(&t, 5));
	assert_true(known(&t, 6));
	proctable_done(&t);
}

static void test_bound_evicts_oldest_when_none_exited(void **state)
{
	struct proctable t;

	init(&t, 3, *state);
	exec_simple(&t, 1);
	exec_simple(&t, 2);
	exec_simple(&t, 3);
	exec_simple(&t, 4);
	assert_int_equal(t.len, 3);
	assert_int_equal(t.evicted, 1);
	assert_false(known(&t, 1));
	exec_simple(&t, 5);
	assert_int_equal(t.evicted, 2);
	assert_false(known(&t, 2));
	assert_true(known(&t, 3));
	assert_true(known(&t, 4));
	assert_true(known(&t, 5));
	/* An exec of a known pid takes no room. */
	exec_simple(&t, 3);
	assert_int_equal(t.evicted, 2);
	assert_int_equal(t.len, 3);
	proctable_done(&t);
}

static void test_bound_applies_to_loads_on_miss(void **state)
{
	struct proctable t;

	fake_proc(*state, &odd_proc);
	init(&t, 2, *state);
	exec_simple(&t, 1);
	exec_simple(&t, 2);
	assert_non_null(proctable_get(&t, 42));
	assert_int_equal(t.len, 2);
	assert_int_equal(t.evicted, 1);
	assert_false(known(&t, 1));
	proctable_done(&t);
}

static void test_bound_many(void **state)
{
	struct proctable t;

	init(&t, 100, *state);
	for (pid_t pid = 1; pid <= 1000; pid++) {
		exec_simple(&t, pid);
		if (pid % 3 == 0)
			proctable_exit(&t, pid, 1000 + pid);
	}
	assert_int_equal(t.len, 100);
	assert_int_equal(t.evicted, 900);
	assert_true(known(&t, 1000));
	proctable_done(&t);
	assert_int_equal(t.len, 0);
}

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no '%s' in %s", key, json_object_to_json_string(o));
	return v;
}

static void test_json_fields(void **state)
{
	struct proctable t;

	init(&t, 16, *state);
	struct proc_info n = { .pid = 77, .ppid = 7, .uid = 4000000000u, .exe = (char *)"/usr/bin/curl",
			       .comm = "curl" };
	assert_int_equal(proctable_exec(&t, &n, CMDLINE("curl\0-s\0http://x\0")), 0);
	struct json_object *o = proctable_json(&t, 77);
	assert_non_null(o);
	assert_int_equal(json_object_object_length(o), 6);
	assert_int_equal(json_object_get_int(jget(o, "pid")), 77);
	assert_int_equal(json_object_get_int(jget(o, "ppid")), 7);
	assert_int_equal(json_object_get_int64(jget(o, "uid")), 4000000000LL);
	assert_string_equal(json_object_get_string(jget(o, "exe")), "/usr/bin/curl");
	assert_string_equal(json_object_get_string(jget(o, "comm")), "curl");
	assert_string_equal(json_object_get_string(jget(o, "argv")), "curl -s http://x");
	json_object_put(o);
	proctable_done(&t);
}

static void test_json_unknown_is_pid_only(void **state)
{
	struct proctable t;

	init(&t, 16, *state);
	struct json_object *o = proctable_json(&t, 4321);
	assert_non_null(o);
	assert_int_equal(json_object_object_length(o), 1);
	assert_int_equal(json_object_get_int(jget(o, "pid")), 4321);
	json_object_put(o);
	assert_int_equal(t.misses, 1);

	o = proctable_json(&t, 0);
	assert_int_equal(json_object_object_length(o), 1);
	assert_int_equal(json_object_get_int(jget(o, "pid")), 0);
	json_object_put(o);
	proctable_done(&t);
}

static void test_json_loads_on_miss_and_keeps_exited(void **state)
{
	struct proctable t;

	fake_proc(*state, &odd_proc);
	init(&t, 16, *state);
	struct json_object *o = proctable_json(&t, 42);
	assert_int_equal(json_object_object_length(o), 6);
	assert_string_equal(json_object_get_string(jget(o, "comm")), "my prog) 2 (x");
	assert_int_equal(json_object_get_int64(jget(o, "uid")), 1000);
	json_object_put(o);
	assert_int_equal(t.misses, 1);

	/* A late event of a process that exited still names it. */
	proctable_exit(&t, 42, 1000);
	o = proctable_json(&t, 42);
	assert_string_equal(json_object_get_string(jget(o, "exe")), "/usr/bin/true");
	json_object_put(o);
	proctable_done(&t);
}

static void test_done_twice_and_reuse(void **state)
{
	struct proctable t;

	init(&t, 4, *state);
	exec_simple(&t, 1);
	exec_simple(&t, 2);
	proctable_done(&t);
	assert_int_equal(t.len, 0);
	assert_null(t.byp);
	proctable_done(&t);
	exec_simple(&t, 3);
	assert_int_equal(t.len, 1);
	proctable_done(&t);
}

/* The real /proc: its files report size 0 and are read to the end. */
static void test_real_proc_self(void **state)
{
	(void)state;
	struct proctable t;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0) {
		print_message("# /proc not mounted: nothing to compare\n");
		return;
	}
	exe[n] = '\0';
	init(&t, 16, "/proc");
	const struct proc_info *p = proctable_get(&t, getpid());
	assert_non_null(p);
	assert_int_equal(p->ppid, getppid());
	assert_int_equal(p->uid, getuid());
	assert_string_equal(p->exe, exe);
	assert_non_null(strstr(p->argv, "test_proctable"));
	proctable_done(&t);
}

/* Seeding from the real /proc finds at least this process. */
static void test_real_proc_seed(void **state)
{
	(void)state;
	struct proctable t;

	if (access("/proc/self/stat", R_OK) < 0) {
		print_message("# /proc not mounted: nothing to compare\n");
		return;
	}
	init(&t, 65536, "/proc");
	assert_int_equal(proctable_seed(&t), 0);
	assert_true(t.len > 0);
	proctable_done(&t);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_tmpdir_setup, tu_tmpdir_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_init_defaults),
		T(test_seed_reads_proc_tree),
		T(test_seed_skips_broken_processes),
		T(test_seed_missing_root_is_enoent),
		T(test_seed_stops_at_max),
		T(test_load_with_only_stat),
		T(test_load_truncates_long_comm),
		T(test_load_cmdline_without_final_nul),
		T(test_exec_replaces_exe_argv_ppid),
		T(test_exec_argv_truncated_without_nul),
		T(test_exec_null_exe_and_long_comm),
		T(test_exec_revives_exited_pid),
		T(test_fork_copies_parent_program),
		T(test_fork_of_unknown_parent),
		T(test_fork_when_parent_is_evicted),
		T(test_exit_marks_and_expire_waits_linger),
		T(test_exit_of_unknown_pid_is_ignored),
		T(test_expire_keeps_running_processes),
		T(test_get_miss_loads_from_proc_root),
		T(test_get_unknown_pid_is_null),
		T(test_bound_evicts_exited_first),
		T(test_bound_evicts_oldest_exited_only_as_needed),
		T(test_bound_evicts_oldest_when_none_exited),
		T(test_bound_applies_to_loads_on_miss),
		T(test_bound_many),
		T(test_json_fields),
		T(test_json_unknown_is_pid_only),
		T(test_json_loads_on_miss_and_keeps_exited),
		T(test_done_twice_and_reuse),
		T(test_real_proc_self),
		T(test_real_proc_seed),
	};
	log_set_level(LOG_CRIT);
	return cmocka_run_group_tests_name("proctable", tests, NULL, NULL);
}
