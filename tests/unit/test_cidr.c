/* Unit tests of src/common/cidr.c: the network blocklist's addresses and
 * ranges, their text form, matching, and the list file. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"

static struct cidr parsed(const char *s)
{
	struct cidr c;
	assert_int_equal(cidr_parse(s, &c), 0);
	return c;
}

static void assert_addr(const struct cidr *c, int family, const char *addr, unsigned prefix)
{
	unsigned char want[16] = { 0 };
	assert_int_equal(inet_pton(family, addr, want), 1);
	assert_int_equal(c->family, family);
	assert_int_equal(c->prefix, prefix);
	assert_memory_equal(c->addr, want, 16);
}

/* ------------------------------------------------------------ cidr_parse */

static void test_parse_ipv4(void **state)
{
	(void)state;
	struct cidr c = parsed("192.0.2.7");
	assert_addr(&c, AF_INET, "192.0.2.7", 32);
	c = parsed("10.0.0.0/8");
	assert_addr(&c, AF_INET, "10.0.0.0", 8);
	c = parsed("0.0.0.0/0");
	assert_addr(&c, AF_INET, "0.0.0.0", 0);
	c = parsed("127.0.0.2/32");
	assert_addr(&c, AF_INET, "127.0.0.2", 32);
}

static void test_parse_ipv6(void **state)
{
	(void)state;
	struct cidr c = parsed("2001:db8::/32");
	assert_addr(&c, AF_INET6, "2001:db8::", 32);
	c = parsed("::1");
	assert_addr(&c, AF_INET6, "::1", 128);
	c = parsed("::/0");
	assert_addr(&c, AF_INET6, "::", 0);
	/* An IPv4-mapped address is an IPv6 address. */
	c = parsed("::ffff:192.0.2.7");
	assert_addr(&c, AF_INET6, "::ffff:192.0.2.7", 128);
	c = parsed("fe80::/10");
	assert_addr(&c, AF_INET6, "fe80::", 10);
}

static void test_parse_refuses_host_bits(void **state)
{
	(void)state;
	struct cidr c;
	assert_int_equal(cidr_parse("10.0.0.1/8", &c), -EINVAL);
	assert_int_equal(cidr_parse("192.0.2.128/24", &c), -EINVAL);
	assert_int_equal(cidr_parse("0.0.0.1/0", &c), -EINVAL);
	assert_int_equal(cidr_parse("2001:db8::1/64", &c), -EINVAL);
	assert_int_equal(cidr_parse("fec0::/9", &c), -EINVAL); /* the 10th bit is set */
	/* The last bit that belongs to the prefix may be set. */
	assert_int_equal(cidr_parse("10.128.0.0/9", &c), 0);
}

static void test_parse_refuses_garbage(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"/8",
		"10.0.0.0/",
		"10.0.0.0/33",
		"::/129",
		"10.0.0.0/-1",
		"10.0.0.0/+8",
		"10.0.0.0/ 8",
		"10.0.0.0/8 ",
		" 10.0.0.0",
		"10.0.0.0/8/8",
		"10.0.0.0/0008",
		"10.0.0.0/8x",
		"1.2.3",
		"1.2.3.4.5",
		"256.0.0.0",
		"example.org",
		"2001:db8:::/32",
		"10.0.0.0\n",
		/* CIDR_STR_MAX characters and more */
		"0000:0000:0000:0000:0000:0000:0000:0000/128 and a long tail of text",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cidr c;
		memset(&c, 0xa5, sizeof(c));
		struct cidr before = c;
		if (cidr_parse(bad[i], &c) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
		/* Written only on success. */
		assert_memory_equal(&c, &before, sizeof(c));
	}
	struct cidr c;
	assert_int_equal(cidr_parse(NULL, &c), -EINVAL);
}

