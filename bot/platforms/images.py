"""A story's image made ready for one platform: downloaded, fitted, and hosted when needed.

The adapters call this and only translate its two outcomes: `ImageUnavailable` (with
`transient` when a later try may work) or an image to send. Downloads go through the shared
httpx client (its timeouts, proxies and network policy) with a hard size cap.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from bot.imaging.spec import SOURCE_MAX_BYTES, FittedImage, ImageRefused, ImageSpec
from bot.platforms.media import ImageFile, ImageProblem, fetch_image

SOURCE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


class ImageUnavailable(Exception):
    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True, slots=True)
class SourceImage:
    file: ImageFile

    def misfit(self, spec: ImageSpec) -> str | None:
        """Why the image cannot be used as it is under `spec` (None: it can)."""
        from bot.imaging.fit import misfit

        return misfit(self.file.body, self.file.content_type, spec)


def download_source(http: httpx.Client, url: str | None) -> SourceImage:
    """The story image's bytes (any common type, up to SOURCE_MAX_BYTES)."""
    try:
        return SourceImage(fetch_image(http, url, max_bytes=SOURCE_MAX_BYTES, types=SOURCE_TYPES))
    except ImageProblem as exc:
        raise ImageUnavailable(exc.reason, transient=exc.transient) from None


def fitted(source: SourceImage, spec: ImageSpec) -> FittedImage:
    from bot.imaging.fit import fit_image  # Pillow, when an image is really fitted

    try:
        return fit_image(source.file.body, spec)
    except ImageRefused as exc:
        raise ImageUnavailable(exc.reason) from None


def fit_bytes(data: bytes, spec: ImageSpec) -> FittedImage:
    """A picture a person gave as a file, fitted like a downloaded one."""
    from bot.imaging.fit import fit_image

    try:
        return fit_image(data, spec)
    except ImageRefused as exc:
        raise ImageUnavailable(exc.reason) from None


def fetch_fitted(http: httpx.Client, url: str | None, spec: ImageSpec) -> FittedImage:
    """Download and fit in one step (X and Facebook photos upload the bytes themselves)."""
    return fitted(download_source(http, url), spec)
