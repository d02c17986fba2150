/*
 * crypto/simd/canon_engine.c - the DKIM engine's canonicalization function
 * tables (struct sl_canon_ops of crypto/canon.h) for the SIMD paths.
 *
 * Each table entry runs sl_canon_drive() with one block kernel, writing
 * through the engine's sink and using the engine's scalar chunk functions
 * for the pieces a block kernel leaves. sl_canon_simd_select() points
 * sl_canon_active at the table of the chosen path. cpu.c calls it once at
 * start, before worker threads, and again when a test forces a path.
 */
#include "crypto/simd/canon_simd.h"

static void sink_put(void *ctx, const uint8_t *p, size_t n)
{
	sl_sink_put(ctx, p, n);
}

static void sink_crlf(void *ctx, uint64_t count)
{
	sl_sink_crlf(ctx, count);
}

static void scalar_simple(void *ctx, struct sl_canon_body *st, const uint8_t *p, size_t n)
{
	sl_canon_body_simple_scalar(st, ctx, p, n);
}

static void scalar_relaxed(void *ctx, struct sl_canon_body *st, const uint8_t *p, size_t n)
{
	sl_canon_body_relaxed_scalar(st, ctx, p, n);
}

#define ENGINE_OPS(kset, label)                                                          \
	static void label##_simple(struct sl_canon_body *st, struct sl_sink *out,        \
				   const uint8_t *in, size_t len)                        \
	{                                                                                \
		struct sl_canon_target t = { out, sink_put, sink_crlf, scalar_simple };  \
		sl_canon_drive((kset).simple, st, &t, in, len);                          \
	}                                                                                \
	static void label##_relaxed(struct sl_canon_body *st, struct sl_sink *out,       \
				    const uint8_t *in, size_t len)                       \
	{                                                                                \
		struct sl_canon_target t = { out, sink_put, sink_crlf, scalar_relaxed }; \
		sl_canon_drive((kset).relaxed, st, &t, in, len);                         \
	}                                                                                \
	static void label##_header(struct sl_sink *out, const uint8_t *field, size_t len, \
				   int crlf)                                             \
	{                                                                                \
		(kset).header_relaxed(out, field, len, crlf);                            \
	}                                                                                \
	const struct sl_canon_ops sl_canon_ops_##label = {                               \
		.name = #label,                                                          \
		.body_simple = label##_simple,                                           \
		.body_relaxed = label##_relaxed,                                         \
		.header_relaxed = label##_header,                                        \
	};

#if defined(__x86_64__)
ENGINE_OPS(sl_canon_kernels_avx512, avx512)
ENGINE_OPS(sl_canon_kernels_avx2, avx2)
#endif
#if defined(__aarch64__)
ENGINE_OPS(sl_canon_kernels_neon, neon)
#endif

/* Table of PATH without the CPU check, which the probe itself calls. */
static const struct sl_canon_ops *ops_of(enum sl_simd_path path)
{
	switch (path) {
#if defined(__x86_64__)
	case SL_SIMD_AVX512:
		return &sl_canon_ops_avx512;
	case SL_SIMD_AVX2:
		return &sl_canon_ops_avx2;
#endif
#if defined(__aarch64__)
	case SL_SIMD_NEON:
	case SL_SIMD_SHA2:
		return &sl_canon_ops_neon;
#endif
	default:
		return &sl_canon_ops_scalar;
	}
}

const struct sl_canon_ops *sl_canon_ops_for(enum sl_simd_path path)
{
	if (!sl_simd_supported(path))
		return NULL;
	return ops_of(path);
}

/* Called by cpu.c with a path the CPU can run. */
void sl_canon_simd_select(enum sl_simd_path path)
{
	sl_canon_active = ops_of(path);
}
