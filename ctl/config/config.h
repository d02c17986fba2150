/*
 * ctl/config/config.h - the sluice YAML configuration loader.
 *
 * One YAML file (libfyaml) holds the configuration of sluiced and
 * sluice-ctld. The top-level mapping has one key per section ("sluiced",
 * "smtp", ...). Each section is described by a struct sl_config_section:
 * a C struct, a table of its keys with types and ranges, defaults and an
 * optional cross-key validation. Sections are listed in one table
 * (config_sections.c), so a module adds a section as a new file
 * ctl/config/config_NAME.c plus one table line.
 *
 * Public functions:
 *   sl_config_load()     parse and validate a file; errors name the file,
 *                        line and key ("FILE:LINE: smtp.max_size: ...")
 *   sl_config_defaults() a configuration with every section at defaults
 *   sl_config_free()     release a configuration and all its strings
 *   sl_config_get()      the parsed struct of one section
 *   sl_config_fail()     used by validate callbacks to report an error
 *
 * Ownership: the struct sl_config owns every string and list in every
 * section; they stay valid until sl_config_free(). Loading is not
 * thread-safe, reading a loaded configuration from several threads is.
 *
 * Known limits: unknown keys and unknown sections are errors (so a typo
 * never silently falls back to a default); anchors and merges are
 * resolved by libfyaml before validation, so a line number then points
 * at the alias target.
 */
#ifndef SLUICE_CTL_CONFIG_H
#define SLUICE_CTL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum sl_config_type {
	SL_CONFIG_UINT,         /* uint64_t, decimal, checked against min/max */
	SL_CONFIG_SIZE,         /* uint64_t bytes, suffix k, M or G (powers of 1024) */
	SL_CONFIG_DURATION,     /* uint64_t milliseconds, suffix ms, s, m or h */
	SL_CONFIG_BOOL,         /* bool, true/false/yes/no */
	SL_CONFIG_STRING,       /* char *, owned by the configuration */
	SL_CONFIG_STRING_LIST,  /* struct sl_config_strings */
	SL_CONFIG_CPU_LIST,     /* struct sl_config_cpus: integers or "A-B" ranges */
	SL_CONFIG_NETWORK_LIST, /* struct sl_config_networks: CIDR blocks */
	SL_CONFIG_ENDPOINT_LIST,/* struct sl_config_endpoints: "ADDR:PORT", "[V6]:PORT" */
};

struct sl_config_strings {
	char **v;
	size_t n;
};

struct sl_config_cpus {
	int *v;
	size_t n;
};

/* One CIDR block; addr holds 4 (IPv4) or 16 (IPv6) bytes in network order. */
struct sl_config_network {
	int family;
	uint8_t addr[16];
	unsigned prefix;
};

struct sl_config_networks {
	struct sl_config_network *v;
	size_t n;
};

struct sl_config_endpoint {
	struct sockaddr_storage addr;
	socklen_t len;
	char text[64];
};

struct sl_config_endpoints {
	struct sl_config_endpoint *v;
	size_t n;
};

/* One key of a section: its YAML name, type, field offset and range. */
struct sl_config_key {
	const char *name;
	enum sl_config_type type;
	size_t offset;
	uint64_t min;
	uint64_t max;   /* 0 means no maximum */
};

struct sl_config_ctx;

struct sl_config_section {
	const char *name;
	size_t size;                         /* size of the section's struct */
	const struct sl_config_key *keys;    /* ends with a NULL name */
	void (*set_defaults)(void *data);
	/* Cross-key checks after parsing; returns 0 or reports with sl_config_fail(). */
	int (*validate)(struct sl_config_ctx *ctx, void *data);
};

struct sl_config;

/* The section table, terminated by NULL (config_sections.c). */
extern const struct sl_config_section *const sl_config_sections[];

int sl_config_load(const char *path, struct sl_config **out, char *err, size_t errlen);
struct sl_config *sl_config_defaults(void);
void sl_config_free(struct sl_config *cfg);
const void *sl_config_get(const struct sl_config *cfg, const struct sl_config_section *section);
const char *sl_config_path(const struct sl_config *cfg);

/*
 * Report a validation error on KEY of the section being validated; the
 * message gets the file and the line where KEY was given (or the
 * section's line when KEY was left at its default). Returns -EINVAL.
 */
int sl_config_fail(struct sl_config_ctx *ctx, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Helpers shared with the daemons. */
bool sl_config_network_contains(const struct sl_config_networks *nets,
				const struct sockaddr *addr);
int sl_config_parse_endpoint(const char *text, struct sl_config_endpoint *ep);

#endif
