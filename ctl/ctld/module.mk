# ctl/ctld/: sluice-ctld (key store, throttle policy, ctl socket, metrics,
# snapshots to sluiced) and the library its sluicectl commands share.
sluice_ctl_SRCS := ctl/keystore.c ctl/keycrypto.c ctl/yaml_json.c ctl/ctl_client.c
$(eval $(call add_library,sluice_ctl,$(sluice_ctl_SRCS)))

# The provider rules shipped in the source tree are the default for
# throttle.providers.
EXTRA_CFLAGS_ctl_config_config_throttle := -DSL_PROVIDERS_PATH='"$(abspath ctl/rules/providers.yaml)"'
$(eval $(call add_program,sluice-ctld,$(wildcard ctl/ctld/*.c),sluice_ctl sluice_config sluice_throttle sluice_ctllink sluice_crypto sluice_common,-ljansson -lfyaml -lcrypto -lrt))

$(eval $(call add_unit_test,test_keystore,tests/unit/test_keystore.c,sluice_ctl sluice_crypto sluice_common,-lcrypto))
