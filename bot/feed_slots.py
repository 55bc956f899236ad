"""A feed's own posting slots (`post_slots` in FEEDS_FILE): its posts wait for its next slot.

Pure. A new post of such a feed is held (its delivery due) until the first of the feed's slot
openings after it arrived that still has room for `slot_size` posts of this feed on this
platform; a story arriving at 16:00 waits for the 17:00 slot, never slipping into the 12:30
one. The platform's own pacing (POST_SPACING, hourly caps, POST_SLOTS_<PLATFORM>) still applies
when it is sent. Openings are worked out on the local calendar, so 09:00 stays 09:00 across DST.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 366
"""How far ahead a slot with room is looked for (a backlog larger than that is not held)."""


def openings_after(times: tuple[time, ...], tz: ZoneInfo, now: float, days: int) -> list[float]:
    """Every opening of `times` after `now`, over the next `days` days, in order."""
    today = datetime.fromtimestamp(now, UTC).astimezone(tz).date()
    found = (
        datetime.combine(today + timedelta(days=offset), t, tzinfo=tz).timestamp()
        for offset in range(days + 1)
        for t in times
    )
    return sorted(o for o in found if o > now)


def next_slots(
    times: tuple[time, ...],
    tz: ZoneInfo,
    now: float,
    size: int,
    taken: Mapping[float, int],
    count: int,
) -> list[float]:
    """When each of `count` new posts goes out: the openings after `now` with room, given how
    many of the feed's posts each opening already holds (`taken`)."""
    days = 1
    while True:
        out: list[float] = []
        for opening in openings_after(times, tz, now, days):
            room = max(0, size - taken.get(opening, 0))
            out.extend([opening] * min(room, count - len(out)))
            if len(out) == count:
                return out
        if days >= MAX_DAYS:
            return out + [out[-1] if out else now] * (count - len(out))
        days = min(MAX_DAYS, days * 4)