static void test_parse_length_limit(void **state)
{
	(void)state;
	char s[CIDR_STR_MAX + 8];
	struct cidr c;
	/* The longest IPv6 text with a prefix fits. */
	assert_int_equal(cidr_parse("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128", &c), 0);
	memset(s, '1', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	assert_int_equal(cidr_parse(s, &c), -EINVAL);
}

/* ----------------------------------------------------------- cidr_format */

static void test_format_round_trip(void **state)
{
	(void)state;
	static const char *const texts[] = {
		"192.0.2.7", "10.0.0.0/8", "0.0.0.0/0", "2001:db8::/32", "::1", "::/0",
		"::ffff:192.0.2.7", "fe80::/10",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char buf[CIDR_STR_MAX];
		struct cidr c = parsed(texts[i]);
		cidr_format(&c, buf, sizeof(buf));
		assert_string_equal(buf, texts[i]);
	}
	/* A full-length prefix written out is printed bare. */
	char buf[CIDR_STR_MAX];
	struct cidr c = parsed("192.0.2.7/32");
	cidr_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.7");
}

static void test_format_truncates_to_buffer(void **state)
{
	(void)state;
	char buf[6];
	struct cidr c = parsed("10.0.0.0/8");
	memset(buf, 'x', sizeof(buf));
	cidr_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.");
}

/* --------------------------------------------------------- cidr_contains */

static int contains(const char *range, const char *addr)
{
	struct cidr c = parsed(range);
	unsigned char a[16] = { 0 };
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(family, addr, a), 1);
	return cidr_contains(&c, family, a);
}

static void test_contains_ipv4(void **state)
{
	(void)state;
	assert_true(contains("10.0.0.0/8", "10.0.0.0"));
	assert_true(contains("10.0.0.0/8", "10.255.255.255"));
	assert_false(contains("10.0.0.0/8", "11.0.0.0"));
	assert_false(contains("10.0.0.0/8", "9.255.255.255"));
	assert_true(contains("127.0.0.2", "127.0.0.2"));
	assert_false(contains("127.0.0.2", "127.0.0.1"));
	assert_false(contains("127.0.0.2", "127.0.0.3"));
	assert_true(contains("0.0.0.0/0", "203.0.113.9"));
	/* A prefix that ends inside a byte. */
	assert_true(contains("192.0.2.0/25", "192.0.2.127"));
	assert_false(contains("192.0.2.0/25", "192.0.2.128"));
}

static void test_contains_ipv6(void **state)
{
	(void)state;
	assert_true(contains("2001:db8::/32", "2001:db8:ffff::1"));
	assert_false(contains("2001:db8::/32", "2001:db9::"));
	assert_true(contains("::/0", "::1"));
	assert_true(contains("fe80::/10", "febf::1"));
	assert_false(contains("fe80::/10", "fec0::"));
	assert_true(contains("::1", "::1"));
	assert_false(contains("::1", "::2"));
}

static void test_contains_never_across_families(void **state)
{
	(void)state;
	/* 0.0.0.0/0 holds every IPv4 address, and no IPv6 one; the reverse too. */
	assert_false(contains("0.0.0.0/0", "::"));
	assert_false(contains("::/0", "0.0.0.0"));
	/* A mapped IPv6 address is not its IPv4 address (the kernel side maps it). */
	assert_false(contains("192.0.2.7", "::ffff:192.0.2.7"));
}

/* ------------------------------------------------------- cidr_parse_list */

