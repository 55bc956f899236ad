"""Differential guard: the composer's output for a few thousand varied stories is frozen.

The composer is tuned for speed (token caches, precompiled patterns, incremental fitting); none
of that may change a single character of a post. This test composes a deterministic mix of
stories (farm-like trade news, mapped names, emoji, CJK, combining marks, URLs, long words,
stray #tags and @mentions, control characters) on every platform with several templates and
compares one digest of every output with the digest recorded before the tuning.

The templates and handles are written here, not read from config/, so only a change to the
composer's behaviour can move the digest. After a deliberate behaviour change, run with
COMPOSE_DIGEST_DUMP=/some/file.txt before and after, diff the two dumps, review, and paste the
new digest that the failure message prints.
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import replace
from pathlib import Path

import pytest

from bot.compose import Composer
from bot.errors import Unsuitable
from bot.models import Post, Story
from tests.test_compose_common import KP_STORY, LIMITS, composer_with

EXPECTED_DIGEST = "04979c6b377f0ca7a4833e05a315312a98f4fa95fac5b013d818b01e8d435c04"
STORY_COUNT = 400

HANDLES_TOML = """
["De Beers"]
twitter = "@DeBeersGroup"
instagram = "@debeersgroup"

["De Beers Group"]
twitter = "@DBGroup"

["Tiffany & Co."]
twitter = "@TiffanyAndCo"
instagram = "@tiffanyandco"
facebook = "@Tiffany"

["Signet"]
twitter = "@SignetJewelers"

["Jewelers of America"]
twitter = "@JewelersAmerica"
instagram = "@jewelersofamerica"

["GIA"]
twitter = "@GIA_News"
instagram = "@gia_diamonds"
facebook = "@GIA"

