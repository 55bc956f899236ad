"""X's settings section: four OAuth 1.0a user-context credentials and the API host.

The variable names live here and nowhere else; `bot.settings` gathers this section through the
registry and hands the values to the adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

from bot.errors import ConfigError
from bot.platforms.spec import Env, Section
from bot.settings_values import Secret, parse_url

CREDENTIALS = (
    "TWITTER_API_KEY",
    "TWITTER_API_SECRET",
    "TWITTER_ACCESS_TOKEN",
    "TWITTER_ACCESS_TOKEN_SECRET",
)
BASE_URL_VARIABLE = "TWITTER_API_BASE_URL"
DEFAULT_BASE_URL = "https://api.x.com"


@dataclass(frozen=True)
class TwitterSettings:
    api_key: Secret
    api_secret: Secret
    access_token: Secret
    access_token_secret: Secret
    base_url: str = DEFAULT_BASE_URL


def read(env: Env) -> TwitterSettings | None:
    """All four credentials or none: three of four is a typo, named at start."""
    secrets = [env.secret(name) for name in CREDENTIALS]
    present = [s for s in secrets if s is not None]
    if not present:
        return None
    if len(present) != len(secrets):
        missing = [n for n, s in zip(CREDENTIALS, secrets, strict=True) if s is None]
        raise ConfigError(
            f"{missing[0]} is not set but the other X credentials are; set all four of "
            + ", ".join(CREDENTIALS),
            variable=missing[0],
        )
    key, secret, token, token_secret = present
    return TwitterSettings(
        key,
        secret,
        token,
        token_secret,
        base_url=env.get(BASE_URL_VARIABLE, parse_url, DEFAULT_BASE_URL),
    )


SECTION = Section(
    read=read,
    credentials=CREDENTIALS,
    auth_variables=CREDENTIALS,
    base_url_variable=BASE_URL_VARIABLE,
    api_url=attrgetter("base_url"),
    read_when_needed=(BASE_URL_VARIABLE,),  # read with the credentials only
)
