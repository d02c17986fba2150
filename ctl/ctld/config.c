/*
 * ctl/ctld/config.c - read sluice-ctld's sections of the sluice YAML
 * configuration: ctl, metrics, keys and throttle. Sections of other
 * programs (sluiced's) are ignored; unknown fields inside these four are
 * errors that list the allowed fields.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/ctld/ctld.h"
#include "ctl/yaml_json.h"

#ifndef SL_PROVIDERS_PATH
#define SL_PROVIDERS_PATH "/usr/share/sluice/providers.yaml"
#endif

struct section {
	const char *name;
	const char *allowed;	/* comma-separated field names */
};

static const struct section sections[] = {
	{ "ctl", "socket, socket_mode, socket_owner, socket_group, link_socket, sluiced_user, state, log_level" },
	{ "metrics", "listen, shm" },
	{ "keys", "dir, overlap, retire_after, expire, signing" },
	{ "throttle", "providers, rules" },
};

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

static bool listed(const char *key, const char *allowed)
{
	size_t n = strlen(key);
	const char *p = allowed;

	while ((p = strstr(p, key))) {
		if ((p == allowed || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

static int check_fields(json_t *root, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		json_t *sec = json_object_get(root, sections[i].name), *v;
		const char *key;

		if (!sec || json_is_null(sec))
			continue;
		if (!json_is_object(sec))
			return fail(err, errlen, "%s: invalid value: expected a mapping", sections[i].name);
		json_object_foreach(sec, key, v) {
			if (!listed(key, sections[i].allowed))
				return fail(err, errlen, "%s.%s: unknown field: allowed fields are %s",
					    sections[i].name, key, sections[i].allowed);
		}
	}
	return 0;
}

static const char *get_string(json_t *root, const char *sec, const char *key)
{
	return json_string_value(json_object_get(json_object_get(root, sec), key));
}

static int copy_path(json_t *root, const char *sec, const char *key, char *out,
		     size_t len, const char *fallback, char *err, size_t errlen)
{
	json_t *v = json_object_get(json_object_get(root, sec), key);
	const char *s = v ? json_string_value(v) : fallback;

	if (!s || !*s || strlen(s) >= len)
		return fail(err, errlen, "%s.%s: invalid value: expected a path shorter than %zu bytes",
			    sec, key, len);
	snprintf(out, len, "%s", s);
	return 0;
}

static int get_duration(json_t *root, const char *sec, const char *key,
			uint32_t *out, uint32_t fallback, char *err, size_t errlen)
{
	json_t *v = json_object_get(json_object_get(root, sec), key);

	*out = fallback;
	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= UINT32_MAX) {
		*out = (uint32_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && sl_parse_duration(json_string_value(v), out) == 0)
		return 0;
	return fail(err, errlen,
		    "%s.%s: invalid duration: expected seconds or a number with s, m, h or d (\"2d\")",
		    sec, key);
}

static int get_user(json_t *root, const char *sec, const char *key, uid_t *out,
		    char *err, size_t errlen)
{
	json_t *v = json_object_get(json_object_get(root, sec), key);
	struct passwd *pw;

	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uid_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && (pw = getpwnam(json_string_value(v)))) {
		*out = pw->pw_uid;
		return 0;
	}
	return fail(err, errlen, "%s.%s: unknown user \"%s\": expected a user name or uid", sec, key,
		    json_is_string(v) ? json_string_value(v) : "?");
}

static int get_group(json_t *root, const char *sec, const char *key, gid_t *out,
		     char *err, size_t errlen)
{
	json_t *v = json_object_get(json_object_get(root, sec), key);
	struct group *gr;

	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (gid_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && (gr = getgrnam(json_string_value(v)))) {
		*out = gr->gr_gid;
		return 0;
	}
	return fail(err, errlen, "%s.%s: unknown group \"%s\": expected a group name or gid", sec, key,
		    json_is_string(v) ? json_string_value(v) : "?");
}

static int parse_ctl(json_t *root, struct ctld_config *c, char *err, size_t errlen)
{
	json_t *mode = json_object_get(json_object_get(root, "ctl"), "socket_mode");
	const char *level = get_string(root, "ctl", "log_level");
	enum sl_log_level lv = SL_LOG_INFO;
	int rc;

	if ((rc = copy_path(root, "ctl", "socket", c->socket, sizeof(c->socket), "/run/sluice/ctl.sock", err, errlen)) ||
	    (rc = copy_path(root, "ctl", "link_socket", c->link_socket, sizeof(c->link_socket), "/run/sluice/link.sock", err, errlen)) ||
	    (rc = copy_path(root, "ctl", "state", c->state_path, sizeof(c->state_path), "/var/lib/sluice/ctld-state.json", err, errlen)))
		return rc;
	c->socket_mode = 0660;
	if (mode) {
		const char *s = json_string_value(mode);
		char *end = NULL;
		long m = s ? strtol(s, &end, 8) : -1;

		if (!s || *end || m < 0 || m > 0777)
			return fail(err, errlen, "ctl.socket_mode: invalid value: expected an octal mode in quotes (\"0660\")");
		c->socket_mode = (mode_t)m;
	}
	c->socket_owner = getuid();
	c->socket_group = getgid();
	c->sluiced_uid = getuid();
	if ((rc = get_user(root, "ctl", "socket_owner", &c->socket_owner, err, errlen)) ||
	    (rc = get_group(root, "ctl", "socket_group", &c->socket_group, err, errlen)) ||
	    (rc = get_user(root, "ctl", "sluiced_user", &c->sluiced_uid, err, errlen)))
		return rc;
	if (level && sl_log_level_parse(level, &lv) != 0)
		return fail(err, errlen, "ctl.log_level: invalid value \"%s\": allowed values are error, warning, info, debug", level);
	c->log_level = (int)lv;
	return 0;
}

/* Splits "HOST:PORT" or "[V6]:PORT" and checks HOST is a loopback
 * address, because metrics carry no authentication. */
static int parse_listen(const char *text, struct ctld_config *c, char *err, size_t errlen)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	struct in_addr a4;
	struct in6_addr a6;
	size_t hl;

	if (!colon || colon == text || !colon[1] || strlen(colon + 1) >= sizeof(c->metrics_port))
		goto bad;
	hl = (size_t)(colon - text);
	if (text[0] == '[' && hl > 2 && text[hl - 1] == ']') {
		text++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		goto bad;
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (!(inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127) &&
	    !(inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6)))
		return fail(err, errlen,
			    "metrics.listen: \"%s\" is not a loopback address: allowed are 127.0.0.0/8 and [::1]",
			    host);
	snprintf(c->metrics_host, sizeof(c->metrics_host), "%s", host);
	snprintf(c->metrics_port, sizeof(c->metrics_port), "%s", colon + 1);
	if (atoi(c->metrics_port) <= 0 || atoi(c->metrics_port) > 65535)
		goto bad;
	return 0;
bad:
	return fail(err, errlen, "metrics.listen: invalid value: expected HOST:PORT (\"127.0.0.1:9187\")");
}

static int parse_signing(json_t *root, struct ctld_config *c, char *err, size_t errlen)
{
	json_t *list = json_object_get(json_object_get(root, "keys"), "signing"), *item;
	size_t i;

	c->signing = json_array();
	if (!list)
		return 0;
	if (!json_is_array(list))
		return fail(err, errlen, "keys.signing: invalid value: expected a list of {sender, domains, expire, identity}");
	json_array_foreach(list, i, item) {
		json_t *sender = json_object_get(item, "sender");
		json_t *domains = json_object_get(item, "domains");
		json_t *expire = json_object_get(item, "expire");
		json_t *identity = json_object_get(item, "identity");
		json_t *out = json_object(), *d;
		uint32_t secs = c->expire_s;
		size_t j;

		json_array_append_new(c->signing, out);
		if (!json_is_string(sender) || !sl_dns_name_valid(json_string_value(sender), SL_DOMAIN_MAX))
			return fail(err, errlen, "keys.signing[%zu].sender: missing or invalid: expected a domain name", i);
		json_object_set(out, "sender", sender);
		if (!domains)
			domains = json_pack("[O]", sender);
		else
			json_incref(domains);
		json_object_set_new(out, "domains", domains);
		if (!json_is_array(domains) || json_array_size(domains) == 0)
			return fail(err, errlen, "keys.signing[%zu].domains: invalid value: expected a list of signing domains", i);
		json_array_foreach(domains, j, d) {
			if (!json_is_string(d) || !sl_dns_name_valid(json_string_value(d), SL_DOMAIN_MAX))
				return fail(err, errlen, "keys.signing[%zu].domains[%zu]: invalid value: expected a domain name", i, j);
		}
		if (expire && !(json_is_integer(expire) && (secs = (uint32_t)json_integer_value(expire), 1)) &&
		    !(json_is_string(expire) && sl_parse_duration(json_string_value(expire), &secs) == 0))
			return fail(err, errlen, "keys.signing[%zu].expire: invalid duration: expected seconds or a number with s, m, h or d", i);
		json_object_set_new(out, "expire", json_integer(secs));
		if (identity && (!json_is_string(identity) || !strchr(json_string_value(identity), '@')))
			return fail(err, errlen, "keys.signing[%zu].identity: invalid value: expected an i= identity such as \"@example.com\"", i);
		if (identity)
			json_object_set(out, "identity", identity);
	}
	return 0;
}

/* Loads the providers' rules, then appends the configured rules; a
 * configured rule replaces a provider rule with the same name. */
static int parse_throttle(json_t *root, struct ctld_config *c, char *err, size_t errlen)
{
	json_t *rules = json_object_get(json_object_get(root, "throttle"), "rules");
	json_t *providers = NULL, *rule;
	char yerr[CTLD_ERR_MAX];
	size_t i;
	int rc;

	if ((rc = copy_path(root, "throttle", "providers", c->providers_path, sizeof(c->providers_path),
			    SL_PROVIDERS_PATH, err, errlen)))
		return rc;
	c->rules = json_array();
	if (strcmp(c->providers_path, "none") != 0) {
		providers = sl_yaml_file_to_json(c->providers_path, yerr, sizeof(yerr));
		if (!providers)
			return fail(err, errlen, "throttle.providers: %s", yerr);
		json_array_extend(c->rules, json_object_get(providers, "rules"));
		json_decref(providers);
	}
	if (!rules)
		return 0;
	if (!json_is_array(rules))
		return fail(err, errlen, "throttle.rules: invalid value: expected a list of rules");
	json_array_foreach(rules, i, rule) {
		const char *name = json_string_value(json_object_get(rule, "name"));
		size_t j;
		json_t *old;

		json_array_foreach(c->rules, j, old) {
			if (name && strcmp(name, json_string_value(json_object_get(old, "name")) ?: "") == 0) {
				json_array_remove(c->rules, j);
				break;
			}
		}
		json_array_append(c->rules, rule);
	}
	return 0;
}

int ctld_config_load(const char *path, struct ctld_config *c, char *err, size_t errlen)
{
	char yerr[CTLD_ERR_MAX], serr[CTLD_ERR_MAX] = "";
	const char *listen;
	json_t *root;
	struct sl_policy *policy;
	int rc;

	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", path);
	root = sl_yaml_file_to_json(path, yerr, sizeof(yerr));
	if (!root) {
		snprintf(err, errlen, "%s", yerr);
		return -EINVAL;
	}
	listen = get_string(root, "metrics", "listen");
	if ((rc = check_fields(root, serr, sizeof(serr))) ||
	    (rc = parse_ctl(root, c, serr, sizeof(serr))) ||
	    (rc = parse_listen(listen ? listen : "127.0.0.1:9187", c, serr, sizeof(serr))) ||
	    (rc = copy_path(root, "metrics", "shm", c->shm_name, sizeof(c->shm_name), "/sluice-metrics", serr, sizeof(serr))) ||
	    (rc = copy_path(root, "keys", "dir", c->keys_dir, sizeof(c->keys_dir), "/var/lib/sluice/keys", serr, sizeof(serr))) ||
	    (rc = get_duration(root, "keys", "overlap", &c->overlap_s, 2 * 86400, serr, sizeof(serr))) ||
	    (rc = get_duration(root, "keys", "retire_after", &c->retire_after_s, 7 * 86400, serr, sizeof(serr))) ||
	    (rc = get_duration(root, "keys", "expire", &c->expire_s, 4 * 3600, serr, sizeof(serr))) ||
	    (rc = parse_signing(root, c, serr, sizeof(serr))) ||
	    (rc = parse_throttle(root, c, serr, sizeof(serr))))
		goto out;
	if (c->shm_name[0] != '/' || strchr(c->shm_name + 1, '/')) {
		rc = fail(serr, sizeof(serr), "metrics.shm: invalid value: expected a shared memory name such as \"/sluice-metrics\"");
		goto out;
	}
	/* Validate the merged rules now, so that a bad file never starts. */
	policy = sl_policy_from_json(c->rules, yerr, sizeof(yerr));
	if (!policy) {
		rc = fail(serr, sizeof(serr), "throttle.%s", yerr);
		goto out;
	}
	sl_policy_free(policy);
out:
	json_decref(root);
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, serr);
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
