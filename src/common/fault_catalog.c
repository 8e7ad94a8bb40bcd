#include "fault_catalog.h"

#include <errno.h>
#include <string.h>

#include "cleanup.h"

const struct fault_def fault_catalog[] = {
	{ FAULT_SCAN_USER, "Scan-as-user unavailable", FAULT_MAJOR, FEATURE_ALWAYS,
	  "Reinstall picket to recreate the scan user and group (the installer creates the group "
	  "itself, whatever USERGROUPS_ENAB says in /etc/login.defs). Restore mode 0755 and root "
	  "ownership on the directory named in the detail and stop whatever changed it. Restart "
	  "the connector. Read the daemon log." },
	{ FAULT_SCAN_RESTARTING, "Scan service restarting frequently", FAULT_MAJOR, FEATURE_ALWAYS,
	  "Read the daemon and scan service logs. The detail names the files being scanned at each "
	  "crash: move them aside or exclude them, then check for a definitions update." },
	{ FAULT_SCAN_START, "Scan service failed to start", FAULT_CRITICAL, FEATURE_ALWAYS,
	  "Check free memory against the minimum requirements. Read the daemon and scan service "
	  "logs. Check the rejected definitions folder for files that failed to load." },
	{ FAULT_FILE_MONITOR, "Real-time filesystem monitor failed to start", FAULT_CRITICAL,
	  FEATURE_FILE_MONITOR,
	  "Disable Secure Boot or kernel lockdown where it blocks eBPF. Check that the kernel has "
	  "fanotify permission events (CONFIG_FANOTIFY_ACCESS_PERMISSIONS). Stop any other agent "
	  "holding the hooks, or turn monitor_file_copies_moves off in the policy. Read the daemon log." },
	{ FAULT_NET_MONITOR, "Real-time network monitor failed to start", FAULT_CRITICAL,
	  FEATURE_NET_MONITOR,
	  "Disable Secure Boot or kernel lockdown where it blocks eBPF. Check the kernel "
	  "configuration for cgroup-v2 BPF hooks, or turn device_flow_correlation off in the policy. "
	  "Read the daemon log." },
	{ FAULT_KERNEL_BTF, "Kernel type information missing", FAULT_MAJOR, FEATURE_EBPF,
	  "Install the kernel's BTF type information, or place a BTF file for this kernel release "
	  "in the connector's BTF directory. Then restart the connector." },
	{ FAULT_KERNEL_INCOMPATIBLE, "Incompatible kernel", FAULT_CRITICAL, FEATURE_ANY_MONITOR,
	  "Upgrade the kernel, or the connector, to a supported pair: the README lists the "
	  "supported kernels. Read the daemon log for the missing features." },
	{ FAULT_OVERLOAD, "Event monitoring overloaded", FAULT_MAJOR, FEATURE_ANY_MONITOR,
	  "Add trusted busy processes to the policy's process_exclusions. Investigate unknown busy "
	  "processes named in the detail. If it recurs with no such process, the host needs more "
	  "capacity." },
	{ FAULT_SELINUX, "SELinux policy missing or disabled", FAULT_MAJOR, FEATURE_EBPF,
	  "Reinstall or upgrade picket to install the picket_bpf SELinux module, or add "
	  "'allow unconfined_service_t self:bpf { map_create map_read map_write prog_load prog_run };' "
	  "to the local policy by hand. Then restart the connector." },
	{ FAULT_DEFS_OUTDATED, "Virus definitions out of date", FAULT_MAJOR, FEATURE_ALWAYS,
	  "Update the definitions (picketctl defs install FILE, or the incoming folder). Check the "
	  "update job and its log." },
	{ FAULT_EVENT_LOG, "Event log cannot be written", FAULT_MAJOR, FEATURE_ALWAYS,
	  "Free space on, or remount read-write, the filesystem holding the event log. The detail "
	  "gives the path, the errno and the count of lost events." },
	{ FAULT_PROC_MONITOR, "Process execution monitor failed to start", FAULT_MAJOR,
	  FEATURE_PROC_MONITOR,
	  "Disable Secure Boot or kernel lockdown where it blocks eBPF. Check that the kernel has "
	  "BTF and BPF ring buffers (faults 11 and 16), or turn monitor_process_execution off in "
	  "the policy. Events then name processes from /proc only. Read the daemon log." },
};

const size_t fault_catalog_len = ARRAY_SIZE(fault_catalog);

int fault_def_index(int id)
{
	for (size_t i = 0; i < fault_catalog_len; i++)
		if (fault_catalog[i].id == id)
			return (int)i;
	return -ENOENT;
}

const struct fault_def *fault_def_find(int id)
{
	int i = fault_def_index(id);
	return i < 0 ? NULL : &fault_catalog[i];
}

static const char *const severity_names[] = {
	[FAULT_MINOR] = "minor",
	[FAULT_MAJOR] = "major",
	[FAULT_CRITICAL] = "critical",
};

const char *fault_severity_name(enum fault_severity s)
{
	return (size_t)s < ARRAY_SIZE(severity_names) ? severity_names[s] : "unknown";
}

int fault_severity_from_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(severity_names); i++)
		if (strcmp(severity_names[i], name) == 0)
			return (int)i;
	return -EINVAL;
}
