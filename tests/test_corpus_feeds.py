"""Every document of the feedparser and JSON Feed corpora through parse_feed.

No crash (FeedError "not a feed" is allowed for non-feeds), no hang, every story has an identity
and an http(s) URL or None, and where a well-formed document's Expect line states
entries[0]['title'] or entries[0]['link'] in a simple equality form, we agree with it.

Exclusions from the title/link comparison, each for a reason (see `_comparable`):
- titles whose expected value keeps HTML markup or entity text (feedparser keeps sanitised
  markup; we deliberately produce plain text) or leading/trailing/multiple whitespace (we
  collapse it);
- documents with `Header:` lines: their expected values depend on HTTP response headers
  (Content-Location, charset) that parse_feed does not receive (the `*_docuri` ones are kept:
  we pass upstream's document URL http://127.0.0.1:8097/ the same way);
- `wellformed/sanitize/`, which is about which markup survives, not about plain text;
- `illformed/` and `encoding/` (the brief: only well-formed documents; entity cases count).
Links are compared in canonical form (we drop fragments and tracking parameters on purpose).
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import FeedError
from bot.feeds.jsonfeed import parse_json_feed
from bot.feeds.normalize import canonical_url
from bot.feeds.parse import ParsedFeed, parse_feed

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
FEEDS = CORPORA / "feedparser"
JSONFEEDS = CORPORA / "jsonfeed"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DOC_URL = "http://127.0.0.1:8097/"
CHUNKS = 8

pytestmark = pytest.mark.skipif(
    not FEEDS.is_dir() or not JSONFEEDS.is_dir(),
    reason=f"corpora not found at {CORPORA} (clone the shared folder beside the repo)",
)


def _xml_documents() -> list[Path]:
    if not FEEDS.is_dir():
        return []
    return sorted(p for p in FEEDS.rglob("*.xml"))


def _json_documents() -> list[Path]:
    if not JSONFEEDS.is_dir():
        return []
    return sorted(p for p in JSONFEEDS.rglob("*.json") if "schema" not in p.parts)


def _decode_head(raw: bytes) -> str:
    """Enough of the document decoded to read its first comment (README: sniff UTF-16/32)."""
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if raw.startswith(bom):
            return raw[len(bom) :].decode(codec, "ignore")
    if raw[:4] in (b"<\0\0\0", b"\0\0\0<"):
        return raw.decode("utf-32-le" if raw[0] else "utf-32-be", "ignore")
    if raw[:2] in (b"<\0", b"\0<"):
        return raw.decode("utf-16-le" if raw[0] else "utf-16-be", "ignore")
    return raw.decode("utf-8", "ignore")


def _header_lines(raw: bytes) -> dict[str, list[str]]:
    text = _decode_head(raw)
    start = text.find("<!--")
    end = text.find("-->", start)
    keys: dict[str, list[str]] = {}
    if start < 0 or end < 0:
        return keys
    for line in text[start + 4 : end].splitlines():
        if ":" in line:
            key, _, value = line.partition(":")
            keys.setdefault(key.strip(), []).append(value.strip())
    return keys


_STR = r"(?P<q>['\"])(?P<value>(?:\\.|(?!(?P=q)).)*)(?P=q)"
_TITLE_RE = re.compile(r"entries\[0\](?:\['title'\]|\.title)\s*==\s*u?" + _STR)
_LINK_RE = re.compile(r"entries\[0\](?:\['link'\]|\.link)\s*==\s*u?" + _STR)
_FEED_TITLE_RE = re.compile(r"feed(?:\['title'\]|\.title)\s*==\s*u?" + _STR)
_BAD_TITLE = re.compile(r"[<>&]|^\s|\s$|\s\s|[\t\n\r]")


def _literal(value: str) -> str:
    """A Python string literal's body with its escapes decoded, without eval."""
    return codecs.decode(value.encode("latin-1", "backslashreplace"), "unicode_escape")


@dataclass
class Tally:
    documents: int = 0
    parsed: int = 0
    not_a_feed: int = 0
    stories: int = 0
    compared: int = 0
    agreed: int = 0


def _check_story_shape(parsed: ParsedFeed, where: str, *, markup: bool = True) -> None:
    """`markup`: titles came from HTML-capable fields (XML); JSON Feed titles are plain text,
    where a literal "<script>" is just characters and is kept as such."""
    for story in parsed.stories:
        assert story.identity.startswith(("guid:", "url:", "hash:")), where
        assert story.url is None or story.url.startswith(("http://", "https://")), where
        assert story.image_url is None or story.image_url.startswith(("http://", "https://"))
        assert story.published.tzinfo is not None, where
        if markup:
            assert "<script" not in story.title.lower(), where
            assert "<script" not in story.summary.lower(), where