["Rapaport"]
twitter = "@Rapaport"
"""
NAMES = ["De Beers", "De Beers Group", "Tiffany & Co.", "Signet", "Jewelers of America", "GIA"]

TEMPLATE_SETS = {
    "default": {
        "twitter": "{title} {mentions}\n\n{url} {hashtags}[[ via {handle}]]",
        "facebook": "{title}\n\n{summary}[[ By {author}.]]\n\n{hashtags}",
        "instagram": (
            "{title}\n\n{summary}[[ By {author}.]]\n\n"
            "[[Read the full story: link in bio ({url})]]\n\n{hashtags} {mentions} {handle}"
        ),
    },
    "everything": {
        platform: "{title}\n\n{summary}[[ by {author}]] {mentions}\n\n{url} {hashtags} {handle}"
        for platform in ("twitter", "facebook", "instagram")
    },
}

WORDS = [
    "jeweler", "retailers", "diamond", "market", "price", "demand", "collection", "designer",
    "bridal", "ring", "necklace", "gold", "platinum", "estate", "auction", "record", "sale",
    "season", "holiday", "buyers", "trade", "show", "lab-grown", "sustainable", "sourcing",
    "carat", "clarity",
]  # fmt: skip
CATEGORIES = [
    "Diamonds", "Bridal", "Watches", "Gold", "Colored Stones", "Lab-Grown", "Women's Jewelry",
    "Tiffany & Co.", "industry news", "2026", "#Tagged", "日本", "Zürich", "", "  ",
]  # fmt: skip
SNIPPETS = [
    "👨‍👩‍👧‍👦", "🇺🇸", "👍🏽", "1️⃣", "😷", "❤️", "日本語のニュース", "钻石", "다이아몬드",
    "e\u0301", "a\u0308\u0323", "Zürich", "https://example.com/path?q=1", "example.org",
    "www.jck.com/x", "#Diamonds", "#日本", "@someone", "@a.b", "info@example.com", "\x00",
    "\x1b", "\ufeff", "\ufffe", "\uffff", "\u200f", "—", "…", "{title}", "[[x]]", "\n", "\t",
    "\r\n", "a.b.c.d.e", "U.S.", "$5,000", "(GIA)", "De Beers’", "https://x.com/De_Beers",
]  # fmt: skip
URLS = [
    "https://www.jckonline.com/editorial-article/kp-chair-ngos-boycott/",
    "https://www.jckonline.com/editorial-article/" + "very-long-slug-" * 20,
    "http://example.com/a?b=c&d=e",
    "https://xn--bcher-kva.ch/ü/path",
    "https://example.com/" + "x" * 2300,
    "",
]


def _word(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.55:
        return rng.choice(WORDS)
    if roll < 0.70:
        return rng.choice(NAMES)
    if roll < 0.88:
        return rng.choice(SNIPPETS)
    if roll < 0.95:
        alphabet = "abcxyzé日😀#@.:/-_ \u0301"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
    return rng.choice(["a", "Z", "日", "é", "😀", "ab."]) * rng.randint(20, 300)


def _text(rng: random.Random, most: int) -> str:
    count = rng.choice([0, 1, 3, 8, 20, 40, most])
    glue = rng.choice([" ", " ", " ", "", "  ", "\n"])
    return glue.join(_word(rng) for _ in range(rng.randint(0, count)))


def varied_stories(count: int = STORY_COUNT, seed: int = 8) -> list[Story]:
    """Deterministic stories: a third plain farm-like trade news, the rest anything goes."""
    rng = random.Random(seed)
    stories: list[Story] = []
    for n in range(count):
        if n % 3 == 0:
            title = " ".join(rng.choice(WORDS) for _ in range(7)).capitalize() + f" ({n})"
            summary = " ".join(rng.choice(WORDS) for _ in range(rng.choice([22, 60, 400]))) + "."
        else:
            title, summary = _text(rng, 60), _text(rng, 500)
        stories.append(
            replace(
                KP_STORY,
                title=title,
                summary=summary,
                author=rng.choice([None, "", "Rob Bates", "Émilie 日本", " x \n y "]),
                categories=tuple(rng.choice(CATEGORIES) for _ in range(rng.randint(0, 8))),
                url=rng.choice(URLS) or None,
                image_url=rng.choice([None, KP_STORY.image_url]),
            )
        )
    return stories


def describe(post: Post) -> str:
    """Every field of a post, in one line (repr keeps newlines and odd characters visible)."""
    return repr(
        (
            post.platform,
            post.text,
            post.link,
            post.image_url,
            post.alt_text,
            post.story_url,
            sorted(post.parts.items()),
            post.warnings,
        )
    )


def outcome(composer: Composer, story: Story, platform: str) -> str:
    try:
        return describe(composer.compose(story, platform, LIMITS[platform]))
    except Unsuitable as exc:
        return f"Unsuitable({platform}): {exc}"


@pytest.fixture(scope="module")
def composers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Composer]:
    made: dict[str, Composer] = {}
    for name, templates in TEMPLATE_SETS.items():
        folder = tmp_path_factory.mktemp(name)
        # The feed's own @mentions and #tags kept live (FEED_MENTIONS=keep, FEED_HASHTAGS=keep):
        # the digest pins the fitting; neutralising them is tested in test_compose_mentions.
        made[name] = composer_with(
            folder, templates, HANDLES_TOML, feed_mentions=True, feed_hashtags=True
        )
    return made


def test_outputs_are_unchanged(composers: dict[str, Composer]) -> None:
    lines = [
        outcome(composer, story, platform)
        for composer in composers.values()
        for story in varied_stories()
        for platform in ("twitter", "facebook", "instagram")
    ]
    dump = os.environ.get("COMPOSE_DIGEST_DUMP")
    if dump:
        Path(dump).write_text("\n".join(lines) + "\n", encoding="utf-8")
    digest = hashlib.sha256("\n".join(lines).encode("utf-8", "surrogatepass")).hexdigest()
    assert digest == EXPECTED_DIGEST, f"composer output changed; new digest {digest}"
