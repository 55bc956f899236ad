"""Mastodon: statuses on the account's instance over its REST API (bot.platforms.mastodon.adapter).

This module is the platform's spec, read by the registry without importing the adapter. Its
limits are Mastodon's defaults; a publisher reads its instance's own limit and link weight.
"""

from __future__ import annotations

from bot.platforms.mastodon.settings import LIMITS, SECTION
from bot.platforms.spec import PlatformSpec

PLATFORM = PlatformSpec(
    name="mastodon",
    order=70,
    limits=LIMITS,
    section=SECTION,
    adapter="bot.platforms.mastodon.adapter:MastodonPublisher",
)
