#!/usr/bin/python3
"""Run SMTP dialogue scripts against a running server and print TAP lines.

usage: dialogue.py HOST PORT SCRIPT...

A script is a table of lines to send and replies to expect, one step per
line ("#" starts a comment line):

  connect [SOURCE]   open a connection (from SOURCE, a 127.x.y.z address)
                     and expect the 220 greeting
  hold N             open N more connections that stay open until the end
  > TEXT             add TEXT + CRLF to the packet being built
  >raw TEXT          add TEXT without CRLF; \\r \\n \\t \\\\ \\xHH are decoded
  >fill N C          add N copies of the character C
  >lines N LEN C      add N lines of LEN copies of the character C, each
                     ending with CRLF
  < PREFIX           send the packet, read one whole reply (every line of
                     a multi-line reply) and check its last line starts
                     with PREFIX
  <has TEXT          the last reply has a line that starts with TEXT
  refused PREFIX     open one more connection from the same source and
                     expect its greeting to start with PREFIX, then a close
  starttls           send the packet, then do a TLS handshake on the socket
  closed             send the packet, expect the server to close
  sleep SECONDS      wait (only for the idle timeout script)

Each script gives one TAP line; a failure names the script line, what was
expected and what arrived. Every read has a timeout, so a missing reply
fails instead of hanging.
"""
import os
import re
import socket
import ssl
import sys
import time

TIMEOUT = 10


class Failure(Exception):
    pass


def decode(text):
    def repl(m):
        esc = m.group(1)
        if esc[0] == "x":
            return chr(int(esc[1:], 16))
        return {"r": "\r", "n": "\n", "t": "\t", "\\": "\\"}[esc]
    return re.sub(r"\\(x[0-9a-fA-F]{2}|[rnt\\])", repl, text).encode("latin-1")


class Conn:
    def __init__(self, host, port, source=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source:
            self.sock.bind((source, 0))
        self.sock.settimeout(TIMEOUT)
        self.sock.connect((host, port))
        self.buf = b""

    def send(self, data):
        if data:
            self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Failure("connection closed while waiting for a reply; got %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    def starttls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if self.buf:
            raise Failure("plaintext bytes after the STARTTLS reply: %r" % self.buf)
        self.sock = ctx.wrap_socket(self.sock)

    def closed(self):
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                self.buf += chunk
        except (ConnectionResetError, ssl.SSLError):
            return
        except socket.timeout:
            raise Failure("connection still open; unread %r" % self.buf)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def run(host, port, path):
    conn = None
    held = []
    packet = b""
    last = []
    with open(path, encoding="utf-8") as f:
        steps = f.read().split("\n")
    try:
        for lineno, step in enumerate(steps, 1):
            if not step.strip() or step.startswith("#"):
                continue
            where = "line %d (%s)" % (lineno, step[:60])
            cmd, _, arg = step.partition(" ")
            try:
                if cmd == "connect":
                    if conn:
                        conn.close()
                    conn = Conn(host, port, arg or None)
                    last = conn.reply()
                    if not last[-1].startswith("220 "):
                        raise Failure("expected the 220 greeting, got %r" % last)
                elif cmd == "hold":
                    for _ in range(int(arg)):
                        c = Conn(host, port, conn and conn.sock.getsockname()[0])
                        c.reply()
                        held.append(c)
                elif cmd == "refused":
                    c = Conn(host, port, conn and conn.sock.getsockname()[0])
                    try:
                        got = c.reply()
                        if not got[-1].startswith(arg):
                            raise Failure("expected %r, got %r" % (arg, got))
                        c.closed()
                    finally:
                        c.close()
                elif cmd == ">":
                    packet += arg.encode("utf-8") + b"\r\n"
                elif cmd == ">raw":
                    packet += decode(arg)
                elif cmd == ">fill":
                    n, ch = arg.split(" ", 1)
                    packet += ch.encode() * int(n)
                elif cmd == ">lines":
                    n, length, ch = arg.split(" ", 2)
                    packet += (ch.encode() * int(length) + b"\r\n") * int(n)
                elif cmd == "<":
                    conn.send(packet)
                    packet = b""
                    last = conn.reply()
                    if not last[-1].startswith(arg):
                        raise Failure("expected %r, got %r" % (arg, last))
                elif cmd == "<has":
                    if not any(l[4:].startswith(arg) for l in last):
                        raise Failure("no line %r in %r" % (arg, last))
                elif cmd == "starttls":
                    conn.send(packet)
                    packet = b""
                    conn.starttls()
                elif cmd == "closed":
                    conn.send(packet)
                    packet = b""
                    conn.closed()
                elif cmd == "sleep":
                    time.sleep(float(arg))
                else:
                    raise Failure("unknown script command %r" % cmd)
            except Failure as e:
                return "%s: %s" % (where, e)
            except (OSError, ssl.SSLError) as e:
                return "%s: %s" % (where, e)
        return None
    finally:
        if conn:
            conn.close()
        for c in held:
            c.close()


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    failed = 0
    for path in sys.argv[3:]:
        name = os.path.splitext(os.path.basename(path))[0]
        error = run(host, port, path)
        if error:
            failed += 1
            print("not ok - dialogue %s: %s" % (name, error))
        else:
            print("ok - dialogue %s" % name)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
