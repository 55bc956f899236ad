"""What a platform accepts of an image, and what fitting gives back: the images' vocabulary,
apart from Pillow, which loads (about 10 ms) only when an image is really opened (bot.imaging.fit).
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE_MAX_BYTES = 30 * 1024 * 1024
"""The largest story image we download to fit (anything bigger is not a news photo)."""


class ImageRefused(Exception):
    """The bytes cannot become an acceptable image (not an image, a bomb, broken)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """What one platform accepts; `min_aspect`/`max_aspect` are width / height."""

    name: str
    types: tuple[str, ...]
    max_bytes: int
    max_width: int = 4096
    max_height: int = 4096
    min_width: int = 1
    min_aspect: float | None = None
    max_aspect: float | None = None
    fit: str = "pad"  # "pad" | "crop": how an image outside the aspect range is brought in
    pad: str = "blur"  # "blur" | "brand": what fills the bars of a padded image
    pad_color: tuple[int, int, int] = (255, 255, 255)


@dataclass(frozen=True, slots=True)
class FittedImage:
    body: bytes
    content_type: str
    width: int
    height: int

    @property
    def filename(self) -> str:
        return "image." + {"image/png": "png", "image/webp": "webp"}.get(self.content_type, "jpg")
