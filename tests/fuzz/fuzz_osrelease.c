/* fuzz_osrelease - os_release_parse() and env_file_get() on arbitrary
 * shell-style KEY=value text (os-release, SELinux config).
 *
 * Every value comes back NUL-terminated within its buffer; env_file_get is
 * also driven with small output buffers, each allocated at its exact size so
 * that a write past the end is caught. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostview.h"
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

static void check_get(const char *text, const char *key, size_t len)
{
	char *out = malloc(len);
	if (!out)
		return;
	int r = env_file_get(text, key, out, len);
	if (r == 0 && strnlen(out, len) >= len)
		abort();
	if (r < 0 && r != -ENOENT && r != -E2BIG)
		abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "ID", "VERSION_ID", "SELINUX", "SELINUXTYPE", "" };
	static const size_t lens[] = { 1, 2, 8, 64, 600 };
	struct os_release osr;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	int r = os_release_parse(text, &osr);
	if (r == 0 && (osr.id[0] == '\0' || !TERMINATED(osr.id) || !TERMINATED(osr.id_like) ||
		       !TERMINATED(osr.version_id) || !TERMINATED(osr.pretty_name)))
		abort();
	if (r < 0 && r != -EINVAL)
		abort();

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
			check_get(text, keys[k], lens[l]);
	free(text);
	return 0;
}
