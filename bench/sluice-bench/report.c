/*
 * bench/sluice-bench/report.c - the estimate and the files of one run:
 * report.json, report.md and report.svg.
 *
 * Estimate: signing capacity is sluice's whole DKIM path with RSA-2048
 * on one core, times the all-cores/one-core ratio of OpenSSL's raw
 * RSA-2048 signing (which accounts for SMT siblings and shared caches
 * better than multiplying by the CPU count). The estimated messages per
 * hour are the lower of that capacity and the best end-to-end rate; the
 * report names which of the two bounds it.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/sluice-bench/bench.h"
#include "bench/sluice-bench/metrics.h"

void sl_bench_add_estimate(json_t *report, double price)
{
	double one = sl_bench_number(report, "signing.algorithms[algorithm=rsa2048].dkim_per_s_core");
	double raw1 = sl_bench_number(report, "signing.algorithms[algorithm=rsa2048].sign_per_s_core");
	double rawn = sl_bench_number(report, "signing.algorithms[algorithm=rsa2048].sign_per_s_all");
	double scale = raw1 > 0 && rawn > 0 ? rawn / raw1 : 1;
	double signing = one > 0 ? one * scale * 3600 : -1;
	double e2e = -1, best;
	json_t *runs = sl_bench_get(report, "e2e.runs");
	json_t *est = json_object();
	json_t *run;
	size_t i;

	json_array_foreach(runs, i, run) {
		double r = json_number_value(json_object_get(run, "messages_per_s")) * 3600;

		if (r > e2e)
			e2e = r;
	}
	best = signing;
	json_object_set_new(est, "bound_by", json_string("signing"));
	if (e2e > 0 && (signing <= 0 || e2e < signing)) {
		best = e2e;
		json_object_set_new(est, "bound_by", json_string("end-to-end"));
	}
	json_object_set_new(est, "signing_messages_per_hour", json_real(signing > 0 ? signing : 0));
	json_object_set_new(est, "signing_core_scale", json_real(scale));
	json_object_set_new(est, "e2e_messages_per_hour", e2e > 0 ? json_real(e2e) : json_null());
	json_object_set_new(est, "messages_per_hour", json_real(best > 0 ? best : 0));
	json_object_set_new(est, "price_usd_per_hour", price > 0 ? json_real(price) : json_null());
	json_object_set_new(est, "usd_per_million",
			    price > 0 && best > 0 ? json_real(price / (best / 1e6)) : json_null());
	json_object_set(report, "estimate", est);
	json_decref(est);
}

/* ---- Markdown of one report ---- */

static const char *str(json_t *root, const char *path)
{
	json_t *v = sl_bench_get(root, path);

	return json_is_string(v) ? json_string_value(v) : "-";
}

static void md_machine(json_t *r, FILE *out)
{
	json_t *features = sl_bench_get(r, "machine.simd_features");
	json_t *f;
	size_t i;

	fprintf(out, "## Machine\n\n| fact | value |\n| --- | --- |\n");
	fprintf(out, "| CPU | %s |\n", str(r, "machine.cpu_model"));
	fprintf(out, "| product | %s |\n",
		*str(r, "machine.product") ? str(r, "machine.product") : "-");
	fprintf(out, "| architecture | %s |\n", str(r, "machine.architecture"));
	fprintf(out, "| CPUs | %.0f online, %.0f usable |\n", sl_bench_number(r, "machine.cores"),
		sl_bench_number(r, "machine.cpus_usable"));
	fprintf(out, "| memory | %.1f GiB |\n",
		sl_bench_number(r, "machine.memory_bytes") / (1024.0 * 1024 * 1024));
	fprintf(out, "| kernel | %s |\n", str(r, "machine.kernel"));
	fprintf(out, "| OpenSSL | %s |\n", str(r, "machine.openssl"));
	fprintf(out, "| SIMD path | %s (features:", str(r, "machine.simd_path"));
	json_array_foreach(features, i, f)
		fprintf(out, " %s", json_string_value(f));
	fprintf(out, "%s) |\n\n", json_array_size(features) ? "" : " none");
}

