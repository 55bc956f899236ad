"""What one attempt's answer means, recorded: the only place that decides retry, defer, pause or
give up. Every record is fenced by the row's lease (a lost lease ends the step, LeaseLost)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.delivery.leases import Step
from bot.delivery.report import DeliveryReport, iso, report_for, verdict
from bot.errors import (
    AlreadyPublished,
    AuthError,
    LeaseLost,
    NotReady,
    PublishError,
    RateLimited,
    Rejected,
    Unsuitable,
)
from bot.models import DeliveryStatus, PublishResult
from bot.pacing import retry_delay
from bot.platforms.base import Publisher
from bot.store import DeliveryRow
from bot.store.delivery_queue import DeliveryStore
from bot.store.platform_state import PlatformStore

log = logging.getLogger("bot.delivery")
S = DeliveryStatus
LONG_PAUSE = 6 * 3600.0
NOT_READY_MIN = 1.0
NOT_READY_MAX = 120.0
"""Bounds on when a platform's unfinished attempt (NotReady) is looked at again: soon, but
never in a loop faster than a second, nor later than two minutes whatever the adapter asks."""
ATTENTION_LOOKUPS = 5
ATTENTION_AFTER = 6 * 3600.0
"""A delivery whose look-ups failed at least ATTENTION_LOOKUPS times over at least
ATTENTION_AFTER seconds becomes `needs_attention`: a person is told where to check."""


class Outcomes:
    """Records what an attempt, a look-up or a check before sending came to."""

    def __init__(
        self,
        deliveries: DeliveryStore,
        platforms: PlatformStore,
        *,
        retry_base: float,
        max_attempts: int,
        clock: Callable[[], float],
        rng: Callable[[], float],
        credential_hint: Callable[[str], str],
    ) -> None:
        self.deliveries = deliveries
        self.platforms = platforms
        self.retry_base = retry_base
        self.max_attempts = max_attempts
        self.clock = clock
        self.rng = rng
        self.credential_hint = credential_hint

    def commit(self, row: DeliveryRow, status: DeliveryStatus, now: float, **kw: Any) -> None:
        """store.finish, fenced: a lost lease ends the step (LeaseLost) instead of writing."""
        if not self.deliveries.finish(row, status, now, **kw):
            raise LeaseLost(f"the lease was lost before recording {status.value}")

    def lookup_failed(
        self, publisher: Publisher, row: DeliveryRow, exc: PublishError
    ) -> DeliveryReport:
        """A look-up failed (refused, timed out, anything): we still do not know whether the
        earlier attempt went out, so the delivery waits, `unconfirmed`, and is looked up again
        on the retry backoff. It never fails, never pauses the platform (a 403 on a timeline
        read says nothing about posting), and is never re-sent on a guess."""
        now = self.clock()
        count, first_at = self.deliveries.lookup_failures(row)
        count += 1
        first_at = now if first_at is None else first_at
        until = now + retry_delay(count, self.retry_base, self.rng)
        context = {"platform": row.platform, "story": row.post.story_url, "error": exc.message}
        if count >= ATTENTION_LOOKUPS and now - first_at >= ATTENTION_AFTER:
            status = S.NEEDS_ATTENTION
            where = publisher_account_url(publisher) or f"the {row.platform} account"
            reason = (
                f"could not confirm whether it was posted: {count} look-ups failed since "
                f"{iso(first_at)} (last: {exc.message}); check {where} by hand, then run "
                f"`resolve {row.id} --published URL` or `resolve {row.id} --not-published`"
            )
            if row.status != S.NEEDS_ATTENTION:
                log.error(f"NEEDS ATTENTION: delivery {row.id}: {reason}", extra=context)
        else:
            status = S.UNCONFIRMED
            reason = f"not confirmed yet: the look-up failed: {exc.message}"
            log.warning(
                "could not tell whether an earlier attempt went out; will look again",
                extra={**context, "until": iso(until)},
            )
        self.commit(
            row,
            status,
            now,
            reason=reason,
            next_attempt_at=until,
            uncertain=True,
            event_kind="lookup_failed",
        )
        return report_for(row, status.value, error=reason, next_attempt_at=until)

    def dry_refusal(self, exc: PublishError) -> Step:
        """What a live run would record for a check that failed before sending; a dry run
        never pauses nor holds the platform (the store may be shared with a live run)."""

        def record(_publisher: Publisher, row: DeliveryRow) -> DeliveryReport:
            now = self.clock()
            status = verdict(exc)
            if status == S.QUEUED:  # a refused token: a live run pauses, a dry run only says so
                self.deliveries.release([row])
                return report_for(row, S.QUEUED.value, error=f"would pause: {exc.message}")
            until = None
            if isinstance(exc, RateLimited):
                until = now + max(1.0, exc.retry_after or LONG_PAUSE)
            elif status == S.DEFERRED:
                until = now + retry_delay(row.failures + 1, self.retry_base, self.rng)
            self.commit(row, status, now, reason=exc.message, next_attempt_at=until)
            log.info(
                f"dry run: a live run would record this as {status.value}",
                extra={"platform": row.platform, "story": row.post.story_url, "why": exc.message},
            )
            return report_for(row, status.value, error=exc.message, next_attempt_at=until)

        return record

    def on_error(self, row: DeliveryRow, exc: PublishError) -> DeliveryReport:
        """Decide what one failed attempt means. A refusal (auth, rate limit) proves this attempt
        made nothing, but not an earlier uncertain one: `uncertain` is left as it was."""
        now = self.clock()
        context = {"platform": row.platform, "story": row.post.story_url, "error": exc.message}
        if isinstance(exc, AlreadyPublished):
            result = PublishResult(exc.remote_id or "", exc.remote_url)
            self.commit(
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
            self.commit(row, S.QUEUED, now, reason=reason, event_kind="auth_error")
            if self.platforms.pause_platform(row.platform, reason, now):
                log.error(
                    f"{row.platform.upper()} PAUSED: the platform refused the credentials; "
                    f"fix {hint} and the bot resumes by itself. Nothing is lost: "
                    "its posts wait in the queue",
                    extra=context,
                )
            return report_for(row, S.QUEUED.value, error=reason)
        if isinstance(exc, NotReady):
            # Nothing was posted and the attempt's handles are kept: it is picked up again at
            # the next poll or tick that finds it due. Not a failure, not uncertain.
            until = now + min(max(exc.retry_after, NOT_READY_MIN), NOT_READY_MAX)
            self.commit(
                row,
                S.DEFERRED,
                now,
                reason=exc.message,
                next_attempt_at=until,
                event_kind="not_ready",
            )
            log.info("not ready on the platform yet: checked again soon", extra=context)
            return report_for(row, S.DEFERRED.value, error=exc.message, next_attempt_at=until)
        if isinstance(exc, RateLimited):
            delay = exc.retry_after
            if delay is None:
                delay = LONG_PAUSE if exc.long_pause else retry_delay(1, self.retry_base, self.rng)
            until = now + max(1.0, delay)
            self.commit(
                row,
                S.DEFERRED,
                now,
                reason=exc.message,
                next_attempt_at=until,
                event_kind="rate_limited",
            )
            self.platforms.hold_platform(row.platform, until, exc.message, now)
            log.warning("rate limited: deferred", extra={**context, "until": iso(until)})
            return report_for(row, S.DEFERRED.value, error=exc.message, next_attempt_at=until)
        if isinstance(exc, Unsuitable):
            self.commit(row, S.SKIPPED, now, reason=exc.message, uncertain=False)
            log.info("skipped: the platform cannot take this post", extra=context)
            return report_for(row, S.SKIPPED.value, error=exc.message)
        if isinstance(exc, Rejected):
            self.commit(row, S.FAILED, now, reason=exc.message, uncertain=False)
            self.platforms.platform_error(row.platform, exc.message, now)
            log.error("the platform rejected the post", extra=context)
            return report_for(row, S.FAILED.value, error=exc.message)
        # Transient (and anything unknown): the post may or may not exist; retry with care.
        failures = row.failures + 1
        self.platforms.platform_error(row.platform, exc.message, now)
        if failures >= self.max_attempts:
            self.commit(row, S.FAILED, now, reason=exc.message, count_failure=True, uncertain=True)
            log.error(f"gave up after {failures} attempts", extra=context)
            return report_for(row, S.FAILED.value, error=exc.message)
        until = now + retry_delay(failures, self.retry_base, self.rng)
        self.commit(
            row,
            S.DEFERRED,
            now,
            reason=exc.message,
            next_attempt_at=until,
            count_failure=True,
            uncertain=True,
        )
        log.warning("temporary failure: will retry", extra={**context, "until": iso(until)})
        return report_for(row, S.DEFERRED.value, error=exc.message, next_attempt_at=until)


def publisher_account_url(publisher: Publisher) -> str | None:
    """Where a person sees the account's posts; None when even that cannot be learnt now."""
    try:
        return publisher.account_url()
    except Exception:
        log.debug("account URL unavailable", exc_info=True)
        return None
