#include "fault_catalog.h"

#include <errno.h>
#include <string.h>

#include "cleanup.h"

/* The source of docs/faults.md (tests/docs/faultdoc prints it from this
 * table; the "faultdoc" test fails when the committed file differs).  After
 * an edit here: build/tests/docs/faultdoc > docs/faults.md */
const struct fault_def fault_catalog[] = {
	{
		.id = FAULT_SCAN_USER,
		.name = "Scan-as-user unavailable",
		.severity = FAULT_MAJOR,
		.feature = FEATURE_ALWAYS,
		.remediation =
			"Reinstall picket to recreate the scan user and group (the installer "
			"creates the group itself, whatever USERGROUPS_ENAB says in "
			"/etc/login.defs). Restore mode 0755 and root ownership on the directory "
			"named in the detail and stop whatever changed it. Restart the connector. "
			"Read the daemon log.",
		.description =
			"The scan service cannot run as its own unprivileged user and group "
			"(picket-scan by default), or a directory of the install tree is no longer "
			"owned by root with mode 0755. The scan engine, which parses untrusted "
			"files, then runs as root, or the files it runs from could be replaced by "
			"someone other than root.",
		.detected_in = "src/daemon/checks/check_scanuser.c",
		.raised_in = "src/daemon/health/host.c",
	},
	{
		.id = FAULT_SCAN_RESTARTING,
		.name = "Scan service restarting frequently",
		.severity = FAULT_MAJOR,
		.feature = FEATURE_ALWAYS,
		.remediation =
			"Read the daemon and scan service logs. The detail names the files being "
			"scanned at each crash: move them aside or exclude them, then check for a "
			"definitions update.",
		.description =
			"The scan service keeps crashing (by default 3 times within 5 minutes) and "
			"is restarted each time, most likely because some file crashes the engine "
			"when it is scanned. Scanning goes on at best effort, skipping a file that "
			"crashed the engine twice until the definitions change; the fault turns "
			"critical if it is still active 10 minutes (by default) after the "
			"connector started.",
		.detected_in = "src/daemon/scan/supervisor.c",
		.raised_in = "src/daemon/health/scansvc.c",
	},
	{
		.id = FAULT_SCAN_START,
		.name = "Scan service failed to start",
		.severity = FAULT_CRITICAL,
		.feature = FEATURE_ALWAYS,
		.remediation =
			"Check free memory against the minimum requirements. Read the daemon and "
			"scan service logs. Check the rejected definitions folder for files that "
			"failed to load.",
		.description =
			"The scan service did not start, because of definition files that fail to "
			"load, too little free memory for the engine or a missing binary, so no "
			"file is scanned. The connector moves definition files that fail to load "
			"aside and retries on the last set known to be good.",
		.detected_in = "src/daemon/scan/supervisor.c",
		.raised_in = "src/daemon/health/scansvc.c",
	},
	{
		.id = FAULT_FILE_MONITOR,
		.name = "Real-time filesystem monitor failed to start",
		.severity = FAULT_CRITICAL,
		.feature = FEATURE_FILE_MONITOR,
		.remediation =
			"Disable Secure Boot or kernel lockdown where it blocks eBPF. Check that "
			"the kernel has fanotify permission events "
			"(CONFIG_FANOTIFY_ACCESS_PERMISSIONS). Stop any other agent holding the "
			"hooks, or turn monitor_file_copies_moves off in the policy. Read the "
			"daemon log.",
		.description =
			"The policy turns on monitoring of file copies and moves, but neither the "
			"eBPF programs nor the fanotify listener that watch the filesystem could "
			"be started. Until it clears, file copies and moves go unseen and files "
			"are not scanned on access.",
		.detected_in = "src/daemon/monitor/fsmon.c",
		.raised_in = "src/daemon/health/monitors.c",
	},
	{
		.id = FAULT_NET_MONITOR,
		.name = "Real-time network monitor failed to start",
		.severity = FAULT_CRITICAL,
		.feature = FEATURE_NET_MONITOR,
		.remediation =
			"Disable Secure Boot or kernel lockdown where it blocks eBPF. Check the "
			"kernel configuration for cgroup-v2 BPF hooks, or turn "
			"device_flow_correlation off in the policy. Read the daemon log.",
		.description =
			"The policy turns on device flow correlation, but the eBPF programs that "
			"watch network connections could not be loaded or attached. Until it "
			"clears, network flows are neither recorded nor matched to processes and "
			"files.",
		.detected_in = "src/daemon/monitor/netmon.c",
		.raised_in = "src/daemon/health/monitors.c",
	},
	{
		.id = FAULT_KERNEL_BTF,
		.name = "Kernel type information missing",
		.severity = FAULT_MAJOR,
		.feature = FEATURE_EBPF,
		.remediation =
			"Install the kernel's BTF type information, or place a BTF file for this "
			"kernel release in the connector's BTF directory. Then restart the "
			"connector.",
		.description =
			"An eBPF feature is on, but the running kernel exposes no BTF type "
			"information (/sys/kernel/btf/vmlinux) and the connector's BTF directory "
			"holds no BTF file for this kernel release. The eBPF programs cannot be "
			"fitted to this kernel, so the monitors built on them do not run; this "
			"fault takes the place of the classic \"kernel-devel package missing\".",
		.detected_in = "src/daemon/checks/check_btf.c",
		.raised_in = "src/daemon/health/host.c",
	},
	{
		.id = FAULT_KERNEL_INCOMPATIBLE,
		.name = "Incompatible kernel",
		.severity = FAULT_CRITICAL,
		.feature = FEATURE_ANY_MONITOR,
		.remediation =
			"Upgrade the kernel, or the connector, to a supported pair: the README "
			"lists the supported kernels. Read the daemon log for the missing "
			"features.",
		.description =
			"The running kernel is older than the minimum release the eBPF monitors "
			"support, or lacks a feature they need (the BPF system call, ring buffer "
			"maps, BTF-enabled tracepoints). The eBPF monitors cannot run; file "
			"monitoring falls back to fanotify where the kernel allows it.",
		.detected_in = "src/daemon/checks/check_kernel.c",
		.raised_in = "src/daemon/health/host.c",
	},
	{
		.id = FAULT_OVERLOAD,
		.name = "Event monitoring overloaded",
		.severity = FAULT_MAJOR,
		.feature = FEATURE_ANY_MONITOR,
		.remediation =
			"Add trusted busy processes to the policy's process_exclusions. "
			"Investigate unknown busy processes named in the detail. If it recurs with "
			"no such process, the host needs more capacity.",
		.description =
			"System events arrive faster than the connector can handle them: they are "
			"dropped in the kernel ring buffer, or the queue in the daemon stays above "
			"its high-water mark, which may be an attack or very busy benign software. "
			"Until activity falls the connector watches only a system-critical set of "
			"events (process execution, writes to executables and system "
			"configuration, outbound connections); the fault turns critical when even "
			"those are being lost.",
		.detected_in = "src/daemon/health/overload.c",
		.raised_in = "src/daemon/health/monitors.c",
	},
	{
		.id = FAULT_SELINUX,
		.name = "SELinux policy missing or disabled",
		.severity = FAULT_MAJOR,
		.feature = FEATURE_EBPF,
		.remediation =
			"Reinstall or upgrade picket to install the picket_bpf SELinux module, or "
			"add 'allow unconfined_service_t self:bpf { map_create map_read map_write "
			"prog_load prog_run };' to the local policy by hand (on Debian's reference "
			"policy the domain is initrc_t, the one the detail names). Then restart the "
			"connector.",
		.description =
			"SELinux is enforcing and its policy does not let the connector use eBPF, "
			"because the picket_bpf policy module that the installer adds is missing, "
			"disabled or failed to load. The monitors built on eBPF cannot load their "
			"programs.",
		.detected_in = "src/daemon/checks/check_selinux.c",
		.raised_in = "src/daemon/health/host.c",
	},
	{
		.id = FAULT_DEFS_OUTDATED,
		.name = "Virus definitions out of date",
		.severity = FAULT_MAJOR,
		.feature = FEATURE_ALWAYS,
		.remediation =
			"Update the definitions (picketctl defs install FILE, or the incoming "
			"folder). Check the update job and its log.",
		.description =
			"The virus definitions in force are older than the maximum age the policy "
			"allows. Files are still scanned, but threats published since the last "
			"update are not recognised.",
		.detected_in = "src/daemon/store/defs.c",
		.raised_in = "src/daemon/health/host.c",
	},
	{
		.id = FAULT_EVENT_LOG,
		.name = "Event log cannot be written",
		.severity = FAULT_MAJOR,
		.feature = FEATURE_ALWAYS,
		.remediation =
			"Free space on, or remount read-write, the filesystem holding the event "
			"log. The detail gives the path, the errno and the count of lost events.",
		.description =
			"The event log cannot be written, usually because its filesystem is full "
			"or read-only. Events are kept in memory up to a bound and the rest are "
			"lost, so the record of what the connector saw has a gap; the detail "
			"counts the lost events.",
		.detected_in = "src/daemon/core/eventlog.c",
		.raised_in = "src/daemon/health/eventlog.c",
	},
	{
		.id = FAULT_PROC_MONITOR,
		.name = "Process execution monitor failed to start",
		.severity = FAULT_MAJOR,
		.feature = FEATURE_PROC_MONITOR,
		.remediation =
			"Disable Secure Boot or kernel lockdown where it blocks eBPF. Check that "
			"the kernel has BTF and BPF ring buffers (faults 11 and 16), or turn "
			"monitor_process_execution off in the policy. Events then name processes "
			"from /proc only. Read the daemon log.",
		.description =
			"The policy turns on process execution monitoring, but the process "
			"monitor's eBPF programs could not be loaded. Process executions are not "
			"seen as they happen, and events name processes only from what /proc still "
			"shows.",
		.detected_in = "src/daemon/monitor/procmon.c",
		.raised_in = "src/daemon/health/monitors.c",
	},
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
