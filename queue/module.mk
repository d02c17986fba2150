# queue/: the durable spool (segments, group commit, recovery, index).
QUEUE_LDLIBS := -luring -lisal

$(eval $(call add_library,sluice_queue,$(wildcard queue/*.c)))
$(eval $(call add_unit_test,test_spool_record,tests/unit/test_spool_record.c,sluice_queue sluice_common,$(QUEUE_LDLIBS)))
$(eval $(call add_unit_test,test_spool,tests/unit/test_spool.c,sluice_queue sluice_common,$(QUEUE_LDLIBS)))

# Crash test: a writer that is killed with SIGKILL, and its checker.
$(eval $(call add_program,spool_crash_writer,tests/crash/spool_crash_writer.c,sluice_queue sluice_common,$(QUEUE_LDLIBS)))

.PHONY: crash-test
crash-test: $(BUILD)/bin/spool_crash_writer
	@BUILD=$(BUILD) bash tests/crash/spool_crash.sh
