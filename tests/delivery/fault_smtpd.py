#!/usr/bin/python3
"""A scripted SMTP server for delivery fault tests.

Listens on 127.0.0.1:PORT, speaks enough ESMTP to receive mail, and
misbehaves on request: chosen replies at RCPT or at the end of DATA, a
421 or silence after a command, a disconnect in the middle of DATA,
replies written one byte at a time, and extra lines after the 220 to
STARTTLS. Each fault applies to its first --times occurrences (per
recipient for RCPT rules) and the server behaves normally afterwards, so
a retry succeeds. Accepted messages are written to DIR/N.eml (as
received, dot-unstuffed, CRLF) with DIR/N.json (envelope, TLS).
"""
import argparse
import asyncio
import json
import os
import re
import ssl

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--dir", required=True)
ap.add_argument("--times", type=int, default=1, help="faults apply this many times")
ap.add_argument("--rcpt-reply", action="append", default=[],
                help="REGEX=REPLY: answer RCPT TO addresses matching REGEX with REPLY")
ap.add_argument("--rcpt-always", action="append", default=[],
                help="REGEX=REPLY: like --rcpt-reply but every time")
ap.add_argument("--data-reply", help="reply to the final dot")
ap.add_argument("--say-421-after", help="command (MAIL, RCPT, DATA) answered with 421, then close")
ap.add_argument("--hang-after", help="command after which the server stops answering")
ap.add_argument("--close-in-data", action="store_true", help="disconnect in the middle of DATA")
ap.add_argument("--split", action="store_true", help="write replies one byte at a time")
ap.add_argument("--cert", help="PEM certificate and key: offer STARTTLS")
ap.add_argument("--starttls-extra", action="store_true",
                help="send extra lines after the 220 to STARTTLS")
args = ap.parse_args()

counts = {}
seq = [0]


def fault(name):
    """True for the first --times occurrences of fault NAME."""
    counts[name] = counts.get(name, 0) + 1
    return counts[name] <= args.times


def rules(specs):
    out = []
    for spec in specs:
        pattern, reply = spec.split("=", 1)
        out.append((re.compile(pattern), reply))
    return out


rcpt_rules = rules(args.rcpt_reply)
rcpt_always = rules(args.rcpt_always)


async def send(writer, text):
    data = text.encode()
    if args.split:
        for i in range(len(data)):
            writer.write(data[i:i + 1])
            await writer.drain()
            await asyncio.sleep(0.001)
    else:
        writer.write(data)
        await writer.drain()


def ehlo_reply(tls_on):
    caps = ["PIPELINING", "SIZE 10240000", "8BITMIME", "ENHANCEDSTATUSCODES"]
    if args.cert and not tls_on:
        caps.append("STARTTLS")
    lines = ["fault.test"] + caps
    return "".join("250%s%s\r\n" % ("-" if i < len(lines) - 1 else " ", l)
                   for i, l in enumerate(lines))


def save(mail_from, rcpts, data, tls_on):
    seq[0] += 1
    base = os.path.join(args.dir, "%d" % seq[0])
    with open(base + ".eml", "wb") as f:
        f.write(data)
    with open(base + ".json", "w") as f:
        json.dump({"from": mail_from, "rcpts": rcpts, "tls": tls_on}, f)


async def read_data(reader, writer):
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            return None
        if line == b".\r\n":
            return b"".join(lines)
        if line.startswith(b"."):
            line = line[1:]
        lines.append(line)
        if args.close_in_data and len(lines) == 2 and fault("close-in-data"):
            writer.close()
            return None


async def session(reader, writer):
    tls_on = False
    mail_from, rcpts = None, []
    await send(writer, "220 fault.test ESMTP\r\n")
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = line.decode(errors="replace").rstrip("\r\n")
        verb = cmd.split(" ", 1)[0].split(":", 1)[0].upper()
        if args.hang_after and verb == args.hang_after and fault("hang"):
            await asyncio.sleep(3600)
            return
        if args.say_421_after and verb == args.say_421_after and fault("421"):
            await send(writer, "421 4.3.2 fault.test closing\r\n")
            writer.close()
            return
        if verb == "EHLO":
            await send(writer, ehlo_reply(tls_on))
        elif verb == "HELO":
            await send(writer, "250 fault.test\r\n")
        elif verb == "STARTTLS" and args.cert and not tls_on:
            extra = "250-injected\r\n250 PIPELINING\r\n" if args.starttls_extra else ""
            await send(writer, "220 2.0.0 ready\r\n" + extra)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.cert)
            await writer.start_tls(ctx)
            tls_on = True
        elif verb == "MAIL":
            mail_from, rcpts = re.search(r"<([^>]*)>", cmd).group(1), []
            await send(writer, "250 2.1.0 ok\r\n")
        elif verb == "RCPT":
            addr = re.search(r"<([^>]*)>", cmd).group(1)
            reply = None
            for rx, r in rcpt_always:
                if rx.search(addr):
                    reply = r
            for rx, r in rcpt_rules:
                if rx.search(addr) and fault("rcpt:" + addr):
                    reply = r
            if reply:
                await send(writer, reply + "\r\n")
            else:
                rcpts.append(addr)
                await send(writer, "250 2.1.5 ok\r\n")
        elif verb == "DATA":
            if not rcpts:
                await send(writer, "554 5.5.1 no valid recipients\r\n")
                continue
            await send(writer, "354 go ahead\r\n")
            data = await read_data(reader, writer)
            if data is None:
                return
            if args.data_reply and fault("data"):
                await send(writer, args.data_reply + "\r\n")
            else:
                save(mail_from, rcpts, data, tls_on)
                await send(writer, "250 2.0.0 queued as %d\r\n" % seq[0])
        elif verb == "RSET":
            mail_from, rcpts = None, []
            await send(writer, "250 2.0.0 ok\r\n")
        elif verb == "QUIT":
            await send(writer, "221 2.0.0 bye\r\n")
            writer.close()
            return
        elif verb == "NOOP":
            await send(writer, "250 2.0.0 ok\r\n")
        else:
            await send(writer, "502 5.5.2 unknown command\r\n")


async def handle(reader, writer):
    try:
        await session(reader, writer)
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", args.port)
    async with server:
        await server.serve_forever()


asyncio.run(main())
