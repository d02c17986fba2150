/*
 * ctl/ctl_client.h - the client side of the ctl protocol, shared by the
 * sluicectl commands that talk to sluice-ctld.
 *
 * Common options, accepted anywhere after the command name:
 *   --socket PATH   the ctl socket (else $SLUICE_CTL_SOCKET, else
 *                   ctl.socket of --config, else /run/sluice/ctl.sock)
 *   --config FILE   the sluice configuration file, to find the socket
 *   --json          print the response's result as JSON, for scripts
 * sl_ctl_options() removes them from argv and leaves the rest in order.
 *
 * sl_ctl_call() sends one request and returns the result; on a failure
 * it prints one line to stderr and returns the exit status (1 failed,
 * 2 invalid argument according to sluice-ctld).
 */
#ifndef SLUICE_CTL_CTL_CLIENT_H
#define SLUICE_CTL_CTL_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

struct sl_ctl_opts {
	const char *socket;
	const char *config;
	bool json;
	bool help;
};

/* Returns 0, or 2 after printing a usage error. */
int sl_ctl_options(int *argc, char **argv, struct sl_ctl_opts *opts);

/* Connects (once per process) and makes one request. ARGS is consumed.
 * Returns 0 with *result set (caller frees), or an exit status. */
int sl_ctl_call(const struct sl_ctl_opts *opts, const char *command, json_t *args,
		json_t **result);

/* Prints RESULT as indented JSON on stdout. */
void sl_ctl_print_json(json_t *result);

/* Formats seconds since the epoch as "2026-12-04 21:30:00Z", 0 as "-". */
const char *sl_ctl_time(long long epoch, char *buf, size_t len);

/* Reads "--name VALUE" at argv[*i]; returns VALUE and advances *i, or
 * NULL when argv[*i] is not NAME. Prints a usage error and sets *bad
 * when VALUE is missing. */
const char *sl_ctl_flag(int argc, char **argv, int *i, const char *name, bool *bad);

#define SL_CTL_COMMON_HELP \
	"common options: --socket PATH, --config FILE, --json\n"

#endif
