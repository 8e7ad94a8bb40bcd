/* faultdoc.c - prints docs/faults.md from the fault catalogue.
 *
 *     build/tests/docs/faultdoc > docs/faults.md
 *
 * The catalogue (src/common/fault_catalog.c) is the only source: the test
 * "faultdoc" (check-faultdoc.sh) fails when the committed docs/faults.md
 * differs from what this prints.  Output is deterministic and has no
 * trailing whitespace.  Exits 1, printing nothing useful, when an entry
 * cannot be rendered (a field missing, or a character that would break the
 * Markdown), so a bad entry fails the test instead of producing a bad page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_catalog.h"

/* The policy switches a fault depends on, in words.  No default: a new
 * enum value is a -Wswitch error here until it has a description. */
static const char *feature_words(enum fault_feature f)
{
	switch (f) {
	case FEATURE_ALWAYS:
		return "always";
	case FEATURE_FILE_MONITOR:
		return "`monitor_file_copies_moves` on";
	case FEATURE_NET_MONITOR:
		return "`device_flow_correlation` on";
	case FEATURE_PROC_MONITOR:
		return "`monitor_process_execution` on";
	case FEATURE_ANY_MONITOR:
		return "any monitor on: `monitor_file_copies_moves`, `device_flow_correlation` or "
		       "`monitor_process_execution`";
	case FEATURE_EBPF:
		return "any eBPF feature on: `monitor_file_copies_moves`, "
		       "`device_flow_correlation` or `monitor_process_execution`";
	}
	return NULL;
}

static int bad(const struct fault_def *d, const char *why)
{
	fprintf(stderr, "faultdoc: fault %d: %s\n", d->id, why);
	return -1;
}

/* Text that goes on one Markdown line (and maybe in a table cell). */
static int check_text(const struct fault_def *d, const char *field, const char *s)
{
	char why[128];

	if (!s || !*s) {
		snprintf(why, sizeof(why), "%s is empty", field);
		return bad(d, why);
	}
	if (strpbrk(s, "|\n\r\t")) {
		snprintf(why, sizeof(why), "%s holds '|', a tab or a line break", field);
		return bad(d, why);
	}
	if (s[0] == ' ' || s[strlen(s) - 1] == ' ') {
		snprintf(why, sizeof(why), "%s starts or ends with a space", field);
		return bad(d, why);
	}
	return 0;
}

/* A repository-relative path, linked from docs/. */
static int check_path(const struct fault_def *d, const char *field, const char *s)
{
	char why[128];

	if (check_text(d, field, s) < 0)
		return -1;
	if (strpbrk(s, " ()[]<>`") || s[0] == '/' || strstr(s, "..")) {
		snprintf(why, sizeof(why), "%s is not a plain repository-relative path", field);
		return bad(d, why);
	}
	return 0;
}

static int check_entry(const struct fault_def *d)
{
	if (check_text(d, "name", d->name) < 0 ||
	    check_text(d, "description", d->description) < 0 ||
	    check_text(d, "remediation", d->remediation) < 0 ||
	    check_path(d, "detected_in", d->detected_in) < 0 ||
	    check_path(d, "raised_in", d->raised_in) < 0)
		return -1;
	if (!feature_words(d->feature))
		return bad(d, "unknown feature");
	if (strcmp(fault_severity_name(d->severity), "unknown") == 0)
		return bad(d, "unknown severity");
	return 0;
}

static void md_link(const char *path)
{
	printf("[`%s`](../%s)", path, path);
}

static void intro(void)
{
	puts("# Connector faults");
	puts("");
	puts("A fault is a condition that stops the connector from working as designed. The "
	     "connector raises it when it detects the condition, keeps it active while the "
	     "condition holds, and clears it when the condition is gone. `picketctl faults` and "
	     "`picketctl status` show the active faults; the event log and the metrics file "
	     "carry every raise and clear.");
	puts("");
	puts("This is a generated file: do not edit it by hand. It is printed from the fault "
	     "catalogue, `fault_catalog[]` in "
	     "[`src/common/fault_catalog.c`](../src/common/fault_catalog.c), and the `faultdoc` "
	     "test fails when the two differ. To change it, edit the catalogue and regenerate "
	     "with "
	     "`build/tests/docs/faultdoc > docs/faults.md`.");
	puts("");
	puts("Fault numbers are fixed and never reused; a new fault takes a new number. The "
	     "severity is `critical` when a protection is off, `major` when it is degraded, "
	     "`minor` otherwise.");
	puts("");
}

static void rules(void)
{
	puts("## Rules every fault follows");
	puts("");
	puts("- A fault is raised once: raising a fault that is already active emits no second "
	     "event, it only updates the detail.");
	puts("- Fault state is persisted and survives a restart of the daemon. On start the "
	     "daemon re-checks every condition and clears the faults whose condition is gone.");
	puts("- Every raise and every clear goes to the event log, to the system log and to the "
	     "metrics file.");
	puts("- Conditions are re-checked on a timer and, where the system can report it, on "
	     "change, so a fix is noticed without a restart or a reboot.");
	puts("- A fault whose feature the policy turns off is not raised, and is cleared if it "
	     "was active (\"Applies when\" below).");
	puts("- The severity listed is the one a fault is raised with; some faults rise to a "
	     "higher severity while they last, as their description says.");
	puts("- The detail of an active fault says what exactly was detected: the path, the "
	     "errno, the kernel release, the counts. Where the daemon knows a remediation "
	     "specific to the host, it shows that one in place of the general one below.");
	puts("- One cause, one fault: while fault 16 or 11 keeps the eBPF monitors from "
	     "starting, faults 9 and 22 are not raised on their own. The cause's detail names "
	     "the monitors it takes down, `affects` lists them in JSON (`caused_by` on theirs), "
	     "and status shows them under it. Once the cause clears, the monitors start, or "
	     "raise their own fault with their own errno.");
	puts("");
}

static void index_table(void)
{
	puts("## Index");
	puts("");
	puts("| id | name | severity | applies when | detected in | raised and cleared in |");
	puts("|---:|---|---|---|---|---|");
	for (size_t i = 0; i < fault_catalog_len; i++) {
		const struct fault_def *d = &fault_catalog[i];

		printf("| [%d](#fault-%d) | %s | %s | %s | ", d->id, d->id, d->name,
		       fault_severity_name(d->severity), feature_words(d->feature));
		md_link(d->detected_in);
		printf(" | ");
		md_link(d->raised_in);
		printf(" |\n");
	}
	puts("");
}

static void section(const struct fault_def *d)
{
	/* An explicit anchor: the heading's own slug depends on the renderer. */
	printf("<a id=\"fault-%d\"></a>\n", d->id);
	printf("## %d — %s (%s)\n", d->id, d->name, fault_severity_name(d->severity));
	puts("");
	puts(d->description);
	puts("");
	printf("- **Applies when:** %s\n", feature_words(d->feature));
	printf("- **Detected in:** ");
	md_link(d->detected_in);
	printf("\n- **Raised and cleared in:** ");
	md_link(d->raised_in);
	puts("");
	puts("");
	printf("**Remediation:** %s\n", d->remediation);
}

int main(void)
{
	int ok = 1;

	for (size_t i = 0; i < fault_catalog_len; i++)
		if (check_entry(&fault_catalog[i]) < 0)
			ok = 0;
	if (!ok)
		return EXIT_FAILURE;

	intro();
	index_table();
	rules();
	for (size_t i = 0; i < fault_catalog_len; i++) {
		if (i > 0)
			puts("");
		section(&fault_catalog[i]);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("faultdoc: stdout");
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}
