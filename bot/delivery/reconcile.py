"""Before anything is sent again, look: a delivery left in `sending` by a dead worker, or one
whose last attempt ended in an uncertain way (timeout, dropped connection), is first looked up
on the platform (`find`) and only sent again when the platform does not have it. A look-up never
decides by failing: its error leaves the delivery `unconfirmed` (see `Outcomes.lookup_failed`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from bot.delivery.leases import LeaseKeeper, fenced
from bot.delivery.outcomes import Outcomes
from bot.delivery.report import DeliveryReport, as_datetime, report_for
from bot.errors import PublishError, Transient
from bot.models import DeliveryStatus
from bot.platforms.base import Publisher
from bot.store import DeliveryRow
from bot.store.delivery_queue import DeliveryStore

log = logging.getLogger("bot.delivery")
S = DeliveryStatus
FIND_SLACK = 120.0  # look a little before the attempt: platform clocks and ours differ


class Reconciler:
    """Settles interrupted and uncertain attempts by looking them up on the platform."""

    def __init__(
        self,
        deliveries: DeliveryStore,
        outcomes: Outcomes,
        publishers: Mapping[str, Publisher],
        *,
        owner: str,
        lease: float,
        clock: Callable[[], float],
        stop: threading.Event,
        http_timeout: float,
        live: Callable[[Publisher], bool],
    ) -> None:
        self.deliveries = deliveries
        self.outcomes = outcomes
        self.publishers = publishers
        self.owner = owner
        self.lease = lease
        self.clock = clock
        self.stop = stop
        self.http_timeout = http_timeout
        self.live = live

    def reconcile(self) -> list[DeliveryReport]:
        """Settle every delivery left in `sending` by a dead worker before anything is re-sent."""
        reports: list[DeliveryReport] = []
        tried: set[int] = set()  # one look per row and pass; an undecided row waits its turn
        platforms = [name for name, p in self.publishers.items() if self.live(p)]
        while platforms and not self.stop.is_set():
            claimed = self.deliveries.claim_stale_sending(
                self.clock(),
                self.owner,
                self.lease,
                grace=self.http_timeout,
                platforms=platforms,
                limit=1 + len(tried),
            )
            rows = [r for r in claimed if r.id not in tried]
            self.deliveries.release([r for r in claimed if r.id in tried])
            if not rows:
                break
            tried.update(r.id for r in rows)
            for row in rows:
                publisher = self.publishers[row.platform]
                reports.append(fenced(self.deliveries, row, self._reconcile_one, publisher))
        return reports

    def _reconcile_one(self, publisher: Publisher, row: DeliveryRow) -> DeliveryReport:
        # Database times, never a worker's clock: the window covers the attempt however far
        # the clock of the worker that made it was off.
        since = (row.sending_since or row.first_attempt_at or row.created_at) - FIND_SLACK
        try:
            with LeaseKeeper(self.deliveries, row, self.lease):
                found = publisher.find(row.post, as_datetime(since), row.recovery)
        except PublishError as exc:
            # We cannot tell whether it went out: it waits, unconfirmed; never re-sent blindly.
            return self.outcomes.lookup_failed(publisher, row, exc)
        except Exception as exc:  # an adapter bug in a look-up decides nothing either
            log.exception(
                "unexpected error while looking up a post", extra={"platform": row.platform}
            )
            return self.outcomes.lookup_failed(publisher, row, Transient(row.platform, repr(exc)))
        now = self.clock()
        if found is not None:
            self.outcomes.commit(row, S.PUBLISHED, now, result=found, event_kind="reconciled")
            log.info(
                "interrupted post was found on the platform: marked published",
                extra={
                    "platform": row.platform,
                    "story": row.post.story_url,
                    "remote_url": found.remote_url,
                },
            )
            return report_for(
                row, S.PUBLISHED.value, remote_id=found.remote_id, remote_url=found.remote_url
            )
        self.outcomes.commit(
            row,
            S.QUEUED,
            now,
            reason="interrupted; not on the platform",
            uncertain=False,
            next_attempt_at=now,
            event_kind="requeued",
        )
        log.info(
            "interrupted post is not on the platform: queued again",
            extra={"platform": row.platform, "story": row.post.story_url},
        )
        return report_for(row, S.QUEUED.value)

    def settle_uncertain(self, publisher: Publisher, row: DeliveryRow) -> DeliveryReport | None:
        """After a timeout or dropped connection, the post may exist: look before re-sending.
        None when it is not there (the caller sends it)."""
        since = (row.first_attempt_at or row.created_at) - FIND_SLACK
        try:
            with LeaseKeeper(self.deliveries, row, self.lease):
                found = publisher.find(row.post, as_datetime(since), row.recovery)
        except PublishError as exc:
            return self.outcomes.lookup_failed(publisher, row, exc)
        except Exception as exc:  # an adapter bug in a look-up decides nothing either
            log.exception(
                "unexpected error while looking up a post", extra={"platform": row.platform}
            )
            return self.outcomes.lookup_failed(publisher, row, Transient(row.platform, repr(exc)))
        if found is None:
            return None
        self.outcomes.commit(row, S.PUBLISHED, self.clock(), result=found, event_kind="reconciled")
        log.info(
            "earlier attempt had gone through: marked published",
            extra={"platform": row.platform, "story": row.post.story_url},
        )
        return report_for(
            row, S.PUBLISHED.value, remote_id=found.remote_id, remote_url=found.remote_url
        )
