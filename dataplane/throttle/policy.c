/*
 * dataplane/throttle/policy.c - parse throttle rules from JSON and
 * resolve the policy for one destination. See policy.h for the contract.
 */
#include "dataplane/throttle/policy.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const kind_names[] = {
	[SL_MATCH_DEFAULT] = "default",
	[SL_MATCH_PROVIDER] = "provider",
	[SL_MATCH_MX] = "mx",
	[SL_MATCH_DOMAIN] = "domain",
};

static const char *const rule_fields[] = {
	"name", "default", "provider", "mx", "domain", "domains", "source",
	"connections", "messages_per_connection", "recipients_per_transaction",
	"rate", "burst", "retry", "max_age", "backoff", "fleet", NULL,
};

static const char *const backoff_fields[] = {
	"name", "code", "enhanced", "pattern", "action", "duration", "rate",
	"end_on_success", NULL,
};

#define ALLOWED_RULE_FIELDS                                                   \
	"name, default, provider, mx, domain, domains, source, connections, " \
	"messages_per_connection, recipients_per_transaction, rate, burst, "  \
	"retry, max_age, backoff, fleet"
#define ALLOWED_BACKOFF_FIELDS \
	"name, code, enhanced, pattern, action, duration, rate, end_on_success"

const char *sl_match_kind_name(enum sl_match_kind kind)
{
	return kind_names[kind];
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int sl_parse_duration(const char *text, uint32_t *seconds)
{
	char *end;
	unsigned long long v;
	unsigned long long unit = 1;

	if (!text || !isdigit((unsigned char)*text))
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case '\0':
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -EINVAL;
	}
	if (*end && end[1] != '\0')
		return -EINVAL;
	if (v * unit > UINT32_MAX)
		return -EINVAL;
	*seconds = (uint32_t)(v * unit);
	return 0;
}

int sl_parse_rate(const char *text, struct sl_rate *rate)
{
	char *end;
	unsigned long v;

	if (!text || !isdigit((unsigned char)*text))
		return -EINVAL;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || v == 0 || v > UINT32_MAX || *end != '/' || end[2] != '\0')
		return -EINVAL;
	switch (end[1]) {
	case 's': rate->period_s = 1; break;
	case 'm': rate->period_s = 60; break;
	case 'h': rate->period_s = 3600; break;
	default: return -EINVAL;
	}
	rate->count = (uint32_t)v;
	if (rate->burst == 0)
		rate->burst = 1;
	return 0;
}

static bool field_known(const char *key, const char *const *fields)
{
	for (; *fields; fields++)
		if (strcmp(key, *fields) == 0)
			return true;
	return false;
}

/* Reads an optional positive integer field. */
static int get_count(json_t *obj, const char *key, const char *where,
		     uint32_t *out, bool *present, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	*present = false;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > UINT32_MAX)
		return fail(err, errlen,
			    "%s.%s: invalid value: expected an integer from 1 to %u",
			    where, key, UINT32_MAX);
	*out = (uint32_t)json_integer_value(v);
	*present = true;
	return 0;
}

/* Reads a duration given as integer seconds or "30s", "5m", "1h", "2d". */
static int get_duration(json_t *v, const char *where, const char *key,
			uint32_t *out, char *err, size_t errlen)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= UINT32_MAX) {
		*out = (uint32_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && sl_parse_duration(json_string_value(v), out) == 0)
		return 0;
	return fail(err, errlen,
		    "%s.%s: invalid duration: expected seconds or a number with s, m, h or d (\"15m\")",
		    where, key);
}

static int get_rate(json_t *v, const char *where, const char *key,
		    struct sl_rate *out, char *err, size_t errlen)
{
	if (json_is_string(v) && sl_parse_rate(json_string_value(v), out) == 0)
		return 0;
	return fail(err, errlen,
		    "%s.%s: invalid rate: expected COUNT/s, COUNT/m or COUNT/h (\"10/s\")",
		    where, key);
}

