/*
 * dataplane/ctllink/snapshot.h - what sluice-ctld sends sluiced: signing
 * keys, signing policy, throttle rules, suspensions and queue actions.
 *
 * A snapshot is one JSON object on one line (the message format is in
 * docs/ctl-protocol.md, "Snapshot link"). sl_snapshot_from_json() builds
 * the immutable in-memory form that workers read after the link
 * publishes it; nothing in it changes after publication.
 *
 * Keys travel as file paths, never as key bytes: sluiced loads each key
 * file with the key_load hook while it builds the snapshot, so the
 * private socket carries no secret.
 */
#ifndef SLUICE_DATAPLANE_CTLLINK_SNAPSHOT_H
#define SLUICE_DATAPLANE_CTLLINK_SNAPSHOT_H

#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/throttle/policy.h"

struct sl_snap_key {
	char domain[254];
	char selector[64];
	char algorithm[8];	/* "rsa" or "ed25519" */
	char path[PATH_MAX];
	void *handle;		/* from key_load; NULL without the hook */
};

struct sl_snap_signer {
	char sender[254];	/* sender (From) domain */
	size_t *keys;		/* indexes into sl_snapshot.keys */
	size_t nkeys;
	uint32_t expire_s;	/* x= is t= plus this; 0: none */
	char identity[256];	/* i=, empty for none */
};

struct sl_snap_suspension {
	char key[128];		/* throttle key, for example "domain:example.com" */
	int64_t until;		/* seconds since the epoch */
	char reason[64];
};

enum sl_snap_action_kind {
	SL_SNAP_BOUNCE = 0,	/* bounce every queued message to the domain */
	SL_SNAP_RETRY,		/* retry every deferred message now */
	SL_SNAP_RESUME,		/* end suspensions and backoffs of the domain */
};

struct sl_snap_action {
	uint64_t seq;		/* increases; apply each sequence number once */
	enum sl_snap_action_kind kind;
	char domain[254];
};

struct sl_key_hooks {
	void *(*load)(const char *path, char *err, size_t errlen);
	void (*free)(void *handle);
};

struct sl_snapshot {
	uint64_t generation;
	int64_t created;
	struct sl_policy *policy;
	struct sl_snap_key *keys;
	size_t nkeys;
	struct sl_snap_signer *signers;
	size_t nsigners;
	struct sl_snap_suspension *suspensions;
	size_t nsuspensions;
	struct sl_snap_action *actions;
	size_t nactions;
};

struct sl_snapshot *sl_snapshot_from_json(json_t *msg, const struct sl_key_hooks *hooks,
					  char *err, size_t errlen);
void sl_snapshot_free(struct sl_snapshot *snap, const struct sl_key_hooks *hooks);

/* The signer for a sender domain, or NULL when it is not signed. */
const struct sl_snap_signer *sl_snapshot_signer(const struct sl_snapshot *snap,
						const char *sender_domain);

#endif
