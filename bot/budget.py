"""Money per post: X charges for every post (more when it carries a URL); X_MONTHLY_BUDGET caps a
month's total. Pure: prices and months from plain values, no store and no clock.

A post that would take the month over its budget is deferred to the first second of the next
month (UTC), never failed or dropped: the budget is a pace, not a filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.models import Post
from bot.twitter_text_parts import extract_urls_with_indices

THRESHOLDS = (80, 100)
"""Percentages of the budget at which a notification goes out, once each a month."""


@dataclass(frozen=True, slots=True)
class Budget:
    """One platform's prices (USD) and monthly cap; `monthly` None records spend, caps nothing."""

    price_post: float
    price_post_url: float
    monthly: float | None = None
    variable: str = "X_MONTHLY_BUDGET"

    def price(self, post: Post) -> float:
        """The post's price: with a URL anywhere in its text (as X finds URLs, "jck.com" too)
        or beside it, the URL price."""
        has_url = bool(post.link) or bool(extract_urls_with_indices(post.text))
        return self.price_post_url if has_url else self.price_post

    def allows(self, spent: float, price: float) -> bool:
        if self.monthly is None:
            return True
        return spent + price <= self.monthly + 1e-9  # cents added as floats must not tip it

    def crossed(self, before: float, after: float) -> list[int]:
        """The thresholds (percent) passed by going from `before` to `after` spent."""
        if not self.monthly:
            return []
        return [t for t in THRESHOLDS if before < self.monthly * t / 100 <= after + 1e-9]


def month_of(epoch: float) -> str:
    """The UTC month a moment counts in, e.g. "2026-12"."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m")


def next_month_start(epoch: float) -> float:
    """00:00:00 UTC on the 1st of the month after `epoch`."""
    moment = datetime.fromtimestamp(epoch, UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).timestamp()
