"""twitter_text loaded a part at a time (bot.twitter_text_parts) answers exactly as the package
loaded whole, loads its emoji table only when asked, and keeps the package's top-level names.

Each side runs in a fresh interpreter: this test process may have imported the package whole.
"""

from __future__ import annotations

import json
import subprocess
import sys

from bot.settings import PROJECT_ROOT

TEXTS = [
    "Plain ASCII with a link https://www.jckonline.com/editorial-article/holiday-sales/",
    "Family 👨‍👩‍👧‍👦, flag 🇮🇹, keycap 1️⃣, tone 👍🏽 and © ® ™",
    "日本語のテキスト jckonline.com と U.S. prices, “quotes” — dashes…",
    "x" * 300,
]

SIDE = """
import json, sys
lazy = sys.argv[1] == "lazy"
texts = json.loads(sys.argv[2])
if lazy:
    import bot.twitter_text_parts as parts
    parts.extract_urls_with_indices(texts[0])
    steps = {"emoji after urls": "twitter_text.regexp.emoji" in sys.modules,
             "pkg_resources after urls": "pkg_resources" in sys.modules}
else:
    import twitter_text
    steps = {}
from twitter_text import (ParsedResult, extract_emojis_with_indices, extract_urls,
                          extract_urls_with_indices, parse_tweet)
import twitter_text.parse_tweet, twitter_text.extract_urls  # parts bound on the package
from twitter_text import parse_tweet as again, extract_urls as urls_again
steps["names are the functions"] = (
    callable(again) and not isinstance(again, type(sys)) and again is parse_tweet
    and callable(urls_again) and not isinstance(urls_again, type(sys))
    and isinstance(ParsedResult, type)
)
answers = [
    [parse_tweet(t).weightedLength, parse_tweet(t).valid, extract_urls(t),
     [u["indices"] for u in extract_urls_with_indices(t)],
     [e["indices"] for e in extract_emojis_with_indices(t)]]
    for t in texts
]
print(json.dumps({"steps": steps, "answers": answers}))
"""


def _side(mode: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", SIDE, mode, json.dumps(TEXTS)],
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_the_parts_answer_as_the_whole_package_and_keep_its_names() -> None:
    lazy, whole = _side("lazy"), _side("whole")
    assert lazy["answers"] == whole["answers"]
    assert lazy["steps"] == {
        "emoji after urls": False,  # the URL part alone did not load the emoji table
        "pkg_resources after urls": False,
        "names are the functions": True,
    }
    assert whole["steps"] == {"names are the functions": True}
