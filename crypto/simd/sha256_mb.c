/*
 * crypto/simd/sha256_mb.c - multi-buffer SHA-256 lane manager.
 *
 * Contract in sha256_mb.h. Each lane of the kernel carries one job through
 * two segments: the job's whole 64-byte blocks, read in place, then one or
 * two padded tail blocks built in the lane. Every kernel call runs as many
 * blocks as the busy lane with the fewest blocks left in its segment has,
 * so lanes finish segments at different calls. A lane whose job is done
 * takes the next job. Once fewer lanes than lanes_min are busy, the rest of
 * each busy job runs through the single-buffer code.
 */
#include "crypto/simd/sha256_mb.h"

#include <errno.h>
#include <string.h>

#include "crypto/simd/sha256_kernels.h"

struct lane {
	struct sl_sha256_job *job;  /* NULL when the lane is idle */
	const uint8_t *ptr;         /* next block of the current segment */
	size_t blocks;              /* blocks left in the current segment */
	size_t tail_blocks;         /* 1 or 2 */
	int in_tail;
	uint8_t tail[128];
};

struct mb_path {
	unsigned lanes;
	sl_sha256_mb_fn kernel;
	unsigned threshold;  /* ready buffers from which the lanes run */
};

/*
 * Thresholds. With SHA-NI, bench/simd's BM_sha256_threshold (16 KiB
 * buffers, AMD Zen 5 with AVX-512 and SHA-NI) found the 16 AVX-512 lanes
 * faster than SHA-NI one buffer at a time from 7 ready buffers, and the 8
 * AVX2 lanes never faster, so AVX2 then never runs its lanes (9 is above
 * its lane count). Without SHA instructions the single-buffer code is the
 * portable one, about 6 times slower per buffer than SHA-NI on that machine, so the lanes
 * run from 2 buffers.
 * NOTE: the arm64 values are estimates: qemu gives no timings and no arm64
 * machine was measured.
 */
static struct mb_path mb_path_of(enum sl_simd_path path)
{
	struct mb_path none = { 1, NULL, 0 };

	switch (path) {
#if defined(__x86_64__)
	case SL_SIMD_AVX512:
		return (struct mb_path){ 16, sl_sha256_mb_avx512,
					 (sl_cpu_features() & SL_CPU_SHA_NI) ? 7 : 2 };
	case SL_SIMD_AVX2:
		return (struct mb_path){ 8, sl_sha256_mb_avx2,
					 (sl_cpu_features() & SL_CPU_SHA_NI) ? 9 : 2 };
#endif
#if defined(__aarch64__)
	case SL_SIMD_SHA2:
		return (struct mb_path){ 2, sl_sha256_mb_armv8x2, 2 };
	case SL_SIMD_NEON:
		return (struct mb_path){ 4, sl_sha256_mb_neon, 2 };
#endif
	default:
		return none;
	}
}

static sl_sha256_one_fn single_of(enum sl_simd_path path)
{
	if (path == SL_SIMD_SCALAR)
		return sl_sha256_blocks_scalar;
#if defined(__x86_64__)
	if (sl_cpu_features() & SL_CPU_SHA_NI)
		return sl_sha256_blocks_shani;
#elif defined(__aarch64__)
	if (sl_cpu_features() & SL_CPU_ARM_SHA2)
		return sl_sha256_blocks_armv8;
#endif
	return sl_sha256_blocks_scalar;
}

static void store_digest(const uint32_t h[8], uint8_t out[SL_SHA256_LEN])
{
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}

/* Build the padded tail of LEN bytes at DATA; returns its block count. */
static size_t build_tail(uint8_t tail[128], const uint8_t *data, size_t len)
{
	size_t rem = len % 64, blocks = rem + 9 <= 64 ? 1 : 2;
	uint64_t bits = (uint64_t)len * 8;

	memset(tail, 0, 128);
	if (rem > 0)
		memcpy(tail, data + (len - rem), rem);
	tail[rem] = 0x80;
	for (int i = 0; i < 8; i++)
		tail[64 * blocks - 1 - i] = (uint8_t)(bits >> (8 * i));
	return blocks;
}

static void hash_one(sl_sha256_one_fn single, struct sl_sha256_job *job)
{
	uint32_t h[8];
	uint8_t tail[128];
	size_t tail_blocks = build_tail(tail, job->data, job->len);

	memcpy(h, sl_sha256_iv, sizeof(h));
	single(h, job->data, job->len / 64);
	single(h, tail, tail_blocks);
	store_digest(h, job->digest);
}

