"""The adapter contract: what every platform publisher offers, and nothing about scheduling.

An adapter makes exactly one attempt per call and never sleeps: deciding to retry, defer or give
up belongs to the engine. It raises only the errors of `bot.errors` (translated from its
library's exceptions at its edge, in one place), each carrying the platform's own message.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import ClassVar

from bot.models import Account, Limits, Post, PublishResult, TokenInfo
from bot.settings import Settings

Checkpoint = Callable[[Mapping[str, str]], None]
"""Called by an adapter with recovery handles (e.g. Instagram's container id) that the engine
must persist before the adapter takes its one effectful, non-idempotent step."""


class Publisher(ABC):
    """One subclass per platform, registered by name in `bot.platforms.REGISTRY`."""

    name: ClassVar[str]
    limits: ClassVar[Limits]
    credential_variables: ClassVar[tuple[str, ...]] = ()
    """The settings a user must fix when this platform answers with an auth error."""
    base_url_variable: ClassVar[str | None] = None
    """The setting naming the API host, for `check` to point at when the host is unreachable."""

    @classmethod
    def limits_for(cls, settings: Settings) -> Limits:
        """The limits under these settings (a setting may lift a rule, e.g. title cards)."""
        return cls.limits

    @abstractmethod
    def verify(self) -> Account:
        """One cheap authenticated call: whose token is this? Raises AuthError when refused."""

    @abstractmethod
    def publish(
        self,
        post: Post,
        checkpoint: Checkpoint | None = None,
        recovery: Mapping[str, str] | None = None,
    ) -> PublishResult:
        """Make the post: exactly one attempt, no sleeping, no retry loops.

        `recovery` holds the handles a previous attempt checkpointed (e.g. Instagram's
        container id), so the adapter can finish that attempt instead of starting a second one.
        """

    def preflight(self, post: Post, pending: int = 0) -> None:  # noqa: B027 - optional
        """The checks `publish` makes before it sends anything, with reads only: raise exactly
        what `publish` would raise for them (Unsuitable image, Rejected text, RateLimited
        quota). A dry run calls it, so a `dry_run` line means a live run would post it.
        `pending` counts posts the dry run reported but the platform never saw (quotas)."""

    @abstractmethod
    def find(
        self, post: Post, since: datetime, recovery: Mapping[str, str] | None = None
    ) -> PublishResult | None:
        """Was this post already made (at or after `since`)? Used to reconcile after a crash."""

    has_token_info: ClassVar[bool] = False
    """True where `token_info` can read the token's type, scopes and expiry (Graph)."""

    def token_info(self) -> TokenInfo | None:
        """What the platform says about the token (Graph's debug_token); None where it has no
        such look-up. One call; raises the errors of `bot.errors` like any other call."""
        return None

    def access_lines(self) -> list[str]:
        """What the credentials allow, one short line each, for `check` (e.g. X: whether it can
        read the account's own posts, which finding a post after a crash needs). One cheap call
        at most; the default has nothing to add."""
        return []

    def account_url(self) -> str | None:
        """The public page of the account posted to, for a person asked to check by hand."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook, most adapters hold nothing to close
        """Release connections; the default has nothing to release."""
