/* Unit tests of src/daemon/mounts.c: mountinfo parsed through libmount, and
 * which filesystems the file monitor marks (pseudo filesystems skipped,
 * FUSE never, each filesystem once, overmounted mounts skipped, mounts_include and
 * mounts_exclude, network filesystems), with clear errors for bad input. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "monitor/mounts.h"

/* A host like the ones picket runs on: ext4 root, tmpfs, the usual pseudo
 * filesystems, /dev/shm mounted twice (the first one overmounted), xfs,
 * btrfs, a bind mount of the root filesystem, nfs. */
static const char HOST[] =
	"22 27 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw\n"
	"23 27 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw\n"
	"24 27 0:6 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev rw,size=4096k,mode=755\n"
	"25 24 0:23 / /dev/shm rw,nosuid,nodev shared:3 - tmpfs tmpfs rw\n"
	"26 24 0:24 / /dev/pts rw,nosuid,noexec,relatime shared:4 - devpts devpts rw,mode=600\n"
	"27 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro\n"
	"28 27 0:25 / /run rw,nosuid,nodev,noexec,relatime shared:7 - tmpfs tmpfs rw,mode=755\n"
	"29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:8 - cgroup2 cgroup2 rw\n"
	"30 25 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw\n"
	"31 24 0:20 / /dev/mqueue rw,relatime shared:9 - mqueue mqueue rw\n"
	"32 27 253:0 / /srv/xfs rw,relatime shared:10 - xfs /dev/mapper/vg-xfs rw,attr2\n"
	"33 27 0:40 /@home /home rw,relatime shared:11 - btrfs /dev/vdb rw,subvol=/@home\n"
	"34 27 254:1 /var/data /srv/data rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
	"35 27 0:50 / /mnt/nfs rw,relatime shared:12 - nfs4 srv:/export rw,vers=4.2\n"
	"36 27 0:28 / /tmp rw,nosuid,nodev shared:13 - tmpfs tmpfs rw\n"
	"37 23 0:12 / /sys/kernel/tracing rw,relatime - tracefs tracefs rw\n"
	"38 27 0:51 / /mnt/my\\040disk rw,relatime - vfat /dev/sdc1 rw\n";

/* Another mount namespace's table, as /proc/PID/mountinfo gives it: the
 * host's root filesystem copied, a tmpfs of its own on /tmp (and part of
 * it on /srv), a host directory bound onto /proc/sys, /dev/shm mounted
 * twice (the first overmounted), FUSE, NFS, the host's /dev/shm tmpfs
 * bound on /run/shm.  The root's parent is not in the table. */
static const char NS[] =
	"46 45 254:1 / / rw,relatime - ext4 /dev/vda1 rw\n"
	"48 46 0:21 / /proc rw,relatime - proc proc rw\n"
	"66 46 0:60 / /tmp rw,relatime - tmpfs x rw\n"
	"67 48 254:1 /tmp/bdir /proc/sys rw,relatime - ext4 /dev/vda1 rw\n"
	"68 46 0:61 / /dev/shm rw,relatime - tmpfs shm rw\n"
	"69 68 0:62 / /dev/shm rw,relatime - tmpfs shm2 rw\n"
	"70 46 0:63 / /home/u/sshfs rw,relatime - fuse.sshfs u@h:/ rw\n"
	"71 46 0:60 /sub /srv rw,relatime - tmpfs x rw\n"
	"72 46 0:64 / /mnt/nfs rw,relatime - nfs4 srv:/e rw\n"
	"73 46 0:23 / /run/shm rw,relatime - tmpfs tmpfs rw\n";

struct fixture {
	struct mount_list l;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	mounts_free(&fx->l);
	free(fx);
	return 0;
}

static void parse_ok(struct fixture *fx, const char *text)
{
	char err[256] = "";
	int r = mounts_parse(text, strlen(text), "mountinfo", &fx->l, err, sizeof(err));
	if (r != 0)
		fail_msg("mounts_parse: %d: %s", r, err);
}

static const struct mount_entry *at(const struct fixture *fx, const char *target, int id)
{
	for (size_t i = 0; i < fx->l.n; i++)
		if (strcmp(fx->l.v[i].target, target) == 0 && (id == 0 || fx->l.v[i].id == id))
			return &fx->l.v[i];
	fail_msg("no mount on %s (id %d)", target, id);
	return NULL;
}

