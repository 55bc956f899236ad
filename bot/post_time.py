"""`post --at TIME`: when a person wants a post to go out, as an epoch time. Pure, no clock read.

Three spellings, because people write times three ways:
- a wall-clock time in TIMEZONE: `2026-12-06 09:00` (seconds optional; `T` accepted for the space);
- ISO 8601 with its own offset: `2026-12-06T09:00:00+01:00` or `...Z`;
- a delay from now: `+2h`, `+90m`, `+1h30m`, `+1d`.
A wall-clock time that does not exist (skipped by a DST change) or is ambiguous (repeated by one)
is refused rather than guessed, and so is a time already past: a scheduled post that would go out
the moment it is queued was almost always a typo in the date.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.errors import ConfigError
from bot.settings_values import parse_duration

PAST_GRACE = 60.0
"""A time up to a minute ago is taken as "now": the command took a moment to type and start."""

_EXAMPLES = "'2026-12-06 09:00' (in TIMEZONE), '2026-12-06T09:00:00+01:00' or '+2h'"


def parse_at(raw: str, now: float, tz: ZoneInfo) -> float:
    """The epoch time `raw` names, at or after `now` (less PAST_GRACE); ConfigError otherwise."""
    text = raw.strip()
    if text.startswith("+"):
        try:
            return now + parse_duration("--at", text[1:])
        except ConfigError:
            raise ConfigError(f"--at {raw!r} is not a delay; use e.g. +2h or +1h30m") from None
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ConfigError(f"--at {raw!r} is not a time; use {_EXAMPLES}") from None
    if parsed.tzinfo is None:
        parsed = _local(parsed, tz, raw)
    at = parsed.timestamp()
    if at < now - PAST_GRACE:
        shown = datetime.fromtimestamp(at, UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
        raise ConfigError(
            f"--at {raw!r} ({shown}) is in the past; give a later time, or leave --at out to "
            "post now"
        )
    return max(at, now)


def _local(naive: datetime, tz: ZoneInfo, raw: str) -> datetime:
    """`naive` read in `tz`, refusing a time that a DST change skips or repeats there."""
    early = naive.replace(tzinfo=tz, fold=0)
    late = naive.replace(tzinfo=tz, fold=1)
    if early.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        raise ConfigError(
            f"--at {raw!r} does not exist in {tz.key} (the clocks go forward then); "
            "give another time"
        )
    if early.utcoffset() != late.utcoffset():
        raise ConfigError(
            f"--at {raw!r} is ambiguous in {tz.key} (the clocks go back then); give the offset, "
            "e.g. 2026-11-01T01:30:00-04:00"
        )
    return early


def describe(at: float, tz: ZoneInfo) -> str:
    """A scheduled time for a person: in TIMEZONE, with the zone's abbreviation."""
    return datetime.fromtimestamp(at, UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
