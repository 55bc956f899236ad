"""The twitter_text package (twitter-text-parser), loaded one part at a time.

The package's `__init__` imports all of its parts, and one of them, the emoji extractor, reads
Unicode's emoji-test.txt through pkg_resources and compiles an alternation of thousands of
sequences: about 120 ms at import, in every process that counts an X post, when most texts reach
no emoji lookup at all (bot.weighted_length asks only for tokens with a non-ASCII character).

Importing this module puts the package in sys.modules without running that `__init__`, so each
part costs only its own import: the TLD lists and the configuration almost nothing, the URL
extractor about 50 ms, the emoji extractor its 120 ms on first use. The names the package's
`__init__` binds (parse_tweet, extract_urls_with_indices, ...) still resolve to the same objects
for code that imports them from the package. When the package was imported before this module,
that full package is used as it is.

The bot's code takes twitter_text's functions from here, never from the package, so that this
module is always imported first.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from functools import cache
from typing import Any

_EXPORTS: dict[str, str] = {
    "ParsedResult": "twitter_text.parse_tweet",
    "parse_tweet": "twitter_text.parse_tweet",
    "extract_urls": "twitter_text.extract_urls",
    "extract_urls_with_indices": "twitter_text.extract_urls",
    "extract_emojis_with_indices": "twitter_text.extract_emojis",
}
"""The package's top-level names (its `__init__`'s imports) and the part each comes from."""


def _exported(name: str, part: str) -> property:
    def get(_package: types.ModuleType) -> Any:
        return getattr(importlib.import_module(part), name)

    def keep(_package: types.ModuleType, _value: Any) -> None:
        """Loading a part binds it (a module) on the package under its own name, which for
        `parse_tweet` and `extract_urls` is also a function's: the function keeps the name, as
        the package's `__init__` has it."""

    return property(get, keep)


_LazyPackage = type(
    "_LazyPackage",
    (types.ModuleType,),
    {name: _exported(name, part) for name, part in _EXPORTS.items()},
)


def _install() -> None:
    if "twitter_text" in sys.modules:
        return
    spec = importlib.util.find_spec("twitter_text")
    if spec is None or spec.submodule_search_locations is None:
        return  # not installed: the first import of a part says so, as it would have
    package = importlib.util.module_from_spec(spec)  # __path__ and __spec__, nothing run
    package.__class__ = _LazyPackage
    package.__all__ = list(_EXPORTS)  # type: ignore[attr-defined]
    sys.modules["twitter_text"] = package


_install()


def extract_urls_with_indices(text: str) -> list[dict[str, Any]]:
    from twitter_text.extract_urls import extract_urls_with_indices as extract

    return extract(text)


def extract_emojis_with_indices(text: str) -> list[dict[str, Any]]:
    from twitter_text.extract_emojis import extract_emojis_with_indices as extract

    return extract(text)


def has_invalid_characters(text: str) -> bool:
    from twitter_text.has_invalid_characters import has_invalid_characters as invalid

    return invalid(text)


@cache
def v3_config() -> dict[str, Any]:
    """Weighted configuration v3: 280 weighted, URLs 23, CJK and emoji 2, sequences once."""
    from twitter_text.config import config

    return dict(config["version3"])


@cache
def tld_patterns() -> tuple[str, str, str]:
    """The regular expressions (source) of the generic and country TLDs and punycode."""
    from twitter_text.regexp.valid_cctld import valid_cctld
    from twitter_text.regexp.valid_gtld import valid_gtld
    from twitter_text.regexp.valid_punycode import valid_punycode

    return valid_gtld.pattern, valid_cctld.pattern, valid_punycode.pattern


def get_character_weight(char: str, options: dict[str, Any]) -> int:
    from twitter_text.get_character_weight import get_character_weight as weight

    return int(weight(char, options))
