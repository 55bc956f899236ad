"""Token expiry: Facebook and Instagram tokens end (60 days for most long-lived tokens, and their
data access after 90), and a bot that runs for months must say so two weeks ahead.

Checked once a day by the worker and every time by `check`, with Graph's `debug_token`. A check
that fails (network, Graph down, even a refused token) is logged in one line and tried again the
next day; it never pauses a platform: pausing is for a post that was refused.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.errors import PublishError
from bot.health import duration

if TYPE_CHECKING:
    from bot.models import TokenInfo
    from bot.platforms.base import Publisher
    from bot.store.platform_state import PlatformStore

log = logging.getLogger("bot.tokens")
CHECK_EVERY = 86400.0


def read_token(publisher: Publisher) -> TokenInfo | None:
    """The token's facts, or None where the platform has no such look-up or it failed."""
    try:
        return publisher.token_info()
    except PublishError as exc:
        log.warning(f"{publisher.name}: could not read the token's expiry ({exc.message}); "
                    "trying again tomorrow. Nothing is paused for this")  # fmt: skip
        return None


def daily_token_check(
    publishers: Mapping[str, Publisher], platforms: PlatformStore, now: float
) -> list[TokenInfo]:
    """Once a day per platform (across workers: the time of the last look is in the store).
    What was read is returned; bot.notify says what is about to expire."""
    found: list[TokenInfo] = []
    for name, publisher in publishers.items():
        if not publisher.has_token_info:
            continue
        key = f"token_checked_at:{name}"
        last = platforms.get_meta(key)
        if last is not None and now - float(last) < CHECK_EVERY:
            continue
        platforms.set_meta(key, repr(now))  # a failed look waits a day too
        info = read_token(publisher)
        if info is not None:
            found.append(info)
    return found


def describe_token(info: TokenInfo, now: float) -> list[str]:
    """What `check` prints about a Graph token: type, scopes, expiry of token and data access."""
    lines = [f"token type: {info.type or 'unknown'}" + ("" if info.is_valid else " (NOT VALID)")]
    lines.append("scopes: " + (", ".join(info.scopes) if info.scopes else "none listed"))
    for what, at in (
        ("expires", info.expires_at),
        ("data access expires", info.data_access_expires_at),
    ):
        if at is None:
            lines.append(f"{what}: never")
            continue
        day = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        left = f"in {duration(at - now)}" if at > now else f"{duration(now - at)} ago"
        soon = " - RENEW IT SOON" if at - now <= 14 * 86400 else ""
        lines.append(f"{what}: {day} ({left}){soon}")
    return lines
