/* fuzz_policy - policy_load_string() on arbitrary libconfig text.
 *
 * A load either fails with a "name:line: reason" message and hands nothing
 * back, or succeeds with every string setting present; either way nothing
 * leaks.  A loaded policy is also rendered as JSON (policy show). */
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void);

/* libconfig before 1.7.3 leaks a string token that ends in a syntax error
 * ('"a" = 1;', '"" = 1;'): its grammar had no %destructor for it
 * (hyperrealm/libconfig issue 142, fixed by pull request 155).  The token is
 * allocated by the library's scanner, never by picket, so only the scanner's
 * frames are excused: a config_t that picket forgot to destroy would still
 * show up, through config_setting_create. */
const char *__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\n"
	       "leak:libconfig_yylex\n";
}

/* Each excused leak would otherwise print the table of suppressions. */
const char *__lsan_default_options(void)
{
	return "print_suppressions=0";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup("fuzz", LOG_TARGET_STDERR, LOG_CRIT);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy p = { 0 };
	char err[POLICY_ERR_MAX] = "";
	char *text = malloc(size + 1);
	int r;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	r = policy_load_string(text, "fuzz.conf", &p, err, sizeof(err));
	free(text);
	if (r < 0) {
		/* All-or-nothing: a failed load writes nothing to *ret. */
		if (p.path || p.scan_user || p.process_exclusions)
			abort();
		if (r == -EINVAL && strlen(err) == 0)
			abort();
		return 0;
	}
	if (!p.path || !p.scan_user || !p.scan_group || !p.admin_group || !p.install_prefix ||
	    !p.btf_dir || !p.min_kernel || p.queue_low_water >= p.queue_high_water ||
	    p.n_process_exclusions > POLICY_MAX_EXCLUSIONS ||
	    p.n_path_exclusions > POLICY_MAX_EXCLUSIONS)
		abort();
	for (size_t i = 0; i < p.n_process_exclusions; i++)
		if (p.process_exclusions[i][0] != '/')
			abort();
	for (size_t i = 0; i < p.n_path_exclusions; i++)
		if (p.path_exclusions[i][0] != '/')
			abort();

	struct json_object *o = policy_to_json(&p);
	if (!o)
		abort();
	json_object_put(o);
	policy_free(&p);
	return 0;
}
