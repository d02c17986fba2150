/*
 * ctl/ctld/link.c - sluice-ctld's end of the snapshot link: a private
 * Unix socket (mode 0600, owned by the sluiced user) that one sluiced
 * connects to. Its peer credentials must be root or the configured
 * sluiced_user. On connect sluiced sends "hello" with the generation it
 * has; sluice-ctld answers with the current snapshot, numbered above
 * both its own and sluiced's generation so that generations only grow
 * across restarts of either side. Every change sends a new snapshot;
 * sluiced answers each with "ack" or "nack".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/ctld/ctld.h"

int ctld_unix_listen(const char *path, mode_t mode, uid_t owner, gid_t group,
		     char *err, size_t errlen);

int ctld_unix_listen(const char *path, mode_t mode, uid_t owner, gid_t group,
		     char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	mode_t old;
	int rc;

	if (fd < 0) {
		snprintf(err, errlen, "socket(AF_UNIX) failed: %s", strerror(errno));
		return -errno;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	unlink(path);
	/* Bind under a umask that leaves no access, then widen to MODE, so
	 * that no other user can connect in between. */
	old = umask(0777);
	rc = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (rc != 0 || listen(fd, 16) != 0 || chown(path, owner, group) != 0 ||
	    chmod(path, mode) != 0) {
		rc = -errno;
		snprintf(err, errlen, "listening on %s failed: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

int ctld_link_listen(struct ctld *d, char *err, size_t errlen)
{
	d->link_fd = -1;
	d->link_listen_fd = ctld_unix_listen(d->cfg.link_socket, 0600, d->cfg.sluiced_uid,
					     getgid(), err, errlen);
	return d->link_listen_fd < 0 ? d->link_listen_fd : 0;
}

static int send_json_line(int fd, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	size_t len, off = 0;

	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len++] = '\n';	/* json_dumps leaves room: replaces the NUL */
	while (off < len) {
		ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(text);
			return -EPIPE;
		}
		off += (size_t)n;
	}
	free(text);
	return 0;
}

static void add_signer(json_t *signing, const char *sender, json_t *keys,
		       json_int_t expire, const char *identity)
{
	json_t *s = json_pack("{s:s, s:O, s:I}", "sender", sender, "keys", keys, "expire", expire);

	if (identity)
		json_object_set_new(s, "identity", json_string(identity));
	json_array_append_new(signing, s);
}

json_t *ctld_snapshot_build(struct ctld *d)
{
	json_t *keys = json_array(), *signing = json_array(), *own = json_object(), *entry, *msg;
	struct sl_key_entry *list = NULL;
	char err[CTLD_ERR_MAX], path[PATH_MAX];
	const char *dom;
	size_t n = 0, i, j;

	if (sl_keystore_list(&d->keys, &list, &n, err, sizeof(err)) != 0)
		sl_err("snapshot: listing keys failed: %s", err);
	for (i = 0; i < n; i++) {
		json_t *ref;

		if (list[i].state != SL_KEY_ACTIVE)
			continue;
		sl_keystore_key_path(&d->keys, list[i].domain, list[i].selector, path, sizeof(path));
		json_array_append_new(keys, json_pack("{s:s, s:s, s:s, s:i, s:s}", "domain", list[i].domain,
						      "selector", list[i].selector, "algorithm", list[i].algorithm,
						      "bits", list[i].bits, "path", path));
		ref = json_object_get(own, list[i].domain);
		if (!ref) {
			ref = json_array();
			json_object_set_new(own, list[i].domain, ref);
		}
		json_array_append_new(ref, json_pack("{s:s, s:s}", "domain", list[i].domain,
						     "selector", list[i].selector));
	}
	free(list);

	/* Configured signers first: each signs with the active keys of its
	 * signing domains (several domains or algorithms: several
	 * signatures). */
	json_array_foreach(d->cfg.signing, i, entry) {
		json_t *refs = json_array(), *domain;

		json_array_foreach(json_object_get(entry, "domains"), j, domain) {
			json_t *active = json_object_get(own, json_string_value(domain));

			if (active)
				json_array_extend(refs, active);
		}
		add_signer(signing, json_string_value(json_object_get(entry, "sender")), refs,
			   json_integer_value(json_object_get(entry, "expire")),
			   json_string_value(json_object_get(entry, "identity")));
		json_decref(refs);
	}
	/* Every other domain with active keys signs its own mail. */
	json_object_foreach(own, dom, entry) {
		json_t *s;
		int configured = 0;

		json_array_foreach(d->cfg.signing, j, s)
			configured |= strcasecmp(dom, json_string_value(json_object_get(s, "sender"))) == 0;
		if (!configured)
			add_signer(signing, dom, entry, d->cfg.expire_s, NULL);
	}
	json_decref(own);

	msg = json_pack("{s:s, s:I, s:I, s:o, s:o, s:{s:O}, s:O, s:O}", "type", "snapshot",
			"generation", (json_int_t)d->generation, "created", (json_int_t)time(NULL),
			"keys", keys, "signing", signing, "throttle", "rules", d->merged_rules,
			"suspensions", d->suspensions, "actions", d->actions);
	return msg;
}

