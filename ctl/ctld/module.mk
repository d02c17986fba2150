# ctl/ctld/: sluice-ctld (key store, throttle policy, ctl socket, metrics,
# snapshots to sluiced) and the library its sluicectl commands share.
sluice_ctl_SRCS := ctl/keystore.c ctl/keycrypto.c
$(eval $(call add_library,sluice_ctl,$(sluice_ctl_SRCS)))
$(eval $(call add_unit_test,test_keystore,tests/unit/test_keystore.c,sluice_ctl,-lcrypto))
