"""handles.toml: mapped names become platform handles, whole, on their first mention only."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.compose import load_handles
from bot.compose.handles import REPLACE, SUFFIX, substitute
from bot.errors import ConfigError
from tests.test_compose_common import HANDLES, KP_STORY, LIMITS, composer_with, default_composer

BOOK = load_handles(HANDLES, LIMITS)


def test_first_mention_replaced_on_x_later_mentions_plain() -> None:
    result = substitute(["De Beers cut prices", "De Beers said so"], BOOK, "twitter", REPLACE)
    assert result.fields == ("@DeBeersGroup cut prices", "De Beers said so")
    assert result.names == ("De Beers",)


def test_suffix_idiom_keeps_the_name_and_adds_the_handle() -> None:
    result = substitute(["Tiffany & Co. opens", ""], BOOK, "instagram", SUFFIX)
    assert result.fields[0] == "Tiffany & Co. (@tiffanyandco) opens"


def test_platform_without_a_handle_keeps_the_plain_name() -> None:
    result = substitute(["Signet and De Beers"], BOOK, "facebook", SUFFIX)
    assert result.fields == ("Signet and De Beers",)  # neither has a Facebook handle
    assert result.names == ()


def test_names_match_whole_words_case_sensitively_and_not_inside_urls_or_tags() -> None:
    texts = ["De Beersville, de beers, #De Beers, https://x.com/De_Beers_Signet and Signet."]
    result = substitute(texts, BOOK, "twitter", REPLACE)
    assert result.fields[0] == (
        "De Beersville, de beers, #De Beers, https://x.com/De_Beers_Signet and @SignetJewelers."
    )


def test_x_post_uses_handles_and_lists_other_story_names_as_mentions() -> None:
    story = replace(
        KP_STORY,
        title="De Beers Cuts Rough Prices",
        summary="De Beers and Signet spoke; Jewelers of America agreed.",
        categories=(),
    )
    post = default_composer().compose(story, "twitter", LIMITS["twitter"])
    first_line = post.text.split("\n")[0]
    assert first_line == "@DeBeersGroup Cuts Rough Prices @SignetJewelers @JewelersAmerica"
    assert post.parts["mentions"] == "@SignetJewelers @JewelersAmerica"


def test_instagram_caption_writes_handles_in_its_idiom() -> None:
    story = replace(KP_STORY, title="De Beers Cuts Prices", summary="Signet and De Beers agree.")
    post = default_composer().compose(story, "instagram", LIMITS["instagram"])
    assert post.text.startswith("De Beers (@debeersgroup) Cuts Prices\n\nSignet and De Beers")


def test_handles_file_problems_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "handles.toml"
    for body, needle in [
        ('["X"]\ntwitter = "@ok"\nmyspace = "@x"', "unknown platform 'myspace'"),
        ('["X"]\ntwitter = "@far_too_long_for_x"', "is not a twitter handle"),
        ('["X"]\ntwitter = "@bad handle"', "is not a twitter handle"),
        ('["X"]\ntwitter = 3', "must be a string"),
        ('X = "@x"', "must be a table"),
        ('["X"\ntwitter = "@x"', "is not valid TOML"),
    ]:
        path.write_text(body, encoding="utf-8")
        with pytest.raises(ConfigError) as err:
            load_handles(path, LIMITS)
        assert str(path) in str(err.value) and needle in str(err.value), body
        assert err.value.variable == "HANDLES_FILE"
    with pytest.raises(ConfigError, match="not found"):
        load_handles(tmp_path / "missing.toml", LIMITS)


def test_handle_without_at_sign_is_written_with_it(tmp_path: Path) -> None:
    composer = composer_with(
        tmp_path, {"twitter": "{title} {url}"}, '["Acme"]\ntwitter = "AcmeCorp"\n'
    )
    story = replace(KP_STORY, title="Acme wins")
    assert composer.compose(story, "twitter", LIMITS["twitter"]).text.startswith("@AcmeCorp wins")


def test_longer_name_wins_over_a_shorter_one_inside_it(tmp_path: Path) -> None:
    handles = '["Acme"]\ntwitter = "@acme"\n["Acme Group"]\ntwitter = "@acmegroup"\n'
    composer = composer_with(tmp_path, {"twitter": "{title} {url}"}, handles)
    story = replace(KP_STORY, title="Acme Group buys Acme")
    post = composer.compose(story, "twitter", LIMITS["twitter"])
    assert post.text.startswith("@acmegroup buys @acme ")
