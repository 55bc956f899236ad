"""Bluesky: posts written to the account's repository over XRPC (bot.platforms.bluesky.adapter).

This module is the platform's spec, read by the registry without importing the adapter.
"""

from __future__ import annotations

from bot.platforms.bluesky.settings import LIMITS, SECTION
from bot.platforms.spec import PlatformSpec

PLATFORM = PlatformSpec(
    name="bluesky",
    order=60,
    limits=LIMITS,
    section=SECTION,
    adapter="bot.platforms.bluesky.adapter:BlueskyPublisher",
)
