"""Bluesky's settings section: the account's handle, an app password, and the service host.

The variable names live here and nowhere else. BLUESKY_HANDLE is both the account the bot logs
in as and the brand handle a template's {handle} writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from operator import attrgetter

from bot.errors import ConfigError
from bot.models import Counting, Limits
from bot.platforms.spec import Env, Section
from bot.settings_values import Secret, parse_url

HANDLE_VARIABLE = "BLUESKY_HANDLE"
PASSWORD_VARIABLE = "BLUESKY_APP_PASSWORD"
SERVICE_VARIABLE = "BLUESKY_SERVICE"
DEFAULT_SERVICE = "https://bsky.social"
CREDENTIALS = (HANDLE_VARIABLE, PASSWORD_VARIABLE)
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
HANDLE = re.compile(rf"(?:{_LABEL}\.)+[a-zA-Z](?:[a-zA-Z0-9-]{{0,61}}[a-zA-Z0-9])?")
"""An atproto handle: a domain name (atproto.com/specs/handle), at most 253 characters."""
APP_PASSWORD = re.compile(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}")


@dataclass(frozen=True)
class BlueskySettings:
    handle: str
    """Without the '@', lower case: jckmagazine.bsky.social."""
    app_password: Secret
    service: str = DEFAULT_SERVICE


def parse_bluesky_handle(name: str, raw: str) -> str:
    """A handle as people write it (@jckmagazine.bsky.social, any case) -> the bare handle."""
    value = raw.strip().removeprefix("@").lower()
    if len(value) > 253 or not HANDLE.fullmatch(value):
        raise ConfigError(
            f"{name}={raw!r} is not a Bluesky handle; use the account's full handle, e.g. "
            "jckmagazine.bsky.social (or the domain it uses as its handle)",
            name,
        )
    return value


def check_app_password(name: str, secret: Secret) -> None:
    """The account's own password would log in too, but it gives the bot every right on the
    account (changing the password, deleting it) and fails once 2FA is on: refused at start,
    naming where to create an app password (xxxx-xxxx-xxxx-xxxx) instead."""
    if not APP_PASSWORD.fullmatch(secret.reveal()):
        raise ConfigError(
            f"{name} does not look like an app password (xxxx-xxxx-xxxx-xxxx); create one in "
            "Bluesky's Settings > Privacy and security > App passwords",
            name,
        )


def read(env: Env) -> BlueskySettings | None:
    """The section, or None without an app password (BLUESKY_HANDLE alone is only the brand
    handle templates write, e.g. for a dry run)."""
    password = env.secret(PASSWORD_VARIABLE)
    raw_handle = env.raw(HANDLE_VARIABLE)
    if password is None:
        if raw_handle is not None:
            parse_bluesky_handle(HANDLE_VARIABLE, raw_handle)
        return None
    if raw_handle is None:
        raise ConfigError(
            f"{PASSWORD_VARIABLE} is set but {HANDLE_VARIABLE} is not; set it to the account's "
            "handle, e.g. jckmagazine.bsky.social",
            HANDLE_VARIABLE,
        )
    check_app_password(PASSWORD_VARIABLE, password)
    return BlueskySettings(
        handle=parse_bluesky_handle(HANDLE_VARIABLE, raw_handle),
        app_password=password,
        service=env.get(SERVICE_VARIABLE, parse_url, DEFAULT_SERVICE),
    )


SECTION = Section(
    read=read,
    credentials=CREDENTIALS,
    auth_variables=CREDENTIALS,
    base_url_variable=SERVICE_VARIABLE,
    api_url=attrgetter("service"),
    read_when_needed=(SERVICE_VARIABLE,),  # read with the app password only
)

LIMITS = Limits(
    max_length=300,
    counting=Counting.GRAPHEMES,
    max_bytes=3000,
    link_card=True,  # the story goes as a card beside the text (the adapter builds it)
    handle_max_length=253,
    handle_syntax=HANDLE.pattern,
    handle_hint="a domain name such as name.bsky.social",
    default_hashtags=2,
    label="Bluesky",
    image_types=("image/jpeg", "image/png"),
    max_image_bytes=1_000_000,
    hourly_cap=10,  # the PDS allows ~1,600 posts an hour; a newsroom's followers far fewer
)
"""What Bluesky takes: 300 graphemes and 3,000 UTF-8 bytes, handles that are domain names."""
