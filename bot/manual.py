"""The manual post (`post URL`): a person's "send this now", through the engine's own machinery.

Same composition, same records, same error handling as the worker; the differences are deliberate:
pacing and quiet hours do not apply (a person asked for it now), a story already published is
refused unless forced, and transient failures are retried within the command when the retry is
due soon. A rate limit is reported as deferred at once: no command sleeps through one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot.app import App
from bot.delivery import DeliveryReport, report_for
from bot.errors import ConfigError, FeedError
from bot.feeds.article import fetch_article
from bot.feeds.normalize import canonical_url
from bot.models import DeliveryStatus, Post, Story
from bot.store import NewDelivery

log = logging.getLogger("bot.manual")
S = DeliveryStatus
IN_RUN_RETRY_WINDOW = 60.0


@dataclass
class ManualResult:
    reports: list[DeliveryReport]

    @property
    def exit_code(self) -> int:
        ok = {S.PUBLISHED.value, S.DRY_RUN.value}
        return 0 if self.reports and all(r.status in ok for r in self.reports) else 1


def resolve_story(app: App, url: str, now: float) -> tuple[int | None, Story]:
    """The story for `url`: from the store when known, else from the article page's metadata."""
    canonical = canonical_url(url, url) or url
    known = app.store.story_by_url(canonical) or app.store.story_by_url(url)
    if known:
        return known
    try:
        story = fetch_article(
            app.http,
            url,
            now=datetime.fromtimestamp(now, UTC),
            max_bytes=app.settings.max_feed_bytes,
        )
    except FeedError as exc:
        raise ConfigError(f"cannot post {url}: {exc.reason}") from None
    return None, story


def manual_post(
    app: App,
    url: str,
    *,
    platforms: Sequence[str],
    text: str | None,
    force: bool,
    dry_run: bool,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> ManualResult:
    engine = app.engine
    if not engine.publishers:
        raise ConfigError(
            "no platform is configured: set the credentials of at least one (see .env.example), "
            "or run with --dry-run"
        )
    names = list(dict.fromkeys(platforms)) or list(engine.publishers)
    for name in names:
        if name not in engine.publishers:
            configured = ", ".join(engine.publishers) or "none"
            raise ConfigError(f"--platform {name!r} is not configured (configured: {configured})")
    now = clock()
    story_id, story = resolve_story(app, url, now)
    posts = {d.platform: d for d in engine.compose_story(story) if d.platform in names}
    for name in names:
        if text is not None:
            posts[name] = _with_text(app, posts[name], text)
    if dry_run:
        return ManualResult(
            [
                _report(None, d, S.SKIPPED if d.status == S.SKIPPED else S.DRY_RUN)
                for d in posts.values()
            ]
        )
    if story_id is None:
        story_id = app.store.add_story(story, now, status="queued")
        if story_id is None:  # recorded meanwhile by the worker
            known = app.store.story_by_url(story.url or url)
            assert known is not None
            story_id = known[0]
    reports: list[DeliveryReport] = []
    for name in names:
        reports.append(_post_one(app, story_id, posts[name], force, clock, sleep))
    return ManualResult(reports)


def _with_text(app: App, delivery: NewDelivery, text: str) -> NewDelivery:
    limits = app.engine.publishers[delivery.platform].limits
    length = app.composer.measure(delivery.platform, text, limits)
    if length > limits.max_length:
        kind = "weighted length" if limits.weighted else "length"
        raise ConfigError(
            f"--text is too long for {delivery.platform}: {kind} {length} "
            f"over the limit of {limits.max_length}"
        )
    post = replace(delivery.post, text=text, parts={**delivery.post.parts, "text": "manual"})
    return replace(delivery, post=post)


def _post_one(
    app: App,
    story_id: int,
    delivery: NewDelivery,
    force: bool,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> DeliveryReport:
    store, deliverer = app.store, app.engine.deliverer
    platform = delivery.platform
    if delivery.status == S.SKIPPED:
        return _report(None, delivery, S.SKIPPED)
    existing = [d for d in store.deliveries_for_story(story_id) if d.platform == platform]
    published = [d for d in existing if d.status == S.PUBLISHED]
    if published and not force:
        where = published[-1].remote_url or published[-1].remote_id
        refusal = f"already published on {platform} ({where}); use --force to post it again"
        log.warning(refusal, extra={"platform": platform, "story": delivery.post.story_url})
        return report_for(published[-1], S.SKIPPED.value, error=refusal)
    if any(d.status == S.SENDING for d in existing):
        return report_for(
            next(d for d in existing if d.status == S.SENDING),
            S.SENDING.value,
            error="a post of this story is being sent right now; try again shortly",
        )
    pending = [d for d in existing if d.status in (S.QUEUED, S.DEFERRED)]
    now = clock()
    if pending:
        delivery_id = pending[0].id
        if delivery.post.parts.get("text") == "manual":
            store.replace_post(delivery_id, delivery.post, now)
    else:
        seq = max((d.seq for d in existing), default=-1) + 1
        delivery_id = store.add_delivery(
            story_id, replace(delivery, next_attempt_at=0.0), now, seq=seq
        )
    publisher = app.engine.publishers[platform]
    paused = store.platform_states().get(platform, {})
    if paused.get("paused") and not deliverer.platform_ready(platform, publisher):
        return report_for(
            store.delivery(delivery_id),
            S.QUEUED.value,
            error=f"{platform} is paused ({paused.get('paused_reason')}); it stays queued and "
            f"goes out after `main.py resume {platform}`",
        )
    while True:
        state = store.platform_states().get(platform, {})
        if state.get("hold_until") and state["hold_until"] > clock():
            row = store.delivery(delivery_id)
            return report_for(
                row,
                S.DEFERRED.value,
                error=state.get("hold_reason"),
                next_attempt_at=state["hold_until"],
            )
        rows = store.claim_due(
            platform, clock(), deliverer.owner, deliverer.lease, only_ids=[delivery_id]
        )
        if not rows:
            row = store.delivery(delivery_id)
            if row.status == S.DEFERRED and row.next_attempt_at - clock() <= IN_RUN_RETRY_WINDOW:
                sleep(max(0.0, row.next_attempt_at - clock()))
                continue
            return report_for(row)
        report = _settled(app, story_id, deliverer.process(publisher, rows[0]))
        retry_soon = (
            report.status == S.DEFERRED
            and report.next_attempt_at is not None
            and report.next_attempt_at - clock() <= IN_RUN_RETRY_WINDOW
            and (store.platform_states().get(platform, {}).get("hold_until") or 0) <= clock()
        )
        if not retry_soon:
            return report
        log.info("retrying within this command", extra={"platform": platform})
        sleep(max(0.0, (report.next_attempt_at or 0) - clock()))


def _settled(app: App, story_id: int, report: DeliveryReport) -> DeliveryReport:
    """A published report carries no stale error from an earlier attempt; and when the platform
    answered "duplicate" (a --force of identical text), say that nothing new was posted."""
    if report.status != S.PUBLISHED.value:
        return report
    report.error = report.next_attempt_at = None
    duplicate = any(
        e["kind"] == "already_published" and e["delivery_id"] == report.delivery_id
        for e in app.store.story_events(story_id)
    )
    if duplicate:
        report.error = (
            f"{report.platform} refused it as a duplicate of an earlier post, so nothing new "
            "was posted; use --text to post different text"
        )
        log.warning(report.error, extra={"platform": report.platform, "story": report.story_url})
    return report


def _report(delivery_id: int | None, d: NewDelivery, status: S) -> DeliveryReport:
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
    )
