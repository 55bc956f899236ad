"""Threads publisher: a container, then `threads_publish`, with the container id kept first.

Only `threads_publish` makes anything visible (and charges the quota), so the container id is
handed to the engine's checkpoint before that step; after a crash `find` and `publish` read the
container's status to tell "already published" from "safe to publish". A container that is
not ready yet is never waited for here: the attempt ends as "not ready" and the same
container is read again at the next tick. A story with a usable image goes out as an image
post (the image through IMAGE_HOST when one is set); otherwise as a text post whose link
attachment gives the preview card Meta builds from the page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import ClassVar

import httpx

from bot.errors import ConfigError, PublishError, Rejected, Transient
from bot.imaging.spec import SOURCE_MAX_BYTES, FittedImage, ImageSpec
from bot.models import Account, Limits, Post, PublishResult, TokenInfo
from bot.platforms.base import Checkpoint, Publisher, Wiring, container_not_ready
from bot.platforms.containers import HOSTED, ContainerAccount
from bot.platforms.hosting import ImageHost
from bot.platforms.images import SOURCE_TYPES, ImageUnavailable, download_source, fit_bytes, fitted
from bot.platforms.state import KeyValue
from bot.platforms.threads import LIMITS
from bot.platforms.threads.api import PLATFORM, ThreadsApi
from bot.platforms.threads.settings import API_VERSION, BASE_URL, TOKEN, ThreadsSettings
from bot.platforms.threads.text import (
    MAX_LENGTH,
    MAX_LINKS,
    first_url,
    threads_length,
    unique_links,
)
from bot.platforms.threads.token import TokenKeeper

log = logging.getLogger(__name__)

FIND_FIELDS = "id,text,timestamp,permalink,shortcode,media_type,link_attachment_url"
THREADS_SPEC = ImageSpec(
    "Threads",
    ("image/jpeg", "image/png"),
    8 * 1024 * 1024,
    max_width=1440,
    max_height=1440 * 10,
    min_width=320,
    min_aspect=0.1,
    max_aspect=10.0,
)
"""Threads images: JPEG or PNG, at most 8 MB, 320 to 1440 px wide, aspect within 10:1."""


class ThreadsPublisher(Publisher):
    """Posts to the Threads profile whose long-lived token is configured."""

    name: ClassVar[str] = PLATFORM
    limits: ClassVar[Limits] = LIMITS
    credential_variables: ClassVar[tuple[str, ...]] = (TOKEN,)
    base_url_variable: ClassVar[str] = BASE_URL
    has_token_info: ClassVar[bool] = True

    def __init__(
        self,
        settings: ThreadsSettings,
        *,
        http: httpx.Client | None = None,
        timeout: float = 20.0,
        host: ImageHost | None = None,
        state: KeyValue | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.user_id = settings.user_id
        self.host = host
        if host is not None:
            self.limits = _hosted_limits()  # type: ignore[misc]
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=timeout)
        self.wall = wall
        self.tokens = TokenKeeper(settings.access_token, state)
        self.api = ThreadsApi(
            base_url=settings.base_url,
            version=API_VERSION,
            token=self.tokens.live(),  # a refresh by any worker is used by every worker
            variable=TOKEN,
            http=self.http,
        )
        self.media = ContainerAccount(
            PLATFORM,
            self.api,
            self.user_id,
            media_edge="threads",
            quota_edge="threads_publishing_limit",
            text_field="text",
            list_fields=FIND_FIELDS,
            status_fields=("status", "error_message"),
            since_filter=True,
        )

    @classmethod
    def limits_for(cls, wiring: Wiring) -> Limits:
        return _hosted_limits() if wiring.images.image_host is not None else cls.limits

    @classmethod
    def from_section(cls, section: ThreadsSettings | None, wiring: Wiring) -> ThreadsPublisher:
        if section is None:
            raise ConfigError(
                "threads is listed in PLATFORMS but THREADS_USER_ID and THREADS_ACCESS_TOKEN "
                "are not set",
                variable="THREADS_USER_ID",
            )
        client = wiring.http or httpx.Client(timeout=wiring.timeout)
        publisher = cls(
            section,
            http=client,
            timeout=wiring.timeout,
            host=wiring.image_host(PLATFORM, client),
            state=wiring.state,
        )
        publisher._own_http = wiring.http is None
        return publisher

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def verify(self) -> Account:
        me = self.api.get(self.user_id, {"fields": "id,username"})
        if self.host is not None:
            self.host.check()  # a paused account resumes only once its image host works too
        return Account(PLATFORM, self.api.field(me, "id"), "@" + self.api.field(me, "username"))

    def account_url(self) -> str | None:
        return "https://www.threads.com/" + self.verify().name

    # -- the token ---------------------------------------------------------------------------

    def token_info(self) -> TokenInfo:
        """Refresh the long-lived token (60 days again) and say until when it lasts. Called
        once a day by the worker and by `check`: a token refreshed daily never expires; when
        refreshing fails, the expiry known from the last refresh still warns in time."""
        now = self.wall()
        try:
            fresh = self.api.refresh_token(now)
        except PublishError as exc:
            known = self.tokens.expires_at()
            if known is None:
                raise
            log.warning("threads: the token could not be refreshed: %s", exc.message)
            return self._info(known)
        self.tokens.keep(fresh.token, fresh.expires_at)
        return self._info(fresh.expires_at)

    @staticmethod
    def _info(expires_at: float) -> TokenInfo:
        return TokenInfo(
            platform=PLATFORM,
            variable=TOKEN,
            is_valid=True,
            type="long-lived Threads user token (refreshed daily)",
            scopes=(),
            expires_at=expires_at,
            data_access_expires_at=None,
        )

    # -- checks ----------------------------------------------------------------------------

    @classmethod
    def offline_checks(cls, post: Post, http: httpx.Client) -> None:
        """What needs no credentials: the text as Threads counts it, and its links."""
        length = threads_length(post.text)
        if length > MAX_LENGTH:
            raise Rejected(
                PLATFORM,
                f"text too long: {length} counted as Threads counts (UTF-8 bytes), over its "
                f"{MAX_LENGTH}",
            )
        links = unique_links(post.text, _attachment(post))
        if len(links) > MAX_LINKS:
            raise Rejected(PLATFORM, f"{len(links)} links, over Threads' {MAX_LINKS} a post")

    def preflight(self, post: Post, pending: int = 0) -> None:
        self.offline_checks(post, self.http)
        self._image_url(post, dry=True)
        self.media.check_quota(pending)

    # -- publishing ------------------------------------------------------------------------

    def publish(
        self,
        post: Post,
        checkpoint: Checkpoint | None = None,
        recovery: Mapping[str, str] | None = None,
    ) -> PublishResult:
        handles = dict(recovery or {})
        if handles.get("media_id"):  # an earlier attempt published and kept its media id
            self._discard(handles.get(HOSTED))
            return self.media.known(handles["media_id"], handles.get("container_id"))
        container_id, hosted = handles.get("container_id"), handles.get(HOSTED)
        status = ""
        if container_id:
            status, message = self.media.status(container_id)
            if status == "PUBLISHED":
                self._discard(hosted)
                return self.media.published(post.text, container_id, None)
            if status == "ERROR" and message != "UNKNOWN":
                self._discard(hosted)
                raise _container_failed(container_id, message)
            if status not in {"FINISHED", "IN_PROGRESS"}:
                self._discard(hosted)  # expired (or an UNKNOWN failure): a fresh container
                container_id = hosted = None
        if not container_id:
            self.offline_checks(post, self.http)
            self.media.check_quota()
            image_url, hosted = self._image_url(post)
            try:
                container_id = self._create(post, image_url)
                if checkpoint is not None:
                    checkpoint(_handles(container_id, hosted))
            except BaseException:
                self._discard(hosted)
                raise
            status, message = self.media.status(container_id)
            if status in {"ERROR", "EXPIRED"}:
                self._discard(hosted)
                if status == "ERROR" and message != "UNKNOWN":
                    raise _container_failed(container_id, message)
                raise Transient(PLATFORM, f"container {container_id} {status}: {message}")
        else:
            self.media.check_quota()
        if status != "FINISHED":  # read again at the next poll or tick; never a sleep
            raise container_not_ready(PLATFORM, container_id, status)
        if checkpoint is not None:  # the engine proves its lease right before the one publish
            checkpoint(_handles(container_id, hosted))
        media_id = self._publish(post, container_id)
        if checkpoint is not None:
            try:  # then the media id: a later look-up reads it instead of searching texts
                checkpoint({"container_id": container_id, "media_id": media_id})
            except Exception as exc:  # it is out: the result is returned whatever happens
                log.warning("threads: published %s; could not keep its id: %s", media_id, exc)
        self._discard(hosted)
        return self.media.known(media_id, container_id)

    def _publish(self, post: Post, container_id: str) -> str:
        try:
            answer = self.api.post(f"{self.user_id}/threads_publish", {"creation_id": container_id})
        except PublishError:
            # Meta has answered errors (5xx, code 10) for publishes that went through: the
            # container says which; a PUBLISHED one must never be published again.
            try:
                status, _ = self.media.status(container_id)
            except PublishError:
                status = ""
            if status == "PUBLISHED":
                found = self.media.published(post.text, container_id, None)
                return found.remote_id
            raise
        return self.api.field(answer, "id")

    def _create(self, post: Post, image_url: str | None) -> str:
        form: dict[str, str] = {"text": post.text}
        if image_url:
            form["media_type"] = "IMAGE"
            form["image_url"] = image_url
            if post.alt_text:
                form["alt_text"] = post.alt_text[:1000]
        else:
            form["media_type"] = "TEXT"
            attachment = _attachment(post)
            if attachment:
                form["link_attachment"] = attachment
        return self.api.field(self.api.post(f"{self.user_id}/threads", form), "id")

    def _image_url(self, post: Post, *, dry: bool = False) -> tuple[str | None, str | None]:
        """The public URL Threads will fetch (and the hosted copy's handle), or None for a text
        post: an unusable image costs the picture, never the post."""
        image: FittedImage | None = None
        try:
            if post.image_data is not None:  # a person's own file: only a hosted copy can go
                if self.host is None:
                    log.info("threads: a picture given as a file needs IMAGE_HOST; text post")
                    return None, None
                image = fit_bytes(post.image_data, THREADS_SPEC)
            elif post.image_url:
                source = download_source(self.http, post.image_url)
                if self.host is None:
                    reason = source.misfit(THREADS_SPEC)
                    if reason:
                        log.info("threads: image unusable (%s); posting text with a link", reason)
                        return None, None
                    return source.file.url or post.image_url, None
                image = fitted(source, THREADS_SPEC)
        except ImageUnavailable as exc:
            if exc.transient:
                reason = f"the image could not be read now: {exc.reason}"
                raise Transient(PLATFORM, reason) from None
            log.info("threads: image unusable (%s); posting text with a link", exc.reason)
            return None, None
        if image is None or self.host is None:
            return None, None
        if dry:  # a dry run's check: the copy would be hosted, nothing is uploaded
            return "", None
        copy = self.host.put(image)
        return copy.url, copy.handle

    def _discard(self, hosted: str | None) -> None:
        if self.host is not None:
            self.host.discard(hosted)

    # -- reconciliation ---------------------------------------------------------------------

    def find(
        self, post: Post, since: datetime, recovery: Mapping[str, str] | None = None
    ) -> PublishResult | None:
        return self.media.find(post.text, since, recovery, self._discard)


def _attachment(post: Post) -> str | None:
    """The link whose preview card a text post shows: the post's own link, else the first URL
    written in the text (the one with the UTM tags, so the card and the text count as one
    link), else the story's."""
    if post.link:
        return post.link
    written = first_url(post.text)
    return written or post.story_url


def _container_failed(container_id: str, message: str) -> Rejected:
    """A container Threads could not prepare (its media): a clear refusal, not a retry loop."""
    return Rejected(
        PLATFORM, f"container {container_id} failed: {message or 'no error_message'}",
        code=message or None,
    )  # fmt: skip


def _handles(container_id: str, hosted: str | None) -> dict[str, str]:
    return {"container_id": container_id, **({HOSTED: hosted} if hosted else {})}


def _hosted_limits() -> Limits:
    """With an image host, any common image (or a person's file) is fitted and hosted."""
    return replace(
        ThreadsPublisher.limits,
        image_url_only=False,
        image_types=SOURCE_TYPES,
        max_image_bytes=SOURCE_MAX_BYTES,
    )
