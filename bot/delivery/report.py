"""What happened to one delivery in a run, as `poll` and `post` print it (JSON Lines)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.errors import AuthError, PublishError, Rejected, Unsuitable
from bot.models import DeliveryStatus
from bot.store import DeliveryRow

S = DeliveryStatus
WAITING = (S.UNCONFIRMED, S.NEEDS_ATTENTION)
"""Attempts whose outcome is not known yet: looked up again before anything is re-sent."""


@dataclass
class DeliveryReport:
    """What happened to one delivery in a run: the JSON Lines record of `poll` and `post`."""

    delivery_id: int | None
    platform: str
    story_url: str | None
    status: str
    text: str
    link: str | None
    image_url: str | None
    remote_id: str | None = None
    remote_url: str | None = None
    error: str | None = None
    next_attempt_at: float | None = None
    title: str | None = None
    note: str | None = None
    """For a person: what a manual post's line means (scheduled, or made earlier)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "delivery_id": self.delivery_id,
            "platform": self.platform,
            "story_url": self.story_url,
            "status": self.status,
            "text": self.text,
            "link": self.link,
            "image_url": self.image_url,
            "remote_id": self.remote_id,
            "remote_url": self.remote_url,
            "error": self.error,
            "next_attempt_at": iso(self.next_attempt_at),
            "note": self.note,
        }


def report_for(row: DeliveryRow, status: str | None = None, **changes: object) -> DeliveryReport:
    status = status or row.status
    report = DeliveryReport(
        delivery_id=row.id,
        platform=row.platform,
        story_url=row.post.story_url,
        status=status,
        text=row.post.text,
        link=row.post.link,
        image_url=row.post.image_url,
        remote_id=row.remote_id,
        remote_url=row.remote_url,
        # A row's reason and retry time describe its state before this attempt: carry them
        # only while the delivery is still unsent (a published report has no error).
        error=row.reason
        if status in (S.FAILED, S.DEFERRED, S.SKIPPED, S.SENDING, *WAITING)
        else None,
        next_attempt_at=row.next_attempt_at if status in (S.DEFERRED, *WAITING) else None,
        title=row.post.parts.get("title"),
    )
    for key, value in changes.items():
        setattr(report, key, value)
    return report


def verdict(exc: PublishError) -> DeliveryStatus:
    """What a live run records when a check before sending refuses (for dry runs, previews)."""
    if isinstance(exc, Unsuitable):
        return S.SKIPPED
    if isinstance(exc, Rejected):
        return S.FAILED
    if isinstance(exc, AuthError):
        return S.QUEUED
    return S.DEFERRED


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def as_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
