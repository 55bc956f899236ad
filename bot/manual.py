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
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from bot.app import App, make_http, network_policy
from bot.compose import ALT_TEXT_MAX
from bot.compose.text import clean, count_hashtags, count_mentions, neutralise
from bot.delivery import DeliveryReport, report_for, verdict
from bot.errors import ConfigError, FeedError, PublishError
from bot.feeds.article import fetch_article
from bot.feeds.normalize import canonical_url
from bot.manual_image import ManualImage, load_image
from bot.models import DeliveryStatus, Limits, Post, Story
from bot.platforms.base import Publisher
from bot.post_time import describe
from bot.store import DeliveryRow, NewDelivery

log = logging.getLogger("bot.manual")
S = DeliveryStatus
IN_RUN_RETRY_WINDOW = 60.0
MANUAL_PREFIX = "manual:"
MANUAL_FEED = "manual"
"""The `feed_url` of an announcement's story row: it came from a person, not from a feed."""
MANUAL_STATUS = "manual"
"""The `status` of an announcement's story row ("queued" and "skipped" are the feed's)."""
MAX_ID = 100
TITLE_MAX = 120
SETTLED_EARLIER = frozenset({S.PUBLISHED, S.QUEUED, S.DEFERRED, S.SENDING, S.DRY_RUN})
"""An earlier delivery in one of these states is out, or will go out: the repeat is fine."""


@dataclass(frozen=True)
class ManualRequest:
    """What a person asked for on the command line, already parsed (times as epoch seconds)."""

    url: str | None = None
    text: str | None = None
    texts: Mapping[str, str] = field(default_factory=dict)
    """A platform's own text (`--text-twitter` ...), instead of `text`."""
    platforms: Sequence[str] = ()
    image: str | None = None
    """A local file's path or an http(s) URL."""
    alt: str | None = None
    at: float | None = None
    """When to send (epoch); None: now."""
    post_id: str | None = None
    force: bool = False
    dry_run: bool = False
    allow_mentions: bool = False
    """Leave a person's @mentions, #tags and $CASHTAGS live (by default they are made inert as
    feed text is, except the brand handle and the handles file's handles)."""


@dataclass
class ManualResult:
    reports: list[DeliveryReport]
    exit_code: int


def resolve_story(app: App, url: str, now: float) -> tuple[int | None, Story]:
    """The story for `url`: from the store when known, else from the article page's metadata."""
    canonical = canonical_url(url, url) or url
    known = app.store.stories.story_by_url(canonical) or app.store.stories.story_by_url(url)
    if known:
        return known
    # The user typed this URL: its origin is trusted as a configured feed's would be.
    http = make_http(app.settings, network_policy(app.settings, also_trust=(url,)))
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
    app: App,
    request: ManualRequest,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> ManualResult:
    names = _targets(app, request)
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
    if request.alt is not None and not request.image:
        raise ConfigError("--alt describes a picture: give the picture with --image PATH|URL")
    if request.alt is not None and len(request.alt) > ALT_TEXT_MAX:
        raise ConfigError(f"--alt is {len(request.alt)} characters; at most {ALT_TEXT_MAX}")
    if request.url is None:
        return _announce(app, request, names, clock, sleep)
    return _story_post(app, request, names, clock, sleep)


def _targets(app: App, request: ManualRequest) -> list[str]:
    """The platforms of this post: those named, else those with their own text when no common
    text is given, else every configured one."""
    publishers = app.engine.publishers
    if not publishers:
        raise ConfigError(
            "no platform is configured: set the credentials of at least one (see .env.example), "
            "or run with --dry-run"
        )
    names = list(dict.fromkeys(request.platforms))
    if not names and request.url is None and request.text is None:
        names = list(dict.fromkeys(request.texts))
    names = names or list(publishers)
    for name in names:
        if name not in publishers:
            configured = ", ".join(publishers) or "none"
            raise ConfigError(f"--platform {name!r} is not configured (configured: {configured})")
    return names


# --- checks that refuse a whole command before anything is sent -------------------------------


