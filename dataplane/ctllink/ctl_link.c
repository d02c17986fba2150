/*
 * dataplane/ctllink/ctl_link.c - the snapshot link service thread. See
 * ctl_link.h for the contract and the reclamation rule.
 */
#include "dataplane/ctllink/ctl_link.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"

#define LINE_MAX_BYTES (16 * 1024 * 1024)

struct retired {
	struct sl_snapshot *snap;
	struct retired *next;
};

struct sl_ctl_link {
	struct sl_ctl_link_config cfg;
	char path[108];
	pthread_t thread;
	int stop_pipe[2];
	_Atomic(struct sl_snapshot *) current;
	_Atomic uint64_t seen[SL_CTL_LINK_WORKERS_MAX];
	_Atomic int connected;
	struct retired *retired;	/* service thread only */
};

const struct sl_snapshot *sl_ctl_link_current(struct sl_ctl_link *link)
{
	return atomic_load_explicit(&link->current, memory_order_acquire);
}

void sl_ctl_link_quiescent(struct sl_ctl_link *link, uint32_t worker)
{
	struct sl_snapshot *s = atomic_load_explicit(&link->current, memory_order_acquire);

	atomic_store_explicit(&link->seen[worker], s ? s->generation : 0, memory_order_release);
}

uint64_t sl_ctl_link_generation(struct sl_ctl_link *link)
{
	const struct sl_snapshot *s = sl_ctl_link_current(link);

	return s ? s->generation : 0;
}

int sl_ctl_link_connected(struct sl_ctl_link *link)
{
	return atomic_load(&link->connected);
}

/* Frees every retired snapshot that no worker can still hold: one whose
 * generation is below the lowest generation all workers have seen. */
static void reclaim(struct sl_ctl_link *link)
{
	uint64_t low = UINT64_MAX;
	struct retired **p = &link->retired;
	uint32_t i;

	for (i = 0; i < link->cfg.nworkers; i++) {
		uint64_t g = atomic_load_explicit(&link->seen[i], memory_order_acquire);

		if (g < low)
			low = g;
	}
	while (*p) {
		struct retired *r = *p;

		if (r->snap->generation < low) {
			*p = r->next;
			sl_snapshot_free(r->snap, &link->cfg.keys);
			free(r);
		} else {
			p = &r->next;
		}
	}
}

static void publish(struct sl_ctl_link *link, struct sl_snapshot *snap)
{
	struct sl_snapshot *old = atomic_exchange_explicit(&link->current, snap, memory_order_acq_rel);
	struct retired *r;

	if (old) {
		r = malloc(sizeof(*r));
		if (r) {
			r->snap = old;
			r->next = link->retired;
			link->retired = r;
		} else {
			/* NOTE: without memory for the list entry the old
			 * snapshot leaks rather than risk a use after free. */
			sl_err("ctl link: out of memory retiring snapshot generation=%llu",
			       (unsigned long long)old->generation);
		}
	}
	if (link->cfg.on_snapshot)
		link->cfg.on_snapshot(snap, link->cfg.arg);
	reclaim(link);
}

static int send_line(int fd, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	size_t len, off = 0;
	int rc = 0;

	if (!text)
		return -ENOMEM;
	len = strlen(text);
	while (off < len && rc == 0) {
		ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno != EINTR)
			rc = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (rc == 0 && send(fd, "\n", 1, MSG_NOSIGNAL) != 1)
		rc = -EPIPE;
	free(text);
	return rc;
}

static int peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return -errno;
	if (cred.uid != 0 && cred.uid != getuid()) {
		sl_err("ctl link: peer uid=%u pid=%d is not root or uid=%u: disconnecting",
		       (unsigned)cred.uid, (int)cred.pid, (unsigned)getuid());
		return -EPERM;
	}
	return 0;
}

static int connect_once(struct sl_ctl_link *link)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memcpy(addr.sun_path, link->path, sizeof(link->path));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || peer_allowed(fd) != 0) {
		close(fd);
		return -ECONNREFUSED;
	}
	return fd;
}

static void handle_line(struct sl_ctl_link *link, int fd, const char *line)
{
	json_error_t jerr;
	json_t *msg = json_loads(line, 0, &jerr), *ack;
	const char *type = json_string_value(json_object_get(msg, "type"));
	struct sl_snapshot *snap;
	char err[256] = "";

	if (!msg || !type || strcmp(type, "snapshot") != 0) {
		sl_warn("ctl link: ignoring message that is not a snapshot");
		json_decref(msg);
		return;
	}
	snap = sl_snapshot_from_json(msg, &link->cfg.keys, err, sizeof(err));
	if (!snap) {
		sl_err("ctl link: rejected snapshot: %s", err);
		ack = json_pack("{s:s, s:I, s:s}", "type", "nack", "generation",
				json_integer_value(json_object_get(msg, "generation")), "error", err);
	} else {
		publish(link, snap);
		sl_info("ctl link: snapshot generation=%llu keys=%zu suspensions=%zu",
			(unsigned long long)snap->generation, snap->nkeys, snap->nsuspensions);
		ack = json_pack("{s:s, s:I}", "type", "ack", "generation", (json_int_t)snap->generation);
	}
	send_line(fd, ack);
	json_decref(ack);
	json_decref(msg);
}

