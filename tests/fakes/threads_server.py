"""A fake Threads API (graph.threads.net) that behaves like the real one on the wire.

Built on `FakePlatformServer` (recorded requests, faults, hangs, drops, test images), with its
own routes under `/v1.0/` and the token refresh at `/refresh_access_token` (no version, as
Meta documents it). What it does, from networks.md section 1:

* Containers: `POST /{user-id}/threads` (form, token in the `access_token` field) answers
  `{"id"}`; a container reads IN_PROGRESS for `in_progress_reads` status reads, then FINISHED
  (or `next_outcome`), PUBLISHED once published. Nothing is visible until `threads_publish`.
* Text is limited to 500 counted as Threads counts (UTF-8 bytes: "Param text must be at most
  500 characters long"); more than 5 unique links fail at creation with
  THREADS_API__LINK_LIMIT_EXCEEDED; images are fetched by URL (JPEG or PNG, at most 8 MB).
* `threads_publish` charges the quota (`threads_publishing_limit` reads it) and answers
  code 24 / subcode 4279009 "Media Not Found" for a container not FINISHED yet.
* A container published twice makes a second post (fake: what Meta does is unconfirmed; the
  worst case, so tests prove the adapter never does it). Identical texts are accepted: there
  is no duplicate check on Threads.
* `GET /{user-id}/threads` lists the account's posts newest first (read-side media types,
  `timestamp` as `2026-04-15T14:30:00+0000`, cursor paging).
* Errors in the Graph shape; an unknown or expired token is code 190.

Assumptions no source settles are marked "(fake)".
"""

from __future__ import annotations

import base64
import re
from typing import Any

from bot.settings_values import Secret
from tests.fakes.platform_server import (
    FakePlatformServer,
    RecordedRequest,
    Reply,
    _graph_page,
    _graph_time,
    _sniff,
    graph_error,
)

VERSION = "v1.0"
TEXT_LIMIT = 500
LINK_LIMIT = 5
_URL = re.compile(r"https?://[^\s<>\"']+|www\.[^\s<>\"']+", re.IGNORECASE)


def threads_error(status: int, code: int, message: str, subcode: int | None = None) -> Reply:
    return Reply(status, graph_error(code, message, subcode))


