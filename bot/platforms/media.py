"""Story images: checking them where they live (Instagram) and downloading them (X).

Both go through the shared httpx client, so the same timeouts apply, and a download is cut off
by `bot.net.download` as soon as it grows past the platform's cap. The reported type is checked
against the bytes themselves (magic numbers): a CDN that labels a WebP as image/jpeg would
otherwise make Meta or X refuse the post much later with a vaguer message.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from bot.net import (
    DownloadError,
    RefusedRequest,
    download,
    iter_decoded,
    transfer_deadline,
    transfer_seconds,
)

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}
_CONTENT_RANGE = re.compile(r"bytes\s+\d+-\d+/(\d+)", re.IGNORECASE)
SNIFF_BYTES = 64
_PERMANENT_DOWNLOAD_REASONS = ("cap", "content type", "http(s)", "redirects")


class ImageProblem(Exception):
    """The image cannot be used; `transient` says whether trying again later might help."""

    def __init__(self, url: str, reason: str, *, transient: bool = False) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What a probe learnt: the URL after redirects, its type and size (None: not reported)."""

    url: str
    content_type: str
    size: int | None


@dataclass(frozen=True, slots=True)
class ImageFile:
    """Downloaded image bytes with their sniffed type, ready for a multipart upload."""

    body: bytes
    content_type: str
    url: str = ""
    """Where the bytes came from after redirects (Meta's fetcher wants a URL that answers)."""

    @property
    def filename(self) -> str:
        return "image." + _EXTENSIONS.get(self.content_type, "bin")


def sniff_type(head: bytes) -> str | None:
    """The image type told by the first bytes, or None when they are not a known image."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def check_url(url: str | None) -> str:
    """The URL itself must be absolute http(s); anything else can never be fetched by a platform."""
    if not url:
        raise ImageProblem("(none)", "the story has no image")
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise ImageProblem(url, "the image URL is not an absolute http(s) URL")
    return url


def probe_image(
    client: httpx.Client, url: str | None, *, max_bytes: int, types: tuple[str, ...]
) -> ImageInfo:
    """Check type and size without downloading: HEAD, or a one-range GET when HEAD is refused.

    Redirects are followed and the final URL is returned, because Meta's fetcher wants a URL that
    answers directly; every hop passes the client's network policy, so the URL handed on is
    one the bot would fetch itself. HTTP_TIMEOUT bounds the whole probe.
    """
    url = check_url(url)
    seconds = transfer_seconds(client)
    try:
        with transfer_deadline(seconds):
            return _probe(client, url, max_bytes=max_bytes, types=types)
    except RefusedRequest as exc:
        raise ImageProblem(url, f"refused: {exc.reason}") from None
    except httpx.TimeoutException:
        raise ImageProblem(url, f"timed out after {seconds:g} s", transient=True) from None
    except httpx.HTTPError as exc:
        raise ImageProblem(url, f"{type(exc).__name__}: {exc}", transient=True) from None


def _probe(client: httpx.Client, url: str, *, max_bytes: int, types: tuple[str, ...]) -> ImageInfo:
    response = client.head(url, follow_redirects=True)
    if response.status_code in {403, 405, 501} or (
        response.status_code < 400 and not _content_type(response)
    ):
        return _probe_by_range(client, url, max_bytes=max_bytes, types=types)
    _raise_for_status(url, response.status_code)
    length = response.headers.get("content-length", "")
    size = int(length) if length.isdigit() else None
    info = ImageInfo(str(response.url), _content_type(response), size)
    return _judge(info, max_bytes=max_bytes, types=types)


def _probe_by_range(
    client: httpx.Client, url: str, *, max_bytes: int, types: tuple[str, ...]
) -> ImageInfo:
    """Some hosts refuse HEAD; the first bytes and Content-Range tell the same story."""
    headers = {"Range": f"bytes=0-{SNIFF_BYTES - 1}"}
    with client.stream("GET", url, headers=headers, follow_redirects=True) as response:
        _raise_for_status(url, response.status_code)
        head = b""
        try:
            for chunk in iter_decoded(response):
                head += chunk
                if len(head) >= SNIFF_BYTES:
                    break
        except (ValueError, zlib.error) as exc:
            raise ImageProblem(url, f"cannot decode the image response: {exc}") from None
        size: int | None = None
        match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
        if match:
            size = int(match.group(1))
        elif response.status_code == 200 and response.headers.get("content-length", "").isdigit():
            size = int(response.headers["content-length"])
        declared = _content_type(response)
        sniffed = sniff_type(head)
        if sniffed and declared != sniffed:
            reason = f"the server calls it {declared or 'nothing'} but it is {sniffed}"
            raise ImageProblem(url, reason)
        info = ImageInfo(str(response.url), declared, size)
        return _judge(info, max_bytes=max_bytes, types=types)


def _raise_for_status(url: str, status: int) -> None:
    if status < 400:
        return
    transient = status >= 500 or status in {408, 429}
    raise ImageProblem(url, f"the image URL answered HTTP {status}", transient=transient)


def _judge(info: ImageInfo, *, max_bytes: int, types: tuple[str, ...]) -> ImageInfo:
    if info.content_type not in types:
        reason = f"the image is {info.content_type or 'untyped'}, not {', '.join(types)}"
        raise ImageProblem(info.url, reason)
    if info.size is not None and info.size > max_bytes:
        raise ImageProblem(info.url, f"the image is {info.size} bytes, over the {max_bytes} limit")
    return info


def fetch_image(
    client: httpx.Client, url: str | None, *, max_bytes: int, types: tuple[str, ...]
) -> ImageFile:
    """Download the image with the size cap and check that its bytes are an allowed type."""
    url = check_url(url)
    try:
        result = download(client, url, max_bytes=max_bytes, accept=("image/",))
    except DownloadError as exc:
        if exc.status is not None:
            transient = exc.status >= 500 or exc.status in {408, 429}
        else:  # network trouble may pass; a wrong type, a size or a bad scheme will not
            transient = not exc.reason.startswith("refused: ") and not any(
                w in exc.reason for w in _PERMANENT_DOWNLOAD_REASONS
            )
        raise ImageProblem(url, exc.reason, transient=transient) from None
    kind = sniff_type(result.body[:SNIFF_BYTES])
    if kind is None:
        raise ImageProblem(url, f"the bytes are not an image (served as {result.content_type})")
    if kind not in types:
        raise ImageProblem(url, f"the image is {kind}, not one of {', '.join(types)}")
    return ImageFile(result.body, kind, result.final_url)
