"""How long a failing feed rests before the next try: pure arithmetic, the engine keeps the count.

Exponential so a dead feed costs almost nothing, capped so a feed that recovers is picked up
again within hours, and never shorter than what the server asked for with Retry-After.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def feed_backoff(
    failures: int, *, base: float = 60, cap: float = 6 * 3600, retry_after: float | None = None
) -> float:
    """Seconds to wait after the `failures`-th failure in a row (1 -> base, 2 -> 2*base, ...).

    A Retry-After longer than the exponential delay wins, but even it is capped at `cap`, so a
    server that says "come back next year" is still retried within the cap.
    """
    if failures <= 0:
        delay = 0.0
    else:
        exponent = min(failures - 1, 64)  # 2**64 * base is past any cap; avoids huge floats
        delay = min(float(cap), float(base) * 2.0**exponent)
    if retry_after is not None and math.isfinite(retry_after) and retry_after > delay:
        delay = min(float(cap), float(retry_after))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After in either form (delta-seconds or an HTTP-date) as seconds from `now`.

    None when absent or unreadable; a date in the past means "now" (0 seconds).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
