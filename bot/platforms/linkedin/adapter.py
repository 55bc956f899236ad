"""LinkedIn Page publisher: one article share on the versioned Posts API.

The story goes out as an article share (the link with the title, description and thumbnail we
set: LinkedIn does not read the page). The thumbnail is uploaded first through the Images API;
an upload is invisible, so only `POST /rest/posts` makes anything, and the engine's checkpoint
proves the lease right before it. LinkedIn has no idempotency key: it refuses a repeated text
with 422 DUPLICATE_POST naming the first post (recorded as published), and after a crash `find`
lists the organization's posts and matches the link or the text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar

import httpx

from bot.errors import AuthError, ConfigError, PublishError, Rejected, Transient
from bot.imaging.spec import FittedImage, ImageSpec
from bot.models import Account, Limits, Post, PublishResult, TokenInfo
from bot.platforms.base import Checkpoint, Publisher, Wiring
from bot.platforms.images import ImageUnavailable, fetch_fitted, fit_bytes
from bot.platforms.linkedin import LIMITS, MAX_LENGTH
from bot.platforms.linkedin.api import PLATFORM, LinkedInApi, post_url
from bot.platforms.linkedin.little import escape, unescape, visible_length
from bot.platforms.linkedin.settings import BASE_URL, TOKEN, LinkedInSettings
from bot.platforms.state import KeyValue, Memory

log = logging.getLogger(__name__)

TITLE_MAX = 200
DESCRIPTION_MAX = 300
TOKEN_DAYS = 60
FIND_PAGE = 50
FIND_PAGES = 10
LINKEDIN_SPEC = ImageSpec(
    "LinkedIn",
    ("image/jpeg", "image/png"),
    8 * 1024 * 1024,
    max_width=4096,
    max_height=4096,
)
"""Thumbnails: JPEG or PNG (GIF too, but a still is better as PNG), well under LinkedIn's
36,152,320 pixels; fitted like every other platform's images (upright, no metadata)."""


def _norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def _same_url(a: str | None, b: str | None) -> bool:
    return bool(a and b) and a.rstrip("/").lower() == b.rstrip("/").lower()  # type: ignore[union-attr]


