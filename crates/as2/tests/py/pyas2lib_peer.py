"""A pyas2lib trading partner for the AS2 receiver's interop tests.

  build      builds one AS2 message as pyas2lib sends it and writes
             OUT/headers.json (HTTP headers), OUT/body.bin (HTTP body) and
             OUT/state.json (what `parse-mdn` needs: message id, MIC, MDN settings)
  parse-mdn  parses an MDN (HTTP headers + empty line + body, as received) with
             pyas2lib's Mdn().parse and prints one JSON line:
             {"status": ..., "detail": ..., "mic_sent": ..., "mic_returned": ..., "mic_matched": ...}
  serve      an AS2 receiver: a threaded HTTP server on a free 127.0.0.1 port (prints
             "READY <port>"); each POST is parsed with pyas2lib's Message().parse,
             a processed payload is written to DIR/<n>.bin with DIR/<n>.json (filename,
             message id, signed/encrypted/compressed, status), and pyas2lib's MDN is the
             synchronous answer. Runs until killed.

Needs pyas2lib (and the oscrypto fix of patch_oscrypto.py). PEM files: a "key"
file holds a private key and its certificate (pyas2lib's own format).
"""

import argparse
import email
import http.server
import itertools
import json
import logging
import pathlib
import sys
import threading

from pyas2lib import Message, Mdn, Organization, Partner


def read(path):
    return pathlib.Path(path).read_bytes()


def build(args):
    sign_key = read(args.sign_key) if args.sign_key else None
    org = Organization(as2_name=args.sender, sign_key=sign_key, mdn_url=args.mdn_url, domain="partner.example")
    partner = Partner(
        as2_name=args.receiver,
        encrypt_cert=read(args.encrypt_cert) if args.encrypt_cert else None,
        sign=args.sign,
        encrypt=args.encrypt,
        compress=args.compress,
        enc_alg=args.enc_alg,
        digest_alg=args.digest_alg,
        sign_alg=args.sign_alg,
        key_enc_alg=args.key_enc_alg,
        mdn_mode=None if args.mdn_mode == "none" else args.mdn_mode,
        mdn_digest_alg=None if args.mdn_digest_alg == "none" else args.mdn_digest_alg,
    )
    message = Message(org, partner)
    message.build(
        read(args.payload),
        filename=args.filename,
        content_type=args.content_type,
        message_id=args.message_id,
    )
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "headers.json").write_text(json.dumps(message.headers))
    content = message.content
    (out / "body.bin").write_bytes(content if isinstance(content, bytes) else content.encode())
    state = {
        "sender": args.sender,
        "receiver": args.receiver,
        "message_id": message.message_id,
        "mic": message.mic.decode() if message.mic else None,
        "digest_alg": message.digest_alg,
        "mdn_digest_alg": partner.mdn_digest_alg,
    }
    (out / "state.json").write_text(json.dumps(state))
    print(json.dumps(state))


def parse_mdn(args):
    state = json.loads(pathlib.Path(args.state).read_text())
    org = Organization(as2_name=state["sender"], domain="partner.example")
    partner = Partner(
        as2_name=state["receiver"],
        verify_cert=read(args.verify_cert),
        mdn_digest_alg=None if args.accept_unsigned else state["mdn_digest_alg"],
    )
    original = Message(org, partner)
    original.message_id = state["message_id"]
    original.mic = state["mic"].encode() if state["mic"] else None
    original.digest_alg = state["digest_alg"]

    raw = read(args.mdn)
    found = {}

    def find_message(message_id, recipient):
        found["message_id"], found["recipient"] = message_id, recipient
        return original if message_id == original.message_id else None

    status, detail = Mdn().parse(raw, find_message)
    returned = None
    for part in email.message_from_bytes(raw).walk():
        if part.get_content_type() == "message/disposition-notification":
            fields = part.get_payload()[0]
            mic = fields.get("Received-Content-MIC")
            returned = mic.split(",")[0].strip() if mic else None
    print(
        json.dumps(
            {
                "status": status,
                "detail": detail,
                "mic_sent": state["mic"],
                "mic_returned": returned,
                "mic_matched": returned is not None and returned == state["mic"],
                "original_message_id": found.get("message_id"),
                "original_recipient": found.get("recipient"),
            }
        )
    )


