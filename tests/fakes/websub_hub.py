"""A WebSub hub (W3C Recommendation) on loopback, written for the tests.

It does what a real hub does for a subscriber: takes `hub.mode=subscribe` requests (202),
verifies the intent at the callback with a random `hub.challenge` (the subscription counts only
when the callback echoes it), and pushes content to verified subscribers, signed with their
`hub.secret` in `X-Hub-Signature` (sha1 or sha256), with the hub and self `Link` headers. It can
also forge a push (a wrong or missing signature), and it records everything it saw::

    with FakeHub() as hub:
        hub.url                       # advertise it in a feed: <atom:link rel="hub" href=...>
        hub.wait_verified(topic)      # the subscriber's callback answered the challenge
        hub.publish(topic, body)      # [(callback, HTTP status), ...]
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx


@dataclass
class HubSubscription:
    topic: str
    callback: str
    secret: str | None
    lease_seconds: int
    verified_at: float | None = None
    requests: int = 1


@dataclass
class PushRecord:
    topic: str
    callback: str
    status: int
    sent_at: float
    forged: bool


@dataclass
class FakeHub:
    lease_seconds: int = 3600
    """What the hub grants, whatever the subscriber asks for."""
    algorithm: str = "sha256"
    subscriptions: dict[tuple[str, str], HubSubscription] = field(default_factory=dict)
    subscribe_requests: list[dict[str, str]] = field(default_factory=list)
    pushes: list[PushRecord] = field(default_factory=list)
    verification_failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._httpd: ThreadingHTTPServer | None = None
        self._client = httpx.Client(timeout=10.0)

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> FakeHub:
        handler = type("Handler", (_Handler,), {"hub": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        self._client.close()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/hub"

    # --- the hub's side of the protocol ---------------------------------------------------------

    def subscribe(self, form: dict[str, str]) -> tuple[int, str]:
        self.subscribe_requests.append(form)
        mode, topic, callback = (
            form.get("hub.mode"),
            form.get("hub.topic"),
            form.get("hub.callback"),
        )
        if mode != "subscribe" or not topic or not callback:
            return 400, "hub.mode=subscribe, hub.topic and hub.callback are required"
        secret = form.get("hub.secret")
        threading.Thread(target=self._verify, args=(topic, callback, secret), daemon=True).start()
        return 202, ""

    def _verify(self, topic: str, callback: str, secret: str | None) -> None:
        """Intent verification (section 5.3): GET the callback with a challenge to echo."""
        challenge = secrets.token_urlsafe(16)
        sep = "&" if "?" in callback else "?"
        try:
            answer = self._client.get(
                callback + sep,
                params={
                    "hub.mode": "subscribe",
                    "hub.topic": topic,
                    "hub.challenge": challenge,
                    "hub.lease_seconds": str(self.lease_seconds),
                },
            )
        except httpx.HTTPError as exc:
            self.verification_failures.append(f"{callback}: {exc}")
            return
        if answer.status_code // 100 != 2 or answer.text != challenge:
            self.verification_failures.append(f"{callback}: {answer.status_code} {answer.text!r}")
            return
        with self._changed:
            key = (topic, callback)
            old = self.subscriptions.get(key)
            self.subscriptions[key] = HubSubscription(
                topic,
                callback,
                secret,
                self.lease_seconds,
                verified_at=time.time(),
                requests=(old.requests + 1) if old else 1,
            )
            self._changed.notify_all()

    def wait_verified(
        self, topic: str, timeout: float = 30.0, requests: int = 1
    ) -> HubSubscription:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [
                    s
                    for s in self.subscriptions.values()
                    if s.topic == topic and s.requests >= requests
                ]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    failures = self.verification_failures
                    raise AssertionError(f"no verified subscription to {topic} ({failures})")
                self._changed.wait(left)

    def publish(
        self,
        topic: str,
        body: bytes,
        *,
        content_type: str = "application/rss+xml",
        forge: str | None = None,
        algorithm: str | None = None,
    ) -> list[PushRecord]:
        """Content distribution (section 7): POST the body to each verified subscriber.
        `forge`: "wrong" signs with another secret, "missing" sends no signature."""
        method = algorithm or self.algorithm
        records = []
        with self._lock:
            targets = [s for s in self.subscriptions.values() if s.topic == topic and s.verified_at]
        for sub in targets:
            headers = {
                "Content-Type": content_type,
                "Link": f'<{self.url}>; rel="hub", <{topic}>; rel="self"',
            }
            if forge != "missing":
                key = (sub.secret or "") if forge is None else "not-the-secret"
                digest = hmac.new(key.encode(), body, getattr(hashlib, method)).hexdigest()
                headers["X-Hub-Signature"] = f"{method}={digest}"
            sent = time.monotonic()
            answer = self._client.post(sub.callback, content=body, headers=headers)
            record = PushRecord(topic, sub.callback, answer.status_code, sent, forge is not None)
            self.pushes.append(record)
            records.append(record)
        return records


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: FakeHub

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        status, text = self.hub.subscribe(form) if self.path == "/hub" else (404, "not found")
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
