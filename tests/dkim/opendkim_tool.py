#!/usr/bin/python3
"""Sign and verify many messages with OpenDKIM's filter in test mode.

One "opendkim -x CONF -t FILE,FILE,..." run handles every message (the
filter, not a process per message). Configuration files go to WORK_DIR,
a private folder that the caller creates with mode 0700 and removes.

  opendkim_tool.py verify WORK_DIR DNS_FILE MESSAGE...
      For every DKIM-Signature of every message, print one line
      FILE<TAB>DOMAIN<TAB>SELECTOR<TAB>ALGORITHM<TAB>pass|fail<TAB>REASON,
      read from the Authentication-Results header that the filter adds.
      TestPublicKeys answers key lookups from DNS_FILE (lines "NAME
      TXT-VALUE"), so no DNS server is queried.

  opendkim_tool.py sign ALGORITHM CANON DOMAIN SELECTOR KEY WORK_DIR OUT_DIR MESSAGE...
      Sign every message and write it under OUT_DIR with the same base
      name. The filter signs only messages with a From header; the others
      are named on stderr and left out.
"""

import os
import re
import subprocess
import sys

RESULT_RE = re.compile(r"dkim=(\w+)(?: reason=\"([^\"]*)\")?[^;]*?"
                       r"header\.d=(\S+).*?header\.a=(\S+) header\.s=(\S+)")
EOM_LINE_RE = re.compile(r"^opendkim: (.+): mlfi_eom\(\) returned")
INSERT_RE = re.compile(r"^### INSHEADER: idx=\d+ hname='([^']+)' hvalue='(.*)")


def run_filter(conf_path, paths):
    """Run the filter over PATHS. Return its output (stdout and stderr in
    the order printed) as a list of lines, and its exit status."""
    for path in paths:
        if "," in path:
            raise SystemExit(f"opendkim_tool: file name contains ',': {path}")
    cmd = ["stdbuf", "-oL", "-eL", "opendkim", "-x", conf_path, "-vv",
           "-t", ",".join(paths)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          check=False)
    return proc.stdout.decode("utf-8", "replace").splitlines(), proc.returncode


def inserted_headers(lines, paths):
    """Return {path: [(header name, header value), ...]} for each message
    that reached the end of the filter. The filter prints the headers it
    inserts into a message before its line "opendkim: FILE: mlfi_eom()
    returned ...", which -vv turns on."""
    done = {}
    pending = []
    current = None
    for line in lines:
        m = INSERT_RE.match(line)
        if m:
            current = [m.group(1), m.group(2)]
            pending.append(current)
            continue
        if current is not None and line.startswith("\t"):
            current[1] += "\n" + line
            continue
        current = None
        m = EOM_LINE_RE.match(line)
        if m and m.group(1) in paths:
            done[m.group(1)] = [(name, value.rstrip("'")) for name, value in pending]
            pending = []
    return done


def evaluate(conf_path, paths):
    """Yield (path, inserted headers or None) for every path. Test mode
    exits with status 70 when the filter ends a message early (OpenDKIM
    2.11 does so at the end of the header when a signature has an invalid
    d=, as in dkimpy's test.message.baddomain), leaving the rest of the
    list unread; such a message gets None and the run goes on after it."""
    remaining = list(paths)
    while remaining:
        lines, status = run_filter(conf_path, remaining)
        done = inserted_headers(lines, set(remaining))
        for i, path in enumerate(remaining):
            if path in done:
                yield path, done[path]
                continue
            if status == 0:
                raise SystemExit(f"opendkim_tool: no result for {path}")
            print(f"opendkim_tool: {path}: filter stopped early (exit {status})",
                  file=sys.stderr)
            yield path, None
            remaining = remaining[i + 1:]
            break
        else:
            remaining = []


def write_config(work_dir, name, settings):
    path = os.path.abspath(os.path.join(work_dir, name))
    with open(path, "w", encoding="ascii") as f:
        for key, value in settings:
            f.write(f"{key} {value}\n")
    return path


def verify(work_dir, dns_path, paths):
    conf = write_config(work_dir, "verify.conf", [
        ("Mode", "v"),
        ("Syslog", "no"),
        ("TestPublicKeys", os.path.abspath(dns_path)),
        ("AlwaysAddARHeader", "yes"),
    ])
    for path, headers in evaluate(conf, paths):
        if headers is None:
            print("\t".join([path, "-", "-", "-", "fail",
                             "filter stopped before the end of the message"]))
            continue
        for name, value in headers:
            if name != "Authentication-Results":
                continue
            for m in RESULT_RE.finditer(value):
                result, reason, domain, algorithm, selector = m.groups()
                print("\t".join([path, domain, selector.rstrip(";"), algorithm,
                                 "pass" if result == "pass" else "fail",
                                 reason or result]))


def sign(algorithm, canon, domain, selector, key_path, work_dir, out_dir, paths):
    signing_table = write_config(work_dir, "signing.table", [("*", "key")])
    key_table = write_config(work_dir, "key.table", [
        ("key", f"{domain}:{selector}:{os.path.abspath(key_path)}")])
    conf = write_config(work_dir, "sign.conf", [
        ("Mode", "s"),
        ("Syslog", "no"),
        ("SigningTable", "refile:" + signing_table),
        ("KeyTable", "file:" + key_table),
        ("Canonicalization", canon),
        ("SignatureAlgorithm", algorithm),
        # OpenDKIM rejects a key file when any folder above it is
        # writable by others, as /tmp is, and the test's key lives in
        # the checkout, which may be under /tmp. The key folder itself
        # is still 0700.
        ("RequireSafeKeys", "no"),
    ])
    signed = {}
    for path, headers in evaluate(conf, paths):
        for name, value in headers or []:
            if name == "DKIM-Signature":
                signed[path] = value
    for path in paths:
        if path not in signed:
            print(f"opendkim_tool: {path}: not signed", file=sys.stderr)
            continue
        with open(path, "rb") as f:
            message = f.read()
        eol = "\r\n" if b"\r\n" in message else "\n"
        header = "DKIM-Signature: " + signed[path].replace("\n", eol) + eol
        with open(os.path.join(out_dir, os.path.basename(path)), "wb") as f:
            f.write(header.encode("ascii") + message)


def main(argv):
    if len(argv) >= 4 and argv[1] == "verify":
        verify(argv[2], argv[3], argv[4:])
        return 0
    if len(argv) >= 9 and argv[1] == "sign":
        sign(*argv[2:9], argv[9:])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
