#!/usr/bin/python3
"""Print the bench-dkim comparison table and its closing line.

  report.py OPENSSL_OUTPUT... BENCH_JSON

OPENSSL_OUTPUT files hold "openssl speed" runs for rsa2048 and ed25519;
the best sign rate of each algorithm counts. BENCH_JSON is Google
Benchmark's JSON output; with repetitions, the lowest CPU time of each
benchmark counts. Taking the best run of each side keeps the ratios
steady on a machine shared with other work.

Definitions (all times are CPU time per message on one core):
  raw        1 / sign rate of "openssl speed" for the algorithm; for dual,
             the RSA-2048 and Ed25519 raw times added
  overhead   time per signed message minus raw: canonicalization, body
             and header hashing, header assembly, base64 and folding (and
             for libopendkim also its per-message key parsing and handle)
  R          sluice rsa2048 20 KB messages/s over openssl rsa2048 signs/s
  D          sluice dual 20 KB time over sluice rsa2048 20 KB time
  O          sluice rsa2048 20 KB overhead over libopendkim's
The send-time column and line use Sign/sluice-stored: the header hash
and signature alone, from a body hash computed once at accept time.
"""

import json
import re
import sys

NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def openssl_sign_rate(paths, pattern):
    """Return the highest sign/s column of the openssl speed lines
    matching PATTERN in PATHS."""
    rates = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if re.search(pattern, line):
                    rates.append(float(line.split()[-2]))
    if not rates:
        raise SystemExit(f"report.py: no line matching {pattern!r} in {paths}")
    return max(rates)


def load_bench(path):
    """Return {name: (cpu ns per iteration, bytes per second or None)},
    from the repetition with the lowest CPU time."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    out = {}
    for b in data["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        name = b.get("run_name", b["name"])
        ns = b["cpu_time"] * NS[b.get("time_unit", "ns")]
        if name not in out or ns < out[name][0]:
            out[name] = (ns, b.get("bytes_per_second"))
    return out


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    rsa_rate = openssl_sign_rate(argv[1:-1], r"^rsa\s+2048 bits")
    ed_rate = openssl_sign_rate(argv[1:-1], r"Ed25519")
    bench = load_bench(argv[-1])
    raw = {"rsa2048": 1e9 / rsa_rate, "ed25519": 1e9 / ed_rate}
    raw["dual"] = raw["rsa2048"] + raw["ed25519"]

    print()
    print(f"openssl speed, one core: rsa2048 {rsa_rate:.0f} signs/s, "
          f"ed25519 {ed_rate:.0f} signs/s")
    print()
    print("| body | simple canon MB/s | relaxed canon MB/s "
          "| simple hash MB/s | relaxed hash MB/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for size in ("2KB", "20KB", "200KB"):
        cells = []
        for kind in ("Canon", "BodyHash"):
            for mode in ("simple", "relaxed"):
                cells.append(f"{bench[f'{kind}/{mode}/{size}'][1] / 1e6:.0f}")
        print(f"| {size} | " + " | ".join(cells) + " |")
    print()
    print("| message | algorithm | sluice msg/s | opendkim msg/s "
          "| sluice us/msg | opendkim us/msg | sluice overhead us "
          "| opendkim overhead us | sluice send-time us/msg |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in ("2KB", "20KB", "200KB"):
        for alg in ("rsa1024", "rsa2048", "ed25519", "dual"):
            s_ns = bench[f"Sign/sluice/{alg}/{size}"][0]
            o_ns = bench[f"Sign/opendkim/{alg}/{size}"][0]
            t_ns = bench[f"Sign/sluice-stored/{alg}/{size}"][0]
            if alg in raw:
                s_over = f"{(s_ns - raw[alg]) / 1e3:.1f}"
                o_over = f"{(o_ns - raw[alg]) / 1e3:.1f}"
            else:
                s_over = o_over = "-"
            print(f"| {size} | {alg} | {1e9 / s_ns:.0f} | {1e9 / o_ns:.0f} "
                  f"| {s_ns / 1e3:.1f} | {o_ns / 1e3:.1f} | {s_over} | {o_over} "
                  f"| {t_ns / 1e3:.1f} |")

    rsa_ns = bench["Sign/sluice/rsa2048/20KB"][0]
    dual_ns = bench["Sign/sluice/dual/20KB"][0]
    odkim_ns = bench["Sign/opendkim/rsa2048/20KB"][0]
    r = (1e9 / rsa_ns) / rsa_rate
    d = dual_ns / rsa_ns
    o = (rsa_ns - raw["rsa2048"]) / (odkim_ns - raw["rsa2048"])
    stored = (1e9 / bench["Sign/sluice-stored/rsa2048/20KB"][0]) / rsa_rate
    print()
    print(f"send time (body hash stored at accept): rsa2048-20KB {stored:.2f} of openssl")
    print(f"targets: R >= 0.95 {'met' if r >= 0.95 else 'missed'}, "
          f"D <= 1.15 {'met' if d <= 1.15 else 'missed'}, "
          f"O <= 0.33 {'met' if o <= 1 / 3 else 'missed'}")
    print(f"bench-dkim: rsa2048-20KB {r:.2f} of openssl, dual {d:.2f} x rsa, "
          f"overhead {o:.2f} of opendkim")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
