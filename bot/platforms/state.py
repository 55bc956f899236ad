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
