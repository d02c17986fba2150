/*
 * dataplane/conn.h - the connection interface between network backends
 * and the protocol code (SMTP server, SMTP client, TLS).
 *
 * A backend (the io_uring kernel backend in uring.c; a DPDK backend later)
 * implements struct sl_conn_ops. Protocol code sees only the functions
 * below and never calls socket functions itself.
 *
 *   sl_listen()      accept connections on an address; each new one is
 *                    offered to an accept callback that attaches a handler
 *   sl_conn_connect() open an outbound connection; handler->connected runs
 *   sl_conn_send()   send an iovec without copying: the buffers must stay
 *                    unchanged until handler->sent runs with the same tag.
 *                    Sends go out in the order they were made.
 *   handler->recv    bytes arrived; they are valid only during the call
 *   sl_conn_close()  finish queued sends, then close; handler->closed runs
 *                    once, last, after which the conn must not be used
 *
 * All calls for one connection happen on the worker thread that owns it.
 * Errors are negative errno values; -EAGAIN is a normal result.
 */
#ifndef SLUICE_DATAPLANE_CONN_H
#define SLUICE_DATAPLANE_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct sl_worker;
struct sl_conn;

struct sl_conn_handler {
	void (*recv)(struct sl_conn *conn, void *user, const uint8_t *data, size_t len);
	/* result: bytes sent, or -errno (then the connection is closing) */
	void (*sent)(struct sl_conn *conn, void *user, uint64_t tag, int result);
	/* reason: 0 for a peer's orderly close or our close, else -errno */
	void (*closed)(struct sl_conn *conn, void *user, int reason);
	/* outbound connections only: 0 or -errno (closed follows an error) */
	void (*connected)(struct sl_conn *conn, void *user, int result);
};

struct sl_conn_ops {
	int (*connect)(struct sl_worker *worker, const struct sockaddr *addr, socklen_t len,
		       const struct sockaddr *source, socklen_t source_len,
		       const struct sl_conn_handler *handler, void *user,
		       struct sl_conn **out);
	int (*send)(struct sl_conn *conn, const struct iovec *iov, unsigned iovcnt, uint64_t tag);
	void (*close)(struct sl_conn *conn);
};

/* The part of every backend's connection that protocol code may read. */
struct sl_conn {
	const struct sl_conn_ops *ops;
	struct sl_worker *worker;
	const struct sl_conn_handler *handler;
	void *user;
	struct sockaddr_storage peer;
	struct sockaddr_storage local;
};

/*
 * Called for each accepted connection: set conn->handler and conn->user
 * and return 0, or return a negative value to have it closed at once.
 */
typedef int sl_accept_fn(struct sl_conn *conn, void *arg);

/* Sends queued per connection before sl_conn_send() returns -EAGAIN. */
#define SL_CONN_MAX_SENDS 8
/* Largest iovcnt of one send. */
#define SL_CONN_MAX_IOV 8

int sl_listen(struct sl_worker *worker, const struct sockaddr *addr, socklen_t len,
	      sl_accept_fn *accept, void *arg);

static inline int sl_conn_send(struct sl_conn *conn, const struct iovec *iov, unsigned iovcnt,
			       uint64_t tag)
{
	return conn->ops->send(conn, iov, iovcnt, tag);
}

static inline void sl_conn_close(struct sl_conn *conn)
{
	conn->ops->close(conn);
}

int sl_conn_connect(struct sl_worker *worker, const struct sockaddr *addr, socklen_t len,
		    const struct sockaddr *source, socklen_t source_len,
		    const struct sl_conn_handler *handler, void *user, struct sl_conn **out);

/* Register the kernel (io_uring) backend as a worker module; call once
 * before sl_workers_start(). */
int sl_net_kernel_register(void);

/* "ADDRESS" text of a socket address (no port), for logs and headers. */
const char *sl_addr_text(const struct sockaddr_storage *addr, char *buf, size_t len);

#endif
