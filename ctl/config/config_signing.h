/*
 * ctl/config/config_signing.h - the "signing" section: DKIM keys used by
 * sluiced at send time, until the control daemon's key store takes this
 * over.
 */
#ifndef SLUICE_CTL_CONFIG_SIGNING_H
#define SLUICE_CTL_CONFIG_SIGNING_H

#include "ctl/config/config.h"

struct sl_config_signing {
	struct sl_config_strings keys;   /* "DOMAIN SELECTOR KEYFILE" */
	uint64_t expiry;                 /* ms added to t= for x=; 0: no x= */
};

extern const struct sl_config_section sl_config_section_signing;

static inline const struct sl_config_signing *sl_config_signing(const struct sl_config *cfg)
{
	return sl_config_get(cfg, &sl_config_section_signing);
}

#endif