class FakeThreadsServer(FakePlatformServer):
    """The Threads API on its own port (THREADS_API_BASE_URL points here)."""

    def __init__(
        self,
        *,
        threads_user_id: str = "26000000000000001",
        threads_username: str = "jcktest.threads",
        threads_token: str = "THAAfake-threads-token-1234567890",
        in_progress_reads: int = 1,
        quota_total: int = 250,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.threads_user_id = threads_user_id
        self.threads_username = threads_username
        self.threads_token = threads_token
        self.valid_tokens: dict[str, float] = {threads_token: self.clock() - 2 * 86400}
        """token -> when it was issued; a refresh needs it at least a day old."""
        self.in_progress_reads = in_progress_reads
        self.next_outcome: tuple[str, str] | None = None
        """(status, error_message) new containers end in instead of FINISHED."""
        self.not_found_publishes = 0
        """Publishes answered 4279009 "Media Not Found" even though the container is ready."""
        self.quota_usage = 0
        self.quota_total = quota_total
        self.containers: dict[str, dict[str, Any]] = {}
        self.posts: list[dict[str, Any]] = []
        self.refreshes = 0

    # -- settings pointing here -------------------------------------------------------------

    def threads_settings(self, **overrides: Any) -> Any:
        from bot.platforms.threads.settings import ThreadsSettings

        values: dict[str, Any] = {
            "user_id": self.threads_user_id,
            "access_token": Secret(self.threads_token),
            "base_url": self.base_url,
        }
        values.update(overrides)
        return ThreadsSettings(**values)

    def threads_env(self) -> dict[str, str]:
        return {
            "THREADS_USER_ID": self.threads_user_id,
            "THREADS_ACCESS_TOKEN": self.threads_token,
            "THREADS_API_BASE_URL": self.base_url,
        }

    # -- dispatch ---------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Reply:
        path = request.path
        if path.startswith("/images/"):
            return self._image(request)
        if path == "/refresh_access_token":
            return self._refresh(request)
        if path.startswith(f"/{VERSION}/"):
            return self._threads(request)
        return Reply(404, {"error": "not found"})

    def _decorate(self, path: str, reply: Reply, *, consume: bool = True) -> Reply:
        return reply

    def _token(self, request: RecordedRequest) -> str | None:
        auth = request.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :].strip()
        return request.form().get("access_token") or request.params().get("access_token")

    def _threads(self, request: RecordedRequest) -> Reply:
        token = self._token(request)
        if not token:
            return threads_error(400, 190, "An access token is required to request this resource.")
        if token not in self.valid_tokens:
            return threads_error(
                400, 190, "Error validating access token: Session has expired", subcode=463
            )
        parts = request.path.strip("/").split("/")[1:]
        if parts[:1] == ["me"]:
            parts = [self.threads_user_id, *parts[1:]]
        form, params, method = request.form(), request.params(), request.method
        with self._lock:
            if parts[:1] == [self.threads_user_id]:
                return self._user(method, parts[1:], form, params)
            if method == "GET" and len(parts) == 1:
                return self._object(parts[0], params)
        return _unsupported(method, "/".join(parts))

    def _user(
        self, method: str, rest: list[str], form: dict[str, str], params: dict[str, str]
    ) -> Reply:
        if method == "GET" and not rest:
            return Reply(200, {"id": self.threads_user_id, "username": self.threads_username})
        if method == "POST" and rest == ["threads"]:
            return self._create(form)
        if method == "POST" and rest == ["threads_publish"]:
            return self._publish(form.get("creation_id", ""))
        if method == "GET" and rest == ["threads_publishing_limit"]:
            config = {"quota_total": self.quota_total, "quota_duration": 86400}
            return Reply(200, {"data": [{"quota_usage": self.quota_usage, "config": config}]})
        if method == "GET" and rest == ["threads"]:
            return self._listing(params)
        return _unsupported(method, "/".join([self.threads_user_id, *rest]))

    def _create(self, form: dict[str, str]) -> Reply:
        media_type = form.get("media_type", "")
        text = form.get("text", "")
        if media_type not in {"TEXT", "IMAGE", "VIDEO", "CAROUSEL"}:
            return threads_error(400, 100, "Param media_type must be one of {TEXT, IMAGE, VIDEO}")
        if media_type == "TEXT" and not text:
            return threads_error(400, 100, "Param text is required for TEXT posts")
        if len(text.encode("utf-8")) > TEXT_LIMIT:
            message = f"Param text must be at most {TEXT_LIMIT} characters long"
            return threads_error(400, 100, message)
        links = {u.rstrip(".,;:!?)").lower() for u in _URL.findall(text)}
        if form.get("link_attachment"):
            links.add(form["link_attachment"].lower())
        if len(links) > LINK_LIMIT:
            # (fake) the code number beside the documented name is not published
            return threads_error(400, 100, "THREADS_API__LINK_LIMIT_EXCEEDED", subcode=4279029)
        image: bytes | None = None
        if media_type == "IMAGE":
            found = self._own_image(form.get("image_url", ""))
            if found is None or _sniff(found[0]) not in {"image/jpeg", "image/png"}:
                # (fake) Meta answers an unusable image at creation with this subcode
                return threads_error(400, 100, "Media download has failed.", subcode=2207052)
            if len(found[0]) > 8 * 1024 * 1024:
                return threads_error(400, 100, "The image size is too large.", subcode=2207004)
            image = found[0]
        if media_type in {"VIDEO", "CAROUSEL"}:
            return threads_error(400, 100, "(fake) only TEXT and IMAGE containers are served")
        container_id = str(17850000000000000 + self.next_id())
        self.containers[container_id] = {
            "id": container_id,
            "media_type": media_type,
            "text": text,
            "image": image,
            "image_url": form.get("image_url"),
            "alt_text": form.get("alt_text"),
            "link_attachment": form.get("link_attachment"),
            "status": "IN_PROGRESS",
            "error_message": None,
            "reads": 0,
            "outcome": self.next_outcome or ("FINISHED", None),
            "published": [],
        }
        return Reply(200, {"id": container_id})

    def _publish(self, creation_id: str) -> Reply:
        container = self.containers.get(creation_id)
        if container is None:
            return threads_error(400, 24, "The requested resource does not exist", subcode=4279009)
        if self.not_found_publishes > 0:
            self.not_found_publishes -= 1
            return threads_error(
                400, 24, f"Media Not Found: The media with id {creation_id} cannot be found",
                subcode=4279009,
            )  # fmt: skip
        if container["status"] not in {"FINISHED", "PUBLISHED"}:
            return threads_error(
                400, 24, f"Media Not Found: The media with id {creation_id} cannot be found",
                subcode=4279009,
            )  # fmt: skip
        if self.quota_usage >= self.quota_total:
            # (fake) the quota's own error is unconfirmed; Graph's "too many calls" code
            return threads_error(400, 9, "Application request limit reached", subcode=2207042)
        media_id = str(18100000000000000 + self.next_id())
        short = base64.urlsafe_b64encode(media_id.encode()).decode()[:11]
        read_type = "IMAGE" if container["media_type"] == "IMAGE" else "TEXT_POST"
        self.posts.append(
            {
                "id": media_id,
                "text": container["text"],
                "media_type": read_type,
                "created": self.clock(),
                "shortcode": short,
                "permalink": f"https://www.threads.com/@{self.threads_username}/post/{short}",
                "container_id": creation_id,
                "link_attachment_url": container["link_attachment"],
                "alt_text": container["alt_text"],
                "image": container["image"],
            }
        )
        container["status"] = "PUBLISHED"
        container["published"].append(media_id)
        self.quota_usage += 1
        return Reply(200, {"id": media_id})

    def _object(self, object_id: str, params: dict[str, str]) -> Reply:
        fields = set(filter(None, params.get("fields", "id").split(",")))
        container = self.containers.get(object_id)
        if container is not None:
            container["reads"] += 1
            if container["status"] == "IN_PROGRESS" and container["reads"] > self.in_progress_reads:
                container["status"], container["error_message"] = container["outcome"]
            answer: dict[str, Any] = {"id": object_id, "status": container["status"]}
            if container["error_message"] and "error_message" in fields:
                answer["error_message"] = container["error_message"]
            return Reply(200, answer)
        for post in self.posts:
            if post["id"] == object_id:
                if "status" in fields:
                    return threads_error(400, 100, "Tried accessing nonexisting field (status)")
                item = {"id": object_id, "permalink": post["permalink"]}
                item["shortcode"] = post["shortcode"]
                return Reply(200, item)
        return _unsupported("GET", object_id)

    def _listing(self, params: dict[str, str]) -> Reply:
        since = params.get("since")
        limit = int(params.get("limit", "25"))
        if not 1 <= limit <= 100:
            return threads_error(400, 100, "Param limit must be between 1 and 100")
        posts = [p for p in self.posts if since is None or p["created"] >= float(since)]
        posts = sorted(posts, key=lambda p: p["created"], reverse=True)
        page, paging = _graph_page(posts, params, limit)
        data = []
        for p in page:
            item = {
                "id": p["id"],
                "media_type": p["media_type"],
                "permalink": p["permalink"],
                "shortcode": p["shortcode"],
                "timestamp": _graph_time(p["created"]),
            }
            if p["text"]:
                item["text"] = p["text"]
            if p["link_attachment_url"]:
                item["link_attachment_url"] = p["link_attachment_url"]
            data.append(item)
        return Reply(200, {"data": data, "paging": paging})

    def _refresh(self, request: RecordedRequest) -> Reply:
        params = request.params()
        token = params.get("access_token", "")
        if params.get("grant_type") != "th_refresh_token":
            return threads_error(400, 100, "Param grant_type must be th_refresh_token")
        with self._lock:
            issued = self.valid_tokens.get(token)
            if issued is None:
                return threads_error(400, 190, "Error validating access token")
            if self.clock() - issued < 86400:
                # (fake) the refusal's exact code is unpublished; the rule is documented
                return threads_error(400, 190, "The access token must be at least 24 hours old")
            self.refreshes += 1
            fresh = f"THAArefreshed-{self.refreshes}-{token[-6:]}"
            self.valid_tokens[fresh] = self.clock()
        body = {"access_token": fresh, "token_type": "bearer", "expires_in": 5183944}
        return Reply(200, body)

    # -- inspection -------------------------------------------------------------------------

    def post_texts(self) -> list[str]:
        return [p["text"] for p in self.posts]

    def find_link(self, post: dict[str, Any]) -> str:
        found = _URL.findall(post["text"] or "")
        return found[0] if found else (post.get("link_attachment_url") or "")


def _unsupported(method: str, path: str) -> Reply:
    return threads_error(
        400,
        100,
        f"Unsupported {method.lower()} request. Object with ID '{path}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation",
        subcode=33,
    )
