"""Counting methods and every other per-platform rule come from Limits, never from a name.

The methods are the ones the networks document (networks.md): code points, the weighted count,
grapheme clusters (300 on Bluesky, with a 3,000-byte ceiling), code points with emoji counted by
their UTF-8 bytes (Threads), and a fixed weight for every URL with a scheme (Mastodon 23, or
what the instance says).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

from bot.compose import Composer, fits, graphemes, measure, utf8_emoji
from bot.compose.handles import load_handles
from bot.compose.templates import parse_template
from bot.errors import ConfigError, Unsuitable
from bot.models import Counting, Limits, MentionStyle
from tests.test_compose_common import KP_STORY, LIMITS

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man ZWJ woman ZWJ girl: 18 bytes
FLAG = "\U0001f1eb\U0001f1f7"  # regional indicators F R: one flag
HEART = "\u2764\ufe0f"  # heavy heart + emoji presentation selector: 6 bytes
LONG_URL = "https://www.jckonline.com/editorial-article/a/very/long/path/indeed/yes"


def counted(method: Counting, text: str, **kw: object) -> int:
    return measure(text, Limits(max_length=500, counting=method, **kw))  # type: ignore[arg-type]


def test_code_points_count_each_code_point() -> None:
    assert counted(Counting.CODE_POINTS, "e\u0301" + FAMILY) == 2 + 5
    assert counted(Counting.CODE_POINTS, "see " + LONG_URL) == 4 + len(LONG_URL)


def test_graphemes_count_what_a_reader_sees_as_one_character() -> None:
    assert graphemes("e\u0301") == 1
    assert graphemes(FAMILY) == 1
    assert graphemes(FLAG + FLAG) == 2
    assert graphemes("\u0915\u094d\u0937") == 1  # Devanagari conjunct KSSA
    assert graphemes("a\r\nb") == 3  # CR LF is one cluster
    assert graphemes("Café @alice.bsky.social #news") == 29
    assert counted(Counting.GRAPHEMES, FAMILY + " " + HEART) == 3


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=60))
def test_the_ascii_shortcut_counts_as_the_segmenter_does(text: str) -> None:
    assert graphemes(text) == len(regex.findall(r"\X", text))


def test_utf8_emoji_counts_each_emoji_by_its_bytes_and_the_rest_by_code_points() -> None:
    assert utf8_emoji("\U0001f600") == 4
    assert utf8_emoji("a\U0001f600b") == 6
    assert utf8_emoji(FAMILY) == 18
    assert utf8_emoji(HEART) == 6
    assert utf8_emoji("日本語 é") == 5  # CJK and accented letters are characters, not bytes
    assert counted(Counting.UTF8_EMOJI, "ok " + FLAG) == 3 + 8


def test_a_url_weight_makes_every_link_with_a_scheme_count_the_same() -> None:
    text = f"see {LONG_URL} and http://a.co/x"
    assert counted(Counting.GRAPHEMES, text, url_weight=23) == 4 + 23 + 5 + 23
    assert counted(Counting.CODE_POINTS, text, url_weight=23) == 4 + 23 + 5 + 23
    assert counted(Counting.GRAPHEMES, text, url_weight=30) == 4 + 30 + 5 + 30
    assert counted(Counting.GRAPHEMES, text) == len(text)
    # A bare domain is no link to a server that weighs only URLs with a scheme.
    assert counted(Counting.GRAPHEMES, "read example.com/a", url_weight=23) == 18
    assert counted(Counting.GRAPHEMES, "HTTPS://EXAMPLE.COM/" + "a" * 40, url_weight=23) == 23


def test_the_weighted_count_takes_its_url_weight_from_the_limits() -> None:
    text = "日本 😀 " + LONG_URL
    assert counted(Counting.WEIGHTED, text, url_weight=23) == 2 * 2 + 1 + 2 + 1 + 23
    assert counted(Counting.WEIGHTED, text, url_weight=40) == 2 * 2 + 1 + 2 + 1 + 40
    assert counted(Counting.WEIGHTED, text) == 2 * 2 + 1 + 2 + 1 + 23  # v3's own weight


def test_fits_holds_both_the_length_and_the_byte_ceiling() -> None:
    limits = Limits(max_length=300, counting=Counting.GRAPHEMES, max_bytes=3000)
    assert fits(FAMILY * 166, limits)  # 166 graphemes, 2,988 bytes
    assert not fits(FAMILY * 167, limits)  # 167 graphemes but 3,006 bytes
    assert not fits("a" * 301, limits)
    assert fits("a" * 300, limits)


def composer_for(
    tmp_path: Path, limits: Limits, template: str, handles: str = "", brand: str = "@jckmagazine"
) -> Composer:
    """A composer for one platform called "net": nothing about it but its Limits."""
    path = tmp_path / "handles.toml"
    path.write_text(handles, encoding="utf-8")
    return Composer(
        {"net": parse_template(template, "net.txt")},
        load_handles(path, {"net": limits}),
        brand_handles={"net": brand},
        hashtag_caps={},
        limits={"net": limits},
    )


def test_the_composer_fits_the_text_as_the_limits_count_it(tmp_path: Path) -> None:
    limits = Limits(max_length=60, counting=Counting.GRAPHEMES, url_weight=23)
    title = ("Cafe\u0301 " * 30).strip()  # 5 code points, 4 graphemes a word
    story = replace(KP_STORY, title=title, url=LONG_URL)
    post = composer_for(tmp_path, limits, "{title} {url}").compose(story, "net", limits)
    assert measure(post.text, limits) <= 60 < len(post.text)
    assert post.text.endswith("… " + LONG_URL)
    assert measure(post.text, limits) >= 60 - 5  # the room is used, not wasted


def test_the_composer_keeps_a_post_under_the_byte_ceiling(tmp_path: Path) -> None:
    limits = Limits(max_length=300, counting=Counting.GRAPHEMES, max_bytes=400)
    story = replace(KP_STORY, title=" ".join([FAMILY] * 60), url="https://ex.com/a")
    post = composer_for(tmp_path, limits, "{title} {url}").compose(story, "net", limits)
    assert len(post.text.encode()) <= 400 and post.text.endswith("https://ex.com/a")
    assert "title shortened" in post.warnings


def test_a_post_that_cannot_meet_the_byte_ceiling_is_unsuitable(tmp_path: Path) -> None:
    limits = Limits(max_length=300, counting=Counting.GRAPHEMES, max_bytes=40)
    story = replace(KP_STORY, url="https://ex.com/" + "a" * 40)
    composer = composer_for(tmp_path, Limits(max_length=300), "{title} {url}")
    with pytest.raises(Unsuitable, match="cannot fit 40 bytes"):
        composer.compose(story, "net", limits)


def test_mention_style_link_card_label_and_hashtags_follow_the_limits(tmp_path: Path) -> None:
    handles = '["De Beers"]\nnet = "@DeBeersGroup"\n'
    story = replace(KP_STORY, title="De Beers cuts prices", image_url=None)
    template = "{title} {url} {hashtags}"
    replacing = Limits(max_length=500, mention_style=MentionStyle.REPLACE, default_hashtags=1)
    post = composer_for(tmp_path, replacing, template, handles).compose(story, "net", replacing)
    assert post.text.startswith("@DeBeersGroup cuts prices")
    assert post.link is None and post.parts["hashtags"] == "#Diamonds"
    carding = Limits(
        max_length=500, link_card=True, default_hashtags=3, requires_image=True, label="Net"
    )
    post = composer_for(tmp_path, carding, template, handles).compose(story, "net", carding)
    assert post.text.startswith("De Beers (@DeBeersGroup) cuts prices")
    assert post.link == KP_STORY.url
    assert post.parts["hashtags"] == "#Diamonds #KimberleyProcess #IndustryNews"
    assert "no image: Net will skip this story" in post.warnings


def test_the_same_name_composes_by_whatever_limits_it_is_given() -> None:
    """No rule hides behind a platform's name: a known name with another's Limits composes by
    those Limits."""
    from tests.test_compose_common import default_composer

    composer = default_composer()
    as_itself = composer.compose(KP_STORY, "facebook", LIMITS["facebook"])
    as_other = composer.compose(KP_STORY, "facebook", replace(LIMITS["facebook"], link_card=False))
    assert as_itself.link == KP_STORY.url and as_other.link is None


def test_handle_rules_come_from_the_limits(tmp_path: Path) -> None:
    strict = Limits(  # @jckmagazine fits
        max_length=500, handle_max_length=11, handle_syntax=r"[a-z_]+", handle_hint="a to z, _"
    )
    composer_for(tmp_path, strict, "{title}", '["Acme"]\nnet = "@acme_co"\n')
    for handle in ("@acme.co", "@acme_corp_xy"):
        with pytest.raises(ConfigError, match=r"is not a net handle.*\(a to z, _; at most 11\)"):
            composer_for(tmp_path, strict, "{title}", f'["Acme"]\nnet = "{handle}"\n')
    loose = Limits(max_length=500, handle_max_length=30)
    composer_for(tmp_path, loose, "{title}", '["Acme"]\nnet = "@acme.co"\n')
    domain = Limits(
        max_length=500, handle_max_length=253, handle_syntax=r"[a-z0-9-]+(\.[a-z0-9-]+)+"
    )
    handles = '["Acme"]\nnet = "acme-co.example.social"\n'
    book = composer_for(tmp_path, domain, "{title}", handles, brand="jck.example.social")
    assert book.handles.platform_handles("net") == {"Acme": "@acme-co.example.social"}


def test_the_declared_data_of_the_three_platforms() -> None:
    x, fb, ig = LIMITS["twitter"], LIMITS["facebook"], LIMITS["instagram"]
    assert (x.counting, x.url_weight, x.max_length) == (Counting.WEIGHTED, 23, 280)
    assert (x.mention_style, x.handle_max_length) == ("replace", 15)
    assert (fb.link_card, fb.counting, ig.counting) == (True, "code_points", "code_points")
    assert [p.default_hashtags for p in (x, fb, ig)] == [2, 3, 5]
    assert [p.label for p in (x, fb, ig)] == ["X", "Facebook", "Instagram"]
