/*
 * bench/sluice-bench/facts.c - the "machine" section: what the numbers
 * were measured on.
 *
 * CPU model: "model name" of /proc/cpuinfo on x86-64; arm64 kernels print
 * no model name, so the implementer and part numbers are shown, with the
 * Arm Neoverse names of the common server parts. The DMI product name
 * (for example "c6g.2xlarge" on AWS EC2) is read where the kernel exposes
 * it. SIMD facts are the ones crypto/simd/cpu.h probes and uses.
 */
#include <ctype.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bench/sluice-bench/bench.h"
#include "crypto/simd/cpu.h"

/* Arm part numbers (MIDR bits 15:4) of implementer 0x41 seen in servers. */
static const struct {
	unsigned part;
	const char *name;
} arm_parts[] = {
	{ 0xd08, "Cortex-A72" },    { 0xd0c, "Neoverse-N1" }, { 0xd40, "Neoverse-V1" },
	{ 0xd49, "Neoverse-N2" },   { 0xd4f, "Neoverse-V2" }, { 0xd0b, "Cortex-A76" },
	{ 0xd8e, "Neoverse-N3" },   { 0xd84, "Neoverse-V3" },
};

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

/* First value of "key : value" in /proc/cpuinfo, or "" */
static void cpuinfo_value(const char *key, char *buf, size_t cap)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	size_t klen = strlen(key);

	buf[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, key, klen) != 0 || !colon)
			continue;
		if (line[klen] != ' ' && line[klen] != '\t' && line[klen] != ':')
			continue;
		snprintf(buf, cap, "%s", colon + 1 + (colon[1] == ' '));
		trim(buf);
		break;
	}
	fclose(f);
}

static void cpu_model(char *buf, size_t cap)
{
	char impl[64], part[64];

	cpuinfo_value("model name", buf, cap);
	if (buf[0])
		return;
	cpuinfo_value("CPU implementer", impl, sizeof(impl));
	cpuinfo_value("CPU part", part, sizeof(part));
	if (!impl[0]) {
		snprintf(buf, cap, "unknown");
		return;
	}
	if (strtoul(impl, NULL, 0) == 0x41) {
		unsigned p = (unsigned)strtoul(part, NULL, 0);

		for (size_t i = 0; i < sizeof(arm_parts) / sizeof(arm_parts[0]); i++) {
			if (arm_parts[i].part == p) {
				snprintf(buf, cap, "Arm %s", arm_parts[i].name);
				return;
			}
		}
	}
	snprintf(buf, cap, "implementer %s part %s", impl, part);
}

static void read_line(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, (int)cap, f))
		buf[0] = '\0';
	fclose(f);
	trim(buf);
}

unsigned sl_bench_cpus(int *cpus, unsigned max)
{
	cpu_set_t set;
	unsigned n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		for (int c = 0; c < CPU_SETSIZE && n < max; c++)
			if (CPU_ISSET(c, &set))
				cpus[n++] = c;
	}
	if (n == 0) {
		cpus[0] = 0;
		n = 1;
	}
	return n;
}

static json_t *simd_features(void)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ SL_CPU_AVX2, "avx2" },     { SL_CPU_AVX512, "avx512" }, { SL_CPU_SHA_NI, "sha_ni" },
		{ SL_CPU_NEON, "neon" },     { SL_CPU_ARM_SHA2, "arm_sha2" },
	};
	unsigned features = sl_cpu_features();
	json_t *list = json_array();

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (features & names[i].bit)
			json_array_append_new(list, json_string(names[i].name));
	return list;
}

json_t *sl_bench_machine_facts(void)
{
	char model[256], product[128], host[256];
	struct utsname u;
	int cpus[CPU_SETSIZE];
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	json_t *m = json_object();

	cpu_model(model, sizeof(model));
	read_line("/sys/devices/virtual/dmi/id/product_name", product, sizeof(product));
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	uname(&u);

	json_object_set_new(m, "cpu_model", json_string(model));
	json_object_set_new(m, "product", json_string(product));
	json_object_set_new(m, "hostname", json_string(host));
	json_object_set_new(m, "architecture", json_string(u.machine));
	json_object_set_new(m, "cores", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
	json_object_set_new(m, "cpus_usable", json_integer(sl_bench_cpus(cpus, CPU_SETSIZE)));
	json_object_set_new(m, "memory_bytes",
			    json_integer(pages > 0 && page > 0 ? (json_int_t)pages * page : 0));
	json_object_set_new(m, "kernel", json_string(u.release));
	json_object_set_new(m, "openssl", json_string(OpenSSL_version(OPENSSL_VERSION)));
	json_object_set_new(m, "simd_path", json_string(sl_simd_name(sl_simd_current())));
	json_object_set_new(m, "simd_features", simd_features());
	return m;
}
