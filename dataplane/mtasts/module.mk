# MTA-STS: its sources are in sluice_deliver (dataplane/deliver/module.mk).
# This file registers the test of the delivery glue, which links all of
# sluiced's libraries; it is included after dataplane/module.mk, which
# defines DATAPLANE_LIBS.
$(eval $(call add_unit_test,test_deliver_sts,tests/unit/test_deliver_sts.c,$(DATAPLANE_LIBS),$(DATAPLANE_LDLIBS) $(DATAPLANE_ALLOC_LIBS)))
