"""Fitting for X: summary first, then hashtags, then the title; URLs, handles and tags whole."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.compose import Composer, weighted_length
from bot.compose.fit import Shortenings
from bot.errors import Unsuitable
from bot.models import Limits
from tests.test_compose_common import HANDLES, KP_STORY, LIMITS, composer_with, default_composer

X = LIMITS["twitter"]
SUMMARY_TEMPLATE = "{title}\n\n{summary}\n\n{url} {hashtags} {handle}"


@pytest.fixture
def composer(tmp_path: Path) -> Composer:
    return composer_with(tmp_path, {"twitter": SUMMARY_TEMPLATE})


def long_words(n: int, word: str = "word") -> str:
    return " ".join(f"{word}{i}" for i in range(n))


def test_short_post_is_left_alone(composer: Composer) -> None:
    post = composer.compose(KP_STORY, "twitter", X)
    assert post.warnings == ()
    assert post.parts["summary"] == KP_STORY.summary


def test_summary_is_shortened_first_keeping_title_and_hashtags(composer: Composer) -> None:
    story = replace(KP_STORY, summary=long_words(80))
    post = composer.compose(story, "twitter", X)
    assert weighted_length(post.text) <= 280
    assert post.parts["title"] == KP_STORY.title
    assert post.parts["hashtags"] == "#Diamonds #KimberleyProcess"
    assert post.parts["summary"].endswith("…")
    assert story.summary.startswith(post.parts["summary"][:-1])  # cut at a word boundary
    assert story.summary[len(post.parts["summary"]) - 1] == " "
    assert post.warnings == ("summary shortened",)
    # The longest fitting cut: one more word would not fit.
    longer = story.summary[: story.summary.index(" ", len(post.parts["summary"])) + 0]
    assert weighted_length(post.text.replace(post.parts["summary"], longer + "…")) > 280


def test_then_hashtags_are_dropped_before_the_title_is_cut(composer: Composer) -> None:
    story = replace(KP_STORY, title=("word " * 80).strip(), summary="A summary.")
    post = composer.compose(story, "twitter", X)
    assert post.parts["summary"] == ""
    assert post.parts["hashtags"] == ""
    assert post.parts["title"].endswith("…")
    assert post.warnings == ("summary dropped to fit", "hashtags dropped to fit", "title shortened")
    assert weighted_length(post.text) <= 280
    assert post.text.endswith(f"{KP_STORY.url} @jckmagazine")


def test_hashtags_dropped_one_at_a_time_and_title_kept_when_that_is_enough(
    composer: Composer,
) -> None:
    # 226 + "\n\n" + URL 23 + " #Diamonds" + " @jckmagazine" = 274; with #KimberleyProcess 292.
    title = ("abcd " * 60)[:226]
    story = replace(KP_STORY, title=title, summary="")
    post = composer.compose(story, "twitter", X)
    assert post.parts["title"] == title
    assert post.parts["hashtags"] == "#Diamonds"
    assert post.warnings == ("hashtags dropped to fit",)


def test_a_handle_in_the_title_survives_whole_or_the_cut_comes_before_it(tmp_path: Path) -> None:
    handles = HANDLES.read_text(encoding="utf-8")
    composer = composer_with(tmp_path, {"twitter": "{title} {url} {handle}"}, handles)
    for pad in range(200, 262):
        story = replace(KP_STORY, title="x" * pad + " De Beers " + long_words(30))
        text = composer.compose(story, "twitter", X).text
        assert weighted_length(text) <= 280
        assert "@DeBeersGroup" in text or "@DeBeers" not in text.replace("@DeBeersGroup", "")
        assert "@D…" not in text and "De B" not in text


def test_urls_and_hashtags_inside_the_title_are_never_cut(tmp_path: Path) -> None:
    composer = composer_with(tmp_path, {"twitter": "{title} {url}"})
    inner = "https://example.com/" + "p" * 300
    for pad in range(230, 260, 3):
        story = replace(KP_STORY, title="y" * pad + " " + inner + " #LongHashtagHere tail")
        text = composer.compose(story, "twitter", X).text
        assert weighted_length(text) <= 280
        assert inner in text or "example.com" not in text
        assert "#LongHashtagHere" in text or "#Long" not in text


def test_a_single_overlong_word_is_cut_with_an_ellipsis(tmp_path: Path) -> None:
    composer = composer_with(tmp_path, {"twitter": "{title} {url} {handle}"})
    story = replace(KP_STORY, title="é" * 500)
    post = composer.compose(story, "twitter", X)
    assert weighted_length(post.text) <= 280
    assert post.parts["title"].endswith("…") and len(post.parts["title"]) > 200


def test_an_overlong_url_word_is_dropped_not_cut(tmp_path: Path) -> None:
    composer = composer_with(tmp_path, {"twitter": "{title} {url}"})
    story = replace(KP_STORY, title="#" + "h" * 400)
    post = composer.compose(story, "twitter", X)
    assert post.parts["title"] == ""
    assert post.text == KP_STORY.url


def test_emoji_sequences_and_combining_marks_are_not_split() -> None:
    cuts = list(Shortenings("👨‍👩‍👧‍👦e\u0301👍🏽"))
    assert cuts == ["👨‍👩‍👧‍👦…", "👨‍👩‍👧‍👦e\u0301…"]


def test_instagram_and_facebook_are_not_cut_under_their_limits() -> None:
    story = replace(KP_STORY, summary=long_words(200))
    composer = default_composer()
    for platform in ("facebook", "instagram"):
        post = composer.compose(story, platform, LIMITS[platform])
        assert post.parts["summary"] == story.summary
    huge = replace(KP_STORY, summary=long_words(600))
    caption = composer.compose(huge, "instagram", LIMITS["instagram"])
    assert len(caption.text) <= 2200 and caption.warnings == ("summary shortened",)


def test_a_story_that_cannot_fit_is_unsuitable_not_a_broken_post() -> None:
    story = replace(KP_STORY, url="https://example.com/" + "x" * 2300)
    with pytest.raises(Unsuitable, match="cannot fit 2200"):
        default_composer().compose(story, "instagram", LIMITS["instagram"])


def test_measure_uses_the_platform_count() -> None:
    composer = default_composer()
    text = "日本 😀 https://www.jckonline.com/a/very/long/path/indeed/yes"
    assert composer.measure("twitter", text, X) == 2 * 2 + 1 + 2 + 1 + 23
    assert composer.measure("instagram", text, LIMITS["instagram"]) == len(text)
    assert composer.measure("facebook", "é", Limits(max_length=10)) == 1


def test_text_hygiene_strips_controls_and_noncharacters_and_normalises() -> None:
    story = replace(KP_STORY, title="\ufeffCafe\u0301\x00 \ufffe news\uffff\x1b", summary="")
    post = default_composer().compose(story, "twitter", X)
    assert post.parts["title"] == "Café news"
    assert post.alt_text == "Café news"


def test_alt_text_is_trimmed_to_1000_at_a_word() -> None:
    story = replace(KP_STORY, title=long_words(300))
    post = default_composer().compose(story, "facebook", LIMITS["facebook"])
    assert post.alt_text is not None and len(post.alt_text) <= 1000
    assert post.alt_text.endswith("…") and story.title.startswith(post.alt_text[:-1])
