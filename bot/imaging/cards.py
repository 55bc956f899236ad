"""Title cards: a 1080x1350 image (Instagram's 4:5) drawn from a story's title, so a story
without a usable image still goes out on Instagram (IG_TITLE_CARD=true).

Brand from config/brand/ (logo.png, logo.jpg or logo.webp; else BRAND_NAME as text) and the
colours BRAND_COLOR and BRAND_TEXT_COLOR. Fonts come from Python packages (Noto Sans for Latin,
Greek and Cyrillic; Noto Sans CJK for Chinese, Japanese and Korean), so the same glyphs are
drawn on every machine. A character no font has (emoji, rare scripts) is left out rather than
drawn as a box.
"""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot.imaging.fit import FittedImage, ImageRefused, open_image

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 1080, 1350
MARGIN = 96
LOGO_BOX = (560, 180)
TITLE_SIZES = (96, 84, 72, 64, 56, 48, 42)
MAX_LINES = 9
LOGO_NAMES = ("logo.png", "logo.jpg", "logo.jpeg", "logo.webp")
Font = ImageFont.FreeTypeFont


def font_files() -> tuple[Path, ...]:
    """The TTF/OTF files, best first: Noto Sans, then Noto Sans CJK for what it lacks."""
    import cvttf_NotoSansCJK_Regular
    import fontpkg_noto_sans

    latin = sorted(p for p in fontpkg_noto_sans.ROOT.glob("files/*.ttf") if "Italic" not in p.name)
    return (*latin, Path(cvttf_NotoSansCJK_Regular.get_TTF_path()))


@dataclass(frozen=True)
class CardStyle:
    background: tuple[int, int, int] = (17, 24, 39)
    text_color: tuple[int, int, int] = (255, 255, 255)
    brand_name: str = ""
    logo: Path | None = None
    fonts: tuple[Path, ...] = field(default_factory=font_files)

    @classmethod
    def from_settings(cls, images: object) -> CardStyle:
        """From bot.settings_values.ImageSettings: colours, brand name and BRAND_DIR (the
        settings default it to config/brand/)."""
        folder: Path | None = getattr(images, "brand_dir", None)
        found = (folder / n for n in LOGO_NAMES if folder is not None and (folder / n).is_file())
        logo = next(found, None)
        return cls(
            background=images.brand_color,  # type: ignore[attr-defined]
            text_color=images.brand_text_color,  # type: ignore[attr-defined]
            brand_name=images.brand_name,  # type: ignore[attr-defined]
            logo=logo,
        )


@lru_cache(maxsize=32)
def _font(path: Path, size: int, bold: bool) -> Font:
    font = ImageFont.truetype(str(path), size)
    if bold:
        with contextlib.suppress(OSError, ValueError):  # not a variable font: its one weight
            font.set_variation_by_name("Bold")
    return font


@lru_cache(maxsize=4096)
def _has_glyph(path: Path, char: str) -> bool:
    """Whether the font draws `char` itself: its mask differs from the missing-glyph box."""
    font = _font(path, 48, False)
    return _mask(font, char) != _mask(font, "\U0010fffd")


def _mask(font: Font, text: str) -> bytes:
    canvas = Image.new("L", (96, 96))
    ImageDraw.Draw(canvas).text((8, 8), text, font=font, fill=255)
    return canvas.tobytes()


class TitleCardMaker:
    def __init__(self, style: CardStyle) -> None:
        self.style = style
        self._logo = self._load_logo(style.logo)

    @staticmethod
    def _load_logo(path: Path | None) -> Image.Image | None:
        if path is None:
            return None
        try:
            logo = open_image(path.read_bytes())
            logo.load()
        except (OSError, ImageRefused) as exc:
            log.warning(
                "title cards: the logo %s cannot be used (%s); the name is drawn", path, exc
            )
            return None
        logo = logo.convert("RGBA")
        logo.thumbnail(LOGO_BOX)
        return logo

    def _runs(self, text: str) -> list[tuple[str, Path]]:
        """The text split into runs drawn with one font each; characters no font has are
        dropped (an emoji becomes nothing, not a box)."""
        runs: list[tuple[str, Path]] = []
        for char in text:
            if char.isspace():
                path = runs[-1][1] if runs else self.style.fonts[0]
                char = " "
            else:
                found = next((p for p in self.style.fonts if _has_glyph(p, char)), None)
                if found is None:
                    continue
                path = found
            if runs and runs[-1][1] == path:
                runs[-1] = (runs[-1][0] + char, path)
            else:
                runs.append((char, path))
        return runs

    def _lines(self, text: str, size: int, bold: bool) -> list[list[tuple[str, Path]]]:
        """Greedy wrapping at spaces; a word wider than a line (or CJK text) breaks anywhere."""
        width = WIDTH - 2 * MARGIN
        units: list[tuple[str, bool]] = []  # (text, a space before it)
        for word in " ".join(text.split()).split(" "):
            if self._width(word, size, bold) <= width:
                units.append((word, True))
            else:
                units += [(char, i == 0) for i, char in enumerate(word)]
        lines: list[str] = []
        for unit, spaced in units:
            joiner = " " if spaced and lines and lines[-1] else ""
            if lines and self._width(lines[-1] + joiner + unit, size, bold) <= width:
                lines[-1] += joiner + unit
            else:
                lines.append(unit)
        return [self._runs(line) for line in lines if line.strip()]

    def _width(self, text: str, size: int, bold: bool) -> float:
        return sum(_font(p, size, bold).getlength(run) for run, p in self._runs(text))

    def render(self, title: str) -> FittedImage:
        style = self.style
        text = " ".join("".join(run for run, _ in self._runs(title)).split())
        card = Image.new("RGB", (WIDTH, HEIGHT), style.background)
        draw = ImageDraw.Draw(card)
        brand_top = HEIGHT - MARGIN - (self._logo.height if self._logo else 64)
        room = brand_top - 2 * MARGIN
        size = TITLE_SIZES[-1]
        lines = self._lines(text, size, True)
        for candidate in TITLE_SIZES:
            trial = self._lines(text, candidate, True)
            if len(trial) * candidate * 1.25 <= room and len(trial) <= MAX_LINES:
                size, lines = candidate, trial
                break
        lines = lines[:MAX_LINES]
        y = MARGIN
        for line in lines:
            x = float(MARGIN)
            for run, path in line:
                font = _font(path, size, True)
                draw.text((x, y), run, font=font, fill=style.text_color)
                x += font.getlength(run)
            y += int(size * 1.25)
        self._draw_brand(card, draw, brand_top)
        out = io.BytesIO()
        card.save(out, "JPEG", quality=90, optimize=True)
        return FittedImage(out.getvalue(), "image/jpeg", WIDTH, HEIGHT)

    def _draw_brand(self, card: Image.Image, draw: ImageDraw.ImageDraw, top: int) -> None:
        if self._logo is not None:
            card.paste(self._logo, (MARGIN, top), self._logo)
            return
        name = "".join(run for run, _ in self._runs(self.style.brand_name)).strip()
        x = float(MARGIN)
        for run, path in self._runs(name):
            font = _font(path, 44, False)
            draw.text((x, top), run, font=font, fill=self.style.text_color)
            x += font.getlength(run)
