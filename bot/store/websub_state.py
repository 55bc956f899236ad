"""WebSub subscriptions: what each feed's discovery found and where our subscription stands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update

from bot.store.base import StoreBase
from bot.store.schema import websub_subscriptions as subs


@dataclass(frozen=True, slots=True)
class Subscription:
    feed_url: str
    hub: str | None
    topic: str | None
    token: str | None
    secret: str | None
    state: str
    lease_seconds: float | None
    expires_at: float | None
    checked_at: float
    requested_at: float | None
    verified_at: float | None
    last_push_at: float | None
    pushes: int
    last_error: str | None


def _sub(r: Any) -> Subscription:
    return Subscription(
        r.feed_url,
        r.hub,
        r.topic,
        r.token,
        r.secret,
        r.state,
        r.lease_seconds,
        r.expires_at,
        r.checked_at,
        r.requested_at,
        r.verified_at,
        r.last_push_at,
        r.pushes,
        r.last_error,
    )


class WebSubStore(StoreBase):
    """The WebSub side of the store."""

    def subscriptions(self) -> dict[str, Subscription]:
        with self._read() as conn:
            return {r.feed_url: _sub(r) for r in conn.execute(select(subs))}

    def subscription_by_token(self, token: str) -> Subscription | None:
        with self._read() as conn:
            row = conn.execute(select(subs).where(subs.c.token == token)).first()
        return _sub(row) if row else None

    def _put(self, feed_url: str, **values: Any) -> None:
        with self._tx() as conn:
            done = conn.execute(update(subs).where(subs.c.feed_url == feed_url).values(**values))
            if done.rowcount == 0:
                first = {"state": "discovered", "checked_at": values.get("checked_at", 0.0)}
                row = {**first, **values}
                conn.execute(self._insert_ignore(subs).values(feed_url=feed_url, **row))

    def websub_discovered(
        self, feed_url: str, hub: str | None, topic: str | None, now: float
    ) -> None:
        """Discovery looked at the feed: its hub and topic, or that it has none."""
        values: dict[str, Any] = {"hub": hub, "topic": topic, "checked_at": now}
        if hub is None:
            values.update(state="no_hub", last_error=None)
        self._put(feed_url, **values)

    def websub_requested(
        self, feed_url: str, hub: str, topic: str, token: str, secret: str, now: float
    ) -> None:
        """A subscription request was accepted by the hub; its verification is awaited."""
        with self._tx() as conn:
            current = conn.execute(select(subs.c.state).where(subs.c.feed_url == feed_url)).scalar()
        state = "active" if current == "active" else "requested"  # a renewal stays active
        self._put(
            feed_url,
            hub=hub,
            topic=topic,
            token=token,
            secret=secret,
            state=state,
            requested_at=now,
            checked_at=now,
            last_error=None,
        )

    def websub_verified(self, token: str, lease_seconds: float | None, now: float) -> None:
        expires = now + lease_seconds if lease_seconds else None
        with self._tx() as conn:
            conn.execute(
                update(subs)
                .where(subs.c.token == token)
                .values(
                    state="active",
                    verified_at=now,
                    lease_seconds=lease_seconds,
                    expires_at=expires,
                    last_error=None,
                )
            )

    def websub_failed(self, feed_url: str, error: str, now: float, *, denied: bool = False) -> None:
        values: dict[str, Any] = {"last_error": error, "checked_at": now}
        if denied:
            values["state"] = "denied"
        with self._read() as conn:
            known = conn.execute(select(subs.c.id).where(subs.c.feed_url == feed_url)).first()
        if known is None:
            values.setdefault("state", "error")
        self._put(feed_url, **values)

    def websub_pushed(self, token: str, now: float) -> None:
        with self._tx() as conn:
            conn.execute(
                update(subs)
                .where(subs.c.token == token)
                .values(last_push_at=now, pushes=subs.c.pushes + 1)
            )

    def websub_counts(self) -> dict[str, int]:
        with self._read() as conn:
            rows = conn.execute(select(subs.c.state, func.count()).group_by(subs.c.state))
            return {state: int(n) for state, n in rows}

    def websub_states(self) -> dict[str, str]:
        """Per feed, one line for the overview (never the secret nor the callback token)."""
        out: dict[str, str] = {}
        for url, s in self.subscriptions().items():
            text = s.state.replace("_", " ")
            if s.state == "active" and s.expires_at:
                until = datetime.fromtimestamp(s.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
                text = f"active until {until}"
            if s.pushes:
                text += f", {s.pushes} push(es)"
            if s.last_error:
                text += f" (last error: {s.last_error})"
            out[url] = text
        return out
