/* engine.h - the libclamav engine of picket-scand, made to fail closed.
 *
 * libclamav answers CL_CLEAN without scanning when it cannot create its
 * temp directory or the engine was never compiled, and logs the reason
 * only.  So: the temp directory is tried before loading, a definition set
 * with no signature is refused, and every error libclamav logs during a
 * scan turns that scan's answer into SCAN_ERROR. */
#pragma once

#include <stdint.h>

#include "scanproto.h"

#define ENGINE_TEXT_MAX 256

struct engine_config {
	const char *defs;   /* directory (or one file) of .cvd/.cld/.cud given to cl_load */
	const char *tmpdir; /* libclamav's temp directory; NULL: neither checked nor set */
	uint64_t max_filesize, max_scansize; /* bytes */
	uint32_t max_scantime;               /* ms */
	uint32_t max_recursion, max_files;
};
/* The libclamav defaults (the same as clamd's). */
#define ENGINE_CONFIG_DEFAULTS                                                        \
	.max_filesize = 100ull << 20, .max_scansize = 400ull << 20, .max_scantime = 120000, \
	.max_recursion = 17, .max_files = 10000

struct engine_failure {
	enum scan_stage stage;
	int code; /* negative errno or positive cl_error_t */
	char text[ENGINE_TEXT_MAX];
};

struct engine_verdict {
	enum scan_result result;
	int code; /* as struct scan_msg's code */
	char text[ENGINE_TEXT_MAX]; /* signature name or error text */
	uint64_t bytes;
	uint32_t usec;
};

struct engine;

/* Initializes libclamav (once per process), checks the temp directory,
 * loads and compiles the definitions.  0, or a negative errno with *fail
 * saying at which stage and why (not logged: the caller reports it). */
int engine_open(const struct engine_config *cfg, struct engine **ret, struct engine_failure *fail);
void engine_free(struct engine *e);
unsigned engine_sigs(const struct engine *e);
/* "<file> <version> (<build time>)" of the newest .cvd/.cld/.cud header in
 * the definitions, or "unversioned"; never contains SCAN_READY_TEXT_SEP. */
const char *engine_version(const struct engine *e);
/* Scans an open regular file.  Always fills *ret; returns 0. */
int engine_scan(struct engine *e, int fd, struct engine_verdict *ret);
