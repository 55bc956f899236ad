"""Manual posts (`post`): a person's "send this", through the engine's own machinery.

Two kinds. A story (`post URL`) is composed as the worker would compose it. An announcement
(`post --text ...`, no URL) is no story at all: "Meet us at JCK Las Vegas, booth 1234", a photo
from the show floor. Both are recorded like any delivery: a row in `stories` (an announcement's
identity is `manual:...`, its status `manual`, so nothing that walks the feed's stories ever
picks it up), deliveries with their history, reconciliation after a crash; so `queue`, `cancel`,
`history` and `status` cover them with no special case.

The differences from the worker are deliberate:
- sent now, pacing and quiet hours do not apply (a person asked for it now); with `--at` the
  deliveries are only queued, due at that time, and the worker sends them under every rule;
- every text is checked against its platform's limit before anything is sent or recorded, and so
  are the picture's needs (Instagram posts nothing without one), so a command is refused whole
  rather than posted in part (a corrected re-run would otherwise post twice where it did go out);
- exactly once for a person: an announcement's identity is a hash of its texts, picture and
  platforms (or `--id NAME`); the same command again reports the earlier post and sends nothing;
  `--force` posts again on purpose. A story already published is refused unless forced;
- transient failures are retried within the command when the retry is due soon. A rate limit is
  reported as deferred at once: no command sleeps through one.

A story is taken in and planned by the worker's own pipeline (Engine.plan_story); here are the
story posts, in bot.manual_announce the announcements, in bot.manual_checks the request and the
checks that refuse a whole command, in bot.manual_send the sending.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from bot.compose import ALT_TEXT_MAX
from bot.delivery import DeliveryReport, report_for
from bot.errors import ConfigError, FeedError
from bot.feeds.article import fetch_article
from bot.feeds.normalize import canonical_url
from bot.manual_announce import announce
from bot.manual_checks import (
    ManualApp,
    ManualRequest,
    ManualResult,
    check_image,
    checked_text,
    inert,
    targets,
)
from bot.manual_image import ManualImage, load_image
from bot.manual_send import dry_report, planned_report, scheduled, send_now
from bot.models import DeliveryStatus, Story
from bot.store import NewDelivery

__all__ = ["ManualRequest", "ManualResult", "manual_post", "resolve_story"]
log = logging.getLogger("bot.manual")
S = DeliveryStatus


def resolve_story(app: ManualApp, url: str, now: float) -> tuple[int | None, Story]:
    """The story for `url`: from the store when known, else from the article page's metadata."""
    canonical = canonical_url(url, url) or url
    known = app.store.stories.story_by_url(canonical) or app.store.stories.story_by_url(url)
    if known:
        return known
    # The user typed this URL: its origin is trusted as a configured feed's would be.
    http = app.client_trusting(url)
    try:
        story = fetch_article(
            http,
            url,
            now=datetime.fromtimestamp(now, UTC),
            max_bytes=app.settings.max_feed_bytes,
        )
    except FeedError as exc:
        raise ConfigError(f"cannot post {url}: {exc.reason}") from None
    finally:
        http.close()
    return None, story


