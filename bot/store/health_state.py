"""What `status` and the health checks read beyond plain counts: recent troubles and posts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select

from bot.store.base import StoreBase
from bot.store.schema import deliveries

TROUBLE_STATUSES = ("failed", "needs_attention")


class HealthStore(StoreBase):
    """Read-only queries for health."""

    def recent_troubles(self, since: float) -> dict[str, dict[str, dict[str, Any]]]:
        """Per platform and trouble status (failed, needs_attention) entered since `since`:
        how many, and the reason and time of the latest."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        recent = and_(deliveries.c.status.in_(TROUBLE_STATUSES), deliveries.c.updated_at >= since)
        with self._read() as conn:
            for platform, status, count, last_at in conn.execute(
                select(
                    deliveries.c.platform,
                    deliveries.c.status,
                    func.count(),
                    func.max(deliveries.c.updated_at),
                )
                .where(recent)
                .group_by(deliveries.c.platform, deliveries.c.status)
            ):
                out.setdefault(platform, {})[status] = {"count": int(count), "last_at": last_at}
            for platform, status, reason, at in conn.execute(
                select(
                    deliveries.c.platform,
                    deliveries.c.status,
                    deliveries.c.reason,
                    deliveries.c.updated_at,
                )
                .where(recent)
                .order_by(deliveries.c.updated_at)
            ):
                entry = out[platform][status]
                if at == entry["last_at"]:
                    entry["last_reason"] = reason
        return out

    def made_since(self, since: float) -> dict[str, dict[str, int]]:
        """Per platform: published and dry-run posts made since `since`."""
        out: dict[str, dict[str, int]] = {}
        with self._read() as conn:
            for platform, status, count in conn.execute(
                select(deliveries.c.platform, deliveries.c.status, func.count())
                .where(
                    and_(
                        deliveries.c.status.in_(("published", "dry_run")),
                        deliveries.c.published_at >= since,
                    )
                )
                .group_by(deliveries.c.platform, deliveries.c.status)
            ):
                out.setdefault(platform, {})[status] = int(count)
        return out
