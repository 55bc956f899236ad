"""Story is a plain frozen dataclass with slots: built by keyword or position, never changed."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from bot.models import Story

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_story_built_by_keyword_or_position_is_the_same_frozen_value() -> None:
    by_name = Story(
        identity="guid:1", url="https://x.example/1", title="T", summary="S",
        published=NOW, feed_url="https://x.example/feed", categories=("Gold",),
    )  # fmt: skip
    by_position = Story("guid:1", "https://x.example/1", "T", "S", NOW, "https://x.example/feed",
                        None, None, ("Gold",))  # fmt: skip
    assert by_name == by_position and hash(by_name) == hash(by_position)
    assert by_name.dated is True and by_name.image_url is None and by_name.guid is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        by_name.title = "changed"  # type: ignore[misc]
    assert dataclasses.replace(by_name, title="U").title == "U"
    assert not hasattr(by_name, "__dict__")  # slots: a poll holds tens of thousands


def test_story_init_rejects_wrong_calls() -> None:
    with pytest.raises(TypeError):
        Story("guid:1")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Story("a", "b", "c", "d", NOW, "f", colour="red")  # type: ignore[call-arg]


def test_story_is_built_by_dataclasses_alone() -> None:
    # No hand-made __init__: the one dataclasses writes, whatever Story's fields become.
    assert Story.__init__.__qualname__ == "Story.__init__"
    assert "__setattr__" in Story.__init__.__code__.co_names
