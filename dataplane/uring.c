/*
 * dataplane/uring.c - the kernel network backend: struct sl_conn_ops over
 * io_uring sockets.
 *
 * Listeners: one socket per worker and address with SO_REUSEPORT, so the
 * kernel spreads connections over the workers, and a multishot accept.
 * Receive: one multishot recv per connection, taking buffers from the
 * worker's provided buffer ring; each buffer goes back to the ring as soon
 * as handler->recv has returned. Send: sendmsg of the caller's iovec
 * (no copy); one send per connection is in flight at a time, so sends
 * reach the socket in order, and short sends are resumed.
 *
 * Closing: queued sends finish first, then SHUT_WR, cancellation of the
 * receive, and close(2) once no SQE of the connection is in flight; then
 * handler->closed runs and the connection returns to the worker's pool.
 *
 * Connections come from a per-worker pool sized at start (struct
 * net_state.pool); when it is empty, new connections are closed at once.
 */
#include "dataplane/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/config/config_smtp.h"
#include "dataplane/bufring.h"
#include "dataplane/pool.h"
#include "dataplane/worker.h"

struct send_req {
	struct iovec iov[SL_CONN_MAX_IOV];
	unsigned iovcnt;
	unsigned first;		/* first iov not yet fully sent */
	uint64_t tag;
	size_t total;
};

struct uconn {
	struct sl_conn base;
	int fd;
	int inflight;		/* SQEs of this connection not yet completed */
	int close_reason;
	bool recv_armed;
	bool closing;
	bool shut;
	bool send_busy;
	struct sl_uring_op recv_op, send_op, cancel_op, connect_op;
	struct send_req sends[SL_CONN_MAX_SENDS];
	unsigned send_head, send_count;
	struct msghdr msg;
};

struct listener {
	struct sl_uring_op op;
	int fd;
	sl_accept_fn *accept;
	void *arg;
	struct listener *next;
};

struct net_state {
	struct sl_pool pool;
	struct listener *listeners;
	unsigned open;
};

static const struct sl_worker_module net_module;
static const struct sl_conn_ops uring_ops;

static struct net_state *net_of(struct sl_worker *w)
{
	return sl_worker_state(w, &net_module);
}

const char *sl_addr_text(const struct sockaddr_storage *addr, char *buf, size_t len)
{
	const void *src = NULL;

	if (addr->ss_family == AF_INET)
		src = &((const struct sockaddr_in *)addr)->sin_addr;
	else if (addr->ss_family == AF_INET6)
		src = &((const struct sockaddr_in6 *)addr)->sin6_addr;
	if (!src || !inet_ntop(addr->ss_family, src, buf, (socklen_t)len))
		snprintf(buf, len, "unknown");
	return buf;
}

/* Closing and freeing. */

static void conn_finish(struct uconn *c)
{
	struct sl_worker *w = c->base.worker;
	struct net_state *net = net_of(w);

	if (!c->closing || !c->shut || c->inflight > 0)
		return;
	close(c->fd);
	c->fd = -1;
	if (c->base.handler && c->base.handler->closed)
		c->base.handler->closed(&c->base, c->base.user, c->close_reason);
	net->open--;
	sl_pool_put(&net->pool, c);
}

static void cancel_done(struct sl_worker *w, struct sl_uring_op *op, struct io_uring_cqe *cqe)
{
	struct uconn *c = (struct uconn *)((char *)op - offsetof(struct uconn, cancel_op));

	(void)w;
	(void)cqe;
	c->inflight--;
	conn_finish(c);
}

static void conn_shutdown(struct uconn *c)
{
	struct io_uring_sqe *sqe;

	if (c->shut)
		return;
	c->shut = true;
	shutdown(c->fd, SHUT_WR);
	if (c->recv_armed) {
		sqe = sl_worker_sqe(c->base.worker);
		io_uring_prep_cancel(sqe, &c->recv_op, 0);
		io_uring_sqe_set_data(sqe, &c->cancel_op);
		c->inflight++;
	}
}

