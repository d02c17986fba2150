/*
 * ctl/sluicectl.h - the sluicectl command table.
 *
 * Each top-level command ("sluicectl NAME ...") is one function in its own
 * ctl/cmd_NAME.c, declared here and listed in the table in sluicectl.c.
 * It gets argv starting at its own name and returns the process exit
 * status: 0 success, 1 a negative result (for example no signature
 * passed), 2 a usage or input error.
 */
#ifndef SLUICE_CTL_SLUICECTL_H
#define SLUICE_CTL_SLUICECTL_H

#define SL_CTL_EXIT_OK    0
#define SL_CTL_EXIT_FAIL  1
#define SL_CTL_EXIT_USAGE 2

struct sl_ctl_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

int sl_ctl_cmd_dkim(int argc, char **argv);
/* Online commands: requests to sluice-ctld over the ctl socket. */
int sl_ctl_cmd_status(int argc, char **argv);
int sl_ctl_cmd_top(int argc, char **argv);
int sl_ctl_cmd_queue(int argc, char **argv);
int sl_ctl_cmd_keys(int argc, char **argv);
int sl_ctl_cmd_throttle(int argc, char **argv);
int sl_ctl_cmd_config(int argc, char **argv);

#endif
