"""Instagram's image rules: what a feed photo must be for the Graph API to take it."""

from __future__ import annotations

from bot.imaging.spec import ImageSpec


def instagram_spec(
    fit: str = "pad", pad: str = "blur", pad_color: tuple[int, int, int] = (255, 255, 255)
) -> ImageSpec:
    """Instagram's feed photo: sRGB JPEG, 4:5 to 1.91:1, 320-1440 px wide, at most 8 MB."""
    return ImageSpec(
        "Instagram",
        ("image/jpeg",),
        8 * 1024 * 1024,
        max_width=1440,
        max_height=1800,  # 1440 / 0.8: the tallest 4:5 image at the widest width
        min_width=320,
        min_aspect=4 / 5,
        max_aspect=1.91,
        fit=fit,
        pad=pad,
        pad_color=pad_color,
    )
