"""Fitting a story image to what one platform accepts: pure, bytes in and bytes out.

Every image from a feed is written by a stranger, so it is opened with only the decoders we
expect (`INPUT_FORMATS`), its pixel count is checked before any pixel is decoded (a 40 kB PNG
can claim 50,000 x 50,000 pixels), and Pillow's own decompression-bomb check is kept on and
turned into an error. The output is always re-encoded: EXIF orientation applied, then every
piece of metadata (EXIF with its GPS, XMP, comments, ICC) dropped, colours converted to sRGB.
"""

from __future__ import annotations

import io
import math
import warnings

from PIL import Image, ImageCms, ImageFilter, ImageOps

from bot.imaging.spec import SOURCE_MAX_BYTES, FittedImage, ImageRefused, ImageSpec

__all__ = ["SOURCE_MAX_BYTES", "FittedImage", "ImageRefused", "ImageSpec", "fit_image", "misfit"]

INPUT_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")  # JPEG covers MPO too
MAX_PIXELS = 50_000_000
"""Refused above this before decoding: a 50 MP image is a 150 MB bitmap already."""
MIN_SIDE = 16
"""Under this many pixels a side, an image is a tracking pixel or a spacer (a feed's 1x1 GIF),
not a story's picture: refused, so the post goes without it instead of with a blank square
enlarged to the platform's minimum."""
JPEG_QUALITIES = (90, 85, 78, 70, 60)
_SRGB = ImageCms.createProfile("sRGB")

Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's guard at our limit: over it raises, never warns


def open_image(data: bytes) -> Image.Image:
    """Open untrusted bytes with the expected decoders only, refusing bombs before decoding."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=INPUT_FORMATS)
        except Image.DecompressionBombError as exc:
            raise ImageRefused(f"refused as a decompression bomb ({exc})") from None
        except Image.DecompressionBombWarning:
            raise ImageRefused("refused as a decompression bomb (too many pixels)") from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise ImageRefused(f"not an image Pillow can read ({exc})") from None
    width, height = image.size
    if width * height > MAX_PIXELS or width < 1 or height < 1:
        raise ImageRefused(
            f"refused: {width}x{height} pixels is over the {MAX_PIXELS:,} pixel limit"
        )
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageRefused(
            f"{width}x{height} pixels is a tracking pixel or a spacer, not a picture "
            f"(under {MIN_SIDE} pixels a side)"
        )
    return image


def _first_frame_rgb(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """The first frame, upright, in sRGB, alpha flattened onto `background`."""
    try:
        image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image) or image
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageRefused(f"the image data is broken ({exc})") from None
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            mode = "RGBA" if image.mode == "RGBA" else "RGB"
            image = ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode) or image
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the plain conversion below is the best we can do
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, background)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )


def _into_aspect(image: Image.Image, spec: ImageSpec) -> Image.Image:
    """Crop or pad the image into [min_aspect, max_aspect]; unchanged when already inside."""
    width, height = image.size
    ratio = width / height
    low, high = spec.min_aspect, spec.max_aspect
    if low is not None and ratio < low:  # too tall
        if spec.fit == "crop":
            new_h = max(1, math.floor(width / low))
            top = (height - new_h) // 2
            return image.crop((0, top, width, top + new_h))
        return _pad(image, (math.ceil(height * low), height), spec)
    if high is not None and ratio > high:  # too wide
        if spec.fit == "crop":
            new_w = max(1, math.floor(height * high))
            left = (width - new_w) // 2
            return image.crop((left, 0, left + new_w, height))
        return _pad(image, (width, math.ceil(width / high)), spec)
    return image


def _pad(image: Image.Image, size: tuple[int, int], spec: ImageSpec) -> Image.Image:
    """The image centred on a canvas of `size`: blurred enlargement of itself, or brand colour."""
    if spec.pad == "brand":
        canvas = Image.new("RGB", size, spec.pad_color)
    else:
        # Blur a small copy (cheap at any size), then enlarge it to cover the canvas.
        small = ImageOps.fit(image, (max(1, size[0] // 8), max(1, size[1] // 8)))
        canvas = small.filter(ImageFilter.GaussianBlur(4)).resize(size, Image.Resampling.BILINEAR)
    canvas.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    return canvas


def _target_size(width: int, height: int, spec: ImageSpec) -> tuple[int, int]:
    """The final pixel size: within the width and height bounds, aspect kept inside its range."""
    scale = min(1.0, spec.max_width / width, spec.max_height / height)
    if width * scale < spec.min_width:
        scale = spec.min_width / width
    new_w = max(spec.min_width, min(spec.max_width, round(width * scale)))
    new_h = max(1, round(height * scale))
    # Rounding may nudge the ratio a hair outside its range: correct by a pixel.
    if spec.min_aspect is not None:
        new_h = min(new_h, math.floor(new_w / spec.min_aspect))
    if spec.max_aspect is not None:
        new_h = max(new_h, math.ceil(new_w / spec.max_aspect))
    return new_w, new_h


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def fit_image(data: bytes, spec: ImageSpec) -> FittedImage:
    """The image as `spec` accepts it, or ImageRefused. Always re-encoded, so nothing of the
    source's metadata survives. PNG is kept (as PNG) only for a transparent image on a platform
    that takes PNG; everything else becomes a JPEG, shrunk further until it is under the cap."""
    source = open_image(data)
    keep_png = "image/png" in spec.types and _has_alpha(source)
    if keep_png:
        try:
            source.seek(0)
            image = (ImageOps.exif_transpose(source) or source).convert("RGBA")
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise ImageRefused(f"the image data is broken ({exc})") from None
    else:
        image = _first_frame_rgb(source, spec.pad_color)
    image = _into_aspect(image, spec)
    image.info = {}  # Pillow writes a JPEG comment, ICC or EXIF found here: none goes out
    size = _target_size(image.width, image.height, spec)
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    while True:
        if keep_png:
            body = _png(image)
            if len(body) <= spec.max_bytes:
                return FittedImage(body, "image/png", image.width, image.height)
        else:
            for quality in JPEG_QUALITIES:
                body = _jpeg(image, quality)
                if len(body) <= spec.max_bytes:
                    return FittedImage(body, "image/jpeg", image.width, image.height)
        smaller = _target_size(int(image.width * 0.8), int(image.height * 0.8), spec)
        if smaller == image.size:  # at the smallest allowed size and still too big
            raise ImageRefused(f"cannot be made smaller than {spec.max_bytes} bytes")
        image = image.resize(smaller, Image.Resampling.LANCZOS)


def misfit(data: bytes, content_type: str, spec: ImageSpec) -> str | None:
    """Why the source itself is not acceptable as it is, or None when it is (used when nothing
    can host a fitted copy). The width is not checked: Meta scales it into range itself."""
    if content_type not in spec.types:
        return f"it is {content_type}, not {' or '.join(spec.types)}"
    if len(data) > spec.max_bytes:
        return f"it is {len(data)} bytes, over the {spec.max_bytes} limit"
    try:
        image = open_image(data)
    except ImageRefused as exc:
        return exc.reason
    if image.mode not in ("RGB", "L"):
        return f"its colours are {image.mode}, not sRGB"
    if image.getexif().get(0x0112, 1) != 1:
        return "it is stored rotated (EXIF orientation)"
    width, height = image.size
    ratio = width / height
    if spec.min_aspect is not None and ratio < spec.min_aspect:
        return f"{width}x{height} is taller than {spec.min_aspect:.2f}:1"
    if spec.max_aspect is not None and ratio > spec.max_aspect:
        return f"{width}x{height} is wider than {spec.max_aspect:.2f}:1"
    return None
