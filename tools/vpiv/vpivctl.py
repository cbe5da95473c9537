#!/usr/bin/python3
"""Send one command to a running vpiv card's control socket and print its JSON answer.

    vpivctl.py SOCKET status | insert | remove | fault NAME[=VALUE]... | fault-clear [NAME]... |
                      timing SPEC | factory-reset [VERSION] | quit

Exit status 0 when the card answered ok, 1 otherwise, 2 when the socket cannot be reached.
"""

import json
import socket
import sys


def send(path, words, timeout=60):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall((" ".join(words) + "\n").encode())
        return json.loads(s.makefile("r").readline())


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    try:
        reply = send(sys.argv[1], sys.argv[2:])
    except OSError as e:
        sys.stderr.write(f"vpivctl: cannot reach the card at {sys.argv[1]}: {e}\n")
        return 2
    print(json.dumps(reply))
    return 0 if reply.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
