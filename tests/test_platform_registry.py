"""The registry and builder the CLI and engine use, plus the shared image helpers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from bot.errors import ConfigError, Unsuitable
from bot.models import Post
from bot.platforms import DryRunPublisher, limits_for, registry
from bot.platforms.bluesky.adapter import BlueskyPublisher
from bot.platforms.facebook.adapter import FacebookPublisher
from bot.platforms.instagram.adapter import InstagramPublisher
from bot.platforms.linkedin.adapter import LinkedInPublisher
from bot.platforms.mastodon.adapter import MastodonPublisher
from bot.platforms.media import ImageProblem, fetch_image, probe_image, sniff_type
from bot.platforms.threads.adapter import ThreadsPublisher
from bot.platforms.twitter.adapter import TwitterPublisher
from bot.publishers import build_publishers, wiring
from bot.settings import Settings
from tests.fakes.images import jpeg_bytes, png_bytes
from tests.fakes.platform_server import FakePlatformServer


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer() as fake:
        yield fake


EXPECTED = {
    "twitter": TwitterPublisher,
    "facebook": FacebookPublisher,
    "instagram": InstagramPublisher,
    "threads": ThreadsPublisher,
    "linkedin": LinkedInPublisher,
    "bluesky": BlueskyPublisher,
    "mastodon": MastodonPublisher,
}


def test_the_registry_finds_every_platform_package() -> None:
    assert {s.name: s.publisher_class() for s in registry.specs()} == EXPECTED
    for spec in registry.specs():
        cls = spec.publisher_class()
        assert cls.name == spec.name and cls.credential_variables
        assert cls.limits == spec.limits


def test_limits_are_declared() -> None:
    assert limits_for("twitter").max_length == 280 and limits_for("twitter").weighted
    assert limits_for("facebook").max_length == 63206
    ig = limits_for("instagram")
    assert (ig.max_length, ig.requires_image, ig.image_types) == (2200, True, ("image/jpeg",))
    assert ig.max_image_bytes == 8 * 1024 * 1024 and ig.max_mentions == 20
    with pytest.raises(ConfigError, match="'myspace' is not a platform"):
        limits_for("myspace")


def test_build_publishers_for_real(server: FakePlatformServer) -> None:
    with httpx.Client() as http:
        settings = server.settings()
        publishers = build_publishers(settings, dry_run=False, http=http)
        assert {k: type(v) for k, v in publishers.items()} == {
            name: EXPECTED[name] for name in settings.platforms
        }
        assert publishers["facebook"].verify().name == "JCK Test Page"
        assert publishers["twitter"].verify().name == "@jcktest"
        for publisher in publishers.values():
            publisher.close()
        assert not http.is_closed  # a shared client belongs to the caller


def test_dry_run_needs_no_credentials() -> None:
    settings = Settings(feed_urls=("file:///feed.xml",), platforms=("twitter", "instagram"))
    publishers = build_publishers(settings, dry_run=True)
    assert all(isinstance(p, DryRunPublisher) for p in publishers.values())
    assert publishers["instagram"].limits == InstagramPublisher.limits
    assert publishers["twitter"].name == "twitter"
    with pytest.raises(Unsuitable):
        publishers["instagram"].publish(Post("instagram", "no image"))


def test_missing_settings_name_the_variable(server: FakePlatformServer) -> None:
    settings = replace(server.settings(), sections={})
    for cls, variable in (
        (TwitterPublisher, "TWITTER_API_KEY"),
        (FacebookPublisher, "FACEBOOK_PAGE_ID"),
        (InstagramPublisher, "INSTAGRAM_USER_ID"),
    ):
        with pytest.raises(ConfigError) as caught:
            cls.from_section(settings.section(cls.name), wiring(settings))
        assert caught.value.variable == variable


def test_sniff_type() -> None:
    assert sniff_type(jpeg_bytes()) == "image/jpeg"
    assert sniff_type(png_bytes()) == "image/png"
    assert sniff_type(b"GIF89a....") == "image/gif"
    assert sniff_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_type(b"<html>") is None


def test_probe_and_fetch(server: FakePlatformServer) -> None:
    with httpx.Client(timeout=1) as http:
        info = probe_image(http, server.image_url(), max_bytes=1000, types=("image/jpeg",))
        assert (info.content_type, info.size) == ("image/jpeg", len(jpeg_bytes()))
        image = fetch_image(http, server.image_url(), max_bytes=10_000, types=("image/jpeg",))
        assert image.body == jpeg_bytes() and image.filename == "image.jpg"
        with pytest.raises(ImageProblem, match="cap") as caught:
            fetch_image(http, server.image_url(), max_bytes=10, types=("image/jpeg",))
        assert not caught.value.transient
        with pytest.raises(ImageProblem, match="not an image"):
            fetch_image(http, server.image_url("fake.jpg"), max_bytes=10_000, types=("image/jpeg",))
        with pytest.raises(ImageProblem) as caught:
            fetch_image(http, "http://127.0.0.1:9/x.jpg", max_bytes=10, types=("image/jpeg",))
        assert caught.value.transient
