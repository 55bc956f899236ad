"""Golden posts for the KP Chair story on all three platforms, with the default configuration.

Run with UPDATE_GOLDEN=1 to rewrite tests/golden/ after a deliberate template change, then
review the diff: the files are exactly what would be posted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.compose import weighted_length
from tests.test_compose_common import KP_STORY, LIMITS, default_composer

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.mark.parametrize("platform", ["twitter", "facebook", "instagram"])
def test_kp_chair_story_matches_golden(platform: str) -> None:
    post = default_composer().compose(KP_STORY, platform, LIMITS[platform])
    got = {
        "text": post.text,
        "link": post.link,
        "image_url": post.image_url,
        "alt_text": post.alt_text,
        "warnings": list(post.warnings),
    }
    path = GOLDEN / f"kp_chair_{platform}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert got == expected


def test_golden_x_post_is_within_280_weighted() -> None:
    expected = json.loads((GOLDEN / "kp_chair_twitter.json").read_text(encoding="utf-8"))
    assert weighted_length(expected["text"]) <= 280
    assert KP_STORY.url in expected["text"]


def test_golden_facebook_post_sends_the_link_as_a_card() -> None:
    expected = json.loads((GOLDEN / "kp_chair_facebook.json").read_text(encoding="utf-8"))
    assert expected["link"] == KP_STORY.url
    assert KP_STORY.url not in expected["text"]
