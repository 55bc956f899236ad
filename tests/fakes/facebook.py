"""The fake Facebook Page on the fake Graph host: feed posts (message and link), photos by URL or
upload (published, or unpublished to host a picture for Instagram), published_posts, photo
objects with their CDN URL, and deletes. Duplicates are accepted as the Page accepts them unless
`fb_refuse_duplicates` (Graph's 506 for a message repeating the previous one). Bodies are the
recorded answers in tests/fixtures/facebook/.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote

from bot.platforms.facebook.settings import FacebookSettings
from bot.settings import Secret
from tests.fakes.graph import GraphApi, GraphCall, graph_page, graph_time, recorded_error
from tests.fakes.http_fake import RecordedRequest, Reply, answer, jpeg_size, sniff

PLATFORM = "facebook"


class FacebookPage(GraphApi):
    """The Page's posts and photos, and Meta's CDN serving those photos (/cdn/{photo-id}.jpg)."""

    def __init__(self, *, fb_refuse_duplicates: bool = False, **rest: Any) -> None:
        super().__init__(**rest)
        self.fb_refuse_duplicates = fb_refuse_duplicates
        """Graph 506 for a Page post repeating the previous message (off by default)."""
        self.fb_posts: list[dict[str, Any]] = []
        self.fb_photos: dict[str, bytes] = {}
        """Every photo on the Page (published or not), by photo id: its bytes."""
        self.fb_unpublished: set[str] = set()
        """The photo ids uploaded with published=false (hosting for Instagram)."""
        self.fb_deleted: list[str] = []

    def facebook_settings(self, **overrides: Any) -> FacebookSettings:
        base = FacebookSettings(self.page_id, Secret(self.page_token), self.base_url)
        return replace(base, **overrides)

    # -- hooks ------------------------------------------------------------------------------

    def _route(self, request: RecordedRequest) -> Reply | None:
        if request.path.startswith("/cdn/"):
            return self._cdn(request)
        return super()._route(request)

    def _graph_call(self, call: GraphCall) -> Reply | None:
        parts, method = call.parts, call.method
        if parts[:1] == [self.page_id] and len(parts) == 2:
            if method == "POST" and parts[1] == "feed":
                return self._fb_feed(call.form)
            if method == "POST" and parts[1] == "photos":
                return self._fb_photo(call.form, call.upload)
            if method == "GET" and parts[1] == "published_posts":
                return self._fb_published(call.params)
        if method == "DELETE" and len(parts) == 1 and parts[0] in self.fb_photos:
            del self.fb_photos[parts[0]]
            self.fb_unpublished.discard(parts[0])
            self.fb_deleted.append(parts[0])
            return Reply(200, answer(PLATFORM, "deleted"))
        return super()._graph_call(call)

    def _graph_object(self, object_id: str, params: dict[str, str]) -> Reply | None:
        photo = self.fb_photos.get(object_id)
        if photo is None:
            return super()._graph_object(object_id, params)
        width, height = jpeg_size(photo) or (0, 0)
        source = f"{self.base_url}/cdn/{object_id}.jpg"
        body = answer(
            PLATFORM, "photo_object", id=object_id, source=source, width=width, height=height
        )
        return Reply(200, body)

    def _own_image(self, url: str) -> tuple[bytes, str] | None:
        cdn = self.base_url + "/cdn/"
        if url.startswith(cdn):
            photo = self.fb_photos.get(url[len(cdn) :].split(".")[0])
            return (photo, sniff(photo) or "") if photo else None
        return super()._own_image(url)

    # -- the Page ---------------------------------------------------------------------------

    def _cdn(self, request: RecordedRequest) -> Reply:
        """Meta's CDN for the Page's photos (fake: /cdn/{photo-id}.jpg on this server)."""
        photo = self.fb_photos.get(request.path[len("/cdn/") :].split(".")[0])
        if photo is None:
            return Reply(404, b"gone", {"Content-Type": "text/plain"})
        return Reply(200, photo, {"Content-Type": sniff(photo) or "application/octet-stream"})

    def _fb_feed(self, form: dict[str, str]) -> Reply:
        message, link = form.get("message", ""), form.get("link")
        if not message and not link:
            return recorded_error(PLATFORM, "error_missing_message")
        last = self.fb_posts[-1]["message"] if self.fb_posts else None
        if self.fb_refuse_duplicates and message and last == message:
            return recorded_error(PLATFORM, "error_duplicate")
        post = self._fb_add(message, link)
        return Reply(200, answer(PLATFORM, "feed_post", id=post["id"]))

    def _fb_photo(self, form: dict[str, str], upload: bytes | None = None) -> Reply:
        """A photo by `url` (Meta fetches it) or uploaded as the multipart file `source`;
        `published=false` keeps it off the Page (an unpublished photo the CDN still serves)."""
        image = (upload, "") if upload is not None else self._own_image(form.get("url", ""))
        if image is None or sniff(image[0]) is None:
            return recorded_error(PLATFORM, "error_invalid_image")
        photo_id = str(200000000000000 + self.next_id())
        self.fb_photos[photo_id] = image[0]
        if form.get("published", "true").lower() == "false":
            self.fb_unpublished.add(photo_id)
            return Reply(200, answer(PLATFORM, "photo_unpublished", id=photo_id))
        post = self._fb_add(form.get("caption") or form.get("message", ""), None, photo_id)
        return Reply(200, answer(PLATFORM, "photo", id=photo_id, post_id=post["id"]))

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
        posts, paging = graph_page(posts, params, limit)
        data = []
        for p in posts:
            page_id, post_id = p["id"].split("_", 1)
            item: dict[str, Any] = answer(
                PLATFORM,
                "published_post",
                id=p["id"],
                created_time=graph_time(p["created_time"]),
                page_id=page_id,
                post_id=post_id,
            )
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
