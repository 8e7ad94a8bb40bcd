#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "checks.h"
#include "cleanup.h"

#define MODULE "picket_bpf"

/* Installed modules live in active/modules/<priority>/<name>/; a disabled one
 * also has active/modules/disabled/<name>. */
static bool module_installed(const struct hostview *hv, const char *store)
{
	char dir[PATH_MAX], p[PATH_MAX];
	struct dirent *de;

	if (snprintf(dir, sizeof(dir), "%s/active/modules", store) >= (int)sizeof(dir) ||
	    hostview_path(hv, dir, p, sizeof(p)) < 0)
		return false;
	_cleanup_closedir_ DIR *d = opendir(p);
	if (!d)
		return false;
	while ((de = readdir(d))) {
		char m[PATH_MAX];
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (snprintf(m, sizeof(m), "%s/%s/" MODULE, dir, de->d_name) < (int)sizeof(m) &&
		    hostview_exists(hv, m))
			return true;
	}
	return false;
}

int check_selinux(const struct hostview *hv, const struct kernel_features *kf,
		  struct check_result *ret, bool *ret_denied)
{
	char enforce[16], config[4096], type[64] = "targeted", store[PATH_MAX], p[PATH_MAX];
	char context[256];

	*ret_denied = false;
	if (hostview_read(hv, "/sys/fs/selinux/enforce", enforce, sizeof(enforce)) < 0 ||
	    strcmp(enforce, "1") != 0)
		return 0; /* not enabled, or permissive: eBPF is not denied */
	if (hostview_read(hv, "/etc/selinux/config", config, sizeof(config)) >= 0)
		(void)env_file_get(config, "SELINUXTYPE", type, sizeof(type));
	if (snprintf(store, sizeof(store), "/var/lib/selinux/%s", type) >= (int)sizeof(store) ||
	    snprintf(p, sizeof(p), "%s/active/modules/disabled/" MODULE, store) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	/* The real denial: the kernel refused the feature probe's bpf() with
	 * EACCES, which capabilities and lockdown never answer (EPERM). */
	if (kf->bpf_syscall == -EACCES) {
		*ret_denied = true;
		if (hostview_read(hv, "/proc/self/attr/current", context, sizeof(context)) < 0)
			snprintf(context, sizeof(context), "(unknown)");
		check_note(ret, "SELinux denies picketd's bpf() in domain %s: %s", context,
			   strerror(EACCES));
	}
	if (!module_installed(hv, store))
		check_note(ret,
			   "SELinux is enforcing (policy %s) and module " MODULE
			   " is not installed in %s/active/modules",
			   type, store);
	else if (hostview_exists(hv, p))
		check_note(ret, "SELinux is enforcing (policy %s) and module " MODULE " is disabled (%s)",
			   type, p);
	else if (*ret_denied)
		check_note(ret, "module " MODULE " is installed but does not cover this domain");
	return 0;
}
