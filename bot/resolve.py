"""`resolve ID`: a person settles a delivery whose outcome the bot could not confirm.

After a lost answer the bot looks the post up on the platform; when those look-ups keep failing
(an X plan that cannot read its own timeline, an outage) the delivery waits as `unconfirmed` and
then `needs_attention`, and `status` names the account to check. Whoever checked tells the bot:
`--published URL` records it as published (nothing is sent), `--not-published` queues it again
(the next cycle sends it, without another look-up). The row is claimed like any delivery, so a
worker busy with it at that moment is never overruled.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.exc import NoResultFound

from bot.errors import ConfigError
from bot.models import DeliveryStatus, PublishResult
from bot.store import worker_id
from bot.store.delivery_queue import DeliveryStore

S = DeliveryStatus
RESOLVABLE = (S.UNCONFIRMED, S.NEEDS_ATTENTION, S.SENDING, S.DEFERRED, S.FAILED, S.QUEUED)
"""Statuses a person may settle; queued, deferred and failed only when an attempt may be out."""
LEASE = 60.0


@dataclass(frozen=True)
class Resolution:
    delivery_id: int
    platform: str
    story_url: str | None
    status: str
    remote_url: str | None

    def line(self) -> str:
        where = f"{self.platform}, {self.story_url or 'no link'}"
        if self.status == S.PUBLISHED:
            return (
                f"delivery {self.delivery_id} ({where}): recorded as published at {self.remote_url}"
            )
        return (
            f"delivery {self.delivery_id} ({where}): queued again; the next cycle posts it "
            "without looking it up"
        )


def resolve_delivery(
    deliveries: DeliveryStore,
    delivery_id: int,
    *,
    published_url: str | None,
    now: float | None = None,
) -> Resolution:
    """Settle one delivery; raises ConfigError (exit 2) naming what is wrong."""
    now = time.time() if now is None else now
    if published_url is not None:
        parts = urlsplit(published_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"--published {published_url!r} is not the post's http(s) URL; "
                "use e.g. https://x.com/jckmagazine/status/1900000000000000001"
            )
    try:
        current = deliveries.delivery(delivery_id)
    except NoResultFound:
        raise ConfigError(
            f"there is no delivery {delivery_id}; `status` lists those to settle"
        ) from None
    if current.status not in RESOLVABLE or (
        current.status in (S.QUEUED, S.DEFERRED, S.FAILED) and not current.uncertain
    ):
        raise ConfigError(
            f"delivery {delivery_id} is {current.status} and no attempt of it is in doubt: "
            "there is nothing to resolve"
        )
    row = deliveries.claim_delivery(delivery_id, worker_id(), LEASE, [s.value for s in RESOLVABLE])
    if row is None:
        raise ConfigError(
            f"delivery {delivery_id} is being handled by a worker right now; try again in a minute"
        )
    if published_url is not None:
        remote_id = urlsplit(published_url).path.rstrip("/").rsplit("/", 1)[-1] or published_url
        result = PublishResult(remote_id, published_url)
        done = deliveries.finish(
            row,
            S.PUBLISHED,
            now,
            result=result,
            reason="confirmed published by a person (resolve)",
            event_kind="resolved",
        )
        status = S.PUBLISHED
    else:
        done = deliveries.finish(
            row,
            S.QUEUED,
            now,
            reason="confirmed not published by a person (resolve)",
            uncertain=False,
            next_attempt_at=now,
            event_kind="resolved",
        )
        status = S.QUEUED
    if not done:
        raise ConfigError(f"delivery {delivery_id} was taken by a worker meanwhile; try again")
    return Resolution(row.id, row.platform, row.post.story_url, status.value, published_url)
