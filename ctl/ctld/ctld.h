/*
 * ctl/ctld/ctld.h - sluice-ctld's shared state and the functions its
 * files offer each other.
 *
 * sluice-ctld is one thread with one poll() loop over: the ctl socket
 * and its clients (JSON lines, ctl_server.c), the private link socket
 * and the connected sluiced (link.c), and the metrics listener and its
 * HTTP clients (metrics.c). Once a second it advances key rotation and
 * expires suspensions. Every change that sluiced must know about bumps
 * the snapshot generation and pushes a new snapshot.
 */
#ifndef SLUICE_CTL_CTLD_CTLD_H
#define SLUICE_CTL_CTLD_CTLD_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "ctl/keystore.h"
#include "dataplane/ctllink/metrics_shm.h"
#include "dataplane/throttle/policy.h"

#define CTLD_ERR_MAX 512
#define CTLD_CLIENTS_MAX 64
#define CTLD_ACTIONS_MAX 64

struct ctld_config {
	char path[PATH_MAX];		/* the configuration file */
	char socket[108];
	mode_t socket_mode;
	uid_t socket_owner;
	gid_t socket_group;
	char link_socket[108];
	uid_t sluiced_uid;
	char state_path[PATH_MAX];
	char metrics_host[64];
	char metrics_port[8];
	char shm_name[64];
	char keys_dir[PATH_MAX - 2 * SL_DOMAIN_MAX];
	uint32_t overlap_s, retire_after_s, expire_s;
	json_t *signing;		/* [{sender, domains, expire, identity}] */
	json_t *rules;			/* providers' rules, then configured ones */
	char providers_path[PATH_MAX];
	int log_level;
};

struct ctld_client {
	int fd;
	uid_t uid;
	pid_t pid;
	size_t len;
	char buf[65536];
};

struct ctld {
	struct ctld_config cfg;
	struct sl_keystore keys;
	struct sl_policy *policy;	/* rules plus operator overrides */
	json_t *merged_rules;		/* the JSON that policy was built from */
	json_t *overrides;		/* operator rules from "throttle set" */
	json_t *suspensions;		/* [{key, domain, until, reason}] */
	json_t *actions;		/* [{seq, action, domain}] */
	uint64_t action_seq;
	uint64_t generation;
	uint64_t acked_generation;
	time_t started;

	int ctl_fd;
	struct ctld_client *clients[CTLD_CLIENTS_MAX];
	int link_listen_fd;
	int link_fd;
	pid_t sluiced_pid;
	size_t link_len;
	char link_buf[4096];
	int metrics_fd;
	const struct sl_shm *shm;
};

/* config.c */
int ctld_config_load(const char *path, struct ctld_config *cfg, char *err, size_t errlen);
void ctld_config_free(struct ctld_config *cfg);

/* state.c: operator state that survives restarts. */
int ctld_state_load(struct ctld *d, char *err, size_t errlen);
int ctld_state_save(struct ctld *d);
int ctld_policy_rebuild(struct ctld *d, json_t *overrides, char *err, size_t errlen);
void ctld_state_expire(struct ctld *d, time_t now);

/* link.c */
int ctld_link_listen(struct ctld *d, char *err, size_t errlen);
void ctld_link_accept(struct ctld *d);
void ctld_link_read(struct ctld *d);
void ctld_changed(struct ctld *d);	/* bump the generation and push */
json_t *ctld_snapshot_build(struct ctld *d);

/* ctl_server.c */
int ctld_ctl_listen(struct ctld *d, char *err, size_t errlen);
void ctld_ctl_accept(struct ctld *d);
void ctld_ctl_read(struct ctld *d, int index);

/* commands.c: handles one request; returns the response object. */
json_t *ctld_command(struct ctld *d, json_t *request, uid_t peer);

/* metrics.c */
int ctld_metrics_listen(struct ctld *d, char *err, size_t errlen);
void ctld_metrics_serve(struct ctld *d);
const struct sl_shm *ctld_shm(struct ctld *d);
char *ctld_metrics_text(struct ctld *d);

/* Responses. */
json_t *ctld_ok(json_t *result);
json_t *ctld_error(const char *field, json_t *allowed, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