def serve(args):
    # Refusals are expected in the tests; the record of each message holds its error.
    logging.getLogger("pyas2lib").setLevel(logging.CRITICAL)
    org = Organization(
        as2_name=args.org,
        sign_key=read(args.org_key),
        decrypt_key=read(args.org_key),
        domain="receiver.example",
    )
    partner = Partner(as2_name=args.partner, verify_cert=read(args.partner_cert))
    out = pathlib.Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    counter = itertools.count(1)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            head = "".join(f"{name}: {value}\r\n" for name, value in self.headers.items())
            message = Message()
            status, (exception, _), mdn = message.parse(
                head.encode() + b"\r\n" + body,
                find_org_cb=lambda as2_name: org if as2_name == org.as2_name else None,
                find_partner_cb=lambda as2_name: partner if as2_name == partner.as2_name else None,
            )
            with lock:
                n = next(counter)
            record = {
                "status": status,
                "error": str(exception) if exception else None,
                "message_id": message.message_id,
                "filename": message.payload.get_filename() if message.payload is not None else None,
                "signed": message.signed,
                "encrypted": message.encrypted,
                "compressed": message.compressed,
            }
            if status == "processed":
                (out / f"{n}.bin").write_bytes(message.content)
            (out / f"{n}.json").write_text(json.dumps(record))
            if mdn is not None and mdn.mdn_mode == "SYNC":
                self.answer(mdn.headers, mdn.content)
            else:
                self.answer({"Content-Type": "text/plain"}, f"{status}\r\n".encode())

        def answer(self, headers, content):
            content = content if isinstance(content, bytes) else content.encode()
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    b = commands.add_parser("build")
    b.add_argument("--out", required=True)
    b.add_argument("--payload", required=True)
    b.add_argument("--sender", required=True)
    b.add_argument("--receiver", required=True)
    b.add_argument("--sign-key", help="PEM key + certificate of the sender")
    b.add_argument("--encrypt-cert", help="PEM certificate of the receiver")
    b.add_argument("--sign", action="store_true")
    b.add_argument("--encrypt", action="store_true")
    b.add_argument("--compress", action="store_true")
    b.add_argument("--enc-alg", default="aes_256_cbc")
    b.add_argument("--digest-alg", default="sha256")
    b.add_argument("--sign-alg", default="rsassa_pkcs1v15")
    b.add_argument("--key-enc-alg", default="rsaes_pkcs1v15")
    b.add_argument("--mdn-mode", default="SYNC", choices=["SYNC", "ASYNC", "none"])
    b.add_argument("--mdn-digest-alg", default="sha256")
    b.add_argument("--mdn-url")
    b.add_argument("--filename")
    b.add_argument("--content-type", default="application/octet-stream")
    b.add_argument("--message-id")
    b.set_defaults(run=build)

    p = commands.add_parser("parse-mdn")
    p.add_argument("--state", required=True)
    p.add_argument("--mdn", required=True, help="HTTP headers, empty line, body")
    p.add_argument("--verify-cert", required=True, help="PEM certificate of the MDN's signer")
    p.add_argument("--accept-unsigned", action="store_true", help="do not insist on a signed MDN")
    p.set_defaults(run=parse_mdn)

    s = commands.add_parser("serve")
    s.add_argument("--dir", required=True, help="where received payloads go")
    s.add_argument("--org", required=True, help="the receiver's AS2 name")
    s.add_argument("--org-key", required=True, help="PEM key + certificate: decrypts, signs MDNs")
    s.add_argument("--partner", required=True, help="the sender's AS2 name")
    s.add_argument("--partner-cert", required=True, help="PEM certificate that verifies the sender")
    s.set_defaults(run=serve)

    args = parser.parse_args()
    args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
