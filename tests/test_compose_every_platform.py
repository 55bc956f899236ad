"""Composition properties for every registered platform, read from its own Limits.

The platforms come from the registry and their rules from their declared Limits, so a network
added later is covered here without editing this file (it only needs its default template in
config/templates/). For each: the text is within the limit as that platform counts it, the
story's link is intact (in the text, beside it as a card, or both), no handle is ever cut, and
the only live @mentions are the brand's and the handles file's. A second test draws the Limits
themselves (every counting method, URL weights, byte ceilings), so a network's rules hold before
it is even written; a third feeds long CJK and emoji titles to every platform.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.compose import Composer, fits, measure
from bot.compose.handles import load_handles
from bot.compose.templates import parse_template
from bot.compose.text import count_hashtags, count_mentions
from bot.errors import Unsuitable
from bot.models import Counting, Limits, MentionStyle, Post, Story
from bot.weighted_length import url_spans
from tests.test_compose_common import BRAND, CAPS, HANDLES, KP_STORY, LIMITS, default_composer
from tests.test_compose_properties import source_urls, stories

BOOK = tomllib.loads(HANDLES.read_text(encoding="utf-8"))
PLATFORMS = sorted(LIMITS)
COMPOSER = default_composer()
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def handles_of(platform: str) -> set[str]:
    return {table[platform] for table in BOOK.values() if platform in table} | {BRAND}


def live_mentions(text: str, limits: Limits) -> list[str]:
    """@handles as this platform's syntax reads them, outside URLs (a neutralised '@\u2060x'
    or an address like info@example.com is none)."""
    pattern = re.compile(r"(?<![\w@])@(?:" + limits.handle_syntax + ")")
    urls = url_spans(text)
    return [
        m.group(0) for m in pattern.finditer(text) if not any(a <= m.start() < b for a, b in urls)
    ]


def check_post(
    post: Post, story: Story, limits: Limits, uses_url: bool, handles: set[str], cap: int
) -> None:
    text = post.text
    assert measure(text, limits) <= limits.max_length
    assert fits(text, limits)
    if limits.link_card:
        assert post.link == story.url
    else:
        assert post.link is None
    in_text = [text[a:b] for a, b in url_spans(text)]
    if uses_url:
        assert story.url in in_text  # whole, and every platform's link finder sees it whole
    assert set(in_text) <= source_urls(story)  # no URL was cut short
    for mention in live_mentions(text, limits):
        # Only the brand's and the handles file's, and whole: a cut one ("@DeBeersGr") is in
        # neither, so this also proves no handle was cut.
        assert mention in handles, mention
    assert count_hashtags(text) <= cap
    if limits.max_mentions is not None:
        assert count_mentions(text) <= limits.max_mentions


@pytest.mark.parametrize("platform", PLATFORMS)
@SETTINGS
@given(story=stories())
@example(story=replace(KP_STORY, title="", summary="", author="@", categories=()))  # "By @."
def test_every_platform_composes_within_its_own_rules(platform: str, story: Story) -> None:
    limits = LIMITS[platform]
    post = COMPOSER.compose(story, platform, limits)
    uses_url = "url" in COMPOSER.template(platform).fields
    cap = min(CAPS.get(platform, limits.default_hashtags), limits.max_hashtags)
    check_post(post, story, limits, uses_url, handles_of(platform), cap)


LONG_TITLES = [
    "钻石" * 400,
    "日本語のニュース、ダイヤモンド業界の最新情報。" * 40,
    "다이아몬드 시장 " * 120,
    "👨‍👩‍👧‍👦" * 300,
    "🇺🇸🇯🇵" * 200,
    ("De Beers 钻石 😷 " * 80).strip(),
    "e\u0301\u0323" * 700,
    "💎" + "x" * 3000,
]


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("title", LONG_TITLES, ids=range(len(LONG_TITLES)))
def test_long_cjk_and_emoji_titles_fit_every_platform(platform: str, title: str) -> None:
    limits = LIMITS[platform]
    story = replace(KP_STORY, title=title, summary=title)
    post = COMPOSER.compose(story, platform, limits)
    uses_url = "url" in COMPOSER.template(platform).fields
    cap = min(CAPS.get(platform, limits.default_hashtags), limits.max_hashtags)
    check_post(post, story, limits, uses_url, handles_of(platform), cap)
    assert post.text  # something of the title is always left
    if limits.max_length < 1000:  # the short platforms really had to cut
        assert "…" in post.text or not post.parts.get("title")


SYNTH_HANDLES = '["De Beers"]\nnet = "@DeBeersGroup"\n["Signet"]\nnet = "@SignetJewelers"\n'
TEMPLATES = [
    "{title} {mentions}\n\n{url} {hashtags}[[ via {handle}]]",
    "{title}\n\n{summary}[[ By {author}.]]\n\n{hashtags} {handle}",
    "{title} {url}",
]
limits_drawn = st.builds(
    Limits,
    max_length=st.integers(120, 600),
    counting=st.sampled_from(list(Counting)),
    url_weight=st.one_of(st.none(), st.integers(10, 40)),
    max_bytes=st.one_of(st.none(), st.integers(600, 3000)),
    max_hashtags=st.integers(0, 30),
    max_mentions=st.one_of(st.none(), st.integers(0, 5)),
    mention_style=st.sampled_from(list(MentionStyle)),
    link_card=st.booleans(),
    default_hashtags=st.integers(0, 5),
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(limits=limits_drawn, template=st.sampled_from(TEMPLATES), story=stories())
@example(  # nothing left to post: no title, no link, no tags, the brand over the mention cap
    limits=Limits(max_length=120, max_hashtags=0, max_mentions=0),
    template=TEMPLATES[1],
    story=replace(KP_STORY, title="", summary="", author=None, categories=()),
)
@example(  # element mentions over a cap of 0: composing looped for ever (found by hypothesis)
    limits=Limits(max_length=120, max_mentions=0, mention_style=MentionStyle.ELEMENT),
    template=TEMPLATES[0],
    story=replace(KP_STORY, title="", summary="De Beers"),
)
@pytest.mark.timeout(300)  # a composition that never ends fails here rather than hanging CI
def test_any_declared_limits_hold(
    tmp_path_factory: pytest.TempPathFactory, limits: Limits, template: str, story: Story
) -> None:
    """A network not written yet: whatever it declares, composition keeps to it."""
    path = Path(tmp_path_factory.mktemp("handles")) / "handles.toml"
    path.write_text(SYNTH_HANDLES, encoding="utf-8")
    composer = Composer(
        {"net": parse_template(template, "net.txt")},
        load_handles(path, {"net": limits}),
        brand_handles={"net": BRAND},
        hashtag_caps={},
        limits={"net": limits},
    )
    try:
        post = composer.compose(story, "net", limits)
    except Unsuitable:  # allowed only when the link and the brand alone cannot fit
        brand = BRAND if limits.max_mentions is None or limits.max_mentions >= 1 else ""
        bare = composer.template("net").render({"url": story.url or "", "handle": brand})
        nothing = not bare and not (limits.link_card and story.url)  # no text, no card
        assert nothing or not fits(bare, limits), bare
        return
    handles = {"@DeBeersGroup", "@SignetJewelers", BRAND}
    cap = min(limits.default_hashtags, limits.max_hashtags)
    check_post(post, story, limits, "{url}" in template, handles, cap)
