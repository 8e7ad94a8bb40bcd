/* fuzz_cvd - cvd_header_parse() on arbitrary bytes.
 *
 * The input is copied to a buffer of its exact size, so a read past the end
 * is caught.  The result is 0 or -EBADMSG with a terminated reason; a header
 * that parses has every field terminated and in range, and writing it back
 * out and parsing that again gives the same header. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/cvd.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup("fuzz", LOG_TARGET_STDERR, LOG_CRIT);
	return 0;
}

#define TERMINATED(a) (strnlen((a), sizeof(a)) < sizeof(a))

static bool valid(const struct cvd_header *h)
{
	size_t md5len = strnlen(h->md5, sizeof(h->md5));

	if (!TERMINATED(h->build_time) || !TERMINATED(h->md5) || !TERMINATED(h->dsig) ||
	    !TERMINATED(h->builder))
		return false;
	if (!h->build_time[0] || !h->dsig[0] || !h->builder[0] || strchr(h->dsig, ' '))
		return false;
	if (h->sigs > CVD_SIGS_MAX || h->flevel > CVD_FLEVEL_MAX || h->stime > UINT32_MAX)
		return false;
	if (md5len != 0 && md5len != 32)
		return false;
	for (size_t i = 0; i < md5len; i++)
		if (!strchr("0123456789abcdef", h->md5[i]))
			return false;
	return true;
}

static void round_trip(const struct cvd_header *h)
{
	char buf[CVD_HEADER_SIZE + 1];
	struct cvd_header again;
	int n = snprintf(buf, sizeof(buf), "ClamAV-VDB:%s:%u:%u:%u:%s:%s:%s:%" PRIu64,
			 h->build_time, h->version, h->sigs, h->flevel, h->md5[0] ? h->md5 : "X",
			 h->dsig, h->builder, h->stime);

	if (n < 0 || n > CVD_HEADER_SIZE)
		abort(); /* the fields' limits keep a header within 512 bytes */
	memset(buf + n, ' ', CVD_HEADER_SIZE - n);
	if (cvd_header_parse(buf, CVD_HEADER_SIZE, &again, NULL, 0) != 0 ||
	    strcmp(again.build_time, h->build_time) != 0 || again.version != h->version ||
	    again.sigs != h->sigs || again.flevel != h->flevel || strcmp(again.md5, h->md5) != 0 ||
	    strcmp(again.dsig, h->dsig) != 0 || strcmp(again.builder, h->builder) != 0 ||
	    again.stime != h->stime)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t errlens[] = { 0, 1, 8, 256 };
	char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	for (size_t i = 0; i < sizeof(errlens) / sizeof(errlens[0]); i++) {
		struct cvd_header h;
		char err[256];
		memset(&h, 0, sizeof(h));
		memset(err, 'Z', sizeof(err));
		int r = cvd_header_parse(buf, size, &h, errlens[i] ? err : NULL, errlens[i]);
		if (r == 0 && !valid(&h))
			abort();
		if (r == 0 && i == 0)
			round_trip(&h);
		if (r < 0 && r != -EBADMSG)
			abort();
		if (r < 0 && errlens[i] && strnlen(err, errlens[i]) >= errlens[i])
			abort();
	}
	free(buf);
	return 0;
}
