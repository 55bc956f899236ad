"""A fake X / Graph API server that behaves like the real ones on the wire.

It is a real threaded HTTP server on 127.0.0.1 (ephemeral port), so the adapters are tested
through their real stacks (tweepy + requests + requests_oauthlib, httpx) instead of mocks:

* X API v2: OAuth 1.0a HMAC-SHA1 signatures are verified for real against the URL as received,
  links are rewritten to t.co with `entities.urls`, texts come back HTML-escaped as X does,
  every answer carries x-rate-limit-* headers. Duplicate text is ACCEPTED by default, as
  Facebook and Instagram accept it: a fake that refuses duplicates hides them, so tests count
  what arrived. `x_refuse_duplicates=True` turns on X's 403 "duplicate content" refusal.
* Graph API (Facebook Page, Instagram with Facebook Login): error JSON with code/subcode,
  tokens from the form body, the Authorization header (or, recorded as a leak, the query),
  Instagram containers going IN_PROGRESS -> FINISHED -> PUBLISHED, a publishing quota.
* Test images under /images/... with HEAD (switchable off to exercise ranged-GET fallbacks).

Usage (also from the engine's tests)::

    with FakePlatformServer() as server:
        settings = server.settings(platforms=("twitter", "facebook", "instagram"))
        server.fail("POST", "/2/tweets", status=503, body=x_problem(503, "Service Unavailable"))
        server.hang("POST", "*/media_publish", seconds=2)    # effect done, answer held back
        server.drop("POST", "*/feed", after_effect=True)      # effect done, socket closed
        ...
        server.tweets, server.fb_posts, server.ig_media       # what was "published"
        server.requests                                       # every request, in order

Assumptions the public docs do not settle are marked "(fake)" where they are made.
"""

from __future__ import annotations

import base64
import contextlib
import email.parser
import email.policy
import fnmatch
import hashlib
import hmac
import html
import itertools
import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from twitter_text import parse_tweet
from twitter_text.extract_urls import extract_urls_with_indices

from bot.platforms.facebook.settings import FacebookSettings
from bot.platforms.instagram.settings import InstagramSettings
from bot.platforms.twitter.settings import TwitterSettings
from bot.settings import Secret, Settings
from tests.fakes.images import jpeg_bytes, png_bytes

Body = dict[str, Any] | list[Any] | bytes | str | None


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


@dataclass(frozen=True)
class XCredentials:
    consumer_key: str = "fake-consumer-key"
    consumer_secret: str = "fake-consumer-secret"
    access_token: str = "1500000000000000001-faketoken"
    access_token_secret: str = "fake-token-secret"


@dataclass
class Reply:
    status: int
    body: Body
    headers: dict[str, str] = field(default_factory=dict)


def x_problem(
    status: int, title: str, detail: str | None = None, type_: str = "about:blank", **extra: Any
) -> dict[str, Any]:
    """An X API v2 problem body (RFC 7807), as X sends them."""
    return {"title": title, "detail": detail or title, "type": type_, "status": status, **extra}


