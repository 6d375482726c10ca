"""An aiosmtpd mail sink for the sender tests.

  sink.py --dir D [--cert C --key K] [--user U --password W] [--reply "451 ..."]

Listens on 127.0.0.1 (a free port), prints "READY <port>" once it accepts
connections, and writes every message it takes as D/<n>.eml (the bytes as
received, after dot-unstuffing) with D/<n>.json (mail_from, rcpt_tos). With
--cert/--key it offers STARTTLS and requires it; with --user/--password it
requires AUTH (under TLS). --reply answers every DATA with that reply instead.
"""

import argparse
import json
import os
import socket
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, directory, reply):
        self.directory = directory
        self.reply = reply
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.reply:
            return self.reply
        self.count += 1
        base = os.path.join(self.directory, str(self.count))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 stored"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--reply")
    args = parser.parse_args()
    options = {"data_size_limit": 0}
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        options.update(tls_context=context, require_starttls=True)
    if args.user:
        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and (
                auth_data.login.decode() == args.user and auth_data.password.decode() == args.password)
            return AuthResult(success=ok)
        options.update(authenticator=authenticate, auth_required=True, auth_require_tls=bool(args.cert))
    port = free_port()
    controller = Controller(Sink(args.dir, args.reply), hostname="127.0.0.1", port=port, **options)
    controller.start()  # returns once the server answers on the port
    print("READY", port, flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
