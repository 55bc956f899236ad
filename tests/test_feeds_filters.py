"""Keyword/category filters and the feed backoff arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.feeds.backoff import feed_backoff, parse_retry_after
from bot.feeds.filters import StoryFilter
from bot.models import Story

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def story(title: str, summary: str = "", categories: tuple[str, ...] = ()) -> Story:
    return Story(
        identity=f"hash:{title}",
        url=None,
        title=title,
        summary=summary,
        published=NOW,
        feed_url="https://e.com/feed",
        categories=categories,
    )


def test_no_filters_keep_everything() -> None:
    assert StoryFilter().reason(story("Anything")) is None
    assert not StoryFilter().active


def test_exclude_keyword_whole_word_case_insensitive() -> None:
    f = StoryFilter(exclude_keywords=("lab-grown",))
    assert f.reason(story("Lab-Grown Sales Climb")) == "excluded keyword 'lab-grown'"
    assert f.reason(story("x", "sales of LAB-GROWN stones")) == "excluded keyword 'lab-grown'"
    assert f.reason(story("Prelab-grownish things")) is None
    assert f.reason(story("Lab grown, not hyphenated")) is None


def test_keywords_match_whole_words_only() -> None:
    f = StoryFilter(exclude_keywords=("gold",))
    assert f.reason(story("Golden Globes")) is None
    assert f.reason(story("Gold tops $3,000")) == "excluded keyword 'gold'"
    assert f.reason(story("Price of gold.")) == "excluded keyword 'gold'"


def test_phrases_match_across_whitespace() -> None:
    f = StoryFilter(include_keywords=("De Beers",))
    assert f.reason(story("De  Beers cuts prices")) is None
    assert f.reason(story("Debeers")) == "no included keyword ('De Beers')"


def test_include_keywords_need_one_match() -> None:
    f = StoryFilter(include_keywords=("diamond", "pearl"))
    assert f.reason(story("Pearl season")) is None
    assert f.reason(story("x", "A diamond story")) is None
    assert f.reason(story("Watches")) == "no included keyword ('diamond', 'pearl')"


def test_categories_whole_name_case_insensitive() -> None:
    f = StoryFilter(exclude_categories=("Sponsored",), include_categories=("Diamonds", "Gold"))
    assert f.reason(story("a", categories=("diamonds",))) is None
    assert (
        f.reason(story("a", categories=("Diamonds", "sponsored")))
        == "excluded category 'Sponsored'"
    )
    assert (
        f.reason(story("a", categories=("Diamond Trade",)))
        == "no included category ('Diamonds', 'Gold')"
    )
    assert f.reason(story("a")) == "no included category ('Diamonds', 'Gold')"


def test_exclusion_wins_over_inclusion() -> None:
    f = StoryFilter(include_keywords=("diamond",), exclude_keywords=("synthetic",))
    assert f.reason(story("Synthetic diamond boom")) == "excluded keyword 'synthetic'"


def test_regex_characters_in_keywords_are_literal() -> None:
    f = StoryFilter(exclude_keywords=("C++", "a.b"))
    assert f.reason(story("Learn C++ today")) == "excluded keyword 'C++'"
    assert f.reason(story("axb")) is None


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(0, 0), (1, 60), (2, 120), (3, 240), (8, 7680), (9, 15360), (10, 21600), (1000, 21600)],
)
def test_backoff_doubles_up_to_the_cap(failures: int, expected: float) -> None:
    assert feed_backoff(failures) == expected


def test_backoff_honours_retry_after_within_the_cap() -> None:
    assert feed_backoff(1, retry_after=900) == 900
    assert feed_backoff(5, retry_after=10) == 960  # the longer of the two
    assert feed_backoff(1, retry_after=10 * 24 * 3600) == 6 * 3600
    assert feed_backoff(1, retry_after=float("nan")) == 60
    assert feed_backoff(2, base=5, cap=100) == 10


def test_parse_retry_after_both_forms() -> None:
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after(format_datetime(NOW + timedelta(minutes=5), usegmt=True), NOW) == 300
    assert parse_retry_after(format_datetime(NOW - timedelta(minutes=5), usegmt=True), NOW) == 0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("", NOW) is None
    assert parse_retry_after(None, NOW) is None
