#!/usr/bin/python3
"""Inject a personalized campaign (or given messages) into sluiced over SMTP.

  send_campaign.py HOST PORT SESSIONS LIST campaign COUNT SENDERS RCPT_DOMAINS
  send_campaign.py HOST PORT SESSIONS LIST files DIR PER_FILE RCPT_DOMAINS

campaign: COUNT multipart/alternative text and HTML messages, each to one
recipient, personalized (name, offer, member code), sent in turn from the
comma-separated SENDERS domains to recipients spread over the
comma-separated RCPT_DOMAINS.
files: every file in DIR (one RFC 5322 message each) to PER_FILE
generated recipients in different RCPT_DOMAINS.

SESSIONS threads inject in parallel. Each recipient of a message that got
a 250 reply is written to LIST as "RECIPIENT MESSAGE-ID"; the last line
printed is the number of recipients accepted.
"""
import email.utils
import os
import smtplib
import sys
import threading
import zlib

FIRST = ["Ada", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken",
         "Radia", "Edsger", "Frances", "Niklaus", "Hedy", "Alan", "Sophie"]
LAST = ["Lovelace", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov",
        "Thompson", "Perlman", "Dijkstra", "Allen", "Wirth", "Lamarr"]
OFFERS = [("hiking boots", 20), ("rain jackets", 15), ("camping stoves", 25),
          ("trail maps", 10), ("sleeping bags", 30), ("head torches", 12)]
SENDER_NAMES = ["Trailhead Outfitters", "Harbor Bank"]


def campaign_message(i, sender_domain, sender_name, rcpt_domain):
    first = FIRST[i % len(FIRST)]
    last = LAST[(i * 7) % len(LAST)]
    rcpt = f"{first.lower()}.{last.lower()}{i}@{rcpt_domain}"
    item, percent = OFFERS[i % len(OFFERS)]
    boundary = f"=_alt_{i:05d}"
    token = f"{i:05d}{zlib.crc32((rcpt + sender_domain).encode()):08x}"
    msgid = email.utils.make_msgid(idstring=f"c{i:05d}", domain=sender_domain)
    text = (f"Hello {first},\r\n\r\nThis week {percent}% off {item} for members like you.\r\n"
            f"Your member code: {token}\r\n\r\nSee the offer: https://{sender_domain}/o/{token}\r\n"
            f"\r\nYou receive this because you subscribed as {rcpt}.\r\n"
            f"Unsubscribe: https://{sender_domain}/u/{token}\r\n")
    html = (f"<!DOCTYPE html>\r\n<html><body style=\"font-family: sans-serif\">\r\n"
            f"<p>Hello {first} {last},</p>\r\n"
            f"<p>This week <strong>{percent}% off {item}</strong> for members like you.</p>\r\n"
            f"<p><a href=\"https://{sender_domain}/o/{token}\">See the offer</a></p>\r\n"
            f"<p style=\"font-size: small\">You receive this because you subscribed as "
            f"{rcpt}. <a href=\"https://{sender_domain}/u/{token}\">Unsubscribe</a>.</p>\r\n"
            f"</body></html>\r\n")
    local = "news" if "shop" in sender_domain else "alerts"
    msg = (f"From: \"{sender_name}\" <{local}@{sender_domain}>\r\n"
           f"To: \"{first} {last}\" <{rcpt}>\r\n"
           f"Subject: {first}, {percent}% off {item} this week\r\n"
           f"Date: {email.utils.formatdate()}\r\n"
           f"Message-ID: {msgid}\r\n"
           "MIME-Version: 1.0\r\n"
           f"Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n"
           f"List-Unsubscribe: <https://{sender_domain}/u/{token}>,\r\n"
           f" <mailto:unsubscribe-{token}@{sender_domain}>\r\n"
           "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
           f"Feedback-ID: c{i % 4}:demo:{sender_domain}\r\n"
           "\r\nThis is a multipart message in MIME format.\r\n\r\n"
           f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 7bit\r\n\r\n" + text +
           f"\r\n--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 7bit\r\n\r\n" + html +
           f"\r\n--{boundary}--\r\n")
    return f"{local}@{sender_domain}", [rcpt], msgid, msg.encode()


def from_address(raw):
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("utf-8", "replace")
    for line in head.replace("\r\n", "\n").split("\n"):
        if line.lower().startswith("from:"):
            name, addr = email.utils.parseaddr(line[5:])
            if "@" in addr:
                return addr
    return "demo@sluice.example"


def file_jobs(folder, per_file, domains):
    jobs = []
    for n, name in enumerate(sorted(os.listdir(folder))):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        raw = open(path, "rb").read()
        if b"\r\n" not in raw:
            raw = raw.replace(b"\n", b"\r\n")
        rcpts = [f"user{n}.{k}@{domains[(n * per_file + k) % len(domains)]}"
                 for k in range(per_file)]
        jobs.append((from_address(raw), rcpts, name, raw))
    return jobs


def main(argv):
    host, port, sessions, list_path, mode = argv[1], int(argv[2]), int(argv[3]), argv[4], argv[5]
    if mode == "campaign":
        count, senders, domains = int(argv[6]), argv[7].split(","), argv[8].split(",")
        jobs = range(count)

        def make(i):
            k = i % len(senders)
            return campaign_message(i, senders[k], SENDER_NAMES[k % 2], domains[i % len(domains)])
    else:
        folder, per_file, domains = argv[6], int(argv[7]), argv[8].split(",")
        jobs = file_jobs(folder, per_file, domains)

        def make(job):
            return job

    lock = threading.Lock()
    out = open(list_path, "w")
    accepted = [0]
    queue = list(jobs)

    def worker():
        client = smtplib.SMTP(host, port, timeout=60)
        client.ehlo("inject.demo")
        while True:
            with lock:
                if not queue:
                    break
                job = queue.pop()
            sender, rcpts, msgid, raw = make(job)
            try:
                refused = client.sendmail(sender, rcpts, raw)
            except smtplib.SMTPException as e:
                print(f"injection of {msgid} failed: {e}", file=sys.stderr)
                continue
            with lock:
                for r in rcpts:
                    if r not in refused:
                        out.write(f"{r} {msgid}\n")
                        accepted[0] += 1
        client.quit()

    threads = [threading.Thread(target=worker) for _ in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()
    print(accepted[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
