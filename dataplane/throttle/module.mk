# dataplane/throttle/: GCRA rate limits, throttle rules with backoff and
# the live per-key state shared by sluiced's workers. sluice-ctld links it
# too, to validate rules and show the resolved policy of a destination.
$(eval $(call add_library,sluice_throttle,$(wildcard dataplane/throttle/*.c)))
$(eval $(call add_unit_test,test_throttle_gcra,tests/unit/test_throttle_gcra.c,sluice_throttle,-lpthread))
$(eval $(call add_unit_test,test_throttle_policy,tests/unit/test_throttle_policy.c,sluice_throttle,-ljansson))
$(eval $(call add_unit_test,test_throttle_state,tests/unit/test_throttle_state.c,sluice_throttle,-ljansson -lpthread))
$(eval $(call add_unit_test,test_throttle_enforce,tests/unit/test_throttle_enforce.c,sluice_throttle,-ljansson))
