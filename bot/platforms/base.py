"""The adapter contract: what every platform publisher offers, and nothing about scheduling.

An adapter makes exactly one attempt per call and never sleeps: deciding to retry, defer or give
up belongs to the engine. It raises only the errors of `bot.errors` (translated from its
library's exceptions at its edge, in one place), each carrying the platform's own message.

Two-step platforms (a media container is made, then a separate call publishes it) do not wait
for the container inside `publish` either; the checkpoint carries the attempt across calls:
1. a new container's id goes to `checkpoint` at once (making a container posts nothing);
2. its status is read once; not ready yet: raise `container_not_ready(...)` (NotReady). The
   engine keeps the handles and makes the delivery due again after CONTAINER_RECHECK seconds,
   so the next poll or tick picks it up; no failure is counted and nothing is in doubt;
3. that next call gets the handles back in `recovery` and reads the status again: ready ->
   `checkpoint` once more (the engine proves its lease) and publish; already published -> find
   the post, never publish twice; failed -> a clear Rejected naming the container and the
   platform's status text (Unsuitable or Transient where the platform's code says so);
   expired -> a fresh container, back to 1.
`find` reads a kept container the same way (only "published" counts as out).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from bot.errors import NotReady
from bot.models import Account, Limits, Post, PublishResult, TokenInfo
from bot.settings_values import ImageSettings

if TYPE_CHECKING:
    import httpx

    from bot.platforms.hosting import ImageHost
    from bot.platforms.state import KeyValue


def _no_host(platform: str, http: httpx.Client) -> ImageHost | None:
    return None


@dataclass(frozen=True)
class Wiring:
    """What the edge (bot.publishers) hands every adapter besides its own section: values read
    once from the settings, so no adapter looks anything up."""

    http: httpx.Client | None = None
    """The shared client (the network policy's transport); None: the adapter makes its own."""
    timeout: float = 20.0
    proxies: Mapping[str, str] = field(default_factory=dict)
    images: ImageSettings = field(default_factory=ImageSettings)
    image_host: Callable[[str, httpx.Client], ImageHost | None] = _no_host
    """IMAGE_HOST for `platform`'s publisher over a client (None without IMAGE_HOST)."""
    state: KeyValue | None = None
    """Where an adapter keeps small facts between runs (a refreshed token); None: memory."""


Checkpoint = Callable[[Mapping[str, str]], None]
"""Called by an adapter with recovery handles (e.g. Instagram's container id) that the engine
must persist before the adapter takes its one effectful, non-idempotent step."""

CONTAINER_RECHECK = 10.0
"""Seconds before a container that was not ready is read again: the worker's next drain (every
15 s) or the next `poll` picks it up. Meta's image containers are usually ready within seconds."""


def container_not_ready(platform: str, container_id: str, status: str) -> NotReady:
    """What a two-step adapter raises for a container still being prepared (see above)."""
    return NotReady(
        platform,
        f"media container {container_id} is not ready yet ({status or 'no status'}); it is "
        "read again at the next poll or tick",
        retry_after=CONTAINER_RECHECK,
        code="not_ready",
    )


class Publisher(ABC):
    """One subclass per platform, named by its package's spec (`bot.platforms.registry`)."""

    name: ClassVar[str]
    limits: ClassVar[Limits]
    credential_variables: ClassVar[tuple[str, ...]] = ()
    """The settings a user must fix when this platform answers with an auth error."""
    base_url_variable: ClassVar[str | None] = None
    """The setting naming the API host, for `check` to point at when the host is unreachable."""

    @classmethod
    def limits_for(cls, wiring: Wiring) -> Limits:
        """The limits under these settings (a setting may lift a rule, e.g. title cards)."""
        return cls.limits

    @classmethod
    def from_section(cls, section: Any, wiring: Wiring) -> Publisher:
        """The publisher for the platform's own settings (None: not configured, a ConfigError
        naming what to set) and what the edge hands every adapter. Every platform's adapter
        has one; the dry-run stand-in is built by hand."""
        raise NotImplementedError(f"{cls.__name__} is not built from settings")

    @classmethod  # noqa: B027 - optional: the default has nothing to check
    def offline_checks(cls, post: Post, http: httpx.Client) -> None:
        """What a dry run without credentials checks: what needs no account (text, image)."""

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
