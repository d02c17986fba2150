#!/usr/bin/python3
"""Sign and verify many messages with dkimpy (python3-dkim) in one process.

  dkimpy_tool.py verify DNS_FILE MESSAGE...
      For every DKIM-Signature of every message, print one line
      FILE<TAB>DOMAIN<TAB>SELECTOR<TAB>ALGORITHM<TAB>pass|fail<TAB>REASON.
      TXT lookups are answered from DNS_FILE (lines "NAME TXT-VALUE"), so
      no DNS server is queried.

  dkimpy_tool.py sign ALGORITHM CANON DOMAIN SELECTOR KEY OUT_DIR MESSAGE...
      Sign every message (ALGORITHM rsa-sha256 or ed25519-sha256, CANON
      such as relaxed/simple, KEY a PEM private key) and write the result
      under OUT_DIR with the same base name. A message that dkimpy cannot
      sign is named on stderr and left out; the exit status is 0.
"""

import base64
import logging
import os
import subprocess
import sys

import dkim


def load_dns_file(path):
    """Read lines "NAME TXT-VALUE" into a dict keyed by lower-case name."""
    records = {}
    with open(path, encoding="ascii") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, value = line.split(None, 1)
            records[name.rstrip(".").lower()] = value.encode("ascii")
    return records


class LastMessage(logging.Handler):
    """Logging handler that keeps the last record, which dkimpy uses to
    report why a signature failed."""

    def __init__(self):
        super().__init__()
        self.text = ""

    def emit(self, record):
        self.text = record.getMessage()


def verify(dns_path, paths):
    records = load_dns_file(dns_path)

    def lookup(name, timeout=5):
        return records.get(name.decode("ascii").rstrip(".").lower())

    last = LastMessage()
    logger = logging.getLogger("dkimpy_tool")
    logger.addHandler(last)
    logger.propagate = False

    for path in paths:
        with open(path, "rb") as f:
            message = f.read()
        checker = dkim.DKIM(message, logger=logger)
        count = sum(1 for name, _ in checker.headers
                    if name.lower() == b"dkim-signature")
        for idx in range(count):
            last.text = ""
            try:
                good = checker.verify(idx=idx, dnsfunc=lookup)
            except dkim.DKIMException as e:
                good, last.text = False, str(e)
            sig = checker.signature_fields or {}
            print("\t".join([
                path,
                sig.get(b"d", b"-").decode("ascii", "replace"),
                sig.get(b"s", b"-").decode("ascii", "replace"),
                sig.get(b"a", b"-").decode("ascii", "replace"),
                "pass" if good else "fail",
                " ".join(last.text.split()) or "-",
            ]))


def read_private_key(algorithm, path):
    """Return the key in the form dkim.sign() takes: PEM bytes for RSA,
    the base64 of the 32-byte seed for Ed25519 (RFC 8463)."""
    if algorithm == "rsa-sha256":
        with open(path, "rb") as f:
            return f.read()
    der = subprocess.run(["openssl", "pkey", "-in", path, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    # A PKCS#8 Ed25519 key is 48 octets, ending in the 32-octet seed.
    return base64.b64encode(der[-32:])


def sign(algorithm, canon, domain, selector, key_path, out_dir, paths):
    key = read_private_key(algorithm, key_path)
    header_canon, body_canon = canon.encode("ascii").split(b"/")
    for path in paths:
        with open(path, "rb") as f:
            message = f.read()
        try:
            header = dkim.sign(message, selector.encode("ascii"),
                               domain.encode("ascii"), key,
                               canonicalize=(header_canon, body_canon),
                               signature_algorithm=algorithm.encode("ascii"),
                               linesep=b"\n" if b"\r\n" not in message
                               else b"\r\n")
        except dkim.DKIMException as e:
            print(f"dkimpy_tool: {path}: not signed: {e}", file=sys.stderr)
            continue
        out = os.path.join(out_dir, os.path.basename(path))
        with open(out, "wb") as f:
            f.write(header + message)


def main(argv):
    if len(argv) >= 3 and argv[1] == "verify":
        verify(argv[2], argv[3:])
        return 0
    if len(argv) >= 8 and argv[1] == "sign":
        sign(*argv[2:7], argv[7], argv[8:])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