/* Reads lines from FD until it closes or stop is requested. Returns 1
 * on stop. */
static int serve(struct sl_ctl_link *link, int fd)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	json_t *hello = json_pack("{s:s, s:I, s:I}", "type", "hello", "pid", (json_int_t)getpid(),
				  "generation", (json_int_t)sl_ctl_link_generation(link));
	int stop = 0;

	if (!buf || send_line(fd, hello) != 0)
		goto out;
	atomic_store(&link->connected, 1);
	for (;;) {
		struct pollfd pfd[2] = { { fd, POLLIN, 0 }, { link->stop_pipe[0], POLLIN, 0 } };
		char *nl;
		ssize_t n;

		if (poll(pfd, 2, 1000) < 0 && errno != EINTR)
			break;
		reclaim(link);
		if (pfd[1].revents) {
			stop = 1;
			break;
		}
		if (!pfd[0].revents)
			continue;
		if (len + 1 >= cap) {
			char *grown = cap < LINE_MAX_BYTES ? realloc(buf, cap * 2) : NULL;

			if (!grown) {
				sl_err("ctl link: message longer than %d bytes: reconnecting", LINE_MAX_BYTES);
				break;
			}
			buf = grown;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		while ((nl = memchr(buf, '\n', len))) {
			*nl = '\0';
			handle_line(link, fd, buf);
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
			buf[len] = '\0';
		}
	}
out:
	atomic_store(&link->connected, 0);
	json_decref(hello);
	free(buf);
	return stop;
}

static void *link_thread(void *arg)
{
	struct sl_ctl_link *link = arg;
	int logged = 0;

	for (;;) {
		struct pollfd pfd = { link->stop_pipe[0], POLLIN, 0 };
		int fd = connect_once(link);

		if (fd >= 0) {
			sl_info("ctl link: connected to %s", link->path);
			logged = 0;
			if (serve(link, fd)) {
				close(fd);
				break;
			}
			close(fd);
			sl_warn("ctl link: connection to %s closed: keeping snapshot generation=%llu",
				link->path, (unsigned long long)sl_ctl_link_generation(link));
		} else if (!logged) {
			/* Logged once per outage, not per retry. */
			sl_warn("ctl link: connect to %s failed: retrying every %u ms",
				link->path, link->cfg.retry_ms);
			logged = 1;
		}
		if (poll(&pfd, 1, (int)link->cfg.retry_ms) > 0)
			break;
		reclaim(link);
	}
	return NULL;
}

int sl_ctl_link_start(const struct sl_ctl_link_config *config, struct sl_ctl_link **out)
{
	struct sl_ctl_link *link;
	int rc;

	if (!config->socket_path || strlen(config->socket_path) >= sizeof(link->path) ||
	    config->nworkers > SL_CTL_LINK_WORKERS_MAX)
		return -EINVAL;
	link = calloc(1, sizeof(*link));
	if (!link)
		return -ENOMEM;
	link->cfg = *config;
	if (link->cfg.retry_ms == 0)
		link->cfg.retry_ms = 500;
	snprintf(link->path, sizeof(link->path), "%s", config->socket_path);
	if (pipe2(link->stop_pipe, O_CLOEXEC) != 0) {
		rc = -errno;
		free(link);
		return rc;
	}
	rc = pthread_create(&link->thread, NULL, link_thread, link);
	if (rc) {
		close(link->stop_pipe[0]);
		close(link->stop_pipe[1]);
		free(link);
		return -rc;
	}
	*out = link;
	return 0;
}

void sl_ctl_link_stop(struct sl_ctl_link *link)
{
	struct retired *r;

	if (!link)
		return;
	if (write(link->stop_pipe[1], "x", 1) != 1)
		sl_err("ctl link: stop request failed: %s", strerror(errno));
	pthread_join(link->thread, NULL);
	close(link->stop_pipe[0]);
	close(link->stop_pipe[1]);
	while ((r = link->retired)) {
		link->retired = r->next;
		sl_snapshot_free(r->snap, &link->cfg.keys);
		free(r);
	}
	sl_snapshot_free(atomic_load(&link->current), &link->cfg.keys);
	free(link);
}
