/*
 * dataplane/route.c - static delivery routes. Contract in route.h.
 */
#include "dataplane/route.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int sl_route_parse_host(const char *text, struct sl_route_host *h)
{
	const char *colon, *name = text;
	size_t name_len;
	char *end;
	unsigned long port;

	memset(h, 0, sizeof(*h));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		name = text + 1;
		name_len = (size_t)(close - name);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return -EINVAL;
		name_len = (size_t)(colon - text);
	}
	if (name_len == 0 || name_len >= sizeof(h->name))
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port == 0 || port > 65535)
		return -EINVAL;
	memcpy(h->name, name, name_len);
	h->name[name_len] = '\0';
	h->port = (uint16_t)port;

	struct sockaddr_in *sin = (struct sockaddr_in *)&h->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&h->addr;

	if (inet_pton(AF_INET, h->name, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(h->port);
		h->addr_len = sizeof(*sin);
		h->is_address = 1;
	} else if (inet_pton(AF_INET6, h->name, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(h->port);
		h->addr_len = sizeof(*sin6);
		h->is_address = 1;
	}
	return 0;
}

static int valid_pattern(const char *p)
{
	if (strcmp(p, "*") == 0)
		return 1;
	if (p[0] == '*') {
		if (p[1] != '.' || !p[2])
			return 0;
		p += 2;
	}
	for (; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return 0;
	return 1;
}

int sl_route_add(struct sl_route_table *t, const char *line, char *err, size_t errlen)
{
	char buf[4096], *save = NULL, *tok;
	struct sl_route r;

	memset(&r, 0, sizeof(r));
	snprintf(buf, sizeof(buf), "%s", line);
	tok = strtok_r(buf, " \t,", &save);
	if (!tok || !valid_pattern(tok) || strlen(tok) >= sizeof(r.pattern)) {
		snprintf(err, errlen, "invalid route '%s': expected DOMAIN, *.DOMAIN or * "
			 "followed by HOST:PORT entries", line);
		return -EINVAL;
	}
	for (size_t i = 0; tok[i]; i++)
		r.pattern[i] = (char)tolower((unsigned char)tok[i]);
	while ((tok = strtok_r(NULL, " \t,", &save))) {
		if (r.host_count == SL_ROUTE_MAX_HOSTS) {
			snprintf(err, errlen, "route '%s' lists more than %d hosts",
				 r.pattern, SL_ROUTE_MAX_HOSTS);
			return -EINVAL;
		}
		if (sl_route_parse_host(tok, &r.host[r.host_count]) < 0) {
			snprintf(err, errlen, "route '%s': invalid host '%s', expected "
				 "ADDRESS:PORT, [IPV6]:PORT or NAME:PORT", r.pattern, tok);
			return -EINVAL;
		}
		r.host_count++;
	}
	if (r.host_count == 0) {
		snprintf(err, errlen, "route '%s' lists no host", r.pattern);
		return -EINVAL;
	}

	struct sl_route *v = realloc(t->v, (t->n + 1) * sizeof(*v));

	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->v = v;
	t->v[t->n++] = r;
	return 0;
}

const struct sl_route *sl_route_find(const struct sl_route_table *t, const char *domain)
{
	const struct sl_route *best = NULL, *any = NULL;
	size_t best_len = 0, dlen = strlen(domain);

	for (size_t i = 0; i < t->n; i++) {
		const char *p = t->v[i].pattern;
		size_t plen = strlen(p);

		if (strcmp(p, "*") == 0) {
			any = &t->v[i];
		} else if (p[0] == '*') {
			/* "*.example.com" matches "a.example.com", not "example.com". */
			if (dlen > plen - 1 && strcasecmp(domain + dlen - (plen - 1), p + 1) == 0 &&
			    plen > best_len) {
				best = &t->v[i];
				best_len = plen;
			}
		} else if (strcasecmp(p, domain) == 0) {
			return &t->v[i];
		}
	}
	return best ? best : any;
}

int sl_route_pattern_valid(const char *pattern)
{
	return valid_pattern(pattern) && strlen(pattern) < sizeof(((struct sl_route *)0)->pattern);
}

int sl_route_pattern_match(const char *pattern, const char *domain)
{
	size_t plen = strlen(pattern), dlen = strlen(domain);

	if (strcmp(pattern, "*") == 0)
		return 1;
	if (pattern[0] == '*')
		return dlen > plen - 1 && strcasecmp(domain + dlen - (plen - 1), pattern + 1) == 0;
	return strcasecmp(pattern, domain) == 0;
}

void sl_route_table_free(struct sl_route_table *t)
{
	free(t->v);
	t->v = NULL;
	t->n = 0;
}
