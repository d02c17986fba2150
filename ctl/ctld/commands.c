/*
 * ctl/ctld/commands.c - the ctl protocol's commands: argument
 * validation from one table, then one handler per command.
 *
 * Every request is {"command": NAME, "args": {...}, "id": any}. The
 * table lists each command's fields with their type, whether they are
 * required and, for enumerations, the allowed values; an unknown field,
 * a missing one or a wrong type is answered with an error that names the
 * field and the allowed values before any handler runs. No handler puts
 * private key bytes in a response: key material stays in the key store
 * and only public DNS records leave it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/ctld/ctld.h"
#include "dataplane/throttle/fleet.h"

#define SLUICE_VERSION "0.1"

enum ftype { F_STRING, F_INT, F_BOOL, F_OBJECT };

struct field {
	const char *name;
	enum ftype type;
	bool required;
	const char *allowed;	/* enumeration "a, b"; NULL: any value */
};

struct command {
	const char *name;
	const struct field *fields;	/* ends with a NULL name */
	json_t *(*run)(struct ctld *d, json_t *args);
};

static const char *const type_names[] = {
	[F_STRING] = "a string", [F_INT] = "an integer",
	[F_BOOL] = "true or false", [F_OBJECT] = "an object",
};

json_t *ctld_ok(json_t *result)
{
	return json_pack("{s:b, s:o}", "ok", 1, "result", result ? result : json_object());
}

json_t *ctld_error(const char *field, json_t *allowed, const char *fmt, ...)
{
	char msg[CTLD_ERR_MAX];
	json_t *e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e = json_pack("{s:s}", "message", msg);
	if (field)
		json_object_set_new(e, "field", json_string(field));
	if (allowed)
		json_object_set_new(e, "allowed", allowed);
	return json_pack("{s:b, s:o}", "ok", 0, "error", e);
}

/* "a, b, c" as a JSON array. */
static json_t *split_list(const char *list)
{
	json_t *out = json_array();
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ",");

		json_array_append_new(out, json_stringn(p, n));
		p += n;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return out;
}

/* Maps a key store message ("bits 8192: allowed ...") to its field. */
static json_t *store_error(const char *msg)
{
	static const char *const fields[] = { "domain", "selector", "algorithm", "bits", "pem" };
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		size_t n = strlen(fields[i]);

		if (strncmp(msg, fields[i], n) == 0 && (msg[n] == ' ' || msg[n] == ':')) {
			char name[32];

			snprintf(name, sizeof(name), "args.%s", fields[i]);
			return ctld_error(name, NULL, "%s", msg);
		}
	}
	return ctld_error(NULL, NULL, "%s", msg);
}

static json_t *validate(const struct command *cmd, json_t *args)
{
	const struct field *f;
	const char *key;
	json_t *v;

	if (!json_is_object(args))
		return ctld_error("args", NULL, "args: invalid value: expected an object");
	json_object_foreach(args, key, v) {
		char allowed[256] = "";

		for (f = cmd->fields; f->name && strcmp(f->name, key) != 0; f++)
			;
		if (f->name)
			continue;
		for (f = cmd->fields; f->name; f++)
			snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s%s",
				 f == cmd->fields ? "" : ", ", f->name);
		return ctld_error("args", split_list(allowed), "args.%s: unknown field for %s: allowed fields are %s",
				  key, cmd->name, allowed[0] ? allowed : "none");
	}
	for (f = cmd->fields; f->name; f++) {
		char field[48];
		bool ok;

		snprintf(field, sizeof(field), "args.%s", f->name);
		v = json_object_get(args, f->name);
		if (!v) {
			if (f->required)
				return ctld_error(field, f->allowed ? split_list(f->allowed) : NULL,
						  "%s: missing: %s needs it", field, cmd->name);
			continue;
		}
		ok = (f->type == F_STRING && json_is_string(v)) || (f->type == F_INT && json_is_integer(v)) ||
		     (f->type == F_BOOL && json_is_boolean(v)) || (f->type == F_OBJECT && json_is_object(v));
		if (!ok)
			return ctld_error(field, NULL, "%s: invalid type: expected %s", field, type_names[f->type]);
		if (f->allowed) {
			json_t *allowed = split_list(f->allowed), *a;
			size_t i;
			bool found = false;

			json_array_foreach(allowed, i, a)
				found |= json_equal(a, v);
			if (!found)
				return ctld_error(field, allowed, "%s: invalid value \"%s\": allowed values are %s",
						  field, json_string_value(v) ?: "", f->allowed);
			json_decref(allowed);
		}
	}
	return NULL;
}

