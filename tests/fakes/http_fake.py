"""The plumbing every fake platform server shares: a real threaded HTTP server on 127.0.0.1, the
request log, faults (fail, hang, drop), test images, and the recorded JSON answers.

A platform's fake is a mixin (tests/fakes/x.py, facebook.py, instagram.py, ...) that adds its
state and a `_route` for its own paths; a server is the mixins of the platforms it serves plus
`FakeHttpServer`. `_route` and `_decorate` are cooperative: each mixin answers what it owns and
hands everything else to `super()`, so mixins combine in any order.

Answers the platforms document are kept as recorded JSON under tests/fixtures/<platform>/, with
`${name}` placeholders the fake fills in (`answer`): what the adapters are tested against is
the platform's own wording and shape, not a dict someone typed into a test helper.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import fnmatch
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.images import jpeg_bytes, png_bytes

Body = dict[str, Any] | list[Any] | bytes | str | None
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


# --- recorded answers ---------------------------------------------------------------------------


@cache
def _recorded(platform: str, name: str) -> str:
    return (FIXTURES / platform / f"{name}.json").read_text(encoding="utf-8")


def answer(platform: str, name: str, /, **values: Any) -> Any:
    """The recorded answer tests/fixtures/{platform}/{name}.json with its placeholders filled.

    A string that is exactly "${key}" becomes `values[key]` whatever its type (a number, a
    list, an object); "${key}" inside a longer string is replaced by str(value). A placeholder
    without a value is an error, so a fixture and its fake cannot drift apart silently.
    """

    def fill(node: Any) -> Any:
        if isinstance(node, str):
            whole = _PLACEHOLDER.fullmatch(node)
            if whole:
                return values[whole.group(1)]
            return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), node)
        if isinstance(node, list):
            return [fill(item) for item in node]
        if isinstance(node, dict):
            return {key: fill(item) for key, item in node.items()}
        return node

    return fill(json.loads(_recorded(platform, name)))


# --- recorded traffic and faults ----------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request exactly as it arrived (raw path and query, headers, body bytes)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def target(self) -> str:
        """Path and query as sent, i.e. everything that would end up in an access log."""
        return self.path + ("?" + self.query if self.query else "")

    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def form(self) -> dict[str, str]:
        if "application/x-www-form-urlencoded" not in self.headers.get("content-type", ""):
            return {}
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Fault:
    """What to do instead of (or after) the normal handling of the next `times` matches."""

    method: str
    path: str  # fnmatch pattern over the request path, e.g. "/2/tweets" or "*/media_publish"
    kind: str  # "respond" | "hang" | "drop"
    times: int = 1
    status: int = 500
    body: Body = None
    headers: dict[str, str] = field(default_factory=dict)
    after_effect: bool = False
    seconds: float = 5.0

    def matches(self, method: str, path: str) -> bool:
        return (
            self.times > 0
            and fnmatch.fnmatchcase(method, self.method)
            and fnmatch.fnmatchcase(path, self.path)
        )


@dataclass
class Reply:
    status: int
    body: Body
    headers: dict[str, str] = field(default_factory=dict)


# --- wire helpers the platforms share -----------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """The image type the bytes really are, whatever the URL or header claims."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in {b"GIF87a", b"GIF89a"}:
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a JPEG's SOF marker (None when not a JPEG or not found)."""
    if not data.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height
        i += 2 + length
    return None


