"""Threads (Meta's Threads API): a container, then `threads_publish`, as Instagram does
(bot.platforms.threads.adapter).

This module is the platform's spec, read by the registry without importing the adapter.
"""

from __future__ import annotations

from bot.models import Counting, Limits
from bot.platforms.spec import PlatformSpec
from bot.platforms.threads.settings import SECTION
from bot.platforms.threads.text import MAX_LENGTH

LIMITS = Limits(
    max_length=MAX_LENGTH,
    counting=Counting.UTF8_EMOJI,
    max_bytes=MAX_LENGTH,  # observed: Threads holds the whole text to 500 UTF-8 bytes
    max_hashtags=1,  # Threads makes one tag a post its topic; more read as plain text
    max_mentions=10,
    handle_max_length=30,  # Threads accounts are Instagram usernames
    default_hashtags=1,
    label="Threads",
    image_types=("image/jpeg", "image/png"),
    max_image_bytes=8 * 1024 * 1024,
    image_url_only=True,
    hourly_cap=10,  # the API allows 250 published posts in 24 hours
)

PLATFORM = PlatformSpec(
    name="threads",
    order=40,
    limits=LIMITS,
    section=SECTION,
    adapter="bot.platforms.threads.adapter:ThreadsPublisher",
)
