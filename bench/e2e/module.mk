# bench/e2e/: end-to-end benchmark, sluiced (RSA-2048 plus Ed25519 at send
# time) against Postfix with OpenDKIM, both relaying into smtp-sink
# (make bench-e2e). See bench/e2e/run.sh.
BENCH_TARGETS += bench-e2e

.PHONY: bench-e2e
bench-e2e: $(BUILD)/bin/sluiced $(BUILD)/bin/sluicectl
	@BUILD=$(BUILD) bash bench/e2e/run.sh
