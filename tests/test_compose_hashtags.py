"""Hashtags from categories: CamelCase, punctuation dropped, duplicates removed, capped."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.compose import hashtag, hashtags
from bot.errors import ConfigError
from bot.models import Limits
from tests.test_compose_common import KP_STORY, LIMITS, default_composer


@pytest.mark.parametrize(
    ("category", "tag"),
    [
        ("lab-grown diamonds", "#LabGrownDiamonds"),
        ("Tiffany & Co.", "#TiffanyCo"),
        ("industry news", "#IndustryNews"),
        ("Women's Jewelry", "#WomensJewelry"),
        ("Café crème", "#CaféCrème"),
        ("日本 ダイヤ", "#日本ダイヤ"),
        ("हिन्दी समाचार", "#हिन्दीसमाचार"),
        ("DIAMONDS", "#DIAMONDS"),
        ("2026 trends", "#2026Trends"),
        ("2026", None),
        ("&!?", None),
        ("", None),
    ],
)
def test_category_to_hashtag(category: str, tag: str | None) -> None:
    assert hashtag(category) == tag


def test_duplicates_removed_case_insensitively_and_cap_applied() -> None:
    cats = ["Diamonds", "diamonds", "DIAMONDS!", "", "Gold", "Silver", "Pearls"]
    assert hashtags(cats, 3) == ["#Diamonds", "#Gold", "#Silver"]
    assert hashtags(cats, 0) == []
    assert len(hashtags([f"tag {i}" for i in range(50)], 99)) == 30  # never above the API's 30
    assert hashtags(cats, 3, exclude=["#diamonds"]) == ["#Gold", "#Silver", "#Pearls"]


def test_per_platform_caps_in_posts() -> None:
    story = replace(KP_STORY, categories=tuple(f"Topic {c}" for c in "ABCDEFGH"))
    composer = default_composer()
    for platform, cap in {"twitter": 2, "facebook": 3, "instagram": 5}.items():
        post = composer.compose(story, platform, LIMITS[platform])
        assert post.parts["hashtags"].split() == [f"#Topic{c}" for c in "ABCDEFGH"[:cap]]


def test_limits_max_hashtags_lowers_the_cap() -> None:
    story = replace(KP_STORY, categories=("A1", "B1", "C1", "D1"))
    limits = Limits(max_length=63206, max_hashtags=1)
    assert default_composer().compose(story, "facebook", limits).parts["hashtags"] == "#A1"


def test_story_hashtags_kept_live_count_towards_the_cap() -> None:
    story = replace(KP_STORY, title="#Gold and #Silver and #Platinum up", categories=("Diamonds",))
    post = default_composer(feed_hashtags=True).compose(story, "twitter", LIMITS["twitter"])
    assert post.parts["hashtags"] == ""
    assert post.parts["title"] == "#Gold and #Silver and Platinum up"  # third loses its '#'


def test_story_hashtags_are_inert_by_default_and_leave_the_cap_to_the_bots_own() -> None:
    story = replace(KP_STORY, title="#Gold and #Silver and #Platinum up", categories=("Diamonds",))
    post = default_composer().compose(story, "twitter", LIMITS["twitter"])
    assert post.parts["hashtags"] == "#Diamonds"
    assert post.parts["title"] == "#\u2060Gold and #\u2060Silver and #\u2060Platinum up"


def test_hashtag_caps_outside_0_to_30_are_refused() -> None:
    with pytest.raises(ConfigError, match="HASHTAGS_INSTAGRAM"):
        default_composer(hashtag_caps={"twitter": 2, "facebook": 3, "instagram": 31})
