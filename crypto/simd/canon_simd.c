/*
 * crypto/simd/canon_simd.c - canonicalization kernel selection.
 */
#include "crypto/simd/canon_simd.h"

void sl_canon_simd_select(enum sl_simd_path path)
{
	(void)path;
}
