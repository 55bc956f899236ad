"""Mastodon's settings section: the instance, an access token, and the posts' visibility.

The variable names live here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

from bot.errors import ConfigError
from bot.models import Counting, Limits
from bot.platforms.spec import Env, Section
from bot.settings_values import Secret, parse_choice, parse_url

BASE_URL_VARIABLE = "MASTODON_BASE_URL"
TOKEN_VARIABLE = "MASTODON_ACCESS_TOKEN"
VISIBILITY_VARIABLE = "MASTODON_VISIBILITY"
CREDENTIALS = (BASE_URL_VARIABLE, TOKEN_VARIABLE)
VISIBILITIES = ("public", "unlisted", "private")
"""`direct` is left out on purpose: a story sent as a private message to nobody is lost."""


@dataclass(frozen=True)
class MastodonSettings:
    base_url: str
    """Scheme, host and port of the instance: https://mastodon.social."""
    access_token: Secret
    visibility: str = "public"


def parse_instance_url(name: str, raw: str) -> str:
    value = parse_url(name, raw)
    if value.count("/") > 2:
        raise ConfigError(
            f"{name}={raw!r} has a path; use the instance's address only, e.g. "
            "https://mastodon.social",
            name,
        )
    return value


def read(env: Env) -> MastodonSettings | None:
    """Both or neither of the instance and the token: one without the other is a typo."""
    raw_url = env.raw(BASE_URL_VARIABLE)
    token = env.secret(TOKEN_VARIABLE)
    visibility = env.get(
        VISIBILITY_VARIABLE, lambda n, v: parse_choice(n, v, VISIBILITIES), "public"
    )
    if raw_url is None and token is None:
        return None
    if raw_url is None or token is None:
        missing = BASE_URL_VARIABLE if raw_url is None else TOKEN_VARIABLE
        raise ConfigError(
            f"{missing} is not set but the other Mastodon setting is; set both "
            f"{BASE_URL_VARIABLE} (e.g. https://mastodon.social) and {TOKEN_VARIABLE} (from "
            "Preferences > Development > New application, scopes write:statuses write:media "
            "read:accounts read:statuses)",
            missing,
        )
    return MastodonSettings(parse_instance_url(BASE_URL_VARIABLE, raw_url), token, visibility)


SECTION = Section(
    read=read,
    credentials=CREDENTIALS,
    auth_variables=(TOKEN_VARIABLE,),
    base_url_variable=BASE_URL_VARIABLE,
    api_url=attrgetter("base_url"),
)

HANDLE_SYNTAX = (
    r"[A-Za-z0-9_]+(?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?"
)
"""user, or user@instance for an account on another server (what Mastodon links as a mention)."""
LIMITS = Limits(
    max_length=500,
    counting=Counting.GRAPHEMES,
    url_weight=23,
    handle_max_length=30 + 1 + 253,
    handle_syntax=HANDLE_SYNTAX,
    handle_hint="user@instance, e.g. @jckmagazine@mastodon.social",
    default_hashtags=3,  # hashtags are how people find posts on Mastodon
    label="Mastodon",
    image_types=("image/jpeg", "image/png"),
    max_image_bytes=16 * 1024 * 1024,
    hourly_cap=10,
)
"""Mastodon's defaults (500 graphemes, links 23); the adapter reads the instance's own."""
