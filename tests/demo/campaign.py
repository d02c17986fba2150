#!/usr/bin/python3
"""Write a small personalized marketing campaign as RFC 5322 files.

  campaign.py OUT_DIR COUNT DOMAIN...

Writes OUT_DIR/NNNN.eml, COUNT messages with CRLF line ends, each a
multipart/alternative text and HTML newsletter to one recipient, sent in
turn from each DOMAIN. Prints one line "FILE DOMAIN" per message. Names,
offers and addresses come from fixed lists (the example.com/.net/.org
domains of RFC 2606), so two runs write the same campaign apart from the
Date and Message-ID headers.
"""

import email.utils
import os
import sys
import zlib

FIRST = ["Ada", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken",
         "Radia", "Edsger", "Frances", "Niklaus", "Hedy", "Alan", "Sophie"]
LAST = ["Lovelace", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov",
        "Thompson", "Perlman", "Dijkstra", "Allen", "Wirth", "Lamarr"]
MAILBOXES = ["example.com", "example.net", "example.org"]
OFFERS = [("hiking boots", 20), ("rain jackets", 15), ("camping stoves", 25),
          ("trail maps", 10), ("sleeping bags", 30), ("head torches", 12)]
SENDERS = {0: ("Trailhead Outfitters", "news"), 1: ("Harbor Bank", "alerts")}


def message(index, domain, sender_kind):
    first = FIRST[index % len(FIRST)]
    last = LAST[(index * 7) % len(LAST)]
    rcpt = f"{first.lower()}.{last.lower()}{index}@{MAILBOXES[index % 3]}"
    sender_name, local = SENDERS[sender_kind]
    item, percent = OFFERS[index % len(OFFERS)]
    boundary = f"=_alt_{index:04d}"
    token = f"{index:04d}{zlib.crc32((rcpt + domain).encode('ascii')):08x}"
    msgid = email.utils.make_msgid(idstring=f"c{index:04d}", domain=domain)

    text = (f"Hello {first},\n\n"
            f"This week {percent}% off {item} for members like you.\n"
            f"Your member code: {token}\n\n"
            f"See the offer: https://{domain}/o/{token}\n\n"
            f"You receive this because you subscribed as {rcpt}.\n"
            f"Unsubscribe: https://{domain}/u/{token}\n")
    html = (f"<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n"
            f"<p>Hello {first},</p>\n"
            f"<p>This week <strong>{percent}% off {item}</strong> for members "
            f"like you.</p>\n"
            f"<p><a href=\"https://{domain}/o/{token}\">See the offer</a></p>\n"
            f"<p style=\"font-size: small\">You receive this because you "
            f"subscribed as {rcpt}. "
            f"<a href=\"https://{domain}/u/{token}\">Unsubscribe</a>.</p>\n"
            f"</body></html>\n")

    headers = [
        f"From: \"{sender_name}\" <{local}@{domain}>",
        f"To: \"{first} {last}\" <{rcpt}>",
        f"Subject: {first}, {percent}% off {item} this week",
        f"Date: {email.utils.formatdate(localtime=False)}",
        f"Message-ID: {msgid}",
        "MIME-Version: 1.0",
        f"Content-Type: multipart/alternative; boundary=\"{boundary}\"",
        f"List-Unsubscribe: <https://{domain}/u/{token}>,",
        f" <mailto:unsubscribe-{token}@{domain}>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        f"Feedback-ID: c{index % 4}:demo:{domain}",
    ]
    parts = [
        "This is a multipart message in MIME format.",
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 7bit",
        "",
        text.rstrip("\n"),
        "",
        f"--{boundary}",
        "Content-Type: text/html; charset=utf-8",
        "Content-Transfer-Encoding: 7bit",
        "",
        html.rstrip("\n"),
        "",
        f"--{boundary}--",
        "",
    ]
    lines = headers + [""] + "\n".join(parts).split("\n")
    return "\r\n".join(lines).encode("utf-8")


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir, count, domains = argv[1], int(argv[2]), argv[3:]
    os.makedirs(out_dir, exist_ok=True)
    for i in range(count):
        kind = i % len(domains)
        domain = domains[kind]
        path = os.path.join(out_dir, f"{i + 1:04d}.eml")
        with open(path, "wb") as f:
            f.write(message(i, domain, kind % len(SENDERS)))
        print(path, domain)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
