"""Only the bot mentions: a stranger's @name, #tag or $TICK in a story is made inert on every
platform, while the brand handle, the handles file's handles and the bot's own hashtags stay live.

"Live" is judged by patterns written here after the platforms' own rules (twitter-text's for X:
'@' or '＠' after a character that is not a letter, digit, '_' or one of !#$%&*@, then a handle
character; '#' and '$' likewise), not by the composer's own regexes."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from bot.compose.text import WORD_JOINER, neutralise
from tests.test_compose_common import BRAND, KP_STORY, LIMITS, default_composer

LIVE_MENTION = re.compile(r"(?<![A-Za-z0-9_!#$%&*@＠])[@＠]([A-Za-z0-9_][A-Za-z0-9_.]*)")
LIVE_HASHTAG = re.compile(r"(?<![\w&#＃])[#＃](\w+)")
LIVE_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6})\b")

STORY = replace(
    KP_STORY,
    title="@elonmusk you are great: #crypto $TSLA and De Beers",
    summary="Ask @someone.else about #gold, ＠wide and $AAPL; mail info@example.com.",
    author="@writer",
    categories=("Diamonds",),
)


def live(text: str) -> dict[str, set[str]]:
    return {
        "mentions": {m.group(0).replace("＠", "@") for m in LIVE_MENTION.finditer(text)},
        "hashtags": {m.group(0) for m in LIVE_HASHTAG.finditer(text)},
        "cashtags": {m.group(0) for m in LIVE_CASHTAG.finditer(text)},
    }


@pytest.mark.parametrize(
    ("platform", "mentions", "hashtags"),
    [
        ("twitter", {BRAND, "@DeBeersGroup"}, {"#Diamonds"}),
        ("facebook", set(), {"#Diamonds"}),  # no {handle} in its template, no De Beers handle
        ("instagram", {BRAND, "@debeersgroup"}, {"#Diamonds"}),
    ],
)
def test_feed_text_makes_no_live_entity_but_the_bots_own_stay_live(
    platform: str, mentions: set[str], hashtags: set[str]
) -> None:
    post = default_composer().compose(STORY, platform, LIMITS[platform])
    found = live(post.text)
    assert found == {"mentions": mentions, "hashtags": hashtags, "cashtags": set()}, post.text
    # the words are still there for a reader, only inert
    for word in ("elonmusk", "crypto", "TSLA"):
        assert word in post.text


def test_the_mention_table() -> None:
    """Per platform, what each piece of feed text becomes (printed with -s for the report)."""
    rows = []
    for platform in ("twitter", "facebook", "instagram"):
        text = default_composer().compose(STORY, platform, LIMITS[platform]).text
        for piece in ("@elonmusk", "#crypto", "$TSLA", "De Beers"):
            marker = piece[0] + WORD_JOINER + piece[1:] if piece[0] in "@#$" else piece
            state = "inert" if marker in text and marker != piece else "live"
            if piece == "De Beers":
                state = "live handle" if "@debeersgroup" in text.lower() else "plain name"
            rows.append((platform, piece, state))
    assert ("twitter", "@elonmusk", "inert") in rows and ("instagram", "$TSLA", "inert") in rows
    assert ("twitter", "De Beers", "live handle") in rows
    assert not [r for r in rows if r[2] == "live"]


def test_keep_leaves_the_feeds_own_entities_live() -> None:
    composer = default_composer(feed_mentions=True, feed_hashtags=True)
    found = live(composer.compose(STORY, "twitter", LIMITS["twitter"]).text)
    assert "@elonmusk" in found["mentions"] and "#crypto" in found["hashtags"]
    assert "$TSLA" in found["cashtags"]
    only_mentions = default_composer(feed_mentions=True)
    found = live(only_mentions.compose(STORY, "twitter", LIMITS["twitter"]).text)
    assert "@elonmusk" in found["mentions"] and not found["cashtags"]


def test_neutralise_leaves_urls_emails_and_the_bots_handles_alone() -> None:
    text = "See https://medium.com/@someone/#frag?x=$AB by a@b.co, @jckmagazine and @Other"
    out = neutralise(text, live=frozenset({"@jckmagazine"}))
    assert out == text.replace("@Other", "@" + WORD_JOINER + "Other")
    assert neutralise("$5 and $BRK.A", hashtags=True) == "$5 and $" + WORD_JOINER + "BRK.A"


def test_a_sigil_after_a_non_ascii_character_is_made_inert() -> None:
    # X starts a mention after any character but ASCII word characters (and !#$%&*@), so
    # "café@name" mentions @name there; Mastodon does after "¹" (not a letter or decimal digit).
    # Python's \w counts both 'é' and '¹' as word characters: the neutraliser must not.
    joined = "@" + WORD_JOINER
    assert neutralise("café@name") == "café" + joined + "name"
    assert neutralise("By ¹@0") == "By ¹" + joined + "0"
    assert neutralise("日本#タグ") == "日本#" + WORD_JOINER + "タグ"
    assert neutralise("info@example.com and a#b") == "info@example.com and a#b"  # ASCII before


@pytest.mark.parametrize("platform", ["twitter", "instagram"])
def test_a_handle_written_in_does_not_bring_the_next_sigil_to_life(platform: str) -> None:
    """'De Beers@someone' holds no mention; written as 'De Beers (@debeersgroup)@someone' the
    '@someone' would follow ')' and become one, so it is made inert again (found by the
    every-platform property test)."""
    story = replace(KP_STORY, title="De Beers@someone and De Beers#gold", summary="", author="")
    found = live(default_composer().compose(story, platform, LIMITS[platform]).text)
    assert "@someone" not in found["mentions"] and "#gold" not in found["hashtags"]
