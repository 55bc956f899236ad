"""Names in stories written as platform handles: "De Beers" becomes @DeBeersGroup.

handles.toml maps a name, exactly as stories spell it, to a handle per platform; which keys it
may use and what a handle may look like on each platform come from the platforms' Limits. The first
mention of a mapped name in a post is written in the platform's idiom; a platform without a
handle for that name keeps the plain name. A handle is one unit: it is inserted whole and never
cut (fitting only cuts at spaces or inside plain words).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from bot.errors import ConfigError
from bot.models import Limits, MentionStyle
from bot.settings_values import normalise_handle
from bot.weighted_length import url_spans

REPLACE = MentionStyle.REPLACE
SUFFIX = MentionStyle.SUFFIX


@dataclass(frozen=True)
class HandleBook:
    """Names and their handles per platform, longest names first (so "De Beers Group" wins)."""

    entries: tuple[tuple[str, Mapping[str, str]], ...] = ()

    def for_platform(self, platform: str) -> dict[str, str]:
        """A fresh name -> handle dict (callers may change it); see `platform_handles`."""
        return dict(self.platform_handles(platform))

    def platform_handles(self, platform: str) -> Mapping[str, str]:
        """The book's read-only view for one platform, built once: every post asks for it."""
        cache = self._platform_cache
        if platform not in cache:
            cache[platform] = {name: h[platform] for name, h in self.entries if h.get(platform)}
        return cache[platform]

    @cached_property
    def _platform_cache(self) -> dict[str, dict[str, str]]:
        return {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.entries)

    def pattern(self) -> re.Pattern[str] | None:
        """Whole-word, case-sensitive matches; never right after '@' or '#' (already a tag)."""
        return self._pattern

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        """One alternation of every name, compiled once per book instead of once per post.

        Each branch starts with the name's first character and only then looks behind it
        (same matches as "(?<![\\w@#])(?:names)"): an alternation of literals lets the regex
        engine skip straight to the positions where some name could start.
        """
        if not self.entries:
            return None
        branches = []
        for name in self.names:
            first = re.escape(name[0])
            branches.append(rf"{first}(?<![\w@#]{first}){re.escape(name[1:])}")
        return re.compile(rf"(?:{'|'.join(branches)})(?!\w)")


def load_handles(path: Path, platforms: Mapping[str, Limits]) -> HandleBook:
    """Read handles.toml with tomllib; any problem names the file and the offending entry.

    `platforms` are every platform the bot knows (not only the active ones: the file may hold
    handles for a platform switched on later), each with the Limits its handles must meet."""
    where = str(path)
    example = next(iter(platforms), "name")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"handles file {where} not found; create it (it may be empty) or set HANDLES_FILE",
            variable="HANDLES_FILE",
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"handles file {where} is not valid TOML ({exc})", "HANDLES_FILE"
        ) from None
    entries: list[tuple[str, Mapping[str, str]]] = []
    for name, table in data.items():
        label = f"{where} [{name!r}]"
        if not isinstance(table, dict):
            raise ConfigError(
                f'{label} must be a table like ["De Beers"] {example} = "@DeBeersGroup"',
                variable="HANDLES_FILE",
            )
        if not name.strip() or name != name.strip():
            raise ConfigError(
                f"{label}: a name must be non-empty, without edge spaces", "HANDLES_FILE"
            )
        handles: dict[str, str] = {}
        for platform, raw in table.items():
            if platform not in platforms:
                raise ConfigError(
                    f"{label}: unknown platform {platform!r}; use " + ", ".join(platforms),
                    variable="HANDLES_FILE",
                )
            if not isinstance(raw, str):
                raise ConfigError(f"{label}: {platform} must be a string", "HANDLES_FILE")
            handle = normalise_handle(
                raw, platform, platforms[platform], f"{label} {platform}", "HANDLES_FILE"
            )
            if handle:
                handles[platform] = handle
        entries.append((name, handles))
    entries.sort(key=lambda e: -len(e[0]))
    return HandleBook(tuple(entries))


@dataclass(frozen=True)
class Substituted:
    """Fields with handles written in, and which names were written as handles."""

    fields: tuple[str, ...]
    names: tuple[str, ...]


def substitute(
    fields: Sequence[str],
    book: HandleBook,
    platform: str,
    style: str,
    *,
    skip: frozenset[str] = frozenset(),
) -> Substituted:
    """Write the first mention of each mapped name (across `fields`, in order) as a handle.

    Names without a handle on this platform, names in `skip`, and text inside URLs are left
    alone; later mentions of the same name stay plain.
    """
    pattern = book.pattern()
    handles = book.platform_handles(platform)
    if pattern is None or not handles:
        return Substituted(tuple(fields), ())
    done: list[str] = []
    out: list[str] = []
    for text in fields:
        urls: list[tuple[int, int]] | None = None  # looked for only once a name matches
        pieces: list[str] = []
        last = 0
        for match in pattern.finditer(text):
            name = match.group(0)
            if name in done or name in skip or name not in handles:
                continue
            if urls is None:
                urls = url_spans(text)
            if any(a < match.end() and match.start() < b for a, b in urls):
                continue
            handle = handles[name]
            pieces.append(text[last : match.start()])
            pieces.append(written(name, handle, style))
            last = match.end()
            done.append(name)
        pieces.append(text[last:])
        out.append("".join(pieces))
    return Substituted(tuple(out), tuple(done))


def written(name: str, handle: str, style: str) -> str:
    """A mapped name as the platform's idiom writes it."""
    if style == REPLACE:
        return handle
    if style == MentionStyle.ELEMENT:
        return f"@[{name}]({handle.removeprefix('@')})"
    return f"{name} ({handle})"


def mentioned(texts: Sequence[str], book: HandleBook) -> list[str]:
    """Mapped names found in `texts`, in order of first appearance (each once)."""
    pattern = book.pattern()
    if pattern is None:
        return []
    found: dict[str, None] = {}
    for text in texts:
        matches = list(pattern.finditer(text))
        urls = url_spans(text) if matches else []
        for match in matches:
            if not any(a < match.end() and match.start() < b for a, b in urls):
                found.setdefault(match.group(0))
    return list(found)
