/* fuzz_scanmsg - scan_msg_check() on arbitrary messages from picket-scand.
 *
 * The first byte chooses the state picketd is in (bit 0: starting, bit 1:
 * a file in flight with id 42, bit 2: a ping pending with id 7); the rest
 * is the message, zero-padded or cut to its size, as it arrives whole over
 * SOCK_SEQPACKET.  A message accepted must be legal in that state: its
 * text printable ASCII, a verdict only for the file in flight and with a
 * result in range, READY and FAILED only while starting, a PONG only for
 * the ping; a refused one must say why. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scanproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const struct scan_msg *m, const struct scan_expect *e)
{
	size_t n = strnlen(m->text, sizeof(m->text));

	if (n == sizeof(m->text))
		abort();
	for (size_t i = 0; i < n; i++)
		if (m->text[i] < 0x20 || m->text[i] > 0x7e)
			abort();
	switch (m->type) {
	case SCAN_MSG_READY:
	case SCAN_MSG_FAILED:
		if (!e->starting)
			abort();
		break;
	case SCAN_MSG_VERDICT:
		if (e->starting || !e->inflight || m->id != e->inflight_id || m->result < SCAN_CLEAN ||
		    m->result > SCAN_LIMIT)
			abort();
		break;
	case SCAN_MSG_PONG:
		if (e->starting || !e->ping || m->id != e->ping_id)
			abort();
		break;
	case SCAN_MSG_SIGSYS:
		if (m->result < 0)
			abort();
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan_msg m = { 0 };
	struct scan_expect e;
	char why[160] = "";

	if (size < 1)
		return 0;
	e = (struct scan_expect){ .starting = data[0] & 1,
				  .inflight = data[0] & 2,
				  .inflight_id = 42,
				  .ping = data[0] & 4,
				  .ping_id = 7 };
	memcpy(&m, data + 1, size - 1 < sizeof(m) ? size - 1 : sizeof(m));
	int r = scan_msg_check(&m, &e, why, sizeof(why));
	if (r == 0)
		check_accepted(&m, &e);
	else if (r != -EBADMSG || why[0] == '\0')
		abort();
	return 0;
}
