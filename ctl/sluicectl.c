/*
 * ctl/sluicectl.c - sluicectl, the sluice command-line tool: dispatch.
 *
 * "sluicectl COMMAND ARGS..." looks COMMAND up in commands[] and runs its
 * function with argv starting at COMMAND. To add a command, write
 * ctl/cmd_NAME.c, declare its function in ctl/sluicectl.h and add one
 * line to the table.
 */
#include <stdio.h>
#include <string.h>

#include "ctl/sluicectl.h"

static const struct sl_ctl_command commands[] = {
	{ "dkim", sl_ctl_cmd_dkim, "sign, verify and make keys for DKIM, offline" },
	{ "status", sl_ctl_cmd_status, "state of sluice-ctld, sluiced and the counters" },
	{ "top", sl_ctl_cmd_top, "live per-worker rates and the largest queues" },
	{ "queue", sl_ctl_cmd_queue, "queue summary; suspend, resume, bounce, retry a domain" },
	{ "keys", sl_ctl_cmd_keys, "list, generate, import, rotate, retire keys; DNS records" },
	{ "throttle", sl_ctl_cmd_throttle, "show the policy of a destination; set a rule" },
	{ "config", sl_ctl_cmd_config, "reload the configuration file" },
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: sluicectl COMMAND [ARGS...]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n\"sluicectl COMMAND --help\" describes a command.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return SL_CTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return SL_CTL_EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "sluicectl: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return SL_CTL_EXIT_USAGE;
}
