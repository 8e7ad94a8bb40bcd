/* hostview.h - every read of the host's state goes through here.
 *
 * A host view has a root: "/" for the real machine, or a prepared directory
 * tree in tests, so that a kernel release, BTF, os-release, SELinux store or
 * passwd database can be faked without touching the machine.  Paths given to
 * these functions are absolute host paths ("/etc/os-release"); the view maps
 * them under its root. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hostview {
	char root[PATH_MAX]; /* without a trailing slash; "" is the real root */
};

struct os_release {
	char id[64];
	char id_like[128];
	char version_id[64];
	char pretty_name[128];
};

struct hv_user {
	char name[64];
	uid_t uid;
	gid_t gid;
};

struct hv_group {
	char name[64];
	gid_t gid;
};

/* root NULL or "/" is the real machine; otherwise it must be a directory. */
int hostview_init(struct hostview *hv, const char *root);
bool hostview_is_real(const struct hostview *hv);
/* The path of abs inside the view; -ENAMETOOLONG when it does not fit. */
int hostview_path(const struct hostview *hv, const char *abs, char *buf, size_t len);
bool hostview_exists(const struct hostview *hv, const char *abs);
/* Reads a small file whole into buf (NUL-terminated, trailing newlines cut);
 * returns its length or a negative errno (-EFBIG when it does not fit). */
int hostview_read(const struct hostview *hv, const char *abs, char *buf, size_t len);

int hostview_kernel_release(const struct hostview *hv, char *buf, size_t len);
/* MemAvailable from /proc/meminfo, in KiB. */
int hostview_mem_available(const struct hostview *hv, uint64_t *ret_kib);
/* /etc/os-release, falling back to /usr/lib/os-release. */
int hostview_os_release(const struct hostview *hv, struct os_release *ret);
/* The value of key in shell-style KEY=value text (os-release, SELinux
 * config), unquoted; -ENOENT when absent. */
int env_file_get(const char *text, const char *key, char *out, size_t len);
/* Parses os-release text; unknown keys are ignored, -EINVAL if no ID. */
int os_release_parse(const char *text, struct os_release *ret);

/* Users and groups: NSS on the real machine, the view's /etc/passwd and
 * /etc/group otherwise.  -ENOENT when there is no such entry. */
int hostview_user(const struct hostview *hv, const char *name, struct hv_user *ret);
int hostview_group(const struct hostview *hv, const char *name, struct hv_group *ret);
