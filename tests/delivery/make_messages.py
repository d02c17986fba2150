#!/usr/bin/python3
"""Write test messages with awkward content into a folder.

  make_messages.py FOLDER DOMAIN COUNT

Files are named after the local part of their Message-ID. The first ones
cover a line with a lone dot, lines starting with dots, 8-bit UTF-8 text,
a multipart text and HTML body, a 100 KB body and a header folded over
several lines; the rest are short text messages.
"""
import sys

folder, domain, count = sys.argv[1], sys.argv[2], int(sys.argv[3])


def header(n, extra=""):
    return (f"From: Sender <news@{domain}>\r\nTo: Reader <reader@{domain}>\r\n"
            f"Subject: test message {n}\r\nDate: Fri, 04 Dec 2026 12:00:00 +0000\r\n"
            f"Message-ID: <m{n}@{domain}>\r\n{extra}\r\n")


bodies = [
    "first line\r\n.\r\n.. two dots\r\n.leading dot\r\nlast\r\n",
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n\r\nGr\u00fc\u00dfe aus K\u00f6ln, \u00e7a va?\r\n",
    "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
    "--b1\r\nContent-Type: text/plain\r\n\r\nHello text\r\n--b1\r\n"
    "Content-Type: text/html\r\n\r\n<p>Hello <b>HTML</b></p>\r\n--b1--\r\n",
    "".join(f"line {i:05d} of a long message, filler text to reach about 100 KB\r\n"
            for i in range(1500)),
    "X-Folded: one\r\n two\r\n\tthree\r\n\r\nfolded header above\r\n",
]
for n in range(count):
    if n < len(bodies):
        body = bodies[n]
        if body.startswith(("MIME-Version", "X-Folded")):
            text = header(n).rstrip("\r\n") + "\r\n" + body
        else:
            text = header(n) + body
    else:
        text = header(n) + f"short message {n}\r\n"
    with open(f"{folder}/m{n}", "wb") as f:
        f.write(text.encode("utf-8"))
