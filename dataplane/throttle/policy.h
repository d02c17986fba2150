/*
 * dataplane/throttle/policy.h - throttle rules and their resolution.
 *
 * A policy is a list of rules. Each rule matches destinations at one
 * level and may be narrowed to one egress source address:
 *
 *   default    every destination
 *   provider   a mailbox provider: the MX host ends with one of its
 *              suffixes, or the recipient domain is one of its domains
 *   mx         one MX host (an "MX site")
 *   domain     one recipient domain
 *
 * sl_policy_resolve() applies the matching rules from general to specific
 * (default, provider, mx, domain; at each level the rule without a source
 * before the rule with one), so a field set by a more specific rule wins.
 * Backoff rules are collected the other way round, most specific first,
 * and the first one whose reply pattern matches is used. A rule with
 * "fleet: true" makes its rate hold for all appliances together (see
 * fleet.h); the resolved policy then names that rule's key in fleet_key.
 *
 * Rules are read from a JSON tree (jansson) by sl_policy_from_json(); the
 * YAML configuration is converted to JSON before that, and sluice-ctld
 * sends the same JSON to sluiced in its snapshots. Errors name the field
 * ("rules[2].rate") and the allowed values.
 *
 * Ownership: sl_policy_from_json() returns a policy that the caller frees
 * with sl_policy_free(); a resolved policy points into the policy and is
 * valid as long as the policy is.
 */
#ifndef SLUICE_DATAPLANE_THROTTLE_POLICY_H
#define SLUICE_DATAPLANE_THROTTLE_POLICY_H

#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_POLICY_NAME_MAX 64
#define SL_POLICY_HOST_MAX 256
#define SL_POLICY_RETRY_MAX 16
#define SL_POLICY_MATCH_MAX 8	/* levels x (with/without source) */
#define SL_POLICY_ERR_MAX 256

enum sl_match_kind {
	SL_MATCH_DEFAULT = 0,
	SL_MATCH_PROVIDER,
	SL_MATCH_MX,
	SL_MATCH_DOMAIN,
};

/* COUNT messages per PERIOD_S seconds, bursts of up to BURST. */
struct sl_rate {
	uint32_t count;
	uint32_t period_s;
	uint32_t burst;
};

/* Bits of struct sl_limits.set: which fields a rule sets. */
enum {
	SL_LIMIT_CONNECTIONS = 1u << 0,
	SL_LIMIT_MSGS_PER_CONN = 1u << 1,
	SL_LIMIT_RCPTS_PER_TXN = 1u << 2,
	SL_LIMIT_RATE = 1u << 3,
	SL_LIMIT_RETRY = 1u << 4,
	SL_LIMIT_MAX_AGE = 1u << 5,
};

struct sl_limits {
	uint32_t set;
	uint32_t connections;		/* concurrent connections */
	uint32_t msgs_per_conn;		/* messages on one connection */
	uint32_t rcpts_per_txn;		/* recipients in one transaction */
	struct sl_rate rate;		/* message rate */
	uint32_t retry_s[SL_POLICY_RETRY_MAX];	/* retry intervals, seconds */
	uint32_t nretry;
	uint32_t max_age_s;		/* bounce after this age, seconds */
};

enum sl_backoff_action {
	SL_BACKOFF_SUSPEND = 0,
	SL_BACKOFF_SLOW,
};

struct sl_backoff_rule {
	char name[SL_POLICY_NAME_MAX];
	char code[4];		/* "421", or with x wildcards: "4xx" */
	char enhanced[16];	/* "4.7.28"; prefix match; empty: any */
	char *pattern;		/* POSIX ERE, case-insensitive; NULL: any */
	regex_t re;
	enum sl_backoff_action action;
	uint32_t duration_s;
	struct sl_rate slow_rate;	/* rate while slowed */
	bool end_on_success;
};

struct sl_policy_rule {
	char name[SL_POLICY_NAME_MAX];
	enum sl_match_kind kind;
	char **patterns;	/* MX suffixes, MX host or domain */
	size_t npatterns;
	char **domains;		/* provider: recipient domains */
	size_t ndomains;
	char source[64];	/* egress address; empty: any source */
	struct sl_limits limits;
	struct sl_backoff_rule *backoff;
	size_t nbackoff;
	bool fleet;		/* the rate holds for the whole fleet (Redis) */
};

struct sl_policy {
	struct sl_policy_rule *rules;
	size_t nrules;
};

/* The result of sl_policy_resolve() for one destination. */
struct sl_resolved {
	struct sl_limits limits;
	/* Matching rules, general to specific. */
	const struct sl_policy_rule *rules[SL_POLICY_MATCH_MAX];
	size_t nrules;
	/* Limiter key of the rule that set the rate and connection limits,
	 * for example "provider:gmail" or "domain:example.com|192.0.2.1". */
	char rate_key[SL_POLICY_NAME_MAX + SL_POLICY_HOST_MAX + 72];
	/* Key of the fleet-wide rate when the rule that set the rate is
	 * marked fleet; empty otherwise. */
	char fleet_key[SL_POLICY_NAME_MAX + SL_POLICY_HOST_MAX + 72];
};

struct sl_policy *sl_policy_from_json(json_t *root, char *err, size_t errlen);
void sl_policy_free(struct sl_policy *policy);

/* MX and SOURCE may be NULL when unknown. */
void sl_policy_resolve(const struct sl_policy *policy, const char *domain,
		       const char *mx, const char *source,
		       struct sl_resolved *out);

/* Writes the limiter or suspension key of RULE for this destination. */
void sl_policy_rule_key(const struct sl_policy_rule *rule, const char *domain,
			const char *mx, char *buf, size_t len);

/*
 * Finds the first backoff rule of the resolved policy that matches the
 * reply CODE and TEXT (the whole reply, enhanced code included). Returns
 * NULL when none matches; *owner is set to the rule that contains it.
 */
const struct sl_backoff_rule *
sl_policy_match_backoff(const struct sl_resolved *resolved, int code,
			const char *text, const struct sl_policy_rule **owner);

/* Parsers shared with the ctl side. Return 0 or -EINVAL. */
int sl_parse_duration(const char *text, uint32_t *seconds);
int sl_parse_rate(const char *text, struct sl_rate *rate);
const char *sl_match_kind_name(enum sl_match_kind kind);

/* Converts the resolved limits to JSON, for "throttle show". */
json_t *sl_resolved_to_json(const struct sl_resolved *resolved);

#endif
