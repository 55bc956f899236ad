"""Property tests: whatever a feed throws at the composer, the platform rules hold.

Titles and summaries mix words with emoji (ZWJ families, flags, skin tones, keycaps), CJK,
combining marks, URLs with and without a scheme, very long words, mapped names from
handles.toml, stray #tags and @mentions, control characters and non-characters, empty strings.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twitter_text import parse_tweet

from bot.compose import is_valid_tweet, weighted_length
from bot.compose.text import MENTION, clean, count_hashtags, count_mentions, neutralise
from bot.weighted_length import url_spans
from tests.test_compose_common import BRAND, HANDLES, KP_STORY, LIMITS, default_composer

BOOK = tomllib.loads(HANDLES.read_text(encoding="utf-8"))
NAMES = sorted(BOOK)
ALL_HANDLES = sorted({h for table in BOOK.values() for h in table.values()} | {BRAND})
STORY_URLS = [
    "https://www.jckonline.com/editorial-article/kp-chair-ngos-boycott/",
    "https://www.jckonline.com/editorial-article/" + "very-long-slug-" * 20,
    "http://example.com/a?b=c&d=e",
    "https://xn--bcher-kva.ch/ü/path",
]
SNIPPETS = [
    "👨‍👩‍👧‍👦",
    "🇺🇸",
    "👍🏽",
    "1️⃣",
    "😷",
    "❤️",
    "日本語のニュース",
    "钻石",
    "다이아몬드",
    "e\u0301",
    "a\u0308\u0323",
    "Zürich",
    "https://example.com/path?q=1",
    "example.org",
    "www.jck.com/x",
    "#Diamonds",
    "#日本",
    "@someone",
    "info@example.com",
    "\x00",
    "\x1b",
    "\ufeff",
    "\ufffe",
    "\uffff",
    "\u200f",
    "—",
    "…",
    "{title}",
    "[[x]]",
    "\n",
    "\t",
]

words = st.one_of(
    st.sampled_from(SNIPPETS),
    st.sampled_from(NAMES),
    st.text(min_size=1, max_size=12),
    st.text(alphabet="abcdefghijklmnop", min_size=1, max_size=12),
    st.builds(
        lambda c, n: c * n, st.sampled_from(["a", "Z", "日", "é", "😀"]), st.integers(60, 400)
    ),
)
texts = st.one_of(
    st.just(""),
    st.text(max_size=80),
    st.lists(words, max_size=60).map(" ".join),
    st.lists(words, max_size=10).map("".join),
)
categories = st.lists(
    st.one_of(
        st.sampled_from(["Diamonds", "lab-grown diamonds", "Tiffany & Co.", "Gold"]),
        st.text(max_size=20),
    ),
    max_size=40,
)


def stories():
    return st.builds(
        lambda title, summary, author, cats, url, image: replace(
            KP_STORY,
            title=title,
            summary=summary,
            author=author,
            categories=tuple(cats),
            url=url,
            image_url=image,
        ),
        texts,
        texts,
        st.one_of(st.none(), st.just(""), st.text(max_size=30)),
        categories,
        st.sampled_from(STORY_URLS),
        st.sampled_from([None, KP_STORY.image_url]),
    )


COMPOSER = default_composer()
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def source_urls(story) -> set[str]:
    """The story's link and every URL written in its title and summary, read as they are and
    with strangers' @mentions and #tags made inert (a word joiner after the sigil, which lets
    "@name.com" read as the domain name.com: the feed wrote it, and nothing is cut short)."""
    found = {story.url or ""}
    for text in (clean(story.title), clean(story.summary, multiline=True)):
        for view in (text, neutralise(text)):
            found.update(view[a:b] for a, b in url_spans(view))
    return found


@SETTINGS
@given(stories())
def test_x_post_always_fits_and_keeps_url_and_brand(story) -> None:
    post = COMPOSER.compose(story, "twitter", LIMITS["twitter"])
    text = post.text
    assert weighted_length(text) <= 280
    assert parse_tweet(text).weightedLength == weighted_length(text)  # the library agrees
    assert is_valid_tweet(text)
    assert story.url in [text[a:b] for a, b in url_spans(text)]  # whole, and X sees it whole
    assert re.search(rf"(?<![\w@]){re.escape(BRAND)}(?![\w.])", text)
    for match in MENTION.finditer(text):  # no handle is ever cut short
        mention = match.group(0)
        assert not any(h != mention and h.startswith(mention) for h in ALL_HANDLES), mention
    assert {text[a:b] for a, b in url_spans(text)} <= source_urls(story)  # no URL cut short
    assert not any(ch in text for ch in "\ufeff\ufffe\uffff\x00\x1b")


@SETTINGS
@given(stories())
def test_instagram_caption_obeys_its_three_limits(story) -> None:
    post = COMPOSER.compose(story, "instagram", LIMITS["instagram"])
    assert len(post.text) <= 2200
    assert count_hashtags(post.text) <= 5  # HASHTAGS_INSTAGRAM, below the API's 30
    assert count_mentions(post.text) <= 20
    assert post.link is None and post.image_url == story.image_url
    assert ("no image: Instagram will skip this story" in post.warnings) == (not story.image_url)


@settings(max_examples=100, deadline=None)
@given(stories())
def test_facebook_post_keeps_the_link(story) -> None:
    post = COMPOSER.compose(story, "facebook", LIMITS["facebook"])
    assert post.link == story.url
    assert len(post.text) <= 63206
    assert count_hashtags(post.text) <= 30


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from([*NAMES, "@a1", "@b2", "@c3", "#t1", "#t2"]), max_size=200))
def test_instagram_never_exceeds_mentions_even_with_crowded_stories(names) -> None:
    text = " ".join(names)
    story = replace(KP_STORY, title=text, summary=text + " " + text)
    post = COMPOSER.compose(story, "instagram", LIMITS["instagram"])
    assert count_mentions(post.text) <= 20
    assert count_hashtags(post.text) <= 5
    assert len(post.text) <= 2200


def test_a_strangers_handle_glued_to_a_domain_adds_no_link_the_feed_did_not_write() -> None:
    # Found by hypothesis: "#Diamondsexample.org", "@evil.com" become "#\u2060…" and "@\u2060…",
    # where X reads the domain after the joiner as a link; the domain is the feed's own words.
    for title in ("#Diamondsexample.org rises", "Gold @evil.com rises", "@evil.com"):
        story = replace(KP_STORY, title=title, summary=title)
        text = COMPOSER.compose(story, "twitter", LIMITS["twitter"]).text
        assert {text[a:b] for a, b in url_spans(text)} <= source_urls(story)
        assert "@evil" not in [m.group(0) for m in MENTION.finditer(text)]
