"""The Facebook Page's settings section: the Page id, its token, and the kind of post.

The variable names live here and nowhere else (Instagram borrows the Page token's name from here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from operator import attrgetter

from bot.errors import ConfigError
from bot.platforms.graph_settings import BASE_URL_VARIABLE, DEFAULT_BASE_URL, read_graph
from bot.platforms.spec import Env, Section
from bot.settings_values import Secret, parse_choice

PAGE_ID_VARIABLE = "FACEBOOK_PAGE_ID"
TOKEN_VARIABLE = "FACEBOOK_PAGE_ACCESS_TOKEN"
POST_TYPE_VARIABLE = "FACEBOOK_POST_TYPE"


@dataclass(frozen=True)
class FacebookSettings:
    page_id: str
    page_access_token: Secret
    graph_base_url: str = DEFAULT_BASE_URL
    graph_version: str = "v25.0"
    post_type: str = "link"


def read(env: Env) -> FacebookSettings | None:
    base, version = read_graph(env)
    page_id = env.raw(PAGE_ID_VARIABLE)
    token = env.secret(TOKEN_VARIABLE)
    if page_id is None and token is None:
        return None
    if page_id is None or token is None:
        name = PAGE_ID_VARIABLE if page_id is None else TOKEN_VARIABLE
        raise ConfigError(
            f"{name} is not set but the other Facebook setting is; set both "
            f"{PAGE_ID_VARIABLE} (e.g. 104123456789012) and {TOKEN_VARIABLE}",
            variable=name,
        )
    if not re.fullmatch(r"\d+", page_id.strip()):
        raise ConfigError(
            f"{PAGE_ID_VARIABLE}={page_id!r} is not a numeric Page id; use e.g. 104123456789012",
            variable=PAGE_ID_VARIABLE,
        )
    post_type = env.get(
        POST_TYPE_VARIABLE, lambda n, v: parse_choice(n, v, ("link", "photo")), "link"
    )
    return FacebookSettings(page_id.strip(), token, base, version, post_type)


SECTION = Section(
    read=read,
    credentials=(PAGE_ID_VARIABLE, TOKEN_VARIABLE),
    auth_variables=(TOKEN_VARIABLE,),
    base_url_variable=BASE_URL_VARIABLE,
    api_url=attrgetter("graph_base_url"),
    read_when_needed=(POST_TYPE_VARIABLE,),  # read with a Page only
)