def graph_error(
    code: int, message: str, subcode: int | None = None, type_: str = "OAuthException", **extra: Any
) -> dict[str, Any]:
    """A Graph API error body."""
    error: dict[str, Any] = {"message": message, "type": type_, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "AfakeTrace" + str(code)
    error.update(extra)
    return {"error": error}


def graph_status(code: int) -> int:
    """Graph answers 500 for codes 1 and 2 and 400 for everything else."""
    return 500 if code in {1, 2} else 400


# --- OAuth 1.0a, written out independently of oauthlib (RFC 5849 section 3.4) -------------------


def _enc(value: str) -> str:
    return quote(value, safe="-._~")


def oauth1_signature(
    method: str,
    base_uri: str,
    params: list[tuple[str, str]],
    consumer_secret: str,
    token_secret: str,
) -> str:
    """HMAC-SHA1 over the signature base string: METHOD&uri&sorted-encoded-params."""
    pairs = sorted((_enc(k), _enc(v)) for k, v in params)
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    base = "&".join((method.upper(), _enc(base_uri), _enc(normalized)))
    key = f"{_enc(consumer_secret)}&{_enc(token_secret)}"
    digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _base_uri(host: str, path: str) -> str:
    host = host.lower()
    if host.endswith(":80"):
        host = host[:-3]
    return f"http://{host}{path}"


# --- the server ---------------------------------------------------------------------------------


class FakePlatformServer:
    """X and Graph on one port; see the module docstring for the API."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        x_credentials: XCredentials | None = None,
        x_user_id: str = "1500000000000000001",
        x_username: str = "jcktest",
        page_id: str = "104000000000001",
        page_name: str = "JCK Test Page",
        page_token: str = "EAAfake-page-token-1234567890",
        ig_user_id: str = "17841400000000001",
        ig_username: str = "jcktest.ig",
        ig_token: str | None = None,
        ig_in_progress_reads: int = 1,
        ig_quota_total: int = 50,
        x_refuse_duplicates: bool = False,
        fb_refuse_duplicates: bool = False,
    ) -> None:
        self.clock = clock
        self.x_credentials = x_credentials or XCredentials()
        self.x_user_id, self.x_username = x_user_id, x_username
        self.page_id, self.page_name, self.page_token = page_id, page_name, page_token
        self.ig_user_id, self.ig_username = ig_user_id, ig_username
        self.ig_token = ig_token
        self.ig_in_progress_reads = ig_in_progress_reads
        self.x_refuse_duplicates = x_refuse_duplicates
        """X answers 403 "duplicate content" to a text it already has (off: count, not refuse)."""
        self.fb_refuse_duplicates = fb_refuse_duplicates
        """Graph 506 for a Page post repeating the previous message (off by default)."""
        """Status reads a new container answers IN_PROGRESS before it turns FINISHED."""
        self.ig_next_outcome: tuple[str, str] | None = None
        """(status_code, status) new containers end in instead of FINISHED, e.g. ("ERROR", ...)."""
        self.ig_quota_usage = 0
        self.ig_quota_total = ig_quota_total
        self.business_usage: dict[str, Any] | None = None
        """When set, sent as X-Business-Use-Case-Usage {page_id: [this]} on Graph answers."""
        self.head_allowed = True
        self.token_expiry: dict[str, tuple[int, int]] = {}
        """token -> (expires_at, data_access_expires_at) for debug_token; 0 means never.
        A token not listed never expires and keeps data access for 90 days."""

        self.requests: list[RecordedRequest] = []
        self.tweets: list[dict[str, Any]] = []
        self.media: dict[str, dict[str, Any]] = {}
        self.fb_posts: list[dict[str, Any]] = []
        self.fb_photos: dict[str, bytes] = {}
        """Every photo on the Page (published or not), by photo id: its bytes."""
        self.fb_unpublished: set[str] = set()
        """The photo ids uploaded with published=false (hosting for Instagram)."""
        """The bytes of each photo posted, by photo id (fetched by URL or uploaded)."""
        self.ig_containers: dict[str, dict[str, Any]] = {}
        self.ig_media: list[dict[str, Any]] = []
        self.fb_deleted: list[str] = []
        self.images: dict[str, tuple[bytes, str]] = {
            "photo.jpg": (jpeg_bytes(), "image/jpeg"),
            "photo.png": (png_bytes(), "image/png"),
            "fake.jpg": (b"<html>not an image</html>", "image/jpeg"),
            "page.html": (b"<html></html>", "text/html"),
        }
        self.faults: list[Fault] = []
        self._nonces: set[tuple[str, str]] = set()
        self._rate_remaining: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._release = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> FakePlatformServer:
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

    def __enter__(self) -> FakePlatformServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- settings pointing at this server ---------------------------------------------------

    def twitter_settings(self, **overrides: Any) -> TwitterSettings:
        c = self.x_credentials
        values: dict[str, Any] = {
            "api_key": Secret(c.consumer_key),
            "api_secret": Secret(c.consumer_secret),
            "access_token": Secret(c.access_token),
            "access_token_secret": Secret(c.access_token_secret),
            "base_url": self.base_url,
        }
        values.update(overrides)
        return TwitterSettings(**values)

    def facebook_settings(self, **overrides: Any) -> FacebookSettings:
        base = FacebookSettings(self.page_id, Secret(self.page_token), self.base_url)
        return replace(base, **overrides)

    def instagram_settings(self, **overrides: Any) -> InstagramSettings:
        token = Secret(self.ig_token or self.page_token)
        return replace(InstagramSettings(self.ig_user_id, token, self.base_url), **overrides)

    def settings(self, **overrides: Any) -> Settings:
        """Full Settings with all three platforms pointing here (override anything; a
        platform's name overrides its section, None removes it)."""
        sections: dict[str, Any] = {
            "twitter": self.twitter_settings(),
            "facebook": self.facebook_settings(),
            "instagram": self.instagram_settings(),
        }
        for name in list(sections):
            if name in overrides:
                sections[name] = overrides.pop(name)
        values: dict[str, Any] = {
            "feed_urls": (self.base_url + "/feed.xml",),
            "platforms": ("twitter", "facebook", "instagram"),
            "sections": {k: v for k, v in sections.items() if v is not None},
            "http_timeout": 5.0,
        }
        values.update(overrides)
        return Settings(**values)

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

    # -- inspection -------------------------------------------------------------------------

    def requests_to(self, pattern: str, method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if fnmatch.fnmatchcase(r.path, pattern) and (method is None or r.method == method)
            ]

    def graph_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if _GRAPH_PATH.match(r.path)]

    # -- dispatch ---------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Reply:
        path = request.path
        if path.startswith("/images/"):
            return self._image(request)
        if path.startswith("/cdn/"):
            return self._cdn(request)
        if path.startswith("/2/"):
            return self._decorate(path, self._x(request))
        if _GRAPH_PATH.match(path):
            return self._decorate(path, self._graph(request))
        return Reply(404, {"error": "not found"})

    def _decorate(self, path: str, reply: Reply, *, consume: bool = True) -> Reply:
        """The headers the real platform puts on every answer (rate limits, usage)."""
        if path.startswith("/2/"):
            reply.headers = {**self._x_rate_headers(path, consume=consume), **reply.headers}
        elif _GRAPH_PATH.match(path):
            if self.business_usage is not None:
                usage = json.dumps({self.page_id: [self.business_usage]})
                reply.headers.setdefault("X-Business-Use-Case-Usage", usage)
            reply.headers.setdefault(
                "X-App-Usage", '{"call_count":1,"total_cputime":1,"total_time":1}'
            )
        return reply

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

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    # -- images -----------------------------------------------------------------------------

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

    def _cdn(self, request: RecordedRequest) -> Reply:
        """Meta's CDN for the Page's photos (fake: /cdn/{photo-id}.jpg on this server)."""
        photo = self.fb_photos.get(request.path[len("/cdn/") :].split(".")[0])
        if photo is None:
            return Reply(404, b"gone", {"Content-Type": "text/plain"})
        return Reply(200, photo, {"Content-Type": _sniff(photo) or "application/octet-stream"})

    def _own_image(self, url: str) -> tuple[bytes, str] | None:
        """What Meta's fetcher would get for `url`: this server's images and CDN are read
        directly; another loopback server (an S3 stand-in) is fetched over HTTP for real.
        (fake) never fetches a non-loopback host."""
        prefix = self.base_url + "/images/"
        if url.startswith(prefix):
            return self.images.get(url[len(prefix) :])
        cdn = self.base_url + "/cdn/"
        if url.startswith(cdn):
            photo = self.fb_photos.get(url[len(cdn) :].split(".")[0])
            return (photo, _sniff(photo) or "") if photo else None
        if urlsplit(url).hostname in {"127.0.0.1", "localhost"}:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return response.read(), response.headers.get("content-type", "")
            except OSError:
                return None
        return None

    # -- X ----------------------------------------------------------------------------------

    def _x_rate_headers(self, path: str, *, consume: bool = True) -> dict[str, str]:
        route = re.sub(r"/\d+", "/:id", path)
        limit = {"/2/tweets": 100, "/2/users/me": 75, "/2/media/upload": 500}.get(route, 900)
        with self._lock:
            remaining = self._rate_remaining.get(route, limit)
            if consume:
                remaining = max(0, remaining - 1)
                self._rate_remaining[route] = remaining
        reset = int(self.clock()) + 900
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(reset),
        }

    def _oauth1_problem(self, request: RecordedRequest) -> str | None:
        """Why the OAuth 1.0a signature is not acceptable, or None when it is."""
        header = request.headers.get("authorization", "")
        if not header.startswith("OAuth "):
            return "no OAuth 1.0a Authorization header"
        oauth = {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header)}
        creds = self.x_credentials
        if oauth.get("oauth_signature_method") != "HMAC-SHA1":
            return "signature method is not HMAC-SHA1"
        if oauth.get("oauth_consumer_key") != creds.consumer_key:
            return "unknown consumer key"
        if oauth.get("oauth_token") != creds.access_token:
            return "unknown access token"
        try:
            skew = abs(int(oauth.get("oauth_timestamp", "")) - time.time())
        except ValueError:
            return "bad timestamp"
        if skew > 300:
            return "timestamp out of range"
        nonce = (oauth.get("oauth_nonce", ""), oauth.get("oauth_timestamp", ""))
        params = [(k, v) for k, v in oauth.items() if k not in {"oauth_signature", "realm"}]
        params += parse_qsl(request.query, keep_blank_values=True)
        if "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
            params += list(request.form().items())  # a multipart body is never signed
        base_uri = _base_uri(request.headers.get("host", ""), request.path)
        expected = oauth1_signature(
            request.method, base_uri, params, creds.consumer_secret, creds.access_token_secret
        )
        if not hmac.compare_digest(expected, oauth.get("oauth_signature", "")):
            return "signature does not match"
        with self._lock:
            if nonce in self._nonces:
                return "nonce already used"
            self._nonces.add(nonce)
        return None

    def _x(self, request: RecordedRequest) -> Reply:
        if self._oauth1_problem(request) is not None:
            return Reply(401, x_problem(401, "Unauthorized"))
        route = (request.method, request.path)
        if route == ("POST", "/2/tweets"):
            return self._x_create_tweet(request)
        if route == ("POST", "/2/media/upload"):
            return self._x_upload(request)
        if route == ("POST", "/2/media/metadata"):
            return self._x_metadata(request)
        if route == ("GET", "/2/users/me"):
            user = {"id": self.x_user_id, "name": "JCK Test", "username": self.x_username}
            return Reply(200, {"data": user})
        match = re.fullmatch(r"/2/users/(\d+)/tweets", request.path)
        if request.method == "GET" and match:
            return self._x_timeline(request, match.group(1))
        return Reply(404, x_problem(404, "Not Found Error", "The requested resource was not found"))

    def _x_create_tweet(self, request: RecordedRequest) -> Reply:
        try:
            payload = request.json()
        except ValueError:
            payload = None
        allowed = {
            "text",
            "media",
            "reply",
            "quote_tweet_id",
            "poll",
            "reply_settings",
            "for_super_followers_only",
            "direct_message_deep_link",
            "place_id",
            "community_id",
            "edit_options",
            "made_with_ai",
            "paid_partnership",
        }
        if not isinstance(payload, dict) or set(payload) - allowed:
            return Reply(400, _invalid_request("the JSON body is not a valid post request"))
        text = payload.get("text") or ""
        media_ids = (payload.get("media") or {}).get("media_ids") or []
        if not text and not media_ids:
            return Reply(400, _invalid_request("text or media is required"))
        if text and parse_tweet(text).weightedLength > 280:
            return Reply(400, _invalid_request("text: Tweet text is too long"))
        with self._lock:
            if any(mid not in self.media for mid in media_ids) or len(media_ids) > 4:
                return Reply(400, _invalid_request("Your media IDs are invalid."))
            if self.x_refuse_duplicates and any(t["input_text"] == text for t in self.tweets):
                detail = "You are not allowed to create a Tweet with duplicate content."
                return Reply(403, x_problem(403, "Forbidden", detail))
            tweet_id = str(1900000000000000000 + self.next_id())
            stored, urls = _tco(text)
            now = self.clock()
            self.tweets.append(
                {
                    "id": tweet_id,
                    "input_text": text,
                    "text": stored,
                    "media_ids": media_ids,
                    "created_at": now,
                    "urls": urls,
                    "entities": {"urls": urls},
                    "alt_texts": [self.media[m].get("alt_text") for m in media_ids],
                }
            )
        data = {"id": tweet_id, "text": stored, "edit_history_tweet_ids": [tweet_id]}
        return Reply(201, {"data": data})

    def _x_upload(self, request: RecordedRequest) -> Reply:
        parts = _multipart(request)
        if parts is None:
            return Reply(400, _invalid_request("expected a multipart/form-data body"))
        category = parts.get("media_category", b"").decode()
        media = parts.get("media", b"")
        if category not in {"tweet_image", "dm_image", "subtitles"}:
            return Reply(400, _invalid_request(f"media_category {category!r} is not allowed"))
        kind = _sniff(media)
        if kind is None:
            return Reply(400, _invalid_request("media type unrecognized"))
        if len(media) > 5 * 1024 * 1024:
            return Reply(400, _invalid_request("File size exceeds 5242880 bytes."))
        media_id = str(1880000000000000000 + self.next_id())
        with self._lock:
            self.media[media_id] = {"bytes": media, "type": kind, "category": category}
        data = {
            "id": media_id,
            "media_key": f"3_{media_id}",
            "size": len(media),
            "expires_after_secs": 86400,
            "image": {"image_type": kind, "w": 1, "h": 1},
        }
        return Reply(200, {"data": data})

    def _x_metadata(self, request: RecordedRequest) -> Reply:
        try:
            payload = request.json()
            media_id = payload["id"]
            alt = payload["metadata"]["alt_text"]["text"]
        except (ValueError, KeyError, TypeError):
            return Reply(400, _invalid_request("expected {id, metadata: {alt_text: {text}}}"))
        if len(alt) > 1000:
            return Reply(400, _invalid_request("alt_text.text is longer than 1000 characters"))
        with self._lock:
            if media_id not in self.media:
                return Reply(400, _invalid_request(f"media id {media_id} is unknown"))
            self.media[media_id]["alt_text"] = alt
        return Reply(200, {"data": {"associated_metadata": True}})

    def _x_timeline(self, request: RecordedRequest, user_id: str) -> Reply:
        params = request.params()
        max_results = int(params.get("max_results", "10"))
        if not 5 <= max_results <= 100:
            return Reply(400, _invalid_request("max_results must be between 5 and 100"))
        since = _parse_iso(params["start_time"]) if "start_time" in params else None
        fields = set(params.get("tweet.fields", "").split(","))
        with self._lock:
            tweets = [] if user_id != self.x_user_id else list(self.tweets)
        tweets = [t for t in tweets if since is None or t["created_at"] >= since]
        tweets = sorted(tweets, key=lambda t: t["created_at"], reverse=True)
        start = int(params.get("pagination_token", "0") or 0)
        more = len(tweets) > start + max_results
        tweets = tweets[start : start + max_results]
        data = []
        for t in tweets:
            item: dict[str, Any] = {
                "id": t["id"],
                "text": t["text"],
                "edit_history_tweet_ids": [t["id"]],
            }
            if "created_at" in fields:
                item["created_at"] = _iso_z(t["created_at"])
            if "entities" in fields and t["urls"]:
                item["entities"] = {"urls": t["urls"]}
            data.append(item)
        meta: dict[str, Any] = {"result_count": len(data)}
        if more:  # (fake) an opaque token; X's is a string too
            meta["next_token"] = str(start + max_results)
        if data:
            meta.update(newest_id=data[0]["id"], oldest_id=data[-1]["id"])
            return Reply(200, {"data": data, "meta": meta})
        return Reply(200, {"meta": meta})

    # -- Graph ------------------------------------------------------------------------------

    def _graph_token(self, request: RecordedRequest) -> str | None:
        auth = request.headers.get("authorization", "")
        for scheme in ("Bearer ", "OAuth "):
            if auth.startswith(scheme):
                return auth[len(scheme) :].strip()
        form = request.form() or _multipart_fields(request)
        return form.get("access_token") or request.params().get("access_token")

    def _graph(self, request: RecordedRequest) -> Reply:
        token = self._graph_token(request)
        if not token:
            return _gerr(104, "An access token is required to request this resource.")
        valid = {self.page_token} | ({self.ig_token} if self.ig_token else set())
        if token not in valid:
            return _gerr(190, "Invalid OAuth access token - Cannot parse access token")
        parts = request.path.strip("/").split("/")[1:]
        form = request.form() or _multipart_fields(request)
        upload = (_multipart(request) or {}).get("source")
        params = request.params()
        method = request.method
        with self._lock:
            if method == "GET" and parts == ["debug_token"]:
                return self._debug_token(params.get("input_token", ""), valid)
            if method == "GET" and parts == ["me"]:
                if token == self.page_token:
                    return Reply(200, {"id": self.page_id, "name": self.page_name})
                return Reply(200, {"id": "100000000000009", "name": "IG Token Owner"})
            if parts[:1] == [self.page_id] and len(parts) == 2:
                if method == "POST" and parts[1] == "feed":
                    return self._fb_feed(form)
                if method == "POST" and parts[1] == "photos":
                    return self._fb_photo(form, upload)
                if method == "GET" and parts[1] == "published_posts":
                    return self._fb_published(params)
            if parts[:1] == [self.ig_user_id]:
                return self._ig_user(method, parts[1:], form, params)
            if method == "GET" and len(parts) == 1:
                return self._graph_object(parts[0], params)
            if method == "DELETE" and len(parts) == 1 and parts[0] in self.fb_photos:
                del self.fb_photos[parts[0]]
                self.fb_unpublished.discard(parts[0])
                self.fb_deleted.append(parts[0])
                return Reply(200, {"success": True})
        return _gerr(
            100,
            f"Unsupported {method.lower()} request. Object with ID "
            f"'{'/'.join(parts)}' does not exist.",
            33,
        )

    def _debug_token(self, token: str, valid: set[str]) -> Reply:
        """GET /debug_token: what Graph says of a token (here always a Page token)."""
        if token not in valid:
            error = {"code": 190, "message": "Invalid OAuth access token."}
            return Reply(200, {"data": {"error": error, "is_valid": False, "scopes": []}})
        default = (0, int(self.clock()) + 90 * 86400)
        expires_at, data_access = self.token_expiry.get(token, default)
        data = {
            "app_id": "1234567890",
            "type": "PAGE",
            "application": "feedbot test app",
            "data_access_expires_at": data_access,
            "expires_at": expires_at,
            "is_valid": True,
            "issued_at": int(self.clock()) - 86400,
            "profile_id": self.page_id,
            "scopes": ["pages_show_list", "pages_read_engagement", "pages_manage_posts",
                       "instagram_basic", "instagram_content_publish"],
            "user_id": "100000000000009",
        }  # fmt: skip
        return Reply(200, {"data": data})

    def _fb_feed(self, form: dict[str, str]) -> Reply:
        message, link = form.get("message", ""), form.get("link")
        if not message and not link:
            return _gerr(100, "(#100) Missing message or attachment")
        last = self.fb_posts[-1]["message"] if self.fb_posts else None
        if self.fb_refuse_duplicates and message and last == message:
            return _gerr(506, "(#506) Duplicate status message")
        post = self._fb_add(message, link)
        return Reply(200, {"id": post["id"]})

    def _fb_photo(self, form: dict[str, str], upload: bytes | None = None) -> Reply:
        """A photo by `url` (Meta fetches it) or uploaded as the multipart file `source`;
        `published=false` keeps it off the Page (an unpublished photo the CDN still serves)."""
        image = (upload, "") if upload is not None else self._own_image(form.get("url", ""))
        if image is None or _sniff(image[0]) is None:
            return _gerr(324, "(#324) Missing or invalid image file")
        photo_id = str(200000000000000 + self.next_id())
        self.fb_photos[photo_id] = image[0]
        if form.get("published", "true").lower() == "false":
            self.fb_unpublished.add(photo_id)
            return Reply(200, {"id": photo_id})
        post = self._fb_add(form.get("caption") or form.get("message", ""), None, photo_id)
        return Reply(200, {"id": photo_id, "post_id": post["id"]})

    def _fb_add(self, message: str, link: str | None, photo_id: str | None = None) -> dict:
        post_id = f"{self.page_id}_{300000000000000 + self.next_id()}"
        post = {
            "id": post_id,
            "message": message,
            "link": link,
            "photo_id": photo_id,
            "created_time": self.clock(),
        }
        self.fb_posts.append(post)
        return post

    def _fb_published(self, params: dict[str, str]) -> Reply:
        since = float(params.get("since", "0"))
        limit = int(params.get("limit", "25"))
        posts = [p for p in self.fb_posts if p["created_time"] >= since]
        posts = sorted(posts, key=lambda p: p["created_time"], reverse=True)
        posts, paging = _graph_page(posts, params, limit)
        data = []
        for p in posts:
            item: dict[str, Any] = {
                "id": p["id"],
                "created_time": _graph_time(p["created_time"]),
                "permalink_url": f"https://www.facebook.com/{p['id'].replace('_', '/posts/')}",
            }
            if p["message"]:
                item["message"] = p["message"]
            if p["link"]:
                shim = "https://l.facebook.com/l.php?u=" + quote(p["link"], safe="")
                item["attachments"] = {"data": [{"url": shim, "unshimmed_url": p["link"]}]}
            elif p["photo_id"]:
                url = f"https://www.facebook.com/photo.php?fbid={p['photo_id']}"
                item["attachments"] = {"data": [{"url": url}]}
            data.append(item)
        return Reply(200, {"data": data, "paging": paging})

    def _ig_user(
        self, method: str, rest: list[str], form: dict[str, str], params: dict[str, str]
    ) -> Reply:
        if method == "GET" and not rest:
            return Reply(200, {"username": self.ig_username, "id": self.ig_user_id})
        if method == "POST" and rest == ["media"]:
            return self._ig_create(form)
        if method == "POST" and rest == ["media_publish"]:
            return self._ig_publish(form.get("creation_id") or params.get("creation_id", ""))
        if method == "GET" and rest == ["content_publishing_limit"]:
            config = {"quota_total": self.ig_quota_total, "quota_duration": 86400}
            return Reply(200, {"data": [{"quota_usage": self.ig_quota_usage, "config": config}]})
        if method == "GET" and rest == ["media"]:
            limit = int(params.get("limit", "25"))
            media = sorted(self.ig_media, key=lambda m: m["created"], reverse=True)
            media, paging = _graph_page(media, params, limit)
            data = [
                {
                    "id": m["id"],
                    "caption": m["caption"],
                    "permalink": m["permalink"],
                    "timestamp": _graph_time(m["created"]),
                }
                for m in media
            ]
            return Reply(200, {"data": data, "paging": paging})
        return _gerr(100, "Unsupported request", 33)

    def _ig_create(self, form: dict[str, str]) -> Reply:
        image_url = form.get("image_url", "")
        if not image_url:
            return _gerr(100, "The parameter image_url is required.")
        if len(form.get("caption", "")) > 2200:
            return _gerr(100, "The caption is too long.", 2207010)
        image = self._own_image(image_url)
        if image is None:
            return _gerr(9004, "Media download has failed.", 2207052)
        if _sniff(image[0]) != "image/jpeg":
            return _gerr(9004, "Only photo or video can be accepted as media type.", 2207052)
        if len(image[0]) > 8 * 1024 * 1024:
            return _gerr(36000, "The image size is too large.", 2207004)
        size = _jpeg_size(image[0])
        if size is not None and not 0.8 <= size[0] / size[1] <= 1.91:
            return _gerr(36003, "The aspect ratio is not supported.", 2207009)
        container_id = str(17900000000000000 + self.next_id())
        self.ig_containers[container_id] = {
            "id": container_id,
            "image_url": image_url,
            "caption": form.get("caption", ""),
            "alt_text": form.get("alt_text"),
            "image_bytes": image[0],
            "status_code": "IN_PROGRESS",
            "status": "",
            "reads": 0,
            "outcome": self.ig_next_outcome
            or ("FINISHED", "Finished: Media has been uploaded and it is ready."),
        }
        return Reply(200, {"id": container_id})

    def _ig_publish(self, creation_id: str) -> Reply:
        container = self.ig_containers.get(creation_id)
        if container is None:
            return _gerr(24, "The requested resource does not exist", 2207008)
        if container["status_code"] in {"PUBLISHED", "EXPIRED"}:
            # (fake) Meta's exact answer for a reused container is undocumented.
            return _gerr(24, "The media container was already published or has expired", 2207008)
        if container["status_code"] != "FINISHED":
            return _gerr(9007, "Media ID is not available", 2207027)
        if self.ig_quota_usage >= self.ig_quota_total:
            return _gerr(9, "Application request limit reached", 2207042)
        media_id = str(18000000000000000 + self.next_id())
        short = base64.urlsafe_b64encode(media_id.encode()).decode()[:11]
        self.ig_media.append(
            {
                "id": media_id,
                "caption": container["caption"],
                "container_id": creation_id,
                "created": self.clock(),
                "permalink": f"https://www.instagram.com/p/{short}/",
                "alt_text": container["alt_text"],
            }
        )
        container["status_code"] = "PUBLISHED"
        container["status"] = "Published: Media has been successfully published."
        self.ig_quota_usage += 1
        return Reply(200, {"id": media_id})

    def _graph_object(self, object_id: str, params: dict[str, str]) -> Reply:
        photo = self.fb_photos.get(object_id)
        if photo is not None:
            size = _jpeg_size(photo) or (0, 0)
            source = f"{self.base_url}/cdn/{object_id}.jpg"
            image = {"source": source, "width": size[0], "height": size[1]}
            return Reply(200, {"id": object_id, "images": [image]})
        container = self.ig_containers.get(object_id)
        if container is not None:
            container["reads"] += 1
            if container["status_code"] == "IN_PROGRESS":
                if container["reads"] > self.ig_in_progress_reads:
                    container["status_code"], container["status"] = container["outcome"]
                else:
                    container["status"] = "In Progress: Media is still being processed."
            return Reply(
                200,
                {
                    "status_code": container["status_code"],
                    "status": container["status"],
                    "id": object_id,
                },
            )
        for media in self.ig_media:
            if media["id"] == object_id:
                return Reply(200, {"id": object_id, "permalink": media["permalink"]})
        return _gerr(
            100,
            f"Unsupported get request. Object with ID '{object_id}' does not "
            "exist, cannot be loaded due to missing permissions, or does not "
            "support this operation.",
            33,
        )


