"""The dry-run publisher: stands in for every platform when DRY_RUN=true, sends nothing.

It needs no credentials and makes no request, yet answers like a real adapter (declared limits,
an Instagram post without an image is still Unsuitable), so a dry run shows what a real run
would do. What it "published" is remembered in this process only, which gives `find` the same
meaning as on a real platform: a post made by an earlier publish call is found again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

from bot.errors import Unsuitable
from bot.models import Account, Limits, Post, PublishResult
from bot.platforms.base import Checkpoint, Publisher


class DryRunPublisher(Publisher):
    """Reports posts instead of sending them; the engine records them with status dry_run."""

    is_dry_run = True
    """Read by the engine: what this publisher reports is recorded as dry_run, not published."""

    def __init__(self, platform: str, limits: Limits) -> None:
        self.name = platform  # type: ignore[misc]  # one instance per platform it stands in for
        self.limits = limits  # type: ignore[misc]
        self._published: dict[str, PublishResult] = {}

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
        if self.limits.requires_image and not post.image_url:
            raise Unsuitable(self.name, f"{self.name} needs an image and this story has none")
        result = PublishResult(self.remote_id(post), None)
        self._published[result.remote_id] = result
        return result

    def find(
        self, post: Post, since: datetime, recovery: Mapping[str, str] | None = None
    ) -> PublishResult | None:
        return self._published.get(self.remote_id(post))
