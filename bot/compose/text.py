"""Text hygiene and the small token rules every part of the composer agrees on.

Feeds carry control characters, byte-order marks and decomposed accents; X rejects a post that
contains U+FFFE, U+FEFF or U+FFFF, and an API body with a lone surrogate cannot even be encoded.
Cleaning once, up front, means fitting and counting always see the text that will be sent.
"""

from __future__ import annotations

import re
import unicodedata

from bot.compose.length import url_spans

_NONCHARACTERS = "\ufffe\ufeff\uffff"
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")

HASHTAG = re.compile(r"(?<![\w#&])#\w+")
"""A hashtag as the platforms see one: '#' after a non-word character, then word characters."""
MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")
"""An @mention: '@' after a non-word character, then handle characters (dots: Instagram)."""


def _keep(ch: str) -> bool:
    if ch in "\n\t" or ch == " ":
        return True
    if ch in _NONCHARACTERS:
        return False
    category = unicodedata.category(ch)
    return category not in ("Cc", "Cs")


def clean(text: str | None, *, multiline: bool = False) -> str:
    """NFC, without control characters, BOMs, non-characters or lone surrogates; spaces collapsed.

    A title is one line (`multiline=False`: every line break becomes a space); a summary keeps
    its paragraphs, at most one blank line between them.
    """
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if _keep(ch))
    text = unicodedata.normalize("NFC", text)
    if not multiline:
        return " ".join(text.split())
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def tidy(text: str) -> str:
    """Close the holes empty fields leave: one space at a time, no blank runs, no edge space."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _outside(spans: list[tuple[int, int]], start: int) -> bool:
    return not any(a <= start < b for a, b in spans)


def find_hashtags(text: str) -> list[re.Match[str]]:
    """Hashtags in `text`, except '#' fragments inside URLs (those are part of the link)."""
    urls = url_spans(text)
    return [m for m in HASHTAG.finditer(text) if _outside(urls, m.start())]


def find_mentions(text: str) -> list[re.Match[str]]:
    """@mentions in `text`, except inside URLs (e.g. https://medium.com/@someone)."""
    urls = url_spans(text)
    return [m for m in MENTION.finditer(text) if _outside(urls, m.start())]


def count_hashtags(text: str) -> int:
    return len(find_hashtags(text))


def count_mentions(text: str) -> int:
    return len(find_mentions(text))


def drop_sigils(texts: list[str], kind: str, count: int) -> list[str]:
    """Turn the last `count` hashtags or mentions across `texts` into plain words.

    Used when story text alone carries more #tags or @mentions than a platform accepts: the
    word stays readable, only the '#' or '@' goes.
    """
    finder = find_hashtags if kind == "#" else find_mentions
    located = [(i, m.start()) for i, text in enumerate(texts) for m in finder(text)]
    doomed = located[len(located) - count :] if count > 0 else []
    result = list(texts)
    for i, start in reversed(doomed):
        result[i] = result[i][:start] + result[i][start + 1 :]
    return result
