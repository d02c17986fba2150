/*
 * ctl/yaml_json.c - YAML to jansson conversion. See yaml_json.h.
 */
#include "ctl/yaml_json.h"

#include <errno.h>
#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *plain_scalar(const char *text, size_t len)
{
	char buf[32], *end;
	long long v;

	if (len == 0 || (len == 1 && text[0] == '~') ||
	    (len == 4 && memcmp(text, "null", 4) == 0))
		return json_null();
	if (len == 4 && memcmp(text, "true", 4) == 0)
		return json_true();
	if (len == 5 && memcmp(text, "false", 5) == 0)
		return json_false();
	if (len < sizeof(buf)) {
		memcpy(buf, text, len);
		buf[len] = '\0';
		errno = 0;
		v = strtoll(buf, &end, 10);
		if (!errno && *end == '\0' && end != buf &&
		    (buf[0] == '-' || (buf[0] >= '0' && buf[0] <= '9')) &&
		    !(buf[0] == '0' && len > 1))
			return json_integer(v);
	}
	return json_stringn(text, len);
}

static json_t *convert(struct fy_node *node)
{
	void *iter = NULL;
	json_t *out;

	switch (fy_node_get_type(node)) {
	case FYNT_SCALAR: {
		size_t len;
		const char *text = fy_node_get_scalar(node, &len);

		if (!text)
			return json_null();
		if (fy_node_get_style(node) == FYNS_PLAIN)
			return plain_scalar(text, len);
		return json_stringn(text, len);
	}
	case FYNT_SEQUENCE: {
		struct fy_node *item;

		out = json_array();
		while ((item = fy_node_sequence_iterate(node, &iter)))
			json_array_append_new(out, convert(item));
		return out;
	}
	case FYNT_MAPPING: {
		struct fy_node_pair *pair;

		out = json_object();
		while ((pair = fy_node_mapping_iterate(node, &iter))) {
			size_t len;
			const char *key = fy_node_get_scalar(fy_node_pair_key(pair), &len);
			char name[256];

			if (!key || len >= sizeof(name))
				continue;
			memcpy(name, key, len);
			name[len] = '\0';
			json_object_set_new(out, name, convert(fy_node_pair_value(pair)));
		}
		return out;
	}
	}
	return json_null();
}

static json_t *finish(struct fy_document *doc, const char *what, char *err, size_t errlen)
{
	json_t *out;

	if (!doc) {
		snprintf(err, errlen, "%s: invalid YAML (details above)", what);
		return NULL;
	}
	out = fy_document_root(doc) ? convert(fy_document_root(doc)) : json_object();
	fy_document_destroy(doc);
	return out;
}

json_t *sl_yaml_file_to_json(const char *path, char *err, size_t errlen)
{
	struct fy_parse_cfg cfg = { .flags = FYPCF_RESOLVE_DOCUMENT };
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(err, errlen, "open(%s) failed: %s", path, strerror(errno));
		return NULL;
	}
	fclose(f);
	return finish(fy_document_build_from_file(&cfg, path), path, err, errlen);
}

json_t *sl_yaml_string_to_json(const char *text, char *err, size_t errlen)
{
	struct fy_parse_cfg cfg = { .flags = FYPCF_RESOLVE_DOCUMENT };

	return finish(fy_document_build_from_string(&cfg, text, FY_NT), "YAML text", err, errlen);
}
