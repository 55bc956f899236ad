"""LinkedIn's "little" text format for a post's commentary: pure, no I/O.

The characters ``\\ | { } @ [ ] ( ) < > # * _ ~`` are reserved, and LinkedIn silently cuts a
post at the first one left unescaped while still answering 201. So every one of them is
backslash-escaped, except where it belongs to an element the post means:

* a mention element ``@[Name](urn:li:organization:123)`` (or ``urn:li:person:…``), which only
  the handles file puts into a post (a feed's own are made inert before composing, with a
  word joiner after the ``@``, and are escaped here like any text);
* a hashtag ``#word`` (LinkedIn's hashtag element, clickable);
* a URL, left as it is so that it still links (clients that escaped characters inside URLs
  broke them; a story's canonical URL has no fragment).
"""

from __future__ import annotations

import re

RESERVED = frozenset("\\|{}@[]()<>#*_~")
_ESCAPE = re.compile(r"[\\|{}@\[\]()<>#*_~]")
MENTION = re.compile(r"@\[([^\[\]\n]{1,100})\]\((urn:li:(?:organization|person):\d+)\)")
_HASHTAG = re.compile(r"(?<![\w#&])#\w+")
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_UNESCAPE = re.compile(r"\\([\\|{}@\[\]()<>#*_~])")


def _urls(text: str) -> list[tuple[int, int]]:
    """URL spans, without the punctuation that ends a sentence or closes a bracket around it."""
    spans = []
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(".,;:!?'")
        while url.endswith(")") and url.count(")") > url.count("("):
            url = url[:-1].rstrip(".,;:!?'")
        spans.append((m.start(), m.start() + len(url)))
    return spans


def _plain(text: str) -> str:
    return _ESCAPE.sub(lambda m: "\\" + m.group(0), text)


def escape(text: str) -> str:
    """The commentary LinkedIn shows as `text`: every reserved character escaped outside
    mention elements, hashtags and URLs."""
    kept = sorted(
        [m.span() for m in MENTION.finditer(text)]
        + _urls(text)
        + [m.span() for m in _HASHTAG.finditer(text)],
        key=lambda span: span[0],
    )
    out: list[str] = []
    position = 0
    for start, end in kept:
        if start < position:  # inside an element already kept (a URL's '#', a mention's name)
            continue
        out.append(_plain(text[position:start]))
        element = text[start:end]
        mention = MENTION.fullmatch(element)
        if mention is not None:  # the name is text inside the element: escape what it holds
            name = re.sub(r"[\\|{}@<>#*_~()]", lambda m: "\\" + m.group(0), mention.group(1))
            element = f"@[{name}]({mention.group(2)})"
        out.append(element)
        position = end
    out.append(_plain(text[position:]))
    return "".join(out)


def unescape(commentary: str) -> str:
    """The text of an escaped commentary (to match a post LinkedIn lists with one we made)."""
    text = MENTION.sub(lambda m: "@" + m.group(1), commentary)
    return _UNESCAPE.sub(r"\1", text)


def visible_length(text: str) -> int:
    """What LinkedIn's 3,000 is held against: the text readers see, in characters (mention
    elements count as their names)."""
    return len(MENTION.sub(lambda m: m.group(1), text))
