/* Unit tests of src/common/hostview.c: reads under a prepared root, the
 * os-release and KEY=value parsers, users and groups from the view's files. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostview.h"

static void view(struct hostview *hv, const char *root)
{
	assert_int_equal(hostview_init(hv, root), 0);
}

static void test_init_null_and_slash_are_real(void **state)
{
	(void)state;
	struct hostview hv;

	assert_int_equal(hostview_init(&hv, NULL), 0);
	assert_true(hostview_is_real(&hv));
	assert_int_equal(hostview_init(&hv, "/"), 0);
	assert_true(hostview_is_real(&hv));
	assert_string_equal(hv.root, "");
}

static void test_init_relative_path_refused(void **state)
{
	(void)state;
	struct hostview hv;
	assert_int_equal(hostview_init(&hv, "tmp/root"), -EINVAL);
}

static void test_init_not_a_directory_refused(void **state)
{
	struct hostview hv;
	tu_write(*state, "file", "x");
	assert_int_equal(hostview_init(&hv, tu_path(*state, "file")), -ENOTDIR);
}

static void test_init_missing_root_refused(void **state)
{
	struct hostview hv;
	assert_int_equal(hostview_init(&hv, tu_path(*state, "missing")), -ENOENT);
}

static void test_init_strips_trailing_slashes(void **state)
{
	struct hostview hv;
	char root[4096];

	snprintf(root, sizeof(root), "%s//", (char *)*state);
	view(&hv, root);
	assert_false(hostview_is_real(&hv));
	assert_string_equal(hv.root, *state);
}

static void test_path_maps_under_root(void **state)
{
	struct hostview hv;
	char buf[4096], small[8];

	view(&hv, *state);
	assert_int_equal(hostview_path(&hv, "/etc/os-release", buf, sizeof(buf)), 0);
	assert_string_equal(buf, tu_path(*state, "etc/os-release"));
	assert_int_equal(hostview_path(&hv, "/etc/os-release", small, sizeof(small)), -ENAMETOOLONG);
}

static void test_exists_looks_under_root(void **state)
{
	struct hostview hv;

	tu_write(*state, "sys/kernel/btf/vmlinux", "");
	view(&hv, *state);
	assert_true(hostview_exists(&hv, "/sys/kernel/btf/vmlinux"));
	assert_false(hostview_exists(&hv, "/sys/kernel/btf/other"));
}

static void test_read_trims_trailing_newlines(void **state)
{
	struct hostview hv;
	char buf[64];

	tu_write(*state, "proc/sys/kernel/osrelease", "6.1.0-13-amd64\n\n");
	view(&hv, *state);
	assert_int_equal(hostview_read(&hv, "/proc/sys/kernel/osrelease", buf, sizeof(buf)), 14);
	assert_string_equal(buf, "6.1.0-13-amd64");
}

static void test_read_exact_fit(void **state)
{
	struct hostview hv;
	char buf[6];

	tu_write(*state, "f", "12345");
	view(&hv, *state);
	assert_int_equal(hostview_read(&hv, "/f", buf, sizeof(buf)), 5);
	assert_string_equal(buf, "12345");
}

static void test_read_too_big_is_efbig(void **state)
{
	struct hostview hv;
	char buf[6];

	tu_write(*state, "f", "123456");
	view(&hv, *state);
	assert_int_equal(hostview_read(&hv, "/f", buf, sizeof(buf)), -EFBIG);
}

static void test_read_missing_is_enoent(void **state)
{
	struct hostview hv;
	char buf[16];

	view(&hv, *state);
	assert_int_equal(hostview_read(&hv, "/nope", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(hostview_read(&hv, "/nope", buf, 0), -EINVAL);
}

static void test_kernel_release_read(void **state)
{
	struct hostview hv;
	char buf[64];

	tu_write(*state, "proc/sys/kernel/osrelease", "5.15.0-91-generic\n");
	view(&hv, *state);
	assert_int_equal(hostview_kernel_release(&hv, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "5.15.0-91-generic");
}

static void test_kernel_release_empty_is_enodata(void **state)
{
	struct hostview hv;
	char buf[64];

	tu_write(*state, "proc/sys/kernel/osrelease", "\n");
	view(&hv, *state);
	assert_int_equal(hostview_kernel_release(&hv, buf, sizeof(buf)), -ENODATA);
}

static void test_mem_available_from_meminfo(void **state)
{
	struct hostview hv;
	uint64_t kib = 0;

	tu_write(*state, "proc/meminfo",
		 "MemTotal:       16318504 kB\n"
		 "MemFree:          617980 kB\n"
		 "MemAvailable:    9437184 kB\n"
		 "Buffers:          498028 kB\n");
	view(&hv, *state);
	assert_int_equal(hostview_mem_available(&hv, &kib), 0);
	assert_int_equal(kib, 9437184);
}

static void test_mem_available_missing_line_is_enodata(void **state)
{
	struct hostview hv;
	uint64_t kib = 7;

	tu_write(*state, "proc/meminfo", "MemTotal:       16318504 kB\nMemFree: 1 kB\n");
	view(&hv, *state);
	assert_int_equal(hostview_mem_available(&hv, &kib), -ENODATA);
	assert_int_equal(kib, 7);
}

static void test_env_file_get_plain_and_quoted(void **state)
{
	(void)state;
	const char *text = "# SELinux config\nSELINUX=enforcing\nSELINUXTYPE=\"mls\"\nNAME='x y'";
	char v[64];

	assert_int_equal(env_file_get(text, "SELINUX", v, sizeof(v)), 0);
	assert_string_equal(v, "enforcing");
	assert_int_equal(env_file_get(text, "SELINUXTYPE", v, sizeof(v)), 0);
	assert_string_equal(v, "mls");
	assert_int_equal(env_file_get(text, "NAME", v, sizeof(v)), 0);
	assert_string_equal(v, "x y");
}

static void test_env_file_get_absent_is_enoent(void **state)
{
	(void)state;
	char v[64] = "kept";

	assert_int_equal(env_file_get("SELINUXTYPE=targeted\n# SELINUX=x\n", "SELINUX", v, sizeof(v)),
			 -ENOENT);
	assert_string_equal(v, "kept");
	assert_int_equal(env_file_get("", "ID", v, sizeof(v)), -ENOENT);
}

static void test_env_file_get_key_is_whole_name(void **state)
{
	(void)state;
	char v[64];

	assert_int_equal(env_file_get("ID_LIKE=debian\nID=ubuntu\n", "ID", v, sizeof(v)), 0);
	assert_string_equal(v, "ubuntu");
}

static void test_env_file_get_truncates_to_out(void **state)
{
	(void)state;
	char v[4];

	assert_int_equal(env_file_get("K=\"abcdef\"", "K", v, sizeof(v)), 0);
	assert_string_equal(v, "abc");
}

static void test_env_file_get_long_value_is_e2big(void **state)
{
	(void)state;
	char text[700], v[64];

	memset(text, 'a', sizeof(text));
	memcpy(text, "K=", 2);
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(env_file_get(text, "K", v, sizeof(v)), -E2BIG);
}

static void test_os_release_parse_fields(void **state)
{
	(void)state;
	struct os_release os;
	const char *text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
			   "NAME=\"Debian GNU/Linux\"\n"
			   "VERSION_ID=\"12\"\n"
			   "ID=debian\n"
			   "HOME_URL=\"https://www.debian.org/\"\n";

	assert_int_equal(os_release_parse(text, &os), 0);
	assert_string_equal(os.id, "debian");
	assert_string_equal(os.id_like, "");
	assert_string_equal(os.version_id, "12");
	assert_string_equal(os.pretty_name, "Debian GNU/Linux 12 (bookworm)");
}

static void test_os_release_parse_quotes_and_escapes(void **state)
{
	(void)state;
	struct os_release os;
	const char *text = "ID='ol'\n"
			   "ID_LIKE=\"fedora\"\n"
			   "PRETTY_NAME=\"A \\\"quoted\\\" name \\\\ \\$HOME\"\n";

	assert_int_equal(os_release_parse(text, &os), 0);
	assert_string_equal(os.id, "ol");
	assert_string_equal(os.id_like, "fedora");
	assert_string_equal(os.pretty_name, "A \"quoted\" name \\ $HOME");
	assert_string_equal(os.version_id, "");
}

static void test_os_release_parse_missing_id_is_einval(void **state)
{
	(void)state;
	struct os_release os = { .id = "kept" };

	assert_int_equal(os_release_parse("NAME=x\nID_LIKE=debian\n", &os), -EINVAL);
	assert_int_equal(os_release_parse("ID=\n", &os), -EINVAL);
	assert_int_equal(os_release_parse("ID=\"\"\n", &os), -EINVAL);
	assert_string_equal(os.id, "kept");
}

static void test_os_release_parse_truncates_long_values(void **state)
{
	(void)state;
	struct os_release os;
	char text[400];

	snprintf(text, sizeof(text), "ID=x\nPRETTY_NAME=\"%0200d\"\n", 0);
	assert_int_equal(os_release_parse(text, &os), 0);
	assert_int_equal(strlen(os.pretty_name), sizeof(os.pretty_name) - 1);
}

static void test_os_release_from_etc(void **state)
{
	struct hostview hv;
	struct os_release os;

	tu_write(*state, "etc/os-release", "ID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.3\"\n");
	tu_write(*state, "usr/lib/os-release", "ID=other\n");
	view(&hv, *state);
	assert_int_equal(hostview_os_release(&hv, &os), 0);
	assert_string_equal(os.id, "rhel");
	assert_string_equal(os.id_like, "fedora");
	assert_string_equal(os.version_id, "9.3");
}

static void test_os_release_falls_back_to_usr_lib(void **state)
{
	struct hostview hv;
	struct os_release os;

	tu_write(*state, "usr/lib/os-release", "ID=arch\n");
	view(&hv, *state);
	assert_int_equal(hostview_os_release(&hv, &os), 0);
	assert_string_equal(os.id, "arch");
}

static void test_os_release_absent_is_enoent(void **state)
{
	struct hostview hv;
	struct os_release os;

	view(&hv, *state);
	assert_int_equal(hostview_os_release(&hv, &os), -ENOENT);
}

static const char passwd[] = "root:x:0:0:root:/root:/bin/bash\n"
			     "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
			     "picket-scan:x:998:997:picket scan:/nonexistent:/usr/sbin/nologin\n";
static const char group[] = "root:x:0:\n"
			    "picket-admin:x:996:alice,bob\n"
			    "picket-scan:x:997:\n";

static void test_user_from_view_passwd(void **state)
{
	struct hostview hv;
	struct hv_user u;

	tu_write(*state, "etc/passwd", passwd);
	view(&hv, *state);
	assert_int_equal(hostview_user(&hv, "picket-scan", &u), 0);
	assert_string_equal(u.name, "picket-scan");
	assert_int_equal(u.uid, 998);
	assert_int_equal(u.gid, 997);
}

static void test_user_absent_is_enoent(void **state)
{
	struct hostview hv;
	struct hv_user u;

	tu_write(*state, "etc/passwd", passwd);
	view(&hv, *state);
	assert_int_equal(hostview_user(&hv, "picket", &u), -ENOENT);
	assert_int_equal(hostview_user(&hv, "picket-scanner", &u), -ENOENT);
}

static void test_user_without_passwd_file_is_enoent(void **state)
{
	struct hostview hv;
	struct hv_user u;

	view(&hv, *state);
	assert_int_equal(hostview_user(&hv, "root", &u), -ENOENT);
}

static void test_group_from_view_group(void **state)
{
	struct hostview hv;
	struct hv_group g;

	tu_write(*state, "etc/group", group);
	view(&hv, *state);
	assert_int_equal(hostview_group(&hv, "picket-scan", &g), 0);
	assert_string_equal(g.name, "picket-scan");
	assert_int_equal(g.gid, 997);
	assert_int_equal(hostview_group(&hv, "picket-admin", &g), 0);
	assert_int_equal(g.gid, 996);
}

static void test_group_absent_is_enoent(void **state)
{
	struct hostview hv;
	struct hv_group g;

	tu_write(*state, "etc/group", group);
	view(&hv, *state);
	assert_int_equal(hostview_group(&hv, "wheel", &g), -ENOENT);
}

static void test_real_root_user_is_uid_0(void **state)
{
	(void)state;
	struct hostview hv;
	struct hv_user u;
	struct hv_group g;

	view(&hv, "/");
	assert_int_equal(hostview_user(&hv, "root", &u), 0);
	assert_int_equal(u.uid, 0);
	assert_int_equal(hostview_group(&hv, "root", &g), 0);
	assert_int_equal(g.gid, 0);
	assert_int_equal(hostview_user(&hv, "picket-no-such-user-xyz", &u), -ENOENT);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_tmpdir_setup, tu_tmpdir_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_init_null_and_slash_are_real),
		T(test_init_relative_path_refused),
		T(test_init_not_a_directory_refused),
		T(test_init_missing_root_refused),
		T(test_init_strips_trailing_slashes),
		T(test_path_maps_under_root),
		T(test_exists_looks_under_root),
		T(test_read_trims_trailing_newlines),
		T(test_read_exact_fit),
		T(test_read_too_big_is_efbig),
		T(test_read_missing_is_enoent),
		T(test_kernel_release_read),
		T(test_kernel_release_empty_is_enodata),
		T(test_mem_available_from_meminfo),
		T(test_mem_available_missing_line_is_enodata),
		T(test_env_file_get_plain_and_quoted),
		T(test_env_file_get_absent_is_enoent),
		T(test_env_file_get_key_is_whole_name),
		T(test_env_file_get_truncates_to_out),
		T(test_env_file_get_long_value_is_e2big),
		T(test_os_release_parse_fields),
		T(test_os_release_parse_quotes_and_escapes),
		T(test_os_release_parse_missing_id_is_einval),
		T(test_os_release_parse_truncates_long_values),
		T(test_os_release_from_etc),
		T(test_os_release_falls_back_to_usr_lib),
		T(test_os_release_absent_is_enoent),
		T(test_user_from_view_passwd),
		T(test_user_absent_is_enoent),
		T(test_user_without_passwd_file_is_enoent),
		T(test_group_from_view_group),
		T(test_group_absent_is_enoent),
		T(test_real_root_user_is_uid_0),
	};
	return cmocka_run_group_tests_name("hostview", tests, NULL, NULL);
}
