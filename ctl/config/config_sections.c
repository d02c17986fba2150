/*
 * ctl/config/config_sections.c - the table of configuration sections.
 *
 * A module adds its section as ctl/config/config_NAME.c with a
 * "const struct sl_config_section sl_config_section_NAME" and one line in
 * each list below.
 */
#include "ctl/config/config.h"

extern const struct sl_config_section sl_config_section_sluiced;
extern const struct sl_config_section sl_config_section_smtp;
extern const struct sl_config_section sl_config_section_http;
extern const struct sl_config_section sl_config_section_spool;
extern const struct sl_config_section sl_config_section_delivery;
extern const struct sl_config_section sl_config_section_signing;
extern const struct sl_config_section sl_config_section_ctl;
extern const struct sl_config_section sl_config_section_metrics;
extern const struct sl_config_section sl_config_section_keys;
extern const struct sl_config_section sl_config_section_throttle;
extern const struct sl_config_section sl_config_section_fleet;

const struct sl_config_section *const sl_config_sections[] = {
	&sl_config_section_sluiced,
	&sl_config_section_smtp,
	&sl_config_section_http,
	&sl_config_section_spool,
	&sl_config_section_delivery,
	&sl_config_section_signing,
	&sl_config_section_ctl,
	&sl_config_section_metrics,
	&sl_config_section_keys,
	&sl_config_section_throttle,
	&sl_config_section_fleet,
	NULL,
};
