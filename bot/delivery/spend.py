"""A platform's monthly budget (paid APIs), judged when sending: a post that would take the month
over it waits for the 1st of next month; what a post cost is recorded once per delivery."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.budget import Budget, month_of, next_month_start
from bot.delivery.report import DeliveryReport, iso, report_for
from bot.models import DeliveryStatus
from bot.store import DeliveryRow
from bot.store.delivery_queue import DeliveryStore
from bot.store.platform_state import PlatformStore
from bot.store.spend import SpendStore

log = logging.getLogger("bot.delivery")
S = DeliveryStatus


class SpendGuard:
    """Holds posts back while the budget in force is spent; charges each post once."""

    def __init__(
        self,
        spend: SpendStore,
        deliveries: DeliveryStore,
        platforms: PlatformStore,
        clock: Callable[[], float],
    ) -> None:
        self.spend = spend
        self.deliveries = deliveries
        self.platforms = platforms
        self.clock = clock

    def over_budget(self, budget: Budget, row: DeliveryRow) -> DeliveryReport | None:
        """Defer a post that would take this month over the budget to the 1st of next month."""
        now = self.clock()
        month = month_of(now)
        spent = self.spend.spent_in_month(row.platform, month)
        price = budget.price(row.post)
        if budget.allows(spent, price):
            return None
        until = next_month_start(now)
        reason = (
            f"{budget.variable} of ${budget.monthly:.2f} reached: ${spent:.2f} spent in {month}, "
            f"this post costs ${price:.2f}; it waits for {iso(until)}"
        )
        self.deliveries.finish(
            row, S.DEFERRED, now, reason=reason, next_attempt_at=until, event_kind="over_budget"
        )
        log.warning("budget: deferred to next month", extra={"platform": row.platform})
        self._notice(budget, row.platform, month, 100, spent)
        return report_for(row, S.DEFERRED.value, error=reason, next_attempt_at=until)

    def release_if_allowed(self, budget: Budget, platform: str) -> None:
        """Posts deferred by the budget wait for next month only while the budget in force
        still holds them: raised or lifted, they are due again now."""
        now = self.clock()
        spent = self.spend.spent_in_month(platform, month_of(now))
        if budget.allows(spent, max(budget.price_post, budget.price_post_url)):
            released = self.spend.release_over_budget(platform, now)
            if released:
                log.info(
                    "budget: posts deferred to next month are due again",
                    extra={"platform": platform, "count": released},
                )

    def charge(self, budget: Budget, row: DeliveryRow) -> None:
        """Record what the post cost (once per delivery) and notify at 80% and 100%."""
        now = self.clock()
        month = month_of(now)
        before = self.spend.spent_in_month(row.platform, month)
        price = budget.price(row.post)
        if not self.spend.record_spend(row.platform, row.id or 0, price, month, now):
            return
        for threshold in budget.crossed(before, before + price):
            self._notice(budget, row.platform, month, threshold, before + price)

    def _notice(
        self, budget: Budget, platform: str, month: str, threshold: int, spent: float
    ) -> None:
        """One log line per threshold and month, whichever worker crosses it (notifications
        come from `bot.notify`, which reads the same spend from the store)."""
        key = f"budget_notice:{platform}:{month}:{threshold}"
        if self.platforms.get_meta(key):
            return
        self.platforms.set_meta(key, repr(self.clock()))
        message = (
            f"{platform}: ${spent:.2f} of the ${budget.monthly:.2f} {budget.variable} spent in "
            f"{month} ({threshold}%)"
            + ("; further posts wait for next month" if threshold >= 100 else "")
        )
        log.warning("budget: " + message, extra={"platform": platform})
