/*
 * ctl/config/config.c - see config.h for the contract.
 *
 * Loading walks the top-level mapping; for each section it applies the
 * section's defaults, then parses every key through the generic type
 * parsers below, then runs the section's validate callback. The line of
 * every key seen is kept so that validation errors can name it.
 */
#include "ctl/config/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <libfyaml.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_KEYS 64

struct sl_config {
	char *path;
	size_t nsections;
	void **data;        /* parallel to sl_config_sections */
};

struct sl_config_ctx {
	const char *path;
	char *err;
	size_t errlen;
	const struct sl_config_section *section;
	int section_line;
	int key_line[MAX_KEYS];   /* 0 when the key was not given */
};

static size_t section_count(void)
{
	size_t n = 0;

	while (sl_config_sections[n])
		n++;
	return n;
}

static int node_line(struct fy_node *node)
{
	struct fy_token *tok = node ? fy_node_get_scalar_token(node) : NULL;
	const struct fy_mark *mark = tok ? fy_token_start_mark(tok) : NULL;

	return mark ? mark->line + 1 : 0;
}

/* Write "FILE:LINE: SECTION.KEY: message" into ctx->err. */
static int ctx_verror(struct sl_config_ctx *ctx, int line, const char *key,
		      const char *fmt, va_list ap)
{
	int n;

	if (!ctx->err || ctx->errlen == 0)
		return -EINVAL;
	if (ctx->section && key)
		n = snprintf(ctx->err, ctx->errlen, "%s:%d: %s.%s: ", ctx->path, line,
			     ctx->section->name, key);
	else if (key)
		n = snprintf(ctx->err, ctx->errlen, "%s:%d: %s: ", ctx->path, line, key);
	else
		n = snprintf(ctx->err, ctx->errlen, "%s:%d: ", ctx->path, line);
	if (n < 0 || (size_t)n >= ctx->errlen)
		return -EINVAL;
	vsnprintf(ctx->err + n, ctx->errlen - (size_t)n, fmt, ap);
	return -EINVAL;
}

