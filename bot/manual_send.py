"""Manual posts (`post`): sending now with the worker's own claim-and-process steps, or
reporting a post scheduled for later.

Pacing and quiet hours do not apply to a post sent now (a person asked for it now). Transient
failures are retried within the command when the retry is due soon; a rate limit is reported
as deferred at once: no command sleeps through one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from bot.delivery import DeliveryReport, report_for, verdict
from bot.errors import PublishError
from bot.manual_checks import ManualApp, ManualResult
from bot.models import DeliveryStatus, Post
from bot.platforms.base import Publisher
from bot.post_time import describe
from bot.store import DeliveryRow, NewDelivery

log = logging.getLogger("bot.manual")
S = DeliveryStatus
IN_RUN_RETRY_WINDOW = 60.0


def send_or_schedule(
    app: ManualApp,
    story_id: int,
    rows: Sequence[DeliveryRow],
    at: float | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> ManualResult:
    """Send the new deliveries now, or report them scheduled."""
    if at is not None:
        return ManualResult([scheduled(app, row) for row in rows], 0)
    reports = [send_now(app, story_id, row.id, clock, sleep) for row in rows]
    ok = all(r.status in (S.PUBLISHED, S.DRY_RUN) for r in reports)
    return ManualResult(reports, 0 if ok else 1)


def scheduled(app: ManualApp, row: DeliveryRow) -> DeliveryReport:
    report = report_for(row, S.QUEUED.value, next_attempt_at=row.next_attempt_at)
    when = describe(row.next_attempt_at, app.settings.tz)
    report.note = (
        f"scheduled for {when} as delivery {row.id}: the worker sends it then (`main.py queue` "
        f"shows it, `main.py cancel {row.id}` removes it)"
    )
    return report


def send_now(
    app: ManualApp,
    story_id: int,
    delivery_id: int,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> DeliveryReport:
    """One delivery sent by this command, with the worker's own claim-and-process steps."""
    store, deliverer = app.store, app.engine.deliverer
    row = store.deliveries.delivery(delivery_id)
    platform = row.platform
    publisher = app.engine.publishers[platform]
    paused = store.platforms.platform_states().get(platform, {})
    if paused.get("paused") and not deliverer.platform_ready(platform, publisher):
        return report_for(
            store.deliveries.delivery(delivery_id),
            S.QUEUED.value,
            error=f"{platform} is paused ({paused.get('paused_reason')}); it stays queued and "
            f"goes out after `main.py resume {platform}`",
        )
    while True:
        state = store.platforms.platform_states().get(platform, {})
        if state.get("hold_until") and state["hold_until"] > clock():
            row = store.deliveries.delivery(delivery_id)
            return report_for(
                row,
                S.DEFERRED.value,
                error=state.get("hold_reason"),
                next_attempt_at=state["hold_until"],
            )
        rows = store.deliveries.claim_due(
            platform, clock(), deliverer.owner, deliverer.lease, only_ids=[delivery_id]
        )
        if not rows:
            row = store.deliveries.delivery(delivery_id)
            if row.status == S.DEFERRED and row.next_attempt_at - clock() <= IN_RUN_RETRY_WINDOW:
                sleep(max(0.0, row.next_attempt_at - clock()))
                continue
            return report_for(row)
        report = _settled(app, story_id, deliverer.process(publisher, rows[0]))
        retry_soon = (
            report.status == S.DEFERRED
            and report.next_attempt_at is not None
            and report.next_attempt_at - clock() <= IN_RUN_RETRY_WINDOW
            and (store.platforms.platform_states().get(platform, {}).get("hold_until") or 0)
            <= clock()
        )
        if not retry_soon:
            return report
        log.info("retrying within this command", extra={"platform": platform})
        sleep(max(0.0, (report.next_attempt_at or 0) - clock()))


def _settled(app: ManualApp, story_id: int, report: DeliveryReport) -> DeliveryReport:
    """A published report carries no stale error from an earlier attempt; and when the platform
    answered "duplicate" (a --force of identical text), say that nothing new was posted."""
    if report.status != S.PUBLISHED.value:
        return report
    report.error = report.next_attempt_at = None
    duplicate = any(
        e["kind"] == "already_published" and e["delivery_id"] == report.delivery_id
        for e in app.store.stories.story_events(story_id)
    )
    if duplicate:
        report.error = (
            f"{report.platform} refused it as a duplicate of an earlier post, so nothing new "
            "was posted; use --text to post different text"
        )
        log.warning(report.error, extra={"platform": report.platform, "story": report.story_url})
    return report


def dry_report(publisher: Publisher, d: NewDelivery, at: float | None) -> DeliveryReport:
    """A dry run runs the checks a live post makes before sending, and says what they decide."""
    try:
        publisher.preflight(d.post)
    except PublishError as exc:
        return replace(planned_report(None, d, verdict(exc)), error=exc.message)
    report = planned_report(None, d, S.DRY_RUN)
    report.next_attempt_at = at
    return report


def planned_report(delivery_id: int | None, d: NewDelivery, status: S) -> DeliveryReport:
    post: Post = d.post
    return DeliveryReport(
        delivery_id,
        d.platform,
        post.story_url,
        status.value,
        post.text,
        post.link,
        post.image_url,
        error=d.reason,
        title=post.parts.get("title"),
    )