_GRAPH_PATH = re.compile(r"^/v\d+\.\d+/")


def _graph_page(
    items: list[dict[str, Any]], params: dict[str, str], limit: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Graph cursor paging: `after` continues a listing; `next` is present only when more is.
    (fake) the cursor is the offset; Graph's are opaque strings."""
    start = int(params.get("after", "0") or 0)
    page = items[start : start + limit]
    paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
    if start + limit < len(items):
        paging["next"] = f"https://graph.facebook.com/...&after={start + len(page)}"
    return page, paging


def _gerr(code: int, message: str, subcode: int | None = None) -> Reply:
    return Reply(graph_status(code), graph_error(code, message, subcode))


def _invalid_request(message: str) -> dict[str, Any]:
    return x_problem(
        400,
        "Invalid Request",
        "One or more parameters to your request was invalid.",
        "https://api.twitter.com/2/problems/invalid-request",
        errors=[{"message": message}],
    )


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in {b"GIF87a", b"GIF89a"}:
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _tco(text: str) -> tuple[str, list[dict[str, Any]]]:
    """What X stores: every link replaced by a t.co URL, the text HTML-escaped (&amp; etc.)."""
    out, urls, last = [], [], 0
    for found in extract_urls_with_indices(text):
        start, end = found["indices"]
        out.append(html.escape(text[last:start], quote=False))
        digest = hashlib.sha1(found["url"].encode()).hexdigest()[:10]
        tco = f"https://t.co/{digest}"
        position = sum(len(part) for part in out)
        expanded = found["url"] if "://" in found["url"] else "http://" + found["url"]
        display = found["url"].split("://")[-1][:25]
        urls.append(
            {
                "start": position,
                "end": position + len(tco),
                "url": tco,
                "expanded_url": expanded,
                "display_url": display,
            }
        )
        out.append(tco)
        last = end
    out.append(html.escape(text[last:], quote=False))
    return "".join(out), urls


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
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


def _multipart(request: RecordedRequest) -> dict[str, bytes] | None:
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


def _multipart_fields(request: RecordedRequest) -> dict[str, str]:
    """The text fields of a multipart/form-data body (files left out), as Graph reads them."""
    parts = _multipart(request) or {}
    return {k: v.decode("utf-8", "replace") for k, v in parts.items() if k != "source"}


def _parse_iso(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _iso_z(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _graph_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


class _Handler(BaseHTTPRequestHandler):
    """Turns raw HTTP into RecordedRequest -> Reply, applying the server's faults."""

    app: FakePlatformServer
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


def iter_tokens_in_urls(server: FakePlatformServer, secret: str) -> Iterator[RecordedRequest]:
    """Every recorded request whose path or query contains `secret` (should be none)."""
    for request in server.requests:
        if secret in unquote(request.target):
            yield request
