/* fault_catalog.h - the fixed catalogue of connector faults (FAULTS.md, the
 * specification).
 *
 * Ids are stable and never reused.  The table is read-only; the live state of
 * each fault is kept by the daemon's fault registry (daemon/core/faults.h).
 *
 * The table is also the source of docs/faults.md: tests/docs/faultdoc prints
 * that file from it, and the "faultdoc" test fails when the committed file
 * differs.  After editing the table, regenerate it:
 *     build/tests/docs/faultdoc > docs/faults.md */
#pragma once

#include <stddef.h>

enum fault_severity {
	FAULT_MINOR,
	FAULT_MAJOR,
	FAULT_CRITICAL,
};

/* Which policy switch a fault depends on: a fault whose feature the policy
 * turns off never applies. */
enum fault_feature {
	FEATURE_ALWAYS,
	FEATURE_FILE_MONITOR, /* monitor_file_copies_moves */
	FEATURE_NET_MONITOR,  /* device_flow_correlation */
	FEATURE_PROC_MONITOR, /* monitor_process_execution */
	FEATURE_ANY_MONITOR,  /* any of the three */
	FEATURE_EBPF,         /* any feature built on eBPF */
};

enum fault_id {
	FAULT_SCAN_USER = 5,
	FAULT_SCAN_RESTARTING = 6,
	FAULT_SCAN_START = 7,
	FAULT_FILE_MONITOR = 8,
	FAULT_NET_MONITOR = 9,
	FAULT_KERNEL_BTF = 11,
	FAULT_KERNEL_INCOMPATIBLE = 16,
	FAULT_OVERLOAD = 18,
	FAULT_SELINUX = 19,
	FAULT_DEFS_OUTDATED = 20,
	FAULT_EVENT_LOG = 21,
	FAULT_PROC_MONITOR = 22,
};

struct fault_def {
	int id;
	const char *name;
	enum fault_severity severity;
	enum fault_feature feature;
	const char *remediation;
	/* For an administrator: what the condition is and what protection it
	 * costs, in one or two sentences. */
	const char *description;
	/* Repository-relative paths: the file whose check detects the
	 * condition, and the file that raises and clears the fault. */
	const char *detected_in;
	const char *raised_in;
};

extern const struct fault_def fault_catalog[];
extern const size_t fault_catalog_len;

/* NULL when id is not in the catalogue. */
const struct fault_def *fault_def_find(int id);
/* Index of id in fault_catalog, or -ENOENT. */
int fault_def_index(int id);

const char *fault_severity_name(enum fault_severity s);
/* -EINVAL for an unknown name. */
int fault_severity_from_name(const char *name);
