"""Image fitting: every shape and type of story image becomes what each platform accepts.

Each output is read back with Pillow and checked against the platform's published rules
(Instagram: sRGB JPEG, 4:5 to 1.91:1, 320-1440 px wide, at most 8 MB; X: 5 MB; Facebook: 4 MB),
with no metadata left and EXIF orientation applied.
"""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image, ImageCms

from bot.imaging.fit import ImageRefused, fit_image, misfit
from bot.platforms.facebook.adapter import FACEBOOK_SPEC
from bot.platforms.instagram.images import instagram_spec
from bot.platforms.twitter.adapter import X_SPEC
from tests.fakes.images import bomb_png

EXIF_ORIENTATION = 0x0112


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def gradient(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Not a flat colour: a flat image would hide a crop or a pad that went wrong."""
    image = Image.linear_gradient("L").resize(size)
    if mode == "L":
        return image
    rgb = Image.merge("RGB", (image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), image))
    return rgb.convert(mode)


def with_exif(size: tuple[int, int], orientation: int) -> bytes:
    image = gradient(size)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {1: "N", 2: (40.0, 26.0, 46.0)}  # GPS, which must never leave the building
    return encode(image, "JPEG", exif=exif.tobytes(), comment=b"internal note")


def animated_gif() -> bytes:
    frames = [Image.new("P", (300, 200), i * 40) for i in range(4)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def palette_with_transparency() -> bytes:
    image = gradient((400, 400)).convert("P")
    return encode(image, "PNG", transparency=0)


def adobe_rgb_like() -> bytes:
    """A JPEG with an ICC profile that is not sRGB (LAB stands in for a wide-gamut one)."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB"))
    return encode(gradient((800, 800)), "JPEG", icc_profile=profile.tobytes())


FIXTURES: dict[str, bytes] = {
    "square-jpeg": encode(gradient((1000, 1000)), "JPEG"),
    "tall-1x4-png": encode(gradient((300, 1200)), "PNG"),
    "wide-4x1-jpeg": encode(gradient((2400, 600)), "JPEG"),
    "exact-4x5": encode(gradient((800, 1000)), "JPEG"),
    "exact-1.91": encode(gradient((1910, 1000)), "JPEG"),
    "tiny-50x40": encode(gradient((50, 40)), "PNG"),
    "huge-6000x4000": encode(gradient((6000, 4000)), "JPEG", quality=60),
    "rgba-png": encode(gradient((640, 480), "RGBA"), "PNG"),
    "palette-transparent-png": palette_with_transparency(),
    "webp": encode(gradient((900, 600)), "WEBP"),
    "animated-gif": animated_gif(),
    "cmyk-jpeg": encode(gradient((700, 500), "CMYK"), "JPEG"),
    "progressive-jpeg": encode(gradient((1200, 800)), "JPEG", progressive=True),
    "grey-jpeg": encode(gradient((500, 500), "L"), "JPEG"),
    "grey-alpha-png": encode(gradient((500, 300), "L").convert("LA"), "PNG"),
    "16bit-png": encode(gradient((600, 400), "L").convert("I;16"), "PNG"),
    "exif-rotated": with_exif((1200, 600), 6),
    "icc-not-srgb": adobe_rgb_like(),
}


def read_back(body: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(body))
    image.load()
    return image


def assert_instagram_rules(body: bytes) -> Image.Image:
    image = read_back(body)
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    width, height = image.size
    assert 320 <= width <= 1440, image.size
    assert 0.8 <= width / height <= 1.91, image.size
    assert len(body) <= 8 * 1024 * 1024
    assert not image.getexif(), "EXIF must be stripped"
    assert "icc_profile" not in image.info and "comment" not in image.info
    return image


@pytest.mark.parametrize("name", sorted(FIXTURES))
@pytest.mark.parametrize(("fit", "pad"), [("pad", "blur"), ("pad", "brand"), ("crop", "blur")])
def test_every_fixture_becomes_an_instagram_image(name: str, fit: str, pad: str) -> None:
    result = fit_image(FIXTURES[name], instagram_spec(fit, pad, (200, 10, 30)))
    image = assert_instagram_rules(result.body)
    assert (result.width, result.height) == image.size
    assert result.content_type == "image/jpeg"


def test_pad_keeps_the_whole_picture_and_crop_keeps_the_height() -> None:
    tall = FIXTURES["tall-1x4-png"]  # 300 x 1200
    padded = read_back(fit_image(tall, instagram_spec("pad", "brand", (200, 10, 30))).body)
    assert padded.size == (960, 1200)  # 4:5, the picture's full height kept
    assert padded.getpixel((2, 600))[0] > 150  # a brand-red bar at the left edge
    assert padded.getpixel((480, 600))[0] < 150  # the picture in the middle
    cropped = read_back(fit_image(tall, instagram_spec("crop")).body)
    assert cropped.width / cropped.height == pytest.approx(0.8, abs=0.01)


