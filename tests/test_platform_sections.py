"""The Threads and LinkedIn settings sections: what each variable takes, and the message that
names the culprit when it is wrong."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.platforms.linkedin import settings as linkedin
from bot.platforms.threads import settings as threads


class Env:
    def __init__(self, **values: str) -> None:
        self.values = values

    def raw(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value and value.strip() else None


def test_threads_unset_is_no_section_and_both_make_one() -> None:
    assert threads.read(Env()) is None
    found = threads.read(Env(THREADS_USER_ID=" 2601 ", THREADS_ACCESS_TOKEN="THAA x "))
    assert found is not None and found.user_id == "2601"
    assert found.access_token.reveal() == "THAA x" and found.base_url == "https://graph.threads.net"
    host = threads.read(Env(THREADS_USER_ID="me", THREADS_ACCESS_TOKEN="t",
                            THREADS_API_BASE_URL="http://127.0.0.1:9/"))  # fmt: skip
    assert host is not None and host.base_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"THREADS_USER_ID": "2601"}, "THREADS_ACCESS_TOKEN"),
        ({"THREADS_ACCESS_TOKEN": "t"}, "THREADS_USER_ID"),
        ({"THREADS_USER_ID": "@jck", "THREADS_ACCESS_TOKEN": "t"}, "THREADS_USER_ID"),
        ({"THREADS_USER_ID": "1", "THREADS_ACCESS_TOKEN": "t", "THREADS_API_BASE_URL": "x"},
         "THREADS_API_BASE_URL"),
    ],
)  # fmt: skip
def test_threads_errors_name_the_variable(values: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        threads.read(Env(**values))
    assert caught.value.variable == variable and variable in str(caught.value)
    assert "\n" not in str(caught.value)


def test_linkedin_takes_a_number_or_its_urn() -> None:
    assert linkedin.read(Env()) is None
    found = linkedin.read(
        Env(LINKEDIN_ORGANIZATION_ID="urn:li:organization:2414183", LINKEDIN_ACCESS_TOKEN="AQV")
    )
    assert found is not None and found.author == "urn:li:organization:2414183"
    assert (
        found.version == linkedin.DEFAULT_VERSION and found.base_url == "https://api.linkedin.com"
    )


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"LINKEDIN_ORGANIZATION_ID": "1"}, "LINKEDIN_ACCESS_TOKEN"),
        ({"LINKEDIN_ACCESS_TOKEN": "t"}, "LINKEDIN_ORGANIZATION_ID"),
        ({"LINKEDIN_ORGANIZATION_ID": "jck-magazine", "LINKEDIN_ACCESS_TOKEN": "t"},
         "LINKEDIN_ORGANIZATION_ID"),
        ({"LINKEDIN_ORGANIZATION_ID": "1", "LINKEDIN_ACCESS_TOKEN": "t",
          "LINKEDIN_API_VERSION": "2026-07"}, "LINKEDIN_API_VERSION"),
    ],
)  # fmt: skip
def test_linkedin_errors_name_the_variable(values: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        linkedin.read(Env(**values))
    assert caught.value.variable == variable and variable in str(caught.value)
