/*
 * ctl/config/config_delivery.h - the "delivery" section: how sluiced
 * delivers to the recipients' mail exchangers (routes, resolver,
 * connection limits, SMTP timeouts, retries, accounting).
 */
#ifndef SLUICE_CTL_CONFIG_DELIVERY_H
#define SLUICE_CTL_CONFIG_DELIVERY_H

#include "ctl/config/config.h"

struct sl_config_delivery {
	bool enabled;                      /* default false: accept and queue only */
	char *helo_name;                   /* NULL: the smtp section's hostname */
	struct sl_config_strings routes;   /* "PATTERN HOST:PORT[,HOST:PORT...]" */
	char *resolver;                    /* "ADDRESS:PORT"; NULL: /etc/resolv.conf */
	uint64_t resolver_timeout;         /* ms per try */
	uint64_t resolver_tries;
	uint64_t negative_cache_ttl;       /* ms */
	uint64_t mx_port;                  /* port of MX hosts, 25 outside tests */
	struct sl_config_strings source_addresses;  /* egress addresses; empty: kernel's choice */
	bool starttls;                     /* opportunistic STARTTLS */
	uint64_t starttls_failure_ttl;     /* ms a host whose STARTTLS failed gets plaintext; 0: none */
	uint64_t starttls_failure_hosts;   /* hosts remembered at most */
	struct sl_config_strings tls_required;  /* domain patterns that get mail only over TLS */
	char *mta_sts;                     /* "enforce" (NULL), "report" or "off" */
	char *mta_sts_ca_file;             /* NULL: /etc/ssl/certs/ca-certificates.crt */
	uint64_t mta_sts_policies;         /* domains whose policy is cached, at most */
	uint64_t mta_sts_fetch_timeout;    /* ms for one policy fetch */
	uint64_t mta_sts_fetch_retry;      /* ms before a failed fetch of one id is tried again */
	uint64_t max_connections;          /* per destination and worker */
	uint64_t messages_per_connection;
	uint64_t recipients_per_transaction;
	bool chunking;                     /* BDAT when the server offers CHUNKING, else DATA */
	uint64_t idle_timeout;             /* ms an idle connection is kept */
	uint64_t connect_timeout;          /* ms */
	uint64_t greeting_timeout;         /* ms, RFC 5321 4.5.3.2.1: 5 min */
	uint64_t command_timeout;          /* ms, MAIL and RCPT: 5 min */
	uint64_t data_init_timeout;        /* ms, DATA: 2 min */
	uint64_t data_block_timeout;       /* ms, each block of content: 3 min */
	uint64_t data_end_timeout;         /* ms, final ".": 10 min */
	uint64_t retry_initial;            /* ms before the first retry */
	uint64_t retry_max;                /* ms, cap of the doubling */
	uint64_t retry_jitter_percent;
	uint64_t max_age;                  /* ms from arrival to bounce */
	uint64_t destination_pause;        /* ms a destination rests after all its hosts failed */
	char *accounting_log;              /* JSON lines; NULL: none */
};

extern const struct sl_config_section sl_config_section_delivery;

static inline const struct sl_config_delivery *sl_config_delivery(const struct sl_config *cfg)
{
	return sl_config_get(cfg, &sl_config_section_delivery);
}

#endif