static const char *arg_string(json_t *args, const char *name)
{
	return json_string_value(json_object_get(args, name));
}

static json_t *check_domain(json_t *args)
{
	const char *domain = arg_string(args, "domain");

	if (domain && !sl_dns_name_valid(domain, SL_DOMAIN_MAX))
		return ctld_error("args.domain", NULL,
				  "args.domain: invalid value \"%s\": expected a DNS name of letters, digits, '-' and '.'",
				  domain);
	return NULL;
}

/* ---- status and top ---- */

static json_t *counters_json(const struct sl_shm_totals *t)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I}}",
			 "injected", (json_int_t)t->injected, "delivered", (json_int_t)t->delivered,
			 "deferred", (json_int_t)t->deferred, "bounced", (json_int_t)t->bounced,
			 "throttled", (json_int_t)t->throttled, "connections", (json_int_t)t->connections,
			 "signatures", "rsa-sha256", (json_int_t)t->signatures[SL_SHM_ALG_RSA],
			 "ed25519-sha256", (json_int_t)t->signatures[SL_SHM_ALG_ED25519]);
}

static json_t *fleet_json(const struct sl_shm *shm)
{
	uint32_t state = atomic_load_explicit(&shm->fleet.state, memory_order_relaxed);

	return json_pack("{s:s, s:I, s:i, s:i, s:I, s:I, s:I, s:I, s:I}",
			 "state", sl_fleet_state_name((enum sl_fleet_state)state),
			 "since", (json_int_t)atomic_load(&shm->fleet.since),
			 "fleet_size", (int)atomic_load(&shm->fleet.fleet_size),
			 "keys", (int)atomic_load(&shm->fleet.keys),
			 "leases", (json_int_t)atomic_load(&shm->fleet.leases),
			 "slots_granted", (json_int_t)atomic_load(&shm->fleet.granted),
			 "slots_spent", (json_int_t)atomic_load(&shm->fleet.spent),
			 "slots_expired", (json_int_t)atomic_load(&shm->fleet.expired),
			 "redis_errors", (json_int_t)atomic_load(&shm->fleet.errors));
}

static json_t *cmd_status(struct ctld *d, json_t *args)
{
	const struct sl_shm *shm = ctld_shm(d);
	struct sl_key_entry *keys;
	int counts[4] = { 0 };
	char err[CTLD_ERR_MAX];
	size_t n, i;
	json_t *out;

	(void)args;
	if (sl_keystore_list(&d->keys, &keys, &n, err, sizeof(err)) == 0) {
		for (i = 0; i < n; i++)
			counts[keys[i].state]++;
		free(keys);
	}
	out = json_pack("{s:s, s:i, s:I, s:I, s:{s:b, s:i, s:I}, s:{s:i, s:i, s:i, s:i}, s:i}",
			"version", SLUICE_VERSION, "pid", (int)getpid(),
			"uptime", (json_int_t)(time(NULL) - d->started), "generation", (json_int_t)d->generation,
			"sluiced", "connected", d->link_fd >= 0, "pid", d->link_fd >= 0 ? (int)d->sluiced_pid : 0,
			"acked_generation", (json_int_t)d->acked_generation,
			"keys", "pending", counts[SL_KEY_PENDING], "active", counts[SL_KEY_ACTIVE],
			"retiring", counts[SL_KEY_RETIRING], "retired", counts[SL_KEY_RETIRED],
			"suspensions", (int)json_array_size(d->suspensions));
	if (shm) {
		struct sl_shm_totals t;

		sl_shm_totals(shm, &t);
		json_object_set_new(out, "counters", counters_json(&t));
		json_object_set_new(out, "workers", json_integer(atomic_load(&shm->nworkers)));
		json_object_set_new(out, "fleet", fleet_json(shm));
	}
	return ctld_ok(out);
}

