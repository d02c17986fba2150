/*
 * crypto/simd/cpu.c - see cpu.h for the contract.
 *
 * The probe runs once (pthread_once). The dispatchers read the chosen path
 * with an atomic load. sl_simd_force() changes it, and it is meant for
 * tests and benchmarks, before worker threads start.
 */
#include "crypto/simd/cpu.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "crypto/simd/canon_simd.h"

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#include <asm/hwcap.h>
#endif

static const char *const path_names[SL_SIMD_COUNT] = {
	[SL_SIMD_SCALAR] = "scalar",
	[SL_SIMD_AVX2] = "avx2",
	[SL_SIMD_AVX512] = "avx512",
	[SL_SIMD_NEON] = "neon",
	[SL_SIMD_SHA2] = "sha2",
};

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static unsigned cpu_features;
static int current_path = SL_SIMD_SCALAR;

#if defined(__x86_64__)
static uint64_t read_xcr0(void)
{
	uint32_t eax, edx;

	__asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
	return ((uint64_t)edx << 32) | eax;
}

static unsigned probe_features(void)
{
	unsigned eax, ebx, ecx, edx, max_leaf, found = 0;
	uint64_t xcr0;
	int sse41;

	if (!__get_cpuid(0, &max_leaf, &ebx, &ecx, &edx) || max_leaf < 7)
		return 0;
	__get_cpuid(1, &eax, &ebx, &ecx, &edx);
	sse41 = (ecx >> 19) & 1;
	if (!((ecx >> 27) & 1))     /* OSXSAVE: the OS saves vector state */
		return 0;
	xcr0 = read_xcr0();
	__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx);

	/* XCR0 bits: 1 SSE, 2 AVX, 5-7 AVX-512 opmask and upper registers. */
	if ((xcr0 & 0x6) == 0x6 && ((ebx >> 5) & 1))
		found |= SL_CPU_AVX2;
	if ((xcr0 & 0xe6) == 0xe6 && ((ebx >> 16) & 1) && ((ebx >> 30) & 1) &&
	    ((ebx >> 31) & 1) && ((ecx >> 6) & 1))
		found |= SL_CPU_AVX512;  /* F, BW, VL, VBMI2 */
	if (((ebx >> 29) & 1) && sse41)
		found |= SL_CPU_SHA_NI;
	return found;
}
#elif defined(__aarch64__)
static unsigned probe_features(void)
{
	unsigned long hwcap = getauxval(AT_HWCAP);
	unsigned found = 0;

	if (hwcap & HWCAP_ASIMD)
		found |= SL_CPU_NEON;
	if ((hwcap & HWCAP_ASIMD) && (hwcap & HWCAP_SHA2))
		found |= SL_CPU_ARM_SHA2;
	return found;
}
#else
static unsigned probe_features(void)
{
	return 0;
}
#endif

/* Features each path needs. */
static const unsigned path_needs[SL_SIMD_COUNT] = {
	[SL_SIMD_SCALAR] = 0,
	[SL_SIMD_AVX2] = SL_CPU_AVX2,
	[SL_SIMD_AVX512] = SL_CPU_AVX2 | SL_CPU_AVX512,
	[SL_SIMD_NEON] = SL_CPU_NEON,
	[SL_SIMD_SHA2] = SL_CPU_NEON | SL_CPU_ARM_SHA2,
};

static int path_fits(enum sl_simd_path path)
{
	return (cpu_features & path_needs[path]) == path_needs[path];
}

static enum sl_simd_path best_path(void)
{
	static const enum sl_simd_path order[] = {
		SL_SIMD_AVX512, SL_SIMD_AVX2, SL_SIMD_SHA2, SL_SIMD_NEON,
	};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (path_fits(order[i]))
			return order[i];
	}
	return SL_SIMD_SCALAR;
}

static void apply_path(enum sl_simd_path path)
{
	__atomic_store_n(&current_path, (int)path, __ATOMIC_RELEASE);
	sl_canon_simd_select(path);
}

static void probe(void)
{
	const char *forced = getenv("SLUICE_SIMD");
	enum sl_simd_path path;
	int parsed;

	cpu_features = probe_features();
	path = best_path();
	if (forced != NULL && *forced != '\0') {
		parsed = sl_simd_parse(forced);
		if (parsed < 0)
			sl_warn("simd: SLUICE_SIMD=%s is not a path name (scalar, avx2, avx512, neon, sha2); using %s",
				forced, path_names[path]);
		else if (!path_fits((enum sl_simd_path)parsed))
			sl_warn("simd: SLUICE_SIMD=%s needs instructions this CPU lacks; using %s",
				forced, path_names[path]);
		else
			path = (enum sl_simd_path)parsed;
	}
	apply_path(path);
	sl_info("simd: path=%s features=%s%s%s%s%s forced=%s", path_names[path],
		cpu_features & SL_CPU_AVX2 ? "avx2," : "",
		cpu_features & SL_CPU_AVX512 ? "avx512," : "",
		cpu_features & SL_CPU_SHA_NI ? "sha-ni," : "",
		cpu_features & SL_CPU_NEON ? "neon," : "",
		cpu_features & SL_CPU_ARM_SHA2 ? "sha2," : "",
		forced != NULL && *forced != '\0' ? forced : "no");
}

enum sl_simd_path sl_simd_init(void)
{
	pthread_once(&probe_once, probe);
	return (enum sl_simd_path)__atomic_load_n(&current_path, __ATOMIC_ACQUIRE);
}

enum sl_simd_path sl_simd_current(void)
{
	return sl_simd_init();
}

unsigned sl_cpu_features(void)
{
	sl_simd_init();
	return cpu_features;
}

int sl_simd_supported(enum sl_simd_path path)
{
	if ((unsigned)path >= SL_SIMD_COUNT)
		return 0;
	sl_simd_init();
	return path_fits(path);
}

int sl_simd_force(enum sl_simd_path path)
{
	if (!sl_simd_supported(path))
		return -ENOTSUP;
	apply_path(path);
	return 0;
}

const char *sl_simd_name(enum sl_simd_path path)
{
	if ((unsigned)path >= SL_SIMD_COUNT)
		return "unknown";
	return path_names[path];
}

int sl_simd_parse(const char *name)
{
	for (int i = 0; i < SL_SIMD_COUNT; i++) {
		if (strcmp(name, path_names[i]) == 0)
			return i;
	}
	return -1;
}
