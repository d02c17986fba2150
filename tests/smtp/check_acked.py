#!/usr/bin/python3
"""Check that every acknowledged message is in a spool dump, intact.

usage: check_acked.py ACKFILE DUMPDIR

ACKFILE has "N ID" lines from inject.py; DUMPDIR has ID.eml files from
sluice-spool-dump -o. Each ID.eml must end with inject.message(N).
Prints the number checked and every problem; exits 1 on any problem.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from inject import message  # noqa: E402


def main():
    ackfile, dumpdir = sys.argv[1], sys.argv[2]
    problems = checked = 0
    with open(ackfile) as f:
        for line in f:
            n, qid = line.split()
            path = os.path.join(dumpdir, qid + ".eml")
            checked += 1
            if not os.path.exists(path):
                print("message %s (queued as %s) is missing" % (n, qid))
                problems += 1
                continue
            with open(path, "rb") as m:
                if not m.read().endswith(message(int(n))):
                    print("message %s (queued as %s) differs" % (n, qid))
                    problems += 1
    print("checked %d" % checked)
    sys.exit(1 if problems or checked == 0 else 0)


if __name__ == "__main__":
    main()
