/* fuzz_cidr - cidr_parse(), cidr_format(), cidr_contains() and
 * cidr_parse_list() on arbitrary text (the policy's blocklist entries and
 * its blocklist_file).
 *
 * Properties checked, beyond memory safety: an accepted range has a valid
 * family and prefix and no host bits, formats to text that parses back to
 * the same range, and contains its own network address; a list either
 * parses whole (every entry such a range, at most max of them) or leaves the
 * caller's list and count untouched, with a NUL-terminated error. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"
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

static void check_range(const struct cidr *c)
{
	char text[CIDR_STR_MAX];
	struct cidr again;
	unsigned bits;

	if (c->family == AF_INET)
		bits = 32;
	else if (c->family == AF_INET6)
		bits = 128;
	else
		abort();
	if (c->prefix > bits)
		abort();
	for (unsigned b = c->prefix; b < bits; b++)
		if (c->addr[b / 8] & (0x80 >> (b % 8)))
			abort(); /* host bits */
	if (!cidr_contains(c, c->family, c->addr))
		abort();
	cidr_format(c, text, sizeof(text));
	if (cidr_parse(text, &again) != 0 || memcmp(&again, c, sizeof(again)) != 0)
		abort();
}

static void check_list(const char *text, size_t max)
{
	struct cidr *list = NULL;
	size_t n = 0;
	char err[96];

	memset(err, 'x', sizeof(err));
	int r = cidr_parse_list(text, &list, &n, max, err, sizeof(err));
	if (r == 0) {
		if (n > max || (n > 0 && !list))
			abort();
		for (size_t i = 0; i < n; i++)
			check_range(&list[i]);
	} else {
		if (r != -EINVAL && r != -ENOMEM)
			abort();
		if (list || n != 0)
			abort(); /* untouched on failure */
		if (r == -EINVAL && !memchr(err, '\0', sizeof(err)))
			abort();
	}
	free(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct cidr c;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	/* The whole input as one entry, as the policy's blocklist list holds them. */
	int r = cidr_parse(text, &c);
	if (r == 0)
		check_range(&c);
	else if (r != -EINVAL)
		abort();

	check_list(text, 3);
	check_list(text, 4096);
	free(text);
	return 0;
}
