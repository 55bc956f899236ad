"""The LinkedIn settings section: its variables, their validation and the hint naming the fix."""

from __future__ import annotations

import re
from dataclasses import dataclass
from operator import attrgetter

from bot.errors import ConfigError
from bot.platforms.spec import Env, Section
from bot.settings_values import Secret, parse_url

ORGANIZATION_ID = "LINKEDIN_ORGANIZATION_ID"
TOKEN = "LINKEDIN_ACCESS_TOKEN"
BASE_URL = "LINKEDIN_API_BASE_URL"
API_VERSION = "LINKEDIN_API_VERSION"
VARIABLES = (ORGANIZATION_ID, TOKEN)
DEFAULT_BASE_URL = "https://api.linkedin.com"
DEFAULT_VERSION = "202607"
"""LinkedIn-Version sent with every call: July 2026, supported until about July 2027. When
LinkedIn sunsets it (HTTP 426), set LINKEDIN_API_VERSION to a current YYYYMM."""


@dataclass(frozen=True)
class LinkedInSettings:
    organization_id: str
    access_token: Secret
    base_url: str = DEFAULT_BASE_URL
    version: str = DEFAULT_VERSION

    @property
    def author(self) -> str:
        return f"urn:li:organization:{self.organization_id}"


def read(env: Env) -> LinkedInSettings | None:
    """The section from the variables; None when neither
    credential is set, a ConfigError naming the culprit otherwise."""
    org, token = env.raw(ORGANIZATION_ID), env.raw(TOKEN)
    if org is None and token is None:
        return None
    if org is None or token is None:
        name = ORGANIZATION_ID if org is None else TOKEN
        raise ConfigError(
            f"{name} is not set but the other LinkedIn setting is; set both {ORGANIZATION_ID} "
            f"(the Page's number, e.g. 2414183) and {TOKEN}",
            variable=name,
        )
    given = org
    org = org.strip().removeprefix("urn:li:organization:")
    if not re.fullmatch(r"\d+", org):
        raise ConfigError(
            f"{ORGANIZATION_ID}={given!r} is not a LinkedIn organization id; use "
            "the number in the Page admin URL, e.g. 2414183",
            variable=ORGANIZATION_ID,
        )
    base = env.raw(BASE_URL)
    version = (env.raw(API_VERSION) or DEFAULT_VERSION).strip()
    if not re.fullmatch(r"20\d\d(0[1-9]|1[0-2])(\.\d\d)?", version):
        raise ConfigError(
            f"{API_VERSION}={version!r} is not a LinkedIn API version; use a month as YYYYMM, "
            f"e.g. {DEFAULT_VERSION}",
            variable=API_VERSION,
        )
    return LinkedInSettings(
        org,
        Secret(token.strip()),
        parse_url(BASE_URL, base) if base is not None else DEFAULT_BASE_URL,
        version,
    )


SECTION = Section(
    read=read,
    credentials=VARIABLES,
    auth_variables=(TOKEN,),
    base_url_variable=BASE_URL,
    api_url=attrgetter("base_url"),
    read_when_needed=(BASE_URL, API_VERSION),  # read with the credentials only
)
