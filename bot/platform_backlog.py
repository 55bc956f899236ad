"""A platform added to a store that already has stories: what it gets of them.

Without this, a platform set up later (X once its credentials arrive) would either never see the
stories recorded before it, or, if they were handed to it, flood the account with all of them at
once. So the stories already seen get a delivery on the new platform as NEW_PLATFORM_BACKLOG says:
`skip` (the default: recorded as skipped, with that reason), `latest:N` (the newest N queued, the
rest skipped) or `all` (every one within MAX_STORY_AGE). The decision is written to the store,
so `status` can show it, and the set of platforms the store has known is kept up to date.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.feeds.filters import age_reason
from bot.models import Backlog, DeliveryStatus, Post, Story
from bot.store import NewDelivery
from bot.store.platform_state import PlatformStore
from bot.store.story_log import StoryStore

log = logging.getLogger("bot.engine")


@dataclass(frozen=True)
class Admission:
    """What one newly added platform was given of the stories already seen."""

    platform: str
    backlog: str
    queued: int
    skipped: int
    at: float

    def as_dict(self) -> dict[str, object]:
        return {"backlog": self.backlog, "queued": self.queued, "skipped": self.skipped}


def admit_new_platforms(
    state: PlatformStore,
    stories: StoryStore,
    platforms: Iterable[str],
    *,
    backlog: Backlog,
    max_age: float | None,
    now: float,
    compose: Callable[[Story, str], NewDelivery],
) -> list[Admission]:
    """Give each platform the store has not known yet its share of the stories already seen.

    A store from before this rule knew the platforms it has deliveries for; a store with no
    story yet simply learns the configured platforms (the feeds' BACKLOG covers them).
    """
    names = list(dict.fromkeys(platforms))
    stored = state.known_platforms()
    known = stored
    if known is None:
        known = state.delivery_platforms() if stories.story_count() else set(names)
    new = [name for name in names if name not in known]
    admissions = [_admit(state, stories, name, backlog, max_age, now, compose) for name in new]
    if stored is None or not set(names) <= stored:
        state.set_known_platforms(known | set(names))
    return admissions


def _admit(
    state: PlatformStore,
    stories: StoryStore,
    platform: str,
    backlog: Backlog,
    max_age: float | None,
    now: float,
    compose: Callable[[Story, str], NewDelivery],
) -> Admission:
    mode = str(backlog)
    reason = f"seen before {platform} was added (NEW_PLATFORM_BACKLOG={mode})"
    items: list[tuple[int, NewDelivery]] = []
    queued = 0
    for story_id, story in stories.stories_without(platform):  # newest first
        wanted = backlog.mode == "all" or (backlog.mode == "latest" and queued < backlog.count)
        why = reason if not wanted else age_reason(story, now, max_age)
        if why is None:
            delivery = compose(story, platform)
            queued += delivery.status == DeliveryStatus.QUEUED
            items.append((story_id, delivery))
            continue
        empty = Post(platform, "", story_url=story.url, image_url=story.image_url)
        items.append((story_id, NewDelivery(platform, empty, DeliveryStatus.SKIPPED.value, why)))
    stories.add_backlog_deliveries(items, now)
    result = Admission(platform, mode, queued, len(items) - queued, now)
    state.record_platform_admission(platform, {**result.as_dict(), "at": now})
    log.warning(
        f"{platform} is new to this store: of the {len(items)} stories seen before, "
        f"{result.queued} will be posted and {result.skipped} are skipped "
        f"(NEW_PLATFORM_BACKLOG={mode})",
        extra={"platform": platform},
    )
    return result
