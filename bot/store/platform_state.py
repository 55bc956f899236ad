"""Platforms (paused, rate limited, pacing history) and small key-value facts (last poll)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    and_,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.store.base import StoreBase
from bot.store.rows import (
    S,
    record_event,
)
from bot.store.schema import deliveries, meta, platform_state

PAUSED_BY_HAND = "hand"
"""`platform_state.paused_by` of a pause a person made (`pause`): the worker never lifts it."""
PAUSED_BY_CREDENTIALS = "credentials"
"""Of a pause for refused credentials: lifted by the worker once the platform accepts them."""


class PlatformStore(StoreBase):
    """The platforms' side of the store, and meta."""

    def platform_states(self) -> dict[str, dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(select(platform_state)).mappings().all()
        return {r["platform"]: dict(r) for r in rows}

    def pause_platform(self, platform: str, reason: str, now: float) -> bool:
        """Pause for refused credentials; returns True when it was not paused before (so the loud
        line is logged once). A pause by hand stays one: only a person lifts it."""
        with self._tx() as conn:
            was = conn.execute(
                select(platform_state.c.paused, platform_state.c.paused_by).where(
                    platform_state.c.platform == platform
                )
            ).first()
            if was and was.paused and was.paused_by == PAUSED_BY_HAND:
                platform_update(conn, platform, last_error=reason, last_error_at=now)
                return False
            platform_update(
                conn,
                platform,
                paused=True,
                paused_by=PAUSED_BY_CREDENTIALS,
                paused_reason=reason,
                paused_at=now,
                last_error=reason,
                last_error_at=now,
            )
            if not (was and was.paused):
                record_event(conn, now, "paused", platform=platform, detail=reason)
            return not (was and was.paused)

    def pause_by_hand(self, platform: str, now: float) -> dict[str, Any] | None:
        """A person's pause: the worker sends nothing on `platform` until `resume`. Returns the
        state before (None when the platform had none), so the caller can say what changed."""
        with self._tx() as conn:
            before = conn.execute(
                select(platform_state).where(platform_state.c.platform == platform)
            ).first()
            if before is not None and before.paused and before.paused_by == PAUSED_BY_HAND:
                return dict(before._mapping)
            platform_update(
                conn,
                platform,
                paused=True,
                paused_by=PAUSED_BY_HAND,
                paused_reason="paused by hand",
                paused_at=now,
            )
            record_event(conn, now, "paused", platform=platform, detail="by hand")
            return dict(before._mapping) if before is not None else None

    def resume_platform(self, platform: str, now: float, *, by_hand: bool = False) -> bool:
        """Lift a pause, whatever caused it; False when the platform was not paused."""
        with self._tx() as conn:
            was = conn.execute(
                select(platform_state.c.paused).where(platform_state.c.platform == platform)
            ).scalar()
            if not was:
                return False
            platform_update(
                conn, platform, paused=False, paused_by=None, paused_reason=None, paused_at=None
            )
            record_event(
                conn, now, "resumed", platform=platform, detail="by hand" if by_hand else None
            )
            return True

    def platform_error(self, platform: str, error: str, now: float) -> None:
        with self._tx() as conn:
            platform_update(conn, platform, last_error=error, last_error_at=now)

    def hold_platform(self, platform: str, until: float, reason: str, now: float) -> None:
        with self._tx() as conn:
            platform_update(
                conn,
                platform,
                hold_until=until,
                hold_reason=reason,
                last_error=reason,
                last_error_at=now,
            )

    def last_post_at(self, platform: str) -> float | None:
        with self._read() as conn:
            return conn.execute(
                select(func.max(deliveries.c.published_at)).where(
                    and_(deliveries.c.platform == platform, deliveries.c.status == S.PUBLISHED)
                )
            ).scalar()

    def published_since(self, platform: str, since: float) -> list[float]:
        """Publish times on `platform` since `since`, oldest first (for MAX_POSTS_PER_HOUR)."""
        with self._read() as conn:
            return list(
                conn.execute(
                    select(deliveries.c.published_at)
                    .where(
                        and_(
                            deliveries.c.platform == platform,
                            deliveries.c.status == S.PUBLISHED,
                            deliveries.c.published_at >= since,
                        )
                    )
                    .order_by(deliveries.c.published_at)
                ).scalars()
            )

    def delivery_counts(self, since: float) -> dict[str, dict[str, Any]]:
        """Per platform: count by status, published since `since`, next deferred time."""
        out: dict[str, dict[str, Any]] = {}
        with self._read() as conn:
            for platform, status, count in conn.execute(
                select(deliveries.c.platform, deliveries.c.status, func.count()).group_by(
                    deliveries.c.platform, deliveries.c.status
                )
            ):
                out.setdefault(platform, {})[status] = int(count)
            for platform, count in conn.execute(
                select(deliveries.c.platform, func.count())
                .where(and_(deliveries.c.status == S.PUBLISHED, deliveries.c.published_at >= since))
                .group_by(deliveries.c.platform)
            ):
                out.setdefault(platform, {})["published_24h"] = int(count)
            for platform, at in conn.execute(
                select(deliveries.c.platform, func.min(deliveries.c.next_attempt_at))
                .where(deliveries.c.status == S.DEFERRED)
                .group_by(deliveries.c.platform)
            ):
                out.setdefault(platform, {})["next_deferred_at"] = at
        return out

    def known_platforms(self) -> set[str] | None:
        """The platforms this store has been used with (None: not recorded yet)."""
        raw = self.get_meta("platforms_known")
        return set(json.loads(raw)) if raw else None

    def set_known_platforms(self, names: set[str]) -> None:
        self.set_meta("platforms_known", json.dumps(sorted(names)))

    def platform_admission(self, platform: str) -> dict[str, Any] | None:
        """What a platform added to an existing store was given (see bot.platform_backlog)."""
        raw = self.get_meta(f"platform_added:{platform}")
        return json.loads(raw) if raw else None

    def record_platform_admission(self, platform: str, info: dict[str, Any]) -> None:
        self.set_meta(f"platform_added:{platform}", json.dumps(info))

    def delivery_platforms(self) -> set[str]:
        """Every platform the store has a delivery for."""
        with self._read() as conn:
            return set(conn.execute(select(deliveries.c.platform).distinct()).scalars())

    def add_event(self, kind: str, now: float, **fields: Any) -> None:
        with self._tx() as conn:
            record_event(conn, now, kind, **fields)

    # --- meta --------------------------------------------------------------------------------

    def set_meta(self, key: str, value: str | None) -> None:
        with self._tx() as conn:
            conn.execute(delete(meta).where(meta.c.key == key))
            if value is not None:
                conn.execute(insert(meta).values(key=key, value=value))

    def get_meta(self, key: str) -> str | None:
        with self._read() as conn:
            return conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()


def platform_update(conn: Connection, platform: str, **values: Any) -> None:
    """Set a platform's row, creating it on first use (in the caller's transaction: a delivery
    settled and its platform's last success are one change)."""
    exists = conn.execute(
        select(platform_state.c.platform).where(platform_state.c.platform == platform)
    ).first()
    if exists:
        conn.execute(
            update(platform_state).where(platform_state.c.platform == platform).values(**values)
        )
    else:
        try:
            with conn.begin_nested():
                conn.execute(insert(platform_state).values(platform=platform, **values))
        except IntegrityError:
            conn.execute(
                update(platform_state).where(platform_state.c.platform == platform).values(**values)
            )
