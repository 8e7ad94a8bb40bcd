/* policy.h - the connector policy: what is protected and how.
 *
 * The policy is a libconfig file (see etc/policy.conf for every setting with
 * its meaning).  Loading is all-or-nothing: on any error nothing is returned
 * and the message says file:line and the reason, so a caller can keep the
 * policy it already has. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_EXCLUSIONS 1024
#define POLICY_ERR_MAX 512
#define POLICY_MAX_BLOCKLIST 65536 /* entries of the network blocklist, file included */

struct cidr;

enum policy_action {
	POLICY_ACTION_AUDIT,      /* report detections only */
	POLICY_ACTION_QUARANTINE, /* move detected files into the quarantine */
};

/* What becomes of a file that a scan limit stopped (not scanned whole). */
enum policy_limits {
	POLICY_LIMITS_REPORT,     /* a scan_limit event only */
	POLICY_LIMITS_QUARANTINE, /* ... and moved into the quarantine */
	POLICY_LIMITS_BLOCK,      /* ... and its execution refused when on_execute = "block" */
};

enum policy_onexec {
	POLICY_ONEXEC_OFF,   /* executions are not checked */
	POLICY_ONEXEC_AUDIT, /* executing a detected file is reported */
	POLICY_ONEXEC_BLOCK, /* ... and refused: the exec fails with EPERM (FAN_DENY) */
};

enum policy_netmode {
	POLICY_NET_AUDIT, /* flows to the blocklist are reported */
	POLICY_NET_BLOCK, /* ... and refused (EPERM) before they start */
};

struct policy {
	char *path; /* the file it was read from */

	bool monitor_file_copies_moves;
	bool device_flow_correlation;
	bool monitor_process_execution;
	char **process_exclusions; /* absolute executable paths */
	size_t n_process_exclusions;
	char **path_exclusions; /* absolute path prefixes */
	size_t n_path_exclusions;
	unsigned *process_exclusion_uids; /* processes of these users */
	size_t n_process_exclusion_uids;
	char **process_exclusion_cgroups; /* processes in these cgroup-v2 directories */
	size_t n_process_exclusion_cgroups;

	char *scan_user;
	char *scan_group;
	char *admin_group; /* may use the control socket besides root */

	/* The control socket (control = { ... }).  Each class of request is
	 * allowed to root and the members of one group (default admin_group). */
	char *allow_status;     /* status, faults, events, policy show, defs status */
	char *allow_scan;       /* on-demand scans */
	char *allow_quarantine; /* quarantine list, restore, delete */
	char *allow_defs;       /* defs install */
	char *allow_policy;     /* policy reload */
	unsigned control_max_per_uid;   /* connections one non-root user may hold */
	unsigned control_idle_timeout;  /* seconds a non-root connection may wait without a request */
	unsigned control_member_check;  /* seconds between re-checks of followers' membership */
	char *install_prefix;
	char *btf_dir; /* BTF files named <kernel release>.btf */
	char *min_kernel; /* "MAJOR.MINOR" */

	unsigned recheck_interval; /* seconds between fault re-checks */

	uint64_t event_log_max_bytes; /* rotate the event log past this size */
	unsigned event_log_keep;      /* rotated files kept */
	uint64_t event_log_alerts_max_bytes; /* the same for alerts.jsonl */
	unsigned event_log_alerts_keep;

	/* Fault windows of FAULTS.md, in seconds, so tests can shorten them. */
	unsigned scan_crash_count;  /* crashes ... */
	unsigned scan_crash_window; /* ... within this window raise fault 6 */
	unsigned scan_calm;         /* no crash this long clears fault 6 */
	unsigned scan_escalate;     /* fault 6 still active this long after start: critical */
	unsigned overload_grace;    /* overload longer than this raises fault 18 */
	unsigned overload_calm;     /* calm this long clears fault 18 */
	unsigned queue_high_water;
	unsigned queue_low_water;
	unsigned rate_low_water;    /* events/s below which activity is calm (fault 18) */
	unsigned defs_max_age; /* fault 20 */
	unsigned min_mem_mb;   /* below this MemAvailable the engine is not started */

	/* The file monitor (file_monitor = { ... }). */
	char **mounts_include; /* mount points watched; none: every local filesystem */
	size_t n_mounts_include;
	char **mounts_exclude; /* mount points never watched */
	size_t n_mounts_exclude;
	enum policy_onexec on_execute;
	unsigned perm_timeout_ms; /* an undecided execution is allowed after this */
	bool report_clean;        /* an event for clean verdicts too */
	bool mount_namespaces;    /* other mount namespaces' own filesystems are marked too
				     (while mounts_include is empty) */
	char **critical_paths;    /* still scanned on access in degraded mode */
	size_t n_critical_paths;

	/* The process monitor (process_monitor = { ... }). */
	bool log_exec, log_fork, log_exit;
	unsigned proc_table_max; /* processes kept in the process table */
	unsigned proc_ring_kb;   /* the kernel's event buffer, KiB (a power of two) */

	/* The network monitor (network_monitor = { ... }). */
	enum policy_netmode net_mode;
	char **blocklist; /* as written in the policy */
	size_t n_blocklist;
	char *blocklist_file;
	struct cidr *blocklist_cidrs; /* blocklist and blocklist_file, parsed */
	size_t n_blocklist_cidrs;
	bool log_closed;       /* an event when a connection closes */
	unsigned udp_interval; /* one UDP flow event per process and peer per this many seconds */
	unsigned net_ring_kb;  /* the kernel's event buffer, KiB (a power of two) */

	/* Scanning (scan = { ... }). */
	enum policy_action scan_action;
	enum policy_limits scan_limits_action;
	bool allow_unsigned_defs;    /* accept unsigned .cud definitions */
	unsigned scan_max_filesize_mb;
	unsigned scan_max_scansize_mb;
	unsigned scan_max_scantime_ms;
	unsigned scan_max_recursion;
	unsigned scan_max_files;
	unsigned scan_cache_entries;  /* verdict cache size */
	unsigned scan_queue_max;      /* files waiting for the scan service */
	unsigned scan_timeout;        /* seconds one scan may take before the service is restarted */
	unsigned defs_test_mem_mb;    /* memory limit of the definitions stability check */
	unsigned defs_test_timeout;   /* time limit of the stability check, seconds */
};

/* Parse and validate path into *ret (which must be zeroed or freed).  On
 * failure returns -EINVAL (or -errno for I/O), leaves *ret untouched and
 * writes "file:line: reason" to err. */
int policy_load(const char *path, struct policy *ret, char *err, size_t errlen);
/* The same from memory; name is used in messages (fuzzing, tests). */
int policy_load_string(const char *text, const char *name, struct policy *ret, char *err,
		       size_t errlen);
void policy_free(struct policy *p);

const char *policy_action_name(enum policy_action a);
const char *policy_onexec_name(enum policy_onexec m);
const char *policy_limits_name(enum policy_limits l);
const char *policy_netmode_name(enum policy_netmode m);

/* A JSON object (json-c) with every setting; caller puts the reference. */
struct json_object *policy_to_json(const struct policy *p);
