"""Opens COUNT SFTP sessions to 127.0.0.1:PORT (key login) and holds them idle.

Usage: idle_sftp.py PORT USER KEY COUNT
Prints "ready <opened> <seconds>" once every session is authenticated and has its
SFTP channel open, then waits until stdin is closed and closes them all.
Any failure: a message on stderr and exit status 1.
"""
import socket
import sys
import time

import paramiko


def open_session(port, user, key):
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    transport = paramiko.Transport(sock)
    transport.connect(username=user, pkey=key)  # loopback bench: host key not pinned
    return transport, paramiko.SFTPClient.from_transport(transport)


def main():
    port, user, key_path, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    key = paramiko.Ed25519Key.from_private_key_file(key_path)
    sessions = []
    start = time.monotonic()
    try:
        for i in range(count):
            sessions.append(open_session(port, user, key))
    except Exception as e:  # report which session failed and why
        print(f"session {len(sessions) + 1} of {count}: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"ready {len(sessions)} {time.monotonic() - start:.1f}", flush=True)
    sys.stdin.read()
    for transport, sftp in sessions:
        sftp.close()
        transport.close()


if __name__ == "__main__":
    main()
