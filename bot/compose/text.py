"""Text hygiene and the small token rules every part of the composer agrees on.

Feeds carry control characters, byte-order marks and decomposed accents; platforms reject posts
that contain U+FFFE, U+FEFF or U+FFFF, and an API body with a lone surrogate cannot even be
encoded.
Cleaning once, up front, means fitting and counting always see the text that will be sent.
"""

from __future__ import annotations

import re
import unicodedata

from bot.weighted_length import inside_url

_DROPPED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff\ufffe\uffff]")
"""Control characters (Cc) but tab and newline, lone surrogates (Cs), the BOM and non-characters:
one compiled class instead of a Python test per character (feeds are mostly clean)."""
_SPACES = re.compile(r"[^\S\n]+")
_OTHER_SPACE = re.compile(r"[^\S \n]")
"""Whitespace that is neither a space nor a newline (tab, NBSP, ideographic space...)."""
_LINE_EDGES = re.compile(r" ?\n ?")
_BLANK_LINES = re.compile(r"\n{3,}")

HASHTAG = re.compile(r"#(?<![\w#&]#)\w+")
"""A hashtag as the platforms see one: '#' after a non-word character, then word characters.
(The '#' comes first and the look-behind after it, so the engine can jump from '#' to '#'.)"""
MENTION = re.compile(r"@(?<![\w@]@)[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")
"""An @mention: '@' after a non-word character, then handle characters (dots where a platform's
handles allow them)."""


def clean(text: str | None, *, multiline: bool = False) -> str:
    """NFC, without control characters, BOMs, non-characters or lone surrogates; spaces collapsed.

    A title is one line (`multiline=False`: every line break becomes a space); a summary keeps
    its paragraphs, at most one blank line between them.
    """
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _DROPPED.sub("", text)
    text = unicodedata.normalize("NFC", text)
    if not multiline:
        return " ".join(text.split())
    return tidy(text)  # spaces collapsed and stripped per line, at most one blank line


def tidy(text: str) -> str:
    """Close the holes empty fields leave: one space at a time, no blank runs, no edge space.

    Runs on the whole text rather than line by line, and each step only when a quick look says
    it has something to do (it is called for every draft, and drafts are mostly tidy already).
    Once whitespace runs are single spaces, a line's edge space is a space beside a newline.
    """
    if "  " in text or _OTHER_SPACE.search(text):
        text = _SPACES.sub(" ", text)
    if " \n" in text or "\n " in text:
        text = _LINE_EDGES.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def _outside_urls(text: str, matches: list[re.Match[str]]) -> list[re.Match[str]]:
    """The matches that do not start inside a URL (only the token around each is examined)."""
    return [m for m in matches if not inside_url(text, m.start())]


def find_hashtags(text: str) -> list[re.Match[str]]:
    """Hashtags in `text`, except '#' fragments inside URLs (those are part of the link)."""
    if "#" not in text:
        return []
    return _outside_urls(text, list(HASHTAG.finditer(text)))


def find_mentions(text: str) -> list[re.Match[str]]:
    """@mentions in `text`, except inside URLs (e.g. https://medium.com/@someone)."""
    if "@" not in text:
        return []
    return _outside_urls(text, list(MENTION.finditer(text)))


