#!/usr/bin/env python3
"""A chat client written the way socket tutorials write one, for palaver's end-to-end tests.

It connects to the plain-text port, sends its message with a single `send()` and no newline,
and reads what comes back until it sees the message stamped by the server, which it prints
(`[HH:MM:SS] #lobby <guest-1> hello`) before exiting 0. The greeting the server sends first
is read past, as a tutorial's receive loop would.

Usage: tutorial_client.py HOST PORT MESSAGE [TIMEOUT_SECONDS]
Exit status: 0 once the stamped copy arrived; 1 if the connection closed or the timeout
passed first; 2 on bad arguments.
"""

import socket
import sys


def main(argv):
    if len(argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    host, port, message = argv[1], int(argv[2]), argv[3]
    timeout = float(argv[4]) if len(argv) == 5 else 20.0

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    s.send(message.encode())  # no newline: the tutorial's whole protocol

    received = b""
    while True:
        try:
            data = s.recv(1024)
        except socket.timeout:
            print(f"no stamped copy within {timeout}s; got {received!r}", file=sys.stderr)
            return 1
        if not data:
            print(f"connection closed; got {received!r}", file=sys.stderr)
            return 1
        received += data
        for line in received.decode(errors="replace").splitlines():
            if line.endswith("> " + message):
                print(line, flush=True)
                s.close()
                return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
