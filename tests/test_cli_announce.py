"""`post --text`: announcements that are no story, through main.py against the fake platforms.

Black box, as a user's script would run it: exit codes, stdout (JSON Lines), stderr, and what
reached the fake X and Graph servers, counted. The servers are shared by the module, so every
test posts its own words (the fake X refuses duplicate text, as X does) and counts only those.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.imaging.fit import fit_image
from bot.platforms import registry
from bot.platforms.facebook.adapter import FACEBOOK_SPEC
from bot.platforms.twitter.adapter import X_SPEC
from tests.botenv import run_main
from tests.fakes.images import jpeg_bytes, png_bytes
from tests.fakes.platform_server import FakePlatformServer
from tests.test_cli_post import json_lines, platform_env
from tests.test_crash import spawn, wait_until

ALL = ("twitter", "facebook", "instagram")


@pytest.fixture(scope="module")
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as s:
        yield s


def made(server: FakePlatformServer, words: str) -> dict[str, int]:
    """How many posts on each platform carry `words`."""
    return {
        "twitter": sum(1 for t in server.tweets if words in t["input_text"]),
        "facebook": sum(1 for p in server.fb_posts if words in p["message"]),
        "instagram": sum(1 for m in server.ig_media if words in m["caption"]),
    }


def test_an_announcement_goes_out_on_every_configured_platform(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    words = "Meet us at JCK Las Vegas, booth 1234"
    env = platform_env(server, tmp_path)
    result = run_main(
        ["post", "--text", words, "--image", server.image_url(), "--json"], env, tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = json_lines(result.stdout)
    assert [line["platform"] for line in lines] == list(ALL)
    for line in lines:
        assert line["status"] == "published" and line["text"] == words
        assert line["story_url"] is None and line["link"] is None
        assert line["remote_url"] and line["delivery_id"]
    assert made(server, words) == {"twitter": 1, "facebook": 1, "instagram": 1}
    tweet = next(t for t in server.tweets if t["input_text"] == words)
    assert len(tweet["media_ids"]) == 1  # the picture went along
    fb = next(p for p in server.fb_posts if p["message"] == words)
    assert fb["photo_id"] and fb["link"] is None  # a photo post, not a link post


def test_each_platform_gets_its_own_text(server: FakePlatformServer, tmp_path: Path) -> None:
    env = platform_env(server, tmp_path)
    x_text = "Stand 77 at JCK 2027, come by"
    fb_text = "Our team is at JCK Las Vegas all week: stand 77, hall B. Come and say hello!"
    result = run_main(
        ["post", "--text-twitter", x_text, "--text-facebook", fb_text, "--json"], env, tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    # Without --text, the post goes where a text was given, and nowhere else.
    assert {line["platform"]: line["text"] for line in lines} == {
        "twitter": x_text,
        "facebook": fb_text,
    }
    assert made(server, "stand 77, hall B") == {"twitter": 0, "facebook": 1, "instagram": 0}
    assert made(server, "Stand 77 at") == {"twitter": 1, "facebook": 0, "instagram": 0}

    # A common text for the rest, one platform's own text beside it.
    common = "Common words for the stand, hall C"
    both = run_main(
        ["post", "--text", common, "--text-twitter", "X words for hall C", "--platform",
         "twitter", "--platform", "facebook", "--json"], env, tmp_path,
    )  # fmt: skip
    assert both.returncode == 0, both.stderr
    texts = {line["platform"]: line["text"] for line in json_lines(both.stdout)}
    assert texts == {"twitter": "X words for hall C", "facebook": common}


def test_every_platform_of_the_registry_has_its_own_text_option(tmp_path: Path) -> None:
    help_text = run_main(["post", "--help"], {"PATH": "/usr/bin:/bin"}, tmp_path).stdout
    for name in registry.names():
        assert f"--text-{name}" in help_text


def test_a_text_over_a_platforms_limit_is_refused_before_any_call(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    env = platform_env(server, tmp_path)
    before = len(server.requests)
    over_x = run_main(["post", "--text", "x" * 281, "--platform", "twitter"], env, tmp_path)
    assert over_x.returncode == 2
    assert "twitter" in over_x.stderr and "weighted length 281" in over_x.stderr
    assert "Traceback" not in over_x.stderr
    # X counts as X does: 141 CJK characters weigh 282, though they are 141 code points.
    cjk = run_main(["post", "--text-twitter", "钻" * 141, "--text", "ok"], env, tmp_path)
    assert cjk.returncode == 2 and "weighted length 282" in cjk.stderr
    # One platform over its limit stops the whole command: the others are not posted either.
    long_fb = "y" * 63207
    mixed = run_main(
        ["post", "--text", "fine for X", "--text-facebook", long_fb, "--platform", "twitter",
         "--platform", "facebook"], env, tmp_path,
    )  # fmt: skip
    assert mixed.returncode == 2
    assert "facebook" in mixed.stderr and "63207" in mixed.stderr
    assert len(server.requests) == before  # not one request reached any platform
    assert made(server, "fine for X")["twitter"] == 0


def test_a_picture_from_a_local_file(server: FakePlatformServer, tmp_path: Path) -> None:
    photo = tmp_path / "show-floor.jpg"
    photo.write_bytes(jpeg_bytes(min_size=3000))
    env = platform_env(server, tmp_path)
    words = "The show floor this morning"
    result = run_main(
        ["post", "--text", words, "--image", str(photo), "--alt", "Crowds at the JCK show",
         "--platform", "twitter", "--platform", "facebook", "--json"], env, tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    tweet = next(t for t in server.tweets if t["input_text"] == words)
    [media_id] = tweet["media_ids"]
    # Uploaded from the disk, fitted like any picture (upright, metadata stripped, re-encoded).
    assert server.media[media_id]["bytes"] == fit_image(photo.read_bytes(), X_SPEC).body
    assert tweet["alt_texts"] == ["Crowds at the JCK show"]
    fb = next(p for p in server.fb_posts if p["message"] == words)
    assert server.fb_photos[fb["photo_id"]] == fit_image(photo.read_bytes(), FACEBOOK_SPEC).body


def test_instagram_without_a_picture_is_refused_with_a_message(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    env = platform_env(server, tmp_path)
    before = len(server.requests)
    result = run_main(["post", "--text", "No picture today"], env, tmp_path)
    assert result.returncode == 2
    assert "instagram" in result.stderr and "--image" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # A local file cannot reach Instagram (it fetches a public URL): IMAGE_HOST is named.
    photo = tmp_path / "local.jpg"
    photo.write_bytes(jpeg_bytes())
    local = run_main(["post", "--text", "A local file", "--image", str(photo)], env, tmp_path)
    assert local.returncode == 2
    assert "instagram" in local.stderr and "IMAGE_HOST" in local.stderr
    # Instagram takes JPEG only: a PNG is refused before anything is sent, too.
    png = tmp_path / "chart.png"
    png.write_bytes(png_bytes())
    url = server.add_image("chart.png", png.read_bytes(), "image/png")
    wrong = run_main(["post", "--text", "A chart", "--image", url], env, tmp_path)
    assert wrong.returncode == 2 and "image/png" in wrong.stderr and "instagram" in wrong.stderr
    assert [r for r in server.requests[before:] if r.method == "POST"] == []
    assert made(server, "No picture today") == made(server, "A chart") == dict.fromkeys(ALL, 0)


def test_the_same_command_twice_posts_once_and_force_posts_again(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    env = platform_env(server, tmp_path, PLATFORMS="facebook,instagram")
    words = "Reminder: the booth opens at 9:00"
    command = ["post", "--text", words, "--image", server.image_url(), "--json"]
    first = run_main(command, env, tmp_path)
    assert first.returncode == 0, first.stderr
    links = {line["platform"]: line["remote_url"] for line in json_lines(first.stdout)}
    assert made(server, words) == {"twitter": 0, "facebook": 1, "instagram": 1}

    again = run_main(command, env, tmp_path)
    assert again.returncode == 0, again.stderr
    for line in json_lines(again.stdout):
        assert line["status"] == "published"
        assert line["remote_url"] == links[line["platform"]]  # the earlier post, with its link
        assert "nothing was sent again" in line["note"] and "--force" in line["note"]
    assert made(server, words) == {"twitter": 0, "facebook": 1, "instagram": 1}
    readable = run_main(command[:-1], env, tmp_path)
    assert readable.returncode == 0 and "posted earlier" in readable.stdout

    forced = run_main([*command, "--force"], env, tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert {line["status"] for line in json_lines(forced.stdout)} == {"published"}
    assert made(server, words) == {"twitter": 0, "facebook": 2, "instagram": 2}


def test_an_id_names_the_post_whatever_its_words(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    env = platform_env(server, tmp_path, PLATFORMS="twitter")
    first = run_main(
        ["post", "--id", "booth-day-1", "--text", "Day one at booth 1234"], env, tmp_path
    )
    assert first.returncode == 0, first.stderr
    # A retry with reworded text (a typo fixed after a timeout) is still the same post.
    second = run_main(
        ["post", "--id", "booth-day-1", "--text", "Day one at our booth 1234", "--json"],
        env,
        tmp_path,
    )
    assert second.returncode == 0
    [line] = json_lines(second.stdout)
    assert line["text"] == "Day one at booth 1234" and "booth-day-1" in line["note"]
    assert made(server, "Day one at")["twitter"] == 1


def test_usage_errors_are_one_line_and_exit_2(server: FakePlatformServer, tmp_path: Path) -> None:
    env = platform_env(server, tmp_path)
    cases = [
        (["post"], "--text"),
        (["post", "--text", "x", "--at", "yesterday"], "--at"),
        (["post", "--text", "x", "--at", "2020-01-01 09:00"], "in the past"),
        (["post", "--text", "x", "--platform", "twitter", "--image", "/no/such.jpg"], "no such"),
        (["post", "--text", "x", "--platform", "twitter", "--alt", "a"], "--image"),
        (["post", "--text-facebook", "x", "--platform", "twitter"], "--text-facebook"),
    ]
    for args, needle in cases:
        result = run_main(args, env, tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert needle in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_a_scheduled_announcement_waits_for_its_time(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    env = platform_env(server, tmp_path, PLATFORMS="twitter")
    words = "See you tomorrow at nine"
    started = time.time()
    result = run_main(["post", "--text", words, "--at", "+2h", "--json"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    [line] = json_lines(result.stdout)
    assert line["status"] == "queued" and "scheduled for" in line["note"]
    due = datetime.fromisoformat(line["next_attempt_at"].replace("Z", "+00:00")).timestamp()
    assert started + 7200 - 5 <= due <= time.time() + 7200 + 5
    assert run_main(["poll"], env, tmp_path).returncode == 0
    assert made(server, words)["twitter"] == 0  # not before its time
    again = run_main(["post", "--text", words, "--at", "+2h", "--json"], env, tmp_path)
    [repeat] = json_lines(again.stdout)
    assert repeat["delivery_id"] == line["delivery_id"] and "already waiting" in repeat["note"]


def test_a_sigkill_during_the_call_then_the_same_command_gives_one_post(tmp_path: Path) -> None:
    with FakePlatformServer(ig_in_progress_reads=0) as server:
        env = platform_env(server, tmp_path, PLATFORMS="facebook")
        words = "Killed while posting, posted once"
        server.hang("POST", "*/feed", seconds=60)  # the post is made, the answer held back
        proc = spawn(["post", "--text", words], env, tmp_path)
        try:
            assert wait_until(lambda: made(server, words)["facebook"] == 1)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
            server.release()
        again = run_main(["post", "--text", words, "--json"], env, tmp_path)
        assert again.returncode == 0, again.stderr
        [line] = json_lines(again.stdout)
        assert line["status"] in ("published", "sending"), line
        assert made(server, words)["facebook"] == 1
        assert run_main(["poll"], env, tmp_path).returncode == 0
        assert made(server, words)["facebook"] == 1


def test_a_local_file_reaches_instagram_through_the_image_host(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    photo = tmp_path / "floor.jpg"
    photo.write_bytes(jpeg_bytes(min_size=2000))
    env = platform_env(server, tmp_path, PLATFORMS="instagram", IMAGE_HOST="facebook")
    words = "From the show floor, hosted for Instagram"
    result = run_main(["post", "--text", words, "--image", str(photo), "--json"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    [line] = json_lines(result.stdout)
    assert line["status"] == "published"
    assert made(server, words)["instagram"] == 1


def test_stray_mentions_and_tags_are_made_inert_unless_allowed(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    from bot.compose.text import WORD_JOINER, count_hashtags, count_mentions

    env = platform_env(server, tmp_path)
    words = "Thanks @someone for #JCKShow and $SIG, from @jckmagazine"
    result = run_main(
        ["post", "--text", words, "--image", server.image_url(), "--json"], env, tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "--allow-mentions" in result.stderr  # said, not silently changed
    sent = {
        "twitter": next(t["input_text"] for t in server.tweets if "Thanks @" in t["input_text"]),
        "facebook": next(p["message"] for p in server.fb_posts if "Thanks @" in p["message"]),
        "instagram": next(m["caption"] for m in server.ig_media if "Thanks @" in m["caption"]),
    }
    for platform, text in sent.items():
        assert f"@{WORD_JOINER}someone" in text, platform
        assert f"#{WORD_JOINER}JCKShow" in text and f"${WORD_JOINER}SIG" in text, platform
        assert "@jckmagazine" in text  # the brand's own handle stays live
        assert count_mentions(text) == 1 and count_hashtags(text) == 0, platform

    allowed = "Welcome @newhire to #TeamJCK"
    live = run_main(
        ["post", "--text", allowed, "--platform", "twitter", "--allow-mentions"], env, tmp_path
    )
    assert live.returncode == 0, live.stderr
    assert any(t["input_text"] == allowed for t in server.tweets)
