/* fsmon.h - the real-time file monitor (fanotify): files written and closed,
 * moved or linked into place, and executions (on_execute), each checked
 * against the exclusions and scanned; the verdict and action become one event
 * naming the file, the process and the signature.  Permission events are
 * always answered within the policy's perm_timeout_ms.  Fault 8 is raised
 * by the health layer from what start returns.
 *
 * Three fanotify groups, each with a filesystem mark on every filesystem
 * mounts.h selects:
 *   notif  FAN_CLOSE_WRITE, with a descriptor of the file
 *   fid    FAN_MOVED_TO | FAN_CREATE with FAN_REPORT_DFID_NAME (a group that
 *          reports file handles cannot take permission events)
 *   perm   FAN_OPEN_EXEC_PERM (on_execute audit or block), read and timed by
 *          a thread of its own: picketd's loop blocks at times (it waits for
 *          the scan service's exec and for the definitions test load), and
 *          an execution on the host must never wait for that.  The thread
 *          allows picketd's and its children's own executions at once and
 *          every other one at its deadline; the loop decides the rest.
 * /proc/self/mountinfo is watched too: filesystems mounted later are marked,
 * and the files already in them caught up (scanned when changed lately).
 * So are the filesystems only another mount namespace has (mount_namespaces,
 * mounts_include empty), found through the process monitor's executions and
 * a scan of /proc.  A file is named by its path as the host sees it where
 * the host has one, else by its namespace's path and "mount_namespace";
 * exclusions by path apply to host paths only.
 * FUSE filesystems never are (mounts.h): the kernel opens an event's file in
 * its reader, and a FUSE server may never answer.  The file of a move or a
 * link is looked up by name on its directory's own mount only.
 *
 * A file is checked on its descriptor: a path the kernel cannot tell (past
 * PATH_MAX) is told in part (fdpath.h, "path_complete": false in its
 * events), never a reason to let a file or an execution through.
 *
 * Path exclusions on a watched filesystem become ignore marks in each group
 * (FAN_MARK_IGNORE, Linux 6.0; FAN_MARK_IGNORED_MASK before): a mount point
 * on its mount, a directory on its inode with FAN_EVENT_ON_CHILD (so are
 * mount points in the move group: the kernel takes no directory events on
 * mount marks).  The kernel then drops events on their direct children;
 * deeper ones are excluded in user space.  A reload or a mount change moves
 * the marks; the groups stay, so no event is lost.
 *
 * Degraded mode (fault 18): files written, moved or linked are scanned only
 * when they are executable or under critical_paths; the others are counted
 * as suppressed.  Executions (on_execute) are always checked.
 *
 * Counts (monitor_counts.h): dropped is the kernel queues' overflows, files
 * not scanned (queue full) and executions allowed unchecked (too many
 * waiting).  critical_dropped counts every overflow (what it lost is
 * unknown), the critical set's files not scanned and those executions. */
#pragma once

#include "monitor.h"

#define FSMON_PERM_MAX 1024 /* executions waiting for a verdict; past it, allowed */
#define FSMON_JOBS_MAX 4096 /* files of ours in the scan queue (each holds a descriptor) */

/* The file monitor ("file"), stopped; ctx outlives it.  NULL: out of memory. */
struct monitor *fsmon_new(const struct monitor_ctx *ctx);
