/* Unit tests of src/common/proto.c: every command, the defaults, each
 * refusal with its exact reason, and format -> parse round trips. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "proto.h"

#define ERRLEN 256

static int parse(const char *line, struct proto_request *req, char *err)
{
	return proto_parse_request(line, strlen(line), req, err, ERRLEN);
}

/* What a request holds before a parse, to see that a refusal leaves it alone. */
static const struct proto_request sentinel = {
	.cmd = CMD_POLICY_RELOAD, .all = true, .id = 777, .limit = 777, .follow = true
};

static struct proto_request parse_ok(const char *line)
{
	struct proto_request req;
	char err[ERRLEN] = "";

	req = sentinel;
	if (parse(line, &req, err) != 0)
		fail_msg("'%s' refused: %s", line, err);
	return req;
}

static void assert_req_equal(const struct proto_request *a, const struct proto_request *b)
{
	assert_int_equal(a->cmd, b->cmd);
	assert_int_equal(a->all, b->all);
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->limit, b->limit);
	assert_int_equal(a->follow, b->follow);
}

/* Refused with -EINVAL and exactly this reason; req untouched. */
static void assert_refused(const char *line, const char *want)
{
	struct proto_request req, before;
	char err[ERRLEN] = "";

	req = before = sentinel;
	assert_int_equal(parse(line, &req, err), -EINVAL);
	assert_string_equal(err, want);
	assert_req_equal(&req, &before);
}

static void test_status_parses(void **state)
{
	(void)state;
	struct proto_request r = parse_ok("{\"cmd\":\"status\"}");
	assert_int_equal(r.cmd, CMD_STATUS);
	assert_false(r.all);
	assert_int_equal(r.id, 0);
	assert_int_equal(r.limit, 50);
	assert_false(r.follow);
}

static void test_faults_parses_with_and_without_all(void **state)
{
	(void)state;
	struct proto_request r = parse_ok("{\"cmd\":\"faults\"}");
	assert_int_equal(r.cmd, CMD_FAULTS);
	assert_false(r.all);
	r = parse_ok("{\"cmd\":\"faults\",\"all\":true}");
	assert_true(r.all);
}

static void test_fault_parses_id(void **state)
{
	(void)state;
	struct proto_request r = parse_ok("{ \"cmd\" : \"fault\", \"id\" : 5 }");
	assert_int_equal(r.cmd, CMD_FAULT);
	assert_int_equal(r.id, 5);
	r = parse_ok("{\"id\":9999,\"cmd\":\"fault\"}");
	assert_int_equal(r.id, 9999);
}

static void test_events_defaults(void **state)
{
	(void)state;
	struct proto_request r = parse_ok("{\"cmd\":\"events\"}");
	assert_int_equal(r.cmd, CMD_EVENTS);
	assert_int_equal(r.limit, 50);
	assert_false(r.follow);
}

static void test_events_limit_and_follow(void **state)
{
	(void)state;
	struct proto_request r = parse_ok("{\"cmd\":\"events\",\"limit\":10000,\"follow\":true}");
	assert_int_equal(r.limit, PROTO_EVENTS_MAX);
	assert_true(r.follow);
	r = parse_ok("{\"cmd\":\"events\",\"limit\":1}");
	assert_int_equal(r.limit, 1);
}

static void test_policy_commands_parse(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("{\"cmd\":\"policy_show\"}").cmd, CMD_POLICY_SHOW);
	assert_int_equal(parse_ok("{\"cmd\":\"policy_reload\"}").cmd, CMD_POLICY_RELOAD);
}

static void test_cmd_names(void **state)
{
	(void)state;
	assert_string_equal(proto_cmd_name(CMD_STATUS), "status");
	assert_string_equal(proto_cmd_name(CMD_FAULTS), "faults");
	assert_string_equal(proto_cmd_name(CMD_FAULT), "fault");
	assert_string_equal(proto_cmd_name(CMD_EVENTS), "events");
	assert_string_equal(proto_cmd_name(CMD_POLICY_SHOW), "policy_show");
	assert_string_equal(proto_cmd_name(CMD_POLICY_RELOAD), "policy_reload");
	assert_string_equal(proto_cmd_name((enum proto_cmd)42), "?");
}

/* Every command has the class the policy's control groups speak of; the
 * read-only ones are "status". */