/* Fail every queued send with err, so owners can release their buffers. */
static void fail_sends(struct uconn *c, int err)
{
	while (c->send_count) {
		struct send_req *req = &c->sends[c->send_head];

		c->send_head = (c->send_head + 1) % SL_CONN_MAX_SENDS;
		c->send_count--;
		if (c->base.handler && c->base.handler->sent)
			c->base.handler->sent(&c->base, c->base.user, req->tag, err);
	}
}

static void begin_close(struct uconn *c, int reason)
{
	if (!c->closing) {
		c->closing = true;
		c->close_reason = reason;
	}
	if (reason < 0 && !c->send_busy)
		fail_sends(c, reason);
	if (c->send_count == 0)
		conn_shutdown(c);
}

static void uring_close(struct sl_conn *conn)
{
	struct uconn *c = (struct uconn *)conn;

	begin_close(c, 0);
	conn_finish(c);
}

/* Receive. */

static void arm_recv(struct uconn *c)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(c->base.worker);

	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = SL_BUFRING_GROUP;
	io_uring_sqe_set_data(sqe, &c->recv_op);
	c->recv_armed = true;
	c->inflight++;
}

static void recv_done(struct sl_worker *w, struct sl_uring_op *op, struct io_uring_cqe *cqe)
{
	struct uconn *c = (struct uconn *)((char *)op - offsetof(struct uconn, recv_op));
	bool more = cqe->flags & IORING_CQE_F_MORE;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		struct sl_bufring *b = sl_worker_bufring(w);
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		if (cqe->res > 0 && !c->closing && c->base.handler->recv)
			c->base.handler->recv(&c->base, c->base.user, sl_bufring_data(b, bid),
					      (size_t)cqe->res);
		sl_bufring_recycle(b, bid);
	}
	if (!more) {
		c->recv_armed = false;
		c->inflight--;
	}
	if (cqe->res == 0)
		begin_close(c, 0);
	else if (cqe->res < 0 && cqe->res != -ENOBUFS && !c->closing)
		begin_close(c, cqe->res == -ECANCELED ? 0 : cqe->res);
	if (!more && !c->closing)
		arm_recv(c);
	conn_finish(c);
}

/* Send. */

static void submit_send(struct uconn *c)
{
	struct send_req *req = &c->sends[c->send_head];
	struct io_uring_sqe *sqe = sl_worker_sqe(c->base.worker);

	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = req->iov + req->first;
	c->msg.msg_iovlen = req->iovcnt - req->first;
	io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL | MSG_WAITALL);
	io_uring_sqe_set_data(sqe, &c->send_op);
	c->send_busy = true;
	c->inflight++;
}

/* Advance req past n sent bytes; returns true when it is complete. */
static bool send_advance(struct send_req *req, size_t n)
{
	while (req->first < req->iovcnt && n >= req->iov[req->first].iov_len) {
		n -= req->iov[req->first].iov_len;
		req->first++;
	}
	if (req->first == req->iovcnt)
		return true;
	req->iov[req->first].iov_base = (char *)req->iov[req->first].iov_base + n;
	req->iov[req->first].iov_len -= n;
	return false;
}

static void send_done(struct sl_worker *w, struct sl_uring_op *op, struct io_uring_cqe *cqe)
{
	struct uconn *c = (struct uconn *)((char *)op - offsetof(struct uconn, send_op));
	struct send_req *req = &c->sends[c->send_head];

	(void)w;
	c->inflight--;
	c->send_busy = false;
	if (cqe->res < 0) {
		c->closing = true;
		if (!c->close_reason)
			c->close_reason = cqe->res;
		fail_sends(c, cqe->res);
		conn_shutdown(c);
	} else if (send_advance(req, (size_t)cqe->res)) {
		uint64_t tag = req->tag;
		int total = (int)req->total;

		c->send_head = (c->send_head + 1) % SL_CONN_MAX_SENDS;
		c->send_count--;
		if (c->base.handler->sent)
			c->base.handler->sent(&c->base, c->base.user, tag, total);
		if (c->send_count && !c->send_busy)
			submit_send(c);
		else if (c->closing && !c->send_count)
			conn_shutdown(c);
	} else {
		submit_send(c);
	}
	conn_finish(c);
}

