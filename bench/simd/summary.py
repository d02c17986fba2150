#!/usr/bin/python3
"""Summarize bench_simd's JSON output: tables for docs/benchmarks.md and
the closing bench-simd line.

  sha256-16lane H x openssl   geometric mean over 1 KiB, 16 KiB, 128 KiB
                              and 1 MiB of the AVX-512 16-lane aggregate
                              rate (16 ready streams) over OpenSSL's
                              single-stream rate at the same size
  relaxed-canon G GB/s (S x scalar)
                              best SIMD table on 1 MiB of mail text, and
                              its ratio to the engine's scalar table
  batch-ed25519 B x           messages/s of body hash + sign in batches of
                              64 over one message at a time (20 KiB bodies)
"""
import json
import math
import sys

PATHS = ["scalar", "avx2", "avx512", "neon", "sha2"]


def load(path):
    with open(path) as f:
        data = json.load(f)
    runs = {}
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            continue
        runs[b["name"]] = b
    return runs


def gbps(run):
    return run["bytes_per_second"] / 1e9


def main():
    runs = load(sys.argv[1])
    sizes = [1024, 16384, 131072, 1048576]

    print("\nSHA-256 aggregate GB/s (streams ready; OpenSSL is one stream)")
    print("| path | streams | " + " | ".join(f"{s // 1024} KiB" for s in sizes) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in sizes) + " |")
    print("| openssl | 1 | " + " | ".join(
        f"{gbps(runs[f'BM_openssl_sha256/{s}']):.2f}" for s in sizes) + " |")
    for pi, name in enumerate(PATHS):
        for streams in (1, 4, 8, 16):
            keys = [f"BM_sha256_lanes/{pi}/{streams}/{s}" for s in sizes]
            if not all(k in runs for k in keys):
                continue
            print(f"| {name} | {streams} | " + " | ".join(f"{gbps(runs[k]):.2f}" for k in keys) + " |")

    ratios = []
    for s in sizes:
        lane = runs.get(f"BM_sha256_lanes/2/16/{s}")
        if lane:
            ratios.append(gbps(lane) / gbps(runs[f"BM_openssl_sha256/{s}"]))
    h = math.exp(sum(math.log(r) for r in ratios) / len(ratios)) if ratios else 0.0

    threshold = None
    print("\nBatch threshold, 16 KiB buffers: time per batch, lanes vs one at a time")
    print("| streams | lanes GB/s | single GB/s |")
    print("| --- | --- | --- |")
    for streams in range(1, 17):
        lanes = runs.get(f"BM_sha256_threshold/{streams}/1")
        single = runs.get(f"BM_sha256_threshold/{streams}/17")
        if not lanes or not single:
            continue
        print(f"| {streams} | {gbps(lanes):.2f} | {gbps(single):.2f} |")
        if threshold is None and gbps(lanes) > gbps(single):
            threshold = streams
    print(f"lanes win from {threshold} ready streams")

    print("\nBody canonicalization GB/s, 1 MiB of mail text")
    print("| table | relaxed | simple |")
    print("| --- | --- | --- |")
    best = ("scalar", 0.0)
    for pi, name in enumerate(PATHS):
        r = runs.get(f"BM_canon/{pi}/1")
        s = runs.get(f"BM_canon/{pi}/0")
        if not r or not s:
            continue
        print(f"| {name} | {gbps(r):.2f} | {gbps(s):.2f} |")
        if name != "scalar" and gbps(r) > best[1]:
            best = (name, gbps(r))
    scalar = gbps(runs["BM_canon/0/1"])

    print("\nEd25519 DKIM signing, 20 KiB messages, messages/s")
    print("| work | batch | one at a time | batched | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for label, one, bat in (("body hash + sign", "BM_dkim_one_at_a_time", "BM_dkim_batch"),
                            ("sign only (stored body hash)", "BM_dkim_sign_only_one_at_a_time",
                             "BM_dkim_sign_only_batch")):
        for n in (16, 64):
            a = runs.get(f"{one}/{n}")
            b = runs.get(f"{bat}/{n}")
            if a and b:
                print(f"| {label} | {n} | {a['items_per_second']:.0f} | {b['items_per_second']:.0f} | "
                      f"{b['items_per_second'] / a['items_per_second']:.2f} |")
    print("\nEd25519 signatures of 32-byte digests, signatures/s")
    print("| signer | batch | signatures/s | ratio to OpenSSL |")
    print("| --- | --- | --- | --- |")
    ossl = runs.get("BM_ed25519_openssl")
    if ossl:
        print(f"| OpenSSL EVP_DigestSign | 1 | {ossl['items_per_second']:.0f} | 1.00 |")
        for n in (1, 8, 32, 64):
            r = runs.get(f"BM_ed25519_sluice/{n}")
            if r:
                print(f"| sluice | {n} | {r['items_per_second']:.0f} | "
                      f"{r['items_per_second'] / ossl['items_per_second']:.2f} |")

    one = runs.get("BM_dkim_one_at_a_time/64")
    bat = runs.get("BM_dkim_batch/64")
    batch_ratio = bat["items_per_second"] / one["items_per_second"] if one and bat else 0.0

    print()
    print(f"bench-simd: sha256-16lane {h:.2f} x openssl, relaxed-canon {best[1]:.2f} GB/s "
          f"({best[1] / scalar:.1f} x scalar), batch-ed25519 {batch_ratio:.2f} x")


if __name__ == "__main__":
    main()
