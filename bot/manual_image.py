"""`post --image PATH|URL`: the picture of a manual post, checked before anything is sent.

A URL stays a URL: every platform fetches it (X's adapter downloads it, Facebook and Instagram
are handed it), and it is probed now (type and size, without downloading it), so a broken link is
refused at the command line instead of failing later. A local file is read now and its bytes kept
in the store (`media` table, by SHA-256): the worker that sends a scheduled post may run on
another machine, and the file may be gone by then. Such a post names its picture
`media:<sha256>`; the deliverer puts the bytes back into the Post just before publishing, and a
platform that uploads (X, a Facebook photo) sends them. A platform that can only fetch a public
URL (Instagram) takes a local file only when the bot hosts a copy (IMAGE_HOST); without it, the
command is refused, naming IMAGE_HOST.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot.errors import ConfigError
from bot.models import Limits
from bot.platforms import registry
from bot.platforms.media import ImageProblem, probe_image, sniff_type
from bot.store.media import MEDIA_PREFIX, MediaStore

MAX_FILE_BYTES = 16 * 1024 * 1024
"""Larger than any platform takes (Instagram 8 MB): a bigger file is surely not meant."""
ALL_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


@dataclass(frozen=True)
class ManualImage:
    """A picture given on the command line: its reference in a Post, type, size and digest."""

    source: str
    """As the person wrote it (path or URL), for messages."""
    reference: str
    """What goes in Post.image_url: the URL, or media:<sha256> for a local file."""
    content_type: str
    size: int | None
    digest: str
    data: bytes | None = None
    """A local file's bytes (None for a URL)."""

    @property
    def is_file(self) -> bool:
        return self.data is not None

    def check_for(self, platform: str, limits: Limits) -> None:
        """ConfigError when `platform` cannot take this picture, naming what to do."""
        if self.is_file and limits.image_url_only:
            hosts = " or ".join(registry.image_hosts())
            raise ConfigError(
                f"{platform} fetches pictures from a public URL and cannot take the local file "
                f"{self.source}: give an http(s) URL of the picture with --image, or set "
                f"IMAGE_HOST ({hosts}) so the bot hosts a copy for it",
                variable="IMAGE_HOST",
            )
        if self.content_type not in limits.image_types:
            raise ConfigError(
                f"--image {self.source} is {self.content_type}; {platform} takes "
                f"{', '.join(limits.image_types)}"
            )
        if self.size is not None and self.size > limits.max_image_bytes:
            raise ConfigError(
                f"--image {self.source} is {self.size} bytes; {platform} takes at most "
                f"{limits.max_image_bytes}"
            )

    def save(self, media: MediaStore, now: float) -> None:
        """Keep a local file's bytes in the store (once per content) before any post names it."""
        if self.data is not None:
            media.put_media(self.digest, self.content_type, self.data, now)


def load_image(http: httpx.Client, source: str) -> ManualImage:
    """Read a local file or probe a URL; ConfigError naming the culprit when it is no picture."""
    lowered = source.strip().lower()
    if lowered.startswith(("http://", "https://")):
        return _probe(http, source.strip())
    if "://" in lowered:
        raise ConfigError(f"--image {source!r}: give a local file or an http(s) URL")
    return _read(Path(source).expanduser())


def _probe(http: httpx.Client, url: str) -> ManualImage:
    try:
        info = probe_image(http, url, max_bytes=MAX_FILE_BYTES, types=ALL_TYPES)
    except ImageProblem as exc:
        later = " (try again later)" if exc.transient else ""
        raise ConfigError(f"--image {url} cannot be used: {exc.reason}{later}") from None
    digest = hashlib.sha256(info.url.encode()).hexdigest()
    return ManualImage(url, info.url, info.content_type, info.size, digest)


def _read(path: Path) -> ManualImage:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                f"--image {path} is {size} bytes; no platform takes more than {MAX_FILE_BYTES}"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"--image {path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"--image {path} is a folder; give a picture file") from None
    except OSError as exc:
        raise ConfigError(f"--image {path} cannot be read: {exc.strerror or exc}") from None
    kind = sniff_type(data[:64])
    if kind is None:
        raise ConfigError(f"--image {path} is not a picture (JPEG, PNG, GIF or WebP)")
    digest = hashlib.sha256(data).hexdigest()
    return ManualImage(str(path), MEDIA_PREFIX + digest, kind, len(data), digest, data)