static void push(struct ctld *d)
{
	json_t *msg;

	if (d->link_fd < 0)
		return;
	msg = ctld_snapshot_build(d);
	if (send_json_line(d->link_fd, msg) != 0) {
		sl_warn("link: sending snapshot generation=%llu to sluiced pid=%d failed: disconnecting",
			(unsigned long long)d->generation, (int)d->sluiced_pid);
		close(d->link_fd);
		d->link_fd = -1;
	}
	json_decref(msg);
}

void ctld_changed(struct ctld *d)
{
	d->generation++;
	ctld_state_save(d);
	push(d);
}

void ctld_link_accept(struct ctld *d)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = accept4(d->link_listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
	    (cred.uid != 0 && cred.uid != d->cfg.sluiced_uid)) {
		sl_warn("link: rejected peer uid=%u pid=%d: expected root or uid=%u",
			(unsigned)cred.uid, (int)cred.pid, (unsigned)d->cfg.sluiced_uid);
		close(fd);
		return;
	}
	if (d->link_fd >= 0) {
		sl_info("link: sluiced pid=%d replaces pid=%d", (int)cred.pid, (int)d->sluiced_pid);
		close(d->link_fd);
	}
	d->link_fd = fd;
	d->sluiced_pid = cred.pid;
	d->link_len = 0;
	sl_info("link: sluiced pid=%d connected", (int)cred.pid);
}

static void handle_message(struct ctld *d, const char *line)
{
	json_error_t jerr;
	json_t *msg = json_loads(line, 0, &jerr);
	const char *type = json_string_value(json_object_get(msg, "type"));
	uint64_t gen = (uint64_t)json_integer_value(json_object_get(msg, "generation"));

	if (type && strcmp(type, "hello") == 0) {
		/* Resynchronize: send the current state, numbered above
		 * whatever sluiced already has. */
		if (gen >= d->generation)
			d->generation = gen;
		d->generation++;
		ctld_state_save(d);
		push(d);
	} else if (type && strcmp(type, "ack") == 0) {
		d->acked_generation = gen;
	} else if (type && strcmp(type, "nack") == 0) {
		sl_err("link: sluiced rejected snapshot generation=%llu: %s", (unsigned long long)gen,
		       json_string_value(json_object_get(msg, "error")) ?: "no reason given");
	} else {
		sl_warn("link: ignoring unknown message from sluiced pid=%d", (int)d->sluiced_pid);
	}
	json_decref(msg);
}

void ctld_link_read(struct ctld *d)
{
	ssize_t n = recv(d->link_fd, d->link_buf + d->link_len,
			 sizeof(d->link_buf) - d->link_len - 1, MSG_DONTWAIT);
	char *nl;

	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		sl_info("link: sluiced pid=%d disconnected", (int)d->sluiced_pid);
		close(d->link_fd);
		d->link_fd = -1;
		return;
	}
	d->link_len += (size_t)n;
	d->link_buf[d->link_len] = '\0';
	while ((nl = memchr(d->link_buf, '\n', d->link_len))) {
		*nl = '\0';
		handle_message(d, d->link_buf);
		d->link_len -= (size_t)(nl + 1 - d->link_buf);
		memmove(d->link_buf, nl + 1, d->link_len);
	}
	if (d->link_len == sizeof(d->link_buf) - 1) {
		sl_err("link: message from sluiced pid=%d exceeds %zu bytes: disconnecting",
		       (int)d->sluiced_pid, sizeof(d->link_buf));
		close(d->link_fd);
		d->link_fd = -1;
	}
}