static int uring_send(struct sl_conn *conn, const struct iovec *iov, unsigned iovcnt, uint64_t tag)
{
	struct uconn *c = (struct uconn *)conn;
	struct send_req *req;

	if (c->closing)
		return -EPIPE;
	if (iovcnt == 0 || iovcnt > SL_CONN_MAX_IOV)
		return -EINVAL;
	if (c->send_count == SL_CONN_MAX_SENDS)
		return -EAGAIN;
	req = &c->sends[(c->send_head + c->send_count) % SL_CONN_MAX_SENDS];
	memcpy(req->iov, iov, iovcnt * sizeof(*iov));
	req->iovcnt = iovcnt;
	req->first = 0;
	req->tag = tag;
	req->total = 0;
	for (unsigned i = 0; i < iovcnt; i++)
		req->total += iov[i].iov_len;
	c->send_count++;
	if (!c->send_busy)
		submit_send(c);
	return 0;
}

/* Connections. */

static struct uconn *conn_new(struct sl_worker *w, int fd)
{
	struct net_state *net = net_of(w);
	struct uconn *c = sl_pool_get(&net->pool);
	socklen_t len;

	if (!c)
		return NULL;
	c->base.ops = &uring_ops;
	c->base.worker = w;
	c->fd = fd;
	c->recv_op.fn = recv_done;
	c->send_op.fn = send_done;
	c->cancel_op.fn = cancel_done;
	len = sizeof(c->base.peer);
	getpeername(fd, (struct sockaddr *)&c->base.peer, &len);
	len = sizeof(c->base.local);
	getsockname(fd, (struct sockaddr *)&c->base.local, &len);
	net->open++;
	return c;
}

static void connect_done(struct sl_worker *w, struct sl_uring_op *op, struct io_uring_cqe *cqe)
{
	struct uconn *c = (struct uconn *)((char *)op - offsetof(struct uconn, connect_op));
	socklen_t len = sizeof(c->base.local);

	(void)w;
	c->inflight--;
	if (cqe->res < 0) {
		c->closing = true;
		c->shut = true;
		c->close_reason = cqe->res;
	} else {
		getsockname(c->fd, (struct sockaddr *)&c->base.local, &len);
		arm_recv(c);
	}
	if (c->base.handler->connected)
		c->base.handler->connected(&c->base, c->base.user, cqe->res < 0 ? cqe->res : 0);
	conn_finish(c);
}

/*
 * Turn off Nagle's algorithm on a TCP socket. SMTP replies and commands
 * are already gathered into one send per flush, so holding a small
 * segment back until the previous one is acknowledged only adds a
 * delayed-ACK wait (up to 40 ms on Linux) to pipelined dialogues.
 */
static void set_nodelay(int fd, int family)
{
	int one = 1;

	if (family == AF_INET || family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int uring_connect(struct sl_worker *w, const struct sockaddr *addr, socklen_t len,
			 const struct sockaddr *source, socklen_t source_len,
			 const struct sl_conn_handler *handler, void *user, struct sl_conn **out)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct io_uring_sqe *sqe;
	struct uconn *c;

	if (fd < 0)
		return -errno;
	set_nodelay(fd, addr->sa_family);
	if (source && bind(fd, source, source_len) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	c = conn_new(w, fd);
	if (!c) {
		close(fd);
		return -EMFILE;
	}
	c->base.handler = handler;
	c->base.user = user;
	memcpy(&c->base.peer, addr, len);
	c->connect_op.fn = connect_done;
	sqe = sl_worker_sqe(w);
	io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&c->base.peer, len);
	io_uring_sqe_set_data(sqe, &c->connect_op);
	c->inflight++;
	*out = &c->base;
	return 0;
}

int sl_conn_connect(struct sl_worker *w, const struct sockaddr *addr, socklen_t len,
		    const struct sockaddr *source, socklen_t source_len,
		    const struct sl_conn_handler *handler, void *user, struct sl_conn **out)
{
	return uring_ops.connect(w, addr, len, source, source_len, handler, user, out);
}

/* Listeners. */

static void arm_accept(struct sl_worker *w, struct listener *l)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(w);

	io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	io_uring_sqe_set_data(sqe, &l->op);
}

