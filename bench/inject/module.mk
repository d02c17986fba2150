# bench/inject/: SMTP injection benchmark, sluiced against Postfix's smtpd
# and cleanup (mail held in Postfix's queue), both driven by smtp-source
# and both flushing to disk (make bench-inject). See bench/inject/run.sh.
BENCH_TARGETS += bench-inject

.PHONY: bench-inject
bench-inject: $(BUILD)/bin/sluiced
	@BUILD=$(BUILD) bash bench/inject/run.sh
