"""Templates: a typo stops the program at start, naming the file and the field."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.compose import load_composer, load_template, parse_template
from bot.errors import ConfigError
from tests.test_compose_common import (
    BRANDS,
    CAPS,
    HANDLES,
    KP_STORY,
    LIMITS,
    composer_with,
)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("{title} {titel}", "unknown field {titel}"),
        ("{title} {0}", "positional field {0}"),
        ("{title} {}", "positional field {}"),
        ("{title:>20}", "format spec"),
        ("{title!r}", "format spec or conversion"),
        ("{title.upper}", "unknown field {title.upper}"),
        ("{title[0]}", "unknown field {title[0]}"),
        ("{title", "broken braces"),
        ("title}", "broken braces"),
        ("[[by {author}", "'[[' without ']]'"),
        ("by {author}]]", "']]' without '[['"),
        ("[[just text]] {title}", "has no field"),
        ("## only a comment\n", "is empty"),
    ],
)
def test_broken_template_names_file_and_problem(tmp_path: Path, body: str, needle: str) -> None:
    path = tmp_path / "twitter.txt"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_template(path)
    assert str(path) in str(err.value)
    assert needle in str(err.value)
    assert err.value.variable == "TEMPLATE_DIR"


def test_unknown_field_in_a_template_dir_stops_load_composer(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"instagram\.txt.*unknown field \{link\}"):
        composer_with(tmp_path, {"instagram": "{title} {link}"})


def test_missing_template_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "twitter.txt").write_text("{title} {url}", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"facebook\.txt not found"):
        load_composer(tmp_path, HANDLES, brand_handles=BRANDS, hashtag_caps=CAPS, limits=LIMITS)


def test_only_the_requested_platforms_need_templates(tmp_path: Path) -> None:
    (tmp_path / "twitter.txt").write_text("{title} {url}", encoding="utf-8")
    composer = load_composer(
        tmp_path,
        HANDLES,
        brand_handles=BRANDS,
        hashtag_caps=CAPS,
        limits=LIMITS,
        platforms=("twitter",),
    )
    assert composer.compose(KP_STORY, "twitter", LIMITS["twitter"]).text.startswith("KP Chair")
    with pytest.raises(ConfigError, match="no template loaded for facebook"):
        composer.compose(KP_STORY, "facebook", LIMITS["facebook"])


def test_template_dir_override_is_used(tmp_path: Path) -> None:
    composer = composer_with(tmp_path, {"twitter": "NEW: {title} {url}"})
    post = composer.compose(KP_STORY, "twitter", LIMITS["twitter"])
    assert post.text == f"NEW: {KP_STORY.title} {KP_STORY.url}"
    assert post.parts == {"title": KP_STORY.title, "url": KP_STORY.url}


def test_empty_fields_leave_no_holes_and_no_dangling_words() -> None:
    template = parse_template(
        "## comment line\n{title}[[ by {author}]]\n\n\n\n{summary}\n\n{hashtags}   {url}  ", "t"
    )
    text = template.render({"title": "T", "url": "https://x.co/a"})
    assert text == "T\n\nhttps://x.co/a"
    assert template.render({"title": "T", "author": "Rob"}) == "T by Rob"


def test_literal_braces_and_fields_order() -> None:
    template = parse_template("{{not a field}} {url} {title} {url}", "t")
    assert template.fields == ("url", "title")
    assert template.render({"url": "u", "title": "t"}) == "{not a field} u t u"


def test_story_text_is_never_interpreted_as_template(tmp_path: Path) -> None:
    composer = composer_with(tmp_path, {"twitter": "{title} {url}"})
    story = replace(KP_STORY, title="Braces {summary} and [[x]] {0}")
    post = composer.compose(story, "twitter", LIMITS["twitter"])
    assert post.text.startswith("Braces {summary} and [[x]] {0} https://")


def test_check_refuses_a_template_that_cannot_fit(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"twitter\.txt: its fixed text"):
        composer_with(tmp_path, {"twitter": "x" * 270 + " {url}"}, limits=LIMITS)
