"""Story's slot-setting __init__ behaves as dataclasses' own frozen __init__ would."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, datetime

import pytest

from bot.models import Story, slot_setting_init

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


# Story as dataclasses alone would build it, from Story's own fields (so the two cannot drift).
_PlainStory = dataclasses.make_dataclass(
    "_PlainStory",
    [
        (f.name, f.type)
        if f.default is dataclasses.MISSING
        else (f.name, f.type, dataclasses.field(default=f.default))
        for f in dataclasses.fields(Story)
    ],
    frozen=True,
    slots=True,
)


def test_story_init_keeps_the_dataclass_signature_and_defaults() -> None:
    ours = inspect.signature(Story.__init__)
    theirs = inspect.signature(_PlainStory.__init__)
    assert list(ours.parameters) == list(theirs.parameters)
    assert [p.default for p in ours.parameters.values()] == [
        p.default for p in theirs.parameters.values()
    ]
    assert Story.__init__.__qualname__ == "Story.__init__"
    # The point of it: no object.__setattr__ call per field, as the dataclass's own makes.
    assert "__setattr__" in _PlainStory.__init__.__code__.co_names
    assert "__setattr__" not in Story.__init__.__code__.co_names


def test_story_built_by_keyword_or_position_is_the_same_frozen_value() -> None:
    by_name = Story(
        identity="guid:1", url="https://x.example/1", title="T", summary="S",
        published=NOW, feed_url="https://x.example/feed", categories=("Gold",),
    )  # fmt: skip
    by_position = Story("guid:1", "https://x.example/1", "T", "S", NOW, "https://x.example/feed",
                        None, None, ("Gold",))  # fmt: skip
    assert by_name == by_position and hash(by_name) == hash(by_position)
    assert by_name.dated is True and by_name.image_url is None and by_name.guid is None
    assert dataclasses.astuple(by_name)[:-1] == dataclasses.astuple(
        _PlainStory("guid:1", "https://x.example/1", "T", "S", NOW, "https://x.example/feed",
                    categories=("Gold",))
    )[:-1]  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        by_name.title = "changed"  # type: ignore[misc]
    assert dataclasses.replace(by_name, title="U").title == "U"


def test_story_init_rejects_wrong_calls_as_the_dataclass_would() -> None:
    with pytest.raises(TypeError):
        Story("guid:1")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Story("a", "b", "c", "d", NOW, "f", colour="red")  # type: ignore[call-arg]


def test_slot_setting_init_refuses_default_factories() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class WithFactory:
        items: list[str] = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError, match=r"WithFactory\.items"):
        slot_setting_init(WithFactory)
