"""The Threads token's life: a long-lived token lasts 60 days and is given 60 more by a
refresh (only once it is a day old). The refreshed token is kept in the platform's state, tied
to the configured one: when a person puts a new THREADS_ACCESS_TOKEN in the settings, that one
wins again, since the kept one came from the old.
"""

from __future__ import annotations

import hashlib
import json

from bot.platforms.state import KeyValue, Memory
from bot.settings_values import Secret

KEY = "threads:token"


def fingerprint(token: str) -> str:
    """Names a configured token without keeping it."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class TokenKeeper:
    """The token to send: the configured one, or the refresh that came from it."""

    def __init__(self, configured: Secret, state: KeyValue | None = None) -> None:
        self.configured = configured
        self.state: KeyValue = state if state is not None else Memory()

    def _kept(self) -> dict[str, object] | None:
        raw = self.state.get_meta(KEY)
        try:
            kept = json.loads(raw) if raw else None
        except ValueError:
            return None
        if not isinstance(kept, dict):
            return None
        if kept.get("from") != fingerprint(self.configured.reveal()):
            return None  # the settings name another token now: it wins
        return kept

    def current(self) -> Secret:
        kept = self._kept()
        token = kept.get("token") if kept else None
        return Secret(token) if isinstance(token, str) and token else self.configured

    def expires_at(self) -> float | None:
        kept = self._kept()
        value = kept.get("expires_at") if kept else None
        return float(value) if isinstance(value, int | float) else None

    def live(self) -> Secret:
        """A Secret that reads the current token each time it is revealed: a token refreshed
        by another worker (kept in the shared store) is picked up without a restart."""
        return _Live(self)

    def keep(self, token: str, expires_at: float) -> None:
        record = {"from": fingerprint(self.configured.reveal()), "token": token,
                  "expires_at": expires_at}  # fmt: skip
        self.state.set_meta(KEY, json.dumps(record))


class _Live(Secret):
    __slots__ = ("_keeper",)

    def __init__(self, keeper: TokenKeeper) -> None:
        super().__init__("")
        self._keeper = keeper

    def reveal(self) -> str:
        return self._keeper.current().reveal()

    def __bool__(self) -> bool:
        return True
