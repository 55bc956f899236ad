"""Pure timing rules for publishing: retry backoff, quiet hours, spacing, hourly caps and slots.

Kept apart from the engine so every rule is a plain function of (settings, times) that tests can
drive with any clock, and so the engine stays the one place that *acts* on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.models import QuietHours

MAX_RETRY_DELAY = 3600.0
UTC_ZONE = ZoneInfo("UTC")


def retry_delay(failures: int, base: float, rng: Callable[[], float]) -> float:
    """Exponential backoff with equal jitter: base·2^(n-1), capped at 1 h, then 50–100 % of it.

    Jitter keeps several workers (or several deliveries) from retrying in lock-step.
    """
    raw = min(MAX_RETRY_DELAY, base * (2 ** max(0, failures - 1)))
    return raw / 2 + rng() * raw / 2


@dataclass(frozen=True, slots=True)
class Pacing:
    """Per-platform sending rules: POST_SPACING, MAX_POSTS_PER_HOUR, QUIET_HOURS and the posting
    slots of POST_SLOTS_<PLATFORM> (SLOT_SIZE posts each), all judged when sending.

    A slot opens at its time and lasts until the next slot; it takes SLOT_SIZE posts, and only
    posts that were waiting when it opened (a story arriving at 16:00 waits for the 17:00 slot,
    it does not slip into the 12:30 one). Quiet hours, spacing and hourly caps still apply
    inside a slot: a slot inside quiet hours is used when they end, if it is still open.
    """

    spacing: float = 0.0
    max_per_hour: int | None = None
    quiet: QuietHours | None = None
    tz: ZoneInfo = UTC_ZONE
    slots: Mapping[str, tuple[time, ...]] = field(default_factory=dict)
    slot_size: int = 1
    hourly_caps: Mapping[str, int] = field(default_factory=dict)
    """Each platform's default cap, used when `max_per_hour` (MAX_POSTS_PER_HOUR) is None."""

    @property
    def limits_posts(self) -> bool:
        """Whether any rule can hold a post back (else the engine skips the checks)."""
        return bool(
            self.spacing
            or self.max_per_hour is not None
            or self.quiet is not None
            or self.slots
            or self.hourly_caps
        )

    def slot_bounds(self, platform: str, now: float) -> tuple[float, float] | None:
        """(opening of the slot in force at `now`, opening of the next one); None without slots.
        Worked out on the local calendar, so a slot stays at 09:00 across a DST change."""
        times = self.slots.get(platform)
        if not times:
            return None
        today = datetime.fromtimestamp(now, UTC).astimezone(self.tz).date()
        openings = sorted(
            datetime.combine(today + timedelta(days=offset), t, tzinfo=self.tz).timestamp()
            for offset in (-1, 0, 1)
            for t in times
        )
        start = max(o for o in openings if o <= now)
        return start, min(o for o in openings if o > now)

    def cap_for(self, platform: str | None) -> tuple[int | None, str]:
        """(posts an hour or None, the setting to name when it holds a post back)."""
        if self.max_per_hour is not None:
            return self.max_per_hour, f"MAX_POSTS_PER_HOUR={self.max_per_hour}"
        cap = self.hourly_caps.get(platform or "")
        return cap, f"the default of {cap} posts an hour (set MAX_POSTS_PER_HOUR to change it)"

    def wait_until(
        self,
        now: float,
        last_post_at: float | None,
        recent_posts: Sequence[float],
        *,
        platform: str | None = None,
        posted_since: Callable[[float], int] | None = None,
    ) -> tuple[float, str] | None:
        """None when a post may go out now, else (earliest time, why) — never a drop.

        `posted_since(t)` counts the platform's posts since t (for slots, with `platform`)."""
        if self.quiet is not None:
            local = datetime.fromtimestamp(now, UTC).astimezone(self.tz)
            if self.quiet.contains(local.time().replace(tzinfo=None)):
                return self._quiet_end(local), f"quiet hours until {self.quiet.end:%H:%M}"
        if self.spacing and last_post_at is not None and now < last_post_at + self.spacing:
            return last_post_at + self.spacing, f"POST_SPACING of {self.spacing:g}s"
        cap, named = self.cap_for(platform)
        if cap:  # 0: MAX_POSTS_PER_HOUR=0 set on purpose, no cap at all
            window = [t for t in recent_posts if t > now - 3600]
            if len(window) >= cap:
                oldest = sorted(window)[len(window) - cap]
                return oldest + 3600, f"{named} reached"
        bounds = self.slot_bounds(platform, now) if platform else None
        if bounds is not None and posted_since is not None:
            start, following = bounds
            if posted_since(start) >= self.slot_size:
                opened = datetime.fromtimestamp(start, UTC).astimezone(self.tz)
                return following, (
                    f"POST_SLOTS_{(platform or '').upper()}: the {opened:%H:%M} slot is full"
                )
        return None

    def _quiet_end(self, local: datetime) -> float:
        assert self.quiet is not None
        end = local.replace(
            hour=self.quiet.end.hour, minute=self.quiet.end.minute, second=0, microsecond=0
        )
        if end <= local:
            end = end + timedelta(days=1)
        return end.timestamp()