static int ctx_error(struct sl_config_ctx *ctx, int line, const char *key,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int ctx_error(struct sl_config_ctx *ctx, int line, const char *key,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctx_verror(ctx, line, key, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int sl_config_fail(struct sl_config_ctx *ctx, const char *key, const char *fmt, ...)
{
	int line = ctx->section_line;
	va_list ap;

	for (size_t i = 0; ctx->section && ctx->section->keys[i].name && i < MAX_KEYS; i++) {
		if (strcmp(ctx->section->keys[i].name, key) == 0 && ctx->key_line[i])
			line = ctx->key_line[i];
	}
	va_start(ap, fmt);
	ctx_verror(ctx, line, key, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Scalar parsers. */

static int parse_uint(const char *s, uint64_t *out, const char **rest)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	*rest = end;
	return 0;
}

static int parse_scaled(const char *s, uint64_t *out, const char *const *units,
			const uint64_t *scale)
{
	const char *rest;
	uint64_t v;

	if (parse_uint(s, &v, &rest) < 0)
		return -EINVAL;
	for (size_t i = 0; units[i]; i++) {
		if (strcmp(rest, units[i]) == 0) {
			if (scale[i] && v > UINT64_MAX / scale[i])
				return -ERANGE;
			*out = v * scale[i];
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_size(const char *s, uint64_t *out)
{
	static const char *const units[] = { "", "k", "K", "M", "G", NULL };
	static const uint64_t scale[] = { 1, 1024, 1024, 1024 * 1024, 1024ull * 1024 * 1024 };

	return parse_scaled(s, out, units, scale);
}

static int parse_duration(const char *s, uint64_t *out)
{
	static const char *const units[] = { "ms", "s", "m", "h", NULL };
	static const uint64_t scale[] = { 1, 1000, 60000, 3600000 };

	return parse_scaled(s, out, units, scale);
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static int parse_network(const char *s, struct sl_config_network *net)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	uint64_t prefix;
	const char *rest;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, buf, net->addr) == 1) {
		net->family = AF_INET;
		net->prefix = 32;
	} else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
		net->family = AF_INET6;
		net->prefix = 128;
	} else {
		return -EINVAL;
	}
	if (slash) {
		if (parse_uint(slash + 1, &prefix, &rest) < 0 || *rest || prefix > net->prefix)
			return -EINVAL;
		net->prefix = (unsigned)prefix;
	}
	return 0;
}

int sl_config_parse_endpoint(const char *text, struct sl_config_endpoint *ep)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *port_text, *rest;
	uint64_t port;
	size_t hostlen;

	memset(ep, 0, sizeof(*ep));
	if (text[0] == '[') {
		colon = strstr(text, "]:");
		if (!colon)
			return -EINVAL;
		hostlen = (size_t)(colon - text - 1);
		port_text = colon + 2;
		if (hostlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, text + 1, hostlen);
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return -EINVAL;
		hostlen = (size_t)(colon - text);
		port_text = colon + 1;
		if (hostlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, text, hostlen);
	}
	host[hostlen] = '\0';
	if (parse_uint(port_text, &port, &rest) < 0 || *rest || port == 0 || port > 65535)
		return -EINVAL;

	struct sockaddr_in *sin = (struct sockaddr_in *)&ep->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ep->addr;

	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		ep->len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		ep->len = sizeof(*sin6);
	} else {
		return -EINVAL;
	}
	snprintf(ep->text, sizeof(ep->text), "%s", text);
	return 0;
}

bool sl_config_network_contains(const struct sl_config_networks *nets,
				const struct sockaddr *addr)
{
	const uint8_t *bytes;
	uint8_t mapped[4];
	int family = addr->sa_family;

	if (family == AF_INET) {
		bytes = (const uint8_t *)&((const struct sockaddr_in *)addr)->sin_addr;
	} else if (family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)addr)->sin6_addr;

		bytes = a6->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			memcpy(mapped, a6->s6_addr + 12, 4);
			bytes = mapped;
			family = AF_INET;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < nets->n; i++) {
		const struct sl_config_network *net = &nets->v[i];
		unsigned full = net->prefix / 8, bits = net->prefix % 8;

		if (net->family != family)
			continue;
		if (memcmp(net->addr, bytes, full) != 0)
			continue;
		if (bits && ((net->addr[full] ^ bytes[full]) & (uint8_t)(0xff << (8 - bits))))
			continue;
		return true;
	}
	return false;
}

static int parse_cpu_item(const char *s, int *lo, int *hi)
{
	uint64_t a, b;
	const char *rest;

	if (parse_uint(s, &a, &rest) < 0 || a > 4095)
		return -EINVAL;
	b = a;
	if (*rest == '-') {
		if (parse_uint(rest + 1, &b, &rest) < 0 || b < a || b > 4095)
			return -EINVAL;
	}
	if (*rest)
		return -EINVAL;
	*lo = (int)a;
	*hi = (int)b;
	return 0;
}

/* Generic list handling: every list is { T *v; size_t n; }. */

struct any_list {
	void *v;
	size_t n;
};

static int list_push(struct any_list *list, size_t elem, const void *item)
{
	void *v = realloc(list->v, (list->n + 1) * elem);

	if (!v)
		return -ENOMEM;
	memcpy((char *)v + list->n * elem, item, elem);
	list->v = v;
	list->n++;
	return 0;
}

