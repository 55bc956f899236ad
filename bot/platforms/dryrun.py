"""The dry-run publisher: stands in for every platform when DRY_RUN=true, sends nothing.

It needs no credentials and sends nothing, yet answers like a real adapter: before "posting" it
runs the checks the real adapter runs before sending (`checks`: the adapter's `preflight` when
its credentials are set, which reads the image and the publishing quota, else the checks that
need no credentials: text length, image type and size), so a `dry_run` line means a live run
would post it. What it "published" is remembered in this process only, which gives `find` the
same meaning as on a real platform, and counts against a quota the platform never saw.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime

from bot.errors import Unsuitable
from bot.models import Account, Limits, Post, PublishResult
from bot.platforms.base import Checkpoint, Publisher


class DryRunPublisher(Publisher):
    """Reports posts instead of sending them; the engine records them with status dry_run."""

    is_dry_run = True
    """Read by the engine: what this publisher reports is recorded as dry_run, not published."""

    def __init__(
        self,
        platform: str,
        limits: Limits,
        checks: Callable[[Post, int], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.name = platform  # type: ignore[misc]  # one instance per platform it stands in for
        self.limits = limits  # type: ignore[misc]
        self.checks = checks
        self._on_close = on_close
        self._published: dict[str, PublishResult] = {}

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()

    def preflight(self, post: Post, pending: int = 0) -> None:
        if self.limits.requires_image and not post.image_url:
            raise Unsuitable(self.name, f"{self.name} needs an image and this story has none")
        if self.checks is not None:
            self.checks(post, pending + len(self._published))

    @staticmethod
    def remote_id(post: Post) -> str:
        """Stable for the same post, so a repeated dry run reports the same id."""
        key = "\x00".join((post.platform, post.text, post.link or "", post.image_url or ""))
        return "dry-run-" + hashlib.sha256(key.encode()).hexdigest()[:16]

    def verify(self) -> Account:
        return Account(self.name, "dry-run", f"dry run: nothing is sent to {self.name}")

    def publish(
        self,
        post: Post,
        checkpoint: Checkpoint | None = None,
        recovery: Mapping[str, str] | None = None,
    ) -> PublishResult:
        self.preflight(post)
        result = PublishResult(self.remote_id(post), None)
        self._published[result.remote_id] = result
        return result

    def find(
        self, post: Post, since: datetime, recovery: Mapping[str, str] | None = None
    ) -> PublishResult | None:
        return self._published.get(self.remote_id(post))
