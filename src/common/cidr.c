#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cidr_parse(const char *s, struct cidr *ret)
{
	char buf[CIDR_STR_MAX];
	struct cidr c = { 0 };
	const char *slash;
	unsigned long prefix;
	size_t n;

	if (!s || (n = strlen(s)) == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n + 1);
	slash = strchr(buf, '/');
	if (slash)
		buf[slash - buf] = '\0';
	if (inet_pton(AF_INET, buf, c.addr) == 1) {
		c.family = AF_INET;
		c.prefix = 32;
	} else if (inet_pton(AF_INET6, buf, c.addr) == 1) {
		c.family = AF_INET6;
		c.prefix = 128;
	} else {
		return -EINVAL;
	}
	if (slash) {
		const char *digits = slash + 1;
		char *end;
		if (*digits < '0' || *digits > '9' || strlen(digits) > 3)
			return -EINVAL;
		prefix = strtoul(digits, &end, 10);
		if (*end || prefix > c.prefix)
			return -EINVAL;
		c.prefix = (uint8_t)prefix;
	}
	/* Host bits must be zero. */
	size_t len = c.family == AF_INET ? 4 : 16;
	for (size_t bit = c.prefix; bit < len * 8; bit++)
		if (c.addr[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;
	*ret = c;
	return 0;
}

void cidr_format(const struct cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned full = c->family == AF_INET ? 32 : 128;
	inet_ntop(c->family, c->addr, a, sizeof(a));
	if (c->prefix == full)
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, c->prefix);
}

int cidr_contains(const struct cidr *c, int family, const void *addr)
{
	const uint8_t *a = addr;
	if (family != c->family)
		return 0;
	for (unsigned bit = 0; bit < c->prefix; bit++) {
		uint8_t m = 0x80 >> (bit % 8);
		if ((a[bit / 8] & m) != (c->addr[bit / 8] & m))
			return 0;
	}
	return 1;
}

int cidr_parse_list(const char *text, struct cidr **list, size_t *n, size_t max, char *err,
		    size_t errlen)
{
	struct cidr *out = NULL;
	size_t count = *n, cap = 0, lineno = 0;
	const char *p = text;

	while (*p) {
		const char *eol = strchrnul(p, '\n');
		char line[1024];
		size_t len = (size_t)(eol - p);
		lineno++;
		if (len >= sizeof(line)) {
			snprintf(err, errlen, "line %zu: longer than %zu characters", lineno,
				 sizeof(line) - 1);
			goto fail;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p = *eol ? eol + 1 : eol;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = line + strspn(line, " \t\r");
		char *e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			*--e = '\0';
		if (!*s)
			continue;
		if (count >= max) {
			snprintf(err, errlen, "line %zu: more than %zu entries", lineno, max);
			goto fail;
		}
		if (!out) {
			cap = *n + 16;
			out = malloc(cap * sizeof(*out));
			if (!out)
				return -ENOMEM;
			if (*n)
				memcpy(out, *list, *n * sizeof(*out));
		} else if (count == cap) {
			struct cidr *grown = realloc(out, 2 * cap * sizeof(*out));
			if (!grown) {
				free(out);
				return -ENOMEM;
			}
			out = grown;
			cap *= 2;
		}
		if (cidr_parse(s, &out[count]) < 0) {
			snprintf(err, errlen, "line %zu: '%s' is not an IP address or CIDR range",
				 lineno, s);
			goto fail;
		}
		count++;
	}
	if (out) {
		free(*list);
		*list = out;
		*n = count;
	}
	return 0;
fail:
	free(out);
	return -EINVAL;
}
