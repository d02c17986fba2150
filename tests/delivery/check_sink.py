#!/usr/bin/python3
"""Compare what smtp-sink received with what was injected.

  check_sink.py ORIG_DIR SINK_DIR

ORIG_DIR holds the injected messages, one file each, named after their
Message-ID's local part. smtp-sink writes LF line ends and prepends
X-Client-*, X-Helo-Args, X-Mail-Args, X-Rcpt-Args and its own Received
field; sluiced adds DKIM-Signature fields and its Received field. With
those header fields removed, each received message must equal its
original byte for byte (after CRLF to LF). Prints "IDENTICAL TOTAL" and
one line per difference to stderr.
"""
import os
import re
import sys

ADDED = re.compile(rb"^(x-client-addr|x-client-proto|x-helo-args|x-mail-args|x-rcpt-args|"
                   rb"received|dkim-signature):", re.I)


def strip_added(data):
    """Drop the added fields at the top of the header."""
    lines = data.split(b"\n")
    i = 0
    while i < len(lines) and ADDED.match(lines[i]):
        i += 1
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
            i += 1
    return b"\n".join(lines[i:])


def main(orig_dir, sink_dir):
    originals = {}
    for name in os.listdir(orig_dir):
        originals[name] = open(os.path.join(orig_dir, name), "rb").read().replace(b"\r\n", b"\n")
    same = total = 0
    for root, _, names in os.walk(sink_dir):
        for name in names:
            total += 1
            got = strip_added(open(os.path.join(root, name), "rb").read())
            m = re.search(rb"^Message-ID: <([^@>]+)@", got, re.M | re.I)
            key = m.group(1).decode() if m else None
            want = originals.get(key)
            # smtp-sink ends the file with one extra line end.
            if want is not None and (got == want or got == want + b"\n"):
                same += 1
            else:
                print(f"differs: {name} (message {key})", file=sys.stderr)
    print(same, total)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
