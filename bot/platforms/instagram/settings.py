"""The Instagram account's settings section: its user id and token (else the Page's token).

The variable names live here and nowhere else; the Page token's name comes from the Facebook
package, whose token an Instagram account linked to the Page may use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from operator import attrgetter

from bot.errors import ConfigError
from bot.platforms.facebook.settings import TOKEN_VARIABLE as PAGE_TOKEN_VARIABLE
from bot.platforms.graph_settings import BASE_URL_VARIABLE, DEFAULT_BASE_URL, read_graph
from bot.platforms.spec import Env, Section
from bot.settings_values import Secret

USER_ID_VARIABLE = "INSTAGRAM_USER_ID"
TOKEN_VARIABLE = "INSTAGRAM_ACCESS_TOKEN"


@dataclass(frozen=True)
class InstagramSettings:
    user_id: str
    access_token: Secret
    graph_base_url: str = DEFAULT_BASE_URL
    graph_version: str = "v25.0"


def read(env: Env) -> InstagramSettings | None:
    base, version = read_graph(env)
    user_id = env.raw(USER_ID_VARIABLE)
    token = env.secret(TOKEN_VARIABLE) or env.secret(PAGE_TOKEN_VARIABLE)
    if user_id is None:
        return None
    if not re.fullmatch(r"\d+", user_id.strip()):
        raise ConfigError(
            f"{USER_ID_VARIABLE}={user_id!r} is not a numeric account id; "
            "use e.g. 17841400000000000",
            variable=USER_ID_VARIABLE,
        )
    if token is None:
        raise ConfigError(
            f"{TOKEN_VARIABLE} is not set (nor {PAGE_TOKEN_VARIABLE} to fall back on); "
            "set the token of the Page linked to the Instagram account",
            variable=TOKEN_VARIABLE,
        )
    return InstagramSettings(user_id.strip(), token, base, version)


def missing(env: Env) -> tuple[str, ...]:
    """The Page token stands in for the account's own one."""
    unset = [name for name in (USER_ID_VARIABLE, TOKEN_VARIABLE) if env.raw(name) is None]
    if env.raw(PAGE_TOKEN_VARIABLE) is not None:
        unset = [name for name in unset if name != TOKEN_VARIABLE]
    return tuple(unset)


SECTION = Section(
    read=read,
    credentials=(USER_ID_VARIABLE, TOKEN_VARIABLE),
    auth_variables=(TOKEN_VARIABLE,),
    base_url_variable=BASE_URL_VARIABLE,
    api_url=attrgetter("graph_base_url"),
    missing=missing,
)
