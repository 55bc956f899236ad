"""Settings for posts that travel further: images, hosting, title cards, UTM, spend and slots.

Read once at start like every other setting (by `load_settings`, through `read_reach`) and kept
in small frozen groups, so the parts that use them get exactly what they need passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Protocol

from bot.errors import ConfigError
from bot.platforms import registry
from bot.settings_values import (
    ImageSettings,
    S3Settings,
    parse_bool,
    parse_choice,
    parse_int,
    parse_url,
)
from bot.utm import UtmTemplate, parse_utm

IMAGE_HOSTS = (*registry.image_hosts(), "web")
"""IMAGE_HOST's choices: a platform whose account can host images (its spec says), S3, the web."""
X_LINK_MODES = ("inline", "none")
_COLOR = re.compile(r"#?([0-9a-fA-F]{6})")


READ_WHEN_NEEDED = (
    "S3_BUCKET",
    "S3_REGION",
    "S3_ENDPOINT_URL",
    "S3_PUBLIC_URL",
    "S3_PREFIX",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)
"""Read only with IMAGE_HOST=s3: known settings all the same (never "not a setting")."""


class _Reads(Protocol):
    def raw(self, name: str) -> str | None: ...


@dataclass(frozen=True)
class SpendSettings:
    """What one X post costs in USD (with and without a URL) and the monthly cap (None: no cap)."""

    price_post: float = 0.015
    price_post_url: float = 0.20
    monthly_budget: float | None = None
    link_mode: str = "inline"


@dataclass(frozen=True)
class Reach:
    utm: UtmTemplate | None = None
    images: ImageSettings = field(default_factory=ImageSettings)
    spend: SpendSettings = field(default_factory=SpendSettings)
    slots: Mapping[str, tuple[time, ...]] = field(default_factory=dict)
    """Platform -> posting times in TIMEZONE (POST_SLOTS_<PLATFORM>); absent: post any time."""
    slot_size: int = 1


def parse_color(name: str, raw: str) -> tuple[int, int, int]:
    match = _COLOR.fullmatch(raw.strip())
    if not match:
        raise ConfigError(f"{name}={raw!r} is not a colour; use e.g. #1a1a2e", name)
    value = match.group(1)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def parse_money(name: str, raw: str) -> float:
    text = raw.strip().removeprefix("$").strip()
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an amount in USD; use e.g. 0.20", name) from None
    if value < 0 or value != value or value == float("inf"):
        raise ConfigError(f"{name}={raw!r} must be zero or more; use e.g. 0.20", name)
    return value


def parse_slots(name: str, raw: str) -> tuple[time, ...]:
    times: list[time] = []
    for item in re.split(r"[,\s]+", raw.strip()):
        if not item:
            continue
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", item)
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise ConfigError(
                f"{name} has {item!r}, which is not a time of day; use e.g. 09:00,12:30,17:00", name
            )
        times.append(time(int(match.group(1)), int(match.group(2))))
    if not times:
        raise ConfigError(f"{name} is empty; use e.g. 09:00,12:30,17:00, or remove it", name)
    return tuple(sorted(set(times)))


def read_reach(r: _Reads, base: Path, brand_dir: Path) -> Reach:
    """Every setting of this module from the merged environment `r`; paths relative to `base`;
    `brand_dir`: BRAND_DIR's default."""

    def get(name: str, parse: Callable[[str, str], object], default: object) -> object:
        raw = r.raw(name)
        return default if raw is None else parse(name, raw)

    utm_raw = r.raw("UTM_PARAMS")
    host = get("IMAGE_HOST", lambda n, v: parse_choice(n, v, IMAGE_HOSTS), None)
    s3 = _s3(r) if host == "s3" else None
    public_url = get("PUBLIC_URL", parse_url, None)
    if host == "web" and public_url is None:
        raise ConfigError(
            "IMAGE_HOST=web needs PUBLIC_URL, the address the web face is reached at "
            "(e.g. https://bot.example.com)",
            "PUBLIC_URL",
        )
    images = ImageSettings(
        image_host=host,  # type: ignore[arg-type]
        fit=get("IG_IMAGE_FIT", lambda n, v: parse_choice(n, v, ("pad", "crop")), "pad"),  # type: ignore[arg-type]
        pad=get("IG_IMAGE_PAD", lambda n, v: parse_choice(n, v, ("blur", "brand")), "blur"),  # type: ignore[arg-type]
        title_card=get("IG_TITLE_CARD", parse_bool, False),  # type: ignore[arg-type]
        brand_name=(r.raw("BRAND_NAME") or "").strip(),
        brand_color=get("BRAND_COLOR", parse_color, (17, 24, 39)),  # type: ignore[arg-type]
        brand_text_color=get("BRAND_TEXT_COLOR", parse_color, (255, 255, 255)),  # type: ignore[arg-type]
        brand_dir=_path(r.raw("BRAND_DIR"), base) or brand_dir,
        s3=s3,
        public_url=public_url,  # type: ignore[arg-type]
    )
    if images.title_card and host is None:
        raise ConfigError(
            "IG_TITLE_CARD=true draws cards that must be hosted for the platform to fetch them; "
            f"set IMAGE_HOST={IMAGE_HOSTS[0]} (or s3)",
            "IMAGE_HOST",
        )
    spend = SpendSettings(
        price_post=get("X_PRICE_POST", parse_money, 0.015),  # type: ignore[arg-type]
        price_post_url=get("X_PRICE_POST_URL", parse_money, 0.20),  # type: ignore[arg-type]
        monthly_budget=get("X_MONTHLY_BUDGET", parse_money, None),  # type: ignore[arg-type]
        link_mode=get("X_LINK_MODE", lambda n, v: parse_choice(n, v, X_LINK_MODES), "inline"),  # type: ignore[arg-type]
    )
    slots: dict[str, tuple[time, ...]] = {}
    for spec in registry.specs():
        raw = r.raw(spec.slots_variable)
        if raw is not None:
            slots[spec.name] = parse_slots(spec.slots_variable, raw)
    return Reach(
        utm=parse_utm(utm_raw) if utm_raw is not None else None,
        images=images,
        spend=spend,
        slots=slots,
        slot_size=get("SLOT_SIZE", lambda n, v: parse_int(n, v, minimum=1), 1),  # type: ignore[arg-type]
    )


def _path(raw: str | None, base: Path) -> Path | None:
    if raw is None:
        return None
    path = Path(raw.strip())
    return path if path.is_absolute() else (base / path).resolve()


def _s3(r: _Reads) -> S3Settings:
    bucket = (r.raw("S3_BUCKET") or "").strip()
    if not bucket:
        raise ConfigError(
            "IMAGE_HOST=s3 needs S3_BUCKET, the bucket hosted images go to (e.g. feedbot-media)",
            "S3_BUCKET",
        )
    endpoint = r.raw("S3_ENDPOINT_URL")
    public = r.raw("S3_PUBLIC_URL")
    return S3Settings(
        bucket=bucket,
        region=(r.raw("S3_REGION") or "").strip() or None,
        endpoint_url=parse_url("S3_ENDPOINT_URL", endpoint) if endpoint else None,
        public_url=parse_url("S3_PUBLIC_URL", public) if public else None,
        prefix=(r.raw("S3_PREFIX") or "feedbot/").strip().lstrip("/"),
        access_key_id=(r.raw("AWS_ACCESS_KEY_ID") or "").strip() or None,
        secret_access_key=(r.raw("AWS_SECRET_ACCESS_KEY") or "").strip() or None,
    )
