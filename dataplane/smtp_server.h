/*
 * dataplane/smtp_server.h - sluiced's SMTP injection server (RFC 5321
 * with PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, DSN,
 * CHUNKING, STARTTLS and AUTH PLAIN/LOGIN over TLS).
 *
 * sl_smtp_server_register() adds the server to every worker; call it
 * after sl_net_kernel_register() and sl_store_register() and before
 * sl_workers_start(). Configuration: the "smtp" section.
 */
#ifndef SLUICE_DATAPLANE_SMTP_SERVER_H
#define SLUICE_DATAPLANE_SMTP_SERVER_H

int sl_smtp_server_register(void);

#endif