def manual_post(
    app: ManualApp,
    request: ManualRequest,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> ManualResult:
    names = targets(app, request)
    if not request.dry_run:
        # A post left in `sending` by a killed command (or worker) is settled first, so the
        # same command again finds it published, or sends it once if it never went out.
        app.engine.deliverer.reconcile()
    for name in request.texts:
        if name not in names:
            raise ConfigError(
                f"--text-{name} is given but {name} is not among the platforms of this post "
                f"({', '.join(names)}); add --platform {name} or drop --text-{name}"
            )
    if request.feed is not None and request.url is None:
        raise ConfigError("--feed chooses the rules a story is posted by: give the story's URL")
    if request.alt is not None and not request.image:
        raise ConfigError("--alt describes a picture: give the picture with --image PATH|URL")
    if request.alt is not None and len(request.alt) > ALT_TEXT_MAX:
        raise ConfigError(f"--alt is {len(request.alt)} characters; at most {ALT_TEXT_MAX}")
    if request.url is None:
        return announce(app, request, names, clock, sleep)
    return _story_post(app, request, names, clock, sleep)


def _story_post(
    app: ManualApp,
    request: ManualRequest,
    names: list[str],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> ManualResult:
    assert request.url is not None
    now = clock()
    story_id, story = resolve_story(app, request.url, now)
    story, names = _by_feed(app, request, story, names)
    planned = app.engine.plan_story(story, names)
    story = planned.story  # as taken in: with the og:image a platform needs
    posts = {d.platform: d for d in planned.deliveries}
    for name in names:
        own = request.texts.get(name)
        text = own if own is not None else request.text
        if text is not None:
            option = f"--text-{name}" if own is not None else "--text"
            text = inert(app, name, text, request.allow_mentions)
            posts[name] = _with_text(app, posts[name], text, option)
    image = load_image(app.http, request.image) if request.image else None
    if image is not None:
        for name in names:
            check_image(name, app.engine.publishers[name].limits, image)
            posts[name] = _with_image(posts[name], image, request.alt)
    at = request.at
    if request.dry_run:
        return _noted(
            ManualResult(
                [
                    dry_report(
                        app.engine.publishers[d.platform], replace(d, next_attempt_at=at or 0.0), at
                    )
                    if d.status != S.SKIPPED
                    else planned_report(None, d, S.SKIPPED)
                    for d in posts.values()
                ],
                0,
            ),
            planned.skip,
        )
    if image is not None:
        image.save(app.store.media, now)
    if story_id is None:
        story_id = app.store.stories.add_story(story, now, status="queued")
        if story_id is None:  # recorded meanwhile by the worker
            known = app.store.stories.story_by_url(story.url or request.url)
            assert known is not None
            story_id = known[0]
    reports: list[DeliveryReport] = []
    fine = True
    for name in names:
        report, ok = _story_one(app, story_id, posts[name], request.force, at, clock, sleep)
        reports.append(report)
        fine = fine and ok
    return _noted(ManualResult(reports, 0 if fine else 1), planned.skip)


def _by_feed(
    app: ManualApp, request: ManualRequest, story: Story, names: list[str]
) -> tuple[Story, list[str]]:
    """The story by the rules of `--feed NAME`, else of its own feed; without `--platform`, on
    that feed's platforms only (and those given their own text)."""
    book = app.engine.book
    if request.feed is not None:
        chosen = book.find(request.feed)
        if chosen is None:
            known = ", ".join(f.name for f in book.feeds)
            raise ConfigError(f"--feed {request.feed!r} is no feed of this bot (feeds: {known})")
        story = replace(story, feed_url=chosen.url)
    if request.platforms:
        return story, names
    feed = book.feed(story.feed_url)
    mine = [name for name in names if feed.wants(name) or name in request.texts]
    if not mine:
        raise ConfigError(
            f"feed {feed.name!r} posts to none of the platforms of this post; "
            "name one with --platform"
        )
    return story, mine


def _noted(result: ManualResult, skip: str | None) -> ManualResult:
    """A story the worker's own rules skip (a filter, MAX_STORY_AGE) is still posted when a
    person asks for it, but never silently: each line says so, and so does stderr."""
    if skip is None:
        return result
    said = f"the worker skips this story ({skip}); posted because you asked"
    log.warning(said)
    for report in result.reports:
        report.note = f"{said}; {report.note}" if report.note else said
    return result


def _with_text(app: ManualApp, delivery: NewDelivery, text: str, option: str) -> NewDelivery:
    checked = checked_text(app, delivery.platform, text, option)
    post = replace(delivery.post, text=checked, parts={**delivery.post.parts, "text": "manual"})
    return replace(delivery, post=post)


def _with_image(delivery: NewDelivery, image: ManualImage, alt: str | None) -> NewDelivery:
    post = replace(
        delivery.post,
        image_url=image.reference,
        alt_text=alt if alt is not None else delivery.post.alt_text,
        parts={**delivery.post.parts, "image": "manual"},
    )
    if delivery.status == S.SKIPPED and delivery.reason == "no image":
        return replace(delivery, post=post, status=S.QUEUED.value, reason=None)
    return replace(delivery, post=post)


def _story_one(
    app: ManualApp,
    story_id: int,
    delivery: NewDelivery,
    force: bool,
    at: float | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> tuple[DeliveryReport, bool]:
    store = app.store
    platform = delivery.platform
    if delivery.status == S.SKIPPED:
        return planned_report(None, delivery, S.SKIPPED), False
    existing = [
        d for d in store.deliveries.deliveries_for_story(story_id) if d.platform == platform
    ]
    published = [d for d in existing if d.status == S.PUBLISHED]
    if published and not force:
        where = published[-1].remote_url or published[-1].remote_id
        refusal = f"already published on {platform} ({where}); use --force to post it again"
        log.warning(refusal, extra={"platform": platform, "story": delivery.post.story_url})
        return report_for(published[-1], S.SKIPPED.value, error=refusal), False
    if any(d.status == S.SENDING for d in existing):
        report = report_for(
            next(d for d in existing if d.status == S.SENDING),
            S.SENDING.value,
            error="a post of this story is being sent right now; try again shortly",
        )
        return report, False
    waiting = [d for d in existing if d.status in (S.UNCONFIRMED, S.NEEDS_ATTENTION)]
    if waiting and not force:
        row = waiting[0]
        refusal = (
            f"an earlier attempt on {platform} may have gone out and could not be confirmed yet; "
            f"check the account, then run `resolve {row.id} --published URL` or "
            f"`resolve {row.id} --not-published` (or use --force to post again)"
        )
        return report_for(row, row.status, error=refusal), False
    pending = [d for d in existing if d.status in (S.QUEUED, S.DEFERRED)]
    now = clock()
    due = at if at is not None else 0.0
    if pending:
        delivery_id = pending[0].id
        if delivery.post.parts.get("text") == "manual" or "image" in delivery.post.parts:
            store.deliveries.replace_post(delivery_id, delivery.post, now)
        if at is not None:
            store.deliveries.reschedule(delivery_id, at, now)
    else:
        seq = max((d.seq for d in existing), default=-1) + 1
        delivery_id = store.deliveries.add_delivery(
            story_id, replace(delivery, next_attempt_at=due), now, seq=seq
        )
    if at is not None:
        return scheduled(app, store.deliveries.delivery(delivery_id)), True
    report = send_now(app, story_id, delivery_id, clock, sleep)
    return report, report.status in (S.PUBLISHED, S.DRY_RUN)
