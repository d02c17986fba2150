/*
 * crypto/simd/cpu.h - CPU feature probe and SIMD path selection.
 *
 * sluice picks one SIMD path at start from the CPU's features (cpuid on
 * x86-64, getauxval(AT_HWCAP) on arm64). The path decides which kernels
 * the multi-buffer SHA-256 and the canonicalizers use. Every path has the
 * portable scalar code as its reference.
 *
 *   scalar   portable C only (every CPU)
 *   avx2     x86-64 AVX2: 8-lane SHA-256, 32-byte canonicalization
 *   avx512   x86-64 AVX-512 F+BW+VL+VBMI2: 16-lane SHA-256, 64-byte
 *            canonicalization with byte compress
 *   neon     arm64 Advanced SIMD: 4-lane SHA-256, 16-byte canonicalization
 *   sha2     arm64 SHA-2 instructions, several buffers interleaved, and the
 *            NEON canonicalization
 *
 * The environment variable SLUICE_SIMD=NAME forces a path. A forced path
 * that the CPU lacks is rejected with a warning and the best path is used.
 * sl_simd_init() probes once and logs the choice once; it is safe to call
 * again. sl_simd_force() switches paths at run time, for tests and
 * benchmarks only: call it before worker threads start.
 */
#ifndef SLUICE_CRYPTO_SIMD_CPU_H
#define SLUICE_CRYPTO_SIMD_CPU_H

#include <stdint.h>

enum sl_simd_path {
	SL_SIMD_SCALAR = 0,
	SL_SIMD_AVX2,
	SL_SIMD_AVX512,
	SL_SIMD_NEON,
	SL_SIMD_SHA2,
	SL_SIMD_COUNT,
};

/* CPU features that the kernels need, as probed. */
enum sl_cpu_feature {
	SL_CPU_AVX2 = 1u << 0,
	SL_CPU_AVX512 = 1u << 1,  /* F, BW, VL and VBMI2, with OS support */
	SL_CPU_SHA_NI = 1u << 2,  /* x86 SHA extensions (with SSE4.1) */
	SL_CPU_NEON = 1u << 3,
	SL_CPU_ARM_SHA2 = 1u << 4,
};

/* Probe the CPU (once), apply SLUICE_SIMD, log the choice; returns the path. */
enum sl_simd_path sl_simd_init(void);

/* Path in use (runs sl_simd_init on first call). */
enum sl_simd_path sl_simd_current(void);

/* Features found by the probe, as enum sl_cpu_feature bits. */
unsigned sl_cpu_features(void);

/* 1 when this CPU can run PATH. */
int sl_simd_supported(enum sl_simd_path path);

/* Switch to PATH; returns 0, or -ENOTSUP when the CPU cannot run it. */
int sl_simd_force(enum sl_simd_path path);

/* Name of PATH ("scalar", "avx2", ...) and the reverse; -1 if unknown. */
const char *sl_simd_name(enum sl_simd_path path);
int sl_simd_parse(const char *name);

#endif
