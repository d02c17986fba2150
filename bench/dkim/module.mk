# bench/dkim/: DKIM signing benchmark of sluice_crypto against libopendkim
# and "openssl speed" (make bench-dkim). Both the benchmark binary and
# openssl run pinned to core $(BENCH_DKIM_CORE).
$(eval $(call add_bench,bench_dkim,bench/dkim/bench_dkim.cc,sluice_crypto sluice_common,-lopendkim -lcrypto -lpthread))

BENCH_DKIM_CORE ?= 1
BENCH_TARGETS += bench-dkim

.PHONY: bench-dkim
bench-dkim: $(BUILD)/bench/bench_dkim
	@BUILD=$(BUILD) CORE=$(BENCH_DKIM_CORE) bash bench/dkim/run.sh
