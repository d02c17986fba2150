/*
 * ctl/ctl_client.c - ctl protocol client for sluicectl. See
 * ctl_client.h.
 */
#include "ctl/ctl_client.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl/yaml_json.h"

/* Seconds to wait for a response; key generation of RSA-4096 is the
 * slowest request. */
#define RESPONSE_TIMEOUT_MS 60000

static int ctl_fd = -1;
static char inbuf[1 << 20];
static size_t inlen;

const char *sl_ctl_flag(int argc, char **argv, int *i, const char *name, bool *bad)
{
	if (strcmp(argv[*i], name) != 0)
		return NULL;
	if (*i + 1 >= argc) {
		fprintf(stderr, "sluicectl: option %s needs a value\n", name);
		*bad = true;
		return NULL;
	}
	*i += 1;
	return argv[*i];
}

int sl_ctl_options(int *argc, char **argv, struct sl_ctl_opts *opts)
{
	int i, out = 1;
	bool bad = false;

	for (i = 1; i < *argc; i++) {
		const char *v;

		if (strcmp(argv[i], "--json") == 0)
			opts->json = true;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			opts->help = true;
		else if ((v = sl_ctl_flag(*argc, argv, &i, "--socket", &bad)))
			opts->socket = v;
		else if ((v = sl_ctl_flag(*argc, argv, &i, "--config", &bad)))
			opts->config = v;
		else if (bad)
			return 2;
		else
			argv[out++] = argv[i];
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

static const char *socket_path(const struct sl_ctl_opts *opts, char *buf, size_t len)
{
	const char *env = getenv("SLUICE_CTL_SOCKET");
	char err[256];
	json_t *root;

	if (opts->socket)
		return opts->socket;
	if (env && *env)
		return env;
	if (opts->config && (root = sl_yaml_file_to_json(opts->config, err, sizeof(err)))) {
		const char *s = json_string_value(json_object_get(json_object_get(root, "ctl"), "socket"));

		snprintf(buf, len, "%s", s ? s : "/run/sluice/ctl.sock");
		json_decref(root);
		return buf;
	}
	if (opts->config)
		fprintf(stderr, "sluicectl: %s\n", err);
	return "/run/sluice/ctl.sock";
}

static int connect_ctl(const struct sl_ctl_opts *opts)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char buf[108];
	const char *path = socket_path(opts, buf, sizeof(buf));
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "sluicectl: socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		int e = errno;

		fprintf(stderr, "sluicectl: connect to %s failed: %s%s\n", path, strerror(e),
			e == EACCES ? " (the ctl socket admits root, its owner and its group)"
				    : e == ENOENT || e == ECONNREFUSED ? " (is sluice-ctld running?)" : "");
		if (fd >= 0)
			close(fd);
		return -e;
	}
	return fd;
}

static json_t *read_response(void)
{
	for (;;) {
		char *nl = memchr(inbuf, '\n', inlen);
		struct pollfd p = { ctl_fd, POLLIN, 0 };
		ssize_t n;

		if (nl) {
			json_error_t jerr;
			json_t *msg;

			*nl = '\0';
			msg = json_loads(inbuf, 0, &jerr);
			inlen -= (size_t)(nl + 1 - inbuf);
			memmove(inbuf, nl + 1, inlen);
			return msg;
		}
		if (inlen >= sizeof(inbuf) - 1 || poll(&p, 1, RESPONSE_TIMEOUT_MS) != 1)
			return NULL;
		n = recv(ctl_fd, inbuf + inlen, sizeof(inbuf) - 1 - inlen, 0);
		if (n <= 0)
			return NULL;
		inlen += (size_t)n;
	}
}

int sl_ctl_call(const struct sl_ctl_opts *opts, const char *command, json_t *args,
		json_t **result)
{
	json_t *req = json_pack("{s:s, s:o}", "command", command, "args", args ? args : json_object());
	json_t *resp, *error;
	char *text;
	size_t len, off = 0;
	int status;

	*result = NULL;
	if (ctl_fd < 0 && (ctl_fd = connect_ctl(opts)) < 0) {
		json_decref(req);
		return 1;
	}
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	len = strlen(text);
	text[len++] = '\n';	/* replaces the NUL that json_dumps wrote */
	while (off < len) {
		ssize_t n = send(ctl_fd, text + off, len - off, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(text);
	/* After a failed send, sluice-ctld may still have sent a reason
	 * (a rejected peer gets one error response before the close). */
	resp = read_response();
	if (!resp) {
		fprintf(stderr, "sluicectl: %s to sluice-ctld failed: %s\n", command,
			off < len ? "connection closed while sending" : "no valid response");
		return 1;
	}
	if (json_is_true(json_object_get(resp, "ok"))) {
		*result = json_incref(json_object_get(resp, "result"));
		json_decref(resp);
		return 0;
	}
	error = json_object_get(resp, "error");
	fprintf(stderr, "sluicectl: %s\n", json_string_value(json_object_get(error, "message")) ?: "request failed");
	/* A rejected argument is an input error (2); others failed (1). */
	status = json_is_string(json_object_get(error, "field")) ? 2 : 1;
	json_decref(resp);
	return status;
}

void sl_ctl_print_json(json_t *result)
{
	json_dumpf(result, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', stdout);
}

const char *sl_ctl_time(long long epoch, char *buf, size_t len)
{
	time_t t = (time_t)epoch;
	struct tm tm;

	if (epoch <= 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm);
	return buf;
}
