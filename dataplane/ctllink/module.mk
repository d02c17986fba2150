# dataplane/ctllink/: sluiced's end of the link to sluice-ctld (snapshot
# receiver) and the shared-memory counters that sluice-ctld reads.
$(eval $(call add_library,sluice_ctllink,$(wildcard dataplane/ctllink/*.c)))
$(eval $(call add_unit_test,test_ctl_link,tests/unit/test_ctl_link.c,sluice_ctllink sluice_throttle sluice_common,-ljansson -lpthread -lrt))
