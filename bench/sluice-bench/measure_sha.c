/*
 * bench/sluice-bench/measure_sha.c - the "sha256" section: SHA-256 speed
 * per path on one pinned thread, over 20 KB buffers (the size of a
 * typical message body).
 *
 *   openssl        EVP_Digest, one buffer at a time
 *   sluice-single  sl_sha256, sluice's best single-buffer code on this CPU
 *   PATH           each multi-buffer path this CPU runs (crypto/simd/cpu.h:
 *                  scalar, avx2, avx512, neon, sha2) with 16 buffers ready,
 *                  through sl_sha256_batch_path with every lane kept busy
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bench/sluice-bench/bench.h"
#include "bench/sluice-bench/threads.h"
#include "crypto/simd/sha256_mb.h"

#define BUFFER_BYTES 20480
#define STREAMS 16

enum kind { KIND_OPENSSL, KIND_SINGLE, KIND_PATH };

struct sha_shared {
	enum kind kind;
	enum sl_simd_path path;
	const uint8_t *data;       /* STREAMS buffers of BUFFER_BYTES */
};

static int64_t sha_op(struct sl_bench_loop *l)
{
	const struct sha_shared *sh = l->shared;
	struct sl_sha256_job jobs[STREAMS];
	uint8_t md[32];
	unsigned mdlen;

	switch (sh->kind) {
	case KIND_OPENSSL:
		if (EVP_Digest(sh->data, BUFFER_BYTES, md, &mdlen, EVP_sha256(), NULL) != 1) {
			snprintf(l->err, sizeof(l->err), "OpenSSL EVP_Digest(SHA-256) failed");
			return -EPROTO;
		}
		return BUFFER_BYTES;
	case KIND_SINGLE:
		sl_sha256(sh->data, BUFFER_BYTES, md);
		return BUFFER_BYTES;
	case KIND_PATH:
		for (unsigned i = 0; i < STREAMS; i++)
			jobs[i] = (struct sl_sha256_job){ sh->data + (size_t)i * BUFFER_BYTES,
							  BUFFER_BYTES, { 0 } };
		if (sl_sha256_batch_path(sh->path, jobs, STREAMS, 1) < 0) {
			snprintf(l->err, sizeof(l->err), "SHA-256 path %s failed",
				 sl_simd_name(sh->path));
			return -ENOTSUP;
		}
		return (int64_t)STREAMS * BUFFER_BYTES;
	}
	return -EINVAL;
}

static int add_path(json_t *list, const char *name, unsigned streams, unsigned lanes,
		    struct sha_shared *sh, int cpu, double seconds, char *err, size_t errlen)
{
	struct sl_bench_loop proto = { .shared = sh, .op = sha_op };
	json_t *entry;
	double rate;
	int rc = sl_bench_run_pinned(&proto, &cpu, 1, seconds, &rate, err, errlen);

	if (rc < 0)
		return rc;
	entry = json_object();
	json_object_set_new(entry, "path", json_string(name));
	json_object_set_new(entry, "streams", json_integer(streams));
	json_object_set_new(entry, "lanes", json_integer(lanes));
	json_object_set_new(entry, "mb_per_s", json_real(rate / 1e6));
	json_array_append_new(list, entry);
	return 0;
}

json_t *sl_bench_measure_sha256(const struct sl_bench_options *opt, char *err, size_t errlen)
{
	int cpus[1024];
	unsigned n = sl_bench_cpus(cpus, 1024);
	uint8_t *data = malloc((size_t)STREAMS * BUFFER_BYTES);
	struct sha_shared sh = { .data = data };
	json_t *section = json_object();
	json_t *list = json_array();
	int rc = 0;

	json_object_set_new(section, "buffer_bytes", json_integer(BUFFER_BYTES));
	json_object_set_new(section, "paths", list);
	if (!data) {
		snprintf(err, errlen, "out of memory for the SHA-256 buffers");
		json_decref(section);
		return NULL;
	}
	for (size_t i = 0; i < (size_t)STREAMS * BUFFER_BYTES; i++)
		data[i] = (uint8_t)(i * 131 + 7);

	fprintf(stderr, "sluice-bench: SHA-256\n");
	sh.kind = KIND_OPENSSL;
	rc = add_path(list, "openssl", 1, 1, &sh, cpus[n - 1], opt->seconds, err, errlen);
	sh.kind = KIND_SINGLE;
	if (rc == 0)
		rc = add_path(list, "sluice-single", 1, 1, &sh, cpus[n - 1], opt->seconds, err,
			      errlen);
	sh.kind = KIND_PATH;
	for (int p = 0; rc == 0 && p < SL_SIMD_COUNT && !sl_bench_stop; p++) {
		if (!sl_simd_supported((enum sl_simd_path)p))
			continue;
		sh.path = (enum sl_simd_path)p;
		rc = add_path(list, sl_simd_name(sh.path), STREAMS, sl_sha256_lanes(sh.path), &sh,
			      cpus[n - 1], opt->seconds, err, errlen);
	}
	free(data);
	if (rc == 0 && sl_bench_stop)
		rc = -EINTR;
	if (rc < 0) {
		json_decref(section);
		return NULL;
	}
	return section;
}