static int parse_list_item(struct sl_config_ctx *ctx, const struct sl_config_key *key,
			   void *field, struct fy_node *item)
{
	const char *s = fy_node_get_scalar0(item);
	int line = node_line(item);

	if (!s)
		return ctx_error(ctx, line, key->name, "list items must be scalars");
	switch (key->type) {
	case SL_CONFIG_STRING_LIST: {
		char *copy = strdup(s);

		if (!copy || list_push(field, sizeof(char *), &copy) < 0) {
			free(copy);
			return ctx_error(ctx, line, key->name, "out of memory");
		}
		return 0;
	}
	case SL_CONFIG_CPU_LIST: {
		int lo, hi;

		if (parse_cpu_item(s, &lo, &hi) < 0)
			return ctx_error(ctx, line, key->name,
					 "invalid CPU '%s': expected a number or a range like 2-5", s);
		for (int cpu = lo; cpu <= hi; cpu++)
			if (list_push(field, sizeof(int), &cpu) < 0)
				return ctx_error(ctx, line, key->name, "out of memory");
		return 0;
	}
	case SL_CONFIG_NETWORK_LIST: {
		struct sl_config_network net;

		if (parse_network(s, &net) < 0)
			return ctx_error(ctx, line, key->name,
					 "invalid network '%s': expected ADDRESS or ADDRESS/PREFIX", s);
		if (list_push(field, sizeof(net), &net) < 0)
			return ctx_error(ctx, line, key->name, "out of memory");
		return 0;
	}
	case SL_CONFIG_ENDPOINT_LIST: {
		struct sl_config_endpoint ep;

		if (sl_config_parse_endpoint(s, &ep) < 0)
			return ctx_error(ctx, line, key->name,
					 "invalid address '%s': expected IPV4:PORT or [IPV6]:PORT", s);
		if (list_push(field, sizeof(ep), &ep) < 0)
			return ctx_error(ctx, line, key->name, "out of memory");
		return 0;
	}
	default:
		abort();
	}
}

static bool is_list_type(enum sl_config_type type)
{
	return type == SL_CONFIG_STRING_LIST || type == SL_CONFIG_CPU_LIST ||
	       type == SL_CONFIG_NETWORK_LIST || type == SL_CONFIG_ENDPOINT_LIST;
}

static void free_field(const struct sl_config_key *key, void *field)
{
	if (key->type == SL_CONFIG_STRING) {
		free(*(char **)field);
		*(char **)field = NULL;
	} else if (key->type == SL_CONFIG_STRING_LIST) {
		struct sl_config_strings *list = field;

		for (size_t i = 0; i < list->n; i++)
			free(list->v[i]);
		free(list->v);
		list->v = NULL;
		list->n = 0;
	} else if (is_list_type(key->type)) {
		struct any_list *list = field;

		free(list->v);
		list->v = NULL;
		list->n = 0;
	}
}

static int parse_list(struct sl_config_ctx *ctx, const struct sl_config_key *key,
		      void *field, struct fy_node *value, int line)
{
	void *iter = NULL;
	struct fy_node *item;

	/* A given list replaces the default instead of extending it. */
	free_field(key, field);
	if (fy_node_is_scalar(value))
		return parse_list_item(ctx, key, field, value);
	if (!fy_node_is_sequence(value))
		return ctx_error(ctx, line, key->name, "expected a list");
	while ((item = fy_node_sequence_iterate(value, &iter)) != NULL) {
		int rc = parse_list_item(ctx, key, field, item);

		if (rc < 0)
			return rc;
	}
	return 0;
}

static int parse_number(struct sl_config_ctx *ctx, const struct sl_config_key *key,
			uint64_t *field, const char *s, int line)
{
	const char *rest;
	uint64_t v;
	int rc;

	switch (key->type) {
	case SL_CONFIG_SIZE:
		rc = parse_size(s, &v);
		break;
	case SL_CONFIG_DURATION:
		rc = parse_duration(s, &v);
		break;
	default:
		rc = parse_uint(s, &v, &rest);
		if (rc == 0 && *rest)
			rc = -EINVAL;
		break;
	}
	if (rc < 0) {
		static const char *const expect[] = {
			[SL_CONFIG_UINT] = "a non-negative integer",
			[SL_CONFIG_SIZE] = "a size such as 1024, 64k, 10M or 1G",
			[SL_CONFIG_DURATION] = "a duration such as 500ms, 30s, 5m or 1h",
		};
		return ctx_error(ctx, line, key->name, "invalid value '%s': expected %s", s,
				 expect[key->type]);
	}
	if (v < key->min || (key->max && v > key->max))
		return ctx_error(ctx, line, key->name,
				 "value %s is out of range (%" PRIu64 " to %" PRIu64 "%s)", s,
				 key->min, key->max, key->type == SL_CONFIG_DURATION ? " ms" : "");
	*field = v;
	return 0;
}