static enum mount_choice choice(const struct fixture *fx, const char *target)
{
	return at(fx, target, 0)->choice;
}

/* The mount points chosen (MOUNT_WATCH), space-separated, in table order. */
static const char *watched(const struct fixture *fx)
{
	static char buf[1024];
	buf[0] = '\0';
	for (size_t i = 0; i < fx->l.n; i++)
		if (fx->l.v[i].choice == MOUNT_WATCH) {
			strcat(buf, buf[0] ? " " : "");
			strcat(buf, fx->l.v[i].target);
		}
	return buf;
}

static void test_parse_fields(void **state)
{
	struct fixture *fx = *state;
	parse_ok(fx, HOST);
	assert_int_equal(fx->l.n, 17);
	const struct mount_entry *e = at(fx, "/home", 0);
	assert_int_equal(e->id, 33);
	assert_int_equal(e->parent, 27);
	assert_int_equal(e->major, 0);
	assert_int_equal(e->minor, 40);
	assert_string_equal(e->root, "/@home");
	assert_string_equal(e->fstype, "btrfs");
	assert_string_equal(e->source, "/dev/vdb");
	assert_false(e->network);
	e = at(fx, "/", 0);
	assert_int_equal(e->major, 254);
	assert_int_equal(e->minor, 1);
	/* Octal escapes in mount points are undone. */
	assert_string_equal(at(fx, "/mnt/my disk", 0)->fstype, "vfat");
	assert_true(at(fx, "/mnt/nfs", 0)->network);
}

static void test_default_choice(void **state)
{
	struct fixture *fx = *state;
	parse_ok(fx, HOST);
	mounts_choose(&fx->l, NULL, 0, NULL, 0);
	assert_string_equal(watched(fx), "/ /run /dev/shm /srv/xfs /home /tmp /mnt/my disk");
	assert_int_equal(mounts_watched(&fx->l), 7);
}

static void test_pseudo_filesystems_skipped(void **state)
{
	struct fixture *fx = *state;
	parse_ok(fx, HOST);
	mounts_choose(&fx->l, NULL, 0, NULL, 0);
	const char *pseudo[] = { "/proc", "/sys", "/dev", "/dev/pts", "/sys/fs/cgroup",
				 "/dev/mqueue", "/sys/kernel/tracing" };
	for (size_t i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++)
		assert_int_equal(choice(fx, pseudo[i]), MOUNT_PSEUDO);
	assert_true(mounts_pseudo_fstype("devtmpfs"));
	assert_true(mounts_pseudo_fstype("binfmt_misc"));
	assert_true(mounts_pseudo_fstype("bpf"));
	assert_true(mounts_pseudo_fstype("nsfs"));
	/* Real files live there: watched. */
	assert_false(mounts_pseudo_fstype("tmpfs"));
	assert_false(mounts_pseudo_fstype("ramfs"));
	assert_false(mounts_pseudo_fstype("overlay"));
	assert_false(mounts_pseudo_fstype("ext4"));
	assert_false(mounts_pseudo_fstype("xfs"));
	assert_false(mounts_pseudo_fstype("fuseblk"));
	assert_false(mounts_pseudo_fstype(NULL));
}

/* FUSE by any name, as mountinfo spells it: never marked, not even when
 * mounts_include names it (an open there waits for a process). */
