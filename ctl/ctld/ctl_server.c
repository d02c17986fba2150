/*
 * ctl/ctld/ctl_server.c - the ctl socket: a Unix stream socket with the
 * configured mode, owner and group, carrying JSON lines (one request,
 * one response; see docs/ctl-protocol.md).
 *
 * Two checks keep other users out. The socket file's mode (0660 by
 * default) stops them at connect(). The peer credentials (SO_PEERCRED)
 * are checked again on accept, because a socket reached some other way
 * (a wider mode set by mistake, an inherited descriptor) must not grant
 * access: the peer must be root, the socket owner, or a member of the
 * socket group. A rejected peer gets one error response and is
 * disconnected.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/ctld/ctld.h"

int ctld_unix_listen(const char *path, mode_t mode, uid_t owner, gid_t group,
		     char *err, size_t errlen);

int ctld_ctl_listen(struct ctld *d, char *err, size_t errlen)
{
	d->ctl_fd = ctld_unix_listen(d->cfg.socket, d->cfg.socket_mode, d->cfg.socket_owner,
				     d->cfg.socket_group, err, errlen);
	return d->ctl_fd < 0 ? d->ctl_fd : 0;
}

static bool in_group(uid_t uid, gid_t primary, gid_t want)
{
	struct passwd *pw;
	gid_t groups[256];
	int n = 256, i;

	if (primary == want)
		return true;
	pw = getpwuid(uid);
	if (!pw || getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (i = 0; i < n; i++)
		if (groups[i] == want)
			return true;
	return false;
}

static void send_response(int fd, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	size_t len, off = 0;

	if (!text)
		return;
	len = strlen(text);
	text[len++] = '\n';	/* replaces the NUL that json_dumps wrote */
	while (off < len) {
		ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(text);
}

void ctld_ctl_accept(struct ctld *d)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct ctld_client *c;
	int fd = accept4(d->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
	int i;

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		close(fd);
		return;
	}
	if (cred.uid != 0 && cred.uid != d->cfg.socket_owner &&
	    !in_group(cred.uid, cred.gid, d->cfg.socket_group)) {
		json_t *resp = ctld_error(NULL, NULL,
					  "permission denied: uid %u is not root, the socket owner or in group %u",
					  (unsigned)cred.uid, (unsigned)d->cfg.socket_group);

		sl_warn("ctl: rejected peer uid=%u pid=%d: not root, owner or in group %u",
			(unsigned)cred.uid, (int)cred.pid, (unsigned)d->cfg.socket_group);
		send_response(fd, resp);
		json_decref(resp);
		close(fd);
		return;
	}
	for (i = 0; i < CTLD_CLIENTS_MAX && d->clients[i]; i++)
		;
	if (i == CTLD_CLIENTS_MAX || !(c = calloc(1, sizeof(*c)))) {
		json_t *resp = ctld_error(NULL, NULL, "too many ctl clients (maximum %d): try again later",
					  CTLD_CLIENTS_MAX);

		sl_warn("ctl: rejected peer pid=%d: %d clients connected", (int)cred.pid, CTLD_CLIENTS_MAX);
		send_response(fd, resp);
		json_decref(resp);
		close(fd);
		return;
	}
	c->fd = fd;
	c->uid = cred.uid;
	c->pid = cred.pid;
	d->clients[i] = c;
}

static void drop(struct ctld *d, int index)
{
	close(d->clients[index]->fd);
	free(d->clients[index]);
	d->clients[index] = NULL;
}

void ctld_ctl_read(struct ctld *d, int index)
{
	struct ctld_client *c = d->clients[index];
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1, MSG_DONTWAIT);
	char *nl;

	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		drop(d, index);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	while ((nl = memchr(c->buf, '\n', c->len))) {
		json_error_t jerr;
		json_t *req, *resp;

		*nl = '\0';
		req = json_loads(c->buf, 0, &jerr);
		if (!req)
			resp = ctld_error(NULL, NULL, "request is not valid JSON: %s (column %d)",
					  jerr.text, jerr.column);
		else
			resp = ctld_command(d, req, c->uid);
		if (req && json_object_get(req, "id"))
			json_object_set(resp, "id", json_object_get(req, "id"));
		send_response(c->fd, resp);
		json_decref(resp);
		json_decref(req);
		c->len -= (size_t)(nl + 1 - c->buf);
		memmove(c->buf, nl + 1, c->len);
	}
	if (c->len == sizeof(c->buf) - 1) {
		json_t *resp = ctld_error(NULL, NULL, "request longer than %zu bytes", sizeof(c->buf) - 1);

		send_response(c->fd, resp);
		json_decref(resp);
		drop(d, index);
	}
}