def _checked_text(app: App, platform: str, text: str, option: str) -> str:
    """The text as it will be sent to `platform`, or ConfigError naming the platform and count."""
    limits = app.engine.publishers[platform].limits
    length = app.composer.measure(platform, text, limits)
    if length > limits.max_length:
        kind = "weighted length" if limits.weighted else "length"
        raise ConfigError(
            f"{option} is too long for {platform}: {kind} {length} over the limit of "
            f"{limits.max_length}; shorten it, or give {platform} its own with --text-{platform}"
        )
    if count_hashtags(text) > limits.max_hashtags:
        raise ConfigError(
            f"{option} has {count_hashtags(text)} hashtags; {platform} takes at most "
            f"{limits.max_hashtags}"
        )
    if limits.max_mentions is not None and count_mentions(text) > limits.max_mentions:
        raise ConfigError(
            f"{option} has {count_mentions(text)} @mentions; {platform} takes at most "
            f"{limits.max_mentions}"
        )
    return text


def _inert(app: App, platform: str, text: str, allow: bool) -> str:
    """A person's text with stray @mentions (and #tags, $CASHTAGS) made inert exactly as feed
    text is (FEED_MENTIONS, FEED_HASHTAGS), the bot's own handles left live; `--allow-mentions`
    keeps everything live. Said once on stderr when anything was changed, so nobody wonders."""
    if allow:
        return text
    composer = app.composer
    live = frozenset(
        h.casefold()
        for h in (
            composer.brand_handles.get(platform, ""),
            *composer.handles.platform_handles(platform).values(),
        )
        if h
    )
    inert = neutralise(
        text, mentions=not composer.feed_mentions, hashtags=not composer.feed_hashtags, live=live
    )
    if inert != text:
        log.warning(
            f"{platform}: the @mentions, #tags or $CASHTAGS in the text are made inert (they read "
            "the same but link nowhere, as in feed text); --allow-mentions keeps them live",
            extra={"platform": platform},
        )
    return inert


def _check_image(platform: str, limits: Limits, image: ManualImage | None) -> None:
    if image is None:
        if limits.requires_image:
            raise ConfigError(
                f"{platform} posts nothing without a picture: add --image PATH|URL, or leave "
                f"{platform} out with --platform (one for each of the others)"
            )
        return
    image.check_for(platform, limits)


# --- announcements -----------------------------------------------------------------------------


