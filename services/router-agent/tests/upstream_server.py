# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""A tiny upstream for the router tests, run as its own process: `python upstream_server.py
<port> <name>`. It answers every GET with JSON naming itself, the path, the request headers and
the client's port (`/status/<code>` answers that status, `/sleep/<seconds>` answers late),
and POST with the size of the body it read; `/ws` speaks a minimal websocket
echo."""

import base64
import hashlib
import http.server
import json
import struct
import sys
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _send(self, payload):
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            return self._websocket()
        if self.path.startswith("/status/"):  # answers that status (the metrics tests)
            self.send_response(int(self.path.rsplit("/", 1)[1]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/sleep/"):  # answers after that many seconds
            time.sleep(float(self.path.rsplit("/", 1)[1]))
        if self.path == "/big":
            body = b"x" * 200_000
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self._send(
            {
                "name": NAME,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "peer_port": self.client_address[1],  # nginx's side: reused when kept alive
            }
        )

    def do_POST(self):
        size = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(size)
        self._send({"name": NAME, "received": len(data)})

    def _websocket(self):
        key = self.headers["Sec-WebSocket-Key"].encode()
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = struct.unpack("!H", self.rfile.read(2))[0]
            mask = self.rfile.read(4)
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if opcode == 8:
                return
            self.wfile.write(bytes([0x80 | opcode, len(data)]) + data)
            self.wfile.flush()

    def log_message(self, *args):
        pass


NAME = sys.argv[2]
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
server.daemon_threads = True
sys.stdout.write("ready\n")
sys.stdout.flush()
server.serve_forever()
