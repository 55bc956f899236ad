"""The fake X API v2 (/2/...), as a mixin for a server built on FakeHttpServer.

OAuth 1.0a HMAC-SHA1 signatures are verified for real against the URL as received, links are
rewritten to t.co with `entities.urls`, texts come back HTML-escaped as X does, every answer
carries x-rate-limit-* headers. Duplicate text is ACCEPTED by default, as Facebook and Instagram
accept it: a fake that refuses duplicates hides them, so tests count what arrived.
`x_refuse_duplicates=True` turns on X's 403 "duplicate content" refusal. Bodies are the recorded
answers in tests/fixtures/twitter/.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from twitter_text import parse_tweet
from twitter_text.extract_urls import extract_urls_with_indices

from bot.platforms.twitter.settings import TwitterSettings
from bot.settings import Secret
from tests.fakes.http_fake import FakeHttpServer, RecordedRequest, Reply, answer, multipart, sniff

PLATFORM = "twitter"


@dataclass(frozen=True)
class XCredentials:
    consumer_key: str = "fake-consumer-key"
    consumer_secret: str = "fake-consumer-secret"
    access_token: str = "1500000000000000001-faketoken"
    access_token_secret: str = "fake-token-secret"


def x_problem(
    status: int, title: str, detail: str | None = None, type_: str = "about:blank", **extra: Any
) -> dict[str, Any]:
    """An X API v2 problem body (RFC 7807), as X sends them (for tests' own faults)."""
    return {"title": title, "detail": detail or title, "type": type_, "status": status, **extra}


def _invalid_request(message: str) -> Reply:
    return Reply(400, answer(PLATFORM, "invalid_request", message=message))


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


_CREATE_FIELDS = frozenset(
    {
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
)
"""The create-post body's properties; X's schema has additionalProperties false."""


class XApi(FakeHttpServer):
    """X API v2: posts, simple media upload with alt text, users/me, the user's timeline."""

    def __init__(
        self,
        *,
        x_credentials: XCredentials | None = None,
        x_user_id: str = "1500000000000000001",
        x_username: str = "jcktest",
        x_refuse_duplicates: bool = False,
        **rest: Any,
    ) -> None:
        super().__init__(**rest)
        self.x_credentials = x_credentials or XCredentials()
        self.x_user_id, self.x_username = x_user_id, x_username
        self.x_refuse_duplicates = x_refuse_duplicates
        """X answers 403 "duplicate content" to a text it already has (off: count, not refuse)."""
        self.tweets: list[dict[str, Any]] = []
        self.media: dict[str, dict[str, Any]] = {}
        self._nonces: set[tuple[str, str]] = set()
        self._rate_remaining: dict[str, int] = {}

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

    # -- dispatch ---------------------------------------------------------------------------

    def _route(self, request: RecordedRequest) -> Reply | None:
        if request.path.startswith("/2/"):
            return self._x(request)
        return super()._route(request)

    def _decorate(self, path: str, reply: Reply, *, consume: bool = True) -> Reply:
        if path.startswith("/2/"):
            reply.headers = {**self._x_rate_headers(path, consume=consume), **reply.headers}
        return super()._decorate(path, reply, consume=consume)

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
            return Reply(401, answer(PLATFORM, "unauthorized"))
        route = (request.method, request.path)
        if route == ("POST", "/2/tweets"):
            return self._x_create_tweet(request)
        if route == ("POST", "/2/media/upload"):
            return self._x_upload(request)
        if route == ("POST", "/2/media/metadata"):
            return self._x_metadata(request)
        if route == ("GET", "/2/users/me"):
            me = {"id": self.x_user_id, "name": "JCK Test", "username": self.x_username}
            return Reply(200, answer(PLATFORM, "users_me", **me))
        match = re.fullmatch(r"/2/users/(\d+)/tweets", request.path)
        if request.method == "GET" and match:
            return self._x_timeline(request, match.group(1))
        return Reply(404, answer(PLATFORM, "not_found"))

    # -- posts and media --------------------------------------------------------------------

    def _x_create_tweet(self, request: RecordedRequest) -> Reply:
        try:
            payload = request.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or set(payload) - _CREATE_FIELDS:
            return _invalid_request("the JSON body is not a valid post request")
        text = payload.get("text") or ""
        media_ids = (payload.get("media") or {}).get("media_ids") or []
        if not text and not media_ids:
            return _invalid_request("text or media is required")
        if text and parse_tweet(text).weightedLength > 280:
            return _invalid_request("text: Tweet text is too long")
        with self._lock:
            if any(mid not in self.media for mid in media_ids) or len(media_ids) > 4:
                return _invalid_request("Your media IDs are invalid.")
            if self.x_refuse_duplicates and any(t["input_text"] == text for t in self.tweets):
                return Reply(403, answer(PLATFORM, "duplicate"))
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
        return Reply(201, answer(PLATFORM, "create_tweet", id=tweet_id, text=stored))

    def _x_upload(self, request: RecordedRequest) -> Reply:
        parts = multipart(request)
        if parts is None:
            return _invalid_request("expected a multipart/form-data body")
        category = parts.get("media_category", b"").decode()
        media = parts.get("media", b"")
        if category not in {"tweet_image", "dm_image", "subtitles"}:
            return _invalid_request(f"media_category {category!r} is not allowed")
        kind = sniff(media)
        if kind is None:
            return _invalid_request("media type unrecognized")
        if len(media) > 5 * 1024 * 1024:
            return _invalid_request("File size exceeds 5242880 bytes.")
        media_id = str(1880000000000000000 + self.next_id())
        with self._lock:
            self.media[media_id] = {"bytes": media, "type": kind, "category": category}
        body = answer(PLATFORM, "media_upload", id=media_id, size=len(media), image_type=kind)
        return Reply(200, body)

    def _x_metadata(self, request: RecordedRequest) -> Reply:
        try:
            payload = request.json()
            media_id = payload["id"]
            alt = payload["metadata"]["alt_text"]["text"]
        except (ValueError, KeyError, TypeError):
            return _invalid_request("expected {id, metadata: {alt_text: {text}}}")
        if len(alt) > 1000:
            return _invalid_request("alt_text.text is longer than 1000 characters")
        with self._lock:
            if media_id not in self.media:
                return _invalid_request(f"media id {media_id} is unknown")
            self.media[media_id]["alt_text"] = alt
        return Reply(200, answer(PLATFORM, "media_metadata"))

    def _x_timeline(self, request: RecordedRequest, user_id: str) -> Reply:
        params = request.params()
        max_results = int(params.get("max_results", "10"))
        if not 5 <= max_results <= 100:
            return _invalid_request("max_results must be between 5 and 100")
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
            item: dict[str, Any] = answer(PLATFORM, "timeline_tweet", id=t["id"], text=t["text"])
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


def _parse_iso(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _iso_z(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