def _comparable(path: Path, kind: str, expected: str, meta: dict[str, list[str]]) -> bool:
    rel = path.relative_to(FEEDS).as_posix()
    if not rel.startswith(("wellformed/", "entities/")) or rel.startswith("wellformed/sanitize"):
        return False
    if "Header" in meta:  # needs the HTTP response headers upstream's server sent
        return False
    if kind != "link":
        return not _BAD_TITLE.search(expected)
    return True


def _walk_xml(paths: list[Path]) -> tuple[Tally, list[str]]:
    tally = Tally()
    disagreements: list[str] = []
    for path in paths:
        raw = path.read_bytes()
        meta = _header_lines(raw)
        content_type = None
        for header in meta.get("Header", []):
            name, _, value = header.partition(":")
            if name.strip().lower() == "content-type":
                content_type = value.strip()
        tally.documents += 1
        try:
            parsed = parse_feed(raw, url=DOC_URL, now=NOW, content_type=content_type)
        except FeedError as exc:
            assert "not a feed" in exc.reason, f"{path}: {exc}"
            tally.not_a_feed += 1
            continue
        tally.parsed += 1
        tally.stories += len(parsed.stories)
        _check_story_shape(parsed, str(path))
        expect = (meta.get("Expect") or [""])[0]
        checks = (("title", _TITLE_RE), ("link", _LINK_RE), ("feed title", _FEED_TITLE_RE))
        for kind, pattern in checks:
            match = pattern.search(expect)
            if not match:
                continue
            expected = _literal(match.group("value"))
            if not _comparable(path, kind, expected, meta):
                continue
            tally.compared += 1
            story = parsed.stories[0] if parsed.stories else None
            if kind == "feed title":
                ours = parsed.title
            else:
                ours = (story.title if kind == "title" else story.url) if story else None
            if kind == "link":
                expected = canonical_url(expected) or expected  # we drop fragments, tracking
            if ours == expected:
                tally.agreed += 1
            else:
                disagreements.append(f"{path.relative_to(FEEDS)}: {kind} {ours!r} != {expected!r}")
    return tally, disagreements


def _chunk(paths: list[Path], index: int) -> list[Path]:
    return paths[index::CHUNKS]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_feedparser_corpus_chunk(chunk: int) -> None:
    tally, disagreements = _walk_xml(_chunk(_xml_documents(), chunk))
    print(f"chunk {chunk}: {tally}")
    assert tally.documents > 200
    assert not disagreements, "\n".join(disagreements)


@pytest.mark.timeout(60)
def test_json_corpus() -> None:
    tally = Tally()
    for path in _json_documents():
        raw = path.read_bytes()
        tally.documents += 1
        data = json.loads(raw)  # NaN/Infinity accepted here only to read the annotations
        for body in (raw, _with_version(data)):
            try:
                parsed = parse_feed(body, url="https://example.org/feed.json", now=NOW)
            except FeedError as exc:
                assert "not a feed" in exc.reason, f"{path}: {exc}"
                tally.not_a_feed += 1
                continue
            tally.parsed += 1
            tally.stories += len(parsed.stories)
            _check_story_shape(parsed, str(path), markup=False)
    print(f"json: {tally}")
    assert tally.documents >= 115 and tally.parsed >= tally.documents


def _with_version(data: object) -> bytes:
    """README: 99 fragments lack "version"; the harness adds it to parse them as feeds."""
    if isinstance(data, dict) and "version" not in data:
        data = {**data, "version": "https://jsonfeed.org/version/1.1"}
    return json.dumps(data).encode()


def test_json_fragments_with_version_agree_with_their_simple_tests() -> None:
    """The `__tests` lines of the shape entries[0]['title'|'id'|'link'] == '…'."""
    checked = agreed = 0
    pattern = re.compile(r"^entries\[0\]\['(title|id|link)'\] == " + _STR + "$")
    for path in sorted((JSONFEEDS / "feedparser-json-branch").glob("*.json")):
        data = json.loads(path.read_bytes())
        try:
            parsed = parse_json_feed(_with_version(data), url="https://example.org/f", now=NOW)
        except FeedError:
            assert path.name.startswith("version-"), path  # only bad version values may fail
            continue
        for test in data.get("__tests", []):
            match = pattern.match(test)
            if not match or not parsed.stories:
                continue
            expected = _literal(match.group("value"))
            story = parsed.stories[0]
            ours = {"title": story.title, "id": story.guid, "link": story.url}[match.group(1)]
            checked += 1
            agreed += ours == expected or ours == canonical_url(expected)
    print(f"json fragment checks: {agreed}/{checked}")
    assert checked >= 5 and agreed == checked
