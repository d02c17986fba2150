#!/usr/bin/python3
"""Inject numbered messages and record every 250 reply with its queue id.

usage: inject.py HOST PORT COUNT SESSIONS ACKFILE

SESSIONS threads each open a connection and send messages one after
another until COUNT messages have been tried in total. After each
"250 2.0.0 Ok: queued as ID" the line "N ID" is appended to ACKFILE and
flushed, so the file lists exactly the acknowledged messages even when
the server dies mid-run. A thread stops at its first connection error.
message(N) is the content of message N (imported by the checker).
"""
import socket
import sys
import threading


def message(n):
    filler = "".join("line %04d of message %d, some text to fill the body\r\n" % (i, n)
                     for i in range(40))
    return ("Subject: crash test %d\r\nMessage-ID: <%d@inject.test>\r\n"
            "Date: Fri, 04 Dec 2026 12:00:00 +0000\r\n\r\n%s" % (n, n, filler)).encode()


class Client:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.buf = b""
        self.expect(b"220")
        self.cmd(b"EHLO inject.test", b"250")

    def reply(self):
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(4096)
                if not chunk:
                    raise OSError("connection closed")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            if line[3:4] != b"-":
                return line

    def expect(self, code):
        line = self.reply()
        if not line.startswith(code):
            raise OSError("unexpected reply %r" % line)
        return line

    def cmd(self, text, code):
        self.sock.sendall(text + b"\r\n")
        return self.expect(code)

    def send(self, n):
        # Pipelined: MAIL, RCPT and DATA in one packet.
        self.sock.sendall(b"MAIL FROM:<inject@example.com>\r\nRCPT TO:<n%d@example.net>\r\nDATA\r\n" % n)
        self.expect(b"250")
        self.expect(b"250")
        self.expect(b"354")
        self.sock.sendall(message(n) + b".\r\n")
        line = self.expect(b"250")
        return line.rsplit(b" ", 1)[1].decode()


def main():
    host, port, count, sessions, ackfile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        int(sys.argv[4]), sys.argv[5]
    lock = threading.Lock()
    counter = [0]
    out = open(ackfile, "a")

    def worker():
        try:
            client = Client(host, port)
            while True:
                with lock:
                    if counter[0] >= count:
                        return
                    n = counter[0]
                    counter[0] += 1
                qid = client.send(n)
                with lock:
                    out.write("%d %s\n" % (n, qid))
                    out.flush()
        except OSError:
            return

    threads = [threading.Thread(target=worker) for _ in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()


if __name__ == "__main__":
    main()