static json_t *destinations_json(const struct sl_shm *shm)
{
	json_t *out = json_array();
	uint32_t i, n = shm ? atomic_load(&shm->ndests) : 0;

	for (i = 0; i < n && i < SL_SHM_DESTS_MAX; i++) {
		struct sl_shm_dest_view v;

		if (sl_shm_dest_get(shm, i, &v) != 0 || !v.name[0])
			continue;
		json_array_append_new(out, json_pack("{s:s, s:I, s:I, s:s}", "domain", v.name,
						     "depth", (json_int_t)v.depth,
						     "suspended_until", (json_int_t)v.suspended_until,
						     "reason", v.reason));
	}
	return out;
}

static int by_depth(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "depth"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "depth"));

	if (x < y)
		return 1;
	if (x > y)
		return -1;
	return 0;
}

static json_t *sorted_by_depth(json_t *list, size_t limit)
{
	size_t n = json_array_size(list), i;
	json_t **items = calloc(n + 1, sizeof(*items)), *out = json_array();

	for (i = 0; i < n; i++)
		items[i] = json_array_get(list, i);
	qsort(items, n, sizeof(*items), by_depth);
	for (i = 0; i < n && i < limit; i++)
		json_array_append(out, items[i]);
	free(items);
	return out;
}

static json_t *cmd_top(struct ctld *d, json_t *args)
{
	const struct sl_shm *shm = ctld_shm(d);
	json_t *limit = json_object_get(args, "limit"), *workers = json_array(), *dests, *all;
	struct timespec now;
	uint32_t i;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (i = 0; shm && i < atomic_load(&shm->nworkers) && i < SL_SHM_WORKERS_MAX; i++) {
		const struct sl_shm_worker *w = &shm->workers[i];

		json_array_append_new(workers, json_pack(
			"{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "worker", (int)i,
			"injected", (json_int_t)atomic_load(&w->injected),
			"delivered", (json_int_t)atomic_load(&w->delivered),
			"deferred", (json_int_t)atomic_load(&w->deferred),
			"connections", (json_int_t)atomic_load(&w->connections),
			"signatures", (json_int_t)(atomic_load(&w->signatures[0]) + atomic_load(&w->signatures[1])),
			"flush_count", (json_int_t)atomic_load(&w->flush_count),
			"flush_sum_us", (json_int_t)atomic_load(&w->flush_sum_us),
			"throttled", (json_int_t)atomic_load(&w->throttled)));
	}
	all = destinations_json(shm);
	dests = sorted_by_depth(all, limit ? (size_t)json_integer_value(limit) : 10);
	json_decref(all);
	return ctld_ok(json_pack("{s:I, s:b, s:o, s:o}",
				 "time_ms", (json_int_t)(now.tv_sec * 1000 + now.tv_nsec / 1000000),
				 "sluiced", shm != NULL, "workers", workers, "destinations", dests));
}

/* ---- queue ---- */

static json_t *find_suspension(struct ctld *d, const char *domain, size_t *index)
{
	json_t *s;
	size_t i;

	json_array_foreach(d->suspensions, i, s) {
		if (strcmp(json_string_value(json_object_get(s, "domain")), domain) == 0) {
			if (index)
				*index = i;
			return s;
		}
	}
	return NULL;
}