WORD_JOINER = "\u2060"
"""Invisible, and no word character: '@\u2060name' reads as @name but is no mention on any
platform's parser, '#\u2060tag' no hashtag, '$\u2060TICK' no cashtag."""
CASHTAG = re.compile(r"\$(?<![\w$]\$)[A-Za-z]{1,6}(?:[._][A-Za-z]{1,2})?(?![\w$])")
"""A cashtag as the twitter_text package links one: '$' after a non-word character, then 1 to 6
letters ($BRK.A too)."""
_ANY_MENTION = re.compile(r"[@\uff20](?<![A-Za-z0-9_@\uff20][@\uff20])[A-Za-z0-9_\[]")
"""Where any platform's parser may start a mention: '@' or the full-width '＠' (twitter_text's)
after anything but an ASCII handle character or another '@', then a handle character (or '[',
which opens a mention element naming an id: "@[Name](urn:li:person:1)"). Wider than every
parser on purpose: what is neutralised must cover every sigil some platform reads. X starts a
mention after any character but [A-Za-z0-9_!#$%&*@＠] ("café@name" mentions @name there),
Meta's networks after "*" and "!" too, and a Unicode-minded parser after anything that is not
a letter, mark, decimal digit or '_' ("¹@name")."""
_SIGILS = re.compile("[@#$\uff20\uff03]")
_ANY_HASHTAG = re.compile(r"[#\uff03](?<![A-Za-z0-9_&#\uff03][#\uff03])\w")
"""Where any platform may start a hashtag: after anything but an ASCII word character, '&' or
another '#'. As wide as _ANY_MENTION on purpose: a parser whose word characters are ASCII ones
reads "é#tag" as a tag."""


_ELEMENT = re.compile(r"@\[[^\[\]\n]{1,100}\]\(([^()\s]+)\)")
"""A mention element, "@[Name](urn:li:organization:1234)": live only when its target is one of
the bot's own handles (the handles file's, written by the element mention style)."""


def neutralise(
    text: str, *, mentions: bool = True, hashtags: bool = True, live: frozenset[str] = frozenset()
) -> str:
    """Feed text with its @mentions (and with `hashtags`, its #tags and $CASHTAGS) made inert:
    a word joiner after the sigil. A stranger's "@someone" in a title must not make the bot
    mention someone (platforms suspend accounts for unsolicited automated mentions). Mentions
    whose casefolded text is in `live` (the bot's own handles) stay; so does anything inside a
    URL."""
    if not text or not _SIGILS.search(text):
        return text
    found: list[re.Match[str]] = []
    if mentions:
        kept = {m.start() for m in find_mentions(text) if m.group(0).casefold() in live}
        kept |= {m.start() for m in _ELEMENT.finditer(text) if "@" + m.group(1).casefold() in live}
        found += [
            m
            for m in _ANY_MENTION.finditer(text)
            if m.start() not in kept and not _live_at(text, m.start(), live)
        ]
    if hashtags:
        found += list(_ANY_HASHTAG.finditer(text)) + list(CASHTAG.finditer(text))
    starts = [m.start() for m in _outside_urls(text, found)]
    for start in sorted(starts, reverse=True):
        text = text[: start + 1] + WORD_JOINER + text[start + 1 :]
    return text


def _live_at(text: str, start: int, live: frozenset[str]) -> bool:
    """Whether one of the bot's own handles (casefolded) is written whole at `start`. Compared
    as text, not through MENTION, because a handle's syntax is its platform's: a domain name
    with hyphens (name-x.bsky.social) or user@instance is one handle there."""
    for handle in live:
        end = start + len(handle)
        if text[start:end].casefold() != handle:
            continue
        after = text[end : end + 2]
        continues = after[:1].isalnum() or after[:1] in ("_", "-", "@")
        continues = continues or (after[:1] == "." and after[1:].isalnum())
        if not continues:  # not the start of a longer handle
            return True
    return False


def count_hashtags(text: str) -> int:
    return len(find_hashtags(text))


def count_mentions(text: str) -> int:
    return len(find_mentions(text))


def drop_sigils(texts: list[str], kind: str, count: int) -> list[str]:
    """Turn the last `count` hashtags or mentions across `texts` into plain words.

    Used when story text alone carries more #tags or @mentions than a platform accepts: the
    word stays readable, only the '#' or '@' goes.
    """
    if count <= 0:
        return list(texts)
    finder = find_hashtags if kind == "#" else find_mentions
    located = [(i, m.start()) for i, text in enumerate(texts) for m in finder(text)]
    doomed = located[len(located) - count :] if count > 0 else []
    result = list(texts)
    for i, start in reversed(doomed):
        result[i] = result[i][:start] + result[i][start + 1 :]
    return result
