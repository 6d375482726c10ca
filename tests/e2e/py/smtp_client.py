"""smtplib partner client for the end-to-end tests.

  send --port P --from F --to T [--to T2 ...] [--starttls] [--user U --password W] FILE
      sends FILE's bytes as the message (smtplib dot-stuffs them; the file should
      use CRLF line ends and end with one, so the bytes arrive unchanged), prints
      one JSON line: {"ok": bool, "refused": {addr: [code, text]}, "code": int|null,
      "error": str|null}. "ok" means the server answered 250 to the end of data.
  attachment FILE
      prints the sha256 hex of every attachment of the .eml FILE, one per line,
      as "name sha256".
"""

import argparse
import email
import email.policy
import hashlib
import json
import smtplib
import ssl
import sys


def send(args):
    message = open(args.file, "rb").read()
    result = {"ok": False, "refused": {}, "code": None, "error": None}
    try:
        with smtplib.SMTP("127.0.0.1", args.port, local_hostname="partner.test", timeout=60) as smtp:
            if args.starttls:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                smtp.starttls(context=context)
            if args.user:
                smtp.login(args.user, args.password)
            refused = smtp.sendmail(args.sender, args.to, message)
            result["refused"] = {k: [v[0], v[1].decode()] for k, v in refused.items()}
            result["ok"] = True
    except smtplib.SMTPRecipientsRefused as e:
        result["refused"] = {k: [v[0], v[1].decode()] for k, v in e.recipients.items()}
        result["error"] = "all recipients refused"
    except smtplib.SMTPResponseException as e:
        result["code"] = e.smtp_code
        result["error"] = e.smtp_error.decode(errors="replace")
    except (smtplib.SMTPException, OSError) as e:
        result["error"] = repr(e)
    print(json.dumps(result))


def attachments(args):
    with open(args.file, "rb") as f:
        parsed = email.message_from_binary_file(f, policy=email.policy.default)
    for part in parsed.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        print(part.get_filename(), hashlib.sha256(payload).hexdigest())


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("send")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--from", dest="sender", required=True)
    s.add_argument("--to", action="append", required=True)
    s.add_argument("--starttls", action="store_true")
    s.add_argument("--user")
    s.add_argument("--password")
    s.add_argument("file")
    a = sub.add_parser("attachment")
    a.add_argument("file")
    args = parser.parse_args()
    {"send": send, "attachment": attachments}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
