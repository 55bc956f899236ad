"""twitter-text's own conformance cases, run against our counter and the library it wraps.

The YAML is read at run time from the shared corpus (data, not copied code). Every case of the
weighted-length sections runs: v3 (the current X rule) and the directional-marker section with
the v3 configuration, v2 with the v2 configuration built from the corpus's own config/v2.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from twitter_text import parse_tweet
from twitter_text.extract_urls import extract_urls_with_indices

from bot.weighted_length import V3, is_valid_tweet, permillage, url_spans, weighted_length

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "twitter-text"
VALIDATE = CORPUS / "conformance" / "validate.yml"
EXTRACT = CORPUS / "conformance" / "extract.yml"
V3_SECTIONS = (
    "WeightedTweetsWithDiscountedEmojiCounterTest",
    "UnicodeDirectionalMarkerCounterTest",
)
V2_SECTION = "WeightedTweetsCounterTest"
RANGE_KEYS = ("displayRangeStart", "displayRangeEnd", "validRangeStart", "validRangeEnd")

if not VALIDATE.is_file():  # pragma: no cover - the corpus ships with the workspace
    pytest.skip(f"twitter-text corpus not found at {CORPUS}", allow_module_level=True)


def _load(path: Path) -> dict[str, list[dict[str, Any]]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]


VALIDATE_TESTS = _load(VALIDATE)


def _cases(sections: tuple[str, ...]) -> list[Any]:
    return [
        pytest.param(case, id=f"{section}:{case['description'][:60]}")
        for section in sections
        for case in VALIDATE_TESTS[section]
    ]


def _v2_options() -> dict[str, Any]:
    v2 = json.loads((CORPUS / "config" / "v2.json").read_text(encoding="utf-8"))
    return {
        "version": v2["version"],
        "max_weighted_tweet_length": v2["maxWeightedTweetLength"],
        "scale": v2["scale"],
        "default_weight": v2["defaultWeight"],
        "transformed_url_length": v2["transformedURLLength"],
        "ranges": v2["ranges"],
        "emoji_parsing_enabled": False,
    }


def test_every_weighted_length_case_is_collected() -> None:
    counts = {s: len(VALIDATE_TESTS[s]) for s in (*V3_SECTIONS, V2_SECTION)}
    print(f"twitter-text weighted-length cases: {counts}")
    assert counts == {
        "WeightedTweetsWithDiscountedEmojiCounterTest": 22,
        "UnicodeDirectionalMarkerCounterTest": 2,
        "WeightedTweetsCounterTest": 20,
    }


@pytest.mark.parametrize("case", _cases(V3_SECTIONS))
def test_v3_weighted_length_ours(case: dict[str, Any]) -> None:
    """Our counter (token-memoised) gives X's weightedLength, valid and permillage."""
    expected = case["expected"]
    text = case["text"]
    assert weighted_length(text) == expected["weightedLength"]
    assert is_valid_tweet(text) == expected["valid"]
    assert permillage(text) == expected["permillage"]


@pytest.mark.parametrize("case", _cases(V3_SECTIONS))
def test_v3_weighted_length_library_all_fields(case: dict[str, Any]) -> None:
    """The library we build on also matches the UTF-16 display and valid ranges."""
    result = parse_tweet(case["text"], V3).asdict()
    assert {k: result[k] for k in case["expected"]} == case["expected"]


@pytest.mark.parametrize("case", _cases((V2_SECTION,)))
def test_v2_weighted_length_library(case: dict[str, Any]) -> None:
    """v2 (no emoji-sequence discount) with the corpus's own v2 configuration."""
    result = parse_tweet(case["text"], _v2_options()).asdict()
    assert {k: result[k] for k in case["expected"]} == case["expected"]


@pytest.mark.parametrize("char", ["\ufffe", "\ufeff", "\uffff"])
def test_noncharacters_make_a_tweet_invalid(char: str) -> None:
    assert not is_valid_tweet(f"Hello {char} world")
    assert is_valid_tweet("Hello world")


def test_empty_tweet_is_invalid() -> None:
    assert not is_valid_tweet("")


EXTRACT_TESTS = _load(EXTRACT)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=f"{s}:{c['description'][:60]}")
        for s in ("urls", "urls_with_indices", "urls_with_directional_markers")
        for c in EXTRACT_TESTS[s]
    ],
)
def test_url_spans_agree_with_extract_yml(case: dict[str, Any]) -> None:
    """URL detection decides what weighs 23, and what fitting must never cut."""
    text, expected = case["text"], case["expected"]
    found = [text[a:b] for a, b in url_spans(text)]
    if expected and isinstance(expected[0], dict):
        assert [list(s) for s in url_spans(text)] == [e["indices"] for e in expected]
        expected = [e["url"] for e in expected]
    assert found == expected
    assert [u["url"] for u in extract_urls_with_indices(text)] == expected
