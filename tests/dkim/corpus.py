#!/usr/bin/python3
"""Collect the DKIM interop corpus, tamper with signed copies, and tally
verifier results.

  corpus.py collect OUT_DIR
      Copy the real-world messages that Debian ships into OUT_DIR/valid
      (messages with a header section) and OUT_DIR/malformed (no header
      section: a first line or a line before the blank line that is not a
      header field). Names get a prefix for their source: py- for the
      Python 3.11 email test data (libpython3.11-testsuite), sa- for
      SpamAssassin's samples, dkimpy- for dkimpy's test messages
      (python3-dkim). A leading mbox "From " separator line is dropped:
      it is mailbox framing, not part of the message (RFC 4155).
      Prints "SOURCE COUNT" per source.

  corpus.py tamper body|header IN_DIR OUT_DIR
      Copy every message with one change that must break a DKIM signature:
      "body" puts a line at the top of the body, "header" replaces the
      first From header field (or adds one if there is none, which breaks
      a signature that over-signs From).

  corpus.py tally RESULTS DOMAIN SELECTORS MESSAGE...
      RESULTS holds verifier lines FILE<TAB>DOMAIN<TAB>SELECTOR<TAB>
      ALGORITHM<TAB>pass|fail<TAB>REASON. For each MESSAGE print
      "FILE all-pass|all-fail|partial|missing DETAIL", looking only at the
      signatures of DOMAIN whose selector is in SELECTORS (comma-separated);
      "missing" means the verifier reported one of them not at all.
"""

import glob
import os
import re
import shutil
import sys

SOURCES = [
    ("py", "/usr/lib/python3.11/test/test_email/data/msg_*.txt"),
    ("sa", "/usr/share/doc/spamassassin/examples/sample-*spam.txt"),
    ("dkimpy", "/usr/lib/python3/dist-packages/dkim/tests/data/*.msg"),
    ("dkimpy", "/usr/lib/python3/dist-packages/dkim/tests/data/*.message*"),
    ("dkimpy", "/usr/lib/python3/dist-packages/dkim/tests/data/message.mbox"),
]
FIELD_RE = re.compile(rb"^[!-9;-~]+[ \t]*:")


def has_header_section(data):
    """Tell whether DATA starts with header fields ended by an empty line
    (or by the end of the message)."""
    lines = re.split(rb"\r?\n", data)
    if not lines or not FIELD_RE.match(lines[0]):
        return False
    for line in lines[1:]:
        if line == b"":
            return True
        if line[:1] not in (b" ", b"\t") and not FIELD_RE.match(line):
            return False
    return True


def collect(out_dir):
    counts = {}
    for kind in ("valid", "malformed"):
        os.makedirs(os.path.join(out_dir, kind), exist_ok=True)
    for prefix, pattern in SOURCES:
        for path in sorted(glob.glob(pattern)):
            with open(path, "rb") as f:
                data = f.read()
            if data.startswith(b"From "):
                data = data.split(b"\n", 1)[1]
            kind = "valid" if has_header_section(data) else "malformed"
            name = f"{prefix}-{os.path.basename(path)}"
            with open(os.path.join(out_dir, kind, name), "wb") as f:
                f.write(data)
            counts[prefix] = counts.get(prefix, 0) + 1
    for prefix, count in counts.items():
        print(prefix, count)


def split_message(data):
    """Return (header lines with their line ends, body, line end)."""
    eol = b"\r\n" if b"\r\n" in data else b"\n"
    lines = data.split(eol)
    for i, line in enumerate(lines):
        if line == b"":
            return lines[:i], eol.join(lines[i + 1:]), eol
    return lines, None, eol


def tamper(mode, in_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name in sorted(os.listdir(in_dir)):
        with open(os.path.join(in_dir, name), "rb") as f:
            headers, body, eol = split_message(f.read())
        if mode == "body":
            body = b"Tampered line." + eol + (body or b"")
        else:
            headers = replace_from(headers)
        data = eol.join(headers) + eol + eol + (body or b"")
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)


def replace_from(headers):
    forged = b"From: Mallory <mallory@attacker.test>"
    for i, line in enumerate(headers):
        if line.lower().startswith(b"from:"):
            end = i + 1
            while end < len(headers) and headers[end][:1] in (b" ", b"\t"):
                end += 1
            return headers[:i] + [forged] + headers[end:]
    return headers + [forged]


def tally(results_path, domain, selectors, paths):
    expected = selectors.split(",")
    seen = {}
    with open(results_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 6 or fields[1].lower() != domain.lower():
                continue
            if fields[2] in expected:
                seen.setdefault(fields[0], {})[fields[2]] = (fields[4], fields[5])
    for path in paths:
        found = seen.get(path, {})
        results = [found.get(s, ("missing", "not reported"))[0] for s in expected]
        if "missing" in results:
            status = "missing"
        elif all(r == "pass" for r in results):
            status = "all-pass"
        elif all(r == "fail" for r in results):
            status = "all-fail"
        else:
            status = "partial"
        detail = "; ".join(f"s={s}: {found.get(s, ('missing', 'not reported'))[0]}"
                           f" ({found.get(s, ('', 'not reported'))[1]})"
                           for s in expected)
        print(path, status, detail)


def main(argv):
    if len(argv) == 3 and argv[1] == "collect":
        collect(argv[2])
    elif len(argv) == 5 and argv[1] == "tamper" and argv[2] in ("body", "header"):
        tamper(argv[2], argv[3], argv[4])
    elif len(argv) >= 5 and argv[1] == "tally":
        tally(argv[2], argv[3], argv[4], argv[5:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
