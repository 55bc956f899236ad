"""The platforms: one package per network (`bot/platforms/<name>/`), found by the registry.

Importing this package is light: it loads each platform's spec (name, label, limits, settings
section) and no client library. A publisher is built at the edge (`bot.publishers`), which is the
first place an adapter module gets imported.
"""

from __future__ import annotations

from bot.models import Limits
from bot.platforms import registry
from bot.platforms.base import Publisher
from bot.platforms.dryrun import DryRunPublisher

__all__ = ["DryRunPublisher", "Publisher", "limits_for"]


def limits_for(platform: str) -> Limits:
    """What `platform` accepts, for the composer (no credentials needed)."""
    return registry.spec(platform).limits
