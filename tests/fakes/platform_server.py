"""The fake X / Graph API server the tests run against: one loopback port serving the fakes of
the three platforms, each in its own module, built on the shared HTTP plumbing:

* tests/fakes/http_fake.py: the threaded server on 127.0.0.1 (ephemeral port), the request log,
  faults, test images under /images/... (HEAD switchable off for ranged-GET fallbacks), and the
  recorded JSON answers under tests/fixtures/<platform>/.
* tests/fakes/x.py: X API v2 (OAuth 1.0a verified for real, t.co links, rate-limit headers;
  duplicates accepted unless `x_refuse_duplicates`).
* tests/fakes/graph.py: what Facebook and Instagram share on the Graph host (Page token,
  debug_token, error JSON with code/subcode, usage headers);
  tests/fakes/facebook.py: the Page; tests/fakes/instagram.py: containers going IN_PROGRESS ->
  FINISHED -> PUBLISHED, the publishing quota.

Every fake accepts what the real platform accepts, duplicates included, so tests count what
arrived. A new network adds its own module (its mixin, on this server or on a server of its own:
`class FakeNet(NetApi)` is a complete server) and its fixtures folder.

Usage (also from the engine's tests)::

    with FakePlatformServer() as server:
        settings = server.settings(platforms=("twitter", "facebook", "instagram"))
        server.fail("POST", "/2/tweets", status=503, body=x_problem(503, "Service Unavailable"))
        server.hang("POST", "*/media_publish", seconds=2)    # effect done, answer held back
        server.drop("POST", "*/feed", after_effect=True)      # effect done, socket closed
        ...
        server.tweets, server.fb_posts, server.ig_media       # what was "published"
        server.requests                                       # every request, in order

Assumptions the public docs do not settle are marked "(fake)" where they are made.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from bot.settings import Settings
from tests.fakes.facebook import FacebookPage
from tests.fakes.graph import graph_error, graph_status
from tests.fakes.graph import graph_page as _graph_page
from tests.fakes.graph import graph_time as _graph_time
from tests.fakes.graph import multipart_fields as _multipart_fields
from tests.fakes.http_fake import Body, Fault, RecordedRequest, Reply
from tests.fakes.http_fake import multipart as _multipart
from tests.fakes.http_fake import sniff as _sniff
from tests.fakes.instagram import InstagramAccount
from tests.fakes.x import XApi, XCredentials, oauth1_signature, x_problem

# The underscored names are the helpers' names from before the split, kept for the fakes built
# on this server (threads, linkedin, bluesky, mastodon); new code imports them from their module.
__all__ = [
    "Body",
    "FakePlatformServer",
    "Fault",
    "RecordedRequest",
    "Reply",
    "XCredentials",
    "_graph_page",
    "_graph_time",
    "_multipart",
    "_multipart_fields",
    "_sniff",
    "graph_error",
    "graph_status",
    "iter_tokens_in_urls",
    "oauth1_signature",
    "x_problem",
]


class FakePlatformServer(XApi, FacebookPage, InstagramAccount):
    """X and Graph (Facebook, Instagram) on one port; see the module docstring for the API."""

    def __init__(self, **options: Any) -> None:
        """Keyword options of every platform's fake: clock, x_credentials, x_user_id,
        x_username, x_refuse_duplicates, page_id, page_name, page_token, fb_refuse_duplicates,
        ig_user_id, ig_username, ig_token, ig_in_progress_reads, ig_quota_total."""
        super().__init__(**options)

    def settings(self, **overrides: Any) -> Settings:
        """Full Settings with all three platforms pointing here (override anything; a
        platform's name overrides its section, None removes it)."""
        sections: dict[str, Any] = {
            "twitter": self.twitter_settings(),
            "facebook": self.facebook_settings(),
            "instagram": self.instagram_settings(),
        }
        for name in list(sections):
            if name in overrides:
                sections[name] = overrides.pop(name)
        values: dict[str, Any] = {
            "feed_urls": (self.base_url + "/feed.xml",),
            "platforms": ("twitter", "facebook", "instagram"),
            "sections": {k: v for k, v in sections.items() if v is not None},
            "http_timeout": 5.0,
        }
        values.update(overrides)
        return Settings(**values)


def iter_tokens_in_urls(server: FakePlatformServer, secret: str) -> Iterator[RecordedRequest]:
    """Every recorded request whose path or query contains `secret` (should be none)."""
    for request in server.requests:
        if secret in unquote(request.target):
            yield request