def _cut(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a space with an ellipsis (card fields only)."""
    text = _norm(text)
    if len(text) <= limit:
        return text
    head = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return head.rstrip(" ,;:") + "…"


class LinkedInPublisher(Publisher):
    """Posts as the organization (Page) whose administrator's token is configured."""

    name: ClassVar[str] = PLATFORM
    limits: ClassVar[Limits] = LIMITS
    credential_variables: ClassVar[tuple[str, ...]] = (TOKEN,)
    base_url_variable: ClassVar[str] = BASE_URL
    has_token_info: ClassVar[bool] = True

    def __init__(
        self,
        settings: LinkedInSettings,
        *,
        http: httpx.Client | None = None,
        timeout: float = 20.0,
        state: KeyValue | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.author = settings.author
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=timeout)
        self.api = LinkedInApi(settings, self.http, wall=wall)
        self.state: KeyValue = state if state is not None else Memory()
        self.wall = wall

    @classmethod
    def from_section(cls, section: LinkedInSettings | None, wiring: Wiring) -> LinkedInPublisher:
        if section is None:
            raise ConfigError(
                "linkedin is listed in PLATFORMS but LINKEDIN_ORGANIZATION_ID and "
                "LINKEDIN_ACCESS_TOKEN are not set",
                variable="LINKEDIN_ORGANIZATION_ID",
            )
        publisher = cls(section, http=wiring.http, timeout=wiring.timeout, state=wiring.state)
        publisher._own_http = wiring.http is None
        return publisher

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def verify(self) -> Account:
        """The Page's name when the token may read it (a Page admin's usually may); a token
        with only the posting scopes proves itself by listing the Page's posts instead, so a
        paused LinkedIn resumes as soon as its token works, whatever else it may read."""
        try:
            org = self.api.get(f"organizations/{self.settings.organization_id}")
        except AuthError as exc:
            if exc.variable != TOKEN or exc.code not in {"100", "403"}:
                raise
            self._list(0, 1)
            return Account(PLATFORM, self.author, self.author)
        name = org.get("localizedName") or org.get("vanityName")
        if not name:
            raise Transient(PLATFORM, "the organization was read without a name")
        return Account(PLATFORM, self.author, str(name))

    def account_url(self) -> str | None:
        return f"https://www.linkedin.com/company/{self.settings.organization_id}/"

    def access_lines(self) -> list[str]:
        """Finding a post after a crash lists the Page's posts (r_organization_social)."""
        try:
            self._list(0, 1)
        except PublishError as exc:
            return [f"cannot read the Page's posts ({exc.message}): after a crash, a post "
                    "is confirmed by hand (grant r_organization_social)"]  # fmt: skip
        return ["can read the Page's posts (finding a post after a crash works)"]

    # -- the token ---------------------------------------------------------------------------

    def token_info(self) -> TokenInfo:
        """LinkedIn tokens last 60 days and LinkedIn tells their expiry only to the app (with
        its secret): the bot notes when it first used this token and warns from that, so the
        date is the latest the token can last."""
        key = (
            "linkedin:token_first_used:"
            + hashlib.sha256(self.settings.access_token.reveal().encode()).hexdigest()[:16]
        )
        raw = self.state.get_meta(key)
        try:
            first = float(json.loads(raw)) if raw else None
        except (TypeError, ValueError):
            first = None
        if first is None:
            first = self.wall()
            self.state.set_meta(key, json.dumps(first))
        return TokenInfo(
            platform=PLATFORM,
            variable=TOKEN,
            is_valid=True,
            type=f"LinkedIn token ({TOKEN_DAYS} days; expiry counted from its first use here)",
            scopes=(),
            expires_at=first + TOKEN_DAYS * 86400,
            data_access_expires_at=None,
        )

    # -- checks ------------------------------------------------------------------------------

    @classmethod
    def offline_checks(cls, post: Post, http: httpx.Client) -> None:
        length = visible_length(post.text)
        if length > MAX_LENGTH:
            raise Rejected(
                PLATFORM, f"text too long: {length} characters, over LinkedIn's {MAX_LENGTH}"
            )

    def preflight(self, post: Post, pending: int = 0) -> None:
        self.offline_checks(post, self.http)
        self._thumbnail_image(post)

    # -- publishing --------------------------------------------------------------------------

    def publish(
        self,
        post: Post,
        checkpoint: Checkpoint | None = None,
        recovery: Mapping[str, str] | None = None,
    ) -> PublishResult:
        self.offline_checks(post, self.http)
        image = self._thumbnail_image(post)
        image_urn = (recovery or {}).get("image_urn") or (self._upload(image) if image else None)
        body = self._body(post, image_urn)
        if checkpoint is not None:  # the engine proves its lease right before the one write
            checkpoint({"image_urn": image_urn} if image_urn else {})
        response = self.api.post("posts", body)
        urn = response.headers.get("x-restli-id") or response.headers.get("x-linkedin-id")
        if not urn:
            raise Transient(PLATFORM, "the post was created without an x-restli-id header")
        return PublishResult(urn, post_url(urn))

    def _body(self, post: Post, image_urn: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "author": self.author,
            "commentary": escape(post.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        link = post.link or post.story_url
        if link:
            article: dict[str, Any] = {"source": link, "title": self._title(post, link)}
            description = _cut(post.parts.get("summary", ""), DESCRIPTION_MAX)
            if description:
                article["description"] = description
            if image_urn:
                article["thumbnail"] = image_urn
            body["content"] = {"article": article}
        elif image_urn:
            body["content"] = {"media": {"id": image_urn, "altText": (post.alt_text or "")[:300]}}
        return body

    @staticmethod
    def _title(post: Post, link: str) -> str:
        title = post.parts.get("title") or post.alt_text or ""
        return _cut(title, TITLE_MAX) or link.split("//", 1)[-1].split("/", 1)[0]

    def _thumbnail_image(self, post: Post) -> FittedImage | None:
        """The story image fitted as a thumbnail; None (a card without one) when unusable."""
        try:
            if post.image_data is not None:
                return fit_bytes(post.image_data, LINKEDIN_SPEC)
            if post.image_url:
                return fetch_fitted(self.http, post.image_url, LINKEDIN_SPEC)
        except ImageUnavailable as exc:
            if exc.transient:
                raise Transient(
                    PLATFORM, f"the image could not be read now: {exc.reason}"
                ) from None
            log.info("linkedin: posting without a thumbnail: %s", exc.reason)
        return None

    def _upload(self, image: FittedImage) -> str:
        """Images API: initializeUpload for the organization, then one PUT of the bytes."""
        answer = self.api.post(
            "images", {"initializeUploadRequest": {"owner": self.author}}, action="initializeUpload"
        )
        try:
            value = answer.json()["value"]
            upload_url, urn = str(value["uploadUrl"]), str(value["image"])
        except (ValueError, KeyError, TypeError):
            raise Transient(
                PLATFORM, "initializeUpload answered without uploadUrl and image"
            ) from None
        self.api.put_upload(upload_url, image.body, image.content_type)
        return urn

    # -- reconciliation ----------------------------------------------------------------------

    def _list(self, start: int, count: int) -> list[dict[str, Any]]:
        answer = self.api.get(
            "posts",
            {"q": "author", "author": self.author, "count": count, "start": start,
             "sortBy": "CREATED"},
        )  # fmt: skip
        elements = answer.get("elements")
        if not isinstance(elements, list):
            raise Transient(PLATFORM, "the posts listing answered without 'elements'")
        return [e for e in elements if isinstance(e, dict)]

    def find(
        self, post: Post, since: datetime, recovery: Mapping[str, str] | None = None
    ) -> PublishResult | None:
        link = post.link or post.story_url
        wanted = _norm(unescape(escape(post.text)))
        floor = (since.timestamp() - 60) * 1000
        for page in range(FIND_PAGES):
            elements = self._list(page * FIND_PAGE, FIND_PAGE)
            for item in elements:
                created = item.get("createdAt") or item.get("publishedAt")
                if isinstance(created, int | float) and created < floor:
                    return None  # newest first: everything further is older still
                source = ((item.get("content") or {}).get("article") or {}).get("source")
                text = _norm(unescape(str(item.get("commentary") or "")))
                if (link and _same_url(source, link)) or (wanted and text == wanted):
                    urn = str(item["id"])
                    return PublishResult(urn, post_url(urn))
            if len(elements) < FIND_PAGE:
                return None
        return None
