"""Instagram's part of `check`: what to fix when its token is refused.

An Instagram account linked to a Page may post with the Page's token; when it does, the variable
to fix is named beside the one that was not set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.platforms.facebook.settings import TOKEN_VARIABLE as PAGE_TOKEN_VARIABLE
from bot.platforms.instagram.settings import TOKEN_VARIABLE, InstagramSettings


def fix_hint(variables: str, sections: Mapping[str, Any]) -> str:
    """`check`: when the token used is the Page's, say so beside the variable to fix."""
    own, page = sections.get("instagram"), sections.get("facebook")
    shared = (
        isinstance(own, InstagramSettings)
        and page is not None
        and own.access_token == getattr(page, "page_access_token", None)
    )
    if variables == TOKEN_VARIABLE and shared:
        return f"{TOKEN_VARIABLE} (unset: {PAGE_TOKEN_VARIABLE} is used)"
    return variables
