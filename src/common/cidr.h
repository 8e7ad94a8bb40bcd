/* cidr.h - IPv4/IPv6 addresses and CIDR ranges, as the policy's network
 * blocklist writes them ("192.0.2.7", "10.0.0.0/8", "2001:db8::/32").
 *
 * A bare address is a full-length prefix.  Host bits below the prefix must be
 * zero ("10.0.0.1/8" is refused): a typo there would silently block more, or
 * less, than the administrator meant. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CIDR_STR_MAX 64 /* INET6_ADDRSTRLEN + "/128" */

struct cidr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t prefix; /* 0..32 or 0..128 */
	uint8_t addr[16]; /* network byte order; IPv4 in the first 4 bytes */
};

/* Parses s; -EINVAL when it is not an address or range. */
int cidr_parse(const char *s, struct cidr *ret);
/* "addr/prefix" (or just "addr" at full length) into buf. */
void cidr_format(const struct cidr *c, char *buf, size_t len);
/* Whether addr (family, network byte order) lies in c. */
int cidr_contains(const struct cidr *c, int family, const void *addr);

/* Parses a list file: one address or range per line, '#' starts a comment,
 * blank lines are skipped.  Appends to *list (realloc'd, caller frees) up to
 * max entries in all; on a bad line returns -EINVAL with "line N: reason" in
 * err and leaves *list and *n as they were. */
int cidr_parse_list(const char *text, struct cidr **list, size_t *n, size_t max, char *err,
		    size_t errlen);
