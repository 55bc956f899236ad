"""INCLUDE/EXCLUDE keyword and category filters: which stories the newsroom wants posted.

Keywords match whole words (or whole phrases) case-insensitively in the title and summary, so
"gold" does not match "golden" and "lab-grown" matches "Lab-Grown" but not "lab-grownish".
Categories match whole category names, case-insensitively. Exclusions win over inclusions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from bot.models import Story


def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    words = [p.strip() for p in phrases if p.strip()]
    if not words:
        return None
    # \w-boundaries that also treat "-" as part of a word, so "lab-grown" is one token
    alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in words)
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


@dataclass(frozen=True)
class StoryFilter:
    include_keywords: tuple[str, ...] = ()
    exclude_keywords: tuple[str, ...] = ()
    include_categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()

    @cached_property
    def _include(self) -> re.Pattern[str] | None:
        return _phrase_pattern(self.include_keywords)

    @cached_property
    def _exclude(self) -> re.Pattern[str] | None:
        return _phrase_pattern(self.exclude_keywords)

    @property
    def active(self) -> bool:
        return bool(
            self.include_keywords
            or self.exclude_keywords
            or self.include_categories
            or self.exclude_categories
        )

    def reason(self, story: Story) -> str | None:
        """None when the story should be posted, else why it is skipped (for the record)."""
        text = f"{story.title}\n{story.summary}"
        categories = {c.casefold() for c in story.categories}
        if self._exclude is not None:
            match = self._exclude.search(text)
            if match:
                return f"excluded keyword {_spelled(match.group(0), self.exclude_keywords)!r}"
        for name in self.exclude_categories:
            if name.strip().casefold() in categories:
                return f"excluded category {name.strip()!r}"
        if self._include is not None and not self._include.search(text):
            return "no included keyword (" + ", ".join(map(repr, self.include_keywords)) + ")"
        if self.include_categories and not any(
            n.strip().casefold() in categories for n in self.include_categories
        ):
            return "no included category (" + ", ".join(map(repr, self.include_categories)) + ")"
        return None


def _spelled(found: str, configured: tuple[str, ...]) -> str:
    """The keyword as the user configured it (the text may spell it in another case)."""
    key = " ".join(found.split()).casefold()
    for word in configured:
        if " ".join(word.split()).casefold() == key:
            return word.strip()
    return found


def age_reason(story: Story, now: float, max_age: float | None) -> str | None:
    """MAX_STORY_AGE: a dated story older than the limit is skipped (an undated one never is:
    its date is the time we first saw it)."""
    if max_age and story.dated and story.published.timestamp() < now - max_age:
        return f"older than MAX_STORY_AGE ({_duration_text(max_age)})"
    return None


def _duration_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


FLOOD_PREFIX = "MAX_NEW_PER_FEED:"


def flood_reason(cap: int) -> str:
    """The skip reason of stories over MAX_NEW_PER_FEED (`status` counts them by its prefix)."""
    return f"{FLOOD_PREFIX} over {cap} new stories from this feed in one poll"
