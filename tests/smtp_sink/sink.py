"""An SMTP sink for the tests: Python's own SMTP server (smtpd, stdlib of Debian 12's 3.11),
writing each message it accepts to DIR/N.eml with its envelope, then printing its port.

usage: sink.py DIR
"""
import asyncore
import os
import smtpd
import sys


class Sink(smtpd.SMTPServer):
    count = 0

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        Sink.count += 1
        path = os.path.join(sys.argv[1], "%d.eml" % Sink.count)
        with open(path + ".tmp", "wb") as f:
            f.write(("X-Envelope-From: %s\nX-Envelope-To: %s\n" % (mailfrom, " ".join(rcpttos))).encode())
            f.write(data if isinstance(data, bytes) else data.encode())
        os.rename(path + ".tmp", path)


server = Sink(("127.0.0.1", 0), None, decode_data=False)
print(server.socket.getsockname()[1], flush=True)
asyncore.loop()
