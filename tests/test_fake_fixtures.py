"""The recorded answers the fake platforms serve: valid JSON, each one served by some fake, and
filled in exactly (a placeholder without a value is an error, never a silent "${id}")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.fakes.http_fake import FIXTURES, answer

FAKES = Path(__file__).resolve().parent / "fakes"
RECORDED = sorted(FIXTURES.glob("*/*.json"))


def test_there_are_recorded_answers_for_each_platform() -> None:
    assert {p.parent.name for p in RECORDED} >= {"twitter", "facebook", "instagram", "graph"}


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_each_recorded_answer_is_json_and_served_by_a_fake(path: Path) -> None:
    json.loads(path.read_text(encoding="utf-8"))
    sources = "\n".join(f.read_text(encoding="utf-8") for f in FAKES.glob("*.py"))
    assert re.search(rf"""["']{re.escape(path.stem)}["']""", sources), (
        f"{path} is served by no fake"
    )


def test_placeholders_keep_their_type_whole_and_become_text_inside_strings() -> None:
    body = answer("twitter", "media_upload", id="188", size=1234, image_type="image/png")
    assert body["data"]["id"] == "188" and body["data"]["media_key"] == "3_188"
    assert body["data"]["size"] == 1234 and body["data"]["image"]["image_type"] == "image/png"


def test_a_placeholder_without_a_value_is_an_error() -> None:
    with pytest.raises(KeyError, match="size"):
        answer("twitter", "media_upload", id="188", image_type="image/png")
