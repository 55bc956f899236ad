"""The error tree: every failure the engine must decide about has exactly one class here.

    BotError
    ├─ ConfigError           bad or missing setting: exit 2 at start, naming the variable
    ├─ LeaseLost             the claimed row is someone else's now: dropped, nothing sent
    ├─ FeedError             this feed is skipped this tick, with backoff; others go on
    └─ PublishError(platform)
       ├─ AuthError          bad or expired token: the platform is paused and reported loudly
       ├─ Rejected           refused for good (invalid, too long, bad media)
       ├─ Unsuitable         cannot work on this platform (e.g. no JPEG): skipped, not failed
       ├─ AlreadyPublished   the platform says it is a duplicate: recorded as published
       ├─ RateLimited(retry_after)   429 or Graph throttling codes, with the reset time
       ├─ NotReady(retry_after)      the platform is still preparing the attempt (a media
       │                             container): due again shortly, nothing counted as failed
       └─ Transient          5xx, timeouts, connection errors
          └─ NetworkError(host, kind)   DNS, refused, TLS, timeout: the host was not reached

Adapters translate their library's exceptions into these at their edge, so nothing above the
adapters ever imports tweepy or httpx exceptions.
"""

from __future__ import annotations


class BotError(Exception):
    """Root of everything the bot raises on purpose."""


class ConfigError(BotError):
    """A setting is missing or malformed; the message names the variable and a good example."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


class LeaseLost(BotError):
    """The row a worker was handling is no longer under the lease it claimed it with (another
    worker took it over after a pause, or the renewal failed): stop before any further step."""


class FeedError(BotError):
    """One feed could not be fetched or parsed this time."""

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        retry_after: float | None = None,
        gone: bool = False,
        status: int | None = None,
    ) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.retry_after = retry_after
        self.gone = gone
        self.status = status

    def __reduce__(self) -> tuple[object, ...]:
        """Picklable, so a parse in a helper process can report it (see feeds.parse_pool)."""
        return (self.__class__, (self.url, self.reason), dict(self.__dict__))


class PublishError(BotError):
    """A platform refused or failed one attempt; `message` is the platform's own text."""

    def __init__(self, platform: str, message: str, *, code: str | None = None) -> None:
        super().__init__(f"{platform}: {message}")
        self.platform = platform
        self.message = message
        self.code = code


class AuthError(PublishError):
    """The credentials are bad, revoked or expired; `variable` names what the user must fix."""

    def __init__(
        self, platform: str, message: str, *, variable: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(platform, message, code=code)
        self.variable = variable


class Rejected(PublishError):
    """The platform refused this post for good; retrying the same request cannot help."""


class Unsuitable(PublishError):
    """The post cannot be made on this platform (no usable image...): recorded as skipped."""


class AlreadyPublished(PublishError):
    """The platform says this exact post already exists (X duplicate content, Graph 506)."""

    def __init__(
        self,
        platform: str,
        message: str,
        *,
        remote_id: str | None = None,
        remote_url: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(platform, message, code=code)
        self.remote_id = remote_id
        self.remote_url = remote_url


class RateLimited(PublishError):
    """Throttled: try again after `retry_after` seconds (None: the platform gave no hint)."""

    def __init__(
        self,
        platform: str,
        message: str,
        *,
        retry_after: float | None = None,
        long_pause: bool = False,
        code: str | None = None,
    ) -> None:
        super().__init__(platform, message, code=code)
        self.retry_after = retry_after
        self.long_pause = long_pause


class NotReady(PublishError):
    """The attempt is under way on the platform but not ready for its next step yet (a media
    container still processing). Nothing was posted, and the handles to finish the attempt were
    already checkpointed: the engine makes the delivery due again after `retry_after` seconds
    (the next poll or tick), counting no failure, instead of the adapter waiting in a sleep."""

    def __init__(
        self, platform: str, message: str, *, retry_after: float, code: str | None = None
    ) -> None:
        super().__init__(platform, message, code=code)
        self.retry_after = retry_after


class Transient(PublishError):
    """A failure that may pass: 5xx, timeouts, dropped connections, "not ready yet"."""


class NetworkError(Transient):
    """The platform's host was not reached at all (DNS, refused, TLS, timeout): not the
    credentials' fault. `kind` is one of bot.netfail's kinds; `host` is what was dialled."""

    def __init__(self, platform: str, message: str, *, host: str, kind: str) -> None:
        super().__init__(platform, message, code=f"network:{kind}")
        self.host = host
        self.kind = kind
