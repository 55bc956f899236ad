"""Shared test data for the composer tests: the KP Chair story, the limits, a default composer.

The limits are what the platform adapters declare (the registry's own data, so a change there is
a change here); the composer never hard-codes them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.compose import Composer, load_composer
from bot.models import Story
from bot.platforms import limits_for, registry

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "config" / "templates"
HANDLES = ROOT / "config" / "handles.toml"
BRAND = "@jckmagazine"
BRANDS = {"twitter": BRAND, "facebook": BRAND, "instagram": BRAND}
CAPS = {"twitter": 2, "facebook": 3, "instagram": 5}

LIMITS = {name: limits_for(name) for name in registry.names()}

KP_STORY = Story(
    identity="guid:https://www.jckonline.com/?p=412087",
    url="https://www.jckonline.com/editorial-article/kp-chair-ngos-boycott/",
    title="KP Chair Asks NGOs to Reconsider Boycott",
    summary=(
        "The chair of the Kimberley Process has written to the civil society coalition asking it "
        "to end its boycott of the diamond certification scheme’s meetings."
    ),
    published=datetime(2026, 11, 27, 15, 4, 11, tzinfo=UTC),
    feed_url="https://www.jckonline.com/feed/",
    guid="https://www.jckonline.com/?p=412087",
    author="Rob Bates",
    categories=("Diamonds", "Kimberley Process", "industry news"),
    image_url="https://www.jckonline.com/wp-content/uploads/2026/11/kimberley-process-plenary.jpg",
)


def default_composer(**overrides: object) -> Composer:
    kwargs: dict[str, object] = {"brand_handles": BRANDS, "hashtag_caps": CAPS, "limits": LIMITS}
    kwargs.update(overrides)
    return load_composer(TEMPLATES, HANDLES, **kwargs)  # type: ignore[arg-type]


def composer_with(tmp_path: Path, templates: dict[str, str], handles: str = "", **kw: object):
    """A composer over throw-away template files (missing platforms get the defaults)."""
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    for platform in LIMITS:
        text = templates.get(platform) or (TEMPLATES / f"{platform}.txt").read_text("utf-8")
        (folder / f"{platform}.txt").write_text(text, encoding="utf-8")
    handles_file = tmp_path / "handles.toml"
    handles_file.write_text(handles, encoding="utf-8")
    kwargs: dict[str, object] = {"brand_handles": BRANDS, "hashtag_caps": CAPS, "limits": LIMITS}
    kwargs.update(kw)
    return load_composer(folder, handles_file, **kwargs)  # type: ignore[arg-type]


def test_default_templates_fit_their_platform_limits() -> None:
    default_composer(limits=LIMITS)
