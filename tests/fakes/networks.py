"""One fake server for every network: X, Graph, a Bluesky PDS and a Mastodon instance on one port,
so a single environment can point every platform at it (contract, crash and dry-run tests)."""

from __future__ import annotations

from tests.fakes.bluesky_server import BlueskyServer
from tests.fakes.mastodon_server import MastodonServer


class NetworksServer(BlueskyServer, MastodonServer):
    """Each fake handles its own paths and hands the rest down (/xrpc/, /api/v*, then X and
    Graph); the state of each stays under its own prefix (`bsky_*`, `masto_*`)."""

    def made(self) -> int:
        """Posts made on every network: what a test counts."""
        return (
            len(self.tweets)
            + len(self.fb_posts)
            + len(self.ig_media)
            + len(self.bsky_posts)
            + len(self.masto_statuses)
        )