static json_t *cmd_queue_summary(struct ctld *d, json_t *args)
{
	json_t *dests = destinations_json(ctld_shm(d)), *out = json_array(), *item, *s;
	size_t i;
	time_t now = time(NULL);

	(void)args;
	json_array_foreach(dests, i, item) {
		const char *domain = json_string_value(json_object_get(item, "domain"));
		json_int_t until = json_integer_value(json_object_get(item, "suspended_until"));
		const char *reason = json_string_value(json_object_get(item, "reason"));
		const char *state = until > now ? "suspended" : "active";

		if ((s = find_suspension(d, domain, NULL))) {
			state = "suspended";
			until = json_integer_value(json_object_get(s, "until"));
			reason = "operator";
		}
		json_array_append_new(out, json_pack("{s:s, s:O, s:s, s:I, s:s}", "domain", domain,
						     "depth", json_object_get(item, "depth"), "state", state,
						     "until", until, "reason", until > now || s ? reason : ""));
	}
	/* Operator suspensions of domains with nothing queued. */
	json_array_foreach(d->suspensions, i, s) {
		const char *domain = json_string_value(json_object_get(s, "domain"));
		size_t j;
		bool listed = false;

		json_array_foreach(out, j, item)
			listed |= strcmp(json_string_value(json_object_get(item, "domain")), domain) == 0;
		if (!listed)
			json_array_append_new(out, json_pack("{s:s, s:i, s:s, s:O, s:s}", "domain", domain,
							     "depth", 0, "state", "suspended",
							     "until", json_object_get(s, "until"), "reason", "operator"));
	}
	json_decref(dests);
	dests = sorted_by_depth(out, SIZE_MAX);
	json_decref(out);
	return ctld_ok(json_pack("{s:o, s:b}", "destinations", dests, "sluiced", ctld_shm(d) != NULL));
}

static void add_action(struct ctld *d, const char *action, const char *domain)
{
	d->action_seq++;
	json_array_append_new(d->actions, json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)d->action_seq,
						    "action", action, "domain", domain));
	while (json_array_size(d->actions) > CTLD_ACTIONS_MAX)
		json_array_remove(d->actions, 0);
}

static json_t *cmd_queue_suspend(struct ctld *d, json_t *args)
{
	const char *domain = arg_string(args, "domain");
	const char *duration = arg_string(args, "duration");
	uint32_t secs = 0;
	json_int_t until = 0;
	json_t *err = check_domain(args);
	char key[300];
	size_t i;

	if (err)
		return err;
	if (duration && sl_parse_duration(duration, &secs) != 0)
		return ctld_error("args.duration", NULL,
				  "args.duration: invalid duration \"%s\": expected seconds or a number with s, m, h or d (\"30m\")",
				  duration);
	if (secs)
		until = (json_int_t)time(NULL) + secs;
	if (find_suspension(d, domain, &i))
		json_array_remove(d->suspensions, i);
	snprintf(key, sizeof(key), "domain:%s", domain);
	json_array_append_new(d->suspensions, json_pack("{s:s, s:s, s:I, s:s}", "key", key, "domain", domain,
							"until", until, "reason", "operator"));
	sl_info("ctl: suspended domain=%s until=%lld", domain, (long long)until);
	ctld_changed(d);
	return ctld_ok(json_pack("{s:s, s:I}", "domain", domain, "until", until));
}

static json_t *cmd_queue_resume(struct ctld *d, json_t *args)
{
	const char *domain = arg_string(args, "domain");
	json_t *err = check_domain(args);
	size_t i;
	bool had = false;

	if (err)
		return err;
	if (find_suspension(d, domain, &i)) {
		json_array_remove(d->suspensions, i);
		had = true;
	}
	/* Also ends an automatic backoff that sluiced started. */
	add_action(d, "resume", domain);
	sl_info("ctl: resumed domain=%s", domain);
	ctld_changed(d);
	return ctld_ok(json_pack("{s:s, s:b}", "domain", domain, "was_suspended", had));
}

