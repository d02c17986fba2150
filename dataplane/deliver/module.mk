# Delivery engine: SMTP client, DNS and routes, scheduler, DSN and
# accounting. Its sources sit in dataplane/ next to the rest of sluiced;
# this file lives one folder deeper so it never collides with
# dataplane/module.mk.
DELIVER_SRCS := dataplane/smtp_client.c dataplane/dns.c dataplane/route.c \
	dataplane/acct.c dataplane/dsn.c dataplane/sched.c \
	dataplane/deliver_sign.c dataplane/deliver.c dataplane/deliver_outcome.c \
	dataplane/deliver_throttle.c dataplane/deliver_ctlsign.c dataplane/tls_failures.c \
	dataplane/mta_sts.c dataplane/mta_sts_fetch.c dataplane/deliver_sts.c

$(eval $(call add_library,sluice_deliver,$(DELIVER_SRCS)))
$(eval $(call add_unit_test,test_smtp_client,tests/unit/test_smtp_client.c,sluice_deliver sluice_common,))
$(eval $(call add_unit_test,test_deliver_dns,tests/unit/test_deliver_dns.c,sluice_deliver sluice_common,-lcares -lpthread))
$(eval $(call add_unit_test,test_deliver_parts,tests/unit/test_deliver_parts.c,sluice_deliver sluice_common,-lpthread))
$(eval $(call add_unit_test,test_deliver_sched,tests/unit/test_deliver_sched.c,sluice_deliver sluice_common,))
$(eval $(call add_unit_test,test_deliver_sign,tests/unit/test_deliver_sign.c,sluice_deliver sluice_crypto sluice_common,-lcrypto))
$(eval $(call add_unit_test,test_deliver_config,tests/unit/test_deliver_config.c,sluice_config sluice_common,-lfyaml))
$(eval $(call add_unit_test,test_sched_throttle,tests/unit/test_sched_throttle.c,sluice_deliver sluice_common,))
$(eval $(call add_unit_test,test_tls_failures,tests/unit/test_tls_failures.c,sluice_deliver,-lpthread))
$(eval $(call add_unit_test,test_mta_sts,tests/unit/test_mta_sts.c,sluice_deliver,-lpthread))
