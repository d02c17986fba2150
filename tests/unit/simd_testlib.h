/*
 * tests/unit/simd_testlib.h - helpers shared by the test_simd_* tests:
 * a seeded random generator and the list of SIMD paths to test.
 */
#ifndef SLUICE_TESTS_SIMD_TESTLIB_H
#define SLUICE_TESTS_SIMD_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/simd/cpu.h"

/* xorshift64* generator; the same seed gives the same sequence. */
struct test_rng {
	uint64_t s;
};

void rng_seed(struct test_rng *r, uint64_t seed);
uint64_t rng_next(struct test_rng *r);
/* Uniform value in [0, n) for n > 0. */
size_t rng_below(struct test_rng *r, size_t n);
void rng_fill(struct test_rng *r, uint8_t *p, size_t n);

/*
 * Fill paths[] with every path this CPU can run and return the count.
 * Fails the test when a path named in SLUICE_SIMD_REQUIRE (comma-separated)
 * is not among them, so that a CI run on a given CPU cannot skip one.
 */
size_t simd_test_paths(enum sl_simd_path paths[SL_SIMD_COUNT]);

#endif
