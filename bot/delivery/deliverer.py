"""Draining the queue: platform by platform, each in its own thread, one claimed post at a time,
under the pacing and budgets in force when sending."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from bot.budget import Budget
from bot.delivery.leases import LeaseKeeper, fenced
from bot.delivery.outcomes import Outcomes
from bot.delivery.reconcile import Reconciler
from bot.delivery.report import DeliveryReport, iso, report_for
from bot.delivery.spend import SpendGuard
from bot.errors import AuthError, LeaseLost, PublishError, RateLimited, Rejected, Transient
from bot.models import DeliveryStatus, Post, PublishResult
from bot.pacing import Pacing
from bot.platforms.base import Publisher
from bot.progress import Progress
from bot.store import DeliveryRow
from bot.store.delivery_queue import DeliveryStore
from bot.store.media import MediaStore, media_digest
from bot.store.platform_state import PAUSED_BY_HAND, PlatformStore
from bot.store.spend import SpendStore

log = logging.getLogger("bot.delivery")
S = DeliveryStatus
DRY_BATCH = 100


class Deliverer:
    """Drains due deliveries, platform by platform, each in its own thread.

    It works with the narrow stores it needs and nothing more: the deliveries (claims, leases,
    outcomes), the platforms' state (pauses, holds, pacing history), the spend (budgets) and the
    media kept for a person's own pictures.
    """

    def __init__(
        self,
        publishers: Mapping[str, Publisher],
        *,
        deliveries: DeliveryStore,
        platforms: PlatformStore,
        spend: SpendStore,
        media: MediaStore,
        owner: str,
        pacing: Pacing,
        retry_base: float,
        max_attempts: int,
        lease: float,
        clock: Callable[[], float],
        rng: Callable[[], float],
        credential_hint: Callable[[str], str],
        stop: threading.Event | None = None,
        budgets: Mapping[str, Budget] | None = None,
        http_timeout: float = 20.0,
    ) -> None:
        self.deliveries = deliveries
        self.platforms = platforms
        self.media = media
        self.publishers = dict(publishers)
        self.owner = owner
        self.pacing = pacing
        self.lease = lease
        self.clock = clock
        self.stop = stop or threading.Event()
        self.progress = Progress()
        """Told of each delivery finished (`poll` on a terminal counts the posts sent)."""
        self.budgets = dict(budgets or {})
        self.outcomes = Outcomes(
            deliveries,
            platforms,
            retry_base=retry_base,
            max_attempts=max_attempts,
            clock=clock,
            rng=rng,
            credential_hint=credential_hint,
        )
        self.reconciler = Reconciler(
            deliveries,
            self.outcomes,
            self.publishers,
            owner=owner,
            lease=lease,
            clock=clock,
            stop=self.stop,
            # A row left in `sending` is looked up only this long after its lease ran out: a
            # call its old owner started just before may still land until then.
            http_timeout=http_timeout,
            live=lambda p: not _is_dry(p),
        )
        self.spend = SpendGuard(spend, deliveries, platforms, clock)

    def reconcile(self) -> list[DeliveryReport]:
        """Settle every delivery left in `sending` by a dead worker before anything is re-sent."""
        return self.reconciler.reconcile()

    # --- draining ----------------------------------------------------------------------------

    def drain(self, only_ids: Sequence[int] | None = None) -> list[DeliveryReport]:
        """Send what is due on every platform, concurrently, so one slow platform delays none."""
        names = list(self.publishers)
        if len(names) <= 1 or all(_is_dry(p) for p in self.publishers.values()):
            # Dry runs wait on nothing but the database: threads would only queue for it.
            return [r for name in names for r in self.drain_platform(name, only_ids)]
        with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="drain") as pool:
            results = list(pool.map(lambda n: self.drain_platform(n, only_ids), names))
        return [r for chunk in results for r in chunk]

    def drain_platform(
        self, platform: str, only_ids: Sequence[int] | None = None
    ) -> list[DeliveryReport]:
        publisher = self.publishers[platform]
        reports: list[DeliveryReport] = []
        if not self.platform_ready(platform, publisher):
            return reports
        if _is_dry(publisher):
            return self._drain_dry(platform, publisher, only_ids)
        # One claim per post: only the row in hand has its lease renewed while the platform
        # answers, so a row claimed ahead of time could expire and be taken by another worker.
        batch = 1
        budget = self.budgets.get(platform)
        if budget is not None:
            self.spend.release_if_allowed(budget, platform)
        while not self.stop.is_set():
            now = self.clock()
            if self.pacing.limits_posts:
                wait = self.pacing.wait_until(
                    now,
                    self.platforms.last_post_at(platform),
                    self.platforms.published_since(platform, now - 3600),
                    platform=platform,
                    posted_since=lambda t: len(self.platforms.published_since(platform, t)),
                )
                if wait is not None:
                    log.debug(
                        "pacing: waiting",
                        extra={"platform": platform, "until": iso(wait[0]), "why": wait[1]},
                    )
                    break
            rows = self.deliveries.claim_due(
                platform, now, self.owner, self.lease, limit=batch, only_ids=only_ids
            )
            if not rows:
                break
            slot = self.pacing.slot_bounds(platform, now)
            if slot is not None and rows[0].created_at > slot[0]:
                # It arrived after this slot opened: it waits for the next slot.
                self.deliveries.release(rows)
                break
            for index, row in enumerate(rows):
                budget = self.budgets.get(platform)
                if budget is not None and (held := self.spend.over_budget(budget, row)) is not None:
                    reports.append(held)
                    continue
                report = self.process(publisher, row)
                reports.append(report)
                self.progress.sent(report.status)
                if budget is not None and report.status == S.PUBLISHED:
                    self.spend.charge(budget, row)
                done = report.status in (S.PUBLISHED, S.DRY_RUN, S.SKIPPED, S.FAILED)
                if self.stop.is_set() or (not done and self._held(platform)):
                    self.deliveries.release(rows[index + 1 :])
                    return reports
        return reports

    def _drain_dry(
        self, platform: str, publisher: Publisher, only_ids: Sequence[int] | None
    ) -> list[DeliveryReport]:
        """Dry run: report every due delivery, recorded in batches (no pacing, no sending)."""
        reports: list[DeliveryReport] = []
        while not self.stop.is_set():
            rows = self.deliveries.claim_due(
                platform, self.clock(), self.owner, self.lease, limit=DRY_BATCH, only_ids=only_ids
            )
            if not rows:
                break
            done: list[tuple[DeliveryRow, PublishResult]] = []
            held = False
            for index, row in enumerate(rows):
                try:
                    done.append((row, publisher.publish(row.post)))
                except PublishError as exc:
                    refusal = self.outcomes.dry_refusal(exc)
                    reports.append(fenced(self.deliveries, row, refusal, publisher))
                    if isinstance(exc, RateLimited | AuthError):  # live would stop here too
                        self.deliveries.release(rows[index + 1 :])
                        held = True
                        break
            self.deliveries.finish_dry_run(done, self.clock())
            for row, result in done:
                log.info(
                    "dry run: would post",
                    extra={
                        "platform": platform,
                        "story": row.post.story_url,
                        "text": row.post.text,
                    },
                )
                reports.append(report_for(row, S.DRY_RUN.value, remote_id=result.remote_id))
                self.progress.sent(S.DRY_RUN.value)
            if held:
                break
        return reports

    def platform_ready(self, platform: str, publisher: Publisher) -> bool:
        """False while the platform is paused (by hand, or for a bad token) or held (rate
        limit) — nothing lost. A credentials pause is lifted here once the token works again."""
        state = self.platforms.platform_states().get(platform, {})
        now = self.clock()
        if state.get("hold_until") and state["hold_until"] > now:
            return False
        if not state.get("paused"):
            return True
        if state.get("paused_by") == PAUSED_BY_HAND:
            return False  # only `resume` lifts a person's pause
        try:
            account = publisher.verify()
        except AuthError:
            return False  # still refused: stays paused; the loud line was logged when it paused
        except PublishError as exc:
            log.info(
                "paused platform could not be checked",
                extra={"platform": platform, "error": exc.message},
            )
            return False
        self.platforms.resume_platform(platform, now)
        log.warning(
            "platform resumed: the token is accepted again",
            extra={"platform": platform, "account": account.name},
        )
        return True

    def _held(self, platform: str) -> bool:
        state = self.platforms.platform_states().get(platform, {})
        return bool(state.get("paused")) or bool(
            state.get("hold_until") and state["hold_until"] > self.clock()
        )

    # --- one delivery ------------------------------------------------------------------------

    def process(self, publisher: Publisher, row: DeliveryRow) -> DeliveryReport:
        """One attempt at one claimed delivery, with its outcome committed before returning."""
        return fenced(self.deliveries, row, self._process, publisher)

    def _process(self, publisher: Publisher, row: DeliveryRow) -> DeliveryReport:
        dry = _is_dry(publisher)
        if row.uncertain:
            settled = self.reconciler.settle_uncertain(publisher, row)
            if settled is not None:
                return settled
        try:
            if dry:  # nothing leaves the machine: there is no attempt to make crash-safe
                result = publisher.publish(row.post)
            else:
                if not self.deliveries.mark_sending(row, self.lease):
                    raise LeaseLost("the lease ran out before the attempt began")
                with LeaseKeeper(self.deliveries, row, self.lease) as keeper:
                    post = self._with_media(row)
                    checkpoint = keeper.checkpoint(self.clock)
                    result = publisher.publish(post, checkpoint, row.recovery)
        except PublishError as exc:
            return self.outcomes.on_error(row, exc)
        except LeaseLost:
            raise
        except Exception as exc:  # a bug in an adapter must not kill the worker nor lose the post
            log.exception("unexpected error while publishing", extra={"platform": row.platform})
            error = Transient(row.platform, f"{type(exc).__name__}: {exc}")
            return self.outcomes.on_error(row, error)
        status = S.DRY_RUN if dry else S.PUBLISHED
        if not self.deliveries.finish(row, status, self.clock(), result=result):
            # Made, but the row is someone else's now: its new owner looks it up and finds it.
            log.error(
                "posted, but the lease was lost before the result was recorded; the worker "
                "holding the delivery now will find the post on the platform",
                extra={"platform": row.platform, "remote_url": result.remote_url},
            )
            return report_for(self.deliveries.delivery(row.id))
        log.info(
            "dry run: would post" if status == S.DRY_RUN else "published",
            extra={
                "platform": row.platform,
                "story": row.post.story_url,
                "remote_url": result.remote_url,
                "text": row.post.text,
            },
        )
        return report_for(
            row, status.value, remote_id=result.remote_id, remote_url=result.remote_url
        )

    def _with_media(self, row: DeliveryRow) -> Post:
        """The post with its picture's bytes when the picture is kept in the store (a person's
        local file, `media:<sha256>`); other posts as they are."""
        digest = media_digest(row.post.image_url)
        if digest is None:
            return row.post
        found = self.media.media(digest)
        if found is None:
            raise Rejected(row.platform, f"the picture {row.post.image_url} is not in the store")
        return replace(row.post, image_data=found[1])


def _is_dry(publisher: Publisher) -> bool:
    return getattr(publisher, "is_dry_run", False) or publisher.name == "dryrun"
