"""Pure timing rules for publishing: retry backoff, quiet hours, spacing and hourly caps.

Kept apart from the engine so every rule is a plain function of (settings, times) that tests can
drive with any clock, and so the engine stays the one place that *acts* on them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.settings import QuietHours

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
    """Per-platform sending rules: POST_SPACING, MAX_POSTS_PER_HOUR and QUIET_HOURS."""

    spacing: float = 0.0
    max_per_hour: int | None = None
    quiet: QuietHours | None = None
    tz: ZoneInfo = UTC_ZONE

    @property
    def limits_posts(self) -> bool:
        """Whether any rule can hold a post back (else the engine skips the checks)."""
        return bool(self.spacing or self.max_per_hour is not None or self.quiet is not None)

    def wait_until(
        self, now: float, last_post_at: float | None, recent_posts: Sequence[float]
    ) -> tuple[float, str] | None:
        """None when a post may go out now, else (earliest time, why) — never a drop."""
        if self.quiet is not None:
            local = datetime.fromtimestamp(now, UTC).astimezone(self.tz)
            if self.quiet.contains(local.time().replace(tzinfo=None)):
                return self._quiet_end(local), f"quiet hours until {self.quiet.end:%H:%M}"
        if self.spacing and last_post_at is not None and now < last_post_at + self.spacing:
            return last_post_at + self.spacing, f"POST_SPACING of {self.spacing:g}s"
        if self.max_per_hour is not None:
            window = [t for t in recent_posts if t > now - 3600]
            if len(window) >= self.max_per_hour:
                oldest = sorted(window)[len(window) - self.max_per_hour]
                return oldest + 3600, f"MAX_POSTS_PER_HOUR={self.max_per_hour} reached"
        return None

    def _quiet_end(self, local: datetime) -> float:
        assert self.quiet is not None
        end = local.replace(
            hour=self.quiet.end.hour, minute=self.quiet.end.minute, second=0, microsecond=0
        )
        if end <= local:
            from datetime import timedelta

            end = end + timedelta(days=1)
        return end.timestamp()
