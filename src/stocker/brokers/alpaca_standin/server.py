"""The stand-in's servers on loopback: Alpaca's trading REST API over HTTP and its
`trade_updates` WebSocket stream, both over one `Book`.

Control endpoints (not Alpaca's) drive the market and script faults: `POST /_standin/open`
runs the opening auction, `POST /_standin/positions` sets a position changed outside any order,
`POST /_standin/prices` sets prices, `POST /_standin/script` gives orders a fault by client id,
`POST /_standin/drop` drops every stream connection, `GET /_standin/summary` counts.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from decimal import Decimal
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from stocker.brokers.alpaca_standin.book import Book, RefusedError
from stocker.brokers.alpaca_standin.wire import error_body

ORDER_PREFIX = "/v2/orders/"


class StandIn:
    """Alpaca's trading API on 127.0.0.1 (REST on `url`, the stream on `stream_url`)."""

    def __init__(
        self,
        book: Book | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        stream_port: int = 0,
        hang_s: float = 0.0,
    ) -> None:
        self.book = book or Book()
        self.hang_s = hang_s
        self.requests: list[tuple[str, str]] = []
        self._generation = 0
        self._http = ThreadingHTTPServer((host, port), _handler(self))
        self._http.daemon_threads = True
        self._ws: Server = serve(self._stream, host, stream_port)
        self._threads = [
            threading.Thread(
                target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            ),
            threading.Thread(target=self._ws.serve_forever, daemon=True),
        ]

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def stream_url(self) -> str:
        host, port = self._ws.socket.getsockname()[:2]
        return f"ws://{host}:{port}/stream"

    def start(self) -> StandIn:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._generation += 1
        self._http.shutdown()
        self._http.server_close()
        self._ws.shutdown()

    def drop_streams(self) -> None:
        """Hang up every stream connection (they reconnect; what was sent meanwhile is lost)."""
        self._generation += 1

    # -- the stream ------------------------------------------------------------------------

    def _stream(self, connection: ServerConnection) -> None:
        try:
            auth = json.loads(connection.recv(timeout=10))
            data = auth.get("data") or {}
            if auth.get("action") not in ("authenticate", "auth") or not (
                data.get("key_id") or auth.get("key")
            ):
                connection.send(
                    json.dumps(
                        {
                            "stream": "authorization",
                            "data": {"status": "unauthorized", "action": "authenticate"},
                        }
                    )
                )
                return
            connection.send(
                json.dumps(
                    {
                        "stream": "authorization",
                        "data": {"status": "authorized", "action": "authenticate"},
                    }
                )
            )
            listen = json.loads(connection.recv(timeout=10))
            streams = (listen.get("data") or {}).get("streams") or []
            cursor = self.book.log_length()
            connection.send(json.dumps({"stream": "listening", "data": {"streams": streams}}))
            generation = self._generation
            while generation == self._generation:
                entry = self.book.wait_entry(cursor, 0.05)
                if entry is None:
                    try:
                        connection.recv(timeout=0)
                    except TimeoutError:
                        continue
                    continue
                cursor += 1
                if entry.lost:
                    while (later := self.book.wait_entry(cursor, 0)) is not None and later.lost:
                        cursor += 1
                    break
                if "trade_updates" in streams:
                    connection.send(json.dumps(entry.message))
            _abort(connection)
        except (ConnectionClosed, TimeoutError, OSError):
            return


def _abort(connection: ServerConnection) -> None:
    """Drop the connection without a closing handshake, as a network failure does."""
    with contextlib.suppress(OSError):
        connection.socket.shutdown(socket.SHUT_RDWR)
    connection.socket.close()


def _handler(stand_in: StandIn) -> type[BaseHTTPRequestHandler]:
    book = stand_in.book

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body in separate writes: no 40 ms stall

        def log_message(self, format: str, *args: object) -> None:
            return

        def _reply(self, status: int, body: Any = None) -> None:
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            if status == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(payload)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"{}")

        def _authorized(self) -> bool:
            if self.path.startswith("/_standin/"):
                return True
            if self.headers.get("APCA-API-KEY-ID") and self.headers.get("APCA-API-SECRET-KEY"):
                return True
            self._reply(401, error_body(40110000, "request is not authorized"))
            return False

        def _route(self, method: str) -> None:
            parts = urlsplit(self.path)
            path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
            stand_in.requests.append((method, path))
            if not self._authorized():
                return
            if method == "POST" and path == "/v2/orders":
                try:
                    self._reply(200, book.submit(self._body()))
                except RefusedError as refused:
                    if refused.hang_up:
                        time.sleep(stand_in.hang_s)
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self._reply(refused.status, refused.body)
            elif method == "GET" and path == "/v2/orders":
                status = query.get("status", "open")
                self._reply(200, book.list_orders(status, int(query.get("limit", 50))))
            elif method == "GET" and path == "/v2/orders:by_client_order_id":
                found = book.by_client(query.get("client_order_id", ""))
                if found is None:
                    self._reply(404, error_body(40410000, "order not found"))
                else:
                    self._reply(200, found.wire())
            elif path.startswith(ORDER_PREFIX) and method in ("GET", "DELETE"):
                order_id = path[len(ORDER_PREFIX) :]
                if method == "DELETE":
                    code = book.cancel(order_id)
                    if code == 204:
                        self._reply(204)
                    else:
                        message = "order not found" if code == 404 else "order is not cancelable"
                        self._reply(code, error_body(code * 100000, message))
                    return
                order = book.get(order_id)
                if order is None:
                    self._reply(404, error_body(40410000, "order not found"))
                else:
                    self._reply(200, order.wire())
            elif method == "GET" and path == "/v2/positions":
                self._reply(200, book.positions_wire())
            elif method == "GET" and path == "/v2/account":
                self._reply(200, book.account_wire())
            elif method == "GET" and path == "/v2/account/activities/FILL":
                self._reply(
                    200,
                    book.fill_activities(
                        query.get("after"),
                        query.get("page_token"),
                        int(query.get("page_size", 100)),
                    ),
                )
            elif method == "POST" and path.startswith("/_standin/"):
                self._control(path, self._body())
            elif method == "GET" and path == "/_standin/summary":
                self._reply(200, book.summary())
            else:
                self._reply(404, error_body(40410000, f"no route {method} {path}"))

        def _control(self, path: str, body: dict[str, Any]) -> None:
            if path == "/_standin/open":
                self._reply(200, {"executed": book.open_market()})
            elif path == "/_standin/positions":
                qty, avg = Decimal(str(body["qty"])), Decimal(str(body["avg"]))
                book.set_position(body["symbol"], qty, avg)
                self._reply(200, {"ok": True})
            elif path == "/_standin/prices":
                with book.lock:
                    book.prices.update({k.upper(): Decimal(str(v)) for k, v in body.items()})
                self._reply(200, {"ok": True})
            elif path == "/_standin/script":
                with book.lock:
                    book.plan.scripted.update({str(k): str(v) for k, v in body.items()})
                self._reply(200, {"ok": True})
            elif path == "/_standin/split":
                ratio = Fraction(str(body["ratio"]))  # "1/3" or "2"
                self._reply(200, {"adjusted": book.split(str(body["symbol"]), ratio)})
            elif path == "/_standin/drop":
                stand_in.drop_streams()
                self._reply(200, {"ok": True})
            else:
                self._reply(404, error_body(40410000, f"no control {path}"))

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_DELETE(self) -> None:
            self._route("DELETE")

    return Handler