def _announce(
    app: App,
    request: ManualRequest,
    names: list[str],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> ManualResult:
    texts: dict[str, str] = {}
    for name in names:
        own = request.texts.get(name)
        raw = own if own is not None else request.text
        option = f"--text-{name}" if own is not None else "--text"
        text = clean(raw, multiline=True)
        if not text:
            raise ConfigError(
                f"no text for {name}: give --text TEXT (for every platform) or --text-{name} TEXT"
            )
        text = _inert(app, name, text, request.allow_mentions)
        texts[name] = _checked_text(app, name, text, option)
    image = load_image(app.http, request.image) if request.image else None
    for name in names:
        _check_image(name, app.engine.publishers[name].limits, image)
    identity = announcement_identity(texts, image, request.post_id)
    image_ref = image.reference if image else None
    title = _headline(texts[names[0]])
    posts = {
        name: Post(
            platform=name,
            text=texts[name],
            image_url=image_ref,
            alt_text=request.alt,
            parts={"text": "manual", "title": title, **({"image": "manual"} if image else {})},
        )
        for name in names
    }
    at = request.at
    if request.dry_run:
        publishers = app.engine.publishers
        return ManualResult([_preview(publishers[d.platform], d, at) for d in _new(posts, at)], 0)

    now = clock()
    if image is not None:
        image.save(app.store.media, now)
    story = Story(
        identity=identity,
        url=None,
        title=title,
        summary=texts[names[0]],
        published=datetime.fromtimestamp(now, UTC),
        feed_url=MANUAL_FEED,
        image_url=image_ref,
    )
    story_id = app.store.stories.add_story(
        story, now, status=MANUAL_STATUS, new_deliveries=_new(posts, at)
    )
    if story_id is not None:
        rows = _latest(app.store.deliveries.deliveries_for_story(story_id), names)
        log.info("manual post recorded", extra={"post": identity, "platforms": ",".join(names)})
        return _go(app, story_id, rows, at, clock, sleep)
    known = app.store.stories.story_by_identity(identity)
    assert known is not None  # the identity is unique and rows are never deleted
    story_id = known[0]
    existing = app.store.deliveries.deliveries_for_story(story_id)
    if request.force:
        ids = _add_again(app, story_id, existing, posts, at, clock())
        rows = [app.store.deliveries.delivery(i) for i in ids]
        return _go(app, story_id, rows, at, clock, sleep)
    return _repeat(app, story_id, existing, posts, names, at, identity, clock, sleep)


def announcement_identity(
    texts: Mapping[str, str], image: ManualImage | None, post_id: str | None
) -> str:
    """`manual:` and the person's --id, or a hash of the texts, the picture and the platforms:
    the same command twice is the same post; any change to what goes out is another."""
    if post_id is not None:
        name = " ".join(post_id.split())
        if not name or len(name) > MAX_ID or not name.isprintable():
            raise ConfigError(
                f"--id {post_id!r}: give a short printable name (at most {MAX_ID} characters)"
            )
        return f"{MANUAL_PREFIX}id:{name}"
    content = {
        "texts": {name: texts[name] for name in sorted(texts)},
        "image": image.digest if image else None,
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    return f"{MANUAL_PREFIX}{digest[:24]}"


def _headline(text: str) -> str:
    """The announcement's title for `queue` and `history`: its first line, cut at a word."""
    first = text.split("\n", 1)[0]
    if len(first) <= TITLE_MAX:
        return first
    cut = first[: TITLE_MAX - 1].rsplit(" ", 1)[0] or first[: TITLE_MAX - 1]
    return cut + "…"


def _new(posts: Mapping[str, Post], at: float | None) -> list[NewDelivery]:
    return [NewDelivery(name, post, next_attempt_at=at or 0.0) for name, post in posts.items()]


def _latest(rows: Sequence[DeliveryRow], names: Sequence[str]) -> list[DeliveryRow]:
    """The newest delivery of each platform in `names` (rows come by platform, then seq)."""
    newest = {row.platform: row for row in rows}
    return [newest[name] for name in names if name in newest]


def _add_again(
    app: App,
    story_id: int,
    existing: Sequence[DeliveryRow],
    posts: Mapping[str, Post],
    at: float | None,
    now: float,
) -> list[int]:
    """New deliveries of a post already made: `--force`, or a retry of a failed one."""
    ids = []
    for name, post in posts.items():
        seq = max((d.seq for d in existing if d.platform == name), default=-1) + 1
        new = NewDelivery(name, post, next_attempt_at=at or 0.0)
        ids.append(app.store.deliveries.add_delivery(story_id, new, now, seq=seq))
    return ids


def _repeat(
    app: App,
    story_id: int,
    existing: Sequence[DeliveryRow],
    posts: Mapping[str, Post],
    names: list[str],
    at: float | None,
    identity: str,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> ManualResult:
    """The same command again: report the earlier post and send nothing, except where the
    earlier attempt failed for good (then this run is the retry a person expects)."""
    earlier = {row.platform: row for row in _latest(existing, names)}
    again = {n: p for n, p in posts.items() if n not in earlier or earlier[n].status == S.FAILED}
    retried = _add_again(app, story_id, existing, again, at, clock()) if again else []
    rows = [app.store.deliveries.delivery(i) for i in retried]
    if at is None:  # waiting and due (an interrupted attempt that never went out): send it now
        now = clock()
        rows += [
            row
            for row in earlier.values()
            if row.status in (S.QUEUED, S.DEFERRED) and row.next_attempt_at <= now
        ]
    result = _go(app, story_id, rows, at, clock, sleep)
    by_platform = {r.platform: r for r in result.reports}
    reports: list[DeliveryReport] = []
    code = result.exit_code
    for name in names:
        if name in by_platform:
            reports.append(by_platform[name])
            continue
        row = earlier[name]
        report = report_for(row)
        if row.status in (S.QUEUED, S.DEFERRED):
            report.next_attempt_at = row.next_attempt_at or None
        report.note = _earlier_note(row, identity)
        reports.append(report)
        if row.status not in SETTLED_EARLIER:
            code = 1
    log.info("manual post already made: nothing sent again", extra={"post": identity})
    return ManualResult(reports, code)


def _earlier_note(row: DeliveryRow, identity: str) -> str:
    where = row.remote_url or row.remote_id
    if row.status == S.PUBLISHED:
        what = f"posted earlier ({where})"
    elif row.status in (S.QUEUED, S.DEFERRED):
        what = f"already waiting in the queue as delivery {row.id}"
    elif row.status == S.SENDING:
        what = f"being sent right now as delivery {row.id}"
    else:
        what = f"made earlier as delivery {row.id}, now {row.status}"
    return f"{what}; nothing was sent again ({identity}); use --force to post it again"


# --- stories -----------------------------------------------------------------------------------


def _story_post(
    app: App,
    request: ManualRequest,
    names: list[str],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> ManualResult:
    assert request.url is not None
    now = clock()
    story_id, story = resolve_story(app, request.url, now)
    posts = {d.platform: d for d in app.engine.compose_story(story) if d.platform in names}
    for name in names:
        own = request.texts.get(name)
        text = own if own is not None else request.text
        if text is not None:
            option = f"--text-{name}" if own is not None else "--text"
            text = _inert(app, name, text, request.allow_mentions)
            posts[name] = _with_text(app, posts[name], text, option)
    image = load_image(app.http, request.image) if request.image else None
    if image is not None:
        for name in names:
            _check_image(name, app.engine.publishers[name].limits, image)
            posts[name] = _with_image(posts[name], image, request.alt)
    at = request.at
    if request.dry_run:
        return ManualResult(
            [
                _preview(
                    app.engine.publishers[d.platform], replace(d, next_attempt_at=at or 0.0), at
                )
                if d.status != S.SKIPPED
                else _report(None, d, S.SKIPPED)
                for d in posts.values()
            ],
            0,
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
    return ManualResult(reports, 0 if fine else 1)


def _with_text(app: App, delivery: NewDelivery, text: str, option: str) -> NewDelivery:
    checked = _checked_text(app, delivery.platform, text, option)
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
    app: App,
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
        return _report(None, delivery, S.SKIPPED), False
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
        return _scheduled(app, store.deliveries.delivery(delivery_id)), True
    report = _send_now(app, story_id, delivery_id, clock, sleep)
    return report, report.status in (S.PUBLISHED, S.DRY_RUN)


# --- sending -----------------------------------------------------------------------------------


def _go(
    app: App,
    story_id: int,
    rows: Sequence[DeliveryRow],
    at: float | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> ManualResult:
    """Send the new deliveries now, or report them scheduled."""
    if at is not None:
        return ManualResult([_scheduled(app, row) for row in rows], 0)
    reports = [_send_now(app, story_id, row.id, clock, sleep) for row in rows]
    ok = all(r.status in (S.PUBLISHED, S.DRY_RUN) for r in reports)
    return ManualResult(reports, 0 if ok else 1)


def _scheduled(app: App, row: DeliveryRow) -> DeliveryReport:
    report = report_for(row, S.QUEUED.value, next_attempt_at=row.next_attempt_at)
    when = describe(row.next_attempt_at, app.settings.tz)
    report.note = (
        f"scheduled for {when} as delivery {row.id}: the worker sends it then (`main.py queue` "
        f"shows it, `main.py cancel {row.id}` removes it)"
    )
    return report


def _send_now(
    app: App,
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


def _settled(app: App, story_id: int, report: DeliveryReport) -> DeliveryReport:
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


def _preview(publisher: Publisher, d: NewDelivery, at: float | None) -> DeliveryReport:
    """A dry run runs the checks a live post makes before sending, and says what they decide."""
    try:
        publisher.preflight(d.post)
    except PublishError as exc:
        return replace(_report(None, d, verdict(exc)), error=exc.message)
    report = _report(None, d, S.DRY_RUN)
    report.next_attempt_at = at
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
        title=post.parts.get("title"),
    )
