/*
 * dataplane/tls_failures.h - the mail exchangers whose STARTTLS failed
 * recently, so that delivery goes to them in plaintext for a while
 * instead of failing a TLS handshake on every connection (the behaviour
 * of Postfix at smtp_tls_security_level = may).
 *
 *   sl_tls_failures_new()    a table of at most max_hosts entries, each
 *                            kept for ttl_ms after its failure
 *   sl_tls_failures_note()   record that TLS with ADDRESS:PORT failed
 *   sl_tls_failures_find()   whether ADDRESS:PORT failed within ttl_ms,
 *                            and the reason recorded then
 *
 * A host is an IPv4 or IPv6 address and a port: two ports of one address
 * are two hosts. An entry expires ttl_ms after the last failure noted for
 * it, and the next connection tries TLS again. When the table is full,
 * expired entries are dropped first, then the one that expires soonest,
 * so the table contains at most max_hosts entries, in 2 to 4 * max_hosts slots of
 * about 150 bytes each.
 *
 * All functions take the table's mutex, so the workers of sluiced share
 * one table. They run once per outbound connection, never per message.
 * Times are milliseconds of any clock the caller uses consistently.
 */
#ifndef SLUICE_DATAPLANE_TLS_FAILURES_H
#define SLUICE_DATAPLANE_TLS_FAILURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SL_TLS_FAILURE_REASON_MAX 112

struct sl_tls_failures;

/* Returns NULL when out of memory or when max_hosts is 0. A ttl_ms of 0
 * makes a table that remembers nothing. */
struct sl_tls_failures *sl_tls_failures_new(size_t max_hosts, uint64_t ttl_ms);
void sl_tls_failures_free(struct sl_tls_failures *t);

/* Record a failure at now_ms, with reason truncated to fit. Addresses
 * other than IPv4 and IPv6 are ignored. */
void sl_tls_failures_note(struct sl_tls_failures *t, const struct sockaddr *addr,
			  socklen_t addr_len, const char *reason, uint64_t now_ms);

/* Returns true when addr failed less than ttl_ms before now_ms; copies
 * the recorded reason into reason (reason_len bytes, may be 0). */
bool sl_tls_failures_find(struct sl_tls_failures *t, const struct sockaddr *addr,
			  socklen_t addr_len, uint64_t now_ms, char *reason, size_t reason_len);

/* Entries held, expired or not. */
size_t sl_tls_failures_count(struct sl_tls_failures *t);

#endif
