"""A Facebook Page: link or photo posts through the Graph API (bot.platforms.facebook.adapter).

This module is the platform's spec, read by the registry without importing the adapter.
"""

from __future__ import annotations

from bot.models import Limits
from bot.platforms.facebook.settings import SECTION
from bot.platforms.spec import PlatformSpec

PLATFORM = PlatformSpec(
    name="facebook",
    order=20,
    limits=Limits(
        max_length=63206,
        link_card=True,  # the story URL goes in `link`, and Facebook unfolds it into a card
        handle_max_length=50,
        default_hashtags=3,
        label="Facebook",
        hourly_cap=10,
    ),
    section=SECTION,
    adapter="bot.platforms.facebook.adapter:FacebookPublisher",
    hosts_images="bot.platforms.facebook.adapter:page_image_host",  # IMAGE_HOST=facebook
)
