/*
 * ctl/config/config_http.h - the "http" section: sluiced's HTTP injection
 * API (listeners, API keys, limits, timeouts). No listen address means
 * the API is off. Host name and DKIM body hash forms come from the
 * "smtp" section, so both injection paths add the same header fields.
 */
#ifndef SLUICE_CTL_CONFIG_HTTP_H
#define SLUICE_CTL_CONFIG_HTTP_H

#include "ctl/config/config.h"

struct sl_config_http {
	struct sl_config_endpoints listen;  /* empty: the API is off */
	char *api_keys_file;                /* "NAME:KEY" lines, required with listen */
	struct sl_config_networks allow_networks; /* empty: any client address */
	uint64_t max_message_size;          /* bytes of the message part or built message */
	uint64_t max_request_size;          /* bytes of a request body */
	uint64_t max_header_size;           /* bytes of a request head */
	uint64_t max_recipients;            /* per message of POST /v1/messages */
	uint64_t max_send_recipients;       /* per request of POST /v1/send */
	uint64_t max_send_size;             /* bytes of all messages built for one /v1/send */
	uint64_t idle_timeout;              /* ms a kept-alive connection may wait */
	uint64_t request_timeout;           /* ms from a request's first byte to its body's end */
	uint64_t max_sessions;              /* connections per worker */
};

extern const struct sl_config_section sl_config_section_http;

static inline const struct sl_config_http *sl_config_http(const struct sl_config *cfg)
{
	return sl_config_get(cfg, &sl_config_section_http);
}

#endif
