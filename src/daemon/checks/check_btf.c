#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "checks.h"

/* The package that brings BTF, named for the distribution family. */
static void btf_remedy(const struct os_release *os, const char *release, const char *btf_dir,
		       char *out, size_t len)
{
	char family[256];
	snprintf(family, sizeof(family), " %s %s ", os->id, os->id_like);
	const char *pkg;
	if (strstr(family, " ol ") && strstr(release, "uek"))
		pkg = "Oracle Linux UEK: install kernel-uek-devel and kernel-uek-debuginfo for %s";
	else if (strstr(family, " rhel ") || strstr(family, " fedora ") || strstr(family, " centos "))
		pkg = "Red Hat family: install kernel-devel and kernel-debuginfo for %s "
		      "(dnf install kernel-devel-$(uname -r) kernel-debuginfo-$(uname -r))";
	else if (strstr(family, " debian ") || strstr(family, " ubuntu "))
		pkg = "Debian family: install linux-headers-%s and the matching debug image "
		      "(apt-get install linux-headers-$(uname -r) linux-image-$(uname -r)-dbg)";
	else
		pkg = "install the kernel debug information for %s from your distribution";
	int n = snprintf(out, len, pkg, release);
	if (n >= 0 && (size_t)n < len)
		snprintf(out + n, len - n,
			 ", or place a BTF file for this release at %s/%s.btf. Then restart the "
			 "connector.",
			 btf_dir, release);
}

int check_btf(const struct hostview *hv, const struct policy *p, struct check_result *ret)
{
	char release[256], file[PATH_MAX];
	struct os_release os = { .id = "unknown" };
	int r = hostview_kernel_release(hv, release, sizeof(release));

	if (r < 0)
		snprintf(release, sizeof(release), "unknown");
	if (hostview_exists(hv, "/sys/kernel/btf/vmlinux"))
		return 0;
	if (snprintf(file, sizeof(file), "%s/%s.btf", p->btf_dir, release) >= (int)sizeof(file))
		return -ENAMETOOLONG;
	if (r == 0 && hostview_exists(hv, file))
		return 0;
	(void)hostview_os_release(hv, &os); /* unknown distro: the generic remedy */
	check_note(ret, "kernel %s exposes no BTF (/sys/kernel/btf/vmlinux) and %s does not exist",
		   release, file);
	check_note(ret, "os %s", os.id);
	btf_remedy(&os, release, p->btf_dir, ret->remedy, sizeof(ret->remedy));
	return 0;
}
