"""What kind of network failure an exception is: DNS, refused, TLS, timeout, or another one.

`check` must tell "the network is broken" (name the host, fix the network, DNS or the *_BASE_URL
setting) apart from "the credentials are refused" (fix the token). httpx, requests and urllib3
wrap the operating system's error in two or three layers, differently each; this walks the chain
of causes for the standard library's own exception types, and reads their words as a fallback.
Pure: no client library is imported.
"""

from __future__ import annotations

import socket
import ssl

_WORDS = (
    ("dns", ("name or service not known", "nodename nor servname", "temporary failure in name",
             "no address associated", "name resolution", "getaddrinfo failed",
             "failed to resolve")),
    ("refused", ("connection refused", "actively refused")),
    ("timeout", ("timed out", "timeout")),
    ("tls", ("certificate verify failed", "ssl:", "sslerror", "tls", "wrong version number",
             "handshake")),
)  # fmt: skip


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, its causes and contexts, and exceptions carried in args (urllib3)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        for nxt in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
        todo += [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
    return seen


def classify(exc: BaseException) -> str:
    """ "dns" | "refused" | "tls" | "timeout" | "other"."""
    chain = _chain(exc)
    for e in chain:
        if isinstance(e, socket.gaierror):
            return "dns"
    for e in chain:
        if isinstance(e, ConnectionRefusedError):
            return "refused"
        if isinstance(e, ssl.SSLError | ssl.CertificateError):
            return "tls"
    text = " ".join(f"{type(e).__name__}: {e}" for e in chain).lower()
    for kind, words in _WORDS:
        if any(w in text for w in words):
            return kind
    for e in chain:
        if isinstance(e, TimeoutError | socket.timeout):
            return "timeout"
    return "other"


def describe(kind: str, host: str, detail: str = "") -> str:
    """One line naming the host and what to look at."""
    what = {
        "dns": f"cannot resolve {host} (DNS)",
        "refused": f"the connection to {host} was refused",
        "tls": f"the TLS (HTTPS) connection to {host} failed" + (f": {detail}" if detail else ""),
        "timeout": f"{host} did not answer in time (timeout)",
    }.get(kind, f"cannot reach {host}" + (f": {detail}" if detail else ""))
    return f"network: {what}; check the network, DNS, proxy and firewall, and the API base URL"
