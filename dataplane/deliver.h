/*
 * dataplane/deliver.h - the delivery engine of sluiced.
 *
 * A worker module: each worker delivers the messages of its own spool
 * shard. On start it queues every recipient that the shard's index lists
 * as not final; afterwards the store's commit hook calls sl_deliver_enqueue() for each
 * message it has committed. Recipients go through the scheduler (DNS or
 * static route, per-destination queue), a connection from the
 * destination's pool takes one message's recipients as one transaction,
 * the message is signed at send time together with every other message
 * that became ready in the same loop iteration, and the SMTP client
 * engine runs the dialogue over the connection layer (conn.h), with
 * STARTTLS through tls.h.
 *
 * Outcomes: 2xx marks the recipient delivered in the spool; 4xx, a
 * timeout or a connection fault defers it with backoff (state record
 * with the next attempt time); 5xx or the maximum age bounces it, and one
 * RFC 3464 notice per message and attempt is appended to the spool for
 * the envelope sender (never for a null sender). Every outcome writes
 * one accounting record.
 *
 * Threading: everything runs on the owning worker's thread, except the
 * DNS service thread (dns.h) which talks to workers through inboxes.
 */
#ifndef SLUICE_DATAPLANE_DELIVER_H
#define SLUICE_DATAPLANE_DELIVER_H

#include <stdint.h>

struct sl_worker;

/* Register the delivery worker module; call once before sl_workers_start(). */
int sl_deliver_register(void);

/* A message was committed to this worker's spool shard: queue its
 * recipients. Called on the worker thread. */
void sl_deliver_enqueue(struct sl_worker *worker, uint64_t id);

/* Reopen the accounting log (after SIGHUP); any thread. */
void sl_deliver_reopen_logs(void);

#endif
