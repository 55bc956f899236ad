"""The fake Instagram professional account on the fake Graph host (Instagram API with Facebook
Login): containers going IN_PROGRESS -> FINISHED -> PUBLISHED as their status is read, the
publishing quota, the account's media, and Meta's checks of the picture it fetches (JPEG only,
8 MiB, aspect 4:5 to 1.91:1). Bodies are the recorded answers in tests/fixtures/instagram/.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

from bot.platforms.instagram.settings import InstagramSettings
from bot.settings import Secret
from tests.fakes.graph import GraphApi, GraphCall, graph_page, graph_time, recorded_error
from tests.fakes.http_fake import Reply, answer, jpeg_size, sniff

PLATFORM = "instagram"


class InstagramAccount(GraphApi):
    """One IG user: container create, status, publish, content_publishing_limit, media."""

    def __init__(
        self,
        *,
        ig_user_id: str = "17841400000000001",
        ig_username: str = "jcktest.ig",
        ig_token: str | None = None,
        ig_in_progress_reads: int = 1,
        ig_quota_total: int = 50,
        **rest: Any,
    ) -> None:
        super().__init__(**rest)
        self.ig_user_id, self.ig_username = ig_user_id, ig_username
        self.ig_token = ig_token
        """A token of its own; None: the Page's token (Facebook Login)."""
        self.ig_in_progress_reads = ig_in_progress_reads
        """Status reads a new container answers IN_PROGRESS before it turns FINISHED."""
        self.ig_next_outcome: tuple[str, str] | None = None
        """(status_code, status) new containers end in instead of FINISHED, e.g. ("ERROR", ...)."""
        self.ig_quota_usage = 0
        self.ig_quota_total = ig_quota_total
        self.ig_containers: dict[str, dict[str, Any]] = {}
        self.ig_media: list[dict[str, Any]] = []

    def instagram_settings(self, **overrides: Any) -> InstagramSettings:
        token = Secret(self.ig_token or self.page_token)
        return replace(InstagramSettings(self.ig_user_id, token, self.base_url), **overrides)

    # -- hooks ------------------------------------------------------------------------------

    def _graph_tokens(self) -> set[str]:
        return super()._graph_tokens() | ({self.ig_token} if self.ig_token else set())

    def _graph_me(self, token: str) -> Reply:
        if self.ig_token and token == self.ig_token and token != self.page_token:
            return Reply(200, answer("graph", "me", id="100000000000009", name="IG Token Owner"))
        return super()._graph_me(token)

    def _graph_call(self, call: GraphCall) -> Reply | None:
        if call.parts[:1] == [self.ig_user_id]:
            return self._ig_user(call.method, call.parts[1:], call.form, call.params)
        return super()._graph_call(call)

    def _graph_object(self, object_id: str, params: dict[str, str]) -> Reply | None:
        container = self.ig_containers.get(object_id)
        if container is not None:
            container["reads"] += 1
            if container["status_code"] == "IN_PROGRESS":
                if container["reads"] > self.ig_in_progress_reads:
                    container["status_code"], container["status"] = container["outcome"]
                else:
                    container["status"] = "In Progress: Media is still being processed."
            status = {"status_code": container["status_code"], "status": container["status"]}
            return Reply(200, answer(PLATFORM, "container_status", id=object_id, **status))
        for media in self.ig_media:
            if media["id"] == object_id:
                body = answer(
                    PLATFORM, "media_permalink", id=object_id, permalink=media["permalink"]
                )
                return Reply(200, body)
        return super()._graph_object(object_id, params)

    # -- the account ------------------------------------------------------------------------

    def _ig_user(
        self, method: str, rest: list[str], form: dict[str, str], params: dict[str, str]
    ) -> Reply:
        if method == "GET" and not rest:
            return Reply(
                200, answer(PLATFORM, "user", username=self.ig_username, id=self.ig_user_id)
            )
        if method == "POST" and rest == ["media"]:
            return self._ig_create(form)
        if method == "POST" and rest == ["media_publish"]:
            return self._ig_publish(form.get("creation_id") or params.get("creation_id", ""))
        if method == "GET" and rest == ["content_publishing_limit"]:
            quota = {"quota_usage": self.ig_quota_usage, "quota_total": self.ig_quota_total}
            return Reply(200, answer(PLATFORM, "publishing_limit", **quota))
        if method == "GET" and rest == ["media"]:
            limit = int(params.get("limit", "25"))
            media = sorted(self.ig_media, key=lambda m: m["created"], reverse=True)
            media, paging = graph_page(media, params, limit)
            data = [
                answer(
                    PLATFORM,
                    "media_item",
                    id=m["id"],
                    caption=m["caption"],
                    permalink=m["permalink"],
                    timestamp=graph_time(m["created"]),
                )
                for m in media
            ]
            return Reply(200, {"data": data, "paging": paging})
        return recorded_error(PLATFORM, "error_unsupported")

    def _ig_create(self, form: dict[str, str]) -> Reply:
        image_url = form.get("image_url", "")
        if not image_url:
            return recorded_error(PLATFORM, "error_image_url_required")
        if len(form.get("caption", "")) > 2200:
            return recorded_error(PLATFORM, "error_caption_too_long")
        image = self._own_image(image_url)
        if image is None:
            return recorded_error(PLATFORM, "error_download_failed")
        if sniff(image[0]) != "image/jpeg":
            return recorded_error(PLATFORM, "error_not_photo")
        if len(image[0]) > 8 * 1024 * 1024:
            return recorded_error(PLATFORM, "error_image_too_large")
        size = jpeg_size(image[0])
        if size is not None and not 0.8 <= size[0] / size[1] <= 1.91:
            return recorded_error(PLATFORM, "error_aspect_ratio")
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
        return Reply(200, answer(PLATFORM, "container", id=container_id))

    def _ig_publish(self, creation_id: str) -> Reply:
        container = self.ig_containers.get(creation_id)
        if container is None:
            return recorded_error(PLATFORM, "error_container_not_found")
        if container["status_code"] in {"PUBLISHED", "EXPIRED"}:
            # (fake) Meta's exact answer for a reused container is undocumented.
            return recorded_error(PLATFORM, "error_container_used")
        if container["status_code"] != "FINISHED":
            return recorded_error(PLATFORM, "error_not_ready")
        if self.ig_quota_usage >= self.ig_quota_total:
            return recorded_error(PLATFORM, "error_publish_limit")
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
        return Reply(200, answer(PLATFORM, "media_publish", id=media_id))
