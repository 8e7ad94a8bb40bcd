/* sandbox.h - the seccomp filter of picket-scand.
 *
 * Installed after the definitions are loaded and compiled, before the first
 * message is read: from then on the process can read and map the files it
 * is handed, use its temp directory, talk over its socket and log to
 * stderr.  Any other system call (execve, socket, connect, ptrace, ...)
 * kills the process with SIGSYS, which picketd sees as a crash. */
#pragma once

/* 0 or a negative errno (logged). */
int sandbox_apply(void);
