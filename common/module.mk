# common/: small helpers shared by every module (logging).
$(eval $(call add_library,sluice_common,$(wildcard common/*.c)))
$(eval $(call add_unit_test,test_log,tests/unit/test_log.c,sluice_common,))