static void test_userspace_filesystems_never_marked(void **state)
{
	struct fixture *fx = *state;
	char *include[] = { "/home/u/sshfs", "/media/usb", "/run/user/1000/doc", "/srv/xfs" };
	parse_ok(fx, "27 1 254:1 / / rw - ext4 /dev/vda1 rw\n"
		     "40 27 0:60 / /home/u/sshfs rw,nosuid,nodev - fuse.sshfs u@h:/ rw,user_id=1000\n"
		     "41 27 8:33 / /media/usb rw,nosuid,nodev - fuseblk /dev/sdc1 rw,user_id=0\n"
		     "42 27 0:61 / /run/user/1000/doc rw - fuse portal rw,user_id=1000\n"
		     "43 27 0:62 / /sys/fs/fuse/connections rw - fusectl fusectl rw\n"
		     "44 27 0:63 / /mnt/lxcfs rw - fuse.lxcfs lxcfs rw\n"
		     "45 27 253:0 / /srv/xfs rw - xfs /dev/mapper/vg-xfs rw\n");
	mounts_choose(&fx->l, NULL, 0, NULL, 0);
	assert_string_equal(watched(fx), "/ /srv/xfs");
	const char *fuse[] = { "/home/u/sshfs", "/media/usb", "/run/user/1000/doc", "/mnt/lxcfs" };
	for (size_t i = 0; i < sizeof(fuse) / sizeof(fuse[0]); i++)
		assert_int_equal(choice(fx, fuse[i]), MOUNT_USERSPACE);
	assert_int_equal(choice(fx, "/sys/fs/fuse/connections"), MOUNT_PSEUDO);
	mounts_choose(&fx->l, include, 4, NULL, 0);
	assert_string_equal(watched(fx), "/srv/xfs");
	assert_int_equal(choice(fx, "/home/u/sshfs"), MOUNT_USERSPACE);
	assert_int_equal(choice(fx, "/media/usb"), MOUNT_USERSPACE);
	assert_true(mounts_userspace_fstype("fuse"));
	assert_true(mounts_userspace_fstype("fuseblk"));
	assert_true(mounts_userspace_fstype("fuse.sshfs"));
	assert_true(mounts_userspace_fstype("fuseblk.ntfs-3g"));
	assert_false(mounts_userspace_fstype("fusectl"));
	assert_false(mounts_userspace_fstype("fuse2"));
	assert_false(mounts_userspace_fstype("ext4"));
	assert_false(mounts_userspace_fstype(NULL));
}

static void test_filesystem_mounted_twice_marked_once(void **state)
{
	struct fixture *fx = *state;
	parse_ok(fx, HOST);
	mounts_choose(&fx->l, NULL, 0, NULL, 0);
	/* /srv/data is a bind mount of a directory of the root filesystem. */
	assert_int_equal(choice(fx, "/"), MOUNT_WATCH);
	assert_int_equal(choice(fx, "/srv/data"), MOUNT_SAME_FS);
}

static void test_whole_tree_mount_preferred(void **state)
{
	struct fixture *fx = *state;
	/* The bind mount of a subdirectory comes first: the filesystem is
	 * still marked through its "/" mount, whose paths are complete. */
	parse_ok(fx, "20 1 8:1 /sub /bind rw - ext4 /dev/sda1 rw\n"
		     "21 1 8:1 / /data rw - ext4 /dev/sda1 rw\n"
		     "22 1 8:2 /only /x rw - ext4 /dev/sda2 rw\n");
	mounts_choose(&fx->l, NULL, 0, NULL, 0);
	assert_int_equal(choice(fx, "/bind"), MOUNT_SAME_FS);
	assert_int_equal(choice(fx, "/data"), MOUNT_WATCH);
	/* No "/" mount at all: the first one does. */
	assert_int_equal(choice(fx, "/x"), MOUNT_WATCH);
}

static void test_overmounted_mount_hidden(void **state)
{
	struct fixture *fx = *state;
	parse_ok(fx, HOST);
	mounts_choose(&fx->l, NULL, 0, NULL, 0);
	assert_int_equal(at(fx, "/dev/shm", 25)->choice, MOUNT_HIDDEN);
	assert_int_equal(at(fx, "/dev/shm", 30)->choice, MOUNT_WATCH);
	assert_true(mounts_is_mount_point(&fx->l, "/dev/shm"));
}

static void test_mount_below_overmounted_hidden(void **state)
{
	struct fixture *fx = *state;
	parse_ok(fx, "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
		     "2 1 0:30 / /a rw - tmpfs tmpfs rw\n"
		     "3 2 8:2 / /a/b rw - xfs /dev/sda2 rw\n"
		     "4 2 0:31 / /a rw - tmpfs tmpfs rw\n");
	mounts_choose(&fx->l, NULL, 0, NULL, 0);
	assert_int_equal(at(fx, "/a", 2)->choice, MOUNT_HIDDEN);
	assert_int_equal(choice(fx, "/a/b"), MOUNT_HIDDEN);
	assert_int_equal(at(fx, "/a", 4)->choice, MOUNT_WATCH);
	assert_false(mounts_is_mount_point(&fx->l, "/a/b"));
	assert_string_equal(watched(fx), "/ /a");
}