def test_blurred_bars_are_not_a_flat_colour() -> None:
    wide = FIXTURES["wide-4x1-jpeg"]
    padded = read_back(fit_image(wide, instagram_spec("pad", "blur")).body)
    bar = (padded.height - round(padded.width / 4)) // 2  # 4:1 picture centred, bars above/below
    assert bar > 10
    samples = {padded.getpixel((x, y)) for x in range(0, padded.width, 60) for y in range(bar)}
    assert len(samples) > 3


def test_exif_orientation_is_applied_then_dropped() -> None:
    # Stored 1200x600 with "rotate 90": it is really a portrait photo, 600 wide and 1200 high.
    out = read_back(fit_image(FIXTURES["exif-rotated"], instagram_spec("crop")).body)
    assert out.width < out.height
    assert not out.getexif()
    assert b"SecretCam" not in fit_image(FIXTURES["exif-rotated"], X_SPEC).body


def test_animated_gif_gives_its_first_frame() -> None:
    out = read_back(fit_image(FIXTURES["animated-gif"], instagram_spec()).body)
    assert getattr(out, "n_frames", 1) == 1
    assert out.getpixel((out.width // 2, out.height // 2)) == (0, 0, 0)  # frame 0 is black


def test_cmyk_becomes_rgb_with_the_same_look() -> None:
    flat = encode(Image.new("CMYK", (400, 400), (0, 255, 255, 0)), "JPEG")  # pure red in CMYK
    red, green, blue = read_back(fit_image(flat, instagram_spec()).body).getpixel((200, 200))
    assert red > 200 and green < 60 and blue < 60


@pytest.mark.parametrize("spec", [instagram_spec(), X_SPEC, FACEBOOK_SPEC], ids=lambda s: s.name)
def test_a_decompression_bomb_is_refused_cleanly(spec: object) -> None:
    with pytest.raises(ImageRefused, match=r"pixel|bomb"):
        fit_image(bomb_png(), spec)  # type: ignore[arg-type]


def test_bytes_that_are_no_image_are_refused() -> None:
    with pytest.raises(ImageRefused, match="not an image"):
        fit_image(b"<html>hello</html>", X_SPEC)
    with pytest.raises(ImageRefused):
        fit_image(FIXTURES["square-jpeg"][:400], X_SPEC)  # cut off in the middle


def test_a_tracking_pixel_or_a_spacer_is_refused_not_enlarged() -> None:
    """A feed's 1x1 GIF (FeedBurner's, an analytics beacon) or a thin spacer is no picture:
    refused, where fitting would have enlarged a blank square to Instagram's 320 pixels."""
    for size in ((1, 1), (600, 2), (15, 400)):
        with pytest.raises(ImageRefused, match="tracking pixel or a spacer"):
            fit_image(encode(gradient(size), "GIF"), instagram_spec())
        png = encode(gradient(size), "PNG")
        assert "tracking pixel" in (misfit(png, "image/png", X_SPEC) or "")
    assert fit_image(encode(gradient((16, 16)), "PNG"), X_SPEC).width == 16


def test_noise_too_big_for_x_is_shrunk_under_five_megabytes() -> None:
    noise = Image.frombytes("RGB", (2600, 2600), os.urandom(2600 * 2600 * 3))
    source = encode(noise, "PNG")
    assert len(source) > X_SPEC.max_bytes
    result = fit_image(source, X_SPEC)
    assert len(result.body) <= X_SPEC.max_bytes
    assert read_back(result.body).format == "JPEG"


def test_transparency_stays_png_where_the_platform_takes_png() -> None:
    for spec in (X_SPEC, FACEBOOK_SPEC):
        result = fit_image(FIXTURES["rgba-png"], spec)
        image = read_back(result.body)
        assert (result.content_type, image.format, image.mode) == ("image/png", "PNG", "RGBA")
    assert fit_image(FIXTURES["rgba-png"], instagram_spec()).content_type == "image/jpeg"


def test_facebook_photos_are_bounded_to_2048() -> None:
    image = read_back(fit_image(FIXTURES["huge-6000x4000"], FACEBOOK_SPEC).body)
    assert max(image.size) <= 2048 and image.format == "JPEG"


def test_misfit_says_why_the_original_cannot_be_used_as_it_is() -> None:
    spec = instagram_spec()
    assert misfit(FIXTURES["square-jpeg"], "image/jpeg", spec) is None
    assert "image/png" in (misfit(FIXTURES["rgba-png"], "image/png", spec) or "")
    assert "taller" in (misfit(encode(gradient((300, 1200)), "JPEG"), "image/jpeg", spec) or "")
    assert "wider" in (misfit(FIXTURES["wide-4x1-jpeg"], "image/jpeg", spec) or "")
    assert "CMYK" in (misfit(FIXTURES["cmyk-jpeg"], "image/jpeg", spec) or "")
    assert "rotated" in (misfit(FIXTURES["exif-rotated"], "image/jpeg", spec) or "")
    assert "pixel" in (misfit(bomb_png(), "image/png", X_SPEC) or "")