static void test_list_comments_blanks_and_spaces(void **state)
{
	(void)state;
	struct cidr *list = NULL;
	size_t n = 0;
	char err[128] = "";
	const char *text = "# the blocklist\n"
			   "\n"
			   "192.0.2.7\n"
			   "  10.0.0.0/8   # private\n"
			   "\t2001:db8::/32\r\n"
			   "   \n"
			   "#203.0.113.0/24\n"
			   "198.51.100.0/24"; /* no final newline */

	assert_int_equal(cidr_parse_list(text, &list, &n, 100, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_addr(&list[0], AF_INET, "192.0.2.7", 32);
	assert_addr(&list[1], AF_INET, "10.0.0.0", 8);
	assert_addr(&list[2], AF_INET6, "2001:db8::", 32);
	assert_addr(&list[3], AF_INET, "198.51.100.0", 24);
	assert_string_equal(err, "");
	free(list);
}

static void test_list_appends(void **state)
{
	(void)state;
	struct cidr *list = calloc(2, sizeof(*list));
	size_t n = 2;
	char err[128];
	assert_non_null(list);
	list[0] = parsed("127.0.0.2");
	list[1] = parsed("::1");

	/* More than the first allocation holds: the list grows. */
	char text[64 * 16] = "";
	for (int i = 0; i < 40; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "10.0.%d.0/24\n", i);
	assert_int_equal(cidr_parse_list(text, &list, &n, 100, err, sizeof(err)), 0);
	assert_int_equal(n, 42);
	assert_addr(&list[0], AF_INET, "127.0.0.2", 32);
	assert_addr(&list[1], AF_INET6, "::1", 128);
	assert_addr(&list[2], AF_INET, "10.0.0.0", 24);
	assert_addr(&list[41], AF_INET, "10.0.39.0", 24);
	free(list);
}

static void test_list_nothing_leaves_list_alone(void **state)
{
	(void)state;
	struct cidr *list = NULL;
	size_t n = 0;
	char err[128];
	assert_int_equal(cidr_parse_list("", &list, &n, 10, err, sizeof(err)), 0);
	assert_int_equal(cidr_parse_list("# only\n\n  # comments\n", &list, &n, 10, err, sizeof(err)),
			 0);
	assert_null(list);
	assert_int_equal(n, 0);
}

/* On an error, the list and its count are what they were. */
static void assert_list_error(const char *text, size_t max, const char *want_err)
{
	struct cidr *list = calloc(1, sizeof(*list));
	size_t n = 1;
	char err[128] = "";
	assert_non_null(list);
	list[0] = parsed("127.0.0.2");
	struct cidr *before = list;

	assert_int_equal(cidr_parse_list(text, &list, &n, max, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, want_err);
	assert_ptr_equal(list, before);
	assert_int_equal(n, 1);
	assert_addr(&list[0], AF_INET, "127.0.0.2", 32);
	free(list);
}

static void test_list_bad_line_names_it(void **state)
{
	(void)state;
	assert_list_error("192.0.2.7\n# fine\n10.0.0.1/8\n", 100,
			  "line 3: '10.0.0.1/8' is not an IP address or CIDR range");
	assert_list_error("example.org # a name\n", 100,
			  "line 1: 'example.org' is not an IP address or CIDR range");
	/* Two ranges on one line are one bad entry. */
	assert_list_error("192.0.2.7 192.0.2.8\n", 100,
			  "line 1: '192.0.2.7 192.0.2.8' is not an IP address or CIDR range");
}

static void test_list_limit(void **state)
{
	(void)state;
	/* One entry is there already: max 3 allows two more. */
	assert_list_error("10.0.0.0/8\n10.1.0.0/16\n# fine\n10.2.0.0/16\n", 3,
			  "line 4: more than 3 entries");
	struct cidr *list = NULL;
	size_t n = 0;
	char err[128];
	assert_int_equal(cidr_parse_list("10.0.0.0/8\n10.1.0.0/16\n", &list, &n, 2, err, sizeof(err)),
			 0);
	assert_int_equal(n, 2);
	free(list);
}

/* A line longer than the parser's line buffer is an error naming the limit;
 * the limit is the parser's, so only the message's form is checked. */
static void test_list_long_line(void **state)
{
	(void)state;
	char text[5000], err[128] = "";
	struct cidr *list = NULL;
	size_t n = 0;

	memset(text, ' ', 4000);
	strcpy(text + 4000, "10.0.0.0/8\n");
	assert_int_equal(cidr_parse_list(text, &list, &n, 100, err, sizeof(err)), -EINVAL);
	assert_int_equal(strncmp(err, "line 1: longer than ", 20), 0);
	assert_null(list);
	assert_int_equal(n, 0);
	/* 250 characters are fine: spaces and then a range. */
	memset(text, ' ', 240);
	strcpy(text + 240, "10.0.0.0/8\n");
	assert_int_equal(cidr_parse_list(text, &list, &n, 100, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	free(list);
}

static void test_list_error_fits_small_buffer(void **state)
{
	(void)state;
	struct cidr *list = NULL;
	size_t n = 0;
	char err[8];
	memset(err, 'x', sizeof(err));
	assert_int_equal(cidr_parse_list("nonsense\n", &list, &n, 10, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1:");
	assert_null(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ipv4),
		cmocka_unit_test(test_parse_ipv6),
		cmocka_unit_test(test_parse_refuses_host_bits),
		cmocka_unit_test(test_parse_refuses_garbage),
		cmocka_unit_test(test_parse_length_limit),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_format_truncates_to_buffer),
		cmocka_unit_test(test_contains_ipv4),
		cmocka_unit_test(test_contains_ipv6),
		cmocka_unit_test(test_contains_never_across_families),
		cmocka_unit_test(test_list_comments_blanks_and_spaces),
		cmocka_unit_test(test_list_appends),
		cmocka_unit_test(test_list_nothing_leaves_list_alone),
		cmocka_unit_test(test_list_bad_line_names_it),
		cmocka_unit_test(test_list_limit),
		cmocka_unit_test(test_list_long_line),
		cmocka_unit_test(test_list_error_fits_small_buffer),
	};
	return cmocka_run_group_tests_name("cidr", tests, NULL, NULL);
}