static void test_include_list(void **state)
{
	struct fixture *fx = *state;
	char *include[] = { "/tmp", "/srv/xfs/", "/mnt/my disk" };
	parse_ok(fx, HOST);
	mounts_choose(&fx->l, include, 3, NULL, 0);
	assert_string_equal(watched(fx), "/srv/xfs /tmp /mnt/my disk");
	assert_int_equal(choice(fx, "/"), MOUNT_NOT_INCLUDED);
	assert_int_equal(choice(fx, "/home"), MOUNT_NOT_INCLUDED);
	assert_int_equal(choice(fx, "/proc"), MOUNT_PSEUDO);
}

static void test_include_names_whole_filesystem(void **state)
{
	struct fixture *fx = *state;
	char *include[] = { "/srv/data" };
	parse_ok(fx, HOST);
	mounts_choose(&fx->l, include, 1, NULL, 0);
	/* A mark covers the filesystem: it goes on through its "/" mount. */
	assert_string_equal(watched(fx), "/");
	assert_int_equal(choice(fx, "/srv/data"), MOUNT_SAME_FS);
}

static void test_include_never_marks_pseudo(void **state)
{
	struct fixture *fx = *state;
	char *include[] = { "/proc", "/sys/fs/cgroup" };
	parse_ok(fx, HOST);
	mounts_choose(&fx->l, include, 2, NULL, 0);
	assert_string_equal(watched(fx), "");
	assert_int_equal(choice(fx, "/proc"), MOUNT_PSEUDO);
}

static void test_exclude_list(void **state)
{
	struct fixture *fx = *state;
	char *exclude[] = { "/home", "/tmp/" };
	parse_ok(fx, HOST);
	mounts_choose(&fx->l, NULL, 0, exclude, 2);
	assert_string_equal(watched(fx), "/ /run /dev/shm /srv/xfs /mnt/my disk");
	assert_int_equal(choice(fx, "/home"), MOUNT_EXCLUDED);
	assert_int_equal(choice(fx, "/tmp"), MOUNT_EXCLUDED);
}

static void test_exclude_covers_every_mount_of_the_filesystem(void **state)
{
	struct fixture *fx = *state;
	char *exclude[] = { "/srv/data" };
	parse_ok(fx, HOST);
	mounts_choose(&fx->l, NULL, 0, exclude, 1);
	/* A mark on the filesystem would see /srv/data through "/". */
	assert_int_equal(choice(fx, "/"), MOUNT_EXCLUDED);
	assert_int_equal(choice(fx, "/srv/data"), MOUNT_EXCLUDED);
}

static void test_exclude_wins_over_include(void **state)
{
	struct fixture *fx = *state;
	char *include[] = { "/tmp", "/run" };
	char *exclude[] = { "/tmp" };
	parse_ok(fx, HOST);
	mounts_choose(&fx->l, include, 2, exclude, 1);
	assert_string_equal(watched(fx), "/run");
	assert_int_equal(choice(fx, "/tmp"), MOUNT_EXCLUDED);
}

static void test_network_only_when_included(void **state)
{
	struct fixture *fx = *state;
	char *include[] = { "/mnt/nfs" };
	parse_ok(fx, HOST);
	mounts_choose(&fx->l, NULL, 0, NULL, 0);
	assert_int_equal(choice(fx, "/mnt/nfs"), MOUNT_NETWORK);
	mounts_choose(&fx->l, include, 1, NULL, 0);
	assert_int_equal(choice(fx, "/mnt/nfs"), MOUNT_WATCH);
	assert_string_equal(watched(fx), "/mnt/nfs");
}

static void test_is_mount_point(void **state)
{
	struct fixture *fx = *state;
	parse_ok(fx, HOST);
	mounts_choose(&fx->l, NULL, 0, NULL, 0);
	assert_true(mounts_is_mount_point(&fx->l, "/"));
	assert_true(mounts_is_mount_point(&fx->l, "/tmp/"));
	assert_true(mounts_is_mount_point(&fx->l, "/mnt/my disk"));
	assert_false(mounts_is_mount_point(&fx->l, "/tmp/x"));
	assert_false(mounts_is_mount_point(&fx->l, "/mnt"));
}

static void expect_error(const char *text, int want, const char *msg)
{
	struct mount_list l = { .n = 12345 };
	char err[256] = "";
	int r = mounts_parse(text, strlen(text), "mi", &l, err, sizeof(err));
	assert_int_equal(r, want);
	assert_string_equal(err, msg);
	assert_int_equal(l.n, 12345); /* untouched */
}

