"""Waking the workers from another process: the `web` face, `approve`, `retry`, `resume`.

A worker drains due deliveries every 15 seconds. A push or an approval made in another process
would wait for that drain, and a pushed story must be out within 10 seconds of the hub's push. So
the other process leaves a mark in the store (one `meta` row, "wake"), and every worker looks at
it each second, a single-row read, and drains at once when it changed. The mark is the time it
was left, never compared with any clock: only "changed since I last looked" matters, so workers
whose clocks differ agree.
"""

from __future__ import annotations

from typing import Protocol

WAKE_KEY = "wake"
WAKE_CHECK_EVERY = 1.0
"""Seconds between a worker's looks at the mark: a push is sent at most this much after the
drain it asks for could start."""


class MetaStore(Protocol):
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str | None) -> None: ...


def wake_workers(store: MetaStore, now: float) -> None:
    """Ask every worker sharing this store to drain now, not at its next round."""
    store.set_meta(WAKE_KEY, repr(now))


class WakeWatch:
    """One worker's view of the mark: `changed()` is true once per new mark."""

    def __init__(self, store: MetaStore) -> None:
        self.store = store
        self.seen = store.get_meta(WAKE_KEY)

    def changed(self) -> bool:
        mark = self.store.get_meta(WAKE_KEY)
        if mark == self.seen:
            return False
        self.seen = mark
        return True
