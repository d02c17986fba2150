/*
 * dataplane/route.h - static delivery routes (smart hosts, tests).
 *
 * A route maps a recipient domain pattern to a list of relay hosts that
 * replace the MX lookup. Patterns: "example.com" (that domain only),
 * "*.example.com" (any subdomain, not the domain itself) and "*" (every
 * domain). The most specific pattern wins: exact, then the longest
 * wildcard suffix, then "*". Hosts are "ADDRESS:PORT", "[IPV6]:PORT" or
 * "NAME:PORT"; a NAME is resolved to addresses by the resolver.
 *
 * Ownership: the table owns its routes; sl_route_find() returns a pointer
 * into the table, valid until sl_route_table_free().
 */
#ifndef SLUICE_DATAPLANE_ROUTE_H
#define SLUICE_DATAPLANE_ROUTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SL_ROUTE_MAX_HOSTS 16

struct sl_route_host {
	char name[256];                 /* as written, without the port */
	uint16_t port;
	int is_address;                 /* name is an IP literal, addr is set */
	struct sockaddr_storage addr;
	socklen_t addr_len;
};

struct sl_route {
	char pattern[256];
	size_t host_count;
	struct sl_route_host host[SL_ROUTE_MAX_HOSTS];
};

struct sl_route_table {
	struct sl_route *v;
	size_t n;
};

/* Parse "PATTERN HOST:PORT [HOST:PORT...]" (hosts may also be separated
 * by commas) and add it. Returns 0, or -EINVAL with err filled. */
int sl_route_add(struct sl_route_table *t, const char *line, char *err, size_t errlen);
const struct sl_route *sl_route_find(const struct sl_route_table *t, const char *domain);
/* Pattern syntax and matching as for routes, without hosts: for domain
 * lists such as delivery.tls_required. */
int sl_route_pattern_valid(const char *pattern);
int sl_route_pattern_match(const char *pattern, const char *domain);
void sl_route_table_free(struct sl_route_table *t);

/* Parse "ADDRESS:PORT", "[IPV6]:PORT" or "NAME:PORT". Returns 0 or -EINVAL. */
int sl_route_parse_host(const char *text, struct sl_route_host *h);

#endif
