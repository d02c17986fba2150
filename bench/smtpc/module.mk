# bench/smtpc/: CPU cost of the SMTP client engine's data phase, DATA
# against BDAT on the same messages (make bench-smtpc), pinned to core
# $(BENCH_SMTPC_CORE).
$(eval $(call add_bench,bench_smtpc,bench/smtpc/bench_smtpc.cc,sluice_deliver sluice_common,))

BENCH_SMTPC_CORE ?= 1
BENCH_TARGETS += bench-smtpc

.PHONY: bench-smtpc
bench-smtpc: $(BUILD)/bench/bench_smtpc
	@BUILD=$(BUILD) CORE=$(BENCH_SMTPC_CORE) bash bench/smtpc/run.sh
