# crypto/simd/: multi-buffer SHA-256 and vectorized canonicalization
# kernels with run-time CPU dispatch. The objects go into sluice_crypto
# (an extra prerequisite of its archive), so every program that links the
# DKIM engine gets the dispatched paths without naming another library.
#
# Only the kernel files get -m flags (EXTRA_CFLAGS_<file>), so the probe
# and the dispatchers run on any CPU of the architecture. The set of kernel
# files follows the target of $(CC): x86-64 or arm64.
#
#   make simd-aarch64   cross-build the library and its unit tests for
#                       arm64 into $(BUILD)/aarch64 (run them with
#                       tests/integration/simd_arm64.sh under qemu)
#   make bench-simd     run bench/simd (see docs/simd.md)

SIMD_ARCH := $(shell $(CC) -dumpmachine 2>/dev/null)
SIMD_SRCS := crypto/simd/cpu.c crypto/simd/sha256_scalar.c crypto/simd/sha256_mb.c \
	crypto/simd/canon_simd.c crypto/simd/canon_ref.c crypto/simd/canon_portable.c \
	crypto/simd/canon_engine.c crypto/simd/dkim_batch.c

ifneq ($(filter x86_64%,$(SIMD_ARCH)),)
SIMD_SRCS += crypto/simd/sha256_shani.c crypto/simd/sha256_avx2.c crypto/simd/sha256_avx512.c \
	crypto/simd/canon_avx2.c crypto/simd/canon_avx512.c
EXTRA_CFLAGS_crypto_simd_canon_avx2 = -mavx2
EXTRA_CFLAGS_crypto_simd_canon_avx512 = -mavx512f -mavx512bw -mavx512vl -mavx512vbmi2
EXTRA_CFLAGS_crypto_simd_sha256_shani = -msha -msse4.1
EXTRA_CFLAGS_crypto_simd_sha256_avx2 = -mavx2
EXTRA_CFLAGS_crypto_simd_sha256_avx512 = -mavx512f -mavx512bw -mavx512vl
endif
ifneq ($(filter aarch64%,$(SIMD_ARCH)),)
SIMD_SRCS += crypto/simd/sha256_armv8.c crypto/simd/sha256_neon.c crypto/simd/canon_neon.c
EXTRA_CFLAGS_crypto_simd_sha256_armv8 = -march=armv8-a+crypto
endif

SIMD_OBJS := $(call obj_of,$(SIMD_SRCS))
DEPFILES += $(SIMD_OBJS:.o=.d)
$(BUILD)/lib/libsluice_crypto.a: $(SIMD_OBJS)
$(eval $(call add_unit_test,test_simd_sha256,tests/unit/test_simd_sha256.c tests/unit/simd_testlib.c,sluice_crypto sluice_common,-lcrypto -lpthread))

$(eval $(call add_unit_test,test_simd_canon,tests/unit/test_simd_canon.c tests/unit/simd_testlib.c,sluice_crypto sluice_common,-lcrypto -lpthread))

$(eval $(call add_unit_test,test_simd_batch,tests/unit/test_simd_batch.c tests/unit/simd_testlib.c,sluice_crypto sluice_common,-lcrypto -lpthread))

SIMD_UNIT_TESTS := test_simd_sha256 test_simd_canon test_simd_batch test_ed25519
SIMD_CROSS_CC ?= aarch64-linux-gnu-gcc

.PHONY: simd-aarch64
simd-aarch64:
	@$(MAKE) --no-print-directory CC=$(SIMD_CROSS_CC) BUILD=$(BUILD)/aarch64 \
		$(addprefix $(BUILD)/aarch64/tests/,$(SIMD_UNIT_TESTS))

$(eval $(call add_bench,bench_simd,bench/simd/bench_sha256.cc bench/simd/bench_canon.cc bench/simd/bench_batch.cc bench/simd/bench_ed25519.cc,sluice_crypto sluice_common,-lcrypto -lbenchmark_main))

BENCH_TARGETS += bench-simd
.PHONY: bench-simd
bench-simd: $(BUILD)/bench/bench_simd
	$(BUILD)/bench/bench_simd --benchmark_min_time=0.2 \
		--benchmark_out=$(BUILD)/bench/simd.json --benchmark_out_format=json
	@/usr/bin/python3 bench/simd/summary.py $(BUILD)/bench/simd.json
