"""The fence around every platform call: a claimed row's lease, renewed while the call runs and
proven right before the one non-idempotent step. A worker that cannot prove it still holds the
row never sends; a step that finds its lease lost ends, logged, with nothing more written."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from bot.delivery.report import DeliveryReport, report_for
from bot.errors import LeaseLost
from bot.platforms.base import Checkpoint, Publisher
from bot.store import DeliveryRow
from bot.store.delivery_queue import DeliveryStore

log = logging.getLogger("bot.delivery")

Step = Callable[[Publisher, DeliveryRow], DeliveryReport]
"""One step on a claimed row (send, look up, record a refusal), ending in its report."""


def fenced(
    deliveries: DeliveryStore, row: DeliveryRow, step: Step, publisher: Publisher
) -> DeliveryReport:
    """Run one step on a claimed row; a lost lease ends it, logged, with nothing more sent."""
    try:
        return step(publisher, row)
    except LeaseLost as exc:
        log.warning(
            "lease lost: another worker holds this delivery now; dropped here without sending",
            extra={"platform": row.platform, "story": row.post.story_url, "why": str(exc)},
        )
        return report_for(deliveries.delivery(row.id))


class LeaseKeeper:
    """Renews a delivery's lease while a slow publish runs, so no other worker takes it over.

    A renewal that fails (the lease was taken over, or ran out during a pause, or the database
    could not be reached) sets `lost`, and the attempt's checkpoint stops before the platform
    call: a worker that cannot prove it still holds the row never sends.
    """

    def __init__(self, deliveries: DeliveryStore, row: DeliveryRow, lease: float) -> None:
        self.deliveries = deliveries
        self.row = row
        self.lease = lease
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def _run(self) -> None:
        while not self._done.wait(self.lease / 3):
            try:
                renewed = self.deliveries.renew_lease(self.row, self.lease)
            except Exception as exc:  # the store is down: the attempt cannot prove its lease
                log.warning(f"could not renew a delivery lease: {type(exc).__name__}")
                log.debug("the lease renewal's failure in full", exc_info=exc)
                renewed = False
            if not renewed:
                self.lost.set()
                log.warning(
                    "delivery lease lost: the attempt stops before its next platform call",
                    extra={"platform": self.row.platform, "delivery": self.row.id},
                )
                return

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost("the lease could not be renewed")

    def checkpoint(self, clock: Callable[[], float]) -> Checkpoint:
        """Called by the adapter right before its one non-idempotent step: persist its ids of
        the attempt (a media container) and prove the lease is still ours. A renewal that
        failed, or a lease taken over meanwhile (a pause, a stall), stops the attempt here,
        before anything is sent."""

        def checkpoint(handles: Mapping[str, str]) -> None:
            self.check()
            if not self.deliveries.save_recovery(self.row, handles, clock(), self.lease):
                self.lost.set()
                raise LeaseLost("the lease was lost before the platform call")

        return checkpoint

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)
