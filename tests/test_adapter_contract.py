"""One contract, every adapter: the same behaviour from X, Facebook, Instagram, Threads, LinkedIn,
Bluesky, Mastodon and the dry run.

Each case builds an adapter against a fresh fake server and a post it can accept; the tests
below know nothing platform-specific.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import PublishError
from bot.models import Account, Limits, Post, PublishResult
from bot.platforms import DryRunPublisher, limits_for
from bot.platforms.base import Publisher
from bot.platforms.bluesky.adapter import BlueskyPublisher
from bot.platforms.bluesky.settings import BlueskySettings
from bot.platforms.facebook.adapter import FacebookPublisher
from bot.platforms.instagram.adapter import InstagramPublisher
from bot.platforms.linkedin.adapter import LinkedInPublisher
from bot.platforms.mastodon.adapter import MastodonPublisher
from bot.platforms.mastodon.settings import MastodonSettings
from bot.platforms.threads.adapter import ThreadsPublisher
from bot.platforms.twitter.adapter import TwitterPublisher
from bot.settings_values import Secret
from tests.fakes.bluesky_server import BlueskyServer
from tests.fakes.linkedin_server import FakeLinkedInServer
from tests.fakes.mastodon_server import MastodonServer
from tests.fakes.platform_server import FakePlatformServer
from tests.fakes.threads_server import FakeThreadsServer


@dataclass
class Case:
    publisher: Publisher
    post: Post
    real: bool
    own_server: FakePlatformServer | None = None
    """A network with a fake of its own (Threads, LinkedIn), started for this case."""
    made: Callable[[], int] | None = None
    """How many posts its fake has (default: the shared fake's tweets, Page posts and media)."""


def _twitter(s: FakePlatformServer) -> Case:
    post = Post(
        "twitter",
        "Contract https://www.jckonline.com/c",
        image_url=s.image_url(),
        story_url="https://www.jckonline.com/c",
    )
    return Case(TwitterPublisher(s.twitter_settings(), timeout=1.0), post, True)


def _facebook(s: FakePlatformServer) -> Case:
    post = Post("facebook", "Contract", link="https://www.jckonline.com/c")
    return Case(FacebookPublisher(s.facebook_settings(), timeout=1.0), post, True)


def _instagram(s: FakePlatformServer) -> Case:
    s.ig_in_progress_reads = 0  # ready at once (tests/test_container_wait.py: when it is not)
    publisher = InstagramPublisher(s.instagram_settings(), timeout=1.0)
    return Case(publisher, Post("instagram", "Contract", image_url=s.image_url()), True)


def _threads(s: FakePlatformServer) -> Case:
    fake = FakeThreadsServer(in_progress_reads=0).start()
    publisher = ThreadsPublisher(fake.threads_settings(), timeout=1.0)
    post = Post(
        "threads", "Contract https://www.jckonline.com/c", story_url="https://www.jckonline.com/c"
    )
    return Case(publisher, post, True, fake, lambda: len(fake.posts))


def _linkedin(s: FakePlatformServer) -> Case:
    fake = FakeLinkedInServer(refuse_duplicates=False).start()
    publisher = LinkedInPublisher(fake.linkedin_settings(), timeout=1.0)
    post = Post("linkedin", "Contract (test)", link="https://www.jckonline.com/c")
    return Case(publisher, post, True, fake, lambda: len(fake.li_posts))


def _bluesky(s: FakePlatformServer) -> Case:
    fake = BlueskyServer().start()
    settings = BlueskySettings(fake.bsky_handle, Secret(fake.bsky_password), fake.base_url)
    post = Post(
        "bluesky",
        "Contract",
        link="https://www.jckonline.com/c",
        image_url=fake.image_url(),
        story_url="https://www.jckonline.com/c",
        parts={"title": "Contract", "summary": "The contract, on Bluesky."},
    )
    return Case(
        BlueskyPublisher(settings, timeout=1.0), post, True, fake, lambda: len(fake.bsky_posts)
    )


def _mastodon(s: FakePlatformServer) -> Case:
    fake = MastodonServer().start()
    settings = MastodonSettings(fake.base_url, Secret(fake.masto_token))
    post = Post(
        "mastodon",
        "Contract https://www.jckonline.com/c",
        image_url=fake.image_url(),
        alt_text="Contract",
        story_url="https://www.jckonline.com/c",
    )
    return Case(
        MastodonPublisher(settings, timeout=1.0), post, True, fake, lambda: len(fake.masto_statuses)
    )


def _dryrun(s: FakePlatformServer) -> Case:
    return Case(DryRunPublisher("twitter", limits_for("twitter")), Post("twitter", "Dry"), False)


BUILDERS: dict[str, Callable[[FakePlatformServer], Case]] = {
    "twitter": _twitter,
    "facebook": _facebook,
    "instagram": _instagram,
    "threads": _threads,
    "linkedin": _linkedin,
    "bluesky": _bluesky,
    "mastodon": _mastodon,
    "dryrun": _dryrun,
}
REAL = ["twitter", "facebook", "instagram", "threads", "linkedin", "bluesky", "mastodon"]


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer() as fake:
        yield fake


@pytest.fixture(params=list(BUILDERS))
def case(request: pytest.FixtureRequest, server: FakePlatformServer) -> Iterator[Case]:
    built = BUILDERS[request.param](server)
    yield built
    built.publisher.close()
    if built.own_server is not None:
        built.own_server.stop()


@pytest.fixture(params=REAL)
def real_case(request: pytest.FixtureRequest, server: FakePlatformServer) -> Iterator[Case]:
    """The adapters that talk to a platform (the dry run makes no request that could fail)."""
    built = BUILDERS[request.param](server)
    yield built
    built.publisher.close()
    if built.own_server is not None:
        built.own_server.stop()


def since() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=5)


