/* privdrop.h - picket-scand gives up root before it reads one untrusted
 * byte (the definitions, the files it scans), as OpenBSD ntpd's children do:
 * setgroups, setresgid, setresuid, then checks that it held. */
#pragma once

#include <stddef.h>

/* Becomes user:group with no supplementary groups, then verifies that the
 * real, effective and saved uid and gid are the target and that setuid(0)
 * and setgid(0) now fail.
 *   0   dropped (or already running as exactly that user and group);
 *   1   not dropped: the user or group is missing or unusable (uid 0, wrong
 *       primary group), the process was not started as root, or the kernel
 *       refused the switch; the process keeps its ids and why says why in
 *       one line (fault 5: "scan user 'x' does not exist");
 *   <0  the switch went through but did not hold (negative errno, logged):
 *       the caller must stop. */
int privdrop_user(const char *user, const char *group, char *why, size_t whylen);

/* Sets no_new_privs, empties the capability bounding set where the process
 * still may (CAP_SETPCAP), the ambient, inheritable, permitted and effective
 * sets, and verifies them.  0 or a negative errno (logged). */
int privdrop_caps(void);