static json_t *queue_action(struct ctld *d, json_t *args, const char *action)
{
	const char *domain = arg_string(args, "domain");
	json_t *err = check_domain(args);

	if (err)
		return err;
	add_action(d, action, domain);
	sl_info("ctl: queue action=%s domain=%s seq=%llu", action, domain, (unsigned long long)d->action_seq);
	ctld_changed(d);
	return ctld_ok(json_pack("{s:s, s:s, s:I}", "domain", domain, "action", action,
				 "seq", (json_int_t)d->action_seq));
}

static json_t *cmd_queue_bounce(struct ctld *d, json_t *args)
{
	return queue_action(d, args, "bounce");
}

static json_t *cmd_queue_retry(struct ctld *d, json_t *args)
{
	return queue_action(d, args, "retry");
}

/* ---- keys ---- */

static json_t *key_json(struct ctld *d, const struct sl_key_entry *k, bool with_dns)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:I, s:s}", "domain", k->domain,
			      "selector", k->selector, "algorithm", k->algorithm, "bits", k->bits,
			      "created", (json_int_t)k->created, "state", sl_key_state_name(k->state));
	char txt[SL_KEY_DNS_MAX], err[CTLD_ERR_MAX], name[SL_DOMAIN_MAX + SL_SELECTOR_MAX + 16];

	if (k->state == SL_KEY_PENDING)
		json_object_set_new(o, "activate_at", json_integer(k->activate_at));
	if (k->state == SL_KEY_RETIRING || k->state == SL_KEY_RETIRED)
		json_object_set_new(o, "retire_at", json_integer(k->retire_at));
	if (with_dns && sl_keystore_dns(&d->keys, k, txt, sizeof(txt), err, sizeof(err)) == 0) {
		snprintf(name, sizeof(name), "%s._domainkey.%s.", k->selector, k->domain);
		json_object_set_new(o, "dns", json_pack("{s:s, s:s, s:s}", "name", name, "type", "TXT", "value", txt));
	}
	return o;
}

static json_t *cmd_keys_list(struct ctld *d, json_t *args)
{
	const char *domain = arg_string(args, "domain");
	struct sl_key_entry *keys;
	char err[CTLD_ERR_MAX];
	json_t *out, *e = check_domain(args);
	size_t n, i;

	if (e)
		return e;
	if (sl_keystore_list(&d->keys, &keys, &n, err, sizeof(err)) != 0)
		return ctld_error(NULL, NULL, "%s", err);
	out = json_array();
	for (i = 0; i < n; i++)
		if (!domain || strcmp(keys[i].domain, domain) == 0)
			json_array_append_new(out, key_json(d, &keys[i], false));
	free(keys);
	return ctld_ok(json_pack("{s:o}", "keys", out));
}

static struct sl_key_spec spec_of(json_t *args)
{
	struct sl_key_spec spec = { arg_string(args, "algorithm"),
				    (int)json_integer_value(json_object_get(args, "bits")) };

	return spec;
}

static json_t *cmd_keys_generate(struct ctld *d, json_t *args)
{
	struct sl_key_entry k;
	char err[CTLD_ERR_MAX];
	struct sl_key_spec spec = spec_of(args);

	if (json_object_get(args, "bits") && (spec.bits < 1024 || spec.bits > 4096) &&
	    !(spec.algorithm && strcmp(spec.algorithm, "ed25519") == 0))
		return ctld_error("args.bits", NULL, "args.bits: invalid value %d: allowed RSA sizes are 1024 to 4096", spec.bits);
	if (sl_keystore_generate(&d->keys, arg_string(args, "domain"), arg_string(args, "selector"),
				 spec, time(NULL), &k, err, sizeof(err)) != 0)
		return store_error(err);
	sl_info("ctl: generated key domain=%s selector=%s algorithm=%s bits=%d", k.domain, k.selector,
		k.algorithm, k.bits);
	ctld_changed(d);
	return ctld_ok(json_pack("{s:o}", "key", key_json(d, &k, true)));
}

