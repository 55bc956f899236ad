"""A fake Mastodon instance speaking the REST API as Mastodon 4.x does (networks.md section 3).

What it does as the real server does:
* Bearer tokens only (401 {"error": "The access token is invalid"}); verify_credentials;
* `GET /api/v1/instance` and `/api/v2/instance` (with or without the trailing slash, as
  Mastodon.py asks) with the instance's own `max_characters` and `characters_reserved_per_url`;
* `POST /api/v1/statuses`, form-encoded (`media_ids[]` repeated) or JSON: the length counted
  as the server counts it (grapheme clusters, every URL with a scheme as the URL weight, a
  remote `@user@domain` as `@user`; written independently of the bot's own counting), 422
  "Validation failed: Text character limit of N exceeded", media not processed yet 422, at most
  4 media, visibility checked; answers 200 with the status (content as HTML, links shortened in
  the visible text with the whole URL in invisible spans);
* the Idempotency-Key: kept per account for 3,600 s after a success only; a repeat within the
  hour answers the original status without reading the new body; a 422 is not kept;
* `POST /api/v2/media` multipart (`file`, `description` up to the description limit): 200 when
  processed, or 202 with `url` null, then `GET /api/v1/media/:id` 206 until it is ready;
* `GET /api/v1/accounts/:id/statuses` newest first, `limit` <= 40, `max_id`, with a Link header;
* X-RateLimit-Limit/-Remaining/-Reset (ISO 8601) on every answer.

Duplicates are accepted as the real server accepts them (the same text twice, without a key, is
two statuses). Tests count `server.masto_statuses`.
"""

from __future__ import annotations

import html
import itertools
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import regex

from tests.fakes.http_fake import RecordedRequest, Reply, multipart
from tests.fakes.platform_server import FakePlatformServer

KEY_SECONDS = 3600
_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'}]", re.IGNORECASE)
_REMOTE = re.compile(r"(?<![=/\w])@(\w+(?:[\w.-]+\w)?)@[\w.-]+\w")


