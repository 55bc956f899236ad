"""What the pages show: plain dictionaries built from the store, the settings and the composer.

No Starlette here: these functions are the web face's logic, tested without a server.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bot.errors import Unsuitable
from bot.feedsfile import rules_of
from bot.models import DeliveryStatus, Post
from bot.platforms import registry
from bot.settings import Settings
from bot.store.review import ListedDelivery
from bot.web.context import WebContext

S = DeliveryStatus
WAITING = (
    S.PENDING_APPROVAL.value,
    S.QUEUED.value,
    S.DEFERRED.value,
    S.SENDING.value,
    "unconfirmed",  # an attempt that may have gone out, being looked up (issue 14)
    "needs_attention",
)
QUEUE_STATUSES = (*WAITING, S.FAILED.value)


def when(epoch: float | None) -> str:
    if not epoch:
        return "never"
    return datetime.fromtimestamp(float(epoch), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _due(at: float, now: float) -> str:
    """When a waiting delivery may go: pacing (spacing, hourly cap, quiet hours) may hold a
    due one longer, and the page says so rather than promise a time."""
    return when(at) if at > now else "now, as pacing allows"


def delivery_view(ctx: WebContext, item: ListedDelivery) -> dict[str, Any]:
    row = item.row
    limits = ctx.limits.get(row.platform)
    length = ctx.composer.measure(row.platform, row.post.text, limits) if limits else None
    status = row.status
    return {
        "id": row.id,
        "story_id": row.story_id,
        "platform": row.platform,
        "status": status,
        "title": item.title,
        "story_url": item.story_url,
        "text": row.post.text,
        "link": row.post.link,
        "image_url": row.post.image_url,
        "length": length,
        "limit": limits.max_length if limits else None,
        "weighted": bool(limits and limits.weighted),
        "over": bool(limits and length is not None and length > limits.max_length),
        "reason": row.reason,
        "due": _due(row.next_attempt_at, ctx.clock()) if status in (S.QUEUED, S.DEFERRED) else None,
        "remote_url": row.remote_url,
        "remote_id": row.remote_id,
        "published_at": when(item.published_at),
        "updated_at": when(item.updated_at),
        "can_approve": status == S.PENDING_APPROVAL,
        "can_edit": status in (S.PENDING_APPROVAL, S.QUEUED, S.DEFERRED),
        "can_cancel": status in (S.QUEUED, S.DEFERRED),
        "can_post_now": status in (S.QUEUED, S.DEFERRED),
        "can_retry": status == S.FAILED,
    }


def overview(ctx: WebContext, status: dict[str, Any]) -> dict[str, Any]:
    """The dashboard: `status` is gather_status's answer, the same truth as `status`."""
    web = ctx.settings.web
    platforms = []
    for name, p in status["platforms"].items():
        state = "ok"
        if p.get("paused"):
            state = "paused: " + (p.get("paused_reason") or "")
        elif p.get("rate_limited_until"):
            state = f"rate limited until {p['rate_limited_until']}"
        elif not p.get("configured", True):
            state = "not configured"
        platforms.append({"name": name, "state": state, "approval": web.needs_approval(name), **p})
    recent = [delivery_view(ctx, d) for d in ctx.store.review.recent_posts(limit=15)]
    return {"status": status, "platforms": platforms, "recent": recent}


def queue(ctx: WebContext, platform: str | None = None) -> dict[str, list[dict[str, Any]]]:
    rows = ctx.store.review.list_deliveries(QUEUE_STATUSES, platform=platform, limit=500)
    views = [delivery_view(ctx, d) for d in rows]
    return {
        "pending": [v for v in views if v["status"] == S.PENDING_APPROVAL],
        "waiting": [v for v in views if v["status"] in WAITING[1:]],
        "failed": [v for v in views if v["status"] == S.FAILED],
    }


def story(ctx: WebContext, story_id: int) -> dict[str, Any] | None:
    head = ctx.store.review.story_row(story_id)
    if head is None:
        return None
    deliveries = []
    for row in ctx.store.deliveries.deliveries_for_story(story_id):
        item = ctx.store.review.find_listed(row.id)
        if item is not None:
            deliveries.append(delivery_view(ctx, item))
    events = [
        {
            "at": when(e.get("at")),
            "kind": e.get("kind"),
            "platform": e.get("platform") or "",
            "delivery_id": e.get("delivery_id") or "",
            "detail": e.get("detail") or "",
        }
        for e in ctx.store.stories.story_events(story_id)
    ]
    return {
        "story": {**head, "first_seen": when(head["first_seen_at"])},
        "deliveries": deliveries,
        "events": events,
    }