static void test_malformed_lines(void **state)
{
	(void)state;
	/* Not mountinfo at all: libmount would read it as fstab. */
	expect_error("garbage line here\n", -EINVAL, "mi:1: not a mountinfo line");
	expect_error("/dev/sda1 / ext4 defaults 0 1\n", -EINVAL, "mi:1: not a mountinfo line");
	/* A good line, then a bad one. */
	expect_error("22 27 0:21 / /proc rw - proc proc rw\nbad\n", -EINVAL,
		     "mi:2: malformed mountinfo line");
	expect_error("22 27 0:21 / /proc rw - proc proc rw\n"
		     "23 22 x:y / /b rw - ext4 /dev/sda rw\n",
		     -EINVAL, "mi:2: malformed mountinfo line");
	/* No " - " separator. */
	expect_error("22 27 0:21 / /proc rw\n", -EINVAL, "mi:1: malformed mountinfo line");
}

static void test_empty_table(void **state)
{
	struct fixture *fx = *state;
	char err[256] = "";
	assert_int_equal(mounts_parse("", 0, "mi", &fx->l, err, sizeof(err)), 0);
	assert_int_equal(fx->l.n, 0);
	mounts_choose(&fx->l, NULL, 0, NULL, 0);
	assert_int_equal(mounts_watched(&fx->l), 0);
}

static void test_parent_loop_terminates(void **state)
{
	struct fixture *fx = *state;
	/* Corrupt input: each mount the other's parent, on the same point. */
	parse_ok(fx, "5 6 8:1 / /a rw - ext4 /dev/sda1 rw\n"
		     "6 5 8:2 / /a rw - ext4 /dev/sda2 rw\n"
		     "7 7 8:3 / /b rw - ext4 /dev/sda3 rw\n");
	mounts_choose(&fx->l, NULL, 0, NULL, 0);
	assert_int_equal(choice(fx, "/b"), MOUNT_WATCH);
}

static void test_long_parent_chain(void **state)
{
	struct fixture *fx = *state;
	size_t n = 20000, len = 0;
	char *text = malloc(n * 64);
	assert_non_null(text);
	/* Each mount on the one before: no recursion may follow the chain. */
	for (size_t i = 1; i <= n; i++)
		len += sprintf(text + len, "%zu %zu 0:%zu / /m%zu rw - tmpfs tmpfs rw\n", i, i - 1,
			       i + 100, i);
	len += sprintf(text + len, "%zu %zu 0:99 / /m%zu rw - tmpfs tmpfs rw\n", n + 1, n, n);
	char err[256] = "";
	assert_int_equal(mounts_parse(text, len, "mi", &fx->l, err, sizeof(err)), 0);
	mounts_choose(&fx->l, NULL, 0, NULL, 0);
	/* The last mount covers /m<n>. */
	assert_int_equal(mounts_watched(&fx->l), n);
	free(text);
}