static int copy_string(json_t *v, const char *where, const char *key,
		       char *out, size_t len, char *err, size_t errlen)
{
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= len)
		return fail(err, errlen,
			    "%s.%s: invalid value: expected a string of 1 to %zu characters",
			    where, key, len - 1);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* Reads a string or a list of strings into a lower-case string array. */
static int get_names(json_t *v, const char *where, const char *key,
		     char ***out, size_t *count, char *err, size_t errlen)
{
	size_t i, n = json_is_array(v) ? json_array_size(v) : 1;
	char **names;

	if (!json_is_array(v) && !json_is_string(v))
		return fail(err, errlen,
			    "%s.%s: invalid value: expected a host name or a list of host names",
			    where, key);
	if (n == 0)
		return fail(err, errlen, "%s.%s: empty list: expected at least one name",
			    where, key);
	names = calloc(n, sizeof(*names));
	if (!names)
		return -ENOMEM;
	*out = names;
	*count = 0;
	for (i = 0; i < n; i++) {
		json_t *item = json_is_array(v) ? json_array_get(v, i) : v;
		char *p;

		if (!json_is_string(item) || json_string_length(item) == 0 ||
		    json_string_length(item) >= SL_POLICY_HOST_MAX)
			return fail(err, errlen,
				    "%s.%s[%zu]: invalid value: expected a host name",
				    where, key, i);
		names[i] = strdup(json_string_value(item));
		if (!names[i])
			return -ENOMEM;
		*count = i + 1;
		for (p = names[i]; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	return 0;
}

static int parse_code(json_t *v, const char *where, char out[4], char *err,
		      size_t errlen)
{
	char text[8];
	int i;

	if (json_is_integer(v))
		snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v) && json_string_length(v) < sizeof(text))
		memcpy(text, json_string_value(v), json_string_length(v) + 1);
	else
		text[0] = '\0';
	if (strlen(text) != 3 || (text[0] != '4' && text[0] != '5'))
		goto bad;
	for (i = 1; i < 3; i++)
		if (!isdigit((unsigned char)text[i]) && text[i] != 'x')
			goto bad;
	memcpy(out, text, 4);
	return 0;
bad:
	return fail(err, errlen,
		    "%s.code: invalid value: expected a 4xx or 5xx reply code, digits or x (\"421\", \"4xx\")",
		    where);
}

