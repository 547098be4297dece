"""The pre-receive hook git runs inside a push: it hands the push to the builder and relays.

git runs this file (installed in each repository as `hooks/pre-receive`, with the builder's
interpreter in its `#!` line) while the pushed objects sit in quarantine. It imports only the
standard library, so it starts in milliseconds. It connects to the builder's hook socket (path
and push token in its environment, set by the builder when it started `git-receive-pack`),
sends the ref updates and git's quarantine variables, then copies what the builder sends back
to its standard output, which git shows the client as `remote:` lines, until the builder sends
the exit code. A non-zero exit rejects the push; refs change only after a zero.

Wire format, builder to hook: frames of one type byte, a 4-byte big-endian length, a payload.
`o` carries output bytes, `x` the exit code in ASCII. Hook to builder: one JSON line.
"""

import json
import os
import socket
import struct
import sys

SOCKET_VARIABLE = "DEIS_BUILDER_HOOK_SOCKET"
TOKEN_VARIABLE = "DEIS_BUILDER_PUSH_TOKEN"
FORWARDED = ("GIT_QUARANTINE_PATH", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES")
"""git's variables that make the quarantined objects visible to `git archive` in the builder."""

HEADER = struct.Struct(">cI")
OUTPUT = b"o"
EXIT = b"x"


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def main() -> int:
    """Hand the push to the builder; return the exit code it decides."""
    path, token = os.environ.get(SOCKET_VARIABLE), os.environ.get(TOKEN_VARIABLE)
    if not path or not token:
        sys.stdout.write("! this repository only accepts pushes through the builder\n")
        return 1
    request = {
        "token": token,
        "refs": sys.stdin.read(),
        "env": {name: os.environ[name] for name in FORWARDED if name in os.environ},
    }
    out = sys.stdout.buffer
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(path)
            sock.sendall(json.dumps(request).encode() + b"\n")
            while True:
                kind, length = HEADER.unpack(_read_exactly(sock, HEADER.size))
                payload = _read_exactly(sock, length)
                if kind == EXIT:
                    out.flush()
                    return int(payload)
                out.write(payload)
                out.flush()
        except (OSError, EOFError, ValueError):
            out.write(b"! the builder went away during the push\n")
            out.flush()
            return 1


if __name__ == "__main__":
    sys.exit(main())
