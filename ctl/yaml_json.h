/*
 * ctl/yaml_json.h - read a YAML file (libfyaml) into a jansson tree, so
 * that sluice-ctld validates configuration sections and protocol
 * requests with one set of JSON checks.
 *
 * Plain scalars become true/false, null (null, ~ or empty) or integers
 * where they read as such; every other scalar, and every quoted one, is a
 * string. Anchors and aliases are resolved. Returns NULL with a message
 * naming the file in err on failure; libfyaml prints the line and column
 * of a syntax error on stderr.
 */
#ifndef SLUICE_CTL_YAML_JSON_H
#define SLUICE_CTL_YAML_JSON_H

#include <jansson.h>
#include <stddef.h>

json_t *sl_yaml_file_to_json(const char *path, char *err, size_t errlen);
json_t *sl_yaml_string_to_json(const char *text, char *err, size_t errlen);

#endif
