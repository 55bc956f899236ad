"""What Instagram and Threads share once a container exists: its status, the account's rolling
24-hour publishing quota, the permalink of a post that went out, and finding such a post again.

Both networks publish in two steps (a container, then a publish call that makes it visible), so
after a crash the question "did it go out?" is answered the same way on both: by the media id
kept right after publishing, else by the container's status, else by the post's text among the
account's latest posts (newest first, stopping at what is older than the attempt). Only the
names differ (edges, fields), and they are this class's fields; each adapter keeps what is its
own: how a container is made and what its failures mean.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.errors import PublishError, RateLimited
from bot.models import PublishResult
from bot.platforms.graph import GraphApi

log = logging.getLogger(__name__)

QUOTA_RETRY_AFTER = 3600.0
"""The quota is a rolling 24 h window and Meta does not say when the oldest post leaves it:
checking again in an hour costs one cheap read and never waits a whole day needlessly."""
HOSTED = "hosted_image"
"""Recovery handle: the hosted copy of the image, removed once the post is out."""
_SLACK = 60
"""Seconds a listed post's timestamp may precede the attempt (clocks differ a little)."""


def same_text(text: str | None) -> str:
    """A post's text as compared when searching: NFC, whitespace runs as one space (the
    networks trim and fold whitespace)."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def graph_time(stamp: str | None) -> float | None:
    """Epoch seconds of a Graph timestamp ("2026-12-05T10:00:00+0000"), None when unreadable."""
    try:
        return datetime.strptime(stamp or "", "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class ContainerAccount:
    """One account's container endpoints on Instagram's or Threads' Graph API."""

    platform: str
    api: GraphApi
    user_id: str
    media_edge: str
    """The account's posts: "media" (Instagram), "threads" (Threads)."""
    quota_edge: str
    """"content_publishing_limit" (Instagram), "threads_publishing_limit" (Threads)."""
    text_field: str
    """A listed post's text: "caption" (Instagram), "text" (Threads)."""
    list_fields: str
    status_fields: tuple[str, str]
    """The container's state and its explanation, as each network names them."""
    since_filter: bool
    """Whether the listing takes `since` (Threads' does; Instagram's media edge does not)."""

    def status(self, container_id: str) -> tuple[str, str]:
        state, detail = self.status_fields
        answer = self.api.get(container_id, {"fields": f"{state},{detail}"})
        return str(answer.get(state, "")), str(answer.get(detail, ""))

    def check_quota(self, pending: int = 0) -> None:
        """RateLimited when the posts of the last 24 h plus `pending` reach the quota."""
        answer = self.api.get(f"{self.user_id}/{self.quota_edge}", {"fields": "quota_usage,config"})
        entries = self.api.items(answer) or [{}]
        usage = entries[0].get("quota_usage")
        total = (entries[0].get("config") or {}).get("quota_total")
        if isinstance(usage, int) and isinstance(total, int) and usage + pending >= total:
            raise RateLimited(
                self.platform,
                f"publishing quota spent: {usage + pending} of {total} posts in the last 24 hours",
                retry_after=QUOTA_RETRY_AFTER,
                code="quota",
            )

    def permalink(self, media_id: str) -> str | None:
        """Best effort: the post is already out, so a failed read only costs the URL."""
        try:
            return self.api.get(media_id, {"fields": "permalink"}).get("permalink")
        except PublishError as exc:
            log.warning(
                "%s: published %s but could not read its permalink: %s",
                self.platform,
                media_id,
                exc,
            )
            return None

    def known(self, media_id: str, container_id: str | None) -> PublishResult:
        return PublishResult(media_id, self.permalink(media_id), container_id)

    def find(
        self,
        text: str,
        since: datetime,
        recovery: Mapping[str, str] | None,
        discard: Callable[[str | None], None],
    ) -> PublishResult | None:
        """The post of an attempt that may have gone out, None when it did not (yet)."""
        handles = recovery or {}
        container_id = handles.get("container_id")
        if handles.get("media_id"):
            return self.known(handles["media_id"], container_id)
        if container_id:
            state, _ = self.status(container_id)
            if state != "PUBLISHED":
                return None  # FINISHED or IN_PROGRESS: not out yet; ERROR/EXPIRED: never out
            discard(handles.get(HOSTED))
            return self.published(text, container_id, since)
        return self.search(text, since.timestamp())

    def published(self, text: str, container_id: str, since: datetime | None) -> PublishResult:
        """A container that says PUBLISHED: its post, or the container id when the post is not
        among the latest (the delivery is out either way and must never be sent again)."""
        found = self.search(text, since.timestamp() if since else None)
        if found is not None:
            return PublishResult(found.remote_id, found.remote_url, container_id)
        log.warning(
            "%s: container %s is PUBLISHED but its post is not among the latest; "
            "recording the container id instead",
            self.platform,
            container_id,
        )
        return PublishResult(container_id, None, container_id)

    def search(self, text: str, since: float | None) -> PublishResult | None:
        """The newest post of the account with this text, not older than `since`."""
        params: dict[str, str | int] = {"fields": self.list_fields, "limit": 100}
        if since is not None and self.since_filter:
            params["since"] = int(since) - _SLACK
        wanted = same_text(text)
        for item in self.api.listing(f"{self.user_id}/{self.media_edge}", params):
            stamp = graph_time(item.get("timestamp"))
            if since is not None and stamp is not None and stamp < since - _SLACK:
                break  # newest first: everything further is older still
            if same_text(item.get(self.text_field)) == wanted:
                return PublishResult(str(item["id"]), item.get("permalink"))
        return None