static void accept_done(struct sl_worker *w, struct sl_uring_op *op, struct io_uring_cqe *cqe)
{
	struct listener *l = (struct listener *)op;
	struct uconn *c;

	if (!(cqe->flags & IORING_CQE_F_MORE) && l->fd >= 0 && !sl_worker_stopping(w))
		arm_accept(w, l);
	if (cqe->res < 0) {
		if (cqe->res != -ECANCELED)
			sl_warn("worker=%u accept failed: %s", sl_worker_index(w), strerror(-cqe->res));
		return;
	}
	c = conn_new(w, cqe->res);
	if (!c) {
		sl_warn("worker=%u connection pool exhausted, closing new connection",
			sl_worker_index(w));
		close(cqe->res);
		return;
	}
	if (l->accept(&c->base, l->arg) < 0 || !c->base.handler) {
		c->closing = c->shut = true;
		conn_finish(c);
		return;
	}
	arm_recv(c);
}

int sl_listen(struct sl_worker *w, const struct sockaddr *addr, socklen_t len,
	      sl_accept_fn *accept, void *arg)
{
	struct net_state *net = net_of(w);
	struct listener *l;
	int one = 1, fd, err;

	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	set_nodelay(fd, addr->sa_family);      /* accepted sockets inherit it */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, addr, len) < 0 || listen(fd, 4096) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	l->op.fn = accept_done;
	l->fd = fd;
	l->accept = accept;
	l->arg = arg;
	l->next = net->listeners;
	net->listeners = l;
	arm_accept(w, l);
	return 0;
}

/* The worker module: per-worker connection pool and listener cleanup. */

static int net_init(struct sl_worker *w, void **state)
{
	const struct sl_config_smtp *smtp = sl_config_smtp(sl_worker_config(w));
	struct net_state *net = calloc(1, sizeof(*net));
	/* Room for every SMTP session, for connections rejected with 421 while
	 * at the session limit, and for outbound connections. */
	size_t count = smtp->max_sessions * 2 + 256;
	int rc;

	if (!net)
		return -ENOMEM;
	rc = sl_pool_init(&net->pool, sizeof(struct uconn), count);
	if (rc < 0) {
		free(net);
		return rc;
	}
	*state = net;
	return 0;
}

/* Stop accepting: close the listening sockets, which ends the accepts. */
static bool net_drain(struct sl_worker *w, void *state)
{
	struct net_state *net = state;

	(void)w;
	for (struct listener *l = net->listeners; l; l = l->next) {
		if (l->fd >= 0) {
			struct io_uring_sqe *sqe = sl_worker_sqe(w);

			io_uring_prep_cancel(sqe, &l->op, 0);
			io_uring_sqe_set_data(sqe, NULL);
			close(l->fd);
			l->fd = -1;
		}
	}
	return false;
}

static void net_fini(struct sl_worker *w, void *state)
{
	struct net_state *net = state;

	(void)w;
	while (net->listeners) {
		struct listener *l = net->listeners;

		net->listeners = l->next;
		if (l->fd >= 0)
			close(l->fd);
		free(l);
	}
	if (net->open)
		sl_warn("worker=%u %u connections still open at stop", sl_worker_index(w), net->open);
	sl_pool_destroy(&net->pool);
	free(net);
}

static const struct sl_worker_module net_module = {
	.name = "net-kernel",
	.init = net_init,
	.drain = net_drain,
	.fini = net_fini,
};

static const struct sl_conn_ops uring_ops = {
	.connect = uring_connect,
	.send = uring_send,
	.close = uring_close,
};

int sl_net_kernel_register(void)
{
	return sl_worker_module_register(&net_module);
}
