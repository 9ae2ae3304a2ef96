"""A loopback HTTP server that plays vendors' recorded replies, and the payload fixtures.

Each test scripts the replies per path (status, headers, body bytes); the adapters under test
talk to it over real HTTP on 127.0.0.1 through their own clients, so everything from the
vendor client's URL building to its error handling runs for real.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

VENDOR_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vendors"


def vendor_bytes(relative_path: str) -> bytes:
    """The bytes of a recorded/hand-built vendor payload under tests/fixtures/vendors/."""
    return (VENDOR_FIXTURES / relative_path).read_bytes()


@dataclass
class Reply:
    """One scripted HTTP reply. `declared_length` lies about Content-Length to cut a body short."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    declared_length: int | None = None


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class LoopbackServer:
    """Replies per path, first-in first-out; the last reply of a path repeats."""

    def __init__(self) -> None:
        self.replies: dict[str, list[Reply]] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                server.requests.append(
                    Recorded("GET", parts.path, parse_qs(parts.query), dict(self.headers.items()))
                )
                reply = server._next(parts.path)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                length = reply.declared_length if reply.declared_length else len(reply.body)
                self.send_header("Content-Length", str(length))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.declared_length:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(reply.body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self.replies.setdefault(path, []).extend(replies)

    def requests_to(self, path: str) -> list[Recorded]:
        return [request for request in self.requests if request.path == path]

    def _next(self, path: str) -> Reply:
        with self._lock:
            queue = self.replies.get(path)
            if not queue:
                return Reply(status=404, body=b"no scripted reply for " + path.encode())
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
