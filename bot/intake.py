"""Taking stories in: the I/O a story needs before it can be planned, done once, when it arrives.

Two things. A story the feed gave no image gets its article page's og:image, when a platform
posts nothing without a picture (Instagram). And the image a story ends up with is vetted by the
network policy: one the bot itself would not fetch (an internal address a hostile feed names) is
dropped, so no platform is ever handed it (Instagram and Facebook fetch what they are given).

The worker's poll, a WebSub push, `preview` and `post` take stories in through here, and then
plan them with bot.pipeline, which does no I/O at all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

import httpx

from bot.feeds.article import with_og_image
from bot.models import Story
from bot.netpolicy import NetworkPolicy

log = logging.getLogger("bot.engine")
PAGE_FETCHES = 8
"""Article pages fetched at once (for stories a platform needs an image for)."""


@dataclass(frozen=True)
class Intake:
    """`http` fetches article pages (None: no page is fetched); `policy` vets image URLs;
    `timeout` is HTTP_TIMEOUT, which bounds each page, and twice which bounds them all."""

    http: httpx.Client | None
    policy: NetworkPolicy
    timeout: float

    def take_in(self, stories: Sequence[Story], *, needs_image: bool) -> list[Story]:
        """The stories as the bot will plan them: with the page's og:image where one is needed
        and the feed gave none, and without an image the policy refuses."""
        found = self._with_images(stories) if needs_image else list(stories)
        return [self._vetted(story) for story in found]

    def _with_images(self, stories: Sequence[Story]) -> list[Story]:
        """Up to PAGE_FETCHES pages at a time, and at most 2 x HTTP_TIMEOUT for all of them. A
        page not fetched in time leaves its story as it is, so a slow site delays one poll by
        seconds, never by minutes."""
        out = list(stories)
        todo = [i for i, s in enumerate(stories) if not s.image_url and s.url]
        if self.http is None or not todo:
            return out
        http = self.http
        budget = 2 * self.timeout
        pool = ThreadPoolExecutor(max_workers=PAGE_FETCHES, thread_name_prefix="article-page")
        try:
            futures = {pool.submit(with_og_image, http, stories[i]): i for i in todo}
            done, late = wait(futures, timeout=budget)
            for future in done:
                out[futures[future]] = future.result()
            if late:
                log.info(
                    "no og:image for some stories: their article pages took longer than this "
                    "poll's budget",
                    extra={"stories": len(late), "budget_s": budget},
                )
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return out

    def _vetted(self, story: Story) -> Story:
        reason = self.policy.check(story.image_url)
        if reason is None:
            return story
        log.warning(
            "image refused: the story goes on without it",
            extra={"story": story.url, "image": story.image_url, "reason": reason},
        )
        return replace(story, image_url=None)
