"""Pure post composition: Story + platform rules + templates + handles in, Post out.

`load_composer` is the only function here that touches the disk (templates and handles.toml,
read once at start); everything else is pure and reads no clock.
"""

from bot.compose.composer import ALT_TEXT_MAX, Composer, alt_text, load_composer
from bot.compose.counting import fits, graphemes, measure, utf8_emoji
from bot.compose.handles import HandleBook, load_handles
from bot.compose.hashtags import hashtag, hashtags
from bot.compose.templates import FIELDS, Template, load_template, parse_template
from bot.weighted_length import is_valid_tweet, weighted_length

__all__ = [
    "ALT_TEXT_MAX",
    "FIELDS",
    "Composer",
    "HandleBook",
    "Template",
    "alt_text",
    "fits",
    "graphemes",
    "hashtag",
    "hashtags",
    "is_valid_tweet",
    "load_composer",
    "load_handles",
    "load_template",
    "measure",
    "parse_template",
    "utf8_emoji",
    "weighted_length",
]