static int parse_backoff(json_t *obj, const char *where,
			 struct sl_backoff_rule *b, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	int rc;

	if (!json_is_object(obj))
		return fail(err, errlen, "%s: invalid value: expected a mapping", where);
	json_object_foreach(obj, key, v) {
		if (!field_known(key, backoff_fields))
			return fail(err, errlen, "%s.%s: unknown field: allowed fields are %s",
				    where, key, ALLOWED_BACKOFF_FIELDS);
	}
	if ((v = json_object_get(obj, "name")) &&
	    (rc = copy_string(v, where, "name", b->name, sizeof(b->name), err, errlen)))
		return rc;
	if (!(v = json_object_get(obj, "code")))
		return fail(err, errlen, "%s.code: missing: a backoff rule needs a reply code", where);
	if ((rc = parse_code(v, where, b->code, err, errlen)))
		return rc;
	if ((v = json_object_get(obj, "enhanced")) &&
	    (rc = copy_string(v, where, "enhanced", b->enhanced, sizeof(b->enhanced), err, errlen)))
		return rc;
	if ((v = json_object_get(obj, "pattern"))) {
		if (!json_is_string(v))
			return fail(err, errlen, "%s.pattern: invalid value: expected a POSIX extended regular expression", where);
		b->pattern = strdup(json_string_value(v));
		if (!b->pattern)
			return -ENOMEM;
		if (regcomp(&b->re, b->pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0) {
			free(b->pattern);
			b->pattern = NULL;
			return fail(err, errlen, "%s.pattern: invalid regular expression: expected POSIX extended syntax", where);
		}
	}
	b->action = SL_BACKOFF_SUSPEND;
	if ((v = json_object_get(obj, "action"))) {
		const char *a = json_string_value(v);

		if (a && strcmp(a, "suspend") == 0)
			b->action = SL_BACKOFF_SUSPEND;
		else if (a && strcmp(a, "slow") == 0)
			b->action = SL_BACKOFF_SLOW;
		else
			return fail(err, errlen, "%s.action: invalid value: allowed values are suspend, slow", where);
	}
	if (!(v = json_object_get(obj, "duration")))
		return fail(err, errlen, "%s.duration: missing: a backoff rule needs a duration", where);
	if ((rc = get_duration(v, where, "duration", &b->duration_s, err, errlen)))
		return rc;
	if ((v = json_object_get(obj, "rate"))) {
		if ((rc = get_rate(v, where, "rate", &b->slow_rate, err, errlen)))
			return rc;
	} else if (b->action == SL_BACKOFF_SLOW) {
		return fail(err, errlen, "%s.rate: missing: action slow needs a rate (\"1/s\")", where);
	}
	if ((v = json_object_get(obj, "end_on_success"))) {
		if (!json_is_boolean(v))
			return fail(err, errlen, "%s.end_on_success: invalid value: allowed values are true, false", where);
		b->end_on_success = json_is_true(v);
	}
	return 0;
}

static int parse_match(json_t *obj, const char *where,
		       struct sl_policy_rule *r, char *err, size_t errlen)
{
	static const char *const keys[] = { "default", "provider", "mx", "domain" };
	int found = -1, i, rc;
	json_t *v;

	for (i = 0; i < 4; i++) {
		if (!json_object_get(obj, keys[i]))
			continue;
		if (found >= 0)
			return fail(err, errlen,
				    "%s: both %s and %s given: a rule matches at exactly one level (default, provider, mx, domain)",
				    where, keys[found], keys[i]);
		found = i;
	}
	if (found < 0)
		return fail(err, errlen,
			    "%s: missing match: give one of default, provider, mx, domain", where);
	r->kind = (enum sl_match_kind)found;
	v = json_object_get(obj, keys[found]);
	if (r->kind == SL_MATCH_DEFAULT) {
		if (!json_is_true(v))
			return fail(err, errlen, "%s.default: invalid value: allowed value is true", where);
	} else if ((rc = get_names(v, where, keys[found], &r->patterns, &r->npatterns, err, errlen))) {
		return rc;
	}
	if ((r->kind == SL_MATCH_MX || r->kind == SL_MATCH_DOMAIN) && r->npatterns != 1)
		return fail(err, errlen, "%s.%s: invalid value: expected one host name", where, keys[found]);
	if ((v = json_object_get(obj, "domains"))) {
		if (r->kind != SL_MATCH_PROVIDER)
			return fail(err, errlen, "%s.domains: only allowed in a provider rule", where);
		if ((rc = get_names(v, where, "domains", &r->domains, &r->ndomains, err, errlen)))
			return rc;
	}
	return 0;
}

static int parse_limits(json_t *obj, const char *where, struct sl_limits *l,
			char *err, size_t errlen)
{
	bool present;
	json_t *v;
	size_t i;
	int rc;

	if ((rc = get_count(obj, "connections", where, &l->connections, &present, err, errlen)))
		return rc;
	l->set |= present ? SL_LIMIT_CONNECTIONS : 0;
	if ((rc = get_count(obj, "messages_per_connection", where, &l->msgs_per_conn, &present, err, errlen)))
		return rc;
	l->set |= present ? SL_LIMIT_MSGS_PER_CONN : 0;
	if ((rc = get_count(obj, "recipients_per_transaction", where, &l->rcpts_per_txn, &present, err, errlen)))
		return rc;
	l->set |= present ? SL_LIMIT_RCPTS_PER_TXN : 0;
	if ((v = json_object_get(obj, "rate"))) {
		if ((rc = get_rate(v, where, "rate", &l->rate, err, errlen)))
			return rc;
		l->set |= SL_LIMIT_RATE;
	}
	if ((rc = get_count(obj, "burst", where, &l->rate.burst, &present, err, errlen)))
		return rc;
	if (present && !(l->set & SL_LIMIT_RATE))
		return fail(err, errlen, "%s.burst: only allowed together with rate", where);
	if ((v = json_object_get(obj, "retry"))) {
		if (!json_is_array(v) || json_array_size(v) == 0 ||
		    json_array_size(v) > SL_POLICY_RETRY_MAX)
			return fail(err, errlen,
				    "%s.retry: invalid value: expected a list of 1 to %d durations",
				    where, SL_POLICY_RETRY_MAX);
		for (i = 0; i < json_array_size(v); i++) {
			char item[32];

			snprintf(item, sizeof(item), "retry[%zu]", i);
			if ((rc = get_duration(json_array_get(v, i), where, item, &l->retry_s[i], err, errlen)))
				return rc;
		}
		l->nretry = (uint32_t)json_array_size(v);
		l->set |= SL_LIMIT_RETRY;
	}
	if ((v = json_object_get(obj, "max_age"))) {
		if ((rc = get_duration(v, where, "max_age", &l->max_age_s, err, errlen)))
			return rc;
		l->set |= SL_LIMIT_MAX_AGE;
	}
	return 0;
}

static int parse_rule(json_t *obj, size_t index, struct sl_policy_rule *r,
		      char *err, size_t errlen)
{
	char where[48];
	const char *key;
	json_t *v;
	size_t i;
	int rc;

	snprintf(where, sizeof(where), "rules[%zu]", index);
	if (!json_is_object(obj))
		return fail(err, errlen, "%s: invalid value: expected a mapping", where);
	json_object_foreach(obj, key, v) {
		if (!field_known(key, rule_fields))
			return fail(err, errlen, "%s.%s: unknown field: allowed fields are %s",
				    where, key, ALLOWED_RULE_FIELDS);
	}
	if (!(v = json_object_get(obj, "name")))
		return fail(err, errlen, "%s.name: missing: every rule needs a name", where);
	if ((rc = copy_string(v, where, "name", r->name, sizeof(r->name), err, errlen)))
		return rc;
	if ((rc = parse_match(obj, where, r, err, errlen)))
		return rc;
	if ((v = json_object_get(obj, "source")) &&
	    (rc = copy_string(v, where, "source", r->source, sizeof(r->source), err, errlen)))
		return rc;
	if ((rc = parse_limits(obj, where, &r->limits, err, errlen)))
		return rc;
	if ((v = json_object_get(obj, "fleet"))) {
		if (!json_is_boolean(v))
			return fail(err, errlen, "%s.fleet: invalid value: allowed values are true, false", where);
		r->fleet = json_is_true(v);
		if (r->fleet && !(r->limits.set & SL_LIMIT_RATE))
			return fail(err, errlen, "%s.fleet: only allowed together with rate", where);
	}
	if (!(v = json_object_get(obj, "backoff")))
		return 0;
	if (!json_is_array(v))
		return fail(err, errlen, "%s.backoff: invalid value: expected a list of backoff rules", where);
	r->backoff = calloc(json_array_size(v) + 1, sizeof(*r->backoff));
	if (!r->backoff)
		return -ENOMEM;
	for (i = 0; i < json_array_size(v); i++) {
		char bwhere[80];

		snprintf(bwhere, sizeof(bwhere), "%s.backoff[%zu]", where, i);
		r->nbackoff = i + 1;
		if ((rc = parse_backoff(json_array_get(v, i), bwhere, &r->backoff[i], err, errlen)))
			return rc;
		if (r->backoff[i].name[0] == '\0')
			snprintf(r->backoff[i].name, sizeof(r->backoff[i].name), "%.40s#%zu", r->name, i);
	}
	return 0;
}

struct sl_policy *sl_policy_from_json(json_t *root, char *err, size_t errlen)
{
	struct sl_policy *policy;
	json_t *rules;
	size_t i, j;

	rules = json_is_object(root) ? json_object_get(root, "rules") : root;
	if (!json_is_array(rules)) {
		fail(err, errlen, "rules: invalid value: expected a list of rules");
		return NULL;
	}
	policy = calloc(1, sizeof(*policy));
	if (!policy || !(policy->rules = calloc(json_array_size(rules) + 1,
						sizeof(*policy->rules)))) {
		free(policy);
		fail(err, errlen, "rules: out of memory");
		return NULL;
	}
	for (i = 0; i < json_array_size(rules); i++) {
		policy->nrules = i + 1;
		if (parse_rule(json_array_get(rules, i), i, &policy->rules[i], err, errlen))
			goto bad;
		for (j = 0; j < i; j++) {
			if (strcmp(policy->rules[j].name, policy->rules[i].name) == 0) {
				fail(err, errlen, "rules[%zu].name: duplicate name \"%s\": names must be unique",
				     i, policy->rules[i].name);
				goto bad;
			}
		}
	}
	return policy;
bad:
	sl_policy_free(policy);
	return NULL;
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

void sl_policy_free(struct sl_policy *policy)
{
	size_t i, j;

	if (!policy)
		return;
	for (i = 0; i < policy->nrules; i++) {
		struct sl_policy_rule *r = &policy->rules[i];

		free_names(r->patterns, r->npatterns);
		free_names(r->domains, r->ndomains);
		for (j = 0; j < r->nbackoff; j++) {
			if (r->backoff[j].pattern) {
				regfree(&r->backoff[j].re);
				free(r->backoff[j].pattern);
			}
		}
		free(r->backoff);
	}
	free(policy->rules);
	free(policy);
}

/* True when HOST equals SUFFIX or ends with "." SUFFIX (a leading dot in
 * SUFFIX is ignored). */
static bool host_has_suffix(const char *host, const char *suffix)
{
	size_t hl, sl;

	if (*suffix == '.')
		suffix++;
	hl = strlen(host);
	sl = strlen(suffix);
	if (hl < sl || strcasecmp(host + hl - sl, suffix) != 0)
		return false;
	return hl == sl || host[hl - sl - 1] == '.';
}

static bool rule_matches(const struct sl_policy_rule *r, const char *domain,
			 const char *mx, const char *source)
{
	size_t i;

	if (r->source[0] && (!source || strcmp(r->source, source) != 0))
		return false;
	switch (r->kind) {
	case SL_MATCH_DEFAULT:
		return true;
	case SL_MATCH_PROVIDER:
		for (i = 0; mx && i < r->npatterns; i++)
			if (host_has_suffix(mx, r->patterns[i]))
				return true;
		for (i = 0; domain && i < r->ndomains; i++)
			if (strcasecmp(domain, r->domains[i]) == 0)
				return true;
		return false;
	case SL_MATCH_MX:
		return mx && strcasecmp(mx, r->patterns[0]) == 0;
	case SL_MATCH_DOMAIN:
		return domain && strcasecmp(domain, r->patterns[0]) == 0;
	}
	return false;
}

/* Specificity rank: level first, then a rule with a source after one
 * without. */
static int rule_rank(const struct sl_policy_rule *r)
{
	return (int)r->kind * 2 + (r->source[0] ? 1 : 0);
}

static void merge_limits(struct sl_limits *to, const struct sl_limits *from)
{
	if (from->set & SL_LIMIT_CONNECTIONS)
		to->connections = from->connections;
	if (from->set & SL_LIMIT_MSGS_PER_CONN)
		to->msgs_per_conn = from->msgs_per_conn;
	if (from->set & SL_LIMIT_RCPTS_PER_TXN)
		to->rcpts_per_txn = from->rcpts_per_txn;
	if (from->set & SL_LIMIT_RATE)
		to->rate = from->rate;
	if (from->set & SL_LIMIT_RETRY) {
		memcpy(to->retry_s, from->retry_s, sizeof(to->retry_s));
		to->nretry = from->nretry;
	}
	if (from->set & SL_LIMIT_MAX_AGE)
		to->max_age_s = from->max_age_s;
	to->set |= from->set;
}

void sl_policy_rule_key(const struct sl_policy_rule *rule, const char *domain,
			const char *mx, char *buf, size_t len)
{
	const char *src_sep = rule->source[0] ? "|" : "";

	switch (rule->kind) {
	case SL_MATCH_PROVIDER:
		snprintf(buf, len, "provider:%s%s%s", rule->name, src_sep, rule->source);
		break;
	case SL_MATCH_MX:
		snprintf(buf, len, "mx:%s%s%s", mx ? mx : rule->patterns[0], src_sep, rule->source);
		break;
	case SL_MATCH_DEFAULT:
	case SL_MATCH_DOMAIN:
		/* The default rule limits each destination domain on its own. */
		snprintf(buf, len, "domain:%s%s%s", domain ? domain : "", src_sep, rule->source);
		break;
	}
}

void sl_policy_resolve(const struct sl_policy *policy, const char *domain,
		       const char *mx, const char *source,
		       struct sl_resolved *out)
{
	const struct sl_policy_rule *keyed = NULL, *rated = NULL;
	size_t i, j;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < policy->nrules && out->nrules < SL_POLICY_MATCH_MAX; i++) {
		const struct sl_policy_rule *r = &policy->rules[i];

		if (!rule_matches(r, domain, mx, source))
			continue;
		/* Insertion sort by rank; equal ranks keep file order. */
		for (j = out->nrules; j > 0 && rule_rank(out->rules[j - 1]) > rule_rank(r); j--)
			out->rules[j] = out->rules[j - 1];
		out->rules[j] = r;
		out->nrules++;
	}
	for (i = 0; i < out->nrules; i++) {
		merge_limits(&out->limits, &out->rules[i]->limits);
		if (out->rules[i]->limits.set & (SL_LIMIT_RATE | SL_LIMIT_CONNECTIONS))
			keyed = out->rules[i];
		if (out->rules[i]->limits.set & SL_LIMIT_RATE)
			rated = out->rules[i];
	}
	if (rated && rated->fleet)
		sl_policy_rule_key(rated, domain, mx, out->fleet_key, sizeof(out->fleet_key));
	if (keyed)
		sl_policy_rule_key(keyed, domain, mx, out->rate_key, sizeof(out->rate_key));
	else
		snprintf(out->rate_key, sizeof(out->rate_key), "domain:%s", domain ? domain : "");
}

static bool code_matches(const char *pattern, int code)
{
	char text[8];
	int i;

	snprintf(text, sizeof(text), "%03d", code);
	for (i = 0; i < 3; i++)
		if (pattern[i] != 'x' && pattern[i] != text[i])
			return false;
	return true;
}

/* Finds the enhanced status code ("4.7.28") after the reply code. */
static bool enhanced_matches(const char *want, const char *text)
{
	const char *p = text;
	size_t n = strlen(want);

	if (!*want)
		return true;
	while (isdigit((unsigned char)*p))
		p++;
	while (*p == ' ' || *p == '-')
		p++;
	return strncmp(p, want, n) == 0 &&
	       (p[n] == ' ' || p[n] == '\0' || p[n] == '\r' || p[n] == '\n');
}

const struct sl_backoff_rule *
sl_policy_match_backoff(const struct sl_resolved *resolved, int code,
			const char *text, const struct sl_policy_rule **owner)
{
	size_t i, j;

	for (i = resolved->nrules; i-- > 0;) {
		const struct sl_policy_rule *r = resolved->rules[i];

		for (j = 0; j < r->nbackoff; j++) {
			const struct sl_backoff_rule *b = &r->backoff[j];

			if (!code_matches(b->code, code))
				continue;
			if (!enhanced_matches(b->enhanced, text ? text : ""))
				continue;
			if (b->pattern && regexec(&b->re, text ? text : "", 0, NULL, 0) != 0)
				continue;
			if (owner)
				*owner = r;
			return b;
		}
	}
	return NULL;
}

static json_t *rate_to_json(const struct sl_rate *rate)
{
	char text[32];
	char unit = 'h';

	if (rate->period_s == 1)
		unit = 's';
	else if (rate->period_s == 60)
		unit = 'm';

	snprintf(text, sizeof(text), "%u/%c", rate->count, unit);
	return json_string(text);
}

json_t *sl_resolved_to_json(const struct sl_resolved *res)
{
	const struct sl_limits *l = &res->limits;
	json_t *o = json_object(), *rules = json_array(), *backoff = json_array();
	size_t i, j;

	for (i = 0; i < res->nrules; i++)
		json_array_append_new(rules, json_string(res->rules[i]->name));
	json_object_set_new(o, "rules", rules);
	json_object_set_new(o, "key", json_string(res->rate_key));
	if (l->set & SL_LIMIT_CONNECTIONS)
		json_object_set_new(o, "connections", json_integer(l->connections));
	if (l->set & SL_LIMIT_MSGS_PER_CONN)
		json_object_set_new(o, "messages_per_connection", json_integer(l->msgs_per_conn));
	if (l->set & SL_LIMIT_RCPTS_PER_TXN)
		json_object_set_new(o, "recipients_per_transaction", json_integer(l->rcpts_per_txn));
	if (l->set & SL_LIMIT_RATE) {
		json_object_set_new(o, "rate", rate_to_json(&l->rate));
		json_object_set_new(o, "burst", json_integer(l->rate.burst));
		json_object_set_new(o, "fleet", json_boolean(res->fleet_key[0] != '\0'));
		if (res->fleet_key[0])
			json_object_set_new(o, "fleet_key", json_string(res->fleet_key));
	}
	if (l->set & SL_LIMIT_RETRY) {
		json_t *retry = json_array();

		for (i = 0; i < l->nretry; i++)
			json_array_append_new(retry, json_integer(l->retry_s[i]));
		json_object_set_new(o, "retry", retry);
	}
	if (l->set & SL_LIMIT_MAX_AGE)
		json_object_set_new(o, "max_age", json_integer(l->max_age_s));
	for (i = res->nrules; i-- > 0;) {
		const struct sl_policy_rule *r = res->rules[i];

		for (j = 0; j < r->nbackoff; j++) {
			const struct sl_backoff_rule *b = &r->backoff[j];
			json_t *bo = json_object();

			json_object_set_new(bo, "name", json_string(b->name));
			json_object_set_new(bo, "rule", json_string(r->name));
			json_object_set_new(bo, "code", json_string(b->code));
			if (b->enhanced[0])
				json_object_set_new(bo, "enhanced", json_string(b->enhanced));
			if (b->pattern)
				json_object_set_new(bo, "pattern", json_string(b->pattern));
			json_object_set_new(bo, "action", json_string(b->action == SL_BACKOFF_SLOW ? "slow" : "suspend"));
			json_object_set_new(bo, "duration", json_integer(b->duration_s));
			if (b->action == SL_BACKOFF_SLOW)
				json_object_set_new(bo, "rate", rate_to_json(&b->slow_rate));
			json_object_set_new(bo, "end_on_success", json_boolean(b->end_on_success));
			json_array_append_new(backoff, bo);
		}
	}
	json_object_set_new(o, "backoff", backoff);
	return o;
}
