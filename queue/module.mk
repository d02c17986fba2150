# queue/: the durable spool (segments, group commit, recovery, index).
QUEUE_LDLIBS := -luring -lisal

$(eval $(call add_library,sluice_queue,$(wildcard queue/*.c)))
$(eval $(call add_unit_test,test_spool_record,tests/unit/test_spool_record.c,sluice_queue sluice_common,$(QUEUE_LDLIBS)))
$(eval $(call add_unit_test,test_spool,tests/unit/test_spool.c,sluice_queue sluice_common,$(QUEUE_LDLIBS)))
