#!/usr/bin/python3
"""Compare messages read back from the spool with what a client sent.

usage: check_spool.py DUMPDIR SENT [EXPECTED_COUNT]

DUMPDIR holds ID.eml files written by sluice-spool-dump -o. SENT is the
message content as it went over the wire before the end marker, after
dot-unstuffing; its LF line ends are compared as CRLF. Each stored message must be the sent message with
header fields put in front: Received first, then at most Message-ID and
Date. Prints one line per problem and "checked N" at the end; exits 1 on
any problem or when the count differs from EXPECTED_COUNT.
"""
import glob
import os
import re
import sys


def added_fields(prefix):
    """Split the added header block into field names; None if malformed."""
    names = []
    for line in prefix.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t"):
            if not names:
                return None
            continue
        m = re.match(rb"([!-9;-~]+):", line)
        if not m:
            return None
        names.append(m.group(1).decode().lower())
    return names


def main():
    dumpdir, sent_path = sys.argv[1], sys.argv[2]
    expected = int(sys.argv[3]) if len(sys.argv) > 3 else None
    with open(sent_path, "rb") as f:
        sent = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    problems = 0
    files = sorted(glob.glob(os.path.join(dumpdir, "*.eml")))
    for path in files:
        with open(path, "rb") as f:
            stored = f.read()
        if not stored.endswith(sent):
            print("%s: does not end with the sent message" % os.path.basename(path))
            problems += 1
            continue
        names = added_fields(stored[: len(stored) - len(sent)])
        if not names or names[0] != "received" or not set(names[1:]) <= {"message-id", "date"}:
            print("%s: unexpected added fields %r" % (os.path.basename(path), names))
            problems += 1
    print("checked %d" % len(files))
    if expected is not None and len(files) != expected:
        print("expected %d messages, found %d" % (expected, len(files)))
        problems += 1
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
