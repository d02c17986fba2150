/*
 * ctl/ctld/state.c - operator state that survives a sluice-ctld restart:
 * throttle rules set with "throttle set", queue suspensions and the
 * queue action sequence. Saved as one JSON file, replaced atomically
 * (write to a temporary file, fsync, rename).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/ctld/ctld.h"

int ctld_policy_rebuild(struct ctld *d, json_t *overrides, char *err, size_t errlen)
{
	json_t *merged = json_deep_copy(d->cfg.rules), *rule;
	struct sl_policy *policy;
	size_t i;

	json_array_foreach(overrides, i, rule) {
		const char *name = json_string_value(json_object_get(rule, "name"));
		json_t *old;
		size_t j;

		json_array_foreach(merged, j, old) {
			if (name && strcmp(name, json_string_value(json_object_get(old, "name")) ?: "") == 0) {
				json_array_remove(merged, j);
				break;
			}
		}
		json_array_append(merged, rule);
	}
	policy = sl_policy_from_json(merged, err, errlen);
	if (!policy) {
		json_decref(merged);
		return -EINVAL;
	}
	sl_policy_free(d->policy);
	json_decref(d->merged_rules);
	d->policy = policy;
	d->merged_rules = merged;
	return 0;
}

int ctld_state_load(struct ctld *d, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = NULL;

	if (access(d->cfg.state_path, F_OK) == 0) {
		root = json_load_file(d->cfg.state_path, 0, &jerr);
		if (!root) {
			snprintf(err, errlen, "%s: line %d: %s", d->cfg.state_path, jerr.line, jerr.text);
			return -EINVAL;
		}
	}
	d->overrides = json_incref(json_object_get(root, "throttle_overrides"));
	d->suspensions = json_incref(json_object_get(root, "suspensions"));
	d->actions = json_incref(json_object_get(root, "actions"));
	d->action_seq = (uint64_t)json_integer_value(json_object_get(root, "action_seq"));
	d->generation = (uint64_t)json_integer_value(json_object_get(root, "generation"));
	json_decref(root);
	if (!json_is_array(d->overrides))
		d->overrides = json_array();
	if (!json_is_array(d->suspensions))
		d->suspensions = json_array();
	if (!json_is_array(d->actions))
		d->actions = json_array();
	if (ctld_policy_rebuild(d, d->overrides, err, errlen) != 0) {
		sl_warn("state %s: operator throttle rules rejected (%s): dropping them", d->cfg.state_path, err);
		json_array_clear(d->overrides);
		return ctld_policy_rebuild(d, d->overrides, err, errlen);
	}
	return 0;
}

int ctld_state_save(struct ctld *d)
{
	char tmp[PATH_MAX + 8];
	json_t *root = json_pack("{s:O, s:O, s:O, s:I, s:I}", "throttle_overrides", d->overrides,
				 "suspensions", d->suspensions, "actions", d->actions,
				 "action_seq", (json_int_t)d->action_seq,
				 "generation", (json_int_t)d->generation);
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", d->cfg.state_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || json_dumpfd(root, fd, JSON_INDENT(1)) != 0 || fsync(fd) != 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc == 0 && rename(tmp, d->cfg.state_path) != 0)
		rc = -errno;
	if (rc) {
		sl_err("saving state to %s failed: %s", d->cfg.state_path, strerror(-rc));
		unlink(tmp);
	}
	json_decref(root);
	return rc;
}

/* Drops timed suspensions that have ended; "until" 0 means until resumed. */
void ctld_state_expire(struct ctld *d, time_t now)
{
	json_t *s;
	size_t i;
	int changed = 0;

	for (i = 0; i < json_array_size(d->suspensions);) {
		json_int_t until;

		s = json_array_get(d->suspensions, i);
		until = json_integer_value(json_object_get(s, "until"));
		if (until != 0 && until <= now) {
			sl_info("suspension of %s ended", json_string_value(json_object_get(s, "domain")));
			json_array_remove(d->suspensions, i);
			changed = 1;
		} else {
			i++;
		}
	}
	if (changed)
		ctld_changed(d);
}