static void test_cmd_classes(void **state)
{
	(void)state;
	static const struct {
		enum proto_cmd cmd;
		const char *class;
	} want[] = {
		{ CMD_STATUS, "status" },
		{ CMD_FAULTS, "status" },
		{ CMD_FAULT, "status" },
		{ CMD_EVENTS, "status" },
		{ CMD_POLICY_SHOW, "status" },
		{ CMD_DEFS_STATUS, "status" },
		{ CMD_SCAN, "scan" },
		{ CMD_QUARANTINE_LIST, "quarantine" },
		{ CMD_QUARANTINE_RESTORE, "quarantine" },
		{ CMD_QUARANTINE_DELETE, "quarantine" },
		{ CMD_DEFS_INSTALL, "defs" },
		{ CMD_POLICY_RELOAD, "policy" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		assert_string_equal(proto_class_name(proto_cmd_class(want[i].cmd)), want[i].class);
	assert_int_equal(ARRAY_SIZE(want), CMD_QUARANTINE_DELETE + 1);
	/* Something that is not a command gets the narrowest class. */
	assert_int_equal(proto_cmd_class((enum proto_cmd)42), PROTO_CLASS_POLICY);
	assert_string_equal(proto_class_name(PROTO_CLASSES), "?");
}

static void test_malformed_json_refused(void **state)
{
	(void)state;
	assert_refused("{\"cmd\":\"status\"", "malformed JSON: unexpected end of request");
	assert_refused("{cmd:status}", "malformed JSON: quoted object property name expected");
	assert_refused("", "malformed JSON: unexpected end of request");
}

static void test_non_object_refused(void **state)
{
	(void)state;
	assert_refused("[\"status\"]", "request must be a JSON object");
	assert_refused("\"status\"", "request must be a JSON object");
}

static void test_missing_cmd_refused(void **state)
{
	(void)state;
	assert_refused("{}", "request has no \"cmd\" string");
	assert_refused("{\"command\":\"status\"}", "request has no \"cmd\" string");
	assert_refused("{\"cmd\":5}", "request has no \"cmd\" string");
}

static void test_unknown_command_refused(void **state)
{
	(void)state;
	assert_refused("{\"cmd\":\"reboot\"}", "unknown command 'reboot'");
	assert_refused("{\"cmd\":\"Status\"}", "unknown command 'Status'");
}

static void test_unknown_command_name_is_cut(void **state)
{
	(void)state;
	char line[200], want[100];

	snprintf(line, sizeof(line), "{\"cmd\":\"%0100d\"}", 0);
	snprintf(want, sizeof(want), "unknown command '%064d'", 0);
	assert_refused(line, want);
}

static void test_unknown_field_refused(void **state)
{
	(void)state;
	assert_refused("{\"cmd\":\"status\",\"all\":true}", "'all' is not a field of 'status'");
	assert_refused("{\"cmd\":\"faults\",\"limit\":5}", "'limit' is not a field of 'faults'");
	assert_refused("{\"cmd\":\"events\",\"lmit\":5}", "'lmit' is not a field of 'events'");
	assert_refused("{\"cmd\":\"fault\",\"id\":5,\"all\":false}", "'all' is not a field of 'fault'");
}

static void test_wrong_field_types_refused(void **state)
{
	(void)state;
	assert_refused("{\"cmd\":\"faults\",\"all\":1}", "'all' must be true or false");
	assert_refused("{\"cmd\":\"events\",\"follow\":\"yes\"}", "'follow' must be true or false");
	assert_refused("{\"cmd\":\"events\",\"limit\":\"5\"}", "'limit' must be a whole number");
	assert_refused("{\"cmd\":\"events\",\"limit\":5.5}", "'limit' must be a whole number");
	assert_refused("{\"cmd\":\"fault\",\"id\":null}", "'id' must be a whole number");
}

static void test_limit_out_of_range_refused(void **state)
{
	(void)state;
	assert_refused("{\"cmd\":\"events\",\"limit\":0}", "'limit' must be between 1 and 10000");
	assert_refused("{\"cmd\":\"events\",\"limit\":10001}", "'limit' must be between 1 and 10000");
	assert_refused("{\"cmd\":\"events\",\"limit\":-1}", "'limit' must be between 1 and 10000");
	assert_refused("{\"cmd\":\"events\",\"limit\":99999999999999999999}",
		       "'limit' must be between 1 and 10000");
}

static void test_fault_id_out_of_range_refused(void **state)
{
	(void)state;
	assert_refused("{\"cmd\":\"fault\",\"id\":0}", "'id' must be between 1 and 9999");
	assert_refused("{\"cmd\":\"fault\",\"id\":10000}", "'id' must be between 1 and 9999");
}

static void test_fault_without_id_refused(void **state)
{
	(void)state;
	assert_refused("{\"cmd\":\"fault\"}", "'fault' needs an \"id\"");
}

static void test_nul_byte_refused(void **state)
{
	(void)state;
	static const char line[] = "{\"cmd\":\"status\"}\0";
	struct proto_request req;
	char err[ERRLEN] = "";

	assert_int_equal(proto_parse_request(line, sizeof(line) - 1, &req, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "request contains a NUL byte");
}

static void test_trailing_data_refused(void **state)
{
	(void)state;
	assert_refused("{\"cmd\":\"status\"} {\"cmd\":\"status\"}", "trailing data after the request object");
	assert_refused("{\"cmd\":\"status\"}x", "trailing data after the request object");
}

static void test_length_limits(void **state)
{
	(void)state;
	char *line = malloc(PROTO_MAX_REQUEST + 2);
	struct proto_request req;
	char err[ERRLEN] = "";
	const char *head = "{\"cmd\":\"status\"";
	size_t n = strlen(head);

	assert_non_null(line);
	memcpy(line, head, n);
	memset(line + n, ' ', PROTO_MAX_REQUEST + 1 - n);
	line[PROTO_MAX_REQUEST - 1] = '}';
	line[PROTO_MAX_REQUEST] = '\0';
	assert_int_equal(proto_parse_request(line, PROTO_MAX_REQUEST, &req, err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CMD_STATUS);
	line[PROTO_MAX_REQUEST - 1] = ' ';
	line[PROTO_MAX_REQUEST] = '}';
	assert_int_equal(proto_parse_request(line, PROTO_MAX_REQUEST + 1, &req, err, sizeof(err)),
			 -EMSGSIZE);
	assert_string_equal(err, "request too long (4097 bytes, at most 4096)");
	free(line);
}

static void test_deep_nesting_refused(void **state)
{
	(void)state;
	char line[200] = "{\"cmd\":\"status\",\"x\":";
	size_t n = strlen(line);
	struct proto_request req;
	char err[ERRLEN] = "";

	for (int i = 0; i < 40; i++)
		line[n++] = '[';
	line[n] = '\0';
	assert_int_equal(parse(line, &req, err), -EINVAL);
	assert_string_equal(err, "malformed JSON: nesting too deep");
}

static void assert_round_trip(struct proto_request in)
{
	char buf[256], err[ERRLEN] = "";
	struct proto_request out;
	int n = proto_format_request(&in, buf, sizeof(buf));

	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_int_equal(buf[n - 1], '\n');
	assert_null(memchr(buf, '\n', n - 1));
	memset(&out, 0, sizeof(out));
	if (proto_parse_request(buf, n - 1, &out, err, sizeof(err)) != 0)
		fail_msg("'%s' refused: %s", buf, err);
	assert_req_equal(&out, &in);
}

static void test_format_round_trips(void **state)
{
	(void)state;
	assert_round_trip((struct proto_request){ .cmd = CMD_STATUS, .limit = 50 });
	assert_round_trip((struct proto_request){ .cmd = CMD_FAULTS, .all = true, .limit = 50 });
	assert_round_trip((struct proto_request){ .cmd = CMD_FAULTS, .limit = 50 });
	assert_round_trip((struct proto_request){ .cmd = CMD_FAULT, .id = 19, .limit = 50 });
	assert_round_trip((struct proto_request){ .cmd = CMD_EVENTS, .limit = 7, .follow = true });
	assert_round_trip((struct proto_request){ .cmd = CMD_POLICY_SHOW, .limit = 50 });
	assert_round_trip((struct proto_request){ .cmd = CMD_POLICY_RELOAD, .limit = 50 });
}

static void test_format_exact_text(void **state)
{
	(void)state;
	char buf[128];
	const char *want = "{\"cmd\":\"events\",\"limit\":20,\"follow\":true}\n";
	struct proto_request r = { .cmd = CMD_EVENTS, .limit = 20, .follow = true };

	assert_int_equal(proto_format_request(&r, buf, sizeof(buf)), (int)strlen(want));
	assert_string_equal(buf, want);
}

static void test_format_small_buffer_is_enobufs(void **state)
{
	(void)state;
	char buf[32];
	struct proto_request r = { .cmd = CMD_STATUS };

	assert_int_equal(proto_format_request(&r, buf, 18), 17);
	assert_string_equal(buf, "{\"cmd\":\"status\"}\n");
	assert_int_equal(proto_format_request(&r, buf, 17), -ENOBUFS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_parses),
		cmocka_unit_test(test_faults_parses_with_and_without_all),
		cmocka_unit_test(test_fault_parses_id),
		cmocka_unit_test(test_events_defaults),
		cmocka_unit_test(test_events_limit_and_follow),
		cmocka_unit_test(test_policy_commands_parse),
		cmocka_unit_test(test_cmd_names),
		cmocka_unit_test(test_cmd_classes),
		cmocka_unit_test(test_malformed_json_refused),
		cmocka_unit_test(test_non_object_refused),
		cmocka_unit_test(test_missing_cmd_refused),
		cmocka_unit_test(test_unknown_command_refused),
		cmocka_unit_test(test_unknown_command_name_is_cut),
		cmocka_unit_test(test_unknown_field_refused),
		cmocka_unit_test(test_wrong_field_types_refused),
		cmocka_unit_test(test_limit_out_of_range_refused),
		cmocka_unit_test(test_fault_id_out_of_range_refused),
		cmocka_unit_test(test_fault_without_id_refused),
		cmocka_unit_test(test_nul_byte_refused),
		cmocka_unit_test(test_trailing_data_refused),
		cmocka_unit_test(test_length_limits),
		cmocka_unit_test(test_deep_nesting_refused),
		cmocka_unit_test(test_format_round_trips),
		cmocka_unit_test(test_format_exact_text),
		cmocka_unit_test(test_format_small_buffer_is_enobufs),
	};
	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
