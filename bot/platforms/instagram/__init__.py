"""An Instagram professional account: container, then media_publish, through the Graph API
(bot.platforms.instagram.adapter).

This module is the platform's spec, read by the registry without importing the adapter.
"""

from __future__ import annotations

from bot.models import Limits
from bot.platforms.instagram.check import fix_hint
from bot.platforms.instagram.settings import SECTION
from bot.platforms.spec import PlatformSpec

PLATFORM = PlatformSpec(
    name="instagram",
    order=30,
    limits=Limits(
        max_length=2200,
        requires_image=True,
        max_hashtags=30,
        max_mentions=20,
        handle_max_length=30,
        default_hashtags=5,
        label="Instagram",
        image_types=("image/jpeg",),
        max_image_bytes=8 * 1024 * 1024,
        image_url_only=True,
        hourly_cap=4,  # the API allows 50 published posts in 24 hours
    ),
    section=SECTION,
    adapter="bot.platforms.instagram.adapter:InstagramPublisher",
    check_hint=fix_hint,
)
