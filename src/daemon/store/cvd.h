/* cvd.h - the ClamAV database container (.cvd signed, .cld signed/local,
 * .cud unsigned): a 512-byte text header, then the body (a tar, usually
 * gzip-compressed).  The header, space-padded to 512 bytes:
 *
 *   ClamAV-VDB:<build time>:<version>:<sigs>:<flevel>:<md5>:<dsig>:<builder>:<stime>
 *
 * Fields are numbered as ClamAV numbers them: the magic is field 1, build time 2,
 * version 3, sigs 4, flevel 5, md5 6, dsig 7, builder 8, stime 9.
 *
 * Errors return -EBADMSG (or -EINVAL, as noted) and a one-line reason in err. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CVD_HEADER_SIZE 512
#define CVD_SIGS_MAX 50000000u
#define CVD_FLEVEL_MAX 1000u

struct cvd_header {
	char build_time[64];  /* as written, e.g. "25 Nov 2026 13-00 +0000" */
	unsigned version;
	unsigned sigs;        /* <= CVD_SIGS_MAX */
	unsigned flevel;      /* <= CVD_FLEVEL_MAX */
	char md5[33];         /* MD5 of the body, lowercase hex; "" when the header
			       * says "X" (freshclam writes that in .cld files) */
	char dsig[256];       /* "X" when unsigned */
	char builder[64];
	uint64_t stime;       /* build time, seconds since the epoch (<= UINT32_MAX) */
};

/* Parses the header in the first 512 bytes of buf (bytes after them, the body,
 * are ignored).  Strict: the magic, exactly 8 fields after it, printable
 * ASCII only, space padding only, numbers all digits and in range, md5 32 hex
 * digits (or "X").  Reasons read like "header: field 4 (sigs) is not a number"
 * or "file shorter than the 512-byte header". */
int cvd_header_parse(const char *buf, size_t len, struct cvd_header *ret, char *err, size_t errlen);

/* How the check treats the file: allow_unsigned accepts .cud.  libclamav's
 * part runs in a fork()ed child that keeps only the file, drops to uid/gid
 * (setgroups, setresgid, setresuid; a caller that is not root passes its
 * own ids, a root caller never 0: -EINVAL), sets no_new_privs and a seccomp
 * allowlist (read-only opens, memory, the verdict pipe), has at most
 * mem_bytes of address space (0: unlimited; sanitized builds: unlimited)
 * and is killed after timeout_ms (> 0). */
struct cvd_check_opts {
	bool allow_unsigned;
	uid_t uid;
	gid_t gid;
	unsigned timeout_ms;
	uint64_t mem_bytes;
};

/* Checks the container open on fd, named name (its extension decides the
 * kind; -EINVAL "unsupported definitions file type" for anything but .cvd,
 * .cld, .cud).  Refuses .cud unless o->allow_unsigned; parses the header;
 * refuses an flevel above the engine's (cl_retflevel()); requires a
 * non-empty body whose MD5 equals the header's (a .cld may say "X":
 * freshclam writes that); for .cvd/.cld has libclamav verify the container
 * (cl_cvdverify: for .cvd the header's RSA signature of the MD5, for .cld
 * the signed .info inside, and the archive; it does not parse the
 * signatures, so a test load is still needed).  Reads fd with pread, so its
 * offset does not matter.  The child reopens the file through
 * /proc/self/fd: its mode must let o->uid read it.
 *
 * Blocks until the child is done.  Installs a libclamav message callback
 * (cl_set_clcb_msg) that keeps the first error for err: not for the scan
 * service, which sets its own. */
int cvd_check_file(int fd, const char *name, const struct cvd_check_opts *o,
		   struct cvd_header *ret, char *err, size_t errlen);