static void test_read_file(void **state)
{
	struct fixture *fx = *state;
	char *dir = NULL;
	char err[256] = "";
	tu_tmpdir_setup((void **)&dir);
	tu_write(dir, "mountinfo", HOST);
	assert_int_equal(mounts_read(tu_path(dir, "mountinfo"), &fx->l, err, sizeof(err)), 0);
	assert_int_equal(fx->l.n, 17);
	struct mount_list l = { 0 };
	const char *missing = tu_path(dir, "missing");
	assert_int_equal(mounts_read(missing, &l, err, sizeof(err)), -ENOENT);
	char want[512];
	snprintf(want, sizeof(want), "%s: No such file or directory", missing);
	assert_string_equal(err, want);
	tu_write(dir, "bad", "1 2 3:4 / /a rw - tmpfs tmpfs rw\nnot mountinfo\n");
	assert_int_equal(mounts_read(tu_path(dir, "bad"), &l, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: malformed mountinfo line", tu_path(dir, "bad"));
	assert_string_equal(err, want);
	tu_tmpdir_teardown((void **)&dir);
}

/* A held descriptor is read from its start each time. */
static void test_read_fd_again(void **state)
{
	struct fixture *fx = *state;
	char *dir = NULL;
	char err[256] = "";
	struct mount_list l = { 0 };
	tu_tmpdir_setup((void **)&dir);
	tu_write(dir, "mountinfo", NS);
	int fd = open(tu_path(dir, "mountinfo"), O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(mounts_read_fd(fd, "ns", &fx->l, err, sizeof(err)), 0);
	assert_int_equal(fx->l.n, 10);
	assert_int_equal(mounts_read_fd(fd, "ns", &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 10);
	assert_string_equal(l.v[9].target, "/run/shm");
	mounts_free(&l);
	close(fd);
	assert_int_equal(mounts_read_fd(fd, "ns", &l, err, sizeof(err)), -EBADF);
	assert_string_equal(err, "ns: Bad file descriptor");
	tu_tmpdir_teardown((void **)&dir);
}

/* Another namespace marks only what the host has no mount of. */
static void test_namespace_choice(void **state)
{
	struct fixture *fx = *state;
	struct mount_list host = { 0 };
	char err[256] = "";
	assert_int_equal(mounts_parse(HOST, strlen(HOST), "host", &host, err, sizeof(err)), 0);
	parse_ok(fx, NS);
	mounts_choose(&fx->l, NULL, 0, NULL, 0);
	mounts_choose_ns(&fx->l, &host);
	assert_string_equal(watched(fx), "/tmp /dev/shm");
	assert_int_equal(at(fx, "/dev/shm", 69)->choice, MOUNT_WATCH);
	assert_int_equal(at(fx, "/dev/shm", 68)->choice, MOUNT_HIDDEN);
	assert_int_equal(choice(fx, "/"), MOUNT_HOST_FS);
	assert_int_equal(choice(fx, "/proc/sys"), MOUNT_HOST_FS);
	assert_int_equal(choice(fx, "/run/shm"), MOUNT_HOST_FS);
	assert_int_equal(choice(fx, "/proc"), MOUNT_PSEUDO);
	assert_int_equal(choice(fx, "/srv"), MOUNT_SAME_FS);
	assert_int_equal(choice(fx, "/home/u/sshfs"), MOUNT_FUSE);
	assert_int_equal(choice(fx, "/mnt/nfs"), MOUNT_NETWORK);
	assert_ptr_equal(mounts_by_id(&fx->l, 71), at(fx, "/srv", 0));
	assert_null(mounts_by_id(&fx->l, 45));
	assert_true(mounts_has_fs(&fx->l, 0, 62));
	assert_false(mounts_has_fs(&host, 0, 62));
	assert_string_equal(mount_choice_name(MOUNT_HOST_FS), "a filesystem the host has");
	mounts_free(&host);
}

static void test_read_this_machine(void **state)
{
	struct fixture *fx = *state;
	char err[256] = "";
	assert_int_equal(mounts_read("/proc/self/mountinfo", &fx->l, err, sizeof(err)), 0);
	assert_true(fx->l.n > 0);
	mounts_choose(&fx->l, NULL, 0, NULL, 0);
	assert_true(mounts_is_mount_point(&fx->l, "/"));
	assert_int_equal(choice(fx, "/proc"), MOUNT_PSEUDO);
}

static void test_choice_names(void **state)
{
	(void)state;
	assert_string_equal(mount_choice_name(MOUNT_WATCH), "watched");
	assert_string_equal(mount_choice_name(MOUNT_PSEUDO), "pseudo filesystem");
	assert_string_equal(mount_choice_name(MOUNT_USERSPACE), "served from user space (FUSE)");
	assert_string_equal(mount_choice_name((enum mount_choice)99), "?");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_parse_fields),
		T(test_default_choice),
		T(test_pseudo_filesystems_skipped),
		T(test_userspace_filesystems_never_marked),
		T(test_filesystem_mounted_twice_marked_once),
		T(test_whole_tree_mount_preferred),
		T(test_overmounted_mount_hidden),
		T(test_mount_below_overmounted_hidden),
		T(test_include_list),
		T(test_include_names_whole_filesystem),
		T(test_include_never_marks_pseudo),
		T(test_exclude_list),
		T(test_exclude_covers_every_mount_of_the_filesystem),
		T(test_exclude_wins_over_include),
		T(test_network_only_when_included),
		T(test_is_mount_point),
		cmocka_unit_test(test_malformed_lines),
		T(test_empty_table),
		T(test_parent_loop_terminates),
		T(test_long_parent_chain),
		T(test_read_file),
		T(test_read_fd_again),
		T(test_namespace_choice),
		T(test_read_this_machine),
		cmocka_unit_test(test_choice_names),
	};
	const struct CMUnitTest root_only[] = {};
	log_set_level(LOG_CRIT);
	return TU_RUN("mounts", tests, root_only);
}
