/*
 * crypto/simd/canon_simd.h - vectorized DKIM canonicalization (internal
 * until the engine's function table is wired in).
 */
#ifndef SLUICE_CRYPTO_SIMD_CANON_SIMD_H
#define SLUICE_CRYPTO_SIMD_CANON_SIMD_H

#include "crypto/simd/cpu.h"

/* Point the canonicalization function table at PATH's kernels. */
void sl_canon_simd_select(enum sl_simd_path path);

#endif