def measure(ctx: WebContext, delivery_id: int, text: str) -> int | None:
    """The length of a person's text as the delivery's platform counts it."""
    item = ctx.store.review.find_listed(delivery_id)
    limits = ctx.limits.get(item.row.platform) if item else None
    if item is None or limits is None:
        return None
    return ctx.composer.measure(item.row.platform, text.replace("\r\n", "\n").strip(), limits)


class EditRefused(Exception):
    """The edited text breaks a rule the composed text must keep; `message` says which."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def edit_text(ctx: WebContext, delivery_id: int, text: str) -> Post:
    """Validate an edited text exactly as composed text is, then store it (if still unsent)."""
    text = text.replace("\r\n", "\n").strip()
    item = ctx.store.review.find_listed(delivery_id)
    if item is None:
        raise EditRefused(f"delivery {delivery_id} does not exist")
    row = item.row
    limits = ctx.limits.get(row.platform)
    if limits is None:
        raise EditRefused(f"{row.platform} is not a platform this bot knows")
    try:
        ctx.composer.validate(row.platform, text, row.post.link, limits)
    except Unsuitable as exc:
        raise EditRefused(f"not saved: {exc.message}") from None
    parts = {**row.post.parts, "text": "edited"}
    post = Post(
        row.post.platform,
        text,
        link=row.post.link,
        image_url=row.post.image_url,
        alt_text=row.post.alt_text,
        story_url=row.post.story_url,
        parts=parts,
        warnings=row.post.warnings,
    )
    if not ctx.store.review.edit_post(delivery_id, post, ctx.clock()):
        raise EditRefused(
            f"not saved: delivery {delivery_id} is {row.status} or being sent right now; "
            "only posts not yet sent can be edited"
        )
    return post


def _mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def settings_rows(settings: Settings) -> list[tuple[str, str]]:
    """Every setting as a person would write it, secrets shown only as set or not set."""

    def secret(value: object) -> str:
        return "set (hidden)" if value else "not set"

    web = settings.web
    feeds = rules_of(settings)
    rows: list[tuple[str, str]] = [
        ("FEED_URLS", "\n".join(f.url for f in feeds if not f.from_file) or "not set"),
        ("FEEDS_FILE", str(settings.feeds_file) if settings.feeds_file else "not set"),
        *(
            (f"feed {f.name}", f"{f.url}\n{f.schedule_text}; {', '.join(f.platforms)}")
            for f in feeds
            if f.from_file
        ),
        ("PLATFORMS", ", ".join(settings.platforms) or "(none)"),
        ("DRY_RUN", str(settings.dry_run).lower()),
        ("POLL_INTERVAL", f"{settings.poll_interval:g} s"),
        ("POLL_CRON", settings.poll_cron or "not set"),
        ("TIMEZONE", settings.timezone),
        ("DATABASE_URL", _mask_url(settings.database_url)),
        ("BACKLOG", getattr(settings.backlog, "mode", str(settings.backlog))),
        ("MAX_STORY_AGE", f"{settings.max_story_age:g} s" if settings.max_story_age else "off"),
        ("POST_SPACING", f"{settings.post_spacing:g} s"),
        ("MAX_POSTS_PER_HOUR", str(settings.max_posts_per_hour or "no cap")),
        ("QUIET_HOURS", str(settings.quiet_hours) if settings.quiet_hours else "not set"),
        ("RETRY_BASE_SECONDS", f"{settings.retry_base_seconds:g} s"),
        ("MAX_ATTEMPTS", str(settings.max_attempts)),
        ("LOG_LEVEL", settings.log_level),
        ("WEB_HOST", web.host),
        ("WEB_PORT / PORT", str(web.port) if web.port else "not set"),
        ("WEB_PASSWORD", secret(web.password)),
        ("PUBLIC_URL", web.public_url or "not set (WebSub off)"),
        ("METRICS_TOKEN", secret(web.metrics_token)),
        ("APPROVAL", ", ".join(web.approval) or "off"),
        ("APPROVAL_TIMEOUT", f"{web.approval_timeout:g} s" if web.approval_timeout else "none"),
        ("APPROVAL_DEFAULT", web.approval_default),
    ]
    for scheme, url in sorted(settings.proxies.items()):
        rows.append((f"{scheme.upper()}_PROXY", url if scheme == "no" else _mask_url(url)))
    for platform in registry.names():
        group = settings.section(platform)
        if group is None:
            continue
        for key, value in vars(group).items():
            shown = secret(value) if hasattr(value, "reveal") else str(value)
            rows.append((f"{platform}.{key}", shown))
    return rows
