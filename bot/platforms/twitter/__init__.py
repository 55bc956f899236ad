"""X (Twitter): posts with OAuth 1.0a user context through tweepy (bot.platforms.twitter.adapter).

This module is the platform's spec, read by the registry without importing tweepy.
"""

from __future__ import annotations

from bot.models import Counting, Limits, MentionStyle
from bot.platforms.spec import PlatformSpec
from bot.platforms.twitter.settings import SECTION

PLATFORM = PlatformSpec(
    name="twitter",
    order=10,
    limits=Limits(
        max_length=280,
        counting=Counting.WEIGHTED,
        url_weight=23,
        max_hashtags=30,
        mention_style=MentionStyle.REPLACE,  # short on room: the handle takes the name's place
        handle_max_length=15,
        handle_syntax=r"[A-Za-z0-9_]+",
        handle_hint="letters, digits and _",
        default_hashtags=2,
        label="X",
        hourly_cap=10,
    ),
    section=SECTION,
    adapter="bot.platforms.twitter.adapter:TwitterPublisher",
    charges_per_post=True,
    no_link_template="twitter-nolink.txt",
)