static void md_signing(json_t *r, FILE *out)
{
	json_t *list = sl_bench_get(r, "signing.algorithms");
	json_t *a;
	size_t i;

	fprintf(out, "## Signatures\n\n"
		"OpenSSL columns: raw signatures of a SHA-256 digest per second, on one pinned "
		"thread (per core) and on one pinned thread per usable CPU (all, %.0f threads). "
		"sluice DKIM columns: messages of %.0f bytes per second on one core through "
		"sluice's whole DKIM path (body hash, header hash, signature), one at a time and "
		"in batches of %.0f. The last column is the peer ratio: sluice's DKIM path per "
		"message against OpenSSL's bare signature, both on one core in this run.\n\n",
		sl_bench_number(r, "signing.threads_all"),
		sl_bench_number(r, "signing.dkim_message_bytes"),
		sl_bench_number(r, "signing.dkim_batch"));
	fprintf(out, "| algorithm | OpenSSL sign/s per core | sign/s all | verify/s per core | "
		"verify/s all | sluice DKIM msg/s per core | DKIM batch msg/s per core | "
		"DKIM batch / OpenSSL sign |\n"
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
	json_array_foreach(list, i, a) {
		double sign = sl_bench_number(a, "sign_per_s_core");

		fprintf(out, "| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f |\n",
			json_string_value(json_object_get(a, "algorithm")),
			sl_bench_number(a, "sign_per_s_core"), sl_bench_number(a, "sign_per_s_all"),
			sl_bench_number(a, "verify_per_s_core"),
			sl_bench_number(a, "verify_per_s_all"),
			sl_bench_number(a, "dkim_per_s_core"),
			sl_bench_number(a, "dkim_batch_per_s_core"),
			sign > 0 ? sl_bench_number(a, "dkim_batch_per_s_core") / sign : 0);
	}
	fprintf(out, "\n");
}

static void md_sha(json_t *r, FILE *out)
{
	json_t *list = sl_bench_get(r, "sha256.paths");
	double openssl = sl_bench_number(r, "sha256.paths[path=openssl].mb_per_s");
	json_t *p;
	size_t i;

	fprintf(out, "## SHA-256\n\nOne core, buffers of %.0f bytes; multi-buffer paths hash "
		"that many buffers at once. The peer is OpenSSL's SHA-256 on one buffer.\n\n"
		"| path | buffers | lanes | MB/s | vs OpenSSL |\n"
		"| --- | ---: | ---: | ---: | ---: |\n", sl_bench_number(r, "sha256.buffer_bytes"));
	json_array_foreach(list, i, p)
		fprintf(out, "| %s | %.0f | %.0f | %.0f | %.2f |\n",
			json_string_value(json_object_get(p, "path")), sl_bench_number(p, "streams"),
			sl_bench_number(p, "lanes"), sl_bench_number(p, "mb_per_s"),
			openssl > 0 ? sl_bench_number(p, "mb_per_s") / openssl : 0);
	fprintf(out, "\n");
}

static void md_spool(json_t *r, FILE *out)
{
	fprintf(out, "## Spool\n\nsluice's spool appending %.0f-byte messages with %.0f in "
		"flight, one fdatasync per group commit.\n\n"
		"| path | filesystem | appends/s | flushes/s | MB/s | flush p50 us | flush p99 us |\n"
		"| --- | --- | ---: | ---: | ---: | ---: | ---: |\n"
		"| %s | %s | %.0f | %.0f | %.1f | %.0f | %.0f |\n\n",
		sl_bench_number(r, "spool.message_bytes"), sl_bench_number(r, "spool.in_flight"),
		str(r, "spool.path"), str(r, "spool.filesystem"),
		sl_bench_number(r, "spool.appends_per_s"), sl_bench_number(r, "spool.flushes_per_s"),
		sl_bench_number(r, "spool.mb_per_s"), sl_bench_number(r, "spool.flush_p50_us"),
		sl_bench_number(r, "spool.flush_p99_us"));
}

static void md_e2e(json_t *r, FILE *out)
{
	json_t *runs = sl_bench_get(r, "e2e.runs");
	json_t *run;
	size_t i;

	fprintf(out, "## End to end\n\n");
	if (strcmp(str(r, "e2e.status"), "ok") != 0) {
		fprintf(out, "Not measured (%s): %s\n\n", str(r, "e2e.status"), str(r, "e2e.reason"));
		return;
	}
	fprintf(out, "smtp-source into sluiced into smtp-sink on loopback, %.0f-byte messages, "
		"each signed with %s. Source and sink share the machine with sluiced.\n\n"
		"| workers | sessions | messages | seconds | messages/s | sluiced CPU ms per "
		"message | delivered |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
		sl_bench_number(r, "e2e.message_bytes"), str(r, "e2e.signatures"));
	json_array_foreach(runs, i, run)
		fprintf(out, "| %.0f | %.0f | %.0f | %.2f | %.0f | %.3f | %.0f |\n",
			sl_bench_number(run, "workers"), sl_bench_number(run, "sessions"),
			sl_bench_number(run, "messages"),
			sl_bench_number(run, "seconds"), sl_bench_number(run, "messages_per_s"),
			sl_bench_number(run, "sluiced_cpu_ms_per_message"),
			sl_bench_number(run, "delivered"));
	fprintf(out, "\n");
}

static void md_estimate(json_t *r, FILE *out)
{
	double e2e = sl_bench_number(r, "estimate.e2e_messages_per_hour");
	double price = sl_bench_number(r, "estimate.price_usd_per_hour");
	double cost = sl_bench_number(r, "estimate.usd_per_million");

	fprintf(out, "## Estimate\n\nSigning capacity: sluice's RSA-2048 DKIM path on one core "
		"times %.2f, the all-CPU/one-core ratio of OpenSSL RSA-2048 signing.\n\n"
		"| messages per hour | bound by | signing capacity per hour | end-to-end per hour | "
		"price USD/hour | USD per million messages |\n"
		"| ---: | --- | ---: | ---: | ---: | ---: |\n"
		"| %.0f | %s | %.0f | ",
		sl_bench_number(r, "estimate.signing_core_scale"),
		sl_bench_number(r, "estimate.messages_per_hour"), str(r, "estimate.bound_by"),
		sl_bench_number(r, "estimate.signing_messages_per_hour"));
	if (e2e >= 0)
		fprintf(out, "%.0f | ", e2e);
	else
		fprintf(out, "- | ");
	if (price > 0)
		fprintf(out, "%.4f | %.4f |\n\n", price, cost);
	else
		fprintf(out, "- | - (give --price) |\n\n");
}

int sl_bench_write_markdown(json_t *r, FILE *out)
{
	fprintf(out, "# sluice-bench report: %s\n\n", str(r, "label"));
	fprintf(out, "Made %s by sluice-bench (schema %s version %.0f), %.2f s per measurement"
		"%s.\n\n", str(r, "created"), str(r, "schema"), sl_bench_number(r, "schema_version"),
		sl_bench_number(r, "options.seconds"),
		json_is_true(sl_bench_get(r, "options.quick")) ? ", --quick" : "");
	md_machine(r, out);
	md_signing(r, out);
	md_sha(r, out);
	md_spool(r, out);
	md_e2e(r, out);
	md_estimate(r, out);
	return ferror(out) ? -EIO : 0;
}

/* ---- files ---- */

static int write_file(const char *dir, const char *name, json_t *r,
		      int (*writer)(json_t *, FILE *), char *err, size_t errlen)
{
	char path[4200];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -errno;
	}
	rc = writer(r, f);
	if (fclose(f) != 0 || rc < 0) {
		snprintf(err, errlen, "writing %s failed", path);
		return -EIO;
	}
	return 0;
}

static int write_json(json_t *r, FILE *out)
{
	int rc = json_dumpf(r, out, JSON_INDENT(2) | JSON_REAL_PRECISION(10));

	fputc('\n', out);
	return rc == 0 ? 0 : -EIO;
}

static int write_svg(json_t *r, FILE *out)
{
	json_t *one[1] = { r };
	const char *names[1] = { json_string_value(json_object_get(r, "label")) };

	return sl_bench_metrics_svg(one, names, 1, out);
}

int sl_bench_write_outputs(json_t *report, const char *dir, char *err, size_t errlen)
{
	int rc;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot make --out folder '%s': %s", dir, strerror(errno));
		return -errno;
	}
	rc = write_file(dir, "report.json", report, write_json, err, errlen);
	if (rc == 0)
		rc = write_file(dir, "report.md", report, sl_bench_write_markdown, err, errlen);
	if (rc == 0)
		rc = write_file(dir, "report.svg", report, write_svg, err, errlen);
	return rc;
}
