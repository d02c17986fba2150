# ctl/config/: the YAML configuration loader that sluiced and sluice-ctld
# link. Every ctl/config/config*.c is part of the library, so a new section
# file needs no edit here.
$(eval $(call add_library,sluice_config,$(wildcard ctl/config/*.c)))
$(eval $(call add_unit_test,test_config,tests/unit/test_config.c,sluice_config sluice_common,-lfyaml))
