"""Post templates: plain text with named fields, checked once at start so a typo stops the bot.

Syntax (documented for users in the default template files):
- `{title}`, `{summary}`, `{url}`, `{handle}`, `{hashtags}`, `{author}`, `{mentions}`;
  `{{` and `}}` are literal braces. Nothing else may appear inside braces: no positions, no
  format specs, no conversions, no attribute access (str.format would run them on story text).
- `[[ ... ]]` is an optional part, kept only when every field inside it is non-empty, so
  "[[by {author}]]" disappears for a story without an author instead of leaving "by".
- A line starting with `##` is a comment and is removed.
After filling, runs of spaces collapse, lines lose their edge spaces and blank lines never come
more than one in a row, so an empty field leaves no hole.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from bot.compose.text import clean, tidy
from bot.errors import ConfigError

FIELDS = ("title", "summary", "url", "handle", "hashtags", "author", "mentions")
_OPEN, _CLOSE = "[[", "]]"


@dataclass(frozen=True)
class _Segment:
    """Literal text and fields; an `optional` segment vanishes when any of its fields is empty."""

    parts: tuple[tuple[str, str | None], ...]  # (literal, field or None)
    optional: bool

    @cached_property
    def fields(self) -> tuple[str, ...]:
        """Worked out once: render asks every segment on every call."""
        return tuple(f for _, f in self.parts if f is not None)


@dataclass(frozen=True)
class Template:
    """A parsed template: fill it with `render`, ask which fields it uses with `fields`."""

    source: str
    segments: tuple[_Segment, ...]
    warnings: tuple[str, ...] = ()
    """What is valid but most likely a mistake, such as `{{title}}` (prints "{title}")."""

    @cached_property
    def fields(self) -> tuple[str, ...]:
        """The fields in order of first appearance (worked out once; compose asks each time)."""
        seen: dict[str, None] = {}
        for segment in self.segments:
            seen.update(dict.fromkeys(segment.fields))
        return tuple(seen)

    def render(self, values: Mapping[str, str]) -> str:
        out: list[str] = []
        for segment in self.segments:
            if segment.optional and not all(values.get(f, "") for f in segment.fields):
                continue
            for literal, field in segment.parts:
                out.append(literal)
                if field is not None:
                    out.append(values.get(field, ""))
        return tidy("".join(out))


def _error(source: str, message: str) -> ConfigError:
    return ConfigError(f"template {source}: {message}", variable="TEMPLATE_DIR")


def _parse_segment(source: str, text: str, optional: bool, line: int) -> _Segment:
    parts: list[tuple[str, str | None]] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise _error(
            source,
            f"broken braces near line {line} ({exc}); write {{{{ and }}}} for literal braces",
        ) from None
    for literal, field, spec, conversion in parsed:
        if field is None:
            parts.append((literal, None))
            continue
        shown = (
            "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
        )
        shown += "}"
        if field == "" or field.isdigit():
            raise _error(source, f"positional field {shown} near line {line}; use a named field")
        if field not in FIELDS:
            raise _error(
                source,
                f"unknown field {shown} near line {line}; known fields: "
                + ", ".join("{" + f + "}" for f in FIELDS),
            )
        if spec or conversion:
            raise _error(
                source,
                f"field {shown} near line {line} has a format spec or conversion; "
                f"write plain {{{field}}}",
            )
        parts.append((literal, field))
    segment = _Segment(tuple(parts), optional)
    if optional and not segment.fields:
        raise _error(source, f"optional part [[...]] near line {line} has no field")
    return segment


def parse_template(text: str, source: str) -> Template:
    """Check and parse template text; `source` (the file name) goes into every error."""
    body = "\n".join(line for line in text.split("\n") if not line.lstrip().startswith("##"))
    body = clean(body, multiline=True) if body.strip() else ""
    # clean() collapses spaces inside lines, which is what tidy() does after filling anyway.
    if not body:
        raise _error(source, "is empty; write at least {title} or {url}")
    segments: list[_Segment] = []
    rest, line = body, 1
    while rest:
        start = rest.find(_OPEN)
        stray = rest.find(_CLOSE)
        if stray != -1 and (start == -1 or stray < start):
            where = line + rest[:stray].count("\n")
            raise _error(source, f"']]' without '[[' near line {where}")
        if start == -1:
            segments.append(_parse_segment(source, rest, False, line))
            break
        if start:
            segments.append(_parse_segment(source, rest[:start], False, line))
            line += rest[:start].count("\n")
        end = rest.find(_CLOSE, start + 2)
        inner = rest[start + 2 : end] if end != -1 else ""
        if end == -1 or _OPEN in inner:
            raise _error(source, f"'[[' without ']]' near line {line} (optional parts do not nest)")
        segments.append(_parse_segment(source, inner, True, line))
        line += inner.count("\n")
        rest = rest[end + 2 :]
    return Template(source, tuple(segments), _literal_field_warnings(text, source))


_LITERAL_FIELD = re.compile(r"(?<!\{)\{\{\s*(" + "|".join(FIELDS) + r")\s*\}\}(?!\})")


def _literal_field_warnings(text: str, source: str) -> tuple[str, ...]:
    """`{{title}}` is valid (literal braces) but prints "{title}" in every post: surely meant
    as the field, as in Jinja or Mustache templates."""
    warnings = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.lstrip().startswith("##"):
            continue
        for match in _LITERAL_FIELD.finditer(line):
            field = match.group(1)
            warnings.append(
                f"template {source} line {number}: {match.group(0)} prints the text "
                f"{match.group(0)[1:-1]} in every post ({{{{ and }}}} are literal braces); "
                f"write {{{field}}} to insert the {field}"
            )
    return tuple(warnings)


def load_template(path: Path) -> Template:
    """Read and check one template file (UTF-8)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"template {path} not found; create it or set TEMPLATE_DIR to a folder holding "
            "one <platform>.txt for each platform in PLATFORMS",
            variable="TEMPLATE_DIR",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"template {path} cannot be read as UTF-8 text ({exc})", variable="TEMPLATE_DIR"
        ) from None
    return parse_template(text, str(path))