def masto_error(message: str) -> dict[str, str]:
    return {"error": message}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _reset(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


class MastodonServer(FakePlatformServer):
    """X, Graph and one Mastodon account on one port; Mastodon state is `masto_*`."""

    def __init__(
        self,
        *,
        masto_token: str = "masto-token-0123456789",
        masto_max_characters: int = 500,
        masto_url_weight: int = 23,
        masto_processing_reads: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.masto_token = masto_token
        self.masto_max_characters = masto_max_characters
        self.masto_url_weight = masto_url_weight
        self.masto_processing_reads = masto_processing_reads
        """Reads of a new media id answered 206 (and its upload 202) before it is ready."""
        self.masto_account = {"id": "109000000000000001", "username": "jckmagazine",
                              "acct": "jckmagazine"}  # fmt: skip
        self.masto_statuses: list[dict[str, Any]] = []
        """Every status made, in order, as the API returns it (plus `text`, the source)."""
        self.masto_media: dict[str, dict[str, Any]] = {}
        self.masto_keys: dict[str, tuple[float, str]] = {}
        """Idempotency-Key -> (when it was kept, the status id)."""
        self.masto_version = "4.3.2"
        self.masto_v2_instance = True
        self._masto_ids = itertools.count(113_000_000_000_000_001)

    @property
    def masto_url(self) -> str:
        return self.base_url

    def masto_status_url(self, status_id: str) -> str:
        return f"{self.base_url}/@{self.masto_account['acct']}/{status_id}"

    # -- dispatch ---------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Reply:
        if not request.path.startswith("/api/v"):
            return super().handle(request)
        reply = self._masto(request, request.path.rstrip("/"))
        reply.headers = {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "299",
            "X-RateLimit-Reset": _reset(self.clock() + 300),
            **reply.headers,
        }
        return reply

    def _masto(self, request: RecordedRequest, path: str) -> Reply:
        if request.method == "GET" and path in ("/api/v1/instance", "/api/v2/instance"):
            return self._instance(path)
        if request.headers.get("authorization") != f"Bearer {self.masto_token}":
            return Reply(401, masto_error("The access token is invalid"))
        if (request.method, path) == ("GET", "/api/v1/accounts/verify_credentials"):
            return Reply(200, {**self.masto_account, "url": self.masto_status_url("")[:-1]})
        if (request.method, path) == ("POST", "/api/v1/statuses"):
            return self._post_status(request)
        if (request.method, path) == ("POST", "/api/v2/media"):
            return self._upload(request)
        found = re.fullmatch(r"/api/v1/media/(\d+)", path)
        if request.method == "GET" and found:
            return self._media_status(found.group(1))
        found = re.fullmatch(r"/api/v1/accounts/(\d+)/statuses", path)
        if request.method == "GET" and found:
            return self._account_statuses(found.group(1), request.params())
        found = re.fullmatch(r"/api/v1/statuses/(\d+)/source", path)
        if request.method == "GET" and found:
            return self._source(found.group(1))
        return Reply(404, masto_error("Record not found"))

    def _instance(self, path: str) -> Reply:
        statuses = {
            "max_characters": self.masto_max_characters,
            "max_media_attachments": 4,
            "characters_reserved_per_url": self.masto_url_weight,
        }
        media = {
            "supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp"],
            "description_limit": 1500,
            "image_size_limit": 16777216,
            "image_matrix_limit": 33177600,
        }
        body: dict[str, Any] = {
            "version": self.masto_version,
            "configuration": {"statuses": statuses, "media_attachments": media},
        }
        if path == "/api/v2/instance":
            if not self.masto_v2_instance:
                return Reply(404, masto_error("Record not found"))
            body.update({"domain": "127.0.0.1", "api_versions": {"mastodon": 2}})
        else:
            body.update({"uri": "127.0.0.1", "max_toot_chars": self.masto_max_characters})
        return Reply(200, body)

    # -- statuses ---------------------------------------------------------------------------

    def _form(self, request: RecordedRequest) -> dict[str, Any]:
        if "application/json" in request.headers.get("content-type", ""):
            body = request.json()
            return body if isinstance(body, dict) else {}
        pairs = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
        form: dict[str, Any] = {"media_ids": []}
        for key, value in pairs:
            if key == "media_ids[]":
                form["media_ids"].append(value)
            else:
                form[key] = value
        return form

    def masto_length(self, text: str) -> int:
        """StatusLengthValidator: graphemes, each URL the reserved weight, remote mentions
        counted as their local part."""
        countable = _URL.sub("x" * self.masto_url_weight, text)
        countable = _REMOTE.sub(lambda m: "@" + m.group(1), countable)
        return len(regex.findall(r"\X", countable))

    def _post_status(self, request: RecordedRequest) -> Reply:
        key = request.headers.get("idempotency-key")
        now = self.clock()
        with self._lock:
            if key and key in self.masto_keys and now - self.masto_keys[key][0] < KEY_SECONDS:
                status_id = self.masto_keys[key][1]
                original = next(s for s in self.masto_statuses if s["id"] == status_id)
                return Reply(200, _public(original))  # the new body is not even read
        form = self._form(request)
        text = str(form.get("status") or "")
        media_ids = [str(m) for m in form.get("media_ids") or []]
        problem = self._invalid(text, media_ids, form)
        if problem is not None:
            return problem
        status_id = str(next(self._masto_ids))
        attachments = [self.masto_media[m] for m in media_ids]
        status = {
            "id": status_id,
            "created_at": _iso(now),
            "uri": f"{self.base_url}/users/{self.masto_account['username']}/statuses/{status_id}",
            "url": self.masto_status_url(status_id),
            "content": _html(text),
            "visibility": form.get("visibility") or "public",
            "language": form.get("language") or "en",
            "media_attachments": attachments,
            "card": None,
            "application": {"name": "feedbot"},
            "text": text,
        }
        with self._lock:
            self.masto_statuses.append(status)
            if key:
                self.masto_keys[key] = (now, status_id)
        return Reply(200, _public(status))

    def _invalid(self, text: str, media_ids: list[str], form: dict[str, Any]) -> Reply | None:
        if not text and not media_ids:
            return Reply(422, masto_error("Validation failed: Text can't be blank"))
        size = self.masto_length(text)
        if size > self.masto_max_characters:
            return Reply(
                422,
                masto_error(
                    f"Validation failed: Text character limit of {self.masto_max_characters} "
                    "exceeded"
                ),
            )
        if form.get("visibility") not in (None, "public", "unlisted", "private", "direct"):
            return Reply(422, masto_error("Validation failed: Visibility is not included"))
        if len(media_ids) > 4:
            return Reply(422, masto_error("Validation failed: Media attachments too many"))
        for media_id in media_ids:
            media = self.masto_media.get(media_id)
            if media is None:
                return Reply(422, masto_error("Validation failed: Media attachments is invalid"))
            if media["url"] is None:
                return Reply(
                    422,
                    masto_error(
                        "Cannot attach files that have not finished processing. "
                        "Try again in a moment!"
                    ),
                )
        return None

    # -- media ------------------------------------------------------------------------------

    def _upload(self, request: RecordedRequest) -> Reply:
        parts = multipart(request)
        if not parts or not parts.get("file"):
            return Reply(422, masto_error("Validation failed: File can't be blank"))
        description = parts.get("description", b"").decode("utf-8")
        if len(description) > 1500:
            return Reply(
                422, masto_error("Validation failed: Description is too long (maximum is 1500)")
            )
        body = parts["file"]
        if not (body.startswith(b"\xff\xd8") or body.startswith(b"\x89PNG")):
            return Reply(422, masto_error("Validation failed: File content type is invalid"))
        media_id = str(next(self._masto_ids))
        processing = self.masto_processing_reads > 0
        media = {
            "id": media_id,
            "type": "image",
            "url": None if processing else f"{self.base_url}/system/media/{media_id}.jpg",
            "preview_url": f"{self.base_url}/system/media/{media_id}_small.jpg",
            "description": description or None,
            "reads_left": self.masto_processing_reads,
            "bytes": len(body),
        }
        with self._lock:
            self.masto_media[media_id] = media
        return Reply(202 if processing else 200, _media_public(media))

    def _media_status(self, media_id: str) -> Reply:
        media = self.masto_media.get(media_id)
        if media is None:
            return Reply(404, masto_error("Record not found"))
        with self._lock:
            if media["url"] is None:
                media["reads_left"] -= 1
                if media["reads_left"] <= 0:
                    media["url"] = f"{self.base_url}/system/media/{media_id}.jpg"
                else:
                    return Reply(206, _media_public(media))
        return Reply(200, _media_public(media))

    # -- reading ----------------------------------------------------------------------------

    def _account_statuses(self, account_id: str, params: dict[str, str]) -> Reply:
        if account_id != self.masto_account["id"]:
            return Reply(404, masto_error("Record not found"))
        limit = min(40, int(params.get("limit") or 20))
        found = sorted(self.masto_statuses, key=lambda s: int(s["id"]), reverse=True)
        if params.get("max_id"):
            found = [s for s in found if int(s["id"]) < int(params["max_id"])]
        if params.get("since_id"):
            found = [s for s in found if int(s["id"]) > int(params["since_id"])]
        page = found[:limit]
        headers = {}
        if page:
            path = f"{self.base_url}/api/v1/accounts/{account_id}/statuses"
            headers["Link"] = (
                f'<{path}?max_id={page[-1]["id"]}>; rel="next", '
                f'<{path}?min_id={page[0]["id"]}>; rel="prev"'
            )
        return Reply(200, [_public(s) for s in page], headers)

    def _source(self, status_id: str) -> Reply:
        for status in self.masto_statuses:
            if status["id"] == status_id:
                return Reply(200, {"id": status_id, "text": status["text"], "spoiler_text": ""})
        return Reply(404, masto_error("Record not found"))


def _public(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k != "text"}


def _media_public(media: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in media.items() if k not in ("reads_left", "bytes")}


def _html(text: str) -> str:
    """The status as Mastodon renders it: paragraphs, and each link shortened to 30 visible
    characters with the rest (and the scheme) in invisible spans."""
    out: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        out.append(html.escape(text[last : match.start()]))
        url = match.group(0)
        scheme, _, rest = url.partition("://")
        shown, hidden = rest[:30], rest[30:]
        out.append(
            f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener">'
            f'<span class="invisible">{scheme}://</span>'
            f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
            f'<span class="invisible">{html.escape(hidden)}</span></a>'
        )
        last = match.end()
    out.append(html.escape(text[last:]))
    paragraphs = "".join(out).split("\n\n")
    return "".join(f"<p>{p.replace(chr(10), '<br />')}</p>" for p in paragraphs)
