#!/usr/bin/python3
"""Verify the DKIM signatures of every message smtp-sink wrote.

  verify_sink.py DNS_FILE DIR...

Every file below each DIR is one message. DNS_FILE has lines "NAME TXT-VALUE" (the published DKIM records); dkimpy
(python3-dkim) looks keys up there instead of in DNS. smtp-sink writes
LF line ends and prepends its own X-* and Received fields, which no
signature covers; line ends are turned back into CRLF before verifying.
A message passes when it has at least one signature and every one
verifies. Prints "PASSED TOTAL" and one line per failure to stderr.
"""
import multiprocessing
import os
import sys

import dkim

RECORDS = {}


def dns_lookup(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    return RECORDS.get(name.rstrip("."))


def check(path):
    raw = open(path, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    d = dkim.DKIM(raw)
    count = sum(1 for h in d.headers if h[0].lower() == b"dkim-signature")
    if count == 0:
        return path, False, "no DKIM-Signature"
    for i in range(count):
        try:
            if not d.verify(idx=i, dnsfunc=dns_lookup):
                return path, False, f"signature {i} failed"
        except dkim.DKIMException as e:
            return path, False, f"signature {i}: {e}"
    return path, True, ""


def main(argv):
    for line in open(argv[1]):
        name, value = line.rstrip("\n").split(" ", 1)
        RECORDS[name.rstrip(".")] = value.encode()
    files = sorted(os.path.join(root, f) for top in argv[2:]
                   for root, _, names in os.walk(top) for f in names)
    with multiprocessing.Pool(2) as pool:
        results = pool.map(check, files, chunksize=64)
    passed = 0
    for path, ok, why in results:
        if ok:
            passed += 1
        else:
            print(f"dkim: {path}: {why}", file=sys.stderr)
    print(passed, len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
