#!/usr/bin/python3
"""Send each message file of a folder to sluiced over SMTP.

  send.py PORT FOLDER SENDER RCPT[,RCPT...]

Every file is sent as one transaction from SENDER to the listed
recipients. Prints the number of messages that got a 250.
"""
import os
import smtplib
import sys

port, folder, sender, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4].split(",")
client = smtplib.SMTP("127.0.0.1", port, timeout=30)
sent = 0
for name in sorted(os.listdir(folder)):
    data = open(os.path.join(folder, name), "rb").read()
    try:
        client.sendmail(sender, rcpts, data)
        sent += 1
    except smtplib.SMTPException as e:
        print(f"send {name}: {e}", file=sys.stderr)
client.quit()
print(sent)