static json_t *cmd_keys_import(struct ctld *d, json_t *args)
{
	const char *pem = arg_string(args, "pem");
	struct sl_key_entry k;
	char err[CTLD_ERR_MAX];

	if (sl_keystore_import(&d->keys, arg_string(args, "domain"), arg_string(args, "selector"),
			       pem, strlen(pem), time(NULL), &k, err, sizeof(err)) != 0)
		return store_error(err);
	sl_info("ctl: imported key domain=%s selector=%s algorithm=%s bits=%d", k.domain, k.selector,
		k.algorithm, k.bits);
	ctld_changed(d);
	return ctld_ok(json_pack("{s:o}", "key", key_json(d, &k, true)));
}

static json_t *cmd_keys_rotate(struct ctld *d, json_t *args)
{
	const char *domain = arg_string(args, "domain");
	struct sl_key_entry k;
	char err[CTLD_ERR_MAX];
	json_t *filter, *resp;

	if (json_is_true(json_object_get(args, "switch"))) {
		if (sl_keystore_switch(&d->keys, domain, time(NULL), err, sizeof(err)) != 0)
			return store_error(err);
		sl_info("ctl: switched signing to the pending keys of domain=%s", domain);
		ctld_changed(d);
		filter = json_pack("{s:s}", "domain", domain);
		resp = cmd_keys_list(d, filter);
		json_decref(filter);
		return resp;
	}
	if (sl_keystore_rotate(&d->keys, domain, arg_string(args, "selector"), spec_of(args),
			       json_is_true(json_object_get(args, "now")), time(NULL), &k, err, sizeof(err)) != 0)
		return store_error(err);
	sl_info("ctl: rotated domain=%s new selector=%s state=%s", k.domain, k.selector,
		sl_key_state_name(k.state));
	ctld_changed(d);
	return ctld_ok(json_pack("{s:o}", "key", key_json(d, &k, true)));
}

static json_t *cmd_keys_retire(struct ctld *d, json_t *args)
{
	struct sl_key_entry k;
	char err[CTLD_ERR_MAX];

	if (sl_keystore_retire(&d->keys, arg_string(args, "domain"), arg_string(args, "selector"),
			       time(NULL), err, sizeof(err)) != 0 ||
	    sl_keystore_find(&d->keys, arg_string(args, "domain"), arg_string(args, "selector"),
			     &k, err, sizeof(err)) != 0)
		return store_error(err);
	sl_info("ctl: retired key domain=%s selector=%s", k.domain, k.selector);
	ctld_changed(d);
	return ctld_ok(json_pack("{s:o}", "key", key_json(d, &k, true)));
}

static json_t *cmd_keys_dns(struct ctld *d, json_t *args)
{
	const char *domain = arg_string(args, "domain"), *selector = arg_string(args, "selector");
	struct sl_key_entry *keys;
	char err[CTLD_ERR_MAX];
	json_t *out, *e = check_domain(args);
	size_t n, i;

	if (e)
		return e;
	if (sl_keystore_list(&d->keys, &keys, &n, err, sizeof(err)) != 0)
		return ctld_error(NULL, NULL, "%s", err);
	out = json_array();
	for (i = 0; i < n; i++) {
		if ((domain && strcmp(keys[i].domain, domain) != 0) ||
		    (selector && strcmp(keys[i].selector, selector) != 0))
			continue;
		json_array_append_new(out, key_json(d, &keys[i], true));
	}
	free(keys);
	if (selector && json_array_size(out) == 0) {
		json_decref(out);
		return ctld_error("args.selector", NULL, "key %s/%s not found: see \"sluicectl keys list\"",
				  domain ? domain : "*", selector);
	}
	return ctld_ok(json_pack("{s:o}", "keys", out));
}

/* ---- throttle ---- */

