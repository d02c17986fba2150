/*
 * tests/unit/simd_testlib.c - see simd_testlib.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/simd_testlib.h"

void rng_seed(struct test_rng *r, uint64_t seed)
{
	r->s = seed * 0x9e3779b97f4a7c15ULL + 1;
}

uint64_t rng_next(struct test_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

size_t rng_below(struct test_rng *r, size_t n)
{
	return (size_t)(rng_next(r) % n);
}

void rng_fill(struct test_rng *r, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(rng_next(r) >> 56);
}

size_t simd_test_paths(enum sl_simd_path paths[SL_SIMD_COUNT])
{
	const char *require = getenv("SLUICE_SIMD_REQUIRE");
	size_t n = 0;

	for (int p = 0; p < SL_SIMD_COUNT; p++) {
		if (sl_simd_supported((enum sl_simd_path)p))
			paths[n++] = (enum sl_simd_path)p;
	}
	if (require != NULL) {
		char list[128], *save = NULL;

		snprintf(list, sizeof(list), "%s", require);
		for (char *name = strtok_r(list, ",", &save); name != NULL;
		     name = strtok_r(NULL, ",", &save)) {
			int p = sl_simd_parse(name);

			if (p < 0 || !sl_simd_supported((enum sl_simd_path)p))
				fail_msg("SLUICE_SIMD_REQUIRE names path %s, which this CPU cannot run", name);
		}
	}
	return n;
}
