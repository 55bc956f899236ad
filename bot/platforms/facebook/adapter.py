"""Facebook Page publisher: link posts on /feed, or photo posts on /photos (FACEBOOK_POST_TYPE).

All Graph traffic and its error translation go through `bot.platforms.graph.GraphApi`.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import httpx

from bot.errors import ConfigError, Rejected, Transient, Unsuitable
from bot.imaging.spec import FittedImage, ImageSpec
from bot.models import Account, Limits, Post, PublishResult, TokenInfo
from bot.platforms.base import Checkpoint, Publisher, Wiring
from bot.platforms.facebook import PLATFORM as SPEC
from bot.platforms.facebook.settings import PAGE_ID_VARIABLE, TOKEN_VARIABLE, FacebookSettings
from bot.platforms.graph import GraphApi
from bot.platforms.hosting import FacebookPageHost
from bot.platforms.images import ImageUnavailable, fetch_fitted, fit_bytes

log = logging.getLogger(__name__)

PLATFORM = SPEC.name
FIND_FIELDS = "id,message,created_time,permalink_url,attachments{url,unshimmed_url}"
FACEBOOK_SPEC = ImageSpec(
    "Facebook", ("image/jpeg", "image/png"), 4 * 1024 * 1024, max_width=2048, max_height=2048
)
"""Facebook Page photos: JPEG or PNG; Meta refuses some photos over 4 MB (subcode 1366046)."""


def _norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


def fallback_url(post_id: str) -> str:
    """Facebook resolves /{page-id}_{post-id} to the post when no permalink is known."""
    return f"https://www.facebook.com/{post_id}"


class FacebookPublisher(Publisher):
    """Publishes as the Page whose token is configured; one Graph write per publish."""

    name: ClassVar[str] = PLATFORM
    limits: ClassVar[Limits] = SPEC.limits
    credential_variables: ClassVar[tuple[str, ...]] = SPEC.section.auth_variables
    base_url_variable: ClassVar[str] = SPEC.section.base_url_variable

    def __init__(
        self, settings: FacebookSettings, *, http: httpx.Client | None = None, timeout: float = 20.0
    ) -> None:
        self.page_id = settings.page_id
        self.post_type = settings.post_type
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=timeout)
        self.graph = GraphApi(
            platform=PLATFORM,
            base_url=settings.graph_base_url,
            version=settings.graph_version,
            token=settings.page_access_token,
            variable=TOKEN_VARIABLE,
            http=self.http,
        )

    @classmethod
    def from_section(cls, section: FacebookSettings | None, wiring: Wiring) -> FacebookPublisher:
        if section is None:
            raise ConfigError(
                f"facebook is listed in PLATFORMS but {PAGE_ID_VARIABLE} and "
                f"{TOKEN_VARIABLE} are not set",
                variable=PAGE_ID_VARIABLE,
            )
        return cls(section, http=wiring.http, timeout=wiring.timeout)

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    has_token_info: ClassVar[bool] = True

    def token_info(self) -> TokenInfo:
        return self.graph.debug_token()

    def verify(self) -> Account:
        me = self.graph.get("me", {"fields": "id,name"})
        return Account(PLATFORM, self.graph.field(me, "id"), self.graph.field(me, "name"))

    def account_url(self) -> str | None:
        return f"https://www.facebook.com/{self.page_id}"

    def _as_photo(self, post: Post) -> bool:
        """Photo mode needs an image; a story without one still goes out as a link post. A
        post with a picture and no link (a person's announcement) is always a photo post."""
        manual = post.parts.get("image") == "manual"
        return bool(post.image_url) and (self.post_type == "photo" or manual)

    def _message(self, post: Post) -> str:
        """The text as Facebook will store it: a photo caption carries the link itself."""
        if self._as_photo(post) and post.link and post.link not in post.text:
            return f"{post.text}\n\n{post.link}"
        return post.text

    def preflight(self, post: Post, pending: int = 0) -> None:
        self.offline_checks(post, self.http)
        if self._as_photo(post):  # reads the photo as publish would (a link post if unusable)
            self._photo(post)

    @classmethod
    def offline_checks(cls, post: Post, http: httpx.Client) -> None:
        if len(post.text) > cls.limits.max_length:
            raise Rejected(
                PLATFORM,
                f"text too long: {len(post.text)} characters, over Facebook's "
                f"{cls.limits.max_length}",
            )

    def publish(
        self,
        post: Post,
        checkpoint: Checkpoint | None = None,
        recovery: Mapping[str, str] | None = None,
    ) -> PublishResult:
        self.offline_checks(post, self.http)
        image = self._photo(post) if self._as_photo(post) else None
        if checkpoint is not None:  # the engine proves its lease right before the one write
            checkpoint({})
        if image is not None:
            file = (image.filename, image.body, image.content_type)
            form = {"caption": self._message(post)}
            answer = self.graph.upload(f"{self.page_id}/photos", form, "source", file)
            post_id = str(answer.get("post_id") or self.graph.field(answer, "id"))
        else:
            form = {"message": post.text}
            if post.link:
                form["link"] = post.link
            post_id = self.graph.field(self.graph.post(f"{self.page_id}/feed", form), "id")
        return PublishResult(post_id, fallback_url(post_id))

    def _photo(self, post: Post) -> FittedImage | None:
        """The story image fitted for a Page photo (upright, no metadata, JPEG or PNG, 4 MB);
        None when it cannot be used, and the story goes out as a link post instead."""
        try:
            if post.image_data is not None:  # a person's own file: fitted the same way
                return fit_bytes(post.image_data, FACEBOOK_SPEC)
            return fetch_fitted(self.http, post.image_url, FACEBOOK_SPEC)
        except ImageUnavailable as exc:
            if post.image_data is not None:
                raise Unsuitable(PLATFORM, f"the picture cannot be used: {exc.reason}") from None
            if exc.transient:
                raise Transient(PLATFORM, f"the photo could not be fetched: {exc.reason}") from None
            log.warning("facebook: posting a link post, the photo is unusable: %s", exc.reason)
            return None

    def find(
        self, post: Post, since: datetime, recovery: Mapping[str, str] | None = None
    ) -> PublishResult | None:
        listing = self.graph.listing(
            f"{self.page_id}/published_posts",
            {"fields": FIND_FIELDS, "since": int(since.timestamp()) - 60, "limit": 100},
        )
        wanted = _norm(self._message(post))
        links = [u for u in (post.link, post.story_url) if u]
        for item in listing:
            if _norm(item.get("message")) == wanted or self._links_match(item, links):
                post_id = str(item["id"])
                return PublishResult(post_id, item.get("permalink_url") or fallback_url(post_id))
        return None

    @staticmethod
    def _links_match(item: Mapping[str, Any], links: list[str]) -> bool:
        attachments = (item.get("attachments") or {}).get("data") or []
        found = [a.get(k, "") for a in attachments for k in ("unshimmed_url", "url")]
        return any(_same_url(f, w) for f in found if f for w in links)


def page_image_host(
    section: FacebookSettings | None, platform: str, http: httpx.Client
) -> FacebookPageHost:
    """IMAGE_HOST=facebook: `platform`'s fitted images go to the Page as unpublished photos."""
    if section is None:
        raise ConfigError(
            f"IMAGE_HOST=facebook hosts images on the Page: set {PAGE_ID_VARIABLE} and "
            f"{TOKEN_VARIABLE} (facebook need not be in PLATFORMS)",
            PAGE_ID_VARIABLE,
        )
    graph = GraphApi(
        platform=platform,
        base_url=section.graph_base_url,
        version=section.graph_version,
        token=section.page_access_token,
        variable=TOKEN_VARIABLE,
        http=http,
    )
    return FacebookPageHost(graph, section.page_id)
