/* sandbox.h - the sandbox of picket-scand: Landlock and a seccomp filter.
 *
 * Installed after the definitions are loaded and compiled, before the first
 * message is read: from then on the process can read and map the files it
 * is handed, create, write and remove files beneath its temp directory
 * only, whatever its uid (Landlock), talk over its socket and log to
 * stderr.  Renames, links, chmod, chown, truncate, execve, socket, ptrace
 * and every other call are refused: chmod with EPERM, the rest with SIGSYS,
 * whose handler sends SCAN_MSG_SIGSYS (the syscall number) on SCAN_FD before
 * the process dies of it.  Without Landlock, a root service (fault 5) may
 * write nowhere; the scan user is kept to its temp directory by file
 * permissions only. */
#pragma once

/* tmpdir: where libclamav unpacks (NULL: nowhere).  0 or a negative errno
 * (logged). */
int sandbox_apply(const char *tmpdir);