def multipart(request: RecordedRequest) -> dict[str, bytes] | None:
    """The parts of a multipart/form-data body by name (None for any other body)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return None
    raw = f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            parts[str(name)] = part.get_payload(decode=True) or b""
    return parts


# --- the server ---------------------------------------------------------------------------------


class FakeHttpServer:
    """Life cycle, request log, faults and /images/ for the platform mixins above it."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.head_allowed = True
        self.latency = 0.0
        """Seconds every answer waits: the crash tests kill the bot in the middle of API calls."""
        self.images: dict[str, tuple[bytes, str]] = {
            "photo.jpg": (jpeg_bytes(), "image/jpeg"),
            "photo.png": (png_bytes(), "image/png"),
            "fake.jpg": (b"<html>not an image</html>", "image/jpeg"),
            "page.html": (b"<html></html>", "text/html"),
        }
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._release = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> Self:
        handler = type("Handler", (_Handler,), {"app": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def image_url(self, name: str = "photo.jpg") -> str:
        return f"{self.base_url}/images/{name}"

    def add_image(self, name: str, body: bytes, content_type: str) -> str:
        self.images[name] = (body, content_type)
        return self.image_url(name)

    # -- faults -----------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        path: str,
        *,
        status: int,
        body: Body = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        after_effect: bool = False,
    ) -> Fault:
        """Answer the next `times` matching requests with this status/body/headers.

        With `after_effect` the request is first handled normally (the post is made), then the
        real answer is replaced: "it worked but the client was told it failed".
        """
        return self._add(
            Fault(method, path, "respond", times, status, body, dict(headers or {}), after_effect)
        )

    def hang(
        self,
        method: str,
        path: str,
        *,
        seconds: float = 5.0,
        times: int = 1,
        after_effect: bool = True,
    ) -> Fault:
        """Hold the answer for `seconds` or until `release()`, normally after making the post."""
        self._release.clear()
        return self._add(
            Fault(method, path, "hang", times, after_effect=after_effect, seconds=seconds)
        )

    def drop(self, method: str, path: str, *, times: int = 1, after_effect: bool = False) -> Fault:
        """Close the connection without answering (before or after making the post)."""
        return self._add(Fault(method, path, "drop", times, after_effect=after_effect))

    def release(self) -> None:
        """Let every held answer go."""
        self._release.set()

    def _add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    def wait_released(self, seconds: float) -> None:
        self._release.wait(seconds)

    def fault_reply(self, fault: Fault, path: str) -> Reply:
        return self._decorate(path, Reply(fault.status, fault.body, dict(fault.headers)))

    # -- inspection -------------------------------------------------------------------------

    def requests_to(self, pattern: str, method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if fnmatch.fnmatchcase(r.path, pattern) and (method is None or r.method == method)
            ]

    # -- dispatch ---------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Reply:
        """The answer to one request: a platform mixin's, else a test image, else 404."""
        reply = self._route(request)
        if reply is None:
            return Reply(404, {"error": "not found"})
        return self._decorate(request.path, reply)

    def _route(self, request: RecordedRequest) -> Reply | None:
        """Overridden by each platform mixin for its own paths (calling super() for the rest)."""
        if request.path.startswith("/images/"):
            return self._image(request)
        return None

    def _decorate(self, path: str, reply: Reply, *, consume: bool = True) -> Reply:
        """The headers a platform puts on every answer (rate limits, usage); none here."""
        return reply

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def _image(self, request: RecordedRequest) -> Reply:
        name = request.path[len("/images/") :]
        if request.method == "HEAD" and not self.head_allowed:
            return Reply(405, b"", {"Allow": "GET"})
        if name not in self.images:
            return Reply(404, b"no such image", {"Content-Type": "text/plain"})
        body, content_type = self.images[name]
        ranged = re.fullmatch(r"bytes=(\d+)-(\d*)", request.headers.get("range", ""))
        if request.method == "GET" and ranged:
            start = int(ranged.group(1))
            end = min(int(ranged.group(2) or len(body) - 1), len(body) - 1)
            headers = {
                "Content-Type": content_type,
                "Content-Range": f"bytes {start}-{end}/{len(body)}",
            }
            return Reply(206, body[start : end + 1], headers)
        if request.method == "HEAD":
            return Reply(200, b"", {"Content-Type": content_type, "X-Length": str(len(body))})
        return Reply(200, body, {"Content-Type": content_type})


class _Handler(BaseHTTPRequestHandler):
    """Turns raw HTTP into RecordedRequest -> Reply, applying the server's faults."""

    app: FakeHttpServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is `app.requests`."""

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = RecordedRequest(
            self.command, split.path, split.query, headers, body, self.app.clock()
        )
        with self.app._lock:
            self.app.requests.append(request)
        fault = self.app.take_fault(self.command, split.path)
        if fault is not None and not fault.after_effect:
            if fault.kind == "drop":
                return self._close()
            if fault.kind == "respond":
                return self._send(self.app.fault_reply(fault, split.path))
        if self.app.latency:
            time.sleep(self.app.latency)
        reply = self.app.handle(request)
        if fault is not None:
            if fault.kind == "drop":
                return self._close()
            if fault.kind == "hang":
                self.app.wait_released(fault.seconds)
            elif fault.kind == "respond":
                reply = self.app.fault_reply(fault, split.path)
        self._send(reply)

    def _close(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(2)

    def _send(self, reply: Reply) -> None:
        body = reply.body
        headers = dict(reply.headers)
        if isinstance(body, dict | list):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        elif isinstance(body, str):
            data = body.encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            data = body or b""
        length = headers.pop("X-Length", None) or str(len(data))
        try:
            self.send_response(reply.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", length)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout): nothing to answer to

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _serve
