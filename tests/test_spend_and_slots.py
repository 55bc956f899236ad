"""X spend under control (X_MONTHLY_BUDGET, X_LINK_MODE) and posting slots, with injected clocks
against the fake platforms: nothing is failed or dropped, things only wait."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import App, build_app
from bot.budget import Budget, month_of, next_month_start
from bot.models import Post
from bot.notify import Notifier
from bot.pacing import Pacing
from bot.settings import Backlog, Settings
from bot.settings_reach import Reach, SpendSettings
from bot.status import format_status, gather_status
from tests.botenv import Item, write_feed
from tests.conftest import FakeClock
from tests.fakes.platform_server import FakePlatformServer


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as fake:
        yield fake


def settings_for(
    server: FakePlatformServer, tmp: Path, items: list[Item], **kw: object
) -> Settings:
    for item in items:
        item.image_url = server.image_url()
    base = server.settings(
        feed_urls=(write_feed(tmp / "feed.xml", items),),
        database_url=f"sqlite:///{tmp / 'bot.db'}",
        backlog=Backlog("all"),
        max_story_age=None,
    )
    return replace(base, **kw)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# --- pure parts ---------------------------------------------------------------------------------


def test_prices_months_and_thresholds() -> None:
    budget = Budget(0.015, 0.20, 1.00)
    assert budget.price(Post("twitter", "no link here")) == 0.015
    assert budget.price(Post("twitter", "read https://ex.com/a")) == 0.20
    assert budget.price(Post("twitter", "a bare domain jckonline.com counts")) == 0.20
    assert budget.allows(0.80, 0.20) and not budget.allows(0.81, 0.20)
    assert budget.crossed(0.70, 0.90) == [80] and budget.crossed(0.90, 1.00) == [100]
    assert month_of(at("2026-12-31T23:59:59")) == "2026-12"
    assert next_month_start(at("2026-12-31T23:59:59")) == at("2027-01-01T00:00:00")
    assert next_month_start(at("2027-02-10T10:00:00")) == at("2027-03-01T00:00:00")


def test_slot_bounds_follow_the_local_calendar() -> None:
    paris = ZoneInfo("Europe/Paris")
    pacing = Pacing(tz=paris, slots={"facebook": (time(9), time(12, 30), time(17))})
    start, following = pacing.slot_bounds("facebook", at("2027-01-15T12:00:00"))  # 13:00 Paris
    assert (start, following) == (at("2027-01-15T11:30:00"), at("2027-01-15T16:00:00"))
    start, following = pacing.slot_bounds("facebook", at("2027-01-15T07:00:00"))  # 08:00 Paris
    assert (start, following) == (at("2027-01-14T16:00:00"), at("2027-01-15T08:00:00"))
    assert pacing.slot_bounds("twitter", at("2027-01-15T07:00:00")) is None


# --- budget -------------------------------------------------------------------------------------


def tick(app: App) -> list[dict[str, object]]:
    return [d.as_dict() for d in app.engine.tick().deliveries]


def test_over_budget_posts_wait_for_the_first_of_next_month_and_go_out_then(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    clock = FakeClock(at("2027-01-15T12:00:00"))
    spend = SpendSettings(price_post=0.015, price_post_url=0.20, monthly_budget=0.50)
    settings = settings_for(server, tmp_path, [Item(n) for n in range(1, 5)],
                            platforms=("twitter",), reach=Reach(spend=spend))  # fmt: skip
    notices: list[tuple[str, str]] = []
    app = build_app(settings, clock=clock)

    def send(title: str, body: str, level: str) -> None:
        notices.append((title, body))

    notifier = Notifier(app.store, send, clock=clock, quiet_period=0)
    try:
        rows = tick(app)
        assert sorted(r["status"] for r in rows) == [
            "deferred",
            "deferred",
            "published",
            "published",
        ]
        assert len(server.tweets) == 2  # 2 x $0.20 = $0.40; a third would make $0.60
        waiting = [r for r in rows if r["status"] == "deferred"]
        assert {r["next_attempt_at"] for r in waiting} == {"2027-02-01T00:00:00Z"}
        assert all("X_MONTHLY_BUDGET of $0.50 reached" in str(r["error"]) for r in waiting)
        notifier.cycle(settings)
        titles = sorted(title for title, _ in notices)
        assert titles == ["feedbot: 80% of the budget spent", "feedbot: budget reached"]
        notifier.cycle(settings)
        assert len(notices) == 2  # each once

        status = gather_status(app.store, settings, clock())
        assert not status["healthy"]
        assert any(r["kind"] == "budget" for r in status["reasons"])

        assert status["spend"]["platforms"]["twitter"] == {
            "spent_usd": 0.4, "posts": 2, "budget_usd": 0.5, "percent": 80.0,
        }  # fmt: skip
        json.dumps(status)  # status --json
        assert "twitter budget: $0.40 spent in 2027-01 on 2 posts, of $0.50 (80%)" in (
            format_status(status)
        )

        clock.now = at("2027-01-31T23:59:00")
        assert [r for r in tick(app) if r["status"] == "published"] == []
        clock.now = at("2027-02-01T00:00:01")
        assert sorted(r["status"] for r in tick(app)) == ["published", "published"]
        assert len(server.tweets) == 4  # nothing lost, nothing twice
        assert len({t["input_text"] for t in server.tweets}) == 4
        feb = gather_status(app.store, settings, clock())["spend"]["platforms"]["twitter"]
        assert (feb["spent_usd"], feb["posts"]) == (0.4, 2)
        notifier.cycle(settings)
        assert sorted(t for t, _ in notices[2:]) == titles  # February's own, once each
    finally:
        app.close()


def test_link_mode_none_posts_without_the_url_at_the_lower_price(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    clock = FakeClock(at("2027-01-15T12:00:00"))
    spend = SpendSettings(link_mode="none", monthly_budget=0.05)
    settings = settings_for(server, tmp_path, [Item(n) for n in range(1, 4)],
                            platforms=("twitter",), reach=Reach(spend=spend))  # fmt: skip
    app = build_app(settings, clock=clock)
    try:
        rows = tick(app)
    finally:
        app.close()
    assert [r["status"] for r in rows] == ["published"] * 3  # 3 x $0.015 fit in $0.05
    assert all(t["urls"] == [] for t in server.tweets)
    assert all("news.example.com" not in t["input_text"] for t in server.tweets)


def test_a_no_link_template_with_a_url_is_refused_at_start(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    from bot.errors import ConfigError

    folder = tmp_path / "templates"
    folder.mkdir()
    for name in ("twitter", "facebook", "instagram", "twitter-nolink"):
        (folder / f"{name}.txt").write_text("{title} {url}\n", encoding="utf-8")
    settings = settings_for(server, tmp_path, [Item(1)], template_dir=folder,
                            reach=Reach(spend=SpendSettings(link_mode="none")))  # fmt: skip
    with pytest.raises(ConfigError, match="X_LINK_MODE=none") as caught:
        build_app(settings)
    assert caught.value.variable == "TEMPLATE_DIR"


# --- slots --------------------------------------------------------------------------------------


def test_five_stories_at_eight_go_out_at_the_next_free_slots_in_order(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    paris = "Europe/Paris"  # UTC+1 in January
    clock = FakeClock(at("2027-01-15T07:00:00"))  # 08:00 in Paris
    items = [Item(n) for n in range(1, 6)]  # story-5 is the oldest, story-1 the newest
    slots = {"facebook": (time(9), time(12, 30), time(17))}
    settings = settings_for(server, tmp_path, items, platforms=("facebook",), timezone=paris,
                            reach=Reach(slots=slots, slot_size=1))  # fmt: skip
    app = build_app(settings, clock=clock)
    sent: list[tuple[str, str]] = []
    try:
        while clock() < at("2027-01-16T18:00:00"):
            before = len(server.fb_posts)
            app.engine.tick()
            for post in server.fb_posts[before:]:
                local = datetime.fromtimestamp(clock(), ZoneInfo(paris))
                sent.append((f"{local:%d %H:%M}", post["link"]))
            clock.advance(600)
    finally:
        app.close()
    assert [when for when, _ in sent] == [
        "15 09:00",
        "15 12:30",
        "15 17:00",
        "16 09:00",
        "16 12:30",
    ]
    assert [link for _, link in sent] == [
        f"https://news.example.com/story-{n}/"
        for n in (5, 4, 3, 2, 1)  # oldest story first
    ]


def test_a_story_arriving_after_a_slot_opened_waits_for_the_next_one(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    clock = FakeClock(at("2027-01-15T13:00:00"))  # the 12:30 slot is open and unused
    slots = {"facebook": (time(12, 30), time(17))}
    settings = settings_for(server, tmp_path, [Item(1)], platforms=("facebook",),
                            reach=Reach(slots=slots, slot_size=2))  # fmt: skip
    app = build_app(settings, clock=clock)
    try:
        assert [r["status"] for r in tick(app)] == ["queued"]
        clock.now = at("2027-01-15T16:59:00")
        assert tick(app) == []
        clock.now = at("2027-01-15T17:00:00")
        assert [r["status"] for r in tick(app)] == ["published"]
    finally:
        app.close()


def test_a_raised_budget_sends_the_deferred_posts_now(
    server: FakePlatformServer, tmp_path: Path
) -> None:
    """Pacing is judged when sending: the budget in force decides, not the one of the deferral."""
    clock = FakeClock(at("2027-01-15T12:00:00"))
    low = SpendSettings(monthly_budget=0.20)
    settings = settings_for(server, tmp_path, [Item(n) for n in range(1, 4)],
                            platforms=("twitter",), reach=Reach(spend=low))  # fmt: skip
    app = build_app(settings, clock=clock)
    try:
        assert sorted(r["status"] for r in tick(app)) == ["deferred", "deferred", "published"]
        clock.advance(600)
        assert [r for r in tick(app) if r["status"] == "published"] == []  # still held
    finally:
        app.close()
    raised = replace(settings, reach=Reach(spend=SpendSettings(monthly_budget=1.00)))
    clock.advance(600)
    app = build_app(raised, clock=clock)
    try:
        assert sorted(r["status"] for r in tick(app)) == ["published", "published"]
    finally:
        app.close()
    assert len(server.tweets) == 3
