"""A local webhook for Apprise's json:// notifications: records every POST, can fail on demand."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Webhook:
    """`url(path)` gives the json:// URL Apprise posts to; `received` holds the JSON bodies."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.fail_with: int | None = None
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"hook": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> Webhook:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str = "/feedbot/hook-secret-token-0123456789") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def titles(self) -> list[str]:
        with self._lock:
            return [str(r.get("title")) for r in self.received]


class _Handler(BaseHTTPRequestHandler):
    hook: Webhook

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        status = self.hook.fail_with or 200
        if status == 200:
            with self.hook._lock:
                self.hook.received.append(json.loads(body))
                self.hook.paths.append(self.path)
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()
