"""Instagram publisher (Instagram API with Facebook Login): container, then media_publish.

Only `media_publish` makes anything visible, so the container id is handed to the engine's
checkpoint before that step; after a crash `find`/`publish` read the container's status to tell
"already published" from "safe to publish" instead of guessing. A container Instagram is still
preparing is not waited for here: the attempt ends NotReady and the kept container is read
again at the next poll or tick (the two-step contract in `bot.platforms.base`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import ClassVar
from urllib.parse import urlsplit

import httpx

from bot.errors import ConfigError, PublishError, Rejected, Transient, Unsuitable
from bot.imaging.spec import SOURCE_MAX_BYTES, FittedImage, ImageSpec
from bot.models import Account, Limits, Post, PublishResult, TokenInfo
from bot.platforms.base import Checkpoint, Publisher, Wiring, container_not_ready
from bot.platforms.containers import HOSTED, ContainerAccount
from bot.platforms.graph import GraphApi, rule_for
from bot.platforms.hosting import ImageHost
from bot.platforms.images import (
    SOURCE_TYPES,
    ImageUnavailable,
    download_source,
    fit_bytes,
    fitted,
)
from bot.platforms.instagram import PLATFORM as SPEC
from bot.platforms.instagram.images import instagram_spec
from bot.platforms.instagram.settings import USER_ID_VARIABLE, InstagramSettings
from bot.platforms.media import ImageProblem, probe_image

log = logging.getLogger(__name__)

PLATFORM = SPEC.name
TOKEN_VARIABLE = SPEC.section.auth_variables[0]
_NOT_JPEG = {"png", "gif", "webp", "bmp", "tif", "tiff", "svg", "avif", "heic"}
_SUBCODE = re.compile(r"\b(2207\d{3})\b")
TitleCards = Callable[[str], FittedImage]


class InstagramPublisher(Publisher):
    """Publishes single-image posts; the image must be a public JPEG of at most 8 MiB."""

    name: ClassVar[str] = PLATFORM
    limits: ClassVar[Limits] = SPEC.limits
    credential_variables: ClassVar[tuple[str, ...]] = SPEC.section.auth_variables
    base_url_variable: ClassVar[str] = SPEC.section.base_url_variable

    def __init__(
        self,
        settings: InstagramSettings,
        *,
        http: httpx.Client | None = None,
        timeout: float = 20.0,
        host: ImageHost | None = None,
        spec: ImageSpec | None = None,
        title_cards: TitleCards | None = None,
    ) -> None:
        self.user_id = settings.user_id
        self.host = host
        self.spec = spec or instagram_spec()
        self.title_cards = title_cards
        self.limits = _limits(host is not None, title_cards is not None)
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=timeout)
        self.graph = GraphApi(
            platform=PLATFORM,
            base_url=settings.graph_base_url,
            version=settings.graph_version,
            token=settings.access_token,
            variable=TOKEN_VARIABLE,
            http=self.http,
        )
        self.media = ContainerAccount(
            PLATFORM,
            self.graph,
            self.user_id,
            media_edge="media",
            quota_edge="content_publishing_limit",
            text_field="caption",
            list_fields="id,caption,timestamp,permalink",
            status_fields=("status_code", "status"),
            since_filter=False,
        )

    @classmethod
    def limits_for(cls, wiring: Wiring) -> Limits:
        images = wiring.images
        return _limits(images.image_host is not None, images.title_card)

    @classmethod
    def from_section(cls, section: InstagramSettings | None, wiring: Wiring) -> InstagramPublisher:
        if section is None:
            raise ConfigError(
                f"instagram is listed in PLATFORMS but {USER_ID_VARIABLE} is not set",
                variable=USER_ID_VARIABLE,
            )
        images = wiring.images
        client = wiring.http or httpx.Client(timeout=wiring.timeout)
        cards: TitleCards | None = None
        if images.title_card:
            from bot.imaging.cards import CardStyle, TitleCardMaker

            cards = TitleCardMaker(CardStyle.from_settings(images)).render
        publisher = cls(
            section,
            http=client,
            timeout=wiring.timeout,
            host=wiring.image_host(PLATFORM, client),
            spec=instagram_spec(images.fit, images.pad, images.brand_color),
            title_cards=cards,
        )
        publisher._own_http = wiring.http is None
        return publisher

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    has_token_info: ClassVar[bool] = True

    def token_info(self) -> TokenInfo:
        return self.graph.debug_token()

    def verify(self) -> Account:
        me = self.graph.get(self.user_id, {"fields": "username"})
        if self.host is not None:
            self.host.check()  # a paused account resumes only once its image host works too
        return Account(
            PLATFORM, str(me.get("id") or self.user_id), "@" + self.graph.field(me, "username")
        )

    def account_url(self) -> str | None:
        return "https://www.instagram.com/" + self.verify().name.lstrip("@")

    # -- publishing -------------------------------------------------------------------------

    def publish(
        self,
        post: Post,
        checkpoint: Checkpoint | None = None,
        recovery: Mapping[str, str] | None = None,
    ) -> PublishResult:
        handles = recovery or {}
        container_id = handles.get("container_id")
        hosted = handles.get(HOSTED)
        if handles.get("media_id"):  # an earlier attempt published and we kept its media id
            self._discard(hosted)
            return self.media.known(handles["media_id"], container_id)
        code = status = ""
        if container_id:  # a kept container: where is it now?
            code, status = self.media.status(container_id)
            if code == "PUBLISHED":
                self._discard(hosted)
                return self.media.published(post.text, container_id, None)
            if code == "ERROR":
                failure = self._container_error(container_id, status)
                if not isinstance(failure, Transient):
                    self._discard(hosted)
                    raise failure  # the media itself was refused: a clear rejection
            if code not in {"FINISHED", "IN_PROGRESS"}:
                container_id = None  # expired, or failed for a passing reason: a fresh one
                self._discard(hosted)
                hosted = None
        if not container_id:
            self._check_text(post)
            image_url, hosted = self._image_url(post)
            try:
                self.media.check_quota()
                container_id = self._create_container(post, image_url)
                if checkpoint is not None:
                    checkpoint(
                        {"container_id": container_id, **({HOSTED: hosted} if hosted else {})}
                    )
            except BaseException:
                self._discard(hosted)
                raise
            code, status = self.media.status(container_id)
            if code in {"ERROR", "EXPIRED"}:
                self._discard(hosted)  # a retry makes a new container with a new copy
                if code == "EXPIRED":
                    raise Transient(PLATFORM, f"container {container_id} expired: {status}")
                raise self._container_error(container_id, status)
        if code != "FINISHED":  # never waited for here: read again at the next poll or tick
            raise container_not_ready(PLATFORM, container_id, code or status)
        if handles.get("container_id") == container_id:
            self.media.check_quota()  # a kept container: the quota may have filled meanwhile
        if checkpoint is not None:  # the engine proves its lease right before the one publish
            checkpoint({"container_id": container_id, **({HOSTED: hosted} if hosted else {})})
        answer = self.graph.post(f"{self.user_id}/media_publish", {"creation_id": container_id})
        media_id = self.graph.field(answer, "id")
        if checkpoint is not None:
            try:  # then the media id: a later look-up reads it instead of searching captions
                checkpoint({"container_id": container_id, "media_id": media_id})
            except Exception as exc:  # it is out: the result is returned whatever happens
                log.warning("instagram: published %s; could not keep its id: %s", media_id, exc)
        self._discard(hosted)
        return self.media.known(media_id, container_id)

    def _discard(self, hosted: str | None) -> None:
        if self.host is not None:
            self.host.discard(hosted)

    def _image_url(self, post: Post, *, dry: bool = False) -> tuple[str, str | None]:
        """The public URL Instagram will fetch, and the hosted copy's handle if one was made.

        Without IMAGE_HOST the story's own image is used when it already holds Instagram's
        rules; with one, a fitted copy is always hosted (it also strips the photo's metadata).
        A story without a usable image gets a title card when IG_TITLE_CARD is on.
        """
        image: FittedImage | None = None
        reason = "the story has no image"
        if post.image_data is not None:  # a person's own file: only a hosted copy can go
            try:
                image = fit_bytes(post.image_data, self.spec)
            except ImageUnavailable as exc:
                reason = exc.reason
            if self.host is None:
                reason = "a picture given as a file needs IMAGE_HOST=facebook or s3 to be hosted"
        elif post.image_url:
            try:
                source = download_source(self.http, post.image_url)
                if self.host is None:
                    reason = source.misfit(self.spec) or ""
                    if not reason:
                        return source.file.url or post.image_url, None
                    reason = f"{reason}; set IMAGE_HOST=facebook or s3 to post a fitted copy"
                else:
                    image = fitted(source, self.spec)
            except ImageUnavailable as exc:
                if exc.transient:
                    raise Transient(
                        PLATFORM, f"image unusable for Instagram: {exc.reason}"
                    ) from None
                reason = exc.reason
        if image is None and self.title_cards is not None and self.host is not None:
            image = self.title_cards(post.parts.get("title") or post.alt_text or post.text)
        if image is None or self.host is None:
            raise Unsuitable(PLATFORM, f"image unusable for Instagram: {reason}")
        if dry:  # a dry run's check: the copy would be hosted, nothing is uploaded
            return "", None
        copy = self.host.put(image)
        return copy.url, copy.handle

    def preflight(self, post: Post, pending: int = 0) -> None:
        self._check_text(post)
        self._image_url(post, dry=True)  # the live run's image checks, nothing hosted
        self.media.check_quota(pending)

    @classmethod
    def offline_checks(cls, post: Post, http: httpx.Client) -> None:
        """What needs no credentials: the caption's length and the image (type, size).

        Used by a dry run without credentials (the demo, a first try): when the image host
        cannot be reached now, a live run would try again later, so the verdict falls back on
        what the URL itself says (a .png, .gif or .webp is not a JPEG) instead of "deferred".
        """
        cls._check_text(post)
        try:
            probe_image(
                http,
                post.image_url,
                max_bytes=cls.limits.max_image_bytes,
                types=cls.limits.image_types,
            )
        except ImageProblem as exc:
            unreachable = exc.transient or exc.reason.startswith("refused: ")  # DNS, network
            if not unreachable:
                raise Unsuitable(PLATFORM, f"image unusable for Instagram: {exc.reason}") from None
            suffix = urlsplit(post.image_url or "").path.lower().rsplit(".", 1)[-1]
            if suffix in _NOT_JPEG:
                raise Unsuitable(
                    PLATFORM, f"image unusable for Instagram: a .{suffix} image is not a JPEG"
                ) from None
            log.info("instagram: the image could not be checked now: %s", post.image_url)

    @classmethod
    def _check_text(cls, post: Post) -> None:
        if len(post.text) > cls.limits.max_length:
            raise Rejected(
                PLATFORM,
                f"caption too long: {len(post.text)} characters, over Instagram's "
                f"{cls.limits.max_length}",
            )

    def _create_container(self, post: Post, image_url: str) -> str:
        form = {"image_url": image_url, "caption": post.text}
        if post.alt_text:
            form["alt_text"] = post.alt_text
        return self.graph.field(self.graph.post(f"{self.user_id}/media", form), "id")

    @staticmethod
    def _container_error(container_id: str, status: str) -> PublishError:
        match = _SUBCODE.search(status)
        rule = rule_for(None, int(match.group(1))) if match else None
        message = f"Instagram could not prepare the media of container {container_id}: {status}"
        code = match.group(1) if match else None
        if rule is not None and rule.kind in {Transient, Unsuitable}:
            return rule.kind(PLATFORM, message, code=code)
        return Rejected(PLATFORM, message, code=code)

    # -- reconciliation ---------------------------------------------------------------------

    def find(
        self, post: Post, since: datetime, recovery: Mapping[str, str] | None = None
    ) -> PublishResult | None:
        return self.media.find(post.text, since, recovery, self._discard)


def _limits(hosting: bool, title_cards: bool) -> Limits:
    """With an image host, any common image (or a person's file) can be fitted and hosted; with
    title cards, a story without an image goes out too."""
    limits = InstagramPublisher.limits
    if hosting:
        limits = replace(
            limits, image_url_only=False, image_types=SOURCE_TYPES, max_image_bytes=SOURCE_MAX_BYTES
        )
    if title_cards:
        limits = replace(limits, requires_image=False)
    return limits