def test_limits_and_name_are_declared(case: Case) -> None:
    assert isinstance(case.publisher.limits, Limits) and case.publisher.limits.max_length > 0
    assert case.publisher.name == case.post.platform


def test_verify_returns_an_account(case: Case) -> None:
    account = case.publisher.verify()
    assert isinstance(account, Account)
    assert account.platform == case.post.platform and account.id and account.name


def test_publish_then_find_agree(case: Case, server: FakePlatformServer) -> None:
    handles: list[dict[str, str]] = []
    assert case.publisher.find(case.post, since()) is None
    result = case.publisher.publish(case.post, lambda h: handles.append(dict(h)))
    assert isinstance(result, PublishResult) and result.remote_id
    found = case.publisher.find(case.post, since(), handles[0] if handles else None)
    assert found is not None and found.remote_id == result.remote_id
    made = (
        case.made()
        if case.made
        else len(server.tweets) + len(server.fb_posts) + len(server.ig_media)
    )
    assert made == (1 if case.real else 0)


def test_dry_run_result_is_marked_and_stable(server: FakePlatformServer) -> None:
    case = _dryrun(server)
    first = case.publisher.publish(case.post)
    assert first.remote_id.startswith("dry-run-") and first.remote_url is None
    assert DryRunPublisher("twitter", limits_for("twitter")).publish(case.post) == first
    assert getattr(case.publisher, "is_dry_run", False) is True
    assert server.requests == []


API = "/[2vrxa]*"
"""X's /2/, Graph's and Threads' /vN.N/, LinkedIn's /rest/, Bluesky's /xrpc/, Mastodon's /api/:
not the test images."""
FAULTS: list[Callable[[FakePlatformServer], object]] = [
    lambda s: s.fail("*", API, status=500, body=b"<html>oops</html>", times=99),
    lambda s: s.fail("*", API, status=401, body={"error": "?"}, times=99),
    lambda s: s.fail("*", API, status=200, body=b"not json", times=99),
    lambda s: s.fail("*", API, status=200, body={"unexpected": True}, times=99),
    lambda s: s.drop("*", API, times=99),
]


@pytest.mark.parametrize("fault", range(len(FAULTS)))
@pytest.mark.parametrize("operation", ["verify", "publish", "find"])
def test_only_bot_errors_escape(
    real_case: Case, server: FakePlatformServer, fault: int, operation: str
) -> None:
    case = real_case
    FAULTS[fault](case.own_server or server)
    calls = {
        "verify": case.publisher.verify,
        "publish": lambda: case.publisher.publish(case.post),
        "find": lambda: case.publisher.find(case.post, since()),
    }
    with pytest.raises(PublishError) as caught:
        calls[operation]()
    assert caught.value.platform == case.post.platform
    assert caught.value.message
