"""The platform registry: every package under bot/platforms/ that declares a `PLATFORM` spec.

A network is one folder (`bot/platforms/<name>/`); nothing else lists the platforms. A package or
module without `PLATFORM` (the shared Graph code, the dry-run stand-in) is not a platform. Finding
them imports only each package's `__init__` (its spec): no client library.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from bot.errors import ConfigError
from bot.platforms.spec import PlatformSpec

_HERE = Path(__file__).resolve().parent


def discover(folder: Path, package: str) -> dict[str, PlatformSpec]:
    """The specs of the packages in `folder` (importable as `package`.<name>), in display
    order. A package without `PLATFORM` is shared code, not a platform."""
    found: list[PlatformSpec] = []
    for info in pkgutil.iter_modules([str(folder)]):
        if not info.ispkg or info.name.startswith("_"):
            continue
        declared = getattr(importlib.import_module(f"{package}.{info.name}"), "PLATFORM", None)
        if not isinstance(declared, PlatformSpec):
            continue
        if declared.name != info.name:
            raise RuntimeError(
                f"{package}.{info.name} declares the platform {declared.name!r}: "
                "a platform's folder is named after it"
            )
        found.append(declared)
    return {s.name: s for s in sorted(found, key=lambda s: (s.order, s.name))}


@cache
def _found() -> dict[str, PlatformSpec]:
    return discover(_HERE, __package__ or "bot.platforms")


def specs() -> tuple[PlatformSpec, ...]:
    """Every platform, in display order."""
    return tuple(_found().values())


def names() -> tuple[str, ...]:
    """The names PLATFORMS takes, in display order."""
    return tuple(_found())


def spec(name: str) -> PlatformSpec:
    """The platform called `name`; a ConfigError on PLATFORMS naming the known ones otherwise."""
    try:
        return _found()[name]
    except KeyError:
        known = ", ".join(_found())
        raise ConfigError(f"{name!r} is not a platform; use one of {known}", "PLATFORMS") from None


def auth_variables(name: str) -> tuple[str, ...]:
    """The variables a user fixes when `name` refuses its token; () for an unknown name."""
    found = _found().get(name)
    return found.section.auth_variables if found is not None else ()


def charging() -> str | None:
    """The platform whose posts cost money (the spend and budget settings are about it)."""
    return next((s.name for s in specs() if s.charges_per_post), None)


def image_hosts() -> tuple[str, ...]:
    """IMAGE_HOST's choices that are platforms: those whose account can host images, then s3."""
    return (*(s.name for s in specs() if s.hosts_images), "s3")


def labels() -> str:
    """ "X, Facebook and Instagram": the platforms as a person calls them, for help texts."""
    all_labels = [s.label for s in specs()]
    if len(all_labels) < 2:
        return "".join(all_labels)
    return ", ".join(all_labels[:-1]) + " and " + all_labels[-1]
