"""A feed's date as an aware UTC datetime.

The date is stored with the story and, for a story with neither a stable guid nor a link, is
part of its identity (bot.feeds.identity): the same text must always give the same instant
(tests/test_feeds_identity.py holds it to the frozen code of earlier releases).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

_RFC822_RE = re.compile(
    r"\s*(?:[A-Za-z]{3,9},?\s*)?(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?\s+(\d{4})\s+"
    r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(?:([+-])(\d{2}):?(\d{2})|(GMT|UTC|UT|Z))?\s*\Z"
)
"""RFC 822 as feeds write it: optional weekday, day, month (its first three letters count),
four-digit year, hours and minutes, optional seconds, a numeric offset or GMT/UTC/UT/Z or
nothing (UTC). Other zone names are left to the readers after it."""
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


def parse_date(value: str | None) -> datetime | None:
    """A feed date as aware UTC, or None when no reader makes sense of it.

    The readers, first success wins:
    1. RFC 822 in its common shape (_RFC822_RE; RSS's pubDate);
    2. text starting with four digits: ISO 8601 / RFC 3339 (Atom, JSON Feed), by
       `datetime.fromisoformat`, a lower-case "z" read as "Z";
       any other text: RFC 2822 with its zone names, by `email.utils`;
    3. feedparser's readers for the rest of the zoo (W3CDTF partials, Korean, Greek,
       Hungarian...), whose result is taken as UTC.
    A date without a zone is UTC, as feedparser has it too.
    """
    if not value:
        return None
    value = value.strip()
    if not value:
        return None
    match = _RFC822_RE.match(value)
    parsed = _rfc822(match) if match is not None else None
    if parsed is not None:
        return parsed
    parsed = _iso8601(value) if value[:4].isdigit() else _rfc2822(value)
    if parsed is None:
        parsed = _feedparser_date(value)
        if parsed is None:
            return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):  # a zone offset that leaves datetime's range
        return None


def _rfc822(match: re.Match[str]) -> datetime | None:
    """The instant _RFC822_RE matched; None for a date that does not exist (31 Nov)."""
    day, mon, year, hour, minute, second, sign, tzh, tzm, _zone = match.groups()
    month = _MONTHS.get(mon.lower())
    if month is None:
        return None
    try:
        parsed = datetime(
            int(year), month, int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC
        )
    except ValueError:
        return None
    if sign:
        offset = timedelta(hours=int(tzh), minutes=int(tzm))
        parsed = parsed - offset if sign == "+" else parsed + offset
    return parsed


def _iso8601(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None


def _rfc2822(value: str) -> datetime | None:
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None


def _feedparser_date(value: str) -> datetime | None:
    from feedparser.datetimes import _parse_date  # local: rarely needed, 80 ms to import

    try:
        parsed = _parse_date(value)
        if parsed is None:
            return None
        return datetime(*parsed[:6], tzinfo=UTC)
    except (ValueError, OverflowError, TypeError):
        return None
