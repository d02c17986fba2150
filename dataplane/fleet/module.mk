# dataplane/fleet/: sluiced's fleet throttle service, the thread that
# leases fleet-wide rate limit slots from Redis (hiredis). Its source sits
# in dataplane/ next to the rest of sluiced; the lease accounting it
# drives is dataplane/throttle/fleet.c.
$(eval $(call add_library,sluice_fleet,dataplane/fleet_redis.c))
$(eval $(call add_unit_test,test_throttle_fleet,tests/unit/test_throttle_fleet.c,sluice_throttle,-ljansson))
$(eval $(call add_unit_test,test_config_fleet,tests/unit/test_config_fleet.c,sluice_config sluice_common,-lfyaml))
