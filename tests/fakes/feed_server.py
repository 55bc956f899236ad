"""A real HTTP server on a loopback address (127.0.0.1 unless told otherwise) that serves feeds
the way good and bad servers do.

Tests configure routes (status, headers, body, per-chunk delay, ETag/Last-Modified with 304
handling, redirects, gzip, missing or lying Content-Length) and read back a log of every
request and the highest number of requests the server was handling at once. Used by the feed
fetch tests and reusable by engine tests and benchmarks::

    with FeedServer() as server:
        server.route("/feed.xml", body=rss_bytes, etag='"v1"')
        server.redirect("/old", "/feed.xml", status=301)
        server.route("/slow", body=b"x" * 100, chunk_size=1, chunk_delay=1.0)
        fetcher.fetch_many([FeedRequest(server.url("/feed.xml"))])
        server.requests[-1].headers["if-none-match"]
        server.max_in_flight
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

AUTO = "auto"


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    """Sent as ETag; a request whose If-None-Match matches gets 304."""
    last_modified: str | None = None
    """Sent as Last-Modified; a request whose If-Modified-Since equals it gets 304."""
    location: str | None = None
    delay: float = 0.0
    """Seconds to wait before answering (to hold requests in flight for concurrency tests)."""
    chunk_size: int | None = None
    chunk_delay: float = 0.0
    """Seconds to wait before each chunk (a slow trickle)."""
    content_length: int | str | None = AUTO
    """AUTO: the real length; None: no Content-Length (body ends when the socket closes);
    an int: send that value whatever the body is (a lying server)."""
    chunked: bool = False
    gzip: bool = False


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    client_port: int
    at: float


class FeedServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        """Any loopback address (127.0.0.2...): several servers are several host names."""
        self.routes: dict[str, Route] = {}
        self.requests: list[LoggedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle -----------------------------------------------------------------------------

    def start(self) -> FeedServer:
        handler = type("Handler", (_Handler,), {"server_state": self})
        server_class = _DualStackServer if ":" in self.host else ThreadingHTTPServer
        httpd = server_class((self.host, 0), handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    def url(self, path: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    # --- configuration --------------------------------------------------------------------------

    def route(self, path: str, **options: Any) -> Route:
        route = Route(**options)
        self.routes[path] = route
        return route

    def redirect(self, path: str, to: str, *, status: int = 301) -> Route:
        return self.route(path, status=status, location=to, content_type=None)

    def serve_file(self, path: str, file: Path, **options: Any) -> Route:
        return self.route(path, body=file.read_bytes(), **options)

    def requests_to(self, path: str) -> list[LoggedRequest]:
        return [r for r in self.requests if r.path == path]

    def reset_counters(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = 0


class _DualStackServer(ThreadingHTTPServer):
    """Listens on an IPv6 address and, for "::", on every IPv4 one too (127.0.0.2, the
    IPv4-mapped spellings...): a stand-in for an internal host reachable every way."""

    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        with contextlib.suppress(OSError):
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: FeedServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_HEAD(self) -> None:
        """Logged (an internal host must see no request of any kind), then refused as 501,
        which sends image probes on to a range GET as some real hosts do."""
        state = self.server_state
        headers = {k.lower(): v for k, v in self.headers.items()}
        with state._lock:
            state.requests.append(
                LoggedRequest("HEAD", self.path, headers, self.client_address[1], time.monotonic())
            )
        self.send_response(501)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        state = self.server_state
        headers = {k.lower(): v for k, v in self.headers.items()}
        with state._lock:
            state.requests.append(
                LoggedRequest("GET", self.path, headers, self.client_address[1], time.monotonic())
            )
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            self._answer(state.routes.get(self.path) or state.routes.get(self.path.split("?")[0]))
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True  # the client gave up (size cap, timeout): fine
        finally:
            with state._lock:
                state.in_flight -= 1

    def _answer(self, route: Route | None) -> None:
        if route is None:
            self._send_simple(404, b"no such route")
            return
        if route.delay:
            time.sleep(route.delay)
        if route.location is not None:
            self.send_response(route.status)
            self.send_header("Location", route.location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self._not_modified(route):
            self.send_response(304)
            if route.etag:
                self.send_header("ETag", route.etag)
            if route.last_modified:
                self.send_header("Last-Modified", route.last_modified)
            self.end_headers()
            return
        body = route.body
        self.send_response(route.status)
        if route.content_type:
            self.send_header("Content-Type", route.content_type)
        if route.etag:
            self.send_header("ETag", route.etag)
        if route.last_modified:
            self.send_header("Last-Modified", route.last_modified)
        if route.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            self.send_header("Content-Encoding", "gzip")
        for name, value in route.headers.items():
            self.send_header(name, value)
        if route.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif route.content_length is None:
            self.send_header("Connection", "close")
            self.close_connection = True
        elif route.content_length == AUTO:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Content-Length", str(route.content_length))
        self.end_headers()
        size = route.chunk_size or len(body) or 1
        for start in range(0, len(body), size):
            if route.chunk_delay:
                time.sleep(route.chunk_delay)
            piece = body[start : start + size]
            if route.chunked:
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            else:
                self.wfile.write(piece)
            self.wfile.flush()
        if route.chunked:
            self.wfile.write(b"0\r\n\r\n")
        if route.content_length not in (AUTO, None) and route.content_length != len(body):
            self.close_connection = True

    def _not_modified(self, route: Route) -> bool:
        if route.status != 200:
            return False
        inm = self.headers.get("If-None-Match")
        if route.etag and inm and route.etag in [t.strip() for t in inm.split(",")]:
            return True
        ims = self.headers.get("If-Modified-Since")
        return bool(route.last_modified and ims == route.last_modified)

    def _send_simple(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)
