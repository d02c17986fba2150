# bench/sluice-bench/: sluice-bench, the instance report a buyer runs on a
# candidate machine (docs/sluice-bench.md). Everything but main.c goes
# into sluice_bench so that the unit tests link the writers and parsers.
SLUICE_BENCH_SRCS := bench/sluice-bench/args.c bench/sluice-bench/cleanup.c \
	bench/sluice-bench/compare.c bench/sluice-bench/facts.c \
	bench/sluice-bench/measure_e2e.c bench/sluice-bench/measure_sha.c \
	bench/sluice-bench/measure_sign.c bench/sluice-bench/measure_spool.c \
	bench/sluice-bench/metrics.c bench/sluice-bench/report.c bench/sluice-bench/svg.c \
	bench/sluice-bench/threads.c bench/sluice-bench/util.c
SLUICE_BENCH_LIBS := sluice_bench sluice_queue sluice_crypto sluice_common
SLUICE_BENCH_LDLIBS := -ljansson -lcrypto -luring -lisal -lpthread -lm

$(eval $(call add_library,sluice_bench,$(SLUICE_BENCH_SRCS)))
$(eval $(call add_program,sluice-bench,bench/sluice-bench/main.c,$(SLUICE_BENCH_LIBS),$(SLUICE_BENCH_LDLIBS)))
$(eval $(call add_unit_test,test_sluice_bench,tests/unit/test_sluice_bench.c,$(SLUICE_BENCH_LIBS),$(SLUICE_BENCH_LDLIBS)))

# make bench-instance: a --quick report of this machine in
# $(BUILD)/bench/instance (the end-to-end part needs sluiced).
BENCH_TARGETS += bench-instance

.PHONY: bench-instance
bench-instance: $(BUILD)/bin/sluice-bench $(BUILD)/bin/sluiced
	@mkdir -p $(BUILD)/bench/instance $(BUILD)/tmp
	$(BUILD)/bin/sluice-bench run --quick --out $(BUILD)/bench/instance --spool-path $(BUILD)/tmp
