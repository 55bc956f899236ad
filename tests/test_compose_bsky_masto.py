"""Bluesky and Mastodon composition, over the property test's hostile stories and long CJK/emoji
titles: the text within the limit as each network counts it (Bluesky 300 graphemes and 3,000
UTF-8 bytes; Mastodon 500 graphemes with every link at 23), links intact (Bluesky's beside the
text as the card, Mastodon's in it), mentions only from the handles file, every one of them a
facet on Bluesky."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import regex
from hypothesis import given

from bot.compose import load_composer
from bot.compose.text import clean
from bot.models import Story
from bot.platforms.bluesky.richtext import LINK as BSKY_LINK
from bot.platforms.bluesky.richtext import MENTION as BSKY_MENTION
from bot.platforms.bluesky.richtext import facets, mentioned_handles, spans
from bot.platforms.mastodon.instance import InstanceRules, length
from bot.weighted_length import url_spans
from tests.test_compose_common import BRANDS, CAPS, HANDLES, KP_STORY, LIMITS, TEMPLATES
from tests.test_compose_properties import SETTINGS, source_urls, stories

_folder = Path(tempfile.mkdtemp(prefix="handles-"))
BOOK_FILE = _folder / "handles.toml"
BOOK_FILE.write_text(
    HANDLES.read_text(encoding="utf-8")
    + '\n["Kimberley Process"]\nbluesky = "@kimberley-process.bsky.social"\n'
    + 'mastodon = "@kp@diamonds.social"\n',
    encoding="utf-8",
)
BSKY_BRAND, MASTO_BRAND = "@jckmagazine.bsky.social", "@jckmagazine@mastodon.social"
COMPOSER = load_composer(
    TEMPLATES,
    BOOK_FILE,
    brand_handles={**BRANDS, "bluesky": BSKY_BRAND, "mastodon": MASTO_BRAND},
    hashtag_caps={**CAPS, "bluesky": 2, "mastodon": 3},
    limits=LIMITS,
)
MASTO_MENTION = regex.compile(
    r"(?<![=/\w])@[a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?(?:@[\w.-]+\w+)?", regex.IGNORECASE
)
"""Mastodon's MENTION_RE (app/models/account.rb): the local part, then @domain or not."""
BOOK_BSKY = {"kimberley-process.bsky.social", BSKY_BRAND[1:]}
LONG_TITLES = [
    "宝石业的新闻" * 120,
    "💎👨‍👩‍👧‍👦🇺🇸" * 150,
    "ダイヤモンド市場の最新ニュース、" * 40 + "😀" * 80,
    "e\u0301" * 400,  # 400 graphemes of 2 code points each
]


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def _check_bluesky(story: Story) -> None:
    post = COMPOSER.compose(story, "bluesky", LIMITS["bluesky"])
    text = post.text
    assert graphemes(text) <= 300 and len(text.encode()) <= 3000, (graphemes(text), text)
    assert post.link == story.url  # the card's link, whole, beside the text
    for mention in mentioned_handles(text):  # only the book's and the brand's
        assert mention in BOOK_BSKY, mention
    made = facets(text, {h: f"did:plc:{n}" for n, h in enumerate(mentioned_handles(text))})
    assert len([f for f in made if f["features"][0]["$type"] == BSKY_MENTION]) == len(
        [s for s in spans(text) if s.kind == BSKY_MENTION]
    )
    links = {s.value for s in spans(text) if s.kind.endswith("#link")}
    # Any link in the text is a whole one from the story, as X's rules or Bluesky's see it
    # (Bluesky's link runs to the next space: "…?q=1[" is one link there, "…?q=1" on X).
    sources = [clean(story.title), clean(story.summary, multiline=True)]
    bluesky_view = {s.value for source in sources for s in spans(source) if s.kind == BSKY_LINK}
    assert links <= source_urls(story) | bluesky_view


def _check_mastodon(story: Story) -> None:
    post = COMPOSER.compose(story, "mastodon", LIMITS["mastodon"])
    text = post.text
    assert length(text, InstanceRules()) <= 500, length(text, InstanceRules())
    assert story.url in [text[a:b] for a, b in url_spans(text)]  # the link, whole
    assert {text[a:b] for a, b in url_spans(text)} <= source_urls(story)
    for found in MASTO_MENTION.finditer(text):  # what the server makes a mention of
        assert found.group(0) in ("@kp@diamonds.social", MASTO_BRAND), found.group(0)


@SETTINGS
@given(stories())
def test_bluesky_text_fits_300_graphemes_with_mentions_only_from_the_book(story: Story) -> None:
    _check_bluesky(story)


@SETTINGS
@given(stories())
def test_mastodon_text_fits_500_with_its_link_whole(story: Story) -> None:
    _check_mastodon(story)


def test_long_cjk_and_emoji_titles_fit_both() -> None:
    for title in LONG_TITLES:
        story = replace(KP_STORY, title=title, summary=title)
        _check_bluesky(story)
        _check_mastodon(story)


def test_a_mapped_name_becomes_each_network_s_handle() -> None:
    story = replace(KP_STORY, title="Kimberley Process talks resume", summary="")
    bluesky = COMPOSER.compose(story, "bluesky", LIMITS["bluesky"]).text
    mastodon = COMPOSER.compose(story, "mastodon", LIMITS["mastodon"]).text
    assert "@kimberley-process.bsky.social" in bluesky
    assert "@kp@diamonds.social" in mastodon
    assert mentioned_handles(bluesky) == ["kimberley-process.bsky.social"]


def test_the_bot_s_own_handles_stay_live_whatever_their_syntax() -> None:
    from bot.compose.text import WORD_JOINER, neutralise

    live = frozenset({"@kimberley-process.bsky.social", "@kp@diamonds.social"})
    text = "(@kimberley-process.bsky.social) and @kp@diamonds.social, not @kp@diamonds.socialx"
    made = neutralise(text, live=live)
    assert made.startswith("(@kimberley-process.bsky.social) and @kp@diamonds.social,")
    assert made.endswith(f"@{WORD_JOINER}kp@diamonds.socialx")  # a longer name is not ours
    assert neutralise("@kimberley-process.bsky.social.evil", live=live).startswith(
        f"@{WORD_JOINER}"
    )


def test_a_link_glued_to_a_bracket_stays_whole_on_bluesky() -> None:
    # Found by the property above: Bluesky's link runs on through '[', X's stops before it.
    _check_bluesky(replace(KP_STORY, title="", summary="https://example.com/path?q=1["))


def test_a_hashtag_glued_to_a_domain_stays_inert_on_mastodon() -> None:
    # Found by the property above: "#Diamondsexample.org" in a summary.
    _check_mastodon(replace(KP_STORY, title="", summary="#Diamondsexample.org"))


def test_a_mention_after_a_superscript_is_inert_on_mastodon() -> None:
    # Found by the property above: an author "¹@0". Mastodon starts a mention after anything
    # that is not a letter, mark, decimal digit or '_'; Python's \w counts '¹' as a word.
    _check_mastodon(replace(KP_STORY, author="¹@0"))