static json_t *cmd_throttle_show(struct ctld *d, json_t *args)
{
	const char *domain = arg_string(args, "domain");
	struct sl_resolved res;
	json_t *e = check_domain(args), *out;

	if (e)
		return e;
	if (!domain)
		return ctld_ok(json_pack("{s:O, s:O}", "rules", d->merged_rules, "overrides", d->overrides));
	sl_policy_resolve(d->policy, domain, arg_string(args, "mx"), arg_string(args, "source"), &res);
	out = sl_resolved_to_json(&res);
	json_object_set_new(out, "domain", json_string(domain));
	if (arg_string(args, "mx"))
		json_object_set_new(out, "mx", json_string(arg_string(args, "mx")));
	if (arg_string(args, "source"))
		json_object_set_new(out, "source", json_string(arg_string(args, "source")));
	return ctld_ok(out);
}

static json_t *cmd_throttle_set(struct ctld *d, json_t *args)
{
	json_t *rule = json_object_get(args, "rule"), *next = json_deep_copy(d->overrides), *old;
	const char *name = json_string_value(json_object_get(rule, "name"));
	char err[CTLD_ERR_MAX];
	size_t i;

	json_array_foreach(next, i, old) {
		if (name && strcmp(name, json_string_value(json_object_get(old, "name")) ?: "") == 0) {
			json_array_remove(next, i);
			break;
		}
	}
	json_array_append(next, rule);
	if (ctld_policy_rebuild(d, next, err, sizeof(err)) != 0) {
		json_decref(next);
		/* The parser's field path ("rules[7].rate") is rewritten to the
		 * request's ("args.rule.rate"). */
		return ctld_error("args.rule", NULL, "args.rule%s", strchr(err, '.') ? strchr(err, '.') : err);
	}
	json_decref(d->overrides);
	d->overrides = next;
	sl_info("ctl: throttle rule set name=%s", name);
	ctld_changed(d);
	return ctld_ok(json_pack("{s:s}", "name", name));
}

static json_t *cmd_config_reload(struct ctld *d, json_t *args)
{
	struct ctld_config next;
	char err[CTLD_ERR_MAX];
	json_t *saved_rules;

	(void)args;
	if (ctld_config_load(d->cfg.path, &next, err, sizeof(err)) != 0) {
		sl_err("config reload failed, keeping the running configuration: %s", err);
		return ctld_error(NULL, NULL, "reload failed, running configuration kept: %s", err);
	}
	saved_rules = d->cfg.rules;
	d->cfg.rules = next.rules;
	if (ctld_policy_rebuild(d, d->overrides, err, sizeof(err)) != 0) {
		d->cfg.rules = saved_rules;
		ctld_config_free(&next);
		return ctld_error(NULL, NULL, "reload failed, running configuration kept: %s", err);
	}
	json_decref(saved_rules);
	json_decref(d->cfg.signing);
	d->cfg.signing = next.signing;
	d->cfg.overlap_s = next.overlap_s;
	d->cfg.retire_after_s = next.retire_after_s;
	d->cfg.expire_s = next.expire_s;
	d->keys.overlap_s = next.overlap_s;
	d->keys.retire_after_s = next.retire_after_s;
	sl_log_level = next.log_level;
	/* NOTE: socket paths, modes, the metrics address and keys.dir are
	 * read at start only; changing them needs a restart. */
	sl_info("config reloaded from %s", d->cfg.path);
	ctld_changed(d);
	return ctld_ok(json_pack("{s:s, s:I}", "config", d->cfg.path, "generation", (json_int_t)d->generation));
}

/* ---- the table ---- */