static int parse_key(struct sl_config_ctx *ctx, const struct sl_config_key *key,
		     void *data, struct fy_node *value, int line)
{
	void *field = (char *)data + key->offset;
	const char *s;

	if (is_list_type(key->type))
		return parse_list(ctx, key, field, value, line);
	s = fy_node_get_scalar0(value);
	if (!s || fy_node_is_null(value))
		return ctx_error(ctx, line, key->name, "expected a single value");

	switch (key->type) {
	case SL_CONFIG_UINT:
	case SL_CONFIG_SIZE:
	case SL_CONFIG_DURATION:
		return parse_number(ctx, key, field, s, line);
	case SL_CONFIG_BOOL:
		if (parse_bool(s, field) < 0)
			return ctx_error(ctx, line, key->name,
					 "invalid value '%s': expected true or false", s);
		return 0;
	case SL_CONFIG_STRING: {
		char *copy = strdup(s);

		if (!copy)
			return ctx_error(ctx, line, key->name, "out of memory");
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	default:
		abort();
	}
}

static int find_key(const struct sl_config_section *section, const char *name)
{
	for (int i = 0; section->keys[i].name; i++)
		if (strcmp(section->keys[i].name, name) == 0)
			return i;
	return -1;
}

static int parse_section(struct sl_config_ctx *ctx, void *data, struct fy_node *map)
{
	const struct sl_config_section *section = ctx->section;
	struct fy_node_pair *pair;
	void *iter = NULL;

	if (fy_node_is_null(map))
		return 0;
	if (!fy_node_is_mapping(map))
		return ctx_error(ctx, ctx->section_line, section->name, "expected a mapping");
	while ((pair = fy_node_mapping_iterate(map, &iter)) != NULL) {
		struct fy_node *k = fy_node_pair_key(pair);
		const char *name = fy_node_get_scalar0(k);
		int line = node_line(k), idx, rc;

		idx = name ? find_key(section, name) : -1;
		if (idx < 0)
			return ctx_error(ctx, line, NULL, "unknown key '%s.%s'", section->name,
					 name ? name : "?");
		if (idx < MAX_KEYS)
			ctx->key_line[idx] = line;
		rc = parse_key(ctx, &section->keys[idx], data, fy_node_pair_value(pair), line);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static struct sl_config *config_alloc(void)
{
	struct sl_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	cfg->nsections = section_count();
	cfg->data = calloc(cfg->nsections, sizeof(void *));
	if (!cfg->data) {
		free(cfg);
		return NULL;
	}
	for (size_t i = 0; i < cfg->nsections; i++) {
		const struct sl_config_section *section = sl_config_sections[i];

		cfg->data[i] = calloc(1, section->size);
		if (!cfg->data[i]) {
			sl_config_free(cfg);
			return NULL;
		}
		if (section->set_defaults)
			section->set_defaults(cfg->data[i]);
	}
	return cfg;
}

struct sl_config *sl_config_defaults(void)
{
	return config_alloc();
}

static int find_section(const char *name)
{
	for (int i = 0; sl_config_sections[i]; i++)
		if (strcmp(sl_config_sections[i]->name, name) == 0)
			return i;
	return -1;
}

static int load_document(struct sl_config_ctx *ctx, struct sl_config *cfg,
			 struct fy_node *root, bool *seen)
{
	struct fy_node_pair *pair;
	void *iter = NULL;

	if (!root || fy_node_is_null(root))
		return 0;
	if (!fy_node_is_mapping(root))
		return ctx_error(ctx, 1, NULL, "expected a mapping of sections at the top level");
	while ((pair = fy_node_mapping_iterate(root, &iter)) != NULL) {
		struct fy_node *k = fy_node_pair_key(pair);
		const char *name = fy_node_get_scalar0(k);
		int idx = name ? find_section(name) : -1, rc;

		if (idx < 0)
			return ctx_error(ctx, node_line(k), NULL, "unknown section '%s'",
					 name ? name : "?");
		ctx->section = sl_config_sections[idx];
		ctx->section_line = node_line(k);
		memset(ctx->key_line, 0, sizeof(ctx->key_line));
		rc = parse_section(ctx, cfg->data[idx], fy_node_pair_value(pair));
		if (rc < 0)
			return rc;
		if (ctx->section->validate) {
			rc = ctx->section->validate(ctx, cfg->data[idx]);
			if (rc < 0)
				return rc;
		}
		seen[idx] = true;
		ctx->section = NULL;
	}
	return 0;
}

/* Validate the sections that the file left out, so their defaults are checked too. */
static int validate_unseen(struct sl_config_ctx *ctx, struct sl_config *cfg, const bool *seen)
{
	for (size_t i = 0; i < cfg->nsections; i++) {
		if (seen[i] || !sl_config_sections[i]->validate)
			continue;
		ctx->section = sl_config_sections[i];
		ctx->section_line = 0;
		memset(ctx->key_line, 0, sizeof(ctx->key_line));
		if (ctx->section->validate(ctx, cfg->data[i]) < 0)
			return -EINVAL;
	}
	ctx->section = NULL;
	return 0;
}

int sl_config_load(const char *path, struct sl_config **out, char *err, size_t errlen)
{
	struct fy_parse_cfg pcfg = { .flags = FYPCF_DEFAULT_PARSE };
	struct sl_config_ctx ctx = { .path = path, .err = err, .errlen = errlen };
	struct fy_document *doc;
	struct sl_config *cfg;
	bool *seen;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	cfg = config_alloc();
	seen = calloc(section_count() + 1, sizeof(bool));
	if (!cfg || !seen) {
		sl_config_free(cfg);
		free(seen);
		return ctx_error(&ctx, 0, NULL, "out of memory");
	}
	cfg->path = strdup(path);

	if (access(path, R_OK) < 0) {
		rc = ctx_error(&ctx, 0, NULL, "cannot open: %s", strerror(errno));
		goto fail;
	}
	doc = fy_document_build_from_file(&pcfg, path);
	if (!doc) {
		rc = ctx_error(&ctx, 0, NULL, "invalid YAML (the parser printed the line above)");
		goto fail;
	}
	rc = load_document(&ctx, cfg, fy_document_root(doc), seen);
	if (rc == 0)
		rc = validate_unseen(&ctx, cfg, seen);
	fy_document_destroy(doc);
	if (rc < 0)
		goto fail;
	free(seen);
	*out = cfg;
	return 0;

fail:
	free(seen);
	sl_config_free(cfg);
	return rc;
}

void sl_config_free(struct sl_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; cfg->data && i < cfg->nsections; i++) {
		const struct sl_config_section *section = sl_config_sections[i];

		if (!cfg->data[i])
			continue;
		for (size_t k = 0; section->keys[k].name; k++)
			free_field(&section->keys[k], (char *)cfg->data[i] + section->keys[k].offset);
		free(cfg->data[i]);
	}
	free(cfg->data);
	free(cfg->path);
	free(cfg);
}

const void *sl_config_get(const struct sl_config *cfg, const struct sl_config_section *section)
{
	for (size_t i = 0; i < cfg->nsections; i++)
		if (sl_config_sections[i] == section)
			return cfg->data[i];
	abort();	/* a section missing from the table is a programming error */
}

const char *sl_config_path(const struct sl_config *cfg)
{
	return cfg->path ? cfg->path : "(defaults)";
}
