"""paramiko partner client for the end-to-end tests.

  upload  --port P --user U --password W --dir D --sessions N FILE...
      N concurrent SFTP sessions share the FILEs (paths relative to D, uploaded
      to the same relative path); prints "OK path" after each confirmed put and
      "ERR path reason" after a failed one; exit 1 if any failed.
  probe   --port P --user U --password W ACTION ARG...
      one operation, prints a JSON line {"ok": bool, "errno": int|null, "error": str}.
      ACTION: put PATH | get PATH | ls PATH | mkdir PATH | stat PATH | symlink TARGET PATH
              | rename FROM TO | remove PATH
  login   --port P --user U --password W
      prints a JSON line {"ok": bool, "seconds": float}.
"""

import argparse
import io
import json
import sys
import threading
import time

import paramiko


def connect(args):
    transport = paramiko.Transport(("127.0.0.1", args.port))
    transport.banner_timeout = 60
    transport.connect(username=args.user, password=args.password)
    return transport, paramiko.SFTPClient.from_transport(transport)


def upload(args):
    lock = threading.Lock()
    failures = []
    shares = [args.files[i :: args.sessions] for i in range(args.sessions)]

    def session(files):
        try:
            transport, sftp = connect(args)
        except Exception as e:  # the session never started: all its files failed
            for path in files:
                report("ERR", path, f"connect: {e}")
            return
        try:
            for path in files:
                try:
                    sftp.put(f"{args.dir}/{path}", path, confirm=True)
                    report("OK", path, "")
                except Exception as e:
                    report("ERR", path, repr(e))
        finally:
            transport.close()

    def report(tag, path, reason):
        with lock:
            if tag == "ERR":
                failures.append(path)
            print(f"{tag} {path} {reason}".rstrip(), flush=True)

    threads = [threading.Thread(target=session, args=(s,)) for s in shares if s]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 1 if failures else 0


def probe(args):
    transport, sftp = connect(args)
    action, rest = args.action, args.rest
    try:
        if action == "put":
            sftp.putfo(io.BytesIO(b"probe"), rest[0], confirm=False)
        elif action == "get":
            sftp.open(rest[0], "rb").read()
        elif action == "ls":
            sftp.listdir(rest[0])
        elif action == "mkdir":
            sftp.mkdir(rest[0])
        elif action == "stat":
            sftp.stat(rest[0])
        elif action == "symlink":
            sftp.symlink(rest[0], rest[1])
        elif action == "rename":
            sftp.rename(rest[0], rest[1])
        elif action == "remove":
            sftp.remove(rest[0])
        else:
            raise SystemExit(f"unknown action {action}")
        result = {"ok": True, "errno": None, "error": ""}
    except (IOError, OSError) as e:
        result = {"ok": False, "errno": e.errno, "error": str(e)}
    finally:
        transport.close()
    print(json.dumps(result), flush=True)
    return 0


def login(args):
    started = time.monotonic()
    try:
        transport, _ = connect(args)
        transport.close()
        ok = True
    except paramiko.AuthenticationException:
        ok = False
    print(json.dumps({"ok": ok, "seconds": time.monotonic() - started}), flush=True)
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["upload", "probe", "login"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--dir", default=".")
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("rest", nargs="*")
    args = parser.parse_intermixed_args()
    if args.command == "upload":
        args.files = args.rest
        return upload(args)
    if args.command == "probe":
        args.action, args.rest = args.rest[0], args.rest[1:]
        return probe(args)
    return login(args)


if __name__ == "__main__":
    sys.exit(main())
