/*
 * ctl/ctld/config.c - sluice-ctld's view of the sluice configuration.
 *
 * The file is loaded and validated by the shared loader (ctl/config),
 * which reports errors with file, line and key and rejects unknown keys
 * and sections. This file turns the "ctl", "metrics", "keys" and
 * "throttle" sections into struct ctld_config: user and group names to
 * ids, durations to seconds, signing entries to JSON, and the rule files
 * to one validated JSON list of rules.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/config/config_ctld.h"
#include "ctl/ctld/ctld.h"
#include "ctl/yaml_json.h"

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

static int lookup_user(const char *name, uid_t *out, char *err, size_t errlen)
{
	struct passwd *pw;
	char *end;
	unsigned long id;

	if (!name)
		return 0;
	id = strtoul(name, &end, 10);
	if (*name && !*end) {
		*out = (uid_t)id;
		return 0;
	}
	if (!(pw = getpwnam(name)))
		return fail(err, errlen, "unknown user '%s': expected a user name or uid", name);
	*out = pw->pw_uid;
	return 0;
}

static int lookup_group(const char *name, gid_t *out, char *err, size_t errlen)
{
	struct group *gr;
	char *end;
	unsigned long id;

	if (!name)
		return 0;
	id = strtoul(name, &end, 10);
	if (*name && !*end) {
		*out = (gid_t)id;
		return 0;
	}
	if (!(gr = getgrnam(name)))
		return fail(err, errlen, "unknown group '%s': expected a group name or gid", name);
	*out = gr->gr_gid;
	return 0;
}

static int copy(char *out, size_t len, const char *value, const char *key, char *err, size_t errlen)
{
	if (!value || strlen(value) >= len)
		return fail(err, errlen, "%s: expected a value shorter than %zu bytes", key, len);
	snprintf(out, len, "%s", value);
	return 0;
}

static int parse_ctl(const struct sl_config_ctl *s, struct ctld_config *c, char *err, size_t errlen)
{
	enum sl_log_level level = SL_LOG_INFO;
	char uerr[256];
	int rc;

	if ((rc = copy(c->socket, sizeof(c->socket), s->socket, "ctl.socket", err, errlen)) ||
	    (rc = copy(c->link_socket, sizeof(c->link_socket), s->link_socket, "ctl.link_socket", err, errlen)) ||
	    (rc = copy(c->state_path, sizeof(c->state_path), s->state, "ctl.state", err, errlen)))
		return rc;
	c->socket_mode = (mode_t)strtol(s->socket_mode, NULL, 8);
	c->socket_owner = getuid();
	c->socket_group = getgid();
	c->sluiced_uid = getuid();
	if (lookup_user(s->socket_owner, &c->socket_owner, uerr, sizeof(uerr)))
		return fail(err, errlen, "ctl.socket_owner: %s", uerr);
	if (lookup_group(s->socket_group, &c->socket_group, uerr, sizeof(uerr)))
		return fail(err, errlen, "ctl.socket_group: %s", uerr);
	if (lookup_user(s->sluiced_user, &c->sluiced_uid, uerr, sizeof(uerr)))
		return fail(err, errlen, "ctl.sluiced_user: %s", uerr);
	sl_log_level_parse(s->log_level, &level);
	c->log_level = (int)level;
	return 0;
}

static int parse_metrics(const struct sl_config_metrics *s, struct ctld_config *c, char *err, size_t errlen)
{
	struct sl_config_endpoint ep;
	const char *colon = strrchr(s->listen, ':');
	size_t hl;
	int rc;

	/* The loader has checked ADDR:PORT and that ADDR is loopback. */
	sl_config_parse_endpoint(s->listen, &ep);
	hl = (size_t)(colon - s->listen);
	if (s->listen[0] == '[') {
		snprintf(c->metrics_host, sizeof(c->metrics_host), "%.*s", (int)hl - 2, s->listen + 1);
	} else {
		snprintf(c->metrics_host, sizeof(c->metrics_host), "%.*s", (int)hl, s->listen);
	}
	if ((rc = copy(c->metrics_port, sizeof(c->metrics_port), colon + 1, "metrics.listen", err, errlen)))
		return rc;
	return copy(c->shm_name, sizeof(c->shm_name), s->shm, "metrics.shm", err, errlen);
}

/* "SENDER [DOMAIN[,DOMAIN...]] [expire=DURATION] [identity=ID]" to
 * {sender, domains, expire, identity}. */