static void lane_start(struct lane *ln, uint32_t h[8][SL_SHA256_MAX_LANES], unsigned j,
		       struct sl_sha256_job *job)
{
	ln->job = job;
	ln->tail_blocks = build_tail(ln->tail, job->data, job->len);
	ln->ptr = job->data;
	ln->blocks = job->len / 64;
	ln->in_tail = 0;
	if (ln->blocks == 0) {
		ln->ptr = ln->tail;
		ln->blocks = ln->tail_blocks;
		ln->in_tail = 1;
	}
	for (int i = 0; i < 8; i++)
		h[i][j] = sl_sha256_iv[i];
}

/* Move lane j past NB blocks. A finished job gets its digest and the lane idles. */
static void lane_advance(struct lane *ln, uint32_t h[8][SL_SHA256_MAX_LANES], unsigned j,
			 size_t nb)
{
	uint32_t one[8];

	ln->ptr += 64 * nb;
	ln->blocks -= nb;
	if (ln->blocks > 0)
		return;
	if (!ln->in_tail) {
		ln->in_tail = 1;
		ln->ptr = ln->tail;
		ln->blocks = ln->tail_blocks;
		return;
	}
	for (int i = 0; i < 8; i++)
		one[i] = h[i][j];
	store_digest(one, ln->job->digest);
	ln->job = NULL;
}

/* Finish lane j's job with the single-buffer code. */
static void lane_finish_single(struct lane *ln, uint32_t h[8][SL_SHA256_MAX_LANES], unsigned j,
			       sl_sha256_one_fn single)
{
	uint32_t one[8];

	for (int i = 0; i < 8; i++)
		one[i] = h[i][j];
	single(one, ln->ptr, ln->blocks);
	if (!ln->in_tail)
		single(one, ln->tail, ln->tail_blocks);
	store_digest(one, ln->job->digest);
	ln->job = NULL;
}

static void run_lanes(const struct mb_path *mp, sl_sha256_one_fn single,
		      struct sl_sha256_job *jobs, size_t n, unsigned lanes_min)
{
	struct lane lanes[SL_SHA256_MAX_LANES];
	uint32_t h[8][SL_SHA256_MAX_LANES];
	const uint8_t *ptrs[SL_SHA256_MAX_LANES];
	size_t next = 0;

	memset(lanes, 0, sizeof(lanes));
	memset(h, 0, sizeof(h));
	for (;;) {
		unsigned busy = 0;
		size_t nb = SIZE_MAX;
		const uint8_t *any = NULL;

		/* Give idle lanes the next jobs, then find the shortest segment. */
		for (unsigned j = 0; j < mp->lanes; j++) {
			if (lanes[j].job == NULL && next < n)
				lane_start(&lanes[j], h, j, &jobs[next++]);
			if (lanes[j].job != NULL) {
				busy++;
				any = lanes[j].ptr;
				if (lanes[j].blocks < nb)
					nb = lanes[j].blocks;
			}
		}
		if (busy == 0)
			return;
		if (busy < lanes_min) {
			for (unsigned j = 0; j < mp->lanes; j++) {
				if (lanes[j].job != NULL)
					lane_finish_single(&lanes[j], h, j, single);
			}
			continue;
		}

		/* Idle lanes read a busy lane's blocks; their state is unused. */
		for (unsigned j = 0; j < SL_SHA256_MAX_LANES; j++)
			ptrs[j] = j < mp->lanes && lanes[j].job != NULL ? lanes[j].ptr : any;
		mp->kernel(h, ptrs, nb);
		for (unsigned j = 0; j < mp->lanes; j++) {
			if (lanes[j].job != NULL)
				lane_advance(&lanes[j], h, j, nb);
		}
	}
}

int sl_sha256_batch_path(enum sl_simd_path path, struct sl_sha256_job *jobs, size_t n,
			 unsigned lanes_min)
{
	struct mb_path mp;
	sl_sha256_one_fn single;

	if (!sl_simd_supported(path))
		return -ENOTSUP;
	mp = mb_path_of(path);
	single = single_of(path);
	if (mp.kernel == NULL || lanes_min > mp.lanes || n < lanes_min) {
		for (size_t i = 0; i < n; i++)
			hash_one(single, &jobs[i]);
		return 0;
	}
	run_lanes(&mp, single, jobs, n, lanes_min < 1 ? 1 : lanes_min);
	return 0;
}

void sl_sha256_batch(struct sl_sha256_job *jobs, size_t n)
{
	enum sl_simd_path path = sl_simd_current();

	sl_sha256_batch_path(path, jobs, n, mb_path_of(path).threshold);
}

void sl_sha256(const uint8_t *data, size_t len, uint8_t digest[SL_SHA256_LEN])
{
	struct sl_sha256_job job = { .data = data, .len = len };

	hash_one(single_of(sl_simd_current()), &job);
	memcpy(digest, job.digest, SL_SHA256_LEN);
}

unsigned sl_sha256_lanes(enum sl_simd_path path)
{
	return mb_path_of(path).lanes;
}

unsigned sl_sha256_threshold(enum sl_simd_path path)
{
	return mb_path_of(path).threshold;
}
