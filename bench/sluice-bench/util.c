/*
 * bench/sluice-bench/util.c - the clock and path look-ups in a report.
 *
 * A path is a dot-separated list of object keys, where a key may select
 * an array element by the value of one of its fields:
 * "sha256.paths[path=avx2].mb_per_s" or "e2e.runs[workers=2].messages_per_s".
 * The field value is compared as a string, or as an integer when the
 * field is an integer.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/sluice-bench/bench.h"

double sl_bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool field_matches(json_t *item, const char *field, const char *value)
{
	json_t *v = json_object_get(item, field);

	if (json_is_string(v))
		return strcmp(json_string_value(v), value) == 0;
	if (json_is_integer(v))
		return json_integer_value(v) == strtoll(value, NULL, 10);
	return false;
}

/* Resolve one segment "key" or "key[field=value]" below node. */
static json_t *step(json_t *node, char *segment)
{
	char *bracket = strchr(segment, '[');
	char *eq, *close;
	size_t i;
	json_t *item;

	if (!bracket)
		return json_object_get(node, segment);
	*bracket = '\0';
	node = json_object_get(node, segment);
	eq = strchr(bracket + 1, '=');
	close = strchr(bracket + 1, ']');
	if (!json_is_array(node) || !eq || !close || eq > close)
		return NULL;
	*eq = '\0';
	*close = '\0';
	json_array_foreach(node, i, item)
		if (field_matches(item, bracket + 1, eq + 1))
			return item;
	return NULL;
}

json_t *sl_bench_get(json_t *root, const char *path)
{
	char buf[256];
	char *save = NULL;
	json_t *node = root;

	if (strlen(path) >= sizeof(buf))
		return NULL;
	strcpy(buf, path);
	for (char *seg = strtok_r(buf, ".", &save); seg && node; seg = strtok_r(NULL, ".", &save))
		node = step(node, seg);
	return node;
}

double sl_bench_number(json_t *root, const char *path)
{
	json_t *v = sl_bench_get(root, path);

	return json_is_number(v) ? json_number_value(v) : -1;
}
