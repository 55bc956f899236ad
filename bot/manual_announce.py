"""Announcements (`post --text ...`, no URL): a post that is no story at all, such as "Meet us at
JCK Las Vegas, booth 1234" or a photo from the show floor.

Recorded like any delivery: a row in `stories` (its identity is `manual:...`, its status
`manual`, so nothing that walks the feed's stories ever picks it up), deliveries with their
history, reconciliation after a crash. Exactly once for a person: the identity is a hash of the
texts, picture and platforms (or `--id NAME`); the same command again reports the earlier post
and sends nothing, and `--force` posts again on purpose.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from bot.compose.text import clean
from bot.delivery import DeliveryReport, report_for
from bot.errors import ConfigError
from bot.manual_checks import (
    ManualApp,
    ManualRequest,
    ManualResult,
    check_image,
    checked_text,
    inert,
)
from bot.manual_image import ManualImage, load_image
from bot.manual_send import dry_report, send_or_schedule
from bot.models import DeliveryStatus, Post, Story
from bot.store import DeliveryRow, NewDelivery

log = logging.getLogger("bot.manual")
S = DeliveryStatus
MANUAL_PREFIX = "manual:"
MANUAL_FEED = "manual"
"""The `feed_url` of an announcement's story row: it came from a person, not from a feed."""
MANUAL_STATUS = "manual"
"""The `status` of an announcement's story row ("queued" and "skipped" are the feed's)."""
MAX_ID = 100
TITLE_MAX = 120
SETTLED_EARLIER = frozenset({S.PUBLISHED, S.QUEUED, S.DEFERRED, S.SENDING, S.DRY_RUN})
"""An earlier delivery in one of these states is out, or will go out: the repeat is fine."""


def announce(
    app: ManualApp,
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
        text = inert(app, name, text, request.allow_mentions)
        texts[name] = checked_text(app, name, text, option)
    image = load_image(app.http, request.image) if request.image else None
    for name in names:
        check_image(name, app.engine.publishers[name].limits, image)
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
        return ManualResult([dry_report(publishers[d.platform], d, at) for d in _new(posts, at)], 0)

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
        return send_or_schedule(app, story_id, rows, at, clock, sleep)
    known = app.store.stories.story_by_identity(identity)
    assert known is not None  # the identity is unique and rows are never deleted
    story_id = known[0]
    existing = app.store.deliveries.deliveries_for_story(story_id)
    if request.force:
        ids = _add_again(app, story_id, existing, posts, at, clock())
        rows = [app.store.deliveries.delivery(i) for i in ids]
        return send_or_schedule(app, story_id, rows, at, clock, sleep)
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
    app: ManualApp,
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
    app: ManualApp,
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
    result = send_or_schedule(app, story_id, rows, at, clock, sleep)
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
