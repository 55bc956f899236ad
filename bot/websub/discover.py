"""Discovery (WebSub section 4): the hub and the topic (rel="self") a feed advertises.

Pure: it reads the response headers and body a fetch already has. HTTP Link headers win over
the document's links, as the spec says. Every address found is a stranger's: the subscriber
checks it before any request goes there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin

from lxml import etree

_LINK_VALUE = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True
)


@dataclass(frozen=True)
class Advertised:
    hub: str | None
    topic: str | None


def parse_link_header(values: Iterable[str]) -> dict[str, str]:
    """rel -> first URL, from every Link header value (RFC 8288)."""
    found: dict[str, str] = {}
    for value in values:
        for match in _LINK_VALUE.finditer(value):
            url, params = match.group(1).strip(), match.group(2)
            rel = _REL.search(params)
            if not rel:
                continue
            for name in (rel.group(1) or rel.group(2) or "").lower().split():
                found.setdefault(name, url)
    return found


def _document_links(body: bytes) -> dict[str, str]:
    text = body.lstrip()
    if text.startswith(b"{"):
        try:
            doc = json.loads(text)
        except ValueError:
            return {}
        found: dict[str, str] = {}
        if isinstance(doc, dict):
            for hub in doc.get("hubs") or []:
                if isinstance(hub, dict) and str(hub.get("type", "")).lower() == "websub":
                    found.setdefault("hub", str(hub.get("url", "")))
            if isinstance(doc.get("feed_url"), str):
                found.setdefault("self", doc["feed_url"])
        return found
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError:
        return {}
    if root is None:
        return {}
    found = {}
    # The feed's own links: children of <feed> (Atom) or <channel> (RSS), not of entries.
    containers = [root] + [c for c in root if isinstance(c.tag, str) and _local(c.tag) == "channel"]
    for container in containers:
        for child in container:
            if not isinstance(child.tag, str) or _local(child.tag) != "link":
                continue
            href = child.get("href")
            for name in (child.get("rel") or "").lower().split():
                if href:
                    found.setdefault(name, href.strip())
    return found


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def discover(feed_url: str, link_headers: Iterable[str], body: bytes) -> Advertised:
    """The hub and topic of a feed, resolved against its address (topic defaults to it)."""
    header = parse_link_header(link_headers)
    document = _document_links(body)
    hub = header.get("hub") or document.get("hub")
    topic = header.get("self") or document.get("self")
    if not hub:
        return Advertised(None, None)
    return Advertised(urljoin(feed_url, hub), urljoin(feed_url, topic) if topic else feed_url)
