/* scanproto.h - messages between picketd and picket-scand.
 *
 * picketd creates a SOCK_SEQPACKET socketpair and starts picket-scand with
 * its end as fd 3.  SEQPACKET keeps message boundaries, so one recvmsg is
 * one message; every receiver checks that the message is exactly
 * sizeof(struct scan_msg) and that its type is known before it trusts a
 * byte.  The file to scan travels as an SCM_RIGHTS descriptor with
 * SCAN_MSG_SCAN: picket-scand never opens files by path.
 *
 *   scand -> d   SCAN_MSG_READY     engine loaded: uid/gid, definitions, signature count
 *   scand -> d   SCAN_MSG_FAILED    could not start: stage + errno/libclamav code + text
 *   d -> scand   SCAN_MSG_SCAN      + 1 fd: scan it, reply with the same id
 *   scand -> d   SCAN_MSG_VERDICT   clean / infected + signature / error + reason
 *   d -> scand   SCAN_MSG_PING      liveness; scand answers SCAN_MSG_PONG with the same id
 *   scand -> d   SCAN_MSG_SIGSYS    its seccomp filter stopped syscall result (arch in code);
 *                                   sent from the SIGSYS handler, the service dies of SIGSYS next
 *
 * picket-scand may be taken over by a file it parses, so picketd checks
 * every field of every message it receives against the service's state
 * (scan_msg_check): READY and FAILED only while starting, a VERDICT only
 * for the file in flight, a PONG only for the ping pending, no unused field
 * set, text printable ASCII.  A message that fails restarts the service and
 * re-queues the file in flight, as a crash does.
 *
 * A descriptor travels with SCAN_MSG_SCAN and nothing else: scan_msg_send
 * refuses (-EINVAL) and scan_msg_recv rejects (-EBADMSG) a SCAN without
 * exactly one descriptor, or any other type with one.
 *
 * picket-scand exits 0 at end of stream, 1 after SCAN_MSG_FAILED, 2 on a bad
 * command line (after FAILED/SCAN_STAGE_ARGS when fd 3 is usable) or when
 * fd 3 is not a SOCK_SEQPACKET socket, and 3 after a
 * malformed message (the daemon restarts it; the daemon itself never dies
 * of one).  Killed by SIGSYS means the seccomp filter stopped it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCAN_FD 3 /* picket-scand's end of the socketpair */

enum scan_msg_type {
	SCAN_MSG_READY = 1,
	SCAN_MSG_FAILED,
	SCAN_MSG_SCAN,
	SCAN_MSG_VERDICT,
	SCAN_MSG_PING,
	SCAN_MSG_PONG,
	SCAN_MSG_SIGSYS,
};

enum scan_result {
	SCAN_CLEAN = 0,
	SCAN_INFECTED = 1,
	SCAN_ERROR = 2,
	SCAN_LIMIT = 3, /* a scan limit stopped it: not scanned whole, not a detection */
};

/* The prefix of libclamav's names for a scan that hit a limit. */
#define SCAN_LIMIT_PREFIX "Heuristics.Limits.Exceeded"


/* Where picket-scand stopped when it sends SCAN_MSG_FAILED. */
enum scan_stage {
	SCAN_STAGE_ARGS = 1,
	SCAN_STAGE_PRIVDROP,
	SCAN_STAGE_ENGINE_INIT,
	SCAN_STAGE_DEFS_LOAD,
	SCAN_STAGE_DEFS_EMPTY, /* loaded, but no signature: scanning would pass everything */
	SCAN_STAGE_COMPILE,
	SCAN_STAGE_TMPDIR,
	SCAN_STAGE_SANDBOX,
};

/* READY flags */
#define SCAN_READY_AS_ROOT (1u << 0) /* the scan user was unusable: running as root (fault 5) */
/* READY with SCAN_READY_AS_ROOT: text is "<definitions version>|<why>", e.g.
 * "picket.cud 1 (25 Nov 2026 13-00 +0000)|scan user 'picket-scan' does not
 * exist".  The version never holds this separator. */
#define SCAN_READY_TEXT_SEP '|'

/* One fixed-size message: simple to check, and the sizes are small. */
struct scan_msg {
	uint32_t type;  /* enum scan_msg_type */
	uint32_t flags; /* READY: SCAN_READY_*; */
	uint64_t id;    /* SCAN/VERDICT/PING/PONG: the request id */
	int32_t result; /* VERDICT: enum scan_result; FAILED: enum scan_stage; SIGSYS: syscall nr */
	int32_t code;   /* VERDICT error / FAILED: negative errno, or a positive libclamav
			 * cl_error_t; 0 with SCAN_ERROR: libclamav said clean but logged
			 * an error during the scan (e.g. no temp dir), so the file was
			 * not really scanned */
	uint32_t uid, gid;       /* READY: what the service really runs as */
	uint32_t sigs;           /* READY: signatures loaded */
	uint32_t usec;           /* VERDICT: scan time (wall clock) */
	uint64_t bytes;          /* VERDICT: bytes scanned as libclamav counts them, in
				  * CL_COUNT_PRECISION (4096) steps, unpacked members included:
				  * a file under 4 KiB counts 0 */
	char text[256];          /* always NUL-terminated.  VERDICT: signature name or error
				  * text; READY: definitions version ("<file> <version>
				  * (<build time>)" of the newest .cvd/.cld/.cud header);
				  * READY+AS_ROOT: version|why (above); FAILED: reason.
				  * SCAN_LIMIT: the limit, "Heuristics.Limits.Exceeded.*"
				  * (MaxFileSize, MaxScanSize, MaxRecursion, MaxFiles,
				  * MaxScanTime): not scanned whole.  Printable ASCII only */
};

/* Sends msg, with fd attached when fd >= 0 (SCAN only).  0 or a negative
 * errno: -EINVAL for an unknown type, an unterminated text or a descriptor
 * rule broken.  Never raises SIGPIPE. */
int scan_msg_send(int sock, const struct scan_msg *msg, int fd);
/* Receives one message; *ret_fd gets an attached descriptor or -1 (ret_fd
 * may be NULL, then any descriptor is closed; descriptors arrive
 * close-on-exec).  -EBADMSG for a message of the wrong size, an unknown
 * type, a descriptor count other than the type's (1 for SCAN, else 0), a
 * control message that is not SCM_RIGHTS, or a text that is not
 * NUL-terminated, with every received descriptor closed; -ECONNRESET at end
 * of stream; -EAGAIN when nonblocking and nothing is there.  *ret and
 * *ret_fd are written only on success. */
int scan_msg_recv(int sock, struct scan_msg *ret, int *ret_fd);
/* Copies s (NULL: "") into msg->text, cut to fit, and zeroes the rest. */
void scan_msg_set_text(struct scan_msg *msg, const char *s);
const char *scan_stage_name(enum scan_stage s);

/* What picketd expects of the service when a message arrives. */
struct scan_expect {
	bool starting;        /* no READY yet */
	bool inflight;        /* a SCAN is unanswered ... */
	uint64_t inflight_id; /* ... with this id */
	bool ping;            /* a PING is unanswered ... */
	uint64_t ping_id;     /* ... with this id */
};
/* 0 when m (received from picket-scand) is legal now, else -EBADMSG with
 * why filled ("VERDICT result 7 out of range"). */
int scan_msg_check(const struct scan_msg *m, const struct scan_expect *e, char *why, size_t len);
