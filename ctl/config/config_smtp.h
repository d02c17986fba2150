/*
 * ctl/config/config_smtp.h - the "smtp" section: sluiced's SMTP injection
 * server (listeners, limits, relay permission, TLS and AUTH).
 */
#ifndef SLUICE_CTL_CONFIG_SMTP_H
#define SLUICE_CTL_CONFIG_SMTP_H

#include "ctl/config/config.h"

struct sl_config_smtp {
	struct sl_config_endpoints listen;
	char *hostname;                   /* NULL: gethostname() */
	uint64_t max_message_size;        /* bytes, announced in EHLO SIZE */
	uint64_t max_recipients;          /* per message */
	uint64_t max_command_line;        /* bytes including CRLF */
	uint64_t max_errors;              /* rejected commands before the session ends */
	uint64_t idle_timeout;            /* ms without a complete command or data */
	uint64_t max_sessions;            /* per worker, also the session pool size */
	uint64_t max_sessions_per_client; /* per client address, per worker */
	struct sl_config_networks relay_networks;
	char *tls_certificate;            /* PEM chain; NULL disables STARTTLS */
	char *tls_key;
	char *auth_users_file;            /* "user:password" lines; NULL disables AUTH */
	struct sl_config_strings dkim_body_hashes; /* "relaxed", "simple": forms computed at accept */
};

extern const struct sl_config_section sl_config_section_smtp;

static inline const struct sl_config_smtp *sl_config_smtp(const struct sl_config *cfg)
{
	return sl_config_get(cfg, &sl_config_section_smtp);
}

#endif