static int parse_signing(const struct sl_config_keys *s, struct ctld_config *c, char *err, size_t errlen)
{
	size_t i;

	c->signing = json_array();
	for (i = 0; i < s->signing.n; i++) {
		char *text = strdup(s->signing.v[i]), *tok, *save = NULL;
		json_t *entry = json_pack("{s:I}", "expire", (json_int_t)c->expire_s);
		json_t *domains = json_array();
		int n = 0, rc = 0;

		for (tok = strtok_r(text, " \t", &save); tok && rc == 0; tok = strtok_r(NULL, " \t", &save), n++) {
			uint32_t secs;

			if (n == 0) {
				if (!sl_dns_name_valid(tok, SL_DOMAIN_MAX))
					rc = fail(err, errlen, "keys.signing[%zu]: sender '%s' is not a domain name", i, tok);
				json_object_set_new(entry, "sender", json_string(tok));
			} else if (strncmp(tok, "expire=", 7) == 0) {
				if (sl_parse_duration(tok + 7, &secs) != 0)
					rc = fail(err, errlen, "keys.signing[%zu]: invalid %s: expected a duration such as expire=4h", i, tok);
				json_object_set_new(entry, "expire", json_integer(secs));
			} else if (strncmp(tok, "identity=", 9) == 0) {
				if (!strchr(tok + 9, '@'))
					rc = fail(err, errlen, "keys.signing[%zu]: invalid %s: expected an i= value such as identity=@example.com", i, tok);
				json_object_set_new(entry, "identity", json_string(tok + 9));
			} else {
				char *dsave = NULL, *d;

				for (d = strtok_r(tok, ",", &dsave); d && rc == 0; d = strtok_r(NULL, ",", &dsave)) {
					if (!sl_dns_name_valid(d, SL_DOMAIN_MAX))
						rc = fail(err, errlen, "keys.signing[%zu]: signing domain '%s' is not a domain name", i, d);
					json_array_append_new(domains, json_string(d));
				}
			}
		}
		if (json_array_size(domains) == 0)
			json_array_append(domains, json_object_get(entry, "sender"));
		json_object_set_new(entry, "domains", domains);
		json_array_append_new(c->signing, entry);
		free(text);
		if (rc)
			return rc;
	}
	return 0;
}

/* Appends the rules of a YAML rules file ("rules: [...]") to OUT; a rule
 * replaces an earlier one of the same name. */
static int add_rules(json_t *out, const char *path, const char *key, char *err, size_t errlen)
{
	char yerr[CTLD_ERR_MAX];
	json_t *doc = sl_yaml_file_to_json(path, yerr, sizeof(yerr)), *rules, *rule;
	size_t i;

	if (!doc)
		return fail(err, errlen, "%s: %s", key, yerr);
	rules = json_object_get(doc, "rules");
	if (!json_is_array(rules)) {
		json_decref(doc);
		return fail(err, errlen, "%s: %s: expected a top-level \"rules:\" list", key, path);
	}
	json_array_foreach(rules, i, rule) {
		const char *name = json_string_value(json_object_get(rule, "name"));
		json_t *old;
		size_t j;

		json_array_foreach(out, j, old) {
			if (name && strcmp(name, json_string_value(json_object_get(old, "name")) ?: "") == 0) {
				json_array_remove(out, j);
				break;
			}
		}
		json_array_append(out, rule);
	}
	json_decref(doc);
	return 0;
}

int ctld_config_load(const char *path, struct ctld_config *c, char *err, size_t errlen)
{
	struct sl_config *cfg = NULL;
	const struct sl_config_keys *keys;
	const struct sl_config_throttle *throttle;
	struct sl_policy *policy;
	char perr[CTLD_ERR_MAX];
	int rc;

	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", path);
	if ((rc = sl_config_load(path, &cfg, err, errlen)) != 0)
		return rc;
	keys = sl_config_keys(cfg);
	throttle = sl_config_throttle(cfg);
	c->overlap_s = (uint32_t)(keys->overlap / 1000);
	c->retire_after_s = (uint32_t)(keys->retire_after / 1000);
	c->expire_s = (uint32_t)(keys->expire / 1000);
	c->rules = json_array();
	snprintf(c->providers_path, sizeof(c->providers_path), "%s", throttle->providers);
	if ((rc = parse_ctl(sl_config_ctl(cfg), c, perr, sizeof(perr))) ||
	    (rc = parse_metrics(sl_config_metrics(cfg), c, perr, sizeof(perr))) ||
	    (rc = copy(c->keys_dir, sizeof(c->keys_dir), keys->dir, "keys.dir", perr, sizeof(perr))) ||
	    (rc = parse_signing(keys, c, perr, sizeof(perr))))
		goto out;
	if (strcmp(throttle->providers, "none") != 0 &&
	    (rc = add_rules(c->rules, throttle->providers, "throttle.providers", perr, sizeof(perr))))
		goto out;
	if (throttle->rules_file &&
	    (rc = add_rules(c->rules, throttle->rules_file, "throttle.rules_file", perr, sizeof(perr))))
		goto out;
	/* Validate the merged rules now, so that a bad file never starts. */
	policy = sl_policy_from_json(c->rules, err, errlen);
	if (!policy) {
		char msg[CTLD_ERR_MAX];

		snprintf(msg, sizeof(msg), "%s", err);
		rc = fail(perr, sizeof(perr), "throttle: %s (rules numbered across the providers file, then rules_file)", msg);
		goto out;
	}
	sl_policy_free(policy);
out:
	sl_config_free(cfg);
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, perr);
		ctld_config_free(c);
	}
	return rc;
}

void ctld_config_free(struct ctld_config *c)
{
	json_decref(c->signing);
	json_decref(c->rules);
	c->signing = NULL;
	c->rules = NULL;
}
