"""What the feed fetcher is asked for and what it answers, and a body's fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bot.errors import FeedError


@dataclass(frozen=True)
class FeedRequest:
    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    request: FeedRequest
    status: int | None
    """Final HTTP status; None for file:// or when no response arrived."""
    body: bytes | None
    """None on 304 or on error."""
    content_type: str | None
    final_url: str
    permanent_url: str | None
    """The new URL when every redirect hop was permanent (301/308): store it instead."""
    etag: str | None
    last_modified: str | None
    not_modified: bool
    error: FeedError | None

    @property
    def ok(self) -> bool:
        return self.error is None


_GIL_FREE_SLICE = 2047
"""hashlib lets go of the GIL for 2,048 bytes and more (HASHLIB_GIL_MINSIZE)."""


def content_digest(body: bytes) -> str:
    """A fingerprint (SHA-256) of a feed body. Many feeds send no ETag or Last-Modified, so
    every poll is a full 200: the same fingerprint as the last body processed in full means
    nothing in it is new, and the parse and the seen-lookups are skipped.

    Fed in slices that keep the GIL: hashing 45 KB takes 0.05 ms, but a thread that lets go of
    the GIL while the fetcher's thread is busy waits up to the 5 ms switch interval to get it
    back, and the first poll of 1,000 feeds spent 0.45 s (11% of it) waiting so."""
    digest = hashlib.sha256()
    view = memoryview(body)
    for start in range(0, len(view), _GIL_FREE_SLICE):
        digest.update(view[start : start + _GIL_FREE_SLICE])
    return digest.hexdigest()


def failure(
    request: FeedRequest, error: FeedError, final_url: str, status: int | None = None
) -> FetchResult:
    """A failed fetch keeps the old validators, so the next try is still conditional."""
    return FetchResult(
        request=request,
        status=status,
        body=None,
        content_type=None,
        final_url=final_url,
        permanent_url=None,
        etag=request.etag,
        last_modified=request.last_modified,
        not_modified=False,
        error=error,
    )
