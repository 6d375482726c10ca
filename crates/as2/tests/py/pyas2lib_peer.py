"""A pyas2lib trading partner for the AS2 receiver's interop tests.

  build      builds one AS2 message as pyas2lib sends it and writes
             OUT/headers.json (HTTP headers), OUT/body.bin (HTTP body) and
             OUT/state.json (what `parse-mdn` needs: message id, MIC, MDN settings)
  parse-mdn  parses an MDN (HTTP headers + empty line + body, as received) with
             pyas2lib's Mdn().parse and prints one JSON line:
             {"status": ..., "detail": ..., "mic_sent": ..., "mic_returned": ..., "mic_matched": ...}

Needs pyas2lib (and the oscrypto fix of patch_oscrypto.py). PEM files: a "key"
file holds a private key and its certificate (pyas2lib's own format).
"""

import argparse
import email
import json
import pathlib
import sys

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

    args = parser.parse_args()
    args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
