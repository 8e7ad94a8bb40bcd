/* fuzz_proto - proto_parse_request() on arbitrary request lines.
 *
 * The line is exactly the input bytes, not NUL-terminated, as the daemon
 * hands it over.  Whatever parses must format back into a line (with its
 * newline) that parses to the same request. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup("fuzz", LOG_TARGET_STDERR, LOG_CRIT);
	return 0;
}

static bool same_request(const struct proto_request *a, const struct proto_request *b)
{
	return a->cmd == b->cmd && a->all == b->all && a->id == b->id && a->limit == b->limit &&
	       a->follow == b->follow;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_request req, again;
	char err[256] = "", line[PROTO_MAX_REQUEST + 2];
	int r, n;

	r = proto_parse_request((const char *)data, size, &req, err, sizeof(err));
	if (r < 0) {
		if ((r != -EINVAL && r != -EMSGSIZE && r != -ENOMEM) || err[0] == '\0')
			abort();
		return 0;
	}
	if (req.limit < 1 || req.limit > PROTO_EVENTS_MAX || (req.cmd == CMD_FAULT && req.id < 1))
		abort();

	n = proto_format_request(&req, line, sizeof(line));
	if (n <= 0 || (size_t)n != strlen(line) || line[n - 1] != '\n')
		abort();
	r = proto_parse_request(line, (size_t)n - 1, &again, err, sizeof(err));
	if (r < 0 || !same_request(&req, &again))
		abort();
	return 0;
}
