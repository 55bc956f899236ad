"""Which links a feed may give us, and the one form of a link the store remembers.

`canonical_url` decides a story's identity whenever its feed gives no stable guid, and a guid
that is itself a link goes through it too: a store remembers its output forever, so it must map
every spelling of one article (tracking parameters, fragments, host case, a default port) to one
string, and never change for a link it has seen before (tests/test_feeds_identity.py holds it to
the frozen code of earlier releases). Every URL in a feed is written by a stranger: anything not
http(s) is refused here, before any caller can post or fetch it.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urljoin, urlsplit

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
        "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "ref", "ref_src", "ref_url",
        "spm", "vero_id", "vero_conv", "oly_anon_id", "oly_enc_id", "rb_clickid", "s_cid",
        "ncid", "sr_share", "_ga", "_gl", "wt.mc_id", "cmpid", "icid", "share", "ocid",
        "soc_src", "soc_trk", "cid", "feature", "recruiter",
    }
)  # fmt: skip
"""Query parameters that only say where a click came from; the article is the same without."""
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "itm_", "__hs")
DEFAULT_PORTS = {"http": 80, "https": 443}

_NOT_IN_A_LINK = r"\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""ASCII control characters, the space, and every other character Python counts as whitespace
(a character class's ranges, for the patterns below)."""
_REMOVED_CHARACTERS = re.compile(f"[{_NOT_IN_A_LINK}]+")
"""What is taken out of a link wherever it stands (feeds wrap long links over lines)."""


@functools.lru_cache(maxsize=1024)
def is_tracking_param(name: str) -> bool:
    """True for a query parameter that only tracks the click (utm_source, fbclid...), in any
    case. (Memoised: micro-costs in benchmarks/README.md.)"""
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def is_http(text: str) -> bool:
    """True when `text` starts with "http://" or "https://" in any ASCII case."""
    return text[:8].lower().startswith(("http://", "https://"))


def _http_parts(url: str | None, base: str | None) -> tuple[str, str, str, str, str, str] | None:
    """(absolute URL, scheme, host, port, path, query) of an http(s) link, else None.

    The rules, in order:
    - whitespace and control characters are removed (_REMOVED_CHARACTERS);
    - a link that does not start with http:// or https:// is resolved against `base`; without
      a base, a scheme-relative "//host/path" is taken as https;
    - the scheme must be http or https (any case; it is lower-cased);
    - user info ("user:pass@") is dropped from the host; a bracketed IPv6 host keeps its
      brackets; the host is lower-cased and loses trailing dots, and must not be empty;
    - a port, when given, must be digits and at most 65535.
    """
    if not url:
        return None
    url = _REMOVED_CHARACTERS.sub("", url)
    if not url:
        return None
    if url.startswith("//") and not base:
        url = "https:" + url
    try:
        if base and not is_http(url):
            url = urljoin(base, url)
        scheme, netloc, path, query, _fragment = urlsplit(url)
    except ValueError:  # a malformed IPv6 host, a netloc that NFKC turns into another one
        return None
    scheme = scheme.lower()
    if scheme not in DEFAULT_PORTS:
        return None
    netloc = netloc.rpartition("@")[2]
    if netloc.startswith("["):
        host, _, rest = netloc.partition("]")
        host += "]"
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = netloc.partition(":")
    host = host.lower().rstrip(".")
    if not host or host == "[]":
        return None
    if port and (not port.isdigit() or int(port) > 65535):
        return None
    return url, scheme, host, port, path, query


_CANONICAL_HTTP_RE = re.compile(
    rf"https?://[a-z0-9.-]*[a-z0-9-]/[^?#{_NOT_IN_A_LINK}]*(?:\?([^#&{_NOT_IN_A_LINK}]*))?"
)


def _already_canonical(url: str) -> bool:
    """The one FAST PATH of the identity rules, beside the rules it stands for: three links an
    item go through them, and the cold poll's floor under load needs this (benchmarks/README.md).

    True when `url`, trimmed, is what canonical_url and safe_url give for it whatever the
    base: a lower-case http(s) host without port, user info or trailing dot, a path, at most
    one query parameter that is neither empty nor tracking, no fragment, nothing that
    _REMOVED_CHARACTERS removes. tests/test_feeds_identity.py holds it to the rules."""
    match = _CANONICAL_HTTP_RE.fullmatch(url.strip())
    if match is None:
        return False
    query = match.group(1)
    return query is None or (query != "" and not is_tracking_param(query.partition("=")[0]))


def safe_url(url: str | None, base: str | None = None) -> str | None:
    """Resolve `url` against `base` and keep it only if it is an absolute http(s) URL.

    Everything else (javascript:, data:, mailto:, file:, garbage) becomes None, so no caller
    can ever post or fetch a scripted or local link that a feed slipped in. The link keeps its
    own spelling (an image server may depend on it); only what _http_parts removes is gone.
    """
    if url and _already_canonical(url):
        return url.strip()
    return _safe_by_the_rules(url, base)


def _safe_by_the_rules(url: str | None, base: str | None) -> str | None:
    parts = _http_parts(url, base)
    return parts[0] if parts else None


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """The form of a link under which the store recognises a story it has seen before.

    Relative links are resolved against `base`; the scheme and host are lower-cased, the
    default port, user info, fragment (including WordPress's "#comments") and tracking
    parameters (utm_*, fbclid, gclid, mc_cid...) are dropped, and so are empty parameters; a
    non-default port loses its leading zeros; an empty path becomes "/". A query escaped twice
    ("&amp;" between parameters) is read as once. The rest of the query keeps its order and
    spelling, because servers may depend on them. Returns None for anything not http(s).
    """
    if url and _already_canonical(url):
        return url.strip()
    return _canonical_by_the_rules(url, base)


def _canonical_by_the_rules(url: str | None, base: str | None) -> str | None:
    parts = _http_parts(url, base)
    if parts is None:
        return None
    _, scheme, host, port, path, query = parts
    if port and int(port) != DEFAULT_PORTS[scheme]:
        host = f"{host}:{int(port)}"
    query = query.replace("&amp;", "&")
    kept = [p for p in query.split("&") if p and not is_tracking_param(p.split("=", 1)[0])]
    query = "&".join(kept)
    return f"{scheme}://{host}{path or '/'}{'?' + query if query else ''}"
