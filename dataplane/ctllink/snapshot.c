/*
 * dataplane/ctllink/snapshot.c - parse a snapshot message. See
 * snapshot.h; field names are listed in docs/ctl-protocol.md.
 */
#include "dataplane/ctllink/snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int copy_field(json_t *obj, const char *key, char *out, size_t len,
		      const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v) || json_string_length(v) >= len) {
		snprintf(err, errlen, "%s.%s: missing or invalid: expected a string shorter than %zu",
			 where, key, len);
		return -EINVAL;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int parse_keys(struct sl_snapshot *s, json_t *arr, const struct sl_key_hooks *hooks,
		      char *err, size_t errlen)
{
	size_t i;

	if (!json_is_array(arr))
		return 0;
	s->keys = calloc(json_array_size(arr) + 1, sizeof(*s->keys));
	if (!s->keys)
		return -ENOMEM;
	for (i = 0; i < json_array_size(arr); i++) {
		json_t *o = json_array_get(arr, i);
		struct sl_snap_key *k = &s->keys[i];
		int rc;

		if ((rc = copy_field(o, "domain", k->domain, sizeof(k->domain), "keys[]", err, errlen)) ||
		    (rc = copy_field(o, "selector", k->selector, sizeof(k->selector), "keys[]", err, errlen)) ||
		    (rc = copy_field(o, "algorithm", k->algorithm, sizeof(k->algorithm), "keys[]", err, errlen)) ||
		    (rc = copy_field(o, "path", k->path, sizeof(k->path), "keys[]", err, errlen)))
			return rc;
		s->nkeys = i + 1;
		if (hooks && hooks->load && !(k->handle = hooks->load(k->path, err, errlen)))
			return -EINVAL;
	}
	return 0;
}

static int find_key(const struct sl_snapshot *s, const char *domain, const char *selector)
{
	size_t i;

	for (i = 0; i < s->nkeys; i++)
		if (strcmp(s->keys[i].domain, domain) == 0 && strcmp(s->keys[i].selector, selector) == 0)
			return (int)i;
	return -1;
}

static int parse_signers(struct sl_snapshot *s, json_t *arr, char *err, size_t errlen)
{
	size_t i, j;

	if (!json_is_array(arr))
		return 0;
	s->signers = calloc(json_array_size(arr) + 1, sizeof(*s->signers));
	if (!s->signers)
		return -ENOMEM;
	for (i = 0; i < json_array_size(arr); i++) {
		json_t *o = json_array_get(arr, i), *keys = json_object_get(o, "keys");
		struct sl_snap_signer *g = &s->signers[i];
		int rc;

		if ((rc = copy_field(o, "sender", g->sender, sizeof(g->sender), "signing[]", err, errlen)))
			return rc;
		s->nsigners = i + 1;
		g->expire_s = (uint32_t)json_integer_value(json_object_get(o, "expire"));
		if (json_is_string(json_object_get(o, "identity")))
			snprintf(g->identity, sizeof(g->identity), "%s",
				 json_string_value(json_object_get(o, "identity")));
		g->keys = calloc(json_array_size(keys) + 1, sizeof(*g->keys));
		if (!g->keys)
			return -ENOMEM;
		for (j = 0; j < json_array_size(keys); j++) {
			json_t *ref = json_array_get(keys, j);
			const char *d = json_string_value(json_object_get(ref, "domain"));
			const char *sel = json_string_value(json_object_get(ref, "selector"));
			int idx = d && sel ? find_key(s, d, sel) : -1;

			if (idx < 0) {
				snprintf(err, errlen, "signing[%zu].keys[%zu]: key not in the snapshot's key list", i, j);
				return -EINVAL;
			}
			g->keys[g->nkeys++] = (size_t)idx;
		}
	}
	return 0;
}

static int parse_suspensions(struct sl_snapshot *s, json_t *arr, char *err, size_t errlen)
{
	size_t i;

	if (!json_is_array(arr))
		return 0;
	s->suspensions = calloc(json_array_size(arr) + 1, sizeof(*s->suspensions));
	if (!s->suspensions)
		return -ENOMEM;
	for (i = 0; i < json_array_size(arr); i++) {
		json_t *o = json_array_get(arr, i);
		struct sl_snap_suspension *p = &s->suspensions[i];
		int rc;

		if ((rc = copy_field(o, "key", p->key, sizeof(p->key), "suspensions[]", err, errlen)))
			return rc;
		p->until = json_integer_value(json_object_get(o, "until"));
		if (json_is_string(json_object_get(o, "reason")))
			snprintf(p->reason, sizeof(p->reason), "%s", json_string_value(json_object_get(o, "reason")));
		s->nsuspensions = i + 1;
	}
	return 0;
}

static int parse_actions(struct sl_snapshot *s, json_t *arr, char *err, size_t errlen)
{
	size_t i;

	if (!json_is_array(arr))
		return 0;
	s->actions = calloc(json_array_size(arr) + 1, sizeof(*s->actions));
	if (!s->actions)
		return -ENOMEM;
	for (i = 0; i < json_array_size(arr); i++) {
		json_t *o = json_array_get(arr, i);
		struct sl_snap_action *a = &s->actions[i];
		const char *kind = json_string_value(json_object_get(o, "action"));
		int rc;

		if (kind && strcmp(kind, "bounce") == 0)
			a->kind = SL_SNAP_BOUNCE;
		else if (kind && strcmp(kind, "retry") == 0)
			a->kind = SL_SNAP_RETRY;
		else if (kind && strcmp(kind, "resume") == 0)
			a->kind = SL_SNAP_RESUME;
		else {
			snprintf(err, errlen, "actions[%zu].action: invalid: allowed values are bounce, retry, resume", i);
			return -EINVAL;
		}
		if ((rc = copy_field(o, "domain", a->domain, sizeof(a->domain), "actions[]", err, errlen)))
			return rc;
		a->seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
		s->nactions = i + 1;
	}
	return 0;
}

struct sl_snapshot *sl_snapshot_from_json(json_t *msg, const struct sl_key_hooks *hooks,
					  char *err, size_t errlen)
{
	struct sl_snapshot *s = calloc(1, sizeof(*s));
	json_t *throttle = json_object_get(msg, "throttle");

	if (!s) {
		snprintf(err, errlen, "snapshot: out of memory");
		return NULL;
	}
	s->generation = (uint64_t)json_integer_value(json_object_get(msg, "generation"));
	s->created = json_integer_value(json_object_get(msg, "created"));
	if (s->generation == 0) {
		snprintf(err, errlen, "snapshot.generation: missing: expected an integer above 0");
		goto bad;
	}
	if (throttle && !(s->policy = sl_policy_from_json(throttle, err, errlen)))
		goto bad;
	if (parse_keys(s, json_object_get(msg, "keys"), hooks, err, errlen) ||
	    parse_signers(s, json_object_get(msg, "signing"), err, errlen) ||
	    parse_suspensions(s, json_object_get(msg, "suspensions"), err, errlen) ||
	    parse_actions(s, json_object_get(msg, "actions"), err, errlen))
		goto bad;
	return s;
bad:
	sl_snapshot_free(s, hooks);
	return NULL;
}

void sl_snapshot_free(struct sl_snapshot *s, const struct sl_key_hooks *hooks)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nkeys; i++)
		if (s->keys[i].handle && hooks && hooks->free)
			hooks->free(s->keys[i].handle);
	for (i = 0; i < s->nsigners; i++)
		free(s->signers[i].keys);
	sl_policy_free(s->policy);
	free(s->keys);
	free(s->signers);
	free(s->suspensions);
	free(s->actions);
	free(s);
}

const struct sl_snap_signer *sl_snapshot_signer(const struct sl_snapshot *s,
						const char *sender_domain)
{
	size_t i;

	for (i = 0; i < s->nsigners; i++)
		if (strcasecmp(s->signers[i].sender, sender_domain) == 0)
			return &s->signers[i];
	return NULL;
}
