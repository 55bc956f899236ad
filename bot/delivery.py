"""Publishing with an exactly-once guarantee: the only place that decides retry, defer or give up.

The order of operations is the guarantee:
1. a delivery is claimed (a lease, so one worker handles it);
2. `sending` is committed before the platform is called, so a crash during the call is visible;
3. the adapter makes one attempt; its answer moves the delivery to published, deferred, skipped
   or failed in one commit;
4. a delivery found in `sending` whose worker is gone, or one whose last attempt ended in an
   uncertain way (timeout, dropped connection), is first looked up on the platform (`find`)
   and only sent again when the platform does not have it;
5. a look-up never decides by failing: any error from `find` leaves the delivery
   `unconfirmed` (looked up again on the retry backoff), never failed, never pausing the
   platform; after repeated failures over hours it is `needs_attention`, naming the account
   to check by hand and the `resolve` command that settles it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bot.budget import Budget, month_of, next_month_start
from bot.errors import (
    AlreadyPublished,
    AuthError,
    LeaseLost,
    PublishError,
    RateLimited,
    Rejected,
    Transient,
    Unsuitable,
)
from bot.models import DeliveryStatus, Post, PublishResult
from bot.pacing import Pacing, retry_delay
from bot.platforms.base import Checkpoint, Publisher
from bot.progress import Progress
from bot.store import DeliveryRow, Store
from bot.store.media import media_digest
from bot.store.platform_state import PAUSED_BY_HAND

log = logging.getLogger("bot.delivery")
S = DeliveryStatus
LONG_PAUSE = 6 * 3600.0
FIND_SLACK = 120.0  # look a little before the attempt: platform clocks and ours differ
DRY_BATCH = 100
ATTENTION_LOOKUPS = 5
ATTENTION_AFTER = 6 * 3600.0
"""A delivery whose look-ups failed at least ATTENTION_LOOKUPS times over at least
ATTENTION_AFTER seconds becomes `needs_attention`: a person is told where to check."""
WAITING = (S.UNCONFIRMED, S.NEEDS_ATTENTION)


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
            "next_attempt_at": _iso(self.next_attempt_at),
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


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


class Deliverer:
    """Drains due deliveries, platform by platform, each in its own thread."""

    def __init__(
        self,
        store: Store,
        publishers: Mapping[str, Publisher],
        *,
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
        self.store = store
        self.publishers = dict(publishers)
        self.owner = owner
        self.pacing = pacing
        self.retry_base = retry_base
        self.max_attempts = max_attempts
        self.lease = lease
        self.clock = clock
        self.rng = rng
        self.credential_hint = credential_hint
        self.stop = stop or threading.Event()
        self.progress = Progress()
        """Told of each delivery finished (`poll` on a terminal counts the posts sent)."""
        self.budgets = dict(budgets or {})
        self.http_timeout = http_timeout
        """A row left in `sending` is looked up only this long after its lease ran out: a call
        its old owner started just before may still land until then."""

    # --- reconciliation ----------------------------------------------------------------------

    def reconcile(self) -> list[DeliveryReport]:
        """Settle every delivery left in `sending` by a dead worker before anything is re-sent."""
        reports: list[DeliveryReport] = []
        tried: set[int] = set()  # one look per row and pass; an undecided row waits its turn
        platforms = [name for name, p in self.publishers.items() if not _is_dry(p)]
        while platforms and not self.stop.is_set():
            claimed = self.store.deliveries.claim_stale_sending(
                self.clock(),
                self.owner,
                self.lease,
                grace=self.http_timeout,
                platforms=platforms,
                limit=1 + len(tried),
            )
            rows = [r for r in claimed if r.id not in tried]
            self.store.deliveries.release([r for r in claimed if r.id in tried])
            if not rows:
                break
            tried.update(r.id for r in rows)
            for row in rows:
                reports.append(
                    self._fenced(row, self._reconcile_one, self.publishers[row.platform])
                )
        return reports

    def _fenced(
        self,
        row: DeliveryRow,
        step: Callable[[Publisher, DeliveryRow], DeliveryReport],
        publisher: Publisher,
    ) -> DeliveryReport:
        """Run one step on a claimed row; a lost lease ends it, logged, with nothing more sent."""
        try:
            return step(publisher, row)
        except LeaseLost as exc:
            return self._lease_lost(row, str(exc))

    def _lease_lost(self, row: DeliveryRow, why: str) -> DeliveryReport:
        log.warning(
            "lease lost: another worker holds this delivery now; dropped here without sending",
            extra={"platform": row.platform, "story": row.post.story_url, "why": why},
        )
        return report_for(self.store.deliveries.delivery(row.id))

    def _reconcile_one(self, publisher: Publisher, row: DeliveryRow) -> DeliveryReport:
        # Database times, never a worker's clock: the window covers the attempt however far
        # the clock of the worker that made it was off.
        since = (row.sending_since or row.first_attempt_at or row.created_at) - FIND_SLACK
        try:
            with self._keep_lease(row):
                found = publisher.find(row.post, _dt(since), row.recovery)
        except PublishError as exc:
            # We cannot tell whether it went out: it waits, unconfirmed; never re-sent blindly.
            return self._lookup_failed(publisher, row, exc)
        except Exception as exc:  # an adapter bug in a look-up decides nothing either
            log.exception(
                "unexpected error while looking up a post", extra={"platform": row.platform}
            )
            return self._lookup_failed(publisher, row, Transient(row.platform, repr(exc)))
        now = self.clock()
        if found is not None:
            self._commit(row, S.PUBLISHED, now, result=found, event_kind="reconciled")
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
        self._commit(
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
        dry = _is_dry(publisher)
        if dry:
            return self._drain_dry(platform, publisher, only_ids)
        # One claim per post: only the row in hand has its lease renewed while the platform
        # answers, so a row claimed ahead of time could expire and be taken by another worker.
        batch = 1
        budget = self.budgets.get(platform)
        if budget is not None:
            self._release_if_budget_allows(budget, platform)
        while not self.stop.is_set():
            now = self.clock()
            if self.pacing.limits_posts:
                wait = self.pacing.wait_until(
                    now,
                    self.store.platforms.last_post_at(platform),
                    self.store.platforms.published_since(platform, now - 3600),
                    platform=platform,
                    posted_since=lambda t: len(self.store.platforms.published_since(platform, t)),
                )
                if wait is not None:
                    log.debug(
                        "pacing: waiting",
                        extra={"platform": platform, "until": _iso(wait[0]), "why": wait[1]},
                    )
                    break
            rows = self.store.deliveries.claim_due(
                platform, now, self.owner, self.lease, limit=batch, only_ids=only_ids
            )
            if not rows:
                break
            slot = self.pacing.slot_bounds(platform, now)
            if slot is not None and rows[0].created_at > slot[0]:
                # It arrived after this slot opened: it waits for the next slot.
                self.store.deliveries.release(rows)
                break
            for index, row in enumerate(rows):
                budget = self.budgets.get(platform)
                if budget is not None and (held := self._over_budget(budget, row)) is not None:
                    reports.append(held)
                    continue
                report = self.process(publisher, row)
                reports.append(report)
                self.progress.sent(report.status)
                if budget is not None and report.status == S.PUBLISHED:
                    self._charge(budget, row)
                done = report.status in (S.PUBLISHED, S.DRY_RUN, S.SKIPPED, S.FAILED)
                if self.stop.is_set() or (not done and self._held(platform)):
                    self.store.deliveries.release(rows[index + 1 :])
                    return reports
        return reports

    def _drain_dry(
        self, platform: str, publisher: Publisher, only_ids: Sequence[int] | None
    ) -> list[DeliveryReport]:
        """Dry run: report every due delivery, recorded in batches (no pacing, no sending)."""
        reports: list[DeliveryReport] = []
        while not self.stop.is_set():
            rows = self.store.deliveries.claim_due(
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
                    reports.append(self._fenced(row, self._dry_refusal(exc), publisher))
                    if isinstance(exc, RateLimited | AuthError):  # live would stop here too
                        self.store.deliveries.release(rows[index + 1 :])
                        held = True
                        break
            self.store.deliveries.finish_dry_run(done, self.clock())
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

    def _dry_refusal(self, exc: PublishError) -> Callable[[Publisher, DeliveryRow], DeliveryReport]:
        """What a live run would record for a check that failed before sending; a dry run
        never pauses nor holds the platform (the store may be shared with a live run)."""

        def record(_publisher: Publisher, row: DeliveryRow) -> DeliveryReport:
            now = self.clock()
            status = verdict(exc)
            if status == S.QUEUED:  # a refused token: a live run pauses, a dry run only says so
                self.store.deliveries.release([row])
                return report_for(row, S.QUEUED.value, error=f"would pause: {exc.message}")
            until = None
            if isinstance(exc, RateLimited):
                until = now + max(1.0, exc.retry_after or LONG_PAUSE)
            elif status == S.DEFERRED:
                until = now + retry_delay(row.failures + 1, self.retry_base, self.rng)
            self._commit(row, status, now, reason=exc.message, next_attempt_at=until)
            log.info(
                f"dry run: a live run would record this as {status.value}",
                extra={"platform": row.platform, "story": row.post.story_url, "why": exc.message},
            )
            return report_for(row, status.value, error=exc.message, next_attempt_at=until)

        return record

    def platform_ready(self, platform: str, publisher: Publisher) -> bool:
        """False while the platform is paused (by hand, or for a bad token) or held (rate
        limit) — nothing lost. A credentials pause is lifted here once the token works again."""
        state = self.store.platforms.platform_states().get(platform, {})
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
        self.store.platforms.resume_platform(platform, now)
        log.warning(
            "platform resumed: the token is accepted again",
            extra={"platform": platform, "account": account.name},
        )
        return True

    def _held(self, platform: str) -> bool:
        state = self.store.platforms.platform_states().get(platform, {})
        return bool(state.get("paused")) or bool(
            state.get("hold_until") and state["hold_until"] > self.clock()
        )

    # --- spend ------------------------------------------------------------------------------

    def _over_budget(self, budget: Budget, row: DeliveryRow) -> DeliveryReport | None:
        """Defer a post that would take this month over the budget to the 1st of next month."""
        now = self.clock()
        month = month_of(now)
        spent = self.store.spend.spent_in_month(row.platform, month)
        price = budget.price(row.post)
        if budget.allows(spent, price):
            return None
        until = next_month_start(now)
        reason = (
            f"{budget.variable} of ${budget.monthly:.2f} reached: ${spent:.2f} spent in {month}, "
            f"this post costs ${price:.2f}; it waits for {_iso(until)}"
        )
        self.store.deliveries.finish(
            row, S.DEFERRED, now, reason=reason, next_attempt_at=until, event_kind="over_budget"
        )
        log.warning("budget: deferred to next month", extra={"platform": row.platform})
        self._budget_notice(budget, row.platform, month, 100, spent)
        return report_for(row, S.DEFERRED.value, error=reason, next_attempt_at=until)

    def _release_if_budget_allows(self, budget: Budget, platform: str) -> None:
        """Posts deferred by the budget wait for next month only while the budget in force
        still holds them: raised or lifted, they are due again now."""
        now = self.clock()
        spent = self.store.spend.spent_in_month(platform, month_of(now))
        if budget.allows(spent, max(budget.price_post, budget.price_post_url)):
            released = self.store.spend.release_over_budget(platform, now)
            if released:
                log.info(
                    "budget: posts deferred to next month are due again",
                    extra={"platform": platform, "count": released},
                )

    def _charge(self, budget: Budget, row: DeliveryRow) -> None:
        """Record what the post cost (once per delivery) and notify at 80% and 100%."""
        now = self.clock()
        month = month_of(now)
        before = self.store.spend.spent_in_month(row.platform, month)
        price = budget.price(row.post)
        if not self.store.spend.record_spend(row.platform, row.id or 0, price, month, now):
            return
        for threshold in budget.crossed(before, before + price):
            self._budget_notice(budget, row.platform, month, threshold, before + price)

    def _budget_notice(
        self, budget: Budget, platform: str, month: str, threshold: int, spent: float
    ) -> None:
        """One log line per threshold and month, whichever worker crosses it (notifications
        come from `bot.notify`, which reads the same spend from the store)."""
        key = f"budget_notice:{platform}:{month}:{threshold}"
        if self.store.platforms.get_meta(key):
            return
        self.store.platforms.set_meta(key, repr(self.clock()))
        message = (
            f"{platform}: ${spent:.2f} of the ${budget.monthly:.2f} {budget.variable} spent in "
            f"{month} ({threshold}%)"
            + ("; further posts wait for next month" if threshold >= 100 else "")
        )
        log.warning("budget: " + message, extra={"platform": platform})

    # --- one delivery ------------------------------------------------------------------------

    def process(self, publisher: Publisher, row: DeliveryRow) -> DeliveryReport:
        """One attempt at one claimed delivery, with its outcome committed before returning."""
        return self._fenced(row, self._process, publisher)

    def _process(self, publisher: Publisher, row: DeliveryRow) -> DeliveryReport:
        dry = _is_dry(publisher)
        if row.uncertain:
            settled = self._settle_uncertain(publisher, row)
            if settled is not None:
                return settled
        try:
            if dry:  # nothing leaves the machine: there is no attempt to make crash-safe
                result = publisher.publish(row.post)
            else:
                if not self.store.deliveries.mark_sending(row, self.lease):
                    raise LeaseLost("the lease ran out before the attempt began")
                with self._keep_lease(row) as keeper:
                    post = self._with_media(row)
                    result = publisher.publish(post, self._checkpoint(row, keeper), row.recovery)
        except PublishError as exc:
            return self._on_error(row, exc)
        except LeaseLost:
            raise
        except Exception as exc:  # a bug in an adapter must not kill the worker nor lose the post
            log.exception("unexpected error while publishing", extra={"platform": row.platform})
            return self._on_error(row, Transient(row.platform, f"{type(exc).__name__}: {exc}"))
        status = S.DRY_RUN if dry else S.PUBLISHED
        if not self.store.deliveries.finish(row, status, self.clock(), result=result):
            # Made, but the row is someone else's now: its new owner looks it up and finds it.
            log.error(
                "posted, but the lease was lost before the result was recorded; the worker "
                "holding the delivery now will find the post on the platform",
                extra={"platform": row.platform, "remote_url": result.remote_url},
            )
            return report_for(self.store.deliveries.delivery(row.id))
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
        found = self.store.media.media(digest)
        if found is None:
            raise Rejected(row.platform, f"the picture {row.post.image_url} is not in the store")
        return replace(row.post, image_data=found[1])

    def _commit(self, row: DeliveryRow, status: DeliveryStatus, now: float, **kw: Any) -> None:
        """store.finish, fenced: a lost lease ends the step (LeaseLost) instead of writing."""
        if not self.store.deliveries.finish(row, status, now, **kw):
            raise LeaseLost(f"the lease was lost before recording {status.value}")

    def _keep_lease(self, row: DeliveryRow) -> _LeaseKeeper:
        """Every platform call on a claimed row runs under a renewed lease, however slow."""
        return _LeaseKeeper(self.store, row, self.lease)

    def _checkpoint(self, row: DeliveryRow, keeper: _LeaseKeeper) -> Checkpoint:
        """Called by the adapter right before its one non-idempotent step: persist its ids of
        the attempt (Instagram's container) and prove the lease is still ours. A renewal
        that failed, or a lease taken over meanwhile (a pause, a stall), stops the attempt
        here, before anything is sent."""

        def checkpoint(handles: Mapping[str, str]) -> None:
            keeper.check()
            if not self.store.deliveries.save_recovery(row, handles, self.clock(), self.lease):
                keeper.lost.set()
                raise LeaseLost("the lease was lost before the platform call")

        return checkpoint

    def _settle_uncertain(self, publisher: Publisher, row: DeliveryRow) -> DeliveryReport | None:
        """After a timeout or dropped connection, the post may exist: look before re-sending."""
        since = (row.first_attempt_at or row.created_at) - FIND_SLACK
        try:
            with self._keep_lease(row):
                found = publisher.find(row.post, _dt(since), row.recovery)
        except PublishError as exc:
            return self._lookup_failed(publisher, row, exc)
        except Exception as exc:  # an adapter bug in a look-up decides nothing either
            log.exception(
                "unexpected error while looking up a post", extra={"platform": row.platform}
            )
            return self._lookup_failed(publisher, row, Transient(row.platform, repr(exc)))
        if found is None:
            return None
        self._commit(row, S.PUBLISHED, self.clock(), result=found, event_kind="reconciled")
        log.info(
            "earlier attempt had gone through: marked published",
            extra={"platform": row.platform, "story": row.post.story_url},
        )
        return report_for(
            row, S.PUBLISHED.value, remote_id=found.remote_id, remote_url=found.remote_url
        )

    def _lookup_failed(
        self, publisher: Publisher, row: DeliveryRow, exc: PublishError
    ) -> DeliveryReport:
        """A look-up failed (refused, timed out, anything): we still do not know whether the
        earlier attempt went out, so the delivery waits, `unconfirmed`, and is looked up again
        on the retry backoff. It never fails, never pauses the platform (a 403 on a timeline
        read says nothing about posting), and is never re-sent on a guess."""
        now = self.clock()
        count, first_at = self.store.deliveries.lookup_failures(row)
        count += 1
        first_at = now if first_at is None else first_at
        until = now + retry_delay(count, self.retry_base, self.rng)
        context = {"platform": row.platform, "story": row.post.story_url, "error": exc.message}
        if count >= ATTENTION_LOOKUPS and now - first_at >= ATTENTION_AFTER:
            status = S.NEEDS_ATTENTION
            where = publisher_account_url(publisher) or f"the {row.platform} account"
            reason = (
                f"could not confirm whether it was posted: {count} look-ups failed since "
                f"{_iso(first_at)} (last: {exc.message}); check {where} by hand, then run "
                f"`resolve {row.id} --published URL` or `resolve {row.id} --not-published`"
            )
            if row.status != S.NEEDS_ATTENTION:
                log.error(f"NEEDS ATTENTION: delivery {row.id}: {reason}", extra=context)
        else:
            status = S.UNCONFIRMED
            reason = f"not confirmed yet: the look-up failed: {exc.message}"
            log.warning(
                "could not tell whether an earlier attempt went out; will look again",
                extra={**context, "until": _iso(until)},
            )
        self._commit(
            row,
            status,
            now,
            reason=reason,
            next_attempt_at=until,
            uncertain=True,
            event_kind="lookup_failed",
        )
        return report_for(row, status.value, error=reason, next_attempt_at=until)

    def _on_error(self, row: DeliveryRow, exc: PublishError) -> DeliveryReport:
        """Decide what one failed attempt means. A refusal (auth, rate limit) proves this attempt
        made nothing, but not an earlier uncertain one: `uncertain` is left as it was."""
        now = self.clock()
        context = {"platform": row.platform, "story": row.post.story_url, "error": exc.message}
        if isinstance(exc, AlreadyPublished):
            result = PublishResult(exc.remote_id or "", exc.remote_url)
            self._commit(
                row,
                S.PUBLISHED,
                now,
                result=result,
                reason=exc.message,
                event_kind="already_published",
            )
            log.info("platform says it is already published: recorded as published", extra=context)
            return report_for(
                row, S.PUBLISHED.value, remote_id=exc.remote_id, remote_url=exc.remote_url
            )
        if isinstance(exc, AuthError):
            hint = exc.variable or self.credential_hint(row.platform)
            reason = f"{exc.message} (fix {hint})"
            self._commit(row, S.QUEUED, now, reason=reason, event_kind="auth_error")
            if self.store.platforms.pause_platform(row.platform, reason, now):
                log.error(
                    f"{row.platform.upper()} PAUSED: the platform refused the credentials; "
                    f"fix {hint} and the bot resumes by itself. Nothing is lost: "
                    "its posts wait in the queue",
                    extra=context,
                )
            return report_for(row, S.QUEUED.value, error=reason)
        if isinstance(exc, RateLimited):
            delay = exc.retry_after
            if delay is None:
                delay = LONG_PAUSE if exc.long_pause else retry_delay(1, self.retry_base, self.rng)
            until = now + max(1.0, delay)
            self._commit(
                row,
                S.DEFERRED,
                now,
                reason=exc.message,
                next_attempt_at=until,
                event_kind="rate_limited",
            )
            self.store.platforms.hold_platform(row.platform, until, exc.message, now)
            log.warning("rate limited: deferred", extra={**context, "until": _iso(until)})
            return report_for(row, S.DEFERRED.value, error=exc.message, next_attempt_at=until)
        if isinstance(exc, Unsuitable):
            self._commit(row, S.SKIPPED, now, reason=exc.message, uncertain=False)
            log.info("skipped: the platform cannot take this post", extra=context)
            return report_for(row, S.SKIPPED.value, error=exc.message)
        if isinstance(exc, Rejected):
            self._commit(row, S.FAILED, now, reason=exc.message, uncertain=False)
            self.store.platforms.platform_error(row.platform, exc.message, now)
            log.error("the platform rejected the post", extra=context)
            return report_for(row, S.FAILED.value, error=exc.message)
        # Transient (and anything unknown): the post may or may not exist; retry with care.
        failures = row.failures + 1
        self.store.platforms.platform_error(row.platform, exc.message, now)
        if failures >= self.max_attempts:
            self._commit(row, S.FAILED, now, reason=exc.message, count_failure=True, uncertain=True)
            log.error(f"gave up after {failures} attempts", extra=context)
            return report_for(row, S.FAILED.value, error=exc.message)
        until = now + retry_delay(failures, self.retry_base, self.rng)
        self._commit(
            row,
            S.DEFERRED,
            now,
            reason=exc.message,
            next_attempt_at=until,
            count_failure=True,
            uncertain=True,
        )
        log.warning("temporary failure: will retry", extra={**context, "until": _iso(until)})
        return report_for(row, S.DEFERRED.value, error=exc.message, next_attempt_at=until)


def verdict(exc: PublishError) -> DeliveryStatus:
    """What a live run records when a check before sending refuses (for dry runs, previews)."""
    if isinstance(exc, Unsuitable):
        return S.SKIPPED
    if isinstance(exc, Rejected):
        return S.FAILED
    if isinstance(exc, AuthError):
        return S.QUEUED
    return S.DEFERRED


def publisher_account_url(publisher: Publisher) -> str | None:
    """Where a person sees the account's posts; None when even that cannot be learnt now."""
    try:
        return publisher.account_url()
    except Exception:
        log.debug("account URL unavailable", exc_info=True)
        return None


def _is_dry(publisher: Publisher) -> bool:
    return getattr(publisher, "is_dry_run", False) or publisher.name == "dryrun"


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class _LeaseKeeper:
    """Renews a delivery's lease while a slow publish runs, so no other worker takes it over.

    A renewal that fails (the lease was taken over, or ran out during a pause, or the database
    could not be reached) sets `lost`, and the attempt's checkpoint stops before the platform
    call: a worker that cannot prove it still holds the row never sends.
    """

    def __init__(self, store: Store, row: DeliveryRow, lease: float) -> None:
        self.store = store
        self.row = row
        self.lease = lease
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def _run(self) -> None:
        while not self._done.wait(self.lease / 3):
            try:
                renewed = self.store.deliveries.renew_lease(self.row, self.lease)
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

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)
