"""The Meta Graph API's host and version, shared by the platforms that speak Graph.

Not a platform (no `PLATFORM` spec): the registry passes it by.
"""

from __future__ import annotations

from bot.platforms.spec import Env
from bot.settings_values import parse_graph_version, parse_url

BASE_URL_VARIABLE = "GRAPH_API_BASE_URL"
VERSION_VARIABLE = "GRAPH_API_VERSION"
DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_VERSION = "v25.0"


def read_graph(env: Env) -> tuple[str, str]:
    """The host and version; read (and so checked) whether or not a Graph platform is set."""
    return (
        env.get(BASE_URL_VARIABLE, parse_url, DEFAULT_BASE_URL),
        env.get(VERSION_VARIABLE, parse_graph_version, DEFAULT_VERSION),
    )
