/*
 * dataplane/dns.h - asynchronous MX and address resolution for delivery.
 *
 * One service thread runs c-ares. Workers submit lookups with
 * sl_dns_submit() and collect answers from their own inbox with
 * sl_dns_inbox_take(); the inbox's eventfd becomes readable when answers
 * wait, so a worker never blocks on DNS.
 *
 * An MX lookup returns the delivery targets in the order to try them:
 * MX hosts by preference, each host's IPv4 then IPv6 addresses. A domain
 * without MX records is its own mail exchanger (implicit MX, RFC 5321
 * section 5.1). A domain whose only MX is "." accepts no mail (null MX,
 * RFC 7505): status SL_DNS_NULL_MX, to be bounced with 5.1.10.
 * A host lookup (for static routes given by name) returns the addresses
 * of one host.
 *
 * With mta_sts set, an MX lookup also queries the TXT record of
 * _mta-sts.DOMAIN (RFC 8461 section 3.1) and returns the policy id of
 * its one valid "v=STSv1" record in sts_id, or "" when there is none or
 * the query failed.
 *
 * Answers are cached on the service thread for their TTL (the lowest TTL
 * of the records used); failures that are final (NXDOMAIN, null MX, no
 * address) are cached for negative_ttl_s; temporary failures
 * (SERVFAIL, timeout) are not cached.
 *
 * Ownership: sl_dns_inbox_take() hands the caller a list of answers that
 * the caller frees with sl_dns_answer_free(). Stop the resolver before
 * freeing an inbox: sl_dns_stop() posts failures for lookups in flight.
 *
 * Limits: the cache has no size bound (one entry per destination domain
 * looked up, expired entries are replaced on the next lookup); at most
 * SL_DNS_MAX_TARGETS targets per answer.
 */
#ifndef SLUICE_DATAPLANE_DNS_H
#define SLUICE_DATAPLANE_DNS_H

#include <stdint.h>
#include <sys/socket.h>

#include "dataplane/mta_sts.h"

#define SL_DNS_MAX_TARGETS 16
#define SL_DNS_NAME_MAX 256

enum sl_dns_status {
	SL_DNS_OK,
	SL_DNS_NOT_FOUND,   /* NXDOMAIN, or no MX and no address: permanent */
	SL_DNS_NULL_MX,     /* RFC 7505 null MX: permanent, 5.1.10 */
	SL_DNS_TEMPFAIL,    /* timeout, SERVFAIL, refused: try again later */
};

enum sl_dns_kind {
	SL_DNS_MX,    /* mail exchangers of a domain */
	SL_DNS_HOST,  /* addresses of one host name */
};

struct sl_dns_config {
	char server[128];        /* "127.0.0.1:5353"; empty: /etc/resolv.conf */
	uint32_t timeout_ms;     /* per try */
	uint32_t tries;
	uint32_t negative_ttl_s;
	uint32_t max_ttl_s;      /* cap on cached TTLs */
	uint16_t mx_port;        /* port of MX targets, 25 outside tests */
	int mta_sts;             /* also query _mta-sts TXT records */
};

struct sl_dns_target {
	char host[SL_DNS_NAME_MAX];
	uint16_t preference;
	struct sockaddr_storage addr;   /* port already set */
	socklen_t addr_len;
};

struct sl_dns_answer {
	struct sl_dns_answer *next;
	char name[SL_DNS_NAME_MAX];
	enum sl_dns_kind kind;
	enum sl_dns_status status;
	char error[384];                /* what failed, for logs and DSNs */
	uint32_t ttl_s;
	uint64_t cookie;                /* the caller's, from sl_dns_submit() */
	char sts_id[SL_STS_ID_MAX];     /* MTA-STS policy id from TXT, or "" */
	int sts_done;                   /* the MTA-STS policy was fetched for this answer */
	unsigned count;
	struct sl_dns_target target[SL_DNS_MAX_TARGETS];
};

struct sl_dns;
struct sl_dns_inbox;

void sl_dns_default_config(struct sl_dns_config *cfg);

/* Start the service thread. Returns NULL and logs the cause on failure
 * (invalid server address, c-ares or thread setup). */
struct sl_dns *sl_dns_start(const struct sl_dns_config *cfg);
void sl_dns_stop(struct sl_dns *dns);

struct sl_dns_inbox *sl_dns_inbox_new(void);
void sl_dns_inbox_free(struct sl_dns_inbox *inbox);
int sl_dns_inbox_fd(const struct sl_dns_inbox *inbox);

/* Queue a lookup; the answer goes to inbox. port applies to SL_DNS_HOST.
 * Returns 0 or -ENOMEM. */
int sl_dns_submit(struct sl_dns *dns, enum sl_dns_kind kind, const char *name,
		  uint16_t port, uint64_t cookie, struct sl_dns_inbox *inbox);

/* Append one answer to inbox, which then owns it (for a service thread
 * that holds an answer back, such as the MTA-STS policy fetcher). */
void sl_dns_inbox_post(struct sl_dns_inbox *inbox, struct sl_dns_answer *answer);

/* Take every answer waiting in inbox (NULL when none). */
struct sl_dns_answer *sl_dns_inbox_take(struct sl_dns_inbox *inbox);
void sl_dns_answer_free(struct sl_dns_answer *answers);

const char *sl_dns_status_name(enum sl_dns_status status);

#endif
