"""What posts cost: one row per published delivery on a platform that charges (X_MONTHLY_BUDGET)."""

from __future__ import annotations

from sqlalchemy import and_, func, select, update

from bot.models import DeliveryStatus
from bot.store.base import StoreBase
from bot.store.schema import deliveries, spend

OVER_BUDGET = "X_MONTHLY_BUDGET of "
"""How the reason of a post deferred by the budget begins (bot.delivery writes it)."""


class SpendStore(StoreBase):
    def record_spend(
        self, platform: str, delivery_id: int, amount: float, month: str, now: float
    ) -> bool:
        """Record a post's price once; False when this delivery was already counted."""
        with self._tx() as conn:
            result = conn.execute(
                self._insert_ignore(spend).values(
                    platform=platform,
                    delivery_id=delivery_id,
                    month=month,
                    amount=amount,
                    spent_at=now,
                )
            )
            return bool(result.rowcount)

    def spent_in_month(self, platform: str, month: str) -> float:
        with self._read() as conn:
            total = conn.execute(
                select(func.coalesce(func.sum(spend.c.amount), 0.0)).where(
                    and_(spend.c.platform == platform, spend.c.month == month)
                )
            ).scalar()
        return float(total or 0.0)

    def spend_by_month(self, month: str) -> dict[str, tuple[float, int]]:
        """Platform -> (USD spent, posts) in `month`, for `status`."""
        with self._read() as conn:
            rows = conn.execute(
                select(spend.c.platform, func.sum(spend.c.amount), func.count())
                .where(spend.c.month == month)
                .group_by(spend.c.platform)
            ).all()
        return {str(p): (float(total or 0.0), int(count)) for p, total, count in rows}

    def release_over_budget(self, platform: str, now: float) -> int:
        """Make the posts the budget deferred due now (the budget was raised or lifted: the
        settings in force decide, not the ones of the day they were deferred)."""
        with self._tx() as conn:
            result = conn.execute(
                update(deliveries)
                .where(
                    and_(
                        deliveries.c.platform == platform,
                        deliveries.c.status == DeliveryStatus.DEFERRED.value,
                        deliveries.c.next_attempt_at > now,
                        deliveries.c.reason.startswith(OVER_BUDGET),
                    )
                )
                .values(next_attempt_at=now, updated_at=now)
            )
            return int(result.rowcount or 0)
