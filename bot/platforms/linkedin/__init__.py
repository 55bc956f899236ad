"""LinkedIn Pages: article shares on the versioned Posts API, as the organization
(bot.platforms.linkedin.adapter).

This module is the platform's spec, read by the registry without importing the adapter.
"""

from __future__ import annotations

from bot.models import Limits, MentionStyle
from bot.platforms.linkedin.settings import SECTION
from bot.platforms.spec import PlatformSpec

MAX_LENGTH = 3000

LIMITS = Limits(
    max_length=MAX_LENGTH,
    max_hashtags=5,
    max_mentions=10,
    mention_style=MentionStyle.ELEMENT,  # @[De Beers](urn:li:organization:1234)
    link_card=True,  # an article share: the link, title, summary and image make the card
    handle_syntax=r"urn:li:(?:organization|person):\d+",
    handle_hint="an organization or person URN, e.g. urn:li:organization:2414183",
    handle_max_length=60,
    default_hashtags=3,
    label="LinkedIn",
    image_types=("image/jpeg", "image/png", "image/gif", "image/webp"),
    max_image_bytes=30 * 1024 * 1024,
    hourly_cap=6,  # LinkedIn's daily limits are unpublished; a Page rarely wants more
)

PLATFORM = PlatformSpec(
    name="linkedin",
    order=50,
    limits=LIMITS,
    section=SECTION,
    adapter="bot.platforms.linkedin.adapter:LinkedInPublisher",
)
