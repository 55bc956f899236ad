"""Campaign tags on the link a post carries: UTM_PARAMS filled per platform, feed and date.

Pure. Only the link that goes out is tagged (the post's text and a link card beside it); the
story's own URL, which decides "seen before" and is what reconciliation matches, never is.
`utm_*` parameters already in the story link are replaced, so a post never carries two
utm_source values; every other parameter keeps its place.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import date
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

from bot.errors import ConfigError

UTM_FIELDS = ("platform", "feed", "date")
VARIABLE = "UTM_PARAMS"


@dataclass(frozen=True, slots=True)
class UtmTemplate:
    """A parsed UTM_PARAMS: (name, value template) pairs in the order written."""

    pairs: tuple[tuple[str, str], ...]

    def params(self, platform: str, feed: str, day: date) -> list[tuple[str, str]]:
        values = {"platform": platform, "feed": feed, "date": day.isoformat()}
        return [(name, value.format_map(values)) for name, value in self.pairs]

    def tag(self, url: str, *, platform: str, feed: str, day: date) -> str:
        """`url` with this template's parameters, its own utm_* ones removed; a URL that is not
        http(s) is returned unchanged (there is nothing to tag)."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            return url
        # The story's other parameters are kept exactly as spelt: re-encoding them could change
        # what the site's server reads.
        kept = [
            piece
            for piece in parts.query.split("&")
            if piece and not unquote_plus(piece.split("=", 1)[0]).lower().startswith("utm_")
        ]
        ours = urlencode(self.params(platform, feed, day))
        query = "&".join([*kept, ours] if ours else kept)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def parse_utm(raw: str, name: str = VARIABLE) -> UtmTemplate:
    """Check UTM_PARAMS once, at start: name=value pairs joined by &, fields from UTM_FIELDS."""
    text = raw.strip().lstrip("?")
    example = "utm_source={platform}&utm_medium=social&utm_campaign=feed"
    pairs: list[tuple[str, str]] = []
    for item in text.split("&"):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_.\-]+", key):
            raise ConfigError(f"{name}: {item!r} is not name=value; use e.g. {example}", name)
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
        except ValueError:
            raise ConfigError(
                f"{name}: broken braces in {item!r}; use e.g. {example}", name
            ) from None
        unknown = [f for f in fields if f not in UTM_FIELDS]
        if unknown:
            known = ", ".join("{" + f + "}" for f in UTM_FIELDS)
            raise ConfigError(
                f"{name}: unknown field {{{unknown[0]}}} in {item!r}; known fields: {known}", name
            )
        pairs.append((key, value))
    if not pairs:
        raise ConfigError(f"{name} is empty; use e.g. {example}, or remove it", name)
    return UtmTemplate(tuple(pairs))


def feed_label(feed_url: str) -> str:
    """The {feed} value: the feed's host (without www.) and path, as a short slug, e.g.
    https://www.jckonline.com/feed/ -> jckonline.com-feed."""
    parts = urlsplit(feed_url)
    host = (parts.hostname or "").removeprefix("www.")
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", f"{host}/{parts.path}").strip("-.")
    return slug or "feed"
