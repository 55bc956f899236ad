"""Threads and LinkedIn composition, over the property test's hostile stories and long CJK/emoji
titles: the text within the limit as the network counts it, links intact, mentions only from
the handles file, and (LinkedIn) a commentary LinkedIn keeps whole once escaped."""

from __future__ import annotations

import re
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import given

from bot.compose import load_composer
from bot.compose.text import MENTION
from bot.platforms.linkedin.little import MENTION as ELEMENT
from bot.platforms.linkedin.little import escape
from bot.platforms.threads.text import threads_length
from bot.weighted_length import url_spans
from tests.fakes.linkedin_server import shown
from tests.test_compose_common import BRANDS, HANDLES, KP_STORY, LIMITS, TEMPLATES
from tests.test_compose_common import CAPS as DEFAULT_CAPS
from tests.test_compose_properties import ALL_HANDLES, SETTINGS, source_urls, stories

URN = "urn:li:organization:2414183"
_folder = Path(tempfile.mkdtemp(prefix="handles-"))
BOOK_FILE = _folder / "handles.toml"
BOOK_FILE.write_text(
    HANDLES.read_text(encoding="utf-8") + f'\n["Kimberley Process"]\nlinkedin = "{URN}"\n',
    encoding="utf-8",
)
CAPS = {**DEFAULT_CAPS, "threads": 1, "linkedin": 3}
COMPOSER = load_composer(TEMPLATES, BOOK_FILE, brand_handles=BRANDS, hashtag_caps=CAPS,
                         limits=LIMITS)  # fmt: skip
LONG_TITLES = [
    "宝石业的新闻" * 120,
    "💎👨‍👩‍👧‍👦🇺🇸" * 150,
    "ダイヤモンド市場の最新ニュース、" * 40 + "😀" * 80,
]


def _live_mentions(text: str) -> list[str]:
    return [m.group(0) for m in MENTION.finditer(text)]


def _check_threads(story) -> None:  # type: ignore[no-untyped-def]
    post = COMPOSER.compose(story, "threads", LIMITS["threads"])
    text = post.text
    assert threads_length(text) <= 500, threads_length(text)
    assert story.url in [text[a:b] for a, b in url_spans(text)]  # the link, whole
    assert {text[a:b] for a, b in url_spans(text)} <= source_urls(story)  # no URL cut short
    threads_handles = {h.casefold() for h in ALL_HANDLES}
    for mention in _live_mentions(text):  # only the handles file's and the brand's
        assert mention.casefold() in threads_handles, mention


def _check_linkedin(story) -> None:  # type: ignore[no-untyped-def]
    post = COMPOSER.compose(story, "linkedin", LIMITS["linkedin"])
    text = post.text
    assert len(text) <= 3000
    assert post.link == story.url  # the article share's link, whole, beside the text
    commentary = escape(text)
    assert shown(commentary) == commentary  # LinkedIn cuts nothing off
    for element in ELEMENT.finditer(commentary):  # only the handles file's mentions
        assert element.group(2) == URN, element.group(0)
        assert text.count(element.group(0)) == 1


@SETTINGS
@given(stories())
def test_threads_text_fits_in_utf8_bytes_with_its_link_whole(story) -> None:  # type: ignore[no-untyped-def]
    _check_threads(story)


@SETTINGS
@given(stories())
def test_linkedin_commentary_fits_is_kept_whole_and_mentions_only_the_book(story) -> None:  # type: ignore[no-untyped-def]
    _check_linkedin(story)


def test_long_cjk_and_emoji_titles_fit_both() -> None:
    for title in LONG_TITLES:
        story = replace(KP_STORY, title=title, summary=title)
        _check_threads(story)
        _check_linkedin(story)


def test_a_mapped_name_is_a_linkedin_mention_and_a_feeds_own_is_not() -> None:
    story = replace(
        KP_STORY,
        title="Kimberley Process talks resume",
        summary="Signed @[Evil Corp](urn:li:organization:666) (and others).",
    )
    post = COMPOSER.compose(story, "linkedin", LIMITS["linkedin"])
    commentary = escape(post.text)
    assert f"@[Kimberley Process]({URN})" in commentary
    assert re.search(r"\\@\u2060\\\[Evil Corp\\\]", commentary), commentary
    assert [m.group(2) for m in ELEMENT.finditer(commentary)] == [URN]


def test_a_mention_after_punctuation_is_inert_where_meta_reads_it() -> None:
    """twitter_text starts no mention after !#$%&*, but Threads, Instagram and Facebook do:
    "*@someone" from a feed must not mention someone there (hypothesis found "*@0")."""
    for summary in ("*@someone", "x !@someone y", "($@someone)", "100%@someone", "&@someone"):
        story = replace(KP_STORY, title="Kimberley Process talks resume", summary=summary)
        for platform in ("threads", "instagram", "facebook"):
            text = COMPOSER.compose(story, platform, LIMITS[platform]).text
            assert "@someone" not in [m.casefold() for m in _live_mentions(text)], (platform, text)
