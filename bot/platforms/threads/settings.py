"""The Threads settings section: its variables, their validation and the hint naming the fix."""

from __future__ import annotations

import re
from dataclasses import dataclass
from operator import attrgetter

from bot.errors import ConfigError
from bot.platforms.spec import Env, Section
from bot.settings_values import Secret, parse_url

USER_ID = "THREADS_USER_ID"
TOKEN = "THREADS_ACCESS_TOKEN"
BASE_URL = "THREADS_API_BASE_URL"
VARIABLES = (USER_ID, TOKEN)
"""What a user sets to post to Threads, in the order a message names them."""
DEFAULT_BASE_URL = "https://graph.threads.net"
API_VERSION = "v1.0"


@dataclass(frozen=True)
class ThreadsSettings:
    user_id: str
    access_token: Secret
    base_url: str = DEFAULT_BASE_URL


def read(env: Env) -> ThreadsSettings | None:
    """The section from the variables; None when neither
    credential is set, a ConfigError naming the culprit when only one is or the id is no id."""
    user_id, token = env.raw(USER_ID), env.raw(TOKEN)
    if user_id is None and token is None:
        return None
    if user_id is None or token is None:
        name = USER_ID if user_id is None else TOKEN
        raise ConfigError(
            f"{name} is not set but the other Threads setting is; set both {USER_ID} "
            f"(e.g. 26012345678901234, or me) and {TOKEN} (a long-lived Threads token)",
            variable=name,
        )
    user_id = user_id.strip()
    if not re.fullmatch(r"\d+|me", user_id):
        raise ConfigError(
            f"{USER_ID}={user_id!r} is not a numeric Threads user id; use e.g. "
            "26012345678901234 (or me)",
            variable=USER_ID,
        )
    base = env.raw(BASE_URL)
    base_url = parse_url(BASE_URL, base) if base is not None else DEFAULT_BASE_URL
    return ThreadsSettings(user_id, Secret(token.strip()), base_url)


SECTION = Section(
    read=read,
    credentials=VARIABLES,
    auth_variables=(TOKEN,),
    base_url_variable=BASE_URL,
    api_url=attrgetter("base_url"),
    read_when_needed=(BASE_URL,),  # read with the credentials only
)