static const struct field no_fields[] = { { NULL, 0, false, NULL } };
static const struct field top_fields[] = { { "limit", F_INT, false, NULL }, { NULL, 0, false, NULL } };
static const struct field domain_field[] = { { "domain", F_STRING, true, NULL }, { NULL, 0, false, NULL } };
static const struct field suspend_fields[] = {
	{ "domain", F_STRING, true, NULL }, { "duration", F_STRING, false, NULL }, { NULL, 0, false, NULL },
};
static const struct field list_fields[] = { { "domain", F_STRING, false, NULL }, { NULL, 0, false, NULL } };
static const struct field generate_fields[] = {
	{ "domain", F_STRING, true, NULL }, { "selector", F_STRING, true, NULL },
	{ "algorithm", F_STRING, false, "rsa, ed25519" }, { "bits", F_INT, false, NULL },
	{ NULL, 0, false, NULL },
};
static const struct field import_fields[] = {
	{ "domain", F_STRING, true, NULL }, { "selector", F_STRING, true, NULL },
	{ "pem", F_STRING, true, NULL }, { NULL, 0, false, NULL },
};
static const struct field rotate_fields[] = {
	{ "domain", F_STRING, true, NULL }, { "selector", F_STRING, false, NULL },
	{ "algorithm", F_STRING, false, "rsa, ed25519" }, { "bits", F_INT, false, NULL },
	{ "now", F_BOOL, false, NULL }, { "switch", F_BOOL, false, NULL }, { NULL, 0, false, NULL },
};
static const struct field retire_fields[] = {
	{ "domain", F_STRING, true, NULL }, { "selector", F_STRING, true, NULL }, { NULL, 0, false, NULL },
};
static const struct field dns_fields[] = {
	{ "domain", F_STRING, false, NULL }, { "selector", F_STRING, false, NULL }, { NULL, 0, false, NULL },
};
static const struct field show_fields[] = {
	{ "domain", F_STRING, false, NULL }, { "mx", F_STRING, false, NULL },
	{ "source", F_STRING, false, NULL }, { NULL, 0, false, NULL },
};
static const struct field set_fields[] = { { "rule", F_OBJECT, true, NULL }, { NULL, 0, false, NULL } };

static const struct command commands[] = {
	{ "status", no_fields, cmd_status },
	{ "top", top_fields, cmd_top },
	{ "queue.summary", no_fields, cmd_queue_summary },
	{ "queue.suspend", suspend_fields, cmd_queue_suspend },
	{ "queue.resume", domain_field, cmd_queue_resume },
	{ "queue.bounce", domain_field, cmd_queue_bounce },
	{ "queue.retry", domain_field, cmd_queue_retry },
	{ "keys.list", list_fields, cmd_keys_list },
	{ "keys.generate", generate_fields, cmd_keys_generate },
	{ "keys.import", import_fields, cmd_keys_import },
	{ "keys.rotate", rotate_fields, cmd_keys_rotate },
	{ "keys.retire", retire_fields, cmd_keys_retire },
	{ "keys.dns", dns_fields, cmd_keys_dns },
	{ "throttle.show", show_fields, cmd_throttle_show },
	{ "throttle.set", set_fields, cmd_throttle_set },
	{ "config.reload", no_fields, cmd_config_reload },
};

json_t *ctld_command(struct ctld *d, json_t *request, uid_t peer)
{
	const char *name = json_string_value(json_object_get(request, "command"));
	json_t *args = json_object_get(request, "args"), *err, *resp;
	size_t i;

	if (!json_is_object(request))
		return ctld_error(NULL, NULL, "request: invalid value: expected a JSON object");
	for (i = 0; name && i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, name) != 0)
			continue;
		args = args ? json_incref(args) : json_object();
		err = validate(&commands[i], args);
		resp = err ? err : commands[i].run(d, args);
		json_decref(args);
		sl_debug("ctl: uid=%u command=%s ok=%d", (unsigned)peer, name,
			 json_is_true(json_object_get(resp, "ok")));
		return resp;
	}
	{
		json_t *allowed = json_array();

		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			json_array_append_new(allowed, json_string(commands[i].name));
		return ctld_error("command", allowed, "command \"%s\": %s", name ? name : "",
				  name ? "unknown command: see the allowed values" : "missing");
	}
}
