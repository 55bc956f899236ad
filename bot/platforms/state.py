"""Small facts a platform keeps between runs (a refreshed token, when a token was first used).

The engine hands each publisher the store's key-value table through this protocol, so an
adapter never imports the store; without one (tests, a one-off command) facts live in memory.
"""

from __future__ import annotations

from typing import Protocol


class KeyValue(Protocol):
    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...


class Memory:
    """A KeyValue that forgets at exit."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get_meta(self, key: str) -> str | None:
        return self.values.get(key)

    def set_meta(self, key: str, value: str) -> None:
        self.values[key] = value


class Later:
    """A KeyValue whose backing table is handed over once it exists (the store opens after the
    publishers are built, so a bad feeds file stops the bot before anything is recorded).
    Adapters read and write state only when they make calls, by then it is set."""

    def __init__(self) -> None:
        self._target: KeyValue = Memory()

    def use(self, target: KeyValue) -> None:
        self._target = target

    def get_meta(self, key: str) -> str | None:
        return self._target.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self._target.set_meta(key, value)
