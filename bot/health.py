"""Is the bot doing its job? The reasons `status` gives for "no", each one a thing to act on.

Pure: the facts come in (from the store, via `bot.status`), the reasons go out. A reason is
unhealthy on purpose only when posts are not going out, or went wrong, and will not put
themselves right: a paused platform, a post failed for good or waiting for a person, a dead or
long-failing feed, no poll for three intervals, a budget that stops posting. A rate limit or a
deferred retry heals by itself and is shown, not counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings
    from bot.store import Store

RECENT = 24 * 3600.0
"""How far back a failed delivery keeps `status` red: long enough to be seen the next morning."""


@dataclass(frozen=True)
class Reason:
    """One cause of ill health; `kind` is stable for scripts, `message` is for people."""

    kind: str
    message: str
    platform: str | None = None
    feed: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


HealthCheck = Callable[["Store", "Settings", float], list[Reason]]
"""An extra check, run by `status` after the built-in ones: (store, settings, now) -> reasons."""

EXTRA_CHECKS: list[HealthCheck] = []
"""Where later features hook their own health in. Budgets (issue 19) register a check that
returns a `Reason("budget", ..., platform=...)` while a spending cap stops a platform's posts;
`bot.notify` turns the same reason into a "budget reached" notification."""


def platform_reasons(
    name: str,
    state: dict[str, Any],
    troubles: dict[str, dict[str, Any]],
) -> list[Reason]:
    """A paused platform, and its deliveries that failed for good or need attention lately."""
    out: list[Reason] = []
    if state.get("paused") and state.get("paused_by") == "hand":
        text = f"{name} is paused by hand: nothing is sent there until `main.py resume {name}`"
        out.append(Reason("platform_paused", text, platform=name))
    elif state.get("paused"):
        why = state.get("paused_reason") or "no reason recorded"
        out.append(Reason("platform_paused", f"{name} is paused: {why}", platform=name))
    for status, kind in (
        ("failed", "delivery_failed"),
        ("needs_attention", "delivery_needs_attention"),
    ):
        trouble = troubles.get(status)
        count = int(trouble.get("count") or 0) if trouble else 0
        if not count:
            continue
        posts = f"{count} {name} post{'s' if count != 1 else ''}"
        if status == "failed":
            text = f"{posts} failed for good in the last 24 h"
        else:
            verb = "needs" if count == 1 else "need"
            text = f"{posts} {verb} attention (see `queue`, settle with `resolve`)"
        last = trouble.get("last_reason") if trouble else None
        out.append(Reason(kind, text + (f"; last: {last}" if last else ""), platform=name))
    return out


def feed_reasons(
    url: str,
    *,
    disabled: bool,
    failures: int,
    failing_since: float | None,
    last_error: str | None,
    now: float,
    period: float,
) -> list[Reason]:
    """A disabled feed, or one failing for longer than three poll intervals."""
    if disabled:
        why = f": {last_error}" if last_error else ""
        return [Reason("feed_disabled", f"feed {url} is disabled{why}", feed=url)]
    if failures <= 0 or failing_since is None:
        return []
    lasted = now - failing_since
    if lasted <= 3 * period:
        return []
    text = f"feed {url} has been failing for {duration(lasted)} ({failures} tries)" + (
        f": {last_error}" if last_error else ""
    )
    return [Reason("feed_failing", text, feed=url)]


def poll_reasons(last_poll_at: float | None, now: float, period: float) -> list[Reason]:
    """No poll finished within three intervals: nothing new can be found."""
    if last_poll_at is None:
        return [Reason("never_polled", "no poll has ever run: start the worker (`run`)")]
    if now - last_poll_at <= 3 * period:
        return []
    return [
        Reason(
            "stale",
            f"no poll for {duration(now - last_poll_at)} (more than three intervals of "
            f"{duration(period)}): is the worker running?",
        )
    ]


def duration(seconds: float) -> str:
    """A span as people say it: "45 s", "3 min", "2 h 5 min", "3 days 4 h"."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} days" + (f" {hours} h" if hours else "")


def relative(epoch: float | None, now: float) -> str:
    """ "3 min ago", "in 4 min", "just now"; "never" for no time at all."""
    if epoch is None:
        return "never"
    delta = epoch - now
    if abs(delta) < 1:
        return "just now"
    return f"in {duration(delta)}" if delta > 0 else f"{duration(-delta)} ago"
