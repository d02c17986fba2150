# queue/: the durable spool (segments, group commit, recovery, index).
# Programs that link sluice_queue also link "-luring -lisal" (module.mk files
# of other folders may be read before this one, so spell the flags out).
QUEUE_LDLIBS := -luring -lisal

$(eval $(call add_library,sluice_queue,$(wildcard queue/*.c)))
$(eval $(call add_unit_test,test_spool_record,tests/unit/test_spool_record.c,sluice_queue sluice_common,$(QUEUE_LDLIBS)))
$(eval $(call add_unit_test,test_spool,tests/unit/test_spool.c,sluice_queue sluice_common,$(QUEUE_LDLIBS)))

# Crash test: a writer that is killed with SIGKILL, and its checker.
$(eval $(call add_program,spool_crash_writer,tests/crash/spool_crash_writer.c,sluice_queue sluice_common,$(QUEUE_LDLIBS)))

.PHONY: crash-test
crash-test: $(BUILD)/bin/spool_crash_writer
	@BUILD=$(BUILD) bash tests/crash/spool_crash.sh

# Benchmark: appends, flush latency and reads against fio, recovery time
# and index size (bench/spool/run.sh).
$(eval $(call add_bench,spool_bench,bench/spool/spool_bench.cc,sluice_queue sluice_common,$(QUEUE_LDLIBS)))
BENCH_TARGETS += bench-spool

.PHONY: bench-spool
bench-spool: $(BUILD)/bench/spool_bench
	@BUILD=$(BUILD) bash bench/spool/run.sh
