"""What a platform package declares about itself, as data: `PlatformSpec`.

Each `bot/platforms/<name>/__init__.py` defines `PLATFORM = PlatformSpec(...)`: its name and
label, its limits, its settings section (which variables it reads, which are credentials, how they
are validated and what to fix) and where its adapter lives. The registry collects these; settings,
the command line and the engine ask it instead of naming a platform.

Light on purpose: reading a spec imports no client library. The adapter module (tweepy, httpx,
PIL...) is imported only when a publisher is built (`PlatformSpec.publisher_class`), so `--help`,
`status` and a whole-process `poll` start fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from bot.models import Limits
from bot.settings_values import Secret

if TYPE_CHECKING:
    import httpx

    from bot.platforms.base import Publisher
    from bot.platforms.hosting import ImageHost

T = TypeVar("T")


class Env(Protocol):
    """How a section reads variables: the settings' reader, which notes every name asked (a
    name nobody asks for is reported as "not a setting") and names the variable on error."""

    def raw(self, name: str) -> str | None: ...

    def get(self, name: str, parse: Callable[[str, str], T], default: T) -> T: ...

    def secret(self, name: str) -> Secret | None: ...


@dataclass(frozen=True)
class Section:
    """A platform's part of the settings. The variable names live here and nowhere else."""

    read: Callable[[Env], Any]
    """The platform's own settings (a frozen dataclass, credentials as `Secret`), or None when
    none of its credentials is set. Raises ConfigError naming the variable and the fix when they
    are half set or malformed. Called once, at start, for every platform."""
    credentials: tuple[str, ...]
    """What must be set for the platform to post, in the order a user is told."""
    auth_variables: tuple[str, ...]
    """What a user fixes when the platform refuses the token (loud auth errors, `check`)."""
    base_url_variable: str
    """The setting naming the API host, for `check` to point at when the host is unreachable."""
    api_url: Callable[[Any], str]
    """The API host in the values `read` returned (trusted by the network policy)."""
    missing: Callable[[Env], tuple[str, ...]] | None = None
    """Which credentials are missing, where that is not simply the unset ones."""
    read_when_needed: tuple[str, ...] = ()
    """Variables read only in some configurations: known names all the same."""

    def missing_credentials(self, env: Env) -> tuple[str, ...]:
        if self.missing is not None:
            return self.missing(env)
        return tuple(name for name in self.credentials if env.raw(name) is None)


@dataclass(frozen=True)
class PlatformSpec:
    """One platform, as the rest of the bot may know it."""

    name: str
    """The name PLATFORMS takes and every output shows (lower case)."""
    order: int
    """Where it stands in lists (PLATFORMS' default, `status`, the dry run's default set)."""
    limits: Limits
    """What it accepts and how its posts are written, its label and default hashtags too."""
    section: Section
    adapter: str
    """"module:Class" of its Publisher; imported only when a publisher is built."""
    hosts_images: str | None = None
    """"module:function" when IMAGE_HOST=<name> may host fitted images through this platform's
    account: function(section, platform, http) -> ImageHost, the section None when the
    platform is not configured (then a ConfigError naming what to set)."""
    charges_per_post: bool = False
    """Each post costs money: its spend is recorded and capped by the budget settings."""
    no_link_template: str | None = None
    """The template used when the budget settings post without the link (cheaper)."""
    check_hint: Callable[[str, Mapping[str, Any]], str] | None = None
    """`check`'s "what to fix" for a refused credential, given the variables named and every
    platform's section (e.g. a token borrowed from another platform's variable)."""

    @property
    def label(self) -> str:
        """How people call it ("X"), shown beside the name, never instead of it."""
        return self.limits.label or self.name

    @property
    def default_hashtags(self) -> int:
        """Hashtags a post gets when HASHTAGS_<NAME> is not set."""
        return self.limits.default_hashtags

    @property
    def handle_variable(self) -> str:
        return f"{self.name.upper()}_HANDLE"

    @property
    def hashtags_variable(self) -> str:
        return f"HASHTAGS_{self.name.upper()}"

    @property
    def slots_variable(self) -> str:
        return f"POST_SLOTS_{self.name.upper()}"

    def publisher_class(self) -> type[Publisher]:
        """The adapter class: the one place a platform's client library gets imported."""
        cls: type[Publisher] = _load(self.adapter)
        return cls

    def image_host(self, section: Any, platform: str, http: httpx.Client) -> ImageHost:
        """IMAGE_HOST=<this platform>: a host for `platform`'s fitted images."""
        assert self.hosts_images is not None, f"{self.name} hosts no image"
        host: ImageHost = _load(self.hosts_images)(section, platform, http)
        return host


def _load(reference: str) -> Any:
    """ "module:attr", imported now: the package's spec names its heavy parts without importing
    them (and without an import cycle between the spec and the adapter that reads it)."""
    module, _, attr = reference.partition(":")
    return getattr(importlib.import_module(module), attr)
