"""The weighted counter's shortcut for plain links gives the twitter_text package's own answer.

bot.weighted_length recognises a token that is one plain link (a story's URL) without loading the
package's URL expressions. These tests hold that shortcut to the package: for links built from
the shortcut's grammar, for near misses one character off it (a trailing '.', ')', '?', an
upper-case host, a TLD not on its list, t.co), and for whole posts counted both ways.
"""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st
from twitter_text import parse_tweet
from twitter_text.extract_urls import extract_urls_with_indices
from twitter_text.regexp.valid_cctld import valid_cctld
from twitter_text.regexp.valid_gtld import valid_gtld

from bot.weighted_length import (
    _COMMON_TLDS,
    _library_urls,
    _simple_url,
    url_spans,
    weighted_length,
)

LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True)
TLD = st.sampled_from([*sorted(_COMMON_TLDS), "xyz", "museum", "zz", "comx", "c"])
PATH_CHARS = "".join(sorted(set(string.ascii_letters + string.digits + "._~%/=+&-")))
PATH = st.text(PATH_CHARS, max_size=80)
END = st.sampled_from([*"aZ9_=/+-", ""])
ODD_ENDINGS = [*".,:;!?)(]['\"*~%|@#$", "\u2026", "\u00e9", "\u0439"]
"""No URL of the shortcut's grammar ends in one of these ('&' may end a query)."""


@st.composite
def links(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["https://", "http://"]))
    host = ".".join(draw(st.lists(LABEL, min_size=1, max_size=4))) + "." + draw(TLD)
    if draw(st.booleans()):
        return scheme + host
    path = "/" + draw(PATH) + draw(END)
    if draw(st.booleans()):
        path += "?" + draw(PATH) + draw(st.sampled_from(list("a9_&=/-")))
    return scheme + host + path


def test_every_listed_tld_is_on_the_packages_lists() -> None:
    for tld in _COMMON_TLDS:
        assert valid_gtld.fullmatch(tld) or valid_cctld.fullmatch(tld), tld


def test_a_story_link_takes_the_shortcut() -> None:
    for link in (
        "https://www.jckonline.com/editorial-article/kp-chair-ngos-boycott/",
        "https://www.site1.com/2026/12/gold-price-100031/?utm_source=x&utm_medium=social",
        "http://example.co.uk/a-b_c/d=e+f",
    ):
        assert _simple_url(link)
        assert _library_urls(link) == extract_urls_with_indices(link)


@given(links())
def test_the_shortcut_agrees_with_the_package_on_links(link: str) -> None:
    expected = extract_urls_with_indices(link)
    assert _library_urls(link) == expected
    if _simple_url(link):
        assert expected == [{"url": link, "indices": [0, len(link)]}]


@given(links(), st.sampled_from(ODD_ENDINGS))
def test_a_link_one_character_off_goes_to_the_package(link: str, tail: str) -> None:
    token = link + tail
    assert not _simple_url(token)
    assert _library_urls(token) == extract_urls_with_indices(token)


@given(links())
def test_an_upper_case_link_or_a_t_co_link_goes_to_the_package(link: str) -> None:
    for token in (link.upper(), "https://t.co/" + link.rsplit("/", 1)[-1]):
        assert not _simple_url(token)
        assert _library_urls(token) == extract_urls_with_indices(token)


@given(st.lists(st.one_of(links(), st.sampled_from(["Gold", "U.S.", "rises", "2.5%"]))))
def test_posts_of_links_and_words_weigh_what_the_package_says(words: list[str]) -> None:
    text = " ".join(words)
    assert weighted_length(text) == parse_tweet(text).weightedLength


def test_a_token_after_a_space_is_read_as_the_package_reads_it_there() -> None:
    # Found by hypothesis: at the start of a text the package takes "À" as the character before
    # the URL "example.org"; after a space the URL is "Àexample.org".
    for text in ("👨\u200d👩\u200d👧\u200d👦 Àexample.org", "x Àexample.org", "Àexample.org"):
        assert weighted_length(text) == parse_tweet(text).weightedLength, text
        assert url_spans(text) == [tuple(u["indices"]) for u in extract_urls_with_indices(text)]
