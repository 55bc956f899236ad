"""`check [--json]`: one cheap authenticated call per platform; whose account, or what to fix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botenv import bot_env, run_main, write_feed
from tests.fakes.platform_server import FakePlatformServer, graph_error, x_problem
from tests.test_cli_post import json_lines, platform_env


@pytest.fixture(scope="module")
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_token="IGQVJfake-instagram-token-0987") as s:
        yield s


def test_good_credentials_print_each_account_with_one_call_each(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    env = platform_env(server, tmp_path)
    before = len(server.requests)
    result = run_main(["check"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"twitter: ok, posting as @{server.x_username}" in result.stdout
    assert f"facebook: ok, posting as {server.page_name}" in result.stdout
    assert f"instagram: ok, posting as @{server.ig_username}" in result.stdout
    calls = server.requests[before:]
    # cheap: one look-up each, for each Graph token what it is (debug_token), and one read of
    # X's own timeline (confirming a post after a lost answer needs it); nothing posted
    assert len(calls) == 6 and {r.method for r in calls} == {"GET"}
    assert "  reads its own posts: yes" in result.stdout
    assert len([r for r in calls if r.path.endswith("/debug_token")]) == 2
    assert "  token type: PAGE" in result.stdout and "  expires: never" in result.stdout
    as_json = run_main(["check", "--json"], env, tmp_path)
    assert as_json.returncode == 0
    rows = {row["platform"]: row for row in json_lines(as_json.stdout)}
    assert rows["twitter"]["account"] == f"@{server.x_username}"
    assert rows["facebook"]["account"] == server.page_name
    assert rows["instagram"]["account"] == f"@{server.ig_username}"
    assert all(row["ok"] is True and row["error"] is None for row in rows.values())


def test_bad_credentials_exit_1_naming_the_variable_to_fix(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    env = platform_env(
        server,
        tmp_path,
        TWITTER_ACCESS_TOKEN_SECRET="not-the-right-secret",
        INSTAGRAM_ACCESS_TOKEN="IGQVJrevoked-token-1111",
    )
    result = run_main(["check"], env, tmp_path)
    assert result.returncode == 1
    lines = {line.split(":")[0]: line for line in result.stdout.splitlines()}
    assert "FAILED" in lines["twitter"] and "TWITTER_ACCESS_TOKEN_SECRET" in lines["twitter"]
    assert "ok, posting as" in lines["facebook"]  # one bad platform does not hide the good one
    assert "FAILED" in lines["instagram"] and "Invalid OAuth access token" in lines["instagram"]
    assert "INSTAGRAM_ACCESS_TOKEN" in lines["instagram"]
    # A platform's own failure (here a 500 on Facebook) is reported, not hidden.
    server.fail("GET", "/v*/me", status=500, body=graph_error(2, "Service temporarily unavailable"))
    as_json = run_main(["check", "--json"], env, tmp_path)
    assert as_json.returncode == 1
    rows = {row["platform"]: row for row in json_lines(as_json.stdout)}
    assert rows["facebook"]["ok"] is False
    assert rows["facebook"]["error"] == "Service temporarily unavailable"
    assert rows["instagram"]["ok"] is False
    assert rows["instagram"]["fix"].startswith("INSTAGRAM_ACCESS_TOKEN")
    assert rows["twitter"]["ok"] is False and "TWITTER_" in rows["twitter"]["fix"]


def test_instagram_on_the_page_token_names_that_token_when_refused(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    env = platform_env(
        server,
        tmp_path,
        PLATFORMS="facebook,instagram",
        FACEBOOK_PAGE_ACCESS_TOKEN="EAAexpired-page-token-2222",
    )
    env.pop("INSTAGRAM_ACCESS_TOKEN")
    rows = {
        r["platform"]: r for r in json_lines(run_main(["check", "--json"], env, tmp_path).stdout)
    }
    assert rows["facebook"]["fix"] == "FACEBOOK_PAGE_ACCESS_TOKEN"
    assert "FACEBOOK_PAGE_ACCESS_TOKEN" in rows["instagram"]["fix"]


def test_no_platform_configured_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    env = bot_env(tmp_path, FEED_URLS=write_feed(tmp_path / "feed.xml", []))
    result = run_main(["check"], env, tmp_path)
    assert result.returncode == 1
    assert "no platform is configured" in result.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_network_failures_are_told_apart_from_refused_credentials(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    refused = f"127.0.0.1:{_free_port()}"
    tls = server.base_url.replace("http://", "https://")  # the fake speaks plain HTTP
    env = platform_env(
        server,
        tmp_path,
        TWITTER_API_BASE_URL="http://api.nowhere.invalid",
        GRAPH_API_BASE_URL=f"http://{refused}",
    )
    result = run_main(["check"], env, tmp_path)
    assert result.returncode == 1
    lines = {line.split(":")[0]: line for line in result.stdout.splitlines() if ": " in line}
    assert "cannot resolve api.nowhere.invalid (DNS)" in lines["twitter"]
    assert "TWITTER_API_BASE_URL" in lines["twitter"] and "TWITTER_ACCESS" not in lines["twitter"]
    assert f"the connection to {refused} was refused" in lines["facebook"]
    assert (
        "credentials were not tried" in lines["facebook"]
        and "GRAPH_API_BASE_URL" in lines["facebook"]
    )
    rows = {
        r["platform"]: r for r in json_lines(run_main(["check", "--json"], env, tmp_path).stdout)
    }
    assert (rows["twitter"]["problem"], rows["twitter"]["host"]) == (
        "network",
        "api.nowhere.invalid",
    )
    assert (rows["instagram"]["problem"], rows["instagram"]["host"]) == ("network", refused)

    env = platform_env(server, tmp_path, PLATFORMS="facebook", GRAPH_API_BASE_URL=tls)
    row = json_lines(run_main(["check", "--json"], env, tmp_path).stdout)[0]
    assert row["problem"] == "network" and "TLS" in row["error"]
    assert row["host"] == tls.split("://")[1]

    server.hang("GET", "/v*/me", seconds=5)
    env = platform_env(server, tmp_path, PLATFORMS="facebook", HTTP_TIMEOUT="1s")
    row = json_lines(run_main(["check", "--json"], env, tmp_path).stdout)[0]
    server.release()
    assert row["problem"] == "network" and "did not answer in time (timeout)" in row["error"]

    env = platform_env(server, tmp_path, FACEBOOK_PAGE_ACCESS_TOKEN="EAArevoked-token-3333")
    rows = {
        r["platform"]: r for r in json_lines(run_main(["check", "--json"], env, tmp_path).stdout)
    }
    assert rows["facebook"]["problem"] == "credentials" and rows["facebook"]["host"] is None


def test_check_says_when_x_cannot_read_its_own_posts(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    env = platform_env(server, tmp_path, PLATFORMS="twitter")
    refusal = x_problem(
        403,
        "Client Forbidden",
        "When authenticating requests to the Twitter API v2 endpoints, you must use keys and "
        "tokens from a Twitter developer App that is attached to a Project.",
        "https://api.twitter.com/2/problems/client-not-enrolled",
    )
    server.fail("GET", "/2/users/*/tweets", status=403, body=refusal, times=2)
    result = run_main(["check"], env, tmp_path)
    assert result.returncode == 0, result.stderr  # posting works; recovery is what is degraded
    assert f"twitter: ok, posting as @{server.x_username}" in result.stdout
    assert "CANNOT read its own posts" in result.stdout and "resolve" in result.stdout
    [row] = json_lines(run_main(["check", "--json"], env, tmp_path).stdout)
    assert any("CANNOT read its own posts" in line for line in row["access"])
